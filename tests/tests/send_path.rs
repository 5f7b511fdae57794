//! The send path end to end: the real daemon against Postfix `smtp-sink` (replies, many
//! messages on one handle, RSET/NOOP, HELO fallback, refusals) and against the aiosmtpd store
//! server, where the bytes that arrive are compared exactly with the input after its line
//! endings are normalised to CRLF and a final CRLF is added (message::expected_on_arrival).

use smtp32::{DataStep, Direction, ReturnCode};
use smtp32_tests::message::{expected_on_arrival, first_difference, generated_message};
use smtp32_tests::session::{expect_code, send_message, LOCAL};
use smtp32_tests::{Aiosmtpd, SmtpSink, TestDaemon, Watchdog};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

// ---- against smtp-sink -------------------------------------------------------------------

#[test]
fn sink_accepts_a_message_with_250() {
    let _wd = Watchdog::test("sink_accepts_a_message_with_250");
    let sink = SmtpSink::start();
    let d = TestDaemon::start();
    let conn = d.client().helo(&sink.host(), LOCAL, None).expect("helo");
    let reply = send_message(
        &conn,
        "from@a.test",
        &["to@b.test"],
        &[b"Subject: hi\r\n\r\nHello.\r\n"],
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    let last = conn
        .last_reply()
        .expect("last_reply")
        .expect("a reply has arrived");
    assert_eq!(last, reply, "last_reply is the verdict on the message");
    conn.quit().expect("quit");
    assert_eq!(sink.message_count(), 1);
}

#[test]
fn sink_takes_many_messages_on_one_handle_with_rset_and_noop() {
    let _wd = Watchdog::test("sink_takes_many_messages_on_one_handle_with_rset_and_noop");
    let sink = SmtpSink::start();
    let d = TestDaemon::start();
    let conn = d.client().helo(&sink.host(), LOCAL, None).expect("helo");
    for i in 0..30 {
        let body = format!("Subject: message {i}\r\n\r\nbody {i}\r\n");
        let reply = send_message(
            &conn,
            "from@a.test",
            &["to@b.test", "cc@b.test"],
            &[body.as_bytes()],
        );
        assert_eq!(reply.code, 250, "message {i}: {reply:?}");
        assert_eq!(conn.noop().expect("noop").code, 250);
        if i % 3 == 0 {
            // An abandoned transaction: RSET must clear it so the next MAIL is accepted.
            conn.mail("abandoned@a.test").expect("mail");
            assert_eq!(conn.rset().expect("rset").code, 250);
        }
    }
    conn.quit().expect("quit");
    assert_eq!(
        sink.message_count(),
        30,
        "30 messages; the 10 abandoned transactions are not delivered"
    );
}

#[test]
fn helo_falls_back_to_helo_when_ehlo_is_refused() {
    let _wd = Watchdog::test("helo_falls_back_to_helo_when_ehlo_is_refused");
    let sink = SmtpSink::with_flags(&["-e"]);
    let d = TestDaemon::start();
    let traffic = Arc::new(Mutex::new(Vec::<u8>::new()));
    let t = traffic.clone();
    let debug: smtp32::DebugCallback = Arc::new(move |_, dir, bytes| {
        if dir == Direction::ToServer {
            t.lock().unwrap().extend_from_slice(bytes);
        }
    });
    let conn = d
        .client()
        .helo(&sink.host(), LOCAL, Some(debug))
        .expect("helo must fall back to HELO");
    let reply = send_message(&conn, "a@a.test", &["b@b.test"], &[b"x\r\n"]);
    assert_eq!(reply.code, 250);
    conn.quit().expect("quit");
    let sent = String::from_utf8_lossy(&traffic.lock().unwrap()).to_string();
    assert!(
        sent.starts_with(&format!("EHLO {LOCAL}\r\nHELO {LOCAL}\r\n")),
        "commands sent: {sent:?}"
    );
}

#[test]
fn a_refused_message_is_failure_with_the_servers_reply() {
    let _wd = Watchdog::test("a_refused_message_is_failure_with_the_servers_reply");
    let sink = SmtpSink::with_flags(&["-f", "."]);
    let d = TestDaemon::start();
    let conn = d.client().helo(&sink.host(), LOCAL, None).expect("helo");
    conn.mail("a@a.test").expect("mail");
    conn.rcpt("b@b.test").expect("rcpt");
    conn.data_buf(b"refused\r\n").expect("data_buf");
    let e = expect_code(
        conn.data_end(),
        ReturnCode::Failure,
        "data_end against -f .",
    );
    let reply = e.reply().expect("the failure carries the server's reply");
    assert_eq!(reply.code / 100, 5, "{reply:?}");
    assert_eq!(conn.last_reply().unwrap().map(|r| r.code), Some(reply.code));
    // The connection survives a refusal.
    assert_eq!(conn.noop().expect("noop after a refusal").code, 250);
    conn.quit().expect("quit");
}

#[test]
fn the_debug_callback_sees_all_traffic_in_order() {
    let _wd = Watchdog::test("the_debug_callback_sees_all_traffic_in_order");
    let sink = SmtpSink::start();
    let d = TestDaemon::start();
    let log = Arc::new(Mutex::new(Vec::<(Direction, Vec<u8>)>::new()));
    let l = log.clone();
    let debug: smtp32::DebugCallback =
        Arc::new(move |_, dir, bytes| l.lock().unwrap().push((dir, bytes.to_vec())));
    let conn = d
        .client()
        .helo(&sink.host(), LOCAL, Some(debug))
        .expect("helo");
    send_message(&conn, "a@a.test", &["b@b.test"], &[b"line\r\n"]);
    conn.noop().expect("noop");
    let log = log.lock().unwrap().clone();
    let joined = |want: Direction| -> String {
        log.iter()
            .filter(|(d, _)| *d == want)
            .map(|(_, b)| String::from_utf8_lossy(b).to_string())
            .collect()
    };
    let to_server = joined(Direction::ToServer);
    let from_server = joined(Direction::FromServer);
    assert!(
        from_server.starts_with("220 "),
        "first server bytes are the greeting: {from_server:?}"
    );
    let order = [
        "EHLO ",
        "MAIL FROM:<a@a.test>",
        "RCPT TO:<b@b.test>",
        "DATA\r\n",
        "line\r\n.\r\n",
        "NOOP\r\n",
    ];
    let mut at = 0;
    for cmd in order {
        let pos = to_server[at..]
            .find(cmd)
            .unwrap_or_else(|| panic!("{cmd:?} missing or out of order in {to_server:?}"));
        at += pos + cmd.len();
    }
    assert_eq!(
        log.first().map(|(d, _)| *d),
        Some(Direction::FromServer),
        "the greeting comes first"
    );
}

// ---- against aiosmtpd: exact bytes -------------------------------------------------------

/// Sends `chunks` as one message through the daemon to a fresh store server and asserts that
/// exactly one message arrived, with the expected envelope and bytes.
fn round_trip(case: &str, chunks: &[&[u8]]) {
    let _wd = Watchdog::test(case);
    let server = Aiosmtpd::start();
    let d = TestDaemon::start();
    let conn = d.client().helo(&server.host(), LOCAL, None).expect("helo");
    let reply = send_message(
        &conn,
        "sender@a.test",
        &["rcpt1@b.test", "rcpt2@b.test"],
        chunks,
    );
    assert_eq!(reply.code, 250, "{case}: {reply:?}");
    conn.quit().expect("quit");
    let got = server.wait_for_messages(1, T).remove(0);
    assert_eq!(
        server.message_count(),
        1,
        "{case}: exactly one message must arrive"
    );
    assert_eq!(got.from, "sender@a.test");
    assert_eq!(got.to, ["rcpt1@b.test", "rcpt2@b.test"]);
    let want = expected_on_arrival(&chunks.concat());
    assert!(
        got.bytes == want,
        "{case}: {}",
        first_difference(&got.bytes, &want)
    );
}

#[test]
fn lines_starting_with_a_dot_arrive_intact() {
    round_trip(
        "lines_starting_with_a_dot_arrive_intact",
        &[b".at byte zero\r\n..two dots\r\n.\r\nafter a lone dot\r\n...\r\n. space\r\n.\r\n"],
    );
}

#[test]
fn bare_lf_becomes_crlf() {
    round_trip(
        "bare_lf_becomes_crlf",
        &[b"Subject: lf\n\nline one\nline two\n\n"],
    );
}

#[test]
fn bare_cr_becomes_crlf() {
    round_trip(
        "bare_cr_becomes_crlf",
        &[b"Subject: cr\r\rline one\rline two\r\r"],
    );
}

#[test]
fn mixed_line_endings_become_crlf() {
    round_trip(
        "mixed_line_endings_become_crlf",
        &[b"a\r\nb\nc\rd\r\r\ne\n\rf\n\n\r\rg"],
    );
}

#[test]
fn a_lone_dot_after_bare_line_endings_cannot_end_the_message() {
    // SMTP smuggling: "\n.\n", "\r.\r" and mixtures must be stuffed, not end the DATA.
    round_trip(
        "a_lone_dot_after_bare_line_endings_cannot_end_the_message",
        &[b"Subject: smuggle\r\n\r\nbody\n.\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<v@x.test>\r\nDATA\r\nevil\r\n.\r\nx\r.\rafter\r\n.\nlast\n.\r\n"],
    );
}

#[test]
fn crlf_split_across_data_buf_calls_is_one_line_ending() {
    round_trip(
        "crlf_split_across_data_buf_calls_is_one_line_ending",
        &[
            b"first\r",
            b"\nsecond\r",
            b"\n",
            b".dot after a chunk boundary\r\n",
            b"\r",
            b"\n.",
            b"\r",
            b"\n",
            b"x\n",
            b".",
            b".\n",
            b"end",
        ],
    );
}

#[test]
fn a_message_without_a_final_newline_gets_crlf() {
    round_trip(
        "a_message_without_a_final_newline_gets_crlf",
        &[b"Subject: no newline\r\n\r\nno final newline"],
    );
}

#[test]
fn a_message_ending_in_a_bare_cr_gets_one_crlf() {
    round_trip(
        "a_message_ending_in_a_bare_cr_gets_one_crlf",
        &[b"ends in cr\r"],
    );
}

#[test]
fn eight_bit_bytes_arrive_unchanged() {
    let all_high: Vec<u8> = (0x80..=0xFFu8).collect();
    round_trip(
        "eight_bit_bytes_arrive_unchanged",
        &[
            b"Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\ncaf\xc3\xa9 \xe2\x82\xac\r\n",
            &all_high,
            b"\r\n\x7f\x01\x1b\r\n",
        ],
    );
}

#[test]
fn an_empty_message_arrives_empty() {
    round_trip("an_empty_message_arrives_empty", &[]);
}

#[test]
fn an_empty_data_buf_adds_nothing() {
    round_trip("an_empty_data_buf_adds_nothing", &[b"", b"x", b"", b"\n"]);
}

#[test]
fn a_50_mib_message_arrives_byte_exact() {
    let _wd = Watchdog::arm(
        "a_50_mib_message_arrives_byte_exact",
        Duration::from_secs(300),
    );
    let message = generated_message(50 * 1024 * 1024, 50);
    let want = expected_on_arrival(&message);
    let server = Aiosmtpd::start();
    let d = TestDaemon::start();
    let conn = d.client().helo(&server.host(), LOCAL, None).expect("helo");
    let chunks: Vec<&[u8]> = message.chunks(1024 * 1024).collect();
    let reply = send_message(&conn, "big@a.test", &["rcpt@b.test"], &chunks);
    assert_eq!(reply.code, 250, "{reply:?}");
    conn.quit().expect("quit");
    let got = server
        .wait_for_messages(1, Duration::from_secs(60))
        .remove(0);
    assert!(got.bytes == want, "{}", first_difference(&got.bytes, &want));
}

#[test]
fn data_from_pulls_the_message_through_the_callback() {
    let _wd = Watchdog::test("data_from_pulls_the_message_through_the_callback");
    let message = generated_message(3 * 1024 * 1024 + 17, 7);
    let server = Aiosmtpd::start();
    let d = TestDaemon::start();
    let conn = d.client().helo(&server.host(), LOCAL, None).expect("helo");
    conn.mail("pull@a.test").expect("mail");
    conn.rcpt("rcpt@b.test").expect("rcpt");
    // Hand out odd-sized pieces so callback boundaries fall inside CRLFs and before dots.
    let mut offset = 0;
    let mut calls = 0;
    let mut sizes = [777usize, 1, 2, 65_536, 3, 4093].into_iter().cycle();
    let reply = conn
        .data_from(|buf| {
            calls += 1;
            let n = sizes
                .next()
                .unwrap()
                .min(buf.len())
                .min(message.len() - offset);
            if n == 0 {
                return DataStep::End;
            }
            buf[..n].copy_from_slice(&message[offset..offset + n]);
            offset += n;
            DataStep::Bytes(n)
        })
        .expect("data_from");
    assert_eq!(reply.code, 250, "{reply:?}");
    assert_eq!(offset, message.len());
    assert!(calls > 100, "the callback was called {calls} times");
    conn.quit().expect("quit");
    let got = server.wait_for_messages(1, T).remove(0);
    let want = expected_on_arrival(&message);
    assert!(got.bytes == want, "{}", first_difference(&got.bytes, &want));
}

#[test]
fn data_from_abort_resets_the_connection_and_sends_nothing() {
    let _wd = Watchdog::test("data_from_abort_resets_the_connection_and_sends_nothing");
    let server = Aiosmtpd::start();
    let d = TestDaemon::start();
    let client = d.client();
    let conn = client.helo(&server.host(), LOCAL, None).expect("helo");
    conn.mail("abort@a.test").expect("mail");
    conn.rcpt("rcpt@b.test").expect("rcpt");
    let mut calls = 0;
    let r = conn.data_from(|buf| {
        calls += 1;
        if calls < 3 {
            buf[..6].copy_from_slice(b"part\r\n");
            DataStep::Bytes(6)
        } else {
            DataStep::Abort
        }
    });
    expect_code(r, ReturnCode::Aborted, "data_from whose callback aborts");
    expect_code(
        conn.noop(),
        ReturnCode::InvalidHandle,
        "the handle after an aborted data_from",
    );
    // A new connection on the same client still delivers, and the aborted message never arrived.
    let conn2 = client
        .helo(&server.host(), LOCAL, None)
        .expect("helo after abort");
    send_message(&conn2, "ok@a.test", &["rcpt@b.test"], &[b"fine\r\n"]);
    conn2.quit().expect("quit");
    let got = server.wait_for_messages(1, T);
    assert_eq!(got[0].from, "ok@a.test");
    assert_eq!(
        server.message_count(),
        1,
        "the aborted message must not be delivered"
    );
}
