//! Clients that misbehave or die, and many clients at once: a client SIGKILLed at every phase of
//! a connection, one that never reads what the daemon sends it, one that floods requests, a
//! thousand at once, and connection limits. Idle connections: idle_timeout.rs.
//!
//! The per-client queue policy these tests hold the daemon to (daemon/src/ipc/client.rs,
//! session/tap.rs): everything the daemon sends a client goes through one queue of 1024 frames.
//! When it is full, or 4 MiB of copies wait unwritten, debug traffic copies are dropped
//! (counted) and responses wait; a request whose response waits keeps its slot, at most 256
//! requests of one client run at once and frames over 64 KiB at most 16 MiB together, so the
//! daemon stops reading from a client that does not read. A client's memory in the daemon is
//! thus bounded in frames and in bytes, whatever it does.

use smtp32::ReturnCode;
use smtp32_protocol::codec::encode_frame;
use smtp32_protocol::{
    ClientFrame, Command, DaemonFrame, Direction, Event, Failure, Handle, OpenMode, Request,
    RequestId, Response,
};
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::lines::Lines;
use smtp32_tests::memory::peak_rss_kib;
use smtp32_tests::process::ChildGuard;
use smtp32_tests::session::{expect_code, LOCAL};
use smtp32_tests::wait::{poll_until, wait_for};
use smtp32_tests::{Script, ScriptedServer, ServerEvent, SmtpSink, TestDaemon, Watchdog};
use std::collections::HashSet;
use std::io::Write;
use std::process::{Command as Process, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);
const HELPER: &str = env!("CARGO_BIN_EXE_smtp32-fault-helper");

fn frame(id: u64, request: Request) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_frame(
        &ClientFrame::Request {
            id: RequestId(id),
            request,
        },
        &mut buf,
    )
    .expect("encode");
    buf
}

fn open(raw: &mut smtp32_tests::raw::RawClient, host: &str, debug: bool) -> Handle {
    match raw.request(
        Request::Open {
            host: host.into(),
            local: LOCAL.into(),
            mode: OpenMode::Sync,
            debug,
        },
        T,
    ) {
        Response::Opened { handle } => handle,
        other => panic!("Open answered {other:?}"),
    }
}

fn count_received(server: &ScriptedServer, verb: &str) -> usize {
    server
        .events()
        .iter()
        .filter(|e| matches!(e, ServerEvent::Received { line, .. } if line.starts_with(verb)))
        .count()
}

/// Waits until the daemon counts exactly `connections` connections and `clients` clients.
fn wait_counts(probe: &smtp32::Client, connections: u32, clients: u32, what: &str) {
    wait_for(T, what, || {
        let s = probe.status().expect("status");
        s.connections == connections && s.clients == clients
    });
}

// ---- a client killed at every phase -----------------------------------------------------------

#[test]
fn a_client_killed_at_any_phase_has_its_connection_freed() {
    let _wd = Watchdog::test("a_client_killed_at_any_phase_has_its_connection_freed");
    let d = TestDaemon::start();
    let probe = d.client();
    let phases: [(&str, Script, Option<&str>); 5] = [
        ("connect", Script::never_greet(), None),
        ("idle", Script::greeted().accept_all(), None),
        ("mail", Script::stall_after_mail(), Some("MAIL")),
        ("data", Script::in_data().freeze(), Some("DATA")),
        ("noop", Script::stall_on_noop(), Some("NOOP")),
    ];
    for (phase, script, wait_verb) in phases {
        let server = ScriptedServer::start(script);
        let mut cmd = Process::new(HELPER);
        cmd.arg("block")
            .arg(d.socket_path())
            .arg(server.host())
            .arg(phase);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut helper = ChildGuard::spawn(&format!("fault helper ({phase})"), &mut cmd);
        let mut lines = Lines::new(helper.take_stdout().expect("piped stdout"));
        lines.expect("READY", T);
        let conn = server.wait_connected(T);
        if let Some(verb) = wait_verb {
            server.wait_received(verb, T);
        }
        wait_counts(
            &probe,
            1,
            2,
            &format!("{phase}: the helper's connection and client"),
        );
        assert!(!helper.kill().success());
        wait_counts(
            &probe,
            0,
            1,
            &format!("{phase}: the daemon to free the killed client's connection"),
        );
        if phase != "data" {
            // A frozen server reads nothing, so it cannot see the close; the others do (the
            // idle one after the daemon's QUIT).
            server.wait_event(&format!("{phase}: the connection closed"), T, |e| {
                matches!(e, ServerEvent::ClientClosed { conn: c } | ServerEvent::ServerClosed { conn: c } if *c == conn)
            });
        }
    }
    let sink = SmtpSink::start();
    let conn = probe
        .helo(&sink.host(), LOCAL, None)
        .expect("helo after five killed clients");
    assert_eq!(conn.noop().expect("noop").code, 250);
    conn.quit().expect("quit");
    d.assert_serving();
}

