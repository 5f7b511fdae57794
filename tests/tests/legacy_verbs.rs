//! The verbs beyond the send path, through the real daemon: VRFY, EXPN and HELP against a full
//! MTA (the Exim fixture: alias `team` → alice, bob, carol), the obsolete SEND/SOML/SAML/TURN
//! against Exim and `smtp-sink` (sent exactly as RFC 821 spells them, the refusal reported as
//! `SMTP_FAILURE` with the server's reply), and `smtp_direct` with its buffer rules.
//!
//! The line callback of `smtp_expn`/`smtp_help` and the buffer of `smtp_direct` exist only in
//! the C ABI, so those tests call `smtp32::ffi` (one shared daemon per test binary, see
//! `smtp32_tests::ffi`); the rest use the Rust API. Wire lines are checked in the debug traffic
//! copies, which arrive before the call that caused them returns.

use smtp32::ffi::{
    smtp_direct, smtp_expn, smtp_helo, smtp_help, smtp_noop, smtp_opts, smtp_quit, smtp_rply,
    smtp_vrfy, SMTP_HANDLE,
};
use smtp32::{Connection, ReturnCode};
use smtp32_tests::ffi::{c, ffi_daemon, CStrBuf};
use smtp32_tests::peers::exim::{Exim, ALIAS, ALIAS_MEMBERS, DOMAIN};
use smtp32_tests::session::{expect_code, Traffic, LOCAL};
use smtp32_tests::{SmtpSink, TestDaemon, Watchdog};
use std::os::raw::{c_char, c_int};
use std::sync::Mutex;

const SUCCESS: c_int = 0;
const FAILURE: c_int = ReturnCode::Failure as c_int;

fn exim() -> Exim {
    Exim::start().unwrap_or_else(|e| panic!("the Exim fixture did not start: {e}"))
}

/// `VRFY`/`SEND`... on `conn` must be refused: `SMTP_FAILURE` carrying a reply of class
/// `class`, which `last_reply` then returns too; returns the reply's code.
#[track_caller]
fn expect_refusal(
    conn: &Connection,
    result: smtp32::Result<smtp32::Reply>,
    class: u16,
    what: &str,
) -> u16 {
    let e = expect_code(result, ReturnCode::Failure, what);
    let reply = e
        .reply()
        .unwrap_or_else(|| panic!("{what}: the failure carries no reply: {e:?}"))
        .clone();
    assert_eq!(reply.code / 100, class, "{what}: {reply:?}");
    let last = conn
        .last_reply()
        .expect("last_reply")
        .expect("a reply is recorded");
    assert_eq!(last, reply, "{what}: last_reply is the refusal");
    reply.code
}

// ---- VRFY --------------------------------------------------------------------------------

#[test]
fn vrfy_of_a_full_address_succeeds_and_an_unknown_one_is_failure_with_the_reply() {
    let _wd = Watchdog::test(
        "vrfy_of_a_full_address_succeeds_and_an_unknown_one_is_failure_with_the_reply",
    );
    let mta = exim();
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

    let alice = mta.address("alice");
    let reply = conn.vrfy(&alice).expect("VRFY alice");
    assert!(reply.code == 250 || reply.code == 252, "{reply:?}");
    assert_eq!(conn.last_reply().unwrap(), Some(reply.clone()));
    assert!(
        traffic.sent().ends_with(&format!("VRFY {alice}\r\n")),
        "{:?}",
        traffic.sent()
    );

    let code = expect_refusal(&conn, conn.vrfy(&mta.address("nobody")), 5, "VRFY nobody");
    assert_eq!(code, 550);
    // A refusal leaves the connection usable.
    assert_eq!(conn.noop().expect("NOOP after the refusal").code, 250);
    conn.quit().expect("quit");
}

// ---- EXPN and HELP with the Rust API -------------------------------------------------------

#[test]
fn expn_of_the_alias_lists_its_three_members() {
    let _wd = Watchdog::test("expn_of_the_alias_lists_its_three_members");
    let mta = exim();
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
    let reply = conn.expn(&format!("{ALIAS}@{DOMAIN}")).expect("EXPN team");
    let want: Vec<String> = ALIAS_MEMBERS
        .iter()
        .map(|m| format!("<{m}@{DOMAIN}>"))
        .collect();
    assert_eq!(reply.code, 250);
    assert_eq!(reply.lines, want);
    assert!(
        traffic
            .sent()
            .ends_with(&format!("EXPN {ALIAS}@{DOMAIN}\r\n")),
        "{:?}",
        traffic.sent()
    );
    expect_refusal(
        &conn,
        conn.expn(&mta.address("nobody")),
        5,
        "EXPN of an unknown name",
    );
    conn.quit().expect("quit");
}

