//! The async client (`smtp32::asynchronous`) against real servers: a thousand concurrent sends
//! pipelined on one daemon connection from a single-threaded runtime; a message larger than one
//! frame arrives byte-exact; `send_many` splits a batch over requests around a message too large
//! for any, in order, with an invalid message failing alone; a call's future dropped (a task aborted, a `tokio::time::timeout`
//! fired) while a server stalls cancels the command in the daemon within 100 ms, and the handle
//! then reports `Aborted`; a dropped `helo` is closed once the daemon reports its handle.

use smtp32::asynchronous::{AsyncClient, AsyncConnection};
use smtp32::{Outgoing, ReturnCode};
use smtp32_tests::ctl::ctl;
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::message::{expected_on_arrival, first_difference, generated_message};
use smtp32_tests::session::{expect_code, LOCAL};
use smtp32_tests::wait::wait_for;
use smtp32_tests::{Aiosmtpd, Script, ScriptedServer, ServerEvent, SmtpSink, TestDaemon, Watchdog};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);
/// How soon a cancelled command must be gone from the daemon (as for `smtp_xquit`).
const CANCEL_BOUND: Duration = Duration::from_millis(100);

/// A runtime with one thread: the calls' concurrency comes from the pipelining, not from threads.
fn single_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The OS threads of this test process now.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count()
}

