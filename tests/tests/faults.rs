//! The fault matrix: SMTP servers that stall, hang up, reset, lie or babble at each point of the
//! dialogue, and addresses where nothing answers. Every case goes through the real daemon, names
//! the return code the caller gets, and ends by checking that the daemon still serves a new
//! client. Postfix `smtp-sink`'s own fault flags (`-q`, `-Q`, `-W`) play the cases they cover;
//! our scripted server (tests/src/peers/scripted.rs) plays the rest.
//!
//! What a caller sees, by where the server fails:
//!
//! | fault | return code |
//! |---|---|
//! | stalls (greeting, after MAIL, after DATA's 354, after the final dot) | `SMTP_TIMED_OUT` within the timeout + 1 s |
//! | closes the connection (greeting, after MAIL, after 354, after the dot) | `SMTP_CANNOT_SEND_COMMAND` |
//! | 421 then closes (`smtp-sink -Q`) | `SMTP_FAILURE` with the 421 reply, then `SMTP_CANNOT_SEND_COMMAND` |
//! | TCP reset mid-DATA | `SMTP_CANNOT_SEND_COMMAND` |
//! | a reply line over 4096 bytes, over 1000 lines, a NUL, a code outside 200..559, a reply nobody asked for | `SMTP_FAILURE` (malformed reply), then `SMTP_CANNOT_SEND_COMMAND` |
//! | 8-bit text in a reply | accepted (the text is read as lossy UTF-8) |
//! | nothing listens on the port | `SMTP_HOST_NOT_RESPONDING` |
//! | SYNs are dropped | `SMTP_TIMED_OUT` |
//!
//! After any fault that drops the connection the handle stays allocated and answers
//! `SMTP_CANNOT_SEND_COMMAND` until `smtp_quit` frees it; a timeout or hang-up after the final
//! dot is the one ambiguous case (the server may have taken the message) and is never retried.

use smtp32::{Connection, ReturnCode};
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::memory::peak_rss_kib;
use smtp32_tests::peers::blackhole::BlackHole;
use smtp32_tests::process::RefusedPort;
use smtp32_tests::session::{expect_code, LOCAL};
use smtp32_tests::wait::wait_for;
use smtp32_tests::{Script, ScriptedServer, ServerEvent, SmtpSink, TestDaemon, Watchdog};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);
/// The per-operation timeout the stall cases set (OPT_TIMEOUT), and the slack they allow.
const TIMEOUT_SECS: u32 = 1;
const SLACK: Duration = Duration::from_secs(1);

/// A new client opens a connection to a healthy server, sends NOOP and quits, and the faulty
/// connections of the test are gone from the daemon's count once their handles are freed.
fn still_serves(d: &TestDaemon) {
    d.assert_serving();
    let healthy = ScriptedServer::start(Script::greeted().accept_all());
    let client = d.client();
    let conn = client
        .helo(&healthy.host(), LOCAL, None)
        .expect("helo to a healthy server after the fault");
    assert_eq!(conn.noop().expect("noop after the fault").code, 250);
    conn.quit().expect("quit after the fault");
    wait_for(T, "every connection of the test to be freed", || {
        client.status().expect("status").connections == 0
    });
}

/// Runs `f`, checks it took at most `limit`, returns its result.
fn within<R>(limit: Duration, what: &str, f: impl FnOnce() -> R) -> R {
    let started = Instant::now();
    let r = f();
    let took = started.elapsed();
    assert!(took <= limit, "{what} took {took:?}, more than {limit:?}");
    r
}

/// Opens a connection with the stall cases' 1 s timeout.
fn open_with_short_timeout(d: &TestDaemon, host: &str) -> Connection {
    let conn = d.client().helo(host, LOCAL, None).expect("helo");
    conn.set_timeout(TIMEOUT_SECS).expect("OPT_TIMEOUT 1");
    conn
}

/// After a fault that dropped the TCP connection: the handle answers CANNOT_SEND_COMMAND,
/// and quit frees it.
fn handle_is_lost_until_quit(conn: Connection) {
    expect_code(
        conn.noop(),
        ReturnCode::CannotSendCommand,
        "a call after the connection was dropped",
    );
    conn.quit()
        .expect("quit frees a handle whose connection is lost");
}