#[test]
fn help_without_a_topic_lists_commands_and_with_one_sends_it() {
    let _wd = Watchdog::test("help_without_a_topic_lists_commands_and_with_one_sends_it");
    let mta = exim();
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
    for topic in [None, Some("")] {
        traffic.clear();
        let reply = conn.help(topic).expect("HELP");
        assert_eq!(reply.code, 214, "{reply:?}");
        assert!(
            reply.lines.iter().any(|l| l.contains("EXPN")),
            "the list names EXPN: {reply:?}"
        );
        assert_eq!(
            traffic.sent(),
            "HELP\r\n",
            "topic {topic:?} sends a bare HELP"
        );
    }
    traffic.clear();
    let reply = conn.help(Some("MAIL")).expect("HELP MAIL");
    assert_eq!(reply.code, 214, "{reply:?}");
    assert_eq!(traffic.sent(), "HELP MAIL\r\n");
    expect_code(
        conn.help(Some("MAIL\r\nRSET")),
        ReturnCode::InvalidArgument,
        "HELP with CRLF in the topic",
    );
    conn.quit().expect("quit");
}

// ---- SEND / SOML / SAML / TURN -------------------------------------------------------------

/// Each obsolete verb goes out exactly as RFC 821 spells it and comes back `SMTP_FAILURE` with
/// the server's `500`; the connection still works afterwards.
fn obsolete_verbs_are_sent_faithfully_and_refused(host: &str) {
    let d = TestDaemon::start();
    let traffic = Traffic::new();
    let conn = d
        .client()
        .helo(host, LOCAL, Some(traffic.callback()))
        .expect("helo");
    let from = "old@client.test";
    type Call<'a> = Box<dyn Fn() -> smtp32::Result<smtp32::Reply> + 'a>;
    let cases: [(&str, Call); 4] = [
        (
            "SEND FROM:<old@client.test>",
            Box::new(|| conn.send_from(from)),
        ),
        ("SOML FROM:<old@client.test>", Box::new(|| conn.soml(from))),
        ("SAML FROM:<old@client.test>", Box::new(|| conn.saml(from))),
        ("TURN", Box::new(|| conn.turn())),
    ];
    for (line, call) in cases {
        traffic.clear();
        let code = expect_refusal(&conn, call(), 5, line);
        assert_eq!(code, 500, "{line}");
        assert_eq!(traffic.sent(), format!("{line}\r\n"), "the exact wire line");
        let answer =
            String::from_utf8_lossy(&traffic.bytes(smtp32::Direction::FromServer)).into_owned();
        assert!(
            answer.starts_with("500"),
            "the traffic copy has the refusal: {answer:?}"
        );
    }
    assert_eq!(conn.noop().expect("NOOP after the refusals").code, 250);
    conn.quit().expect("quit");
}

#[test]
fn obsolete_verbs_against_exim() {
    let _wd = Watchdog::test("obsolete_verbs_against_exim");
    let mta = exim();
    obsolete_verbs_are_sent_faithfully_and_refused(&mta.smtp_addr().to_string());
}

#[test]
fn obsolete_verbs_against_smtp_sink() {
    let _wd = Watchdog::test("obsolete_verbs_against_smtp_sink");
    let sink = SmtpSink::start();
    obsolete_verbs_are_sent_faithfully_and_refused(&sink.host());
}

// ---- every command: a 4xx/5xx reply is SMTP_FAILURE with the reply ---------------------------

