//! Self-tests of the fixtures, with no smtp32 code involved: the peers start, greet, take a
//! message over a plain TCP conversation and store or count it; the scripted server reports
//! what it receives; the watchdog helpers fire.

use smtp32_tests::message::expected_on_arrival;
use smtp32_tests::plain::PlainSmtp;
use smtp32_tests::{
    with_deadline, Aiosmtpd, Script, ScriptedServer, ServerEvent, SmtpSink, Watchdog,
};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

#[test]
fn smtp_sink_greets_and_counts_messages() {
    let _wd = Watchdog::test("smtp_sink_greets_and_counts_messages");
    let sink = SmtpSink::start();
    let mut c = PlainSmtp::connect(sink.addr());
    assert_eq!(c.code("EHLO tester"), 250);
    for _ in 0..3 {
        assert_eq!(
            c.send_message("a@b.test", "c@d.test", b"Subject: x\r\n\r\nhi\r\n"),
            250
        );
    }
    assert_eq!(c.code("QUIT"), 221);
    assert_eq!(sink.message_count(), 3);
    assert!(sink
        .dumps()
        .iter()
        .all(|d| d.windows(2).any(|w| w == b"hi")));
}

#[test]
fn smtp_sink_faults_come_from_its_flags() {
    let _wd = Watchdog::test("smtp_sink_faults_come_from_its_flags");
    let sink = SmtpSink::with_flags(&["-e"]);
    let mut c = PlainSmtp::connect(sink.addr());
    assert_eq!(
        c.code("EHLO tester") / 100,
        5,
        "-e must refuse EHLO so that clients fall back to HELO"
    );
    assert_eq!(c.code("HELO tester"), 250);
}

#[test]
fn two_sinks_get_different_ports() {
    let _wd = Watchdog::test("two_sinks_get_different_ports");
    let a = SmtpSink::start();
    let b = SmtpSink::start();
    assert_ne!(a.addr(), b.addr());
    assert_ne!(a.pid(), b.pid());
}

#[test]
fn aiosmtpd_stores_bytes_after_unstuffing_with_the_final_crlf() {
    let _wd = Watchdog::test("aiosmtpd_stores_bytes_after_unstuffing_with_the_final_crlf");
    let server = Aiosmtpd::start();
    let mut c = PlainSmtp::connect(server.addr());
    assert_eq!(c.code("EHLO tester"), 250);
    let original = b".leading dot\r\n..two\r\n8-bit \xc3\xa9\xff\r\n.\r\nlast";
    let stuffed = b"..leading dot\r\n...two\r\n8-bit \xc3\xa9\xff\r\n..\r\nlast\r\n";
    assert_eq!(c.send_message("from@a.test", "to@b.test", stuffed), 250);
    assert_eq!(c.send_message("", "x@b.test", b""), 250);
    assert_eq!(c.code("QUIT"), 221);
    let got = server.wait_for_messages(2, T);
    assert_eq!(got[0].from, "from@a.test");
    assert_eq!(got[0].to, vec!["to@b.test".to_string()]);
    assert_eq!(got[0].bytes, expected_on_arrival(original));
    assert_eq!(got[1].from, "<>", "aiosmtpd keeps the null sender as <>");
    assert_eq!(got[1].bytes, b"", "an empty DATA stores no bytes");
    assert_eq!(server.message_count(), 2);
}

#[test]
fn scripted_server_reports_commands_and_closes() {
    let _wd = Watchdog::test("scripted_server_reports_commands_and_closes");
    let server = ScriptedServer::start(Script::stall_after_mail());
    let mut c = PlainSmtp::connect(server.addr());
    assert_eq!(c.code("EHLO tester"), 250);
    c.send_raw(b"MAIL FROM:<a@b.test>\r\n");
    assert_eq!(server.wait_received("MAIL", T), "MAIL FROM:<a@b.test>");
    // Stalled: nothing comes back, but the server notices when we hang up.
    let got = c.read_line_within(Duration::from_millis(200));
    assert!(
        got.is_err(),
        "a stalled server must not answer, got {got:?}"
    );
    drop(c);
    server.wait_client_closed(1, T);
}

#[test]
fn scripted_server_close_after_greeting_hangs_up() {
    let _wd = Watchdog::test("scripted_server_close_after_greeting_hangs_up");
    let server = ScriptedServer::start(Script::close_after_greeting());
    let mut c = PlainSmtp::connect(server.addr());
    assert_eq!(
        c.read_line_within(T).expect("read"),
        "",
        "expected EOF after the greeting"
    );
    server.wait_event("server close", T, |e| {
        matches!(e, ServerEvent::ServerClosed { conn: 1 })
    });
}

#[test]
fn scripted_server_accept_all_takes_a_message() {
    let _wd = Watchdog::test("scripted_server_accept_all_takes_a_message");
    let server = ScriptedServer::start(Script::greeted().accept_all());
    let mut c = PlainSmtp::connect(server.addr());
    assert_eq!(c.code("EHLO x"), 250);
    assert_eq!(c.send_message("a@b", "c@d", b"hello\r\n"), 250);
    assert_eq!(c.code("QUIT"), 221);
}

#[test]
fn with_deadline_panics_on_overrun_and_passes_results() {
    assert_eq!(with_deadline("quick", T, || 41 + 1), 42);
    let r = std::panic::catch_unwind(|| {
        with_deadline("stuck", Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(5))
        })
    });
    let msg = *r.expect_err("must panic").downcast::<String>().unwrap();
    assert!(msg.contains("stuck did not finish"), "{msg}");
}
