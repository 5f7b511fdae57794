//! The one-call send (`Connection::sendmsg`, `smtp_sendmsg`) end to end: per-recipient codes
//! with a refused recipient among accepted ones (Exim), no recipient accepted, the pipelined
//! envelope in one write (smtp-sink), step by step without PIPELINING, the byte-exact arrival of
//! the data-path cases at aiosmtpd, and a message too large for one request.

use smtp32::ffi::{smtp_helo, smtp_quit, smtp_rply, smtp_sendmsg, SMTP_HANDLE};
use smtp32::{Direction, ReturnCode};
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::ffi::{c, ffi_daemon, CStrBuf};
use smtp32_tests::message::{expected_on_arrival, first_difference, generated_message};
use smtp32_tests::peers::exim::Exim;
use smtp32_tests::session::{expect_code, Traffic, LOCAL};
use smtp32_tests::{Aiosmtpd, SmtpSink, TestDaemon, Watchdog};
use std::os::raw::{c_char, c_int};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn exim() -> Exim {
    Exim::start().unwrap_or_else(|e| panic!("the Exim fixture did not start: {e}"))
}

#[test]
fn a_refused_recipient_among_accepted_ones_gets_its_own_code() {
    let _wd = Watchdog::test("a_refused_recipient_among_accepted_ones_gets_its_own_code");
    let mta = exim();
    let d = TestDaemon::start();
    let conn = d
        .client()
        .helo(&mta.smtp_addr().to_string(), LOCAL, None)
        .expect("helo");
    let (alice, bob) = (mta.address("alice"), mta.address("bob"));
    let nobody = mta.address("nobody");
    let report = conn
        .sendmsg(
            "sender@client.test",
            &[&alice, &nobody, &bob],
            b"Subject: partial\r\n\r\nto two of three\r\n",
        )
        .expect("delivered to two of three");
    assert_eq!(
        report.recipients.iter().map(|r| r.code).collect::<Vec<_>>(),
        [250, 550, 250],
        "{report:?}"
    );
    assert_eq!((report.refused(), report.verdict.code), (vec![1], 250));
    assert_eq!(
        conn.last_reply().expect("last_reply").map(|r| r.code),
        Some(250),
        "smtp_rply: the verdict"
    );
    mta.wait_for_delivery("alice", 1, T);
    mta.wait_for_delivery("bob", 1, T);
    conn.quit().expect("quit");
}

#[test]
fn no_accepted_recipient_is_failure_and_the_connection_stays_usable() {
    let _wd = Watchdog::test("no_accepted_recipient_is_failure_and_the_connection_stays_usable");
    // Without CHUNKING: with it the message goes out behind the envelope (chunking.rs).
    let opts = smtp32_tests::peers::exim::EximOptions {
        chunking: false,
        ..Default::default()
    };
    let mta =
        Exim::start_with(opts).unwrap_or_else(|e| panic!("the Exim fixture did not start: {e}"));
    let d = TestDaemon::start();
    let traffic = Traffic::new();
    let conn = d
        .client()
        .helo(
            &mta.smtp_addr().to_string(),
            LOCAL,
            Some(traffic.callback()),
        )
        .expect("helo");
    let e = expect_code(
        conn.sendmsg(
            "sender@client.test",
            &[&mta.address("nobody"), "x@elsewhere.test"],
            b"never sent\r\n",
        ),
        ReturnCode::Failure,
        "no recipient accepted",
    );
    let report = e.send_report().expect("the error carries the report");
    assert_eq!(report.accepted(), 0);
    assert!(
        report.recipients.iter().all(|r| r.code >= 500),
        "{report:?}"
    );
    assert_eq!(
        e.reply().map(|r| r.code),
        report.recipients.last().map(|r| r.code)
    );
    assert!(
        !traffic.sent().contains("never sent"),
        "no message data went out: {}",
        traffic.sent()
    );
    // The transaction was reset: a new one works on the same connection.
    let ok = conn
        .sendmsg(
            "sender@client.test",
            &[&mta.address("carol")],
            b"Subject: after\r\n\r\nx\r\n",
        )
        .expect("sendmsg");
    assert_eq!(ok.verdict.code, 250);
    mta.wait_for_delivery("carol", 1, T);
    conn.quit().expect("quit");
}