#[test]
fn a_4xx_or_5xx_reply_to_any_command_is_failure_with_that_reply() {
    let _wd = Watchdog::test("a_4xx_or_5xx_reply_to_any_command_is_failure_with_that_reply");
    // Soft (450) refusals for some commands, hard (550) for others; smtp-sink answers EXPN,
    // HELP and unknown commands with 500 by itself.
    let sink = SmtpSink::with_flags(&["-r", "NOOP,VRFY,RCPT", "-f", "RSET,MAIL"]);
    let d = TestDaemon::start();
    let conn = d.client().helo(&sink.host(), LOCAL, None).expect("helo");
    expect_refusal(&conn, conn.noop(), 4, "NOOP");
    expect_refusal(&conn, conn.vrfy("a@b.test"), 4, "VRFY");
    expect_refusal(&conn, conn.rset(), 5, "RSET");
    expect_refusal(&conn, conn.mail("a@b.test"), 5, "MAIL");
    expect_refusal(&conn, conn.expn("team"), 5, "EXPN");
    expect_refusal(&conn, conn.help(None), 5, "HELP");
    expect_refusal(&conn, conn.direct("ETRN example.test"), 5, "direct ETRN");
    conn.quit().expect("quit");

    // RCPT needs an accepted MAIL first.
    let sink = SmtpSink::with_flags(&["-r", "RCPT"]);
    let conn = d.client().helo(&sink.host(), LOCAL, None).expect("helo");
    conn.mail("a@b.test").expect("MAIL");
    expect_refusal(&conn, conn.rcpt("c@d.test"), 4, "RCPT");
    conn.quit().expect("quit");
}

// ---- the C ABI: line callbacks and smtp_direct ----------------------------------------------

/// What the line callback saw, per handle: (handle, text, len, lParam).
static LINES: Mutex<Vec<(SMTP_HANDLE, String, c_int, usize)>> = Mutex::new(Vec::new());

extern "C" fn record_line(h: SMTP_HANDLE, line: *const c_char, len: c_int, lparam: usize) -> c_int {
    // SAFETY: the library passes a NUL-terminated line of `len` bytes.
    let text = unsafe { std::ffi::CStr::from_ptr(line) }
        .to_string_lossy()
        .into_owned();
    LINES.lock().unwrap().push((h, text, len, lparam));
    0
}

extern "C" fn abort_at_second_line(
    h: SMTP_HANDLE,
    line: *const c_char,
    len: c_int,
    lparam: usize,
) -> c_int {
    record_line(h, line, len, lparam);
    let seen = LINES
        .lock()
        .unwrap()
        .iter()
        .filter(|(x, ..)| *x == h)
        .count();
    if seen >= 2 {
        -1
    } else {
        0
    }
}

fn lines_of(h: SMTP_HANDLE) -> Vec<(String, c_int, usize)> {
    LINES
        .lock()
        .unwrap()
        .iter()
        .filter(|(x, ..)| *x == h)
        .map(|(_, t, l, p)| (t.clone(), *l, *p))
        .collect()
}

fn ffi_helo(host: &str, lparam: usize) -> SMTP_HANDLE {
    ffi_daemon();
    let mut h: SMTP_HANDLE = 0;
    // SAFETY: valid C strings and a handle slot.
    let rc = unsafe { smtp_helo(c(host).as_ptr(), c(LOCAL).as_ptr(), &mut h, None, lparam) };
    assert_eq!(rc, SUCCESS, "smtp_helo to {host}");
    assert_ne!(h, 0);
    h
}

/// `smtp_rply` of `h`: (return code, reply code, text).
fn rply(h: SMTP_HANDLE) -> (c_int, c_int, String) {
    let mut buf = CStrBuf::new(4096);
    let mut code = 0;
    // SAFETY: a 4096-byte buffer and an int.
    let rc = unsafe { smtp_rply(h, buf.ptr(), buf.len_c(), &mut code) };
    (rc, code, buf.text())
}