fn timeout_limit() -> Duration {
    Duration::from_secs(TIMEOUT_SECS.into()) + SLACK
}

// ---- stalls: SMTP_TIMED_OUT within the timeout + 1 s ----------------------------------------

#[test]
fn a_server_that_stalls_at_the_greeting_times_out() {
    let _wd = Watchdog::test("a_server_that_stalls_at_the_greeting_times_out");
    let server = ScriptedServer::start(Script::never_greet());
    let d = TestDaemon::start_with(DaemonOptions::default().env("SMTP32D_TIMEOUT", "1"));
    let client = d.client();
    let r = within(
        timeout_limit(),
        "helo to a server that never greets",
        || client.helo(&server.host(), LOCAL, None),
    );
    expect_code(
        r,
        ReturnCode::TimedOut,
        "helo to a server that never greets",
    );
    server.wait_client_closed(1, T);
    still_serves(&d);
}

#[test]
fn a_server_that_stalls_after_mail_times_out() {
    let _wd = Watchdog::test("a_server_that_stalls_after_mail_times_out");
    let server = ScriptedServer::start(Script::stall_after_mail());
    let d = TestDaemon::start();
    let conn = open_with_short_timeout(&d, &server.host());
    let r = within(timeout_limit(), "MAIL to a stalled server", || {
        conn.mail("a@a.test")
    });
    expect_code(
        r,
        ReturnCode::TimedOut,
        "MAIL to a server that never answers it",
    );
    server.wait_client_closed(1, T);
    handle_is_lost_until_quit(conn);
    still_serves(&d);
}

#[test]
fn smtp_sink_delaying_mail_times_out() {
    let _wd = Watchdog::test("smtp_sink_delaying_mail_times_out");
    let sink = SmtpSink::with_flags(&["-W", "MAIL:5"]);
    let d = TestDaemon::start();
    let conn = open_with_short_timeout(&d, &sink.host());
    let r = within(timeout_limit(), "MAIL to smtp-sink -W MAIL:5", || {
        conn.mail("a@a.test")
    });
    expect_code(
        r,
        ReturnCode::TimedOut,
        "MAIL answered only after 5 s, timeout 1 s",
    );
    handle_is_lost_until_quit(conn);
    still_serves(&d);
}

#[test]
fn a_server_that_stops_reading_after_354_times_out() {
    let _wd = Watchdog::test("a_server_that_stops_reading_after_354_times_out");
    // The server answers DATA with 354 and then neither reads nor writes: the daemon's writes
    // fill the socket buffers and block until the timeout.
    let server = ScriptedServer::start(Script::in_data().freeze());
    let d = TestDaemon::start();
    let conn = open_with_short_timeout(&d, &server.host());
    conn.mail("a@a.test").expect("mail");
    conn.rcpt("b@b.test").expect("rcpt");
    let big = vec![b'x'; 16 << 20];
    // The client splits 16 MiB into frame-sized chunks, each one request with its own 1 s
    // timeout; the one that blocks times out. The extra second allows for encoding and copying
    // the chunks in a debug build on a busy machine.
    let r = within(
        timeout_limit() + 2 * SLACK,
        "16 MiB of DATA to a frozen server",
        || conn.data_buf(&big),
    );
    expect_code(
        r,
        ReturnCode::TimedOut,
        "DATA to a server that stopped reading after 354",
    );
    handle_is_lost_until_quit(conn);
    drop(server);
    still_serves(&d);
}