#[test]
fn with_pipelining_the_envelope_goes_in_one_write() {
    let _wd = Watchdog::test("with_pipelining_the_envelope_goes_in_one_write");
    let sink = SmtpSink::start();
    let d = TestDaemon::start();
    let traffic = Traffic::new();
    let conn = d
        .client()
        .helo(&sink.host(), LOCAL, Some(traffic.callback()))
        .expect("helo");
    traffic.clear();
    for i in 0..20 {
        let report = conn
            .sendmsg(
                "a@a.test",
                &["b@b.test", "c@b.test"],
                format!("n {i}\r\n").as_bytes(),
            )
            .expect("sendmsg");
        assert_eq!((report.accepted(), report.verdict.code), (2, 250));
    }
    let first = traffic
        .pieces()
        .into_iter()
        .find(|(d, _)| *d == Direction::ToServer)
        .expect("something was sent")
        .1;
    assert_eq!(
        String::from_utf8_lossy(&first),
        "MAIL FROM:<a@a.test>\r\nRCPT TO:<b@b.test>\r\nRCPT TO:<c@b.test>\r\nDATA\r\n",
        "MAIL, the RCPTs and DATA in one write (smtp-sink offers no SIZE)"
    );
    conn.quit().expect("quit");
    assert_eq!(sink.message_count(), 20);
}

#[test]
fn without_pipelining_it_goes_step_by_step() {
    let _wd = Watchdog::test("without_pipelining_it_goes_step_by_step");
    let sink = SmtpSink::with_flags(&["-p"]);
    let d = TestDaemon::start();
    let traffic = Traffic::new();
    let conn = d
        .client()
        .helo(&sink.host(), LOCAL, Some(traffic.callback()))
        .expect("helo");
    traffic.clear();
    conn.sendmsg("a@a.test", &["b@b.test", "c@b.test"], b"x\r\n")
        .expect("sendmsg");
    let writes: Vec<String> = traffic
        .pieces()
        .into_iter()
        .filter(|(d, _)| *d == Direction::ToServer)
        .map(|(_, b)| String::from_utf8_lossy(&b).into_owned())
        .collect();
    assert_eq!(
        writes,
        [
            "MAIL FROM:<a@a.test>\r\n",
            "RCPT TO:<b@b.test>\r\n",
            "RCPT TO:<c@b.test>\r\n",
            "DATA\r\n",
            "x\r\n.\r\n"
        ]
    );
    conn.quit().expect("quit");
}

/// Sends `data` with one `sendmsg` through a daemon started with `opts` and checks the bytes
/// that arrive at aiosmtpd.
fn round_trip_with(case: &str, opts: DaemonOptions, data: &[u8]) {
    let _wd = Watchdog::test(case);
    let server = Aiosmtpd::start();
    let d = TestDaemon::start_with(opts);
    let conn = d.client().helo(&server.host(), LOCAL, None).expect("helo");
    let report = conn
        .sendmsg("sender@a.test", &["rcpt1@b.test", "rcpt2@b.test"], data)
        .expect("sendmsg");
    assert_eq!(
        (report.accepted(), report.verdict.code),
        (2, 250),
        "{case}: {report:?}"
    );
    conn.quit().expect("quit");
    let got = server.wait_for_messages(1, T).remove(0);
    assert_eq!(
        server.message_count(),
        1,
        "{case}: exactly one message must arrive"
    );
    assert_eq!(
        (got.from.as_str(), got.to.as_slice()),
        (
            "sender@a.test",
            &["rcpt1@b.test".to_string(), "rcpt2@b.test".to_string()][..]
        )
    );
    let want = expected_on_arrival(data);
    assert!(
        got.bytes == want,
        "{case}: {}",
        first_difference(&got.bytes, &want)
    );
}

fn round_trip(case: &str, data: &[u8]) {
    round_trip_with(case, DaemonOptions::default(), data);
}

#[test]
fn dots_arrive_intact() {
    round_trip(
        "dots_arrive_intact",
        b".at byte zero\r\n..two dots\r\n.\r\nafter a lone dot\r\n...\r\n. space\r\n.\r\n",
    );
}

#[test]
fn bare_lf_and_bare_cr_become_crlf() {
    round_trip(
        "bare_lf_and_bare_cr_become_crlf",
        b"Subject: lf\n\nline one\nline two\rthree\r\r\nfour\n\r",
    );
}