#[test]
fn c_expn_calls_the_line_proc_once_per_member_and_minus_one_aborts() {
    let _wd = Watchdog::test("c_expn_calls_the_line_proc_once_per_member_and_minus_one_aborts");
    let mta = exim();
    let host = mta.smtp_addr().to_string();
    let team = c(&format!("{ALIAS}@{DOMAIN}"));

    let h = ffi_helo(&host, 31);
    // SAFETY: a valid handle-independent C string and a callback of the right type.
    assert_eq!(
        // SAFETY: test call of the C ABI with valid NUL-terminated strings, live buffers and handles (or NULL where the function accepts it).
        unsafe { smtp_expn(h, team.as_ptr(), Some(record_line)) },
        SUCCESS
    );
    let want: Vec<(String, c_int, usize)> = ALIAS_MEMBERS
        .iter()
        .map(|m| {
            let t = format!("<{m}@{DOMAIN}>");
            let len = t.len() as c_int;
            (t, len, 31)
        })
        .collect();
    assert_eq!(
        lines_of(h),
        want,
        "one call per line: text without code and separator, its length, lParam"
    );
    let (rc, code, text) = rply(h);
    assert_eq!((rc, code), (SUCCESS, 250));
    assert!(
        text.starts_with("250-<alice@") && text.ends_with(&format!("250 <carol@{DOMAIN}>")),
        "{text:?}"
    );

    // A refused EXPN is SMTP_FAILURE and the proc is not called.
    let before = lines_of(h).len();
    let nobody = c(&mta.address("nobody"));
    // SAFETY: as above.
    assert_eq!(
        // SAFETY: test call of the C ABI with valid NUL-terminated strings, live buffers and handles (or NULL where the function accepts it).
        unsafe { smtp_expn(h, nobody.as_ptr(), Some(record_line)) },
        FAILURE
    );
    assert_eq!(lines_of(h).len(), before, "no line callback for a refusal");
    assert_eq!(rply(h).1 / 100, 5, "smtp_rply has the refusal");

    // NULL proc: allowed, the reply is still there.
    // SAFETY: as above.
    assert_eq!(unsafe { smtp_expn(h, team.as_ptr(), None) }, SUCCESS);
    assert_eq!(rply(h).1, 250);

    // -1 from the proc at the second line: SMTP_ABORTED, no third call, the handle is gone.
    let h2 = ffi_helo(&host, 32);
    // SAFETY: as above.
    assert_eq!(
        // SAFETY: test call of the C ABI with valid NUL-terminated strings, live buffers and handles (or NULL where the function accepts it).
        unsafe { smtp_expn(h2, team.as_ptr(), Some(abort_at_second_line)) },
        ReturnCode::Aborted as c_int
    );
    assert_eq!(
        lines_of(h2).len(),
        2,
        "the listing stops at the -1: {:?}",
        lines_of(h2)
    );
    let invalid = ReturnCode::InvalidHandle as c_int;
    assert_eq!(
        smtp_noop(h2),
        invalid,
        "the handle is invalid after the abort"
    );
    assert_eq!(smtp_quit(h2), invalid, "not even smtp_quit may be called");
    // SAFETY: as above.
    assert_eq!(unsafe { smtp_vrfy(h2, team.as_ptr()) }, invalid);

    // The first handle is unaffected.
    assert_eq!(smtp_noop(h), SUCCESS);
    assert_eq!(smtp_quit(h), SUCCESS);
}

#[test]
fn c_help_calls_the_line_proc_per_line_for_null_empty_and_a_topic() {
    let _wd = Watchdog::test("c_help_calls_the_line_proc_per_line_for_null_empty_and_a_topic");
    let mta = exim();
    let h = ffi_helo(&mta.smtp_addr().to_string(), 41);
    let empty = c("");
    let mail = c("MAIL");
    let mut counts = Vec::new();
    for (what, topic) in [
        ("NULL", std::ptr::null()),
        ("\"\"", empty.as_ptr()),
        ("MAIL", mail.as_ptr()),
    ] {
        let before = lines_of(h).len();
        // SAFETY: NULL or a valid C string, and a callback of the right type.
        assert_eq!(
            // SAFETY: test call of the C ABI with valid NUL-terminated strings, live buffers and handles (or NULL where the function accepts it).
            unsafe { smtp_help(h, topic, Some(record_line)) },
            SUCCESS,
            "smtp_help({what})"
        );
        let got = lines_of(h)[before..].to_vec();
        let (rc, code, text) = rply(h);
        assert_eq!((rc, code), (SUCCESS, 214), "smtp_help({what})");
        // One call per reply line, each the line's text without "214-"/"214 ".
        let want: Vec<String> = text.split("\r\n").map(|l| l[4..].to_string()).collect();
        assert_eq!(
            got.iter().map(|(t, ..)| t.clone()).collect::<Vec<_>>(),
            want,
            "smtp_help({what})"
        );
        assert!(
            got.iter()
                .all(|(t, len, p)| *len as usize == t.len() && *p == 41),
            "{got:?}"
        );
        counts.push(got.len());
    }
    assert!(
        counts[0] >= 2,
        "the command list has several lines: {counts:?}"
    );
    assert!(
        lines_of(h).iter().any(|(t, ..)| t.contains("EXPN")),
        "the list names EXPN"
    );
    assert_eq!(smtp_quit(h), SUCCESS);
}