#[test]
fn a_server_that_stalls_after_the_final_dot_times_out_and_is_not_retried() {
    let _wd =
        Watchdog::test("a_server_that_stalls_after_the_final_dot_times_out_and_is_not_retried");
    let server = ScriptedServer::start(Script::in_data().expect_message().stall());
    let d = TestDaemon::start();
    let conn = open_with_short_timeout(&d, &server.host());
    conn.mail("a@a.test").expect("mail");
    conn.rcpt("b@b.test").expect("rcpt");
    conn.data_buf(b"Subject: stalled verdict\r\n\r\nbody\r\n")
        .expect("data_buf");
    let r = within(timeout_limit(), "the final dot to a stalled server", || {
        conn.data_end()
    });
    expect_code(r, ReturnCode::TimedOut, "no reply to the final dot");
    server.wait_client_closed(1, T);
    handle_is_lost_until_quit(conn);
    // Exactly one DATA and one final dot went out: nothing was retried behind the caller's back.
    let lines: Vec<String> = received_lines(&server);
    assert_eq!(
        lines.iter().filter(|l| l.as_str() == "DATA").count(),
        1,
        "{lines:?}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.as_str() == ".").count(),
        1,
        "{lines:?}"
    );
    assert_eq!(
        server
            .events()
            .iter()
            .filter(|e| matches!(e, ServerEvent::Connected { .. }))
            .count(),
        1
    );
    still_serves(&d);
}

fn received_lines(server: &ScriptedServer) -> Vec<String> {
    server
        .events()
        .into_iter()
        .filter_map(|e| match e {
            ServerEvent::Received { line, .. } => Some(line),
            _ => None,
        })
        .collect()
}

// ---- hang-ups: SMTP_CANNOT_SEND_COMMAND ------------------------------------------------------

#[test]
fn a_server_that_closes_instead_of_greeting_cannot_send_command() {
    let _wd = Watchdog::test("a_server_that_closes_instead_of_greeting_cannot_send_command");
    let server = ScriptedServer::start(Script::new().close());
    let d = TestDaemon::start();
    let client = d.client();
    expect_code(
        client.helo(&server.host(), LOCAL, None),
        ReturnCode::CannotSendCommand,
        "helo, server closes at once",
    );
    // A failed connect frees its handle by itself.
    wait_for(T, "the failed connect to free its handle", || {
        client.status().expect("status").connections == 0
    });
    still_serves(&d);
}

#[test]
fn a_server_that_closes_after_mail_cannot_send_command() {
    let _wd = Watchdog::test("a_server_that_closes_after_mail_cannot_send_command");
    let sink = SmtpSink::with_flags(&["-q", "MAIL"]);
    let d = TestDaemon::start();
    let conn = d.client().helo(&sink.host(), LOCAL, None).expect("helo");
    expect_code(
        conn.mail("a@a.test"),
        ReturnCode::CannotSendCommand,
        "MAIL to smtp-sink -q MAIL",
    );
    handle_is_lost_until_quit(conn);
    still_serves(&d);
}

#[test]
fn a_server_that_says_421_after_mail_is_failure_then_cannot_send_command() {
    let _wd =
        Watchdog::test("a_server_that_says_421_after_mail_is_failure_then_cannot_send_command");
    let sink = SmtpSink::with_flags(&["-Q", "MAIL"]);
    let d = TestDaemon::start();
    let conn = d.client().helo(&sink.host(), LOCAL, None).expect("helo");
    let e = expect_code(
        conn.mail("a@a.test"),
        ReturnCode::Failure,
        "MAIL to smtp-sink -Q MAIL",
    );
    assert_eq!(
        e.reply().map(|r| r.code),
        Some(421),
        "the 421 reply reaches the caller: {e:?}"
    );
    assert!(e.is_transient());
    // The server hung up after its 421: the next command finds the connection closed.
    expect_code(
        conn.noop(),
        ReturnCode::CannotSendCommand,
        "NOOP after the server's 421 and hang-up",
    );
    handle_is_lost_until_quit(conn);
    still_serves(&d);
}

#[test]
fn a_server_that_closes_instead_of_354_cannot_send_command() {
    let _wd = Watchdog::test("a_server_that_closes_instead_of_354_cannot_send_command");
    let sink = SmtpSink::with_flags(&["-q", "DATA"]);
    let d = TestDaemon::start();
    let conn = d.client().helo(&sink.host(), LOCAL, None).expect("helo");
    conn.mail("a@a.test").expect("mail");
    conn.rcpt("b@b.test").expect("rcpt");
    expect_code(
        conn.data_buf(b"x\r\n"),
        ReturnCode::CannotSendCommand,
        "the first chunk sends DATA; the server hangs up",
    );
    handle_is_lost_until_quit(conn);
    still_serves(&d);
}

