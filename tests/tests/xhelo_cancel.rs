//! The asynchronous connect and cancellation: `xhelo` reports through its status callback,
//! calls during the connect are `InProgress`, `xquit` aborts a stalled connect or a command
//! waiting on a stalled server (returning within 1 s; the 100 ms target is for benchmarks),
//! a second call while one is in flight is `InProgress`, and OPT_TIMEOUT fires.

use smtp32::ReturnCode;
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::session::{expect_code, send_message, LOCAL};
use smtp32_tests::{Script, ScriptedServer, SmtpSink, TestDaemon, Watchdog};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

type StatusResult = (smtp32::Handle, Result<(), smtp32::Error>);

/// A status callback that forwards its one call to a channel.
fn status_channel() -> (smtp32::StatusCallback, mpsc::Receiver<StatusResult>) {
    let (tx, rx) = mpsc::channel();
    (
        Box::new(move |h, r| {
            let _ = tx.send((h, r));
        }),
        rx,
    )
}

#[test]
fn xhelo_reports_success_then_the_handle_works() {
    let _wd = Watchdog::test("xhelo_reports_success_then_the_handle_works");
    let sink = SmtpSink::start();
    let d = TestDaemon::start();
    let (status, rx) = status_channel();
    let conn = d
        .client()
        .xhelo(&sink.host(), LOCAL, None, status)
        .expect("xhelo returns a handle at once");
    let (handle, result) = rx.recv_timeout(T).expect("the status callback runs");
    assert_eq!(handle, conn.handle());
    result.expect("the connect succeeded");
    assert!(
        rx.recv_timeout(Duration::from_millis(100)).is_err(),
        "the status callback runs once"
    );
    let reply = send_message(&conn, "a@a.test", &["b@b.test"], &[b"after xhelo\r\n"]);
    assert_eq!(reply.code, 250);
    conn.quit().expect("quit");
    assert_eq!(sink.message_count(), 1);
}

#[test]
fn calls_during_the_xhelo_connect_are_in_progress() {
    let _wd = Watchdog::test("calls_during_the_xhelo_connect_are_in_progress");
    let server = ScriptedServer::start(Script::never_greet());
    let d = TestDaemon::start();
    let (status, rx) = status_channel();
    let conn = d
        .client()
        .xhelo(&server.host(), LOCAL, None, status)
        .expect("xhelo");
    server.wait_connected(T);
    expect_code(
        conn.noop(),
        ReturnCode::InProgress,
        "noop during the connect",
    );
    expect_code(
        conn.mail("a@a.test"),
        ReturnCode::InProgress,
        "mail during the connect",
    );
    expect_code(
        conn.data_buf(b"x"),
        ReturnCode::InProgress,
        "data_buf during the connect",
    );
    conn.xquit().expect("xquit");
    let (_, result) = rx.recv_timeout(T).expect("status after xquit");
    expect_code(result, ReturnCode::Aborted, "xhelo status after xquit");
}

#[test]
fn xquit_during_a_stalled_connect_reports_aborted() {
    let _wd = Watchdog::test("xquit_during_a_stalled_connect_reports_aborted");
    let server = ScriptedServer::start(Script::never_greet());
    let d = TestDaemon::start();
    let client = d.client();
    let (status, rx) = status_channel();
    let conn = client
        .xhelo(&server.host(), LOCAL, None, status)
        .expect("xhelo");
    let conn_no = server.wait_connected(T);
    let started = Instant::now();
    conn.xquit().expect("xquit");
    let (handle, result) = rx
        .recv_timeout(T)
        .expect("the status callback runs after xquit");
    let took = started.elapsed();
    assert_eq!(handle, conn.handle());
    expect_code(result, ReturnCode::Aborted, "xhelo status after xquit");
    assert!(
        took < Duration::from_secs(1),
        "the status came {took:?} after xquit"
    );
    server.wait_client_closed(conn_no, T);
    expect_code(
        conn.noop(),
        ReturnCode::InvalidHandle,
        "the handle after xquit",
    );
    wait_connections(&client, 0);
}

