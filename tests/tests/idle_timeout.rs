//! `idle_timeout`: a connection left without an operation is closed by the daemon (QUIT, or
//! only a close inside DATA), and its handle then answers `SMTP_CANNOT_SEND_COMMAND` until
//! `smtp_quit` frees it; an operation that takes longer than the idle timeout is never cut.

use smtp32::ReturnCode;
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::session::{expect_code, LOCAL};
use smtp32_tests::{Script, ScriptedServer, ServerEvent, TestDaemon, Watchdog};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

#[test]
fn an_idle_connection_is_closed_after_idle_timeout_and_its_handle_reports_it() {
    let _wd =
        Watchdog::test("an_idle_connection_is_closed_after_idle_timeout_and_its_handle_reports_it");
    let server = ScriptedServer::start(Script::greeted().accept_all());
    let d = TestDaemon::start_with(DaemonOptions::default().env("SMTP32D_IDLE_TIMEOUT", "1"));
    let client = d.client();
    let started = Instant::now();
    let conn = client.helo(&server.host(), LOCAL, None).expect("helo");
    server.wait_received("QUIT", T);
    let idle = started.elapsed();
    assert!(
        idle >= Duration::from_millis(900) && idle < Duration::from_secs(5),
        "closed after {idle:?}"
    );
    server.wait_event("the idle connection closed", T, |e| {
        matches!(e, ServerEvent::ServerClosed { conn: 1 })
    });
    let e = expect_code(
        conn.noop(),
        ReturnCode::CannotSendCommand,
        "a call on an idle-closed handle",
    );
    assert!(e.message().contains("idle"), "the error says why: {e:?}");
    assert_eq!(
        client.status().expect("status").connections,
        1,
        "the handle stays until quit"
    );
    conn.quit().expect("quit frees an idle-closed handle");
    assert_eq!(client.status().expect("status").connections, 0);
}

#[test]
fn an_operation_longer_than_idle_timeout_is_not_cut_and_data_is_not_quit() {
    let _wd =
        Watchdog::test("an_operation_longer_than_idle_timeout_is_not_cut_and_data_is_not_quit");
    // The server takes 2.5 s to answer NOOP: busy is not idle.
    let slow = ScriptedServer::start(
        Script::greeted()
            .expect("NOOP")
            .delay(Duration::from_millis(2500))
            .reply("250 slow ok")
            .accept_all(),
    );
    // Idle inside DATA: the connection is closed without QUIT (it would become message text).
    let in_data = ScriptedServer::start(Script::in_data().stall());
    let d = TestDaemon::start_with(DaemonOptions::default().env("SMTP32D_IDLE_TIMEOUT", "1"));
    let client = d.client();
    let conn = client.helo(&slow.host(), LOCAL, None).expect("helo");
    assert_eq!(
        conn.noop().expect("a 2.5 s NOOP with idle_timeout 1").code,
        250
    );
    // Idle again after the NOOP: closed a second later.
    slow.wait_received("QUIT", T);
    conn.quit().expect("quit");

    let conn = client.helo(&in_data.host(), LOCAL, None).expect("helo");
    conn.mail("a@a.test").expect("mail");
    conn.rcpt("b@b.test").expect("rcpt");
    conn.data_buf(b"Subject: left half-written\r\n\r\nand then nothing")
        .expect("data_buf");
    in_data.wait_client_closed(1, T);
    let lines: Vec<String> = in_data
        .events()
        .into_iter()
        .filter_map(|e| match e {
            ServerEvent::Received { line, .. } => Some(line),
            _ => None,
        })
        .collect();
    assert!(
        !lines.iter().any(|l| l.contains("QUIT")),
        "no QUIT inside DATA: {lines:?}"
    );
    expect_code(
        conn.data_end(),
        ReturnCode::CannotSendCommand,
        "the final dot after the idle close",
    );
    conn.quit().expect("quit");
}