#[test]
fn a_server_that_closes_after_354_fails_the_message() {
    let _wd = Watchdog::test("a_server_that_closes_after_354_fails_the_message");
    let server = ScriptedServer::start(Script::in_data().close());
    let d = TestDaemon::start();
    let conn = d.client().helo(&server.host(), LOCAL, None).expect("helo");
    conn.mail("a@a.test").expect("mail");
    conn.rcpt("b@b.test").expect("rcpt");
    // A small chunk may still be taken by the kernel before the hang-up is noticed; the
    // message can never be reported sent: data_end fails at the latest.
    match conn.data_buf(b"Subject: cut\r\n\r\nbody\r\n") {
        Ok(()) => {
            expect_code(
                conn.data_end(),
                ReturnCode::CannotSendCommand,
                "the final dot to a server that hung up",
            );
        }
        Err(e) => assert_eq!(e.code(), ReturnCode::CannotSendCommand, "{e:?}"),
    }
    handle_is_lost_until_quit(conn);
    still_serves(&d);
}

#[test]
fn a_server_that_closes_after_the_final_dot_cannot_send_command() {
    let _wd = Watchdog::test("a_server_that_closes_after_the_final_dot_cannot_send_command");
    let scripted = ScriptedServer::start(Script::in_data().expect_message().close());
    let sink = SmtpSink::with_flags(&["-q", "."]);
    let d = TestDaemon::start();
    for (what, host) in [
        ("scripted", scripted.host()),
        ("smtp-sink -q .", sink.host()),
    ] {
        let conn = d.client().helo(&host, LOCAL, None).expect("helo");
        conn.mail("a@a.test").expect("mail");
        conn.rcpt("b@b.test").expect("rcpt");
        conn.data_buf(b"Subject: no verdict\r\n\r\nbody\r\n")
            .expect("data_buf");
        expect_code(
            conn.data_end(),
            ReturnCode::CannotSendCommand,
            &format!("{what}: hang-up after the final dot"),
        );
        handle_is_lost_until_quit(conn);
    }
    still_serves(&d);
}

#[test]
fn a_tcp_reset_mid_data_cannot_send_command() {
    let _wd = Watchdog::test("a_tcp_reset_mid_data_cannot_send_command");
    // The server takes the first line of the message, then resets the connection while the
    // daemon is still writing 16 MiB.
    let server = ScriptedServer::start(Script::in_data().expect_any().reset());
    let d = TestDaemon::start();
    let conn = d.client().helo(&server.host(), LOCAL, None).expect("helo");
    conn.mail("a@a.test").expect("mail");
    conn.rcpt("b@b.test").expect("rcpt");
    let big = b"a line of a message cut by a reset\r\n".repeat((16 << 20) / 36);
    expect_code(
        conn.data_buf(&big),
        ReturnCode::CannotSendCommand,
        "DATA cut by a TCP RST",
    );
    handle_is_lost_until_quit(conn);
    still_serves(&d);
}

// ---- lies and floods: SMTP_FAILURE, the connection dropped, memory bounded ---------------------

/// `conn` got a malformed reply: FAILURE whose message contains `needle`, then the connection
/// is dropped.
fn malformed(r: smtp32::Result<smtp32::Reply>, needle: &str, what: &str) {
    let e = expect_code(r, ReturnCode::Failure, what);
    assert!(
        e.message().contains(needle),
        "{what}: {e:?} should mention {needle:?}"
    );
    assert!(
        e.reply().is_none(),
        "{what}: a malformed reply is not passed on as a reply: {e:?}"
    );
}

