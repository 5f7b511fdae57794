//! CHUNKING (RFC 3030): when the server offers CHUNKING and PIPELINING, `smtp_sendmsg` sends
//! MAIL, the RCPTs and one `BDAT n LAST` with the message before reading any reply — one round
//! trip — and Exim stores exactly what it stores for the same message sent with DATA.

use smtp32::{Direction, ReturnCode};
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::message::{expected_on_arrival, first_difference, generated_message};
use smtp32_tests::peers::exim::{Exim, EximOptions};
use smtp32_tests::session::{expect_code, Traffic, LOCAL};
use smtp32_tests::{TestDaemon, Watchdog};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn exim(chunking: bool) -> Exim {
    let opts = EximOptions {
        chunking,
        ..EximOptions::default()
    };
    Exim::start_with(opts).unwrap_or_else(|e| panic!("the Exim fixture did not start: {e}"))
}

/// Sends `msg` with sendmsg to alice at `mta` and returns what Exim stored from the message's
/// own first header on, and the traffic copies.
fn send(d: &TestDaemon, mta: &Exim, msg: &[u8]) -> (Vec<u8>, Traffic) {
    let traffic = Traffic::new();
    let client = d.client();
    let host = format!("127.0.0.1:{}", mta.smtp_addr().port());
    let conn = client
        .helo(&host, LOCAL, Some(traffic.callback()))
        .expect("helo");
    let report = conn
        .sendmsg("sender@client.test", &[&mta.address("alice")], msg)
        .expect("sendmsg");
    assert_eq!(report.verdict.code, 250, "{report:?}");
    conn.quit().expect("quit");
    let stored = mta.wait_for_delivery("alice", 1, T).remove(0);
    let start = stored
        .windows(13)
        .position(|w| w == b"Subject: bdat")
        .expect("the message's header");
    (stored[start..].to_vec(), traffic)
}

#[test]
fn a_message_sent_with_bdat_arrives_byte_exact_in_one_round_trip() {
    let _wd = Watchdog::test("a_message_sent_with_bdat_arrives_byte_exact_in_one_round_trip");
    let d =
        TestDaemon::start_with(DaemonOptions::default().env("SMTP32D_CACHE__IDLE_SECONDS", "0"));
    let mut msg = b"Subject: bdat\r\nDate: Fri, 4 Dec 2026 12:00:00 +0000\r\n".to_vec();
    msg.extend_from_slice(b"Message-ID: <bdat@client.test>\r\n\r\n");
    msg.extend_from_slice(&generated_message(40_000, 12));

    let (chunked, traffic) = send(&d, &exim(true), &msg);
    let sent = traffic.sent();
    assert!(
        sent.contains(" LAST\r\n") && sent.contains("\r\nBDAT "),
        "BDAT was used"
    );
    assert!(!sent.contains("\r\nDATA\r\n"), "no DATA with CHUNKING");
    // One round trip: every byte of the transaction went out before the first reply to it.
    let pieces = traffic.pieces();
    let mail_at = pieces
        .iter()
        .position(|(d, b)| *d == Direction::ToServer && b.starts_with(b"MAIL"))
        .expect("MAIL");
    let first_reply = mail_at
        + pieces[mail_at..]
            .iter()
            .position(|(d, _)| *d == Direction::FromServer)
            .expect("a reply");
    let last_write = pieces
        .iter()
        .rposition(|(d, b)| *d == Direction::ToServer && !b.starts_with(b"QUIT"))
        .expect("writes");
    assert!(
        last_write < first_reply,
        "the message went out before any reply: {mail_at} {last_write} {first_reply}"
    );

    let (with_data, traffic) = send(&d, &exim(false), &msg);
    assert!(
        traffic.sent().contains("\r\nDATA\r\n"),
        "the reference used DATA"
    );
    assert!(
        chunked == with_data,
        "BDAT vs DATA at Exim: {}",
        first_difference(&chunked, &with_data)
    );
    // And both are the message as sent (Exim stores lines with LF endings; the message has
    // no CR but those of its line endings once normalised).
    let want: Vec<u8> = expected_on_arrival(&msg)
        .into_iter()
        .filter(|&b| b != b'\r')
        .collect();
    assert!(
        chunked == want,
        "stored vs sent: {}",
        first_difference(&chunked, &want)
    );
}

#[test]
fn with_bdat_no_accepted_recipient_is_failure_and_the_connection_stays_usable() {
    let _wd = Watchdog::test(
        "with_bdat_no_accepted_recipient_is_failure_and_the_connection_stays_usable",
    );
    let mta = exim(true);
    let d =
        TestDaemon::start_with(DaemonOptions::default().env("SMTP32D_CACHE__IDLE_SECONDS", "0"));
    let host = format!("127.0.0.1:{}", mta.smtp_addr().port());
    let conn = d.client().helo(&host, LOCAL, None).expect("helo");
    let rcpts = [mta.address("nobody")];
    let e = conn.sendmsg(
        "sender@client.test",
        &[&rcpts[0]],
        b"Subject: bdat\r\n\r\nlost\r\n",
    );
    let e = expect_code(e, ReturnCode::Failure, "no recipient accepted");
    let report = e.send_report().expect("the error carries the report");
    assert_eq!(report.accepted(), 0, "{report:?}");
    assert_eq!(
        e.reply().map(|r| r.code),
        report.recipients.last().map(|r| r.code)
    );
    // The chunk was refused and the transaction reset: the next message is delivered.
    let ok = conn.sendmsg(
        "sender@client.test",
        &[&mta.address("carol")],
        b"Subject: bdat\r\n\r\nx\r\n",
    );
    assert_eq!(ok.expect("sendmsg after the refusal").verdict.code, 250);
    mta.wait_for_delivery("carol", 1, T);
    assert!(mta.delivered("nobody").is_empty());
    conn.quit().expect("quit");
}