// ---- a client that never reads ----------------------------------------------------------------

#[test]
fn a_client_that_never_reads_drops_its_debug_copies_not_its_responses() {
    let _wd = Watchdog::test("a_client_that_never_reads_drops_its_debug_copies_not_its_responses");
    // Every reply is 4 KiB, so the queue of 1024 frames is a few MiB and the socket buffer
    // holds only a few dozen frames.
    let reply = format!("250 {}\r\n", "x".repeat(4000));
    let server = Arc::new(ScriptedServer::start(
        Script::greeted().answer_all_with(reply.as_bytes()),
    ));
    let d = TestDaemon::start();
    let probe = d.client();
    let before = peak_rss_kib(d.pid());
    let mut raw = d.raw();
    let handles: Vec<Handle> = (0..128)
        .map(|_| open(&mut raw, &server.host(), true))
        .collect();

    // NOOPs in rounds over two groups of 64 handles, so a handle's previous NOOP is answered
    // before its next one comes; each round is sent once the server saw the last one arrive.
    // The client reads nothing: once the daemon stops taking requests, its writes block (a
    // frame this small is written whole or not at all) or no NOOP reaches the server any more,
    // and the writer stops.
    let mut writer = raw.stream().try_clone().expect("clone the stream");
    writer
        .set_write_timeout(Some(Duration::from_secs(1)))
        .expect("write timeout");
    let counter = server.clone();
    let write = std::thread::spawn(move || -> u64 {
        let mut sent = 0u64;
        for round in 0..40 {
            let seen = count_received(&counter, "NOOP");
            let group = &handles[(round % 2) * 64..][..64];
            for &handle in group {
                match writer.write(&frame(
                    sent + 1,
                    Request::Command {
                        handle,
                        command: Command::Noop,
                    },
                )) {
                    Ok(n) => assert!(n > 4, "a tiny frame went out in part ({n} bytes)"),
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        return sent;
                    }
                    Err(e) => panic!("write: {e}"),
                }
                sent += 1;
            }
            let progressed = (0..400).any(|_| {
                std::thread::sleep(Duration::from_millis(5));
                count_received(&counter, "NOOP") > seen
            });
            if !progressed {
                break;
            }
        }
        sent
    });
    let sent = write.join().expect("writer");
    assert!(
        sent < 40 * 64,
        "the daemon kept taking requests from a client that reads nothing ({sent} sent)"
    );

    // Meanwhile everyone else is served at once.
    let started = Instant::now();
    probe
        .ping(b"are you there?")
        .expect("ping from another client");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "ping took {:?}",
        started.elapsed()
    );
    let other = probe
        .helo(&server.host(), LOCAL, None)
        .expect("helo from another client");
    assert_eq!(other.noop().expect("noop from another client").code, 250);
    other.quit().expect("quit");
    let grown = peak_rss_kib(d.pid()).saturating_sub(before);
    assert!(
        grown < 64 * 1024,
        "the daemon's peak memory grew by {grown} KiB for one client that reads nothing"
    );

    // Now read everything: every request has its response, exactly once; copies were dropped.
    let (mut answered, mut replies, mut copies) = (HashSet::new(), 0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(30);
    while (answered.len() as u64) < sent {
        let left = deadline.saturating_duration_since(Instant::now());
        match raw.recv(left) {
            Ok(DaemonFrame::Response { id, response }) => {
                assert!(answered.insert(id.0), "response {} came twice", id.0);
                match response {
                    Response::Reply(_) => replies += 1,
                    Response::Failed(Failure::InProgress) => {}
                    other => panic!("NOOP {} answered {other:?}", id.0),
                }
            }
            Ok(DaemonFrame::Event(Event::Traffic {
                direction: Direction::FromServer,
                ..
            })) => copies += 1,
            Ok(DaemonFrame::Event(_)) => {}
            Ok(other) => panic!("unexpected frame {other:?}"),
            Err(e) => panic!("{} of {sent} responses after 30 s: {e}", answered.len()),
        }
    }
    println!("never-reading client: {sent} requests, {replies} NOOPs answered, {copies} of their {replies} reply copies delivered, peak RSS +{grown} KiB");
    assert!(
        replies > 64,
        "enough NOOPs ran to fill the queue: {replies}"
    );
    assert!(
        copies < replies,
        "debug copies must have been dropped: {copies} copies for {replies} replies"
    );
    drop(raw);
    wait_counts(
        &probe,
        0,
        1,
        "the daemon to free the never-reading client's 128 connections",
    );
}