#[test]
fn a_reply_line_of_one_mebibyte_fails_cleanly() {
    let _wd = Watchdog::test("a_reply_line_of_one_mebibyte_fails_cleanly");
    let mut line = b"250 ".to_vec();
    line.resize(1 << 20, b'x');
    line.extend_from_slice(b"\r\n");
    let server = ScriptedServer::start(Script::greeted().expect("NOOP").raw(&line).stall());
    let greeting = ScriptedServer::start(Script::new().raw(&line).stall());
    let d = TestDaemon::start();
    expect_code(
        d.client().helo(&greeting.host(), LOCAL, None),
        ReturnCode::Failure,
        "a 1 MiB greeting line",
    );
    let conn = d.client().helo(&server.host(), LOCAL, None).expect("helo");
    malformed(
        conn.noop(),
        "longer than 4096 bytes",
        "a 1 MiB reply line to NOOP",
    );
    server.wait_client_closed(1, T);
    handle_is_lost_until_quit(conn);
    still_serves(&d);
}

#[test]
fn endless_replies_fail_cleanly_and_memory_stays_bounded() {
    let _wd = Watchdog::test("endless_replies_fail_cleanly_and_memory_stays_bounded");
    const FLOOD: usize = 256 << 20;
    let lines = ScriptedServer::start(
        Script::greeted()
            .expect("NOOP")
            .flood(b"250-this reply never ends\r\n", FLOOD),
    );
    let one_line = ScriptedServer::start(
        Script::greeted()
            .expect("NOOP")
            .raw(b"250 ")
            .flood(&[b'x'; 4096], FLOOD),
    );
    let d = TestDaemon::start();
    let before = peak_rss_kib(d.pid());
    for round in 0..4 {
        let conn = d.client().helo(&lines.host(), LOCAL, None).expect("helo");
        malformed(
            conn.noop(),
            "more than 1000 lines",
            &format!("round {round}: an endless multi-line reply"),
        );
        handle_is_lost_until_quit(conn);
        let conn = d
            .client()
            .helo(&one_line.host(), LOCAL, None)
            .expect("helo");
        malformed(
            conn.noop(),
            "longer than 4096 bytes",
            &format!("round {round}: a reply line without end"),
        );
        handle_is_lost_until_quit(conn);
    }
    // The servers stop flooding once the daemon hangs up: each flood ends long before 256 MiB.
    for server in [&lines, &one_line] {
        for conn in 1..=4 {
            server.wait_client_closed(conn, T);
        }
    }
    let grown = peak_rss_kib(d.pid()).saturating_sub(before);
    assert!(
        grown < 16 * 1024,
        "the daemon's peak memory grew by {grown} KiB over 8 floods of up to 256 MiB"
    );
    println!("peak RSS growth over 8 endless replies: {grown} KiB");
    still_serves(&d);
}

#[test]
fn eight_bit_reply_text_is_kept_and_nul_fails_cleanly() {
    let _wd = Watchdog::test("eight_bit_reply_text_is_kept_and_nul_fails_cleanly");
    // RFC 6531 servers may send UTF-8; anything else 8-bit is read as lossy UTF-8, not refused.
    let server = ScriptedServer::start(
        Script::new()
            .raw(b"220 caf\xc3\xa9 \xff ESMTP\r\n")
            .expect("EHLO")
            .reply("250 ok")
            .expect("NOOP")
            .raw(b"250 na\xefve\r\n")
            .expect("NOOP")
            .raw(b"250 o\0k\r\n")
            .stall(),
    );
    let code_byte = ScriptedServer::start(
        Script::greeted()
            .expect("NOOP")
            .raw(b"2\xc30 x\r\n")
            .stall(),
    );
    let d = TestDaemon::start();
    let conn = d
        .client()
        .helo(&server.host(), LOCAL, None)
        .expect("helo with an 8-bit greeting");
    assert_eq!(
        conn.noop().expect("8-bit reply text").lines,
        vec!["na\u{fffd}ve".to_string()]
    );
    malformed(conn.noop(), "NUL", "a NUL in a reply");
    handle_is_lost_until_quit(conn);
    let conn = d
        .client()
        .helo(&code_byte.host(), LOCAL, None)
        .expect("helo");
    malformed(
        conn.noop(),
        "valid code",
        "an 8-bit byte inside the reply code",
    );
    handle_is_lost_until_quit(conn);
    still_serves(&d);
}

