//! One send path for a message of any size: a message larger than one request frame, or read
//! from a reader, goes out behind the same pipelined envelope as a small one — MAIL with
//! `SIZE=` and `BODY=8BITMIME`, the SIZE limit checked before anything is sent — and its
//! content is written as it comes, so the daemon never holds the whole message.

use smtp32::ReturnCode;
use smtp32_tests::memory::peak_rss_kib;
use smtp32_tests::message::{expected_on_arrival, first_difference, generated_message};
use smtp32_tests::peers::exim::{Exim, EximOptions};
use smtp32_tests::recorder::RecordingProxy;
use smtp32_tests::session::{expect_code, Traffic, LOCAL};
use smtp32_tests::{TestDaemon, Watchdog};
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn exim(limit: u64) -> Exim {
    let opts = EximOptions {
        message_size_limit: limit,
        chunking: false,
        ..EximOptions::default()
    };
    Exim::start_with(opts).unwrap_or_else(|e| panic!("the Exim fixture did not start: {e}"))
}

#[test]
fn an_11_mib_message_over_a_10_mib_size_limit_is_refused_before_anything_is_sent() {
    let _wd = Watchdog::test(
        "an_11_mib_message_over_a_10_mib_size_limit_is_refused_before_anything_is_sent",
    );
    let mta = exim(10 * 1024 * 1024);
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
    traffic.clear();
    let big = vec![b'x'; 11 << 20];
    let e = expect_code(
        conn.sendmsg("s@client.test", &[&mta.address("alice")], &big),
        ReturnCode::Failure,
        "over SIZE",
    );
    assert!(e.message().contains("SIZE limit of 10485760"), "{e}");
    // The same for a message read from a reader whose size is given.
    let e = conn.sendmsg_from(
        "s@client.test",
        &[&mta.address("alice")],
        big.as_slice(),
        Some(big.len() as u64),
    );
    let e = expect_code(e, ReturnCode::Failure, "over SIZE, from a reader");
    assert!(e.message().contains("SIZE limit"), "{e}");
    assert_eq!(
        traffic.sent(),
        "",
        "nothing went out: no MAIL, no DATA, no content"
    );
    assert_eq!(conn.noop().expect("the connection is fine").code, 250);
    conn.quit().expect("quit");
}

#[test]
fn a_50_mib_message_arrives_byte_exact_with_size_and_body_8bitmime_and_little_daemon_memory() {
    let _wd = Watchdog::test("a_50_mib_message_arrives_byte_exact_with_size_and_body_8bitmime");
    let mta = exim(64 * 1024 * 1024);
    let wire = RecordingProxy::start(mta.smtp_addr());
    let d = TestDaemon::start();
    let mut msg = b"Subject: fifty\r\n\r\n".to_vec();
    msg.extend_from_slice(&generated_message(50 << 20, 50));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fifty.eml");
    std::fs::write(&path, &msg).expect("write the message");

    let conn = d.client().helo(&wire.host(), LOCAL, None).expect("helo");
    let peak_before = peak_rss_kib(d.pid());
    // From a reader: the file is never held whole by the client either.
    let reader = std::io::BufReader::new(std::fs::File::open(&path).expect("open"));
    let report = conn
        .sendmsg_from(
            "s@client.test",
            &[&mta.address("alice")],
            reader,
            Some(msg.len() as u64),
        )
        .expect("sendmsg of 50 MiB");
    assert_eq!(report.verdict.code, 250, "{report:?}");
    let grew_mib = peak_rss_kib(d.pid()).saturating_sub(peak_before) / 1024;
    println!("50 MiB streamed: the daemon's peak RSS grew by {grew_mib} MiB");
    assert!(
        grew_mib <= 16,
        "the daemon's peak RSS grew by {grew_mib} MiB for a streamed message"
    );
    conn.quit().expect("quit");

    let sent = wire.connection(0).to_server;
    let mail = sent
        .split(|&b| b == b'\n')
        .find(|l| l.starts_with(b"MAIL FROM:"))
        .expect("the MAIL line");
    let want_mail = format!(
        "MAIL FROM:<s@client.test> SIZE={} BODY=8BITMIME\r",
        msg.len()
    );
    assert_eq!(String::from_utf8_lossy(mail), want_mail);
    let stored = mta.wait_for_delivery("alice", 1, T).remove(0);
    let start = stored
        .windows(14)
        .position(|w| w == b"Subject: fifty")
        .expect("the message's header");
    // Exim's maildir keeps lines with LF endings.
    let want: Vec<u8> = expected_on_arrival(&msg)
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect::<Vec<_>>()
        .join(&b'\n');
    let got = &stored[start..];
    assert!(got == want.as_slice(), "{}", first_difference(got, &want));
}