#[test]
fn big_debug_copies_for_a_client_that_never_reads_stay_within_a_byte_budget() {
    let _wd =
        Watchdog::test("big_debug_copies_for_a_client_that_never_reads_stay_within_a_byte_budget");
    // 256 chunks of 1 MiB with debug on, one per connection: each makes a 1 MiB traffic copy.
    // Counting frames alone, the queue (1024 frames) would hold them all; the byte budget on
    // copies keeps the daemon's memory to a few MiB whatever the chunk size.
    const CHUNKS: usize = 256;
    let line = format!("{}\r\n", "x".repeat(1022));
    let chunk = line.repeat(1024).into_bytes();
    let sink = SmtpSink::with_flags(&["-m", "300"]);
    let d = TestDaemon::start();
    let probe = d.client();
    let before = peak_rss_kib(d.pid());
    let mut raw = d.raw();
    let handles: Vec<Handle> = (0..CHUNKS)
        .map(|_| open(&mut raw, &sink.host(), true))
        .collect();
    for &handle in &handles {
        for command in [
            Command::Mail {
                from: "a@a.test".into(),
            },
            Command::Rcpt {
                to: "b@b.test".into(),
            },
        ] {
            match raw.request(Request::Command { handle, command }, T) {
                Response::Reply(r) => assert_eq!(r.code, 250),
                other => panic!("{other:?}"),
            }
        }
    }
    let sent_before = probe.status().expect("status").bytes_sent;
    let mut writer = raw.stream().try_clone().expect("clone the stream");
    let total = chunk.len() * CHUNKS;
    let write = std::thread::spawn(move || {
        for (i, &handle) in handles.iter().enumerate() {
            writer
                .write_all(&frame(
                    i as u64 + 1,
                    Request::DataChunk {
                        handle,
                        bytes: chunk.clone().into(),
                    },
                ))
                .expect("write");
        }
    });
    // Every chunk went out to the server; the answers and copies wait in the queue, unread.
    wait_for(
        Duration::from_secs(60),
        "256 MiB to reach the server",
        || probe.status().expect("status").bytes_sent - sent_before >= total as u64,
    );
    write.join().expect("writer");
    let grown = peak_rss_kib(d.pid()).saturating_sub(before);
    let (mut answered, mut copied) = (HashSet::new(), 0u64);
    while answered.len() < CHUNKS {
        match raw.recv(T) {
            Ok(DaemonFrame::Response {
                id,
                response: Response::Done,
            }) => {
                assert!(answered.insert(id.0), "chunk {} answered twice", id.0);
            }
            Ok(DaemonFrame::Response { id, response }) => {
                panic!("chunk {} answered {response:?}", id.0)
            }
            Ok(DaemonFrame::Event(Event::Traffic {
                direction: Direction::ToServer,
                bytes,
                ..
            })) if bytes.len() > 1 << 19 => copied += 1,
            Ok(DaemonFrame::Event(_)) => {}
            Ok(other) => panic!("unexpected frame {other:?}"),
            Err(e) => panic!("{} of {CHUNKS} answers: {e}", answered.len()),
        }
    }
    println!("{CHUNKS} chunks of 1 MiB with debug on, never read: {copied} copies delivered, peak RSS +{grown} KiB");
    assert!(
        copied < 32,
        "copies beyond the byte budget must be dropped: {copied} of 1 MiB each were queued"
    );
    assert!(
        grown < 96 * 1024,
        "the daemon's peak memory grew by {grown} KiB"
    );
}