#[test]
fn reply_codes_outside_the_valid_range_fail_cleanly() {
    let _wd = Watchdog::test("reply_codes_outside_the_valid_range_fail_cleanly");
    let d = TestDaemon::start();
    for bad in [
        "199 too small",
        "099 far too small",
        "600 too big",
        "999 far too big",
        "1000 four digits",
        "25 two digits",
    ] {
        let server = ScriptedServer::start(Script::greeted().expect("NOOP").reply(bad).stall());
        let conn = d.client().helo(&server.host(), LOCAL, None).expect("helo");
        let r = conn.noop();
        let e = expect_code(r, ReturnCode::Failure, &format!("reply {bad:?}"));
        assert!(
            e.message().contains("malformed reply"),
            "reply {bad:?}: {e:?}"
        );
        handle_is_lost_until_quit(conn);
    }
    still_serves(&d);
}

#[test]
fn a_reply_nobody_asked_for_fails_cleanly_and_never_answers_the_next_command() {
    let _wd =
        Watchdog::test("a_reply_nobody_asked_for_fails_cleanly_and_never_answers_the_next_command");
    // Two replies to MAIL. Were the second taken as the answer to RCPT, the daemon would report
    // a recipient accepted that the server never saw. The daemon notices the stray reply before
    // it sends RCPT, refuses, and drops the connection.
    let server = ScriptedServer::start(
        Script::greeted()
            .expect("MAIL")
            .raw(b"250 sender ok\r\n250 recipient ok, says nobody\r\n")
            .stall(),
    );
    let early = ScriptedServer::start(
        Script::new()
            .raw(b"220 hello\r\n250 a reply before EHLO\r\n")
            .stall(),
    );
    let d = TestDaemon::start();
    let conn = d.client().helo(&server.host(), LOCAL, None).expect("helo");
    assert_eq!(conn.mail("a@a.test").expect("mail").code, 250);
    malformed(
        conn.rcpt("b@b.test"),
        "before it was asked",
        "RCPT after two replies to MAIL",
    );
    server.wait_client_closed(1, T);
    assert!(
        !received_lines(&server)
            .iter()
            .any(|l| l.starts_with("RCPT")),
        "RCPT must never be sent into a dialogue out of step: {:?}",
        server.events()
    );
    handle_is_lost_until_quit(conn);
    expect_code(
        d.client().helo(&early.host(), LOCAL, None),
        ReturnCode::Failure,
        "a reply before EHLO was sent",
    );
    early.wait_client_closed(1, T);
    assert!(
        received_lines(&early).is_empty(),
        "EHLO must not be sent: {:?}",
        early.events()
    );
    still_serves(&d);
}

// ---- nothing there ----------------------------------------------------------------------------

#[test]
fn a_port_with_no_listener_is_host_not_responding() {
    let _wd = Watchdog::test("a_port_with_no_listener_is_host_not_responding");
    let d = TestDaemon::start();
    let closed = RefusedPort::new();
    let host = closed.host();
    let r = within(SLACK, "connect to a closed port", || {
        d.client().helo(&host, LOCAL, None)
    });
    expect_code(
        r,
        ReturnCode::HostNotResponding,
        "connect to a port with no listener",
    );
    still_serves(&d);
}

#[test]
fn an_address_that_drops_syns_times_out() {
    let _wd = Watchdog::test("an_address_that_drops_syns_times_out");
    let hole = BlackHole::start();
    let d = TestDaemon::start_with(DaemonOptions::default().env("SMTP32D_TIMEOUT", "2"));
    let client = d.client();
    let r = within(
        Duration::from_secs(2) + SLACK,
        "connect to a port that drops SYNs",
        || client.helo(&hole.host(), LOCAL, None),
    );
    expect_code(
        r,
        ReturnCode::TimedOut,
        "connect to a port whose SYNs are dropped, timeout 2 s",
    );
    wait_for(T, "the failed connect to free its handle", || {
        client.status().expect("status").connections == 0
    });
    still_serves(&d);
}