/// `smtp_direct(h, line)` with a buffer of `size` bytes: (return code, *len after, text).
fn direct(h: SMTP_HANDLE, line: &str, size: usize) -> (c_int, c_int, String) {
    let mut buf = CStrBuf::new(size);
    let mut len = buf.len_c();
    let line = c(line);
    // SAFETY: a C string, a buffer of `len` bytes and the int holding its size.
    let rc = unsafe { smtp_direct(h, line.as_ptr(), buf.ptr(), &mut len) };
    (rc, len, buf.text())
}

extern "C" fn collect_traffic(
    _: SMTP_HANDLE,
    buf: *const c_char,
    len: c_int,
    lparam: usize,
) -> c_int {
    // SAFETY: lparam is the address of a Mutex<Vec<u8>> that outlives the handle (see below);
    // buf holds len bytes.
    let (sink, bytes) = unsafe {
        (
            &*(lparam as *const Mutex<Vec<u8>>),
            std::slice::from_raw_parts(buf.cast::<u8>(), len as usize),
        )
    };
    sink.lock().unwrap().extend_from_slice(bytes);
    0
}

#[test]
fn c_direct_fits_truncates_refuses_crlf_and_quit() {
    let _wd = Watchdog::test("c_direct_fits_truncates_refuses_crlf_and_quit");
    let mta = exim();
    // The traffic record lives in a static so that the pointer passed as lParam stays valid.
    static WIRE: Mutex<Vec<u8>> = Mutex::new(Vec::new());
    let h = ffi_helo(&mta.smtp_addr().to_string(), &WIRE as *const _ as usize);
    // SAFETY: a debug proc of the right type.
    assert_eq!(
        // SAFETY: test call of the C ABI with valid NUL-terminated strings, live buffers and handles (or NULL where the function accepts it).
        unsafe {
            smtp_opts(
                h,
                smtp32::ffi::OPT_DEBUG,
                collect_traffic as *const () as usize,
            )
        },
        SUCCESS
    );
    let wire = || String::from_utf8_lossy(&WIRE.lock().unwrap()).into_owned();

    // A reply that fits: the whole text, *len untouched.
    let (rc, len, full) = direct(h, "HELP", 4096);
    assert_eq!(rc, SUCCESS, "{full}");
    assert_eq!(len, 4096, "*len is left alone when the reply fits");
    assert!(
        full.starts_with("214-") && full.contains("\r\n214 "),
        "the whole multi-line reply: {full:?}"
    );
    assert!(
        wire().contains("\r\nHELP\r\n") || wire().starts_with("HELP\r\n"),
        "{:?}",
        wire()
    );
    assert_eq!(rply(h), (SUCCESS, 214, full.clone()), "smtp_rply agrees");

    // Exactly the size needed fits; one byte less does not.
    let needed = full.len() + 1;
    let (rc, len, text) = direct(h, "HELP", needed);
    assert_eq!(
        (rc, len, text.as_str()),
        (SUCCESS, needed as c_int, full.as_str())
    );
    for size in [needed - 1, 16, 1] {
        let (rc, len, text) = direct(h, "HELP", size);
        assert_eq!(
            rc,
            ReturnCode::InsufficientLength as c_int,
            "buffer of {size}"
        );
        assert_eq!(
            len, needed as c_int,
            "*len says the size needed (with the NUL), buffer of {size}"
        );
        assert_eq!(
            text,
            full[..size - 1],
            "truncated and NUL-terminated, buffer of {size}"
        );
    }

    // A refusal is SMTP_FAILURE with the reply in the buffer and in smtp_rply.
    let (rc, _, text) = direct(h, "FROB the server", 4096);
    assert_eq!(rc, FAILURE, "{text}");
    assert!(text.starts_with("500"), "{text:?}");
    assert_eq!(rply(h).1, 500);

    // What may not be sent is refused before the wire.
    WIRE.lock().unwrap().clear();
    let invalid = ReturnCode::InvalidArgument as c_int;
    for bad in [
        "NOOP\r\nRSET",
        "NOOP\nRSET",
        "NOOP\r",
        "QUIT",
        "quit",
        "  QUIT  ",
        "",
    ] {
        assert_eq!(direct(h, bad, 256).0, invalid, "smtp_direct({bad:?})");
    }
    assert_eq!(
        wire(),
        "",
        "nothing of the refused lines reached the server"
    );
    assert_eq!(
        smtp_noop(h),
        SUCCESS,
        "the connection is still open after the refused QUIT"
    );
    assert_eq!(smtp_quit(h), SUCCESS);
}
