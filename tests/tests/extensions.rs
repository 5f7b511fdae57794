//! ESMTP extensions end to end: the EHLO keywords through `extension`/`smtp_ext`, enhanced
//! status codes, SIZE (declared, and a message over the limit refused before its data goes
//! out), 8BITMIME (`BODY=8BITMIME` for 8-bit data) and SMTPUTF8 (accepted by Exim, refused
//! cleanly where not offered), against smtp-sink, aiosmtpd and Exim.

use smtp32::ffi::{smtp_ext, smtp_helo, smtp_quit, smtp_rply, smtp_sendmsg, SMTP_HANDLE};
use smtp32::ReturnCode;
use smtp32_tests::ffi::{c, ffi_daemon, CStrBuf};
use smtp32_tests::peers::exim::{Exim, EximOptions};
use smtp32_tests::session::{expect_code, Traffic, LOCAL};
use smtp32_tests::{Aiosmtpd, SmtpSink, TestDaemon, Watchdog};
use std::os::raw::c_char;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

#[test]
fn keywords_and_enhanced_codes_at_smtp_sink() {
    let _wd = Watchdog::test("keywords_and_enhanced_codes_at_smtp_sink");
    let sink = SmtpSink::start();
    let d = TestDaemon::start();
    let conn = d.client().helo(&sink.host(), LOCAL, None).expect("helo");
    assert_eq!(
        conn.extension("pipelining").expect("ext"),
        Some(String::new())
    );
    assert_eq!(
        conn.extension("AUTH").expect("ext"),
        Some("PLAIN LOGIN".into())
    );
    assert_eq!(conn.extension("SIZE").expect("ext"), None);
    assert!(conn
        .extensions()
        .expect("extensions")
        .iter()
        .any(|k| k == "ENHANCEDSTATUSCODES"));
    let noop = conn.noop().expect("noop");
    assert_eq!(
        noop.enhanced().map(|e| e.to_string()).as_deref(),
        Some("2.0.0"),
        "{noop:?}"
    );
    conn.quit().expect("quit");
}

#[test]
fn size_and_8bitmime_are_declared_where_offered() {
    let _wd = Watchdog::test("size_and_8bitmime_are_declared_where_offered");
    let server = Aiosmtpd::start();
    let d = TestDaemon::start();
    let traffic = Traffic::new();
    let conn = d
        .client()
        .helo(&server.host(), LOCAL, Some(traffic.callback()))
        .expect("helo");
    conn.sendmsg("a@a.test", &["b@b.test"], b"seven bit\r\n")
        .expect("7-bit");
    conn.sendmsg("a@a.test", &["b@b.test"], b"caf\xc3\xa9\r\n")
        .expect("8-bit");
    let sent = traffic.sent();
    assert!(sent.contains("MAIL FROM:<a@a.test> SIZE=11\r\n"), "{sent}");
    assert!(
        sent.contains("MAIL FROM:<a@a.test> SIZE=7 BODY=8BITMIME\r\n"),
        "{sent}"
    );
    conn.quit().expect("quit");
    assert_eq!(server.wait_for_messages(2, T)[1].bytes, b"caf\xc3\xa9\r\n");
}

#[test]
fn a_message_over_the_size_limit_is_refused_before_its_data_is_sent() {
    let _wd = Watchdog::test("a_message_over_the_size_limit_is_refused_before_its_data_is_sent");
    let mta = Exim::start_with(EximOptions {
        message_size_limit: 1000,
        ..EximOptions::default()
    })
    .unwrap_or_else(|e| panic!("the Exim fixture did not start: {e}"));
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
    assert_eq!(conn.extension("SIZE").expect("ext"), Some("1000".into()));
    traffic.clear();
    let big = vec![b'x'; 2000];
    let e = expect_code(
        conn.sendmsg("s@client.test", &[&mta.address("alice")], &big),
        ReturnCode::Failure,
        "over SIZE",
    );
    assert!(e.message().contains("SIZE limit of 1000"), "{e}");
    assert!(
        e.reply().is_none(),
        "the daemon decided, no server reply: {e:?}"
    );
    assert_eq!(traffic.sent(), "", "nothing went out: no MAIL, no DATA");
    // Under the limit, it goes, with SIZE declared.
    conn.sendmsg("s@client.test", &[&mta.address("alice")], b"small\r\n")
        .expect("small message");
    assert!(
        traffic
            .sent()
            .starts_with("MAIL FROM:<s@client.test> SIZE=7\r\n"),
        "{}",
        traffic.sent()
    );
    mta.wait_for_delivery("alice", 1, T);
    conn.quit().expect("quit");
}

#[test]
fn smtputf8_addresses_are_accepted_where_offered() {
    let _wd = Watchdog::test("smtputf8_addresses_are_accepted_where_offered");
    let mta = Exim::start().unwrap_or_else(|e| panic!("the Exim fixture did not start: {e}"));
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
    let jose = mta.address("jos\u{e9}");
    let report = conn
        .sendmsg(
            "r\u{e9}mi@client.test",
            &[&jose],
            "Subject: utf8\r\n\r\nol\u{e9}\r\n".as_bytes(),
        )
        .expect("sendmsg to an SMTPUTF8 mailbox");
    assert_eq!(report.verdict.code, 250);
    assert!(traffic.sent().contains(" SMTPUTF8"), "{}", traffic.sent());
    mta.wait_for_delivery("jos\u{e9}", 1, T);
    conn.quit().expect("quit");
}