// ---- a client that floods ---------------------------------------------------------------------

#[test]
fn a_flooding_client_runs_at_most_256_requests_at_once() {
    let _wd = Watchdog::test("a_flooding_client_runs_at_most_256_requests_at_once");
    let server = ScriptedServer::start(Script::never_greet());
    let d = TestDaemon::start();
    let probe = d.client();
    let raw = d.raw();
    // 300 connects to a server that never greets, pipelined: each holds its request slot.
    let mut writer = raw.stream().try_clone().expect("clone");
    for id in 1..=300 {
        let open = Request::Open {
            host: server.host(),
            local: LOCAL.into(),
            mode: OpenMode::Sync,
            debug: false,
        };
        writer.write_all(&frame(id, open)).expect("write");
    }
    let connected = poll_until(T, "256 connects in flight", || {
        let n = server
            .events()
            .iter()
            .filter(|e| matches!(e, ServerEvent::Connected { .. }))
            .count();
        (n >= 256).then_some(n)
    });
    let status = probe.status().expect("status");
    assert_eq!(
        (connected, status.connections),
        (256, 256),
        "one client runs at most 256 requests at once"
    );
    let started = Instant::now();
    probe.ping(b"others are served").expect("ping");
    assert!(started.elapsed() < Duration::from_secs(1));
    drop(writer);
    drop(raw);
    wait_counts(
        &probe,
        0,
        1,
        "the flooding client's 256 connects to be cancelled",
    );
    d.assert_serving();
}

#[test]
fn a_ping_flood_is_answered_in_full_while_others_are_served() {
    let _wd = Watchdog::test("a_ping_flood_is_answered_in_full_while_others_are_served");
    const N: u64 = 20_000;
    let d = TestDaemon::start();
    let probe = d.client();
    let before = peak_rss_kib(d.pid());
    let mut raw = d.raw();
    let mut writer = raw.stream().try_clone().expect("clone");
    let write = std::thread::spawn(move || {
        for id in 1..=N {
            writer
                .write_all(&frame(
                    id,
                    Request::Ping {
                        payload: vec![7; 64],
                    },
                ))
                .expect("write");
        }
    });
    let slowest = std::thread::spawn(move || {
        (0..20)
            .map(|_| {
                let started = Instant::now();
                probe.ping(b"me too").expect("ping during the flood");
                started.elapsed()
            })
            .max()
            .unwrap_or_default()
    });
    let mut answered = HashSet::new();
    while (answered.len() as u64) < N {
        match raw.recv(T) {
            Ok(DaemonFrame::Response {
                id,
                response: Response::Pong { payload },
            }) => {
                assert_eq!(payload, vec![7; 64]);
                assert!(answered.insert(id.0), "ping {} answered twice", id.0);
            }
            other => panic!("after {} pongs: {other:?}", answered.len()),
        }
    }
    write.join().expect("writer");
    let slowest = slowest.join().expect("prober");
    let grown = peak_rss_kib(d.pid()).saturating_sub(before);
    println!("ping flood: {N} answered; slowest ping of another client {slowest:?}; peak RSS +{grown} KiB");
    assert!(
        slowest < Duration::from_secs(1),
        "another client waited {slowest:?} behind the flood"
    );
    assert!(grown < 64 * 1024, "peak memory grew by {grown} KiB");
}

// ---- many clients -----------------------------------------------------------------------------

/// Raises this process's open-file limit to its hard limit (the daemon it starts inherits it).
fn raise_fd_limit(need: u64) {
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = lim.rlim_max;
        assert_eq!(
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim),
            0,
            "setrlimit: {}",
            std::io::Error::last_os_error()
        );
        assert!(
            lim.rlim_cur >= need,
            "the open-file limit is {} (hard); this test needs {need}",
            lim.rlim_cur
        );
    }
}

