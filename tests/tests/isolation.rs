//! Handles belong to the client that created them, and clients can die: a handle used by a
//! second client (in this process or another) is `InvalidHandle` and the owner is unaffected;
//! a client process killed mid-transaction has all its connections closed and freed; with no
//! daemon, connecting fails with `CannotInitialize`.

use smtp32::ReturnCode;
use smtp32_protocol::{Command, Failure, Request, Response};
use smtp32_tests::process::ChildGuard;
use smtp32_tests::session::{expect_code, send_message, LOCAL};
use smtp32_tests::wait::wait_for;
use smtp32_tests::{Script, ScriptedServer, ServerEvent, SmtpSink, TestDaemon, Watchdog};
use std::io::{BufRead, BufReader};
use std::process::{Command as Process, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);
const HELPER: &str = env!("CARGO_BIN_EXE_smtp32-test-helper");

#[test]
fn a_handle_is_invalid_for_another_client_in_the_same_process() {
    let _wd = Watchdog::test("a_handle_is_invalid_for_another_client_in_the_same_process");
    let sink = SmtpSink::start();
    let d = TestDaemon::start();
    let conn = d.client().helo(&sink.host(), LOCAL, None).expect("helo");
    let h = conn.handle();
    let mut other = d.raw();
    let requests = [
        Request::Command {
            handle: h,
            command: Command::Noop,
        },
        Request::Command {
            handle: h,
            command: Command::Mail {
                from: "thief@x.test".into(),
            },
        },
        Request::DataChunk {
            handle: h,
            bytes: b"stolen".to_vec().into(),
        },
        Request::DataEnd { handle: h },
        Request::LastReply { handle: h },
        Request::SetTimeout {
            handle: h,
            seconds: 5,
        },
        Request::SetDebug {
            handle: h,
            enabled: true,
        },
        Request::Quit { handle: h },
        Request::XQuit { handle: h },
    ];
    for req in requests {
        let what = format!("{req:?}");
        match other.request(req, T) {
            Response::Failed(Failure::InvalidHandle) => {}
            r => panic!("{what} from a second client answered {r:?}, want Failed(InvalidHandle)"),
        }
    }
    // The owner's connection is untouched (no MAIL started, not closed).
    let reply = send_message(&conn, "owner@a.test", &["b@b.test"], &[b"still mine\r\n"]);
    assert_eq!(reply.code, 250);
    conn.quit().expect("quit");
}

#[test]
fn a_handle_is_invalid_for_another_process() {
    let _wd = Watchdog::test("a_handle_is_invalid_for_another_process");
    let sink = SmtpSink::start();
    let d = TestDaemon::start();
    let conn = d.client().helo(&sink.host(), LOCAL, None).expect("helo");
    let out = Process::new(HELPER)
        .arg("use-handle")
        .arg(d.socket_path())
        .arg(conn.handle().get().to_string())
        .stdin(Stdio::null())
        .output()
        .expect("run the helper");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "helper failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("RAW Failed(InvalidHandle)"),
        "raw request from another process: {stdout}"
    );
    let want = format!("FFI {}", ReturnCode::InvalidHandle.as_i32());
    assert!(
        stdout.lines().any(|l| l == want),
        "smtp_noop from another process, want {want}: {stdout}"
    );
    assert_eq!(
        conn.noop().expect("the owner's handle still works").code,
        250
    );
    conn.quit().expect("quit");
}

#[test]
fn a_killed_client_process_has_its_connections_freed() {
    let _wd = Watchdog::test("a_killed_client_process_has_its_connections_freed");
    let server = ScriptedServer::start(Script::greeted().accept_all());
    let d = TestDaemon::start();
    let probe = d.client();
    let mut cmd = Process::new(HELPER);
    cmd.arg("hold")
        .arg(d.socket_path())
        .arg(server.host())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut helper = ChildGuard::spawn("smtp32-test-helper hold", &mut cmd);
    let stdout = helper.take_stdout().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let ready = rx
        .recv_timeout(T)
        .expect("the helper opens its connections");
    assert!(ready.starts_with("READY "), "helper said {ready:?}");
    // The probe and the helper (a readiness connection of the fixture may still be closing).
    wait_for(T, "3 connections and 2 clients", || {
        let s = probe.status().expect("status");
        s.connections == 3 && s.clients == 2
    });

    let killed = helper.kill();
    assert!(!killed.success());
    wait_for(
        T,
        "the daemon to free the killed client's connections",
        || {
            let s = probe.status().expect("status");
            s.connections == 0 && s.clients == 1
        },
    );
    // Every SMTP connection was closed; the idle one with a QUIT.
    for conn in 1..=3 {
        server.wait_event(&format!("connection {conn} closed"), T, |e| {
            matches!(e, ServerEvent::ClientClosed { conn: c } | ServerEvent::ServerClosed { conn: c } if *c == conn)
        });
    }
    let events = server.events();
    assert!(
        events.contains(&ServerEvent::Received {
            conn: 1,
            line: "QUIT".into()
        }),
        "the idle connection should get a QUIT: {events:?}"
    );
    // Inside DATA a QUIT is not a command but message text: the connection must be reset.
    let data_lines: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Received { conn: 3, line } => Some(line.clone()),
            _ => None,
        })
        .collect();
    assert!(
        !data_lines.iter().any(|l| l.contains("QUIT")),
        "a connection inside DATA must be closed without a QUIT (it becomes message text): {data_lines:?}"
    );
    d.assert_serving();
}

#[test]
fn connecting_without_a_daemon_is_cannot_initialize() {
    let _wd = Watchdog::test("connecting_without_a_daemon_is_cannot_initialize");
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nobody-here.sock");
    expect_code(
        smtp32::Client::connect(&missing),
        ReturnCode::CannotInitialize,
        "connect to a missing socket",
    );
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    expect_code(
        smtp32::Client::connect(&stale),
        ReturnCode::CannotInitialize,
        "connect to a stale socket file",
    );
}

#[test]
fn a_daemon_that_dies_makes_later_calls_cannot_initialize() {
    let _wd = Watchdog::test("a_daemon_that_dies_makes_later_calls_cannot_initialize");
    let sink = SmtpSink::start();
    let mut d = TestDaemon::start();
    let client = d.client();
    let conn = client.helo(&sink.host(), LOCAL, None).expect("helo");
    d.kill();
    wait_for(T, "the client to notice the daemon is gone", || {
        !client.is_alive()
    });
    expect_code(
        conn.noop(),
        ReturnCode::CannotInitialize,
        "noop after the daemon died",
    );
    expect_code(
        client.status(),
        ReturnCode::CannotInitialize,
        "status after the daemon died",
    );
    expect_code(
        smtp32::Client::connect(d.socket_path()),
        ReturnCode::CannotInitialize,
        "reconnect to a dead daemon",
    );
}