#[test]
fn smuggling_attempts_are_stuffed() {
    round_trip(
        "smuggling_attempts_are_stuffed",
        b"Subject: smuggle\r\n\r\nbody\n.\nMAIL FROM:<evil@x.test>\r\nDATA\r\nevil\r\n.\r\nx\r.\rafter\r\n.\nlast\n.\r\n",
    );
}

#[test]
fn no_final_newline_gets_crlf() {
    round_trip(
        "no_final_newline_gets_crlf",
        b"Subject: no newline\r\n\r\nno final newline",
    );
}

#[test]
fn eight_bit_bytes_arrive_unchanged() {
    let mut data = b"Subject: 8bit\r\n\r\ncaf\xc3\xa9\r\n".to_vec();
    data.extend(0x80..=0xFFu8);
    round_trip("eight_bit_bytes_arrive_unchanged", &data);
}

#[test]
fn an_empty_message_arrives_empty() {
    round_trip("an_empty_message_arrives_empty", b"");
}

#[test]
fn a_message_larger_than_one_request_is_sent_command_by_command() {
    let data = generated_message(300 * 1024, 7);
    round_trip_with(
        "a_message_larger_than_one_request_is_sent_command_by_command",
        DaemonOptions::default().config("max_frame_bytes = 65536\n"),
        &data,
    );
}

// ---- the C ABI ----------------------------------------------------------------------------

/// `smtp_sendmsg` through the C ABI; returns its code and the recipients' codes.
fn c_sendmsg(h: SMTP_HANDLE, from: &str, rcpts: &[&str], msg: &[u8]) -> (c_int, Vec<c_int>) {
    let owned: Vec<_> = rcpts.iter().map(|r| c(r)).collect();
    let pointers: Vec<*const c_char> = owned.iter().map(|r| r.as_ptr()).collect();
    let mut codes = vec![-1; rcpts.len()];
    let from = c(from);
    // SAFETY: test call of the C ABI with valid NUL-terminated strings, live buffers and handles (or NULL where the function accepts it).
    let rc = unsafe {
        smtp_sendmsg(
            h,
            from.as_ptr(),
            pointers.as_ptr(),
            pointers.len() as c_int,
            msg.as_ptr().cast(),
            msg.len(),
            codes.as_mut_ptr(),
        )
    };
    (rc, codes)
}

#[test]
fn c_abi_rcpt_codes_and_rply() {
    let _wd = Watchdog::test("c_abi_rcpt_codes_and_rply");
    ffi_daemon();
    let mta = exim();
    let mut h: SMTP_HANDLE = 0;
    let host = c(&mta.smtp_addr().to_string());
    assert_eq!(
        // SAFETY: test call of the C ABI with valid NUL-terminated strings, live buffers and handles (or NULL where the function accepts it).
        unsafe { smtp_helo(host.as_ptr(), c(LOCAL).as_ptr(), &mut h, None, 0) },
        0
    );
    let (alice, nobody) = (mta.address("alice"), mta.address("nobody"));
    let (rc, codes) = c_sendmsg(
        h,
        "s@client.test",
        &[&nobody, &alice],
        b"Subject: c\r\n\r\nfrom C\r\n",
    );
    assert_eq!((rc, codes), (0, vec![550, 250]));
    let (rc, codes) = c_sendmsg(h, "s@client.test", &[&nobody], b"x\r\n");
    assert_eq!((rc, codes), (ReturnCode::Failure.as_i32(), vec![550]));
    let mut buf = CStrBuf::new(256);
    let mut code = 0;
    assert_eq!(
        // SAFETY: test call of the C ABI with valid NUL-terminated strings, live buffers and handles (or NULL where the function accepts it).
        unsafe { smtp_rply(h, buf.ptr(), buf.len_c(), &mut code) },
        0
    );
    assert_eq!(
        code,
        550,
        "smtp_rply gives the refusal that decided: {}",
        buf.text()
    );
    // SAFETY: test call of the C ABI with valid NUL-terminated strings, live buffers and handles (or NULL where the function accepts it).
    let bad = unsafe {
        smtp_sendmsg(
            h,
            c("a@b").as_ptr(),
            std::ptr::null(),
            1,
            std::ptr::null(),
            0,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(bad, ReturnCode::InvalidArgument.as_i32());
    mta.wait_for_delivery("alice", 1, T);
    assert_eq!(smtp_quit(h), 0);
}