#[test]
fn xquit_aborts_a_command_waiting_on_a_stalled_server_within_1s() {
    let _wd = Watchdog::test("xquit_aborts_a_command_waiting_on_a_stalled_server_within_1s");
    let server = ScriptedServer::start(Script::stall_after_mail());
    let d = TestDaemon::start();
    let client = d.client();
    let conn = client.helo(&server.host(), LOCAL, None).expect("helo");
    let waiting = conn.clone();
    let (tx, rx) = mpsc::channel();
    let th = std::thread::spawn(move || {
        let r = waiting.mail("stalled@a.test");
        let _ = tx.send((r, Instant::now()));
    });
    server.wait_received("MAIL", T);
    // The MAIL is on the wire and the server will never answer: a second call is refused.
    expect_code(
        conn.noop(),
        ReturnCode::InProgress,
        "noop while MAIL is in flight",
    );
    let xquit_at = Instant::now();
    conn.xquit().expect("xquit");
    let (result, returned_at) = rx
        .recv_timeout(T)
        .expect("the stalled MAIL returns after xquit");
    th.join().unwrap();
    expect_code(result, ReturnCode::Aborted, "the stalled MAIL after xquit");
    let took = returned_at.saturating_duration_since(xquit_at);
    assert!(
        took < Duration::from_secs(1),
        "MAIL returned {took:?} after xquit"
    );
    expect_code(
        conn.noop(),
        ReturnCode::InvalidHandle,
        "the handle after xquit",
    );
    server.wait_client_closed(1, T);
    wait_connections(&client, 0);
}

#[test]
fn opt_timeout_fires_against_a_stalled_server() {
    let _wd = Watchdog::test("opt_timeout_fires_against_a_stalled_server");
    let server = ScriptedServer::start(Script::stall_after_mail());
    let d = TestDaemon::start();
    let conn = d.client().helo(&server.host(), LOCAL, None).expect("helo");
    conn.set_timeout(1).expect("set_timeout(1)");
    let started = Instant::now();
    let e = expect_code(
        conn.mail("slow@a.test"),
        ReturnCode::TimedOut,
        "MAIL to a stalled server with a 1 s timeout",
    );
    let took = started.elapsed();
    assert!(e.is_timeout());
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "timed out after {took:?}"
    );
}

#[test]
fn out_of_range_timeouts_are_invalid_arguments() {
    let _wd = Watchdog::test("out_of_range_timeouts_are_invalid_arguments");
    let sink = SmtpSink::start();
    let d = TestDaemon::start();
    let conn = d.client().helo(&sink.host(), LOCAL, None).expect("helo");
    expect_code(
        conn.set_timeout(0),
        ReturnCode::InvalidArgument,
        "set_timeout(0)",
    );
    expect_code(
        conn.set_timeout(1000),
        ReturnCode::InvalidArgument,
        "set_timeout(1000)",
    );
    conn.set_timeout(999).expect("set_timeout(999)");
    assert_eq!(conn.noop().expect("noop").code, 250);
}

#[test]
fn the_configured_timeout_bounds_a_stalled_greeting() {
    let _wd = Watchdog::test("the_configured_timeout_bounds_a_stalled_greeting");
    let server = ScriptedServer::start(Script::never_greet());
    let d = TestDaemon::start_with(DaemonOptions::default().env("SMTP32D_TIMEOUT", "1"));
    let (status, rx) = status_channel();
    let started = Instant::now();
    let _conn = d
        .client()
        .xhelo(&server.host(), LOCAL, None, status)
        .expect("xhelo");
    let (_, result) = rx
        .recv_timeout(T)
        .expect("the status callback runs when the timeout fires");
    let took = started.elapsed();
    expect_code(
        result,
        ReturnCode::TimedOut,
        "xhelo to a server that never greets, timeout 1 s",
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "status after {took:?}"
    );
}

fn wait_connections(client: &smtp32::Client, n: u32) {
    smtp32_tests::wait::wait_for(T, &format!("the daemon to count {n} connections"), || {
        client.status().expect("status").connections == n
    });
}