#[test]
fn a_thousand_clients_at_once() {
    let _wd = Watchdog::test("a_thousand_clients_at_once");
    const N: usize = 1000;
    raise_fd_limit(4 * N as u64 + 256);
    // One smtp-sink keeps well under 1024 descriptors (Postfix's event loop limit): two of them
    // take 500 connections each.
    let sinks = [
        SmtpSink::with_flags(&["-m", "600"]),
        SmtpSink::with_flags(&["-m", "600"]),
    ];
    let d = TestDaemon::start();
    let probe = d.client();
    let connected = Arc::new(Barrier::new(N + 1));
    let counted = Arc::new(Barrier::new(N + 1));
    let threads: Vec<_> = (0..N)
        .map(|i| {
            let (connected, counted) = (connected.clone(), counted.clone());
            let (socket, host) = (d.socket_path().to_path_buf(), sinks[i % 2].host());
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || -> Result<(), String> {
                    // Every thread reaches both barriers whatever happens, so a failure is
                    // reported instead of leaving the others waiting.
                    let opened = smtp32::Client::connect(&socket)
                        .and_then(|client| {
                            client.helo(&host, LOCAL, None).map(|conn| (client, conn))
                        })
                        .map_err(|e| format!("client {i}: {e:?}"));
                    connected.wait();
                    counted.wait();
                    let (_client, conn) = opened?;
                    let noop = conn.noop().map_err(|e| format!("client {i} noop: {e:?}"))?;
                    if noop.code != 250 {
                        return Err(format!("client {i} noop: {noop:?}"));
                    }
                    conn.quit().map_err(|e| format!("client {i} quit: {e:?}"))
                })
                .expect("spawn client thread")
        })
        .collect();
    connected.wait();
    let status = probe.status().expect("status");
    counted.wait();
    let failures: Vec<String> = threads
        .into_iter()
        .filter_map(|t| t.join().expect("client thread").err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {N} clients failed, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    println!(
        "held {} clients with {} SMTP connections at once",
        status.clients, status.connections
    );
    assert_eq!(status.connections as usize, N, "{status:?}");
    assert!(
        status.clients as usize > N,
        "{N} clients and the probe: {status:?}"
    );
    wait_counts(&probe, 0, 1, "all 1000 clients to be gone");
}

#[test]
fn connection_limits_per_client_and_in_all_are_out_of_memory() {
    let _wd = Watchdog::test("connection_limits_per_client_and_in_all_are_out_of_memory");
    let server = ScriptedServer::start(Script::greeted().accept_all());
    let opts = DaemonOptions::default()
        .env("SMTP32D_MAX_CONNECTIONS", "5")
        .env("SMTP32D_MAX_CONNECTIONS_PER_CLIENT", "3");
    let d = TestDaemon::start_with(opts);
    let (a, b) = (d.client(), d.client());
    let mine: Vec<_> = (0..3)
        .map(|_| a.helo(&server.host(), LOCAL, None).expect("a helo"))
        .collect();
    let e = expect_code(
        a.helo(&server.host(), LOCAL, None),
        ReturnCode::OutOfMemory,
        "a 4th connection of one client",
    );
    assert!(e.message().contains("this client"), "{e:?}");
    let theirs: Vec<_> = (0..2)
        .map(|_| b.helo(&server.host(), LOCAL, None).expect("b helo"))
        .collect();
    let e = expect_code(
        b.helo(&server.host(), LOCAL, None),
        ReturnCode::OutOfMemory,
        "a 6th connection in all",
    );
    assert!(e.message().contains("the daemon"), "{e:?}");
    expect_code(
        b.xhelo(&server.host(), LOCAL, None, Box::new(|_, _| {})),
        ReturnCode::OutOfMemory,
        "xhelo over the limit",
    );
    // Refusals cost nothing: the open connections still work, and a freed slot is usable again.
    assert_eq!(mine[0].noop().expect("noop").code, 250);
    let mut mine = mine.into_iter();
    mine.next().expect("one").quit().expect("quit");
    let again = b
        .helo(&server.host(), LOCAL, None)
        .expect("a freed slot can be used by another client");
    assert_eq!(again.noop().expect("noop").code, 250);
    assert_eq!(a.status().expect("status").connections, 5);
    for c in mine.chain(theirs).chain([again]) {
        c.quit().expect("quit");
    }
    assert_eq!(a.status().expect("status").connections, 0);
}