/// The SMTP connections `smtp32ctl connections` lists.
fn listed_connections(socket: &Path) -> usize {
    ctl(socket, &["connections", "--json"])
        .json()
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn a_thousand_concurrent_async_sends_share_one_daemon_connection_on_fewer_than_8_threads() {
    let _wd = Watchdog::test("a_thousand_concurrent_async_sends_share_one_daemon_connection");
    let sink = SmtpSink::start();
    let d = TestDaemon::start();
    let (peak, daemon_clients) = single_thread().block_on(async {
        let client = AsyncClient::connect(d.socket_path())
            .await
            .expect("connect");
        let mut conns = Vec::new();
        for _ in 0..20 {
            let conn = client.helo(&sink.host(), LOCAL, None).await.expect("helo");
            conns.push(Arc::new(tokio::sync::Mutex::new(conn)));
        }
        let mut sends = tokio::task::JoinSet::new();
        for i in 0..1000 {
            let conn = conns[i % conns.len()].clone();
            sends.spawn(async move {
                let msg = format!("Subject: async {i}\r\n\r\nmessage {i}\r\n");
                conn.lock()
                    .await
                    .sendmsg("a@a.test", &["b@b.test"], msg.as_bytes())
                    .await
            });
        }
        let mut peak = threads();
        let mut sent = 0;
        while let Some(done) = sends.join_next().await {
            let report = done.expect("task").expect("sendmsg");
            assert_eq!(report.verdict.code, 250);
            sent += 1;
            peak = peak.max(threads());
        }
        assert_eq!(sent, 1000);
        let clients = client.status().await.expect("status").clients;
        for conn in conns {
            let conn: AsyncConnection = Arc::into_inner(conn).expect("one owner").into_inner();
            conn.quit().await.expect("quit");
        }
        (peak, clients)
    });
    println!("peak OS threads in the test process: {peak}");
    assert!(peak < 8, "{peak} OS threads for 1000 concurrent sends");
    assert_eq!(
        daemon_clients, 1,
        "every send went over one daemon connection"
    );
    wait_for(T, "the sink to dump 1000 messages", || {
        sink.message_count() == 1000
    });
}

/// Cancellations per test: the bound holds for their median (a loaded CI machine may stall
/// one), and every one must end within [`CANCEL_LIMIT`].
const ROUNDS: usize = 5;
/// No cancellation may take longer than this.
const CANCEL_LIMIT: Duration = Duration::from_secs(1);

/// Opens [`ROUNDS`] handles on `server` (which stalls on NOOP) one after another; on each,
/// `cancel` starts a NOOP and cancels it, returning when it did. Checks that each handle then
/// answers `Aborted` and the daemon connection still serves; returns how long after each
/// cancel the server saw its connection closed, sorted.
async fn cancellations<F, Fut>(
    socket: &Path,
    server: &Arc<ScriptedServer>,
    cancel: F,
) -> Vec<Duration>
where
    F: Fn(AsyncConnection) -> Fut,
    Fut: std::future::Future<Output = Instant>,
{
    let client = AsyncClient::connect(socket).await.expect("connect");
    let mut took = Vec::new();
    for conn_no in 1..=ROUNDS {
        let conn = client
            .helo(&server.host(), LOCAL, None)
            .await
            .expect("helo");
        let cancelled_at = cancel(conn.clone()).await;
        let s = server.clone();
        tokio::task::spawn_blocking(move || s.wait_client_closed(conn_no, T))
            .await
            .expect("the server saw the close");
        took.push(cancelled_at.elapsed());
        assert!(conn.is_aborted());
        expect_code(
            conn.noop().await,
            ReturnCode::Aborted,
            "a call after the cancelled one",
        );
    }
    client
        .ping(b"still here")
        .await
        .expect("the daemon connection still serves");
    let noops = server
        .events()
        .iter()
        .filter(|e| matches!(e, ServerEvent::Received { line, .. } if line == "NOOP"))
        .count();
    assert_eq!(noops, ROUNDS, "every cancelled NOOP had reached the server");
    took.sort();
    println!("server saw the close after: {took:?}");
    took
}

/// The median is within [`CANCEL_BOUND`], the slowest within [`CANCEL_LIMIT`].
fn assert_prompt(took: &[Duration]) {
    assert!(
        took[ROUNDS / 2] < CANCEL_BOUND,
        "median cancellation over {CANCEL_BOUND:?}: {took:?}"
    );
    assert!(
        took[ROUNDS - 1] < CANCEL_LIMIT,
        "a cancellation took over {CANCEL_LIMIT:?}: {took:?}"
    );
}

#[test]
fn a_dropped_call_on_a_stalled_server_is_cancelled_in_the_daemon_within_100_ms() {
    let _wd = Watchdog::test("a_dropped_call_on_a_stalled_server_is_cancelled_in_the_daemon");
    let server = Arc::new(ScriptedServer::start(Script::stall_on_noop()));
    let d = TestDaemon::start();
    let socket = d.socket_path().to_path_buf();
    let took = single_thread().block_on(cancellations(&socket, &server, |conn| {
        let (server, socket) = (server.clone(), socket.clone());
        async move {
            let call = tokio::spawn(async move { conn.noop().await });
            tokio::task::spawn_blocking(move || server.wait_received("NOOP", T))
                .await
                .expect("NOOP reached the server");
            assert_eq!(listed_connections(&socket), 1, "the stalled NOOP is listed");
            call.abort();
            let dropped_at = Instant::now();
            assert!(call.await.expect_err("aborted").is_cancelled());
            dropped_at
        }
    }));
    assert_prompt(&took);
    wait_for(T, "smtp32ctl to list no connection", || {
        listed_connections(d.socket_path()) == 0
    });
}

#[test]
fn a_timeout_around_a_stalled_call_leaves_no_command_running() {
    let _wd = Watchdog::test("a_timeout_around_a_stalled_call_leaves_no_command_running");
    let server = Arc::new(ScriptedServer::start(Script::stall_on_noop()));
    let d = TestDaemon::start();
    let took =
        single_thread().block_on(cancellations(d.socket_path(), &server, |conn| async move {
            let timed = tokio::time::timeout(Duration::from_millis(200), conn.noop()).await;
            assert!(timed.is_err(), "the stalled NOOP answered: {timed:?}");
            Instant::now()
        }));
    assert_prompt(&took);
    wait_for(T, "smtp32ctl to list no connection", || {
        listed_connections(d.socket_path()) == 0
    });
}

#[test]
fn a_message_larger_than_a_frame_arrives_byte_exact_through_the_async_sendmsg() {
    let _wd = Watchdog::test("a_message_larger_than_a_frame_arrives_byte_exact_through_async");
    let server = Aiosmtpd::start();
    let d = TestDaemon::start();
    // Over the default 4 MiB frame: streamed behind one envelope, in chunks the socket
    // takes in pieces (the writer's queue and flush task carry the rest).
    let message = generated_message(6 << 20, 16);
    single_thread().block_on(async {
        let client = AsyncClient::connect(d.socket_path())
            .await
            .expect("connect");
        let conn = client
            .helo(&server.host(), LOCAL, None)
            .await
            .expect("helo");
        let report = conn
            .sendmsg("a@a.test", &["b@b.test"], &message)
            .await
            .expect("sendmsg");
        assert_eq!(report.verdict.code, 250);
        conn.quit().await.expect("quit");
    });
    let stored = server.wait_for_messages(1, T).swap_remove(0);
    let want = expected_on_arrival(&message);
    assert!(
        stored.bytes == want,
        "{}",
        first_difference(&stored.bytes, &want)
    );
}

#[test]
fn an_async_batch_is_split_around_a_message_too_large_for_a_request_and_keeps_its_order() {
    let _wd = Watchdog::test("an_async_batch_is_split_around_a_message_too_large");
    let sink = SmtpSink::start();
    let d =
        TestDaemon::start_with(DaemonOptions::default().env("SMTP32D_MAX_FRAME_BYTES", "65536"));
    let small = "line of a four kilobyte message\r\n".repeat(124);
    let huge = "line of a message larger than any request\r\n".repeat(3000);
    fn message(data: &str) -> Outgoing<'_> {
        Outgoing {
            from: "a@a.test",
            rcpts: &["b@b.test"],
            data: data.as_bytes(),
        }
    }
    let mut batch = vec![message(&small); 40];
    batch.insert(20, message(&huge));
    let invalid = Outgoing {
        rcpts: &[],
        ..message(&small)
    };
    batch.insert(21, invalid);
    let results = single_thread().block_on(async {
        let client = AsyncClient::connect(d.socket_path())
            .await
            .expect("connect");
        let conn = client.helo(&sink.host(), LOCAL, None).await.expect("helo");
        let results = conn.send_many(&batch).await.expect("send_many");
        conn.quit().await.expect("quit");
        results
    });
    let failed: Vec<(usize, ReturnCode)> = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().err().map(|e| (i, e.code())))
        .collect();
    assert_eq!(results.len(), 42);
    assert_eq!(failed, [(21, ReturnCode::InvalidArgument)], "{results:?}");
    assert_eq!(sink.message_count(), 41, "each valid message once");
    let mut sizes: Vec<usize> = sink.dumps().iter().map(Vec::len).collect();
    sizes.sort_unstable();
    assert!(
        sizes[40] > 100_000 && sizes[39] < 10_000,
        "one large message among small ones: {sizes:?}"
    );
}