#[test]
fn smtputf8_addresses_are_refused_cleanly_where_not_offered() {
    let _wd = Watchdog::test("smtputf8_addresses_are_refused_cleanly_where_not_offered");
    let sink = SmtpSink::start();
    let d = TestDaemon::start();
    let traffic = Traffic::new();
    let conn = d
        .client()
        .helo(&sink.host(), LOCAL, Some(traffic.callback()))
        .expect("helo");
    traffic.clear();
    let e = expect_code(
        conn.sendmsg("a@a.test", &["jos\u{e9}@b.test"], b"x\r\n"),
        ReturnCode::Failure,
        "no SMTPUTF8",
    );
    assert!(e.message().contains("SMTPUTF8"), "{e}");
    assert_eq!(traffic.sent(), "", "nothing went out");
    assert_eq!(conn.noop().expect("the connection is fine").code, 250);
    conn.quit().expect("quit");
    assert_eq!(sink.message_count(), 0);
}

#[test]
fn c_abi_smtp_ext_and_the_reason_in_smtp_rply() {
    let _wd = Watchdog::test("c_abi_smtp_ext_and_the_reason_in_smtp_rply");
    ffi_daemon();
    let sink = SmtpSink::start();
    let mut h: SMTP_HANDLE = 0;
    assert_eq!(
        // SAFETY: test call of the C ABI with valid NUL-terminated strings, live buffers and handles (or NULL where the function accepts it).
        unsafe { smtp_helo(c(&sink.host()).as_ptr(), c(LOCAL).as_ptr(), &mut h, None, 0) },
        0
    );
    // SAFETY: test call of the C ABI with valid NUL-terminated strings, live buffers and handles (or NULL where the function accepts it).
    let ext = |keyword: &str, buf: &mut CStrBuf| unsafe {
        smtp_ext(h, c(keyword).as_ptr(), buf.ptr(), buf.len_c())
    };
    let mut buf = CStrBuf::new(64);
    assert_eq!(ext("auth", &mut buf), 0);
    assert_eq!(buf.text(), "PLAIN LOGIN");
    assert_eq!(ext("PIPELINING", &mut buf), 0);
    assert_eq!(buf.text(), "");
    assert_eq!(
        ext("SIZE", &mut buf),
        ReturnCode::Failure.as_i32(),
        "not offered"
    );
    let mut small = CStrBuf::new(4);
    assert_eq!(
        ext("AUTH", &mut small),
        ReturnCode::InsufficientLength.as_i32()
    );
    assert_eq!(small.text(), "PLA");
    assert_eq!(
        // SAFETY: test call of the C ABI with valid NUL-terminated strings, live buffers and handles (or NULL where the function accepts it).
        unsafe { smtp_ext(h, c("AUTH").as_ptr(), std::ptr::null_mut(), 0) },
        0,
        "presence only"
    );
    // A refusal the daemon decided: smtp_rply gives the reason, with code 0.
    let to = c("jos\u{e9}@b.test");
    let rcpts: [*const c_char; 1] = [to.as_ptr()];
    // SAFETY: test call of the C ABI with valid NUL-terminated strings, live buffers and handles (or NULL where the function accepts it).
    let rc = unsafe {
        smtp_sendmsg(
            h,
            c("a@a.test").as_ptr(),
            rcpts.as_ptr(),
            1,
            c"x".as_ptr(),
            1,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, ReturnCode::Failure.as_i32());
    let mut reply = CStrBuf::new(256);
    let mut code = -1;
    assert_eq!(
        // SAFETY: test call of the C ABI with valid NUL-terminated strings, live buffers and handles (or NULL where the function accepts it).
        unsafe { smtp_rply(h, reply.ptr(), reply.len_c(), &mut code) },
        0
    );
    assert_eq!(code, 0);
    assert!(reply.text().contains("SMTPUTF8"), "{}", reply.text());
    assert_eq!(smtp_quit(h), 0);
    // A TLS failure on open: smtp_rply(0, ...) gives the reason.
    let url = c(&format!("smtp://{}?tls=required", sink.host()));
    assert_eq!(
        // SAFETY: test call of the C ABI with valid NUL-terminated strings, live buffers and handles (or NULL where the function accepts it).
        unsafe { smtp_helo(url.as_ptr(), c(LOCAL).as_ptr(), &mut h, None, 0) },
        ReturnCode::TlsFailure.as_i32()
    );
    assert_eq!(
        // SAFETY: test call of the C ABI with valid NUL-terminated strings, live buffers and handles (or NULL where the function accepts it).
        unsafe { smtp_rply(0, reply.ptr(), reply.len_c(), &mut code) },
        0
    );
    assert!(
        code == 0 && reply.text().contains("STARTTLS"),
        "{code} {}",
        reply.text()
    );
}