#[test]
fn a_dropped_helo_closes_its_handle_once_the_daemon_reports_it() {
    let _wd = Watchdog::test("a_dropped_helo_closes_its_handle_once_the_daemon_reports_it");
    let slow_greeting = Script::new()
        .delay(Duration::from_millis(300))
        .reply("220 scripted.test ESMTP")
        .expect("EHLO")
        .reply("250 scripted.test")
        .stall();
    let server = Arc::new(ScriptedServer::start(slow_greeting));
    let d = TestDaemon::start();
    single_thread().block_on(async {
        let client = AsyncClient::connect(d.socket_path())
            .await
            .expect("connect");
        let host = server.host();
        let open = client.helo(&host, LOCAL, None);
        let timed = tokio::time::timeout(Duration::from_millis(50), open).await;
        assert!(
            timed.is_err(),
            "the helo returned before the greeting: {timed:?}"
        );
        let s = server.clone();
        tokio::task::spawn_blocking(move || s.wait_client_closed(1, T))
            .await
            .expect("the server saw the close");
        client
            .ping(b"still here")
            .await
            .expect("the daemon connection still serves");
    });
    let ehlo = server
        .events()
        .iter()
        .any(|e| matches!(e, ServerEvent::Received { line, .. } if line.starts_with("EHLO")));
    assert!(
        ehlo,
        "the connect ran to its end before the handle was closed"
    );
    wait_for(T, "smtp32ctl to list no connection", || {
        listed_connections(d.socket_path()) == 0
    });
}
