//! The batched send (`Connection::send_many`, `Request::SendBatch`) end to end: each envelope
//! pipelined behind the previous message (smtp-sink), refusals that do not stop the batch (Exim,
//! which refuses unknown recipients), a batch split over several requests with a message too
//! large for any request among them, invalid messages failing alone, and a server without
//! PIPELINING.

use smtp32::{Direction, Outgoing, ReturnCode};
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::peers::exim::Exim;
use smtp32_tests::session::{Traffic, LOCAL};
use smtp32_tests::{SmtpSink, TestDaemon, Watchdog};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);
const FROM: &str = "a@a.test";
const TO: &[&str] = &["b@b.test"];

#[test]
fn each_envelope_goes_out_behind_the_previous_message() {
    let _wd = Watchdog::test("each_envelope_goes_out_behind_the_previous_message");
    let sink = SmtpSink::start();
    let d = TestDaemon::start();
    let traffic = Traffic::new();
    let conn = d
        .client()
        .helo(&sink.host(), LOCAL, Some(traffic.callback()))
        .expect("helo");
    traffic.clear();
    let bodies: Vec<String> = (0..30)
        .map(|i| format!("Subject: {i}\r\n\r\nmessage {i}\r\n"))
        .collect();
    let results = conn
        .send_many(bodies.iter().map(|b| Outgoing {
            from: FROM,
            rcpts: TO,
            data: b.as_bytes(),
        }))
        .expect("send_many");
    assert_eq!(results.len(), 30);
    for r in &results {
        let report = r.as_ref().expect("delivered");
        assert_eq!((report.accepted(), report.verdict.code), (1, 250));
    }
    let writes: Vec<String> = traffic
        .pieces()
        .into_iter()
        .filter(|(d, _)| *d == Direction::ToServer)
        .map(|(_, b)| String::from_utf8_lossy(&b).into_owned())
        .collect();
    let envelope = "MAIL FROM:<a@a.test>\r\nRCPT TO:<b@b.test>\r\nDATA\r\n";
    assert_eq!(writes[0], envelope, "the first envelope alone");
    assert_eq!(
        writes[1],
        format!("{}.\r\n{envelope}", bodies[0]),
        "message 0, its dot and envelope 1 in one write"
    );
    assert_eq!(
        writes.len(),
        31,
        "one write per message after the first envelope: {writes:?}"
    );
    assert_eq!(
        writes[30],
        format!("{}.\r\n", bodies[29]),
        "the last message has nothing behind it"
    );
    assert_eq!(
        conn.last_reply().expect("last_reply").map(|r| r.code),
        Some(250)
    );
    conn.quit().expect("quit");
    assert_eq!(sink.message_count(), 30);
}

#[test]
fn a_refused_message_does_not_stop_the_batch() {
    let _wd = Watchdog::test("a_refused_message_does_not_stop_the_batch");
    let mta = Exim::start().unwrap_or_else(|e| panic!("the Exim fixture did not start: {e}"));
    let d = TestDaemon::start();
    let conn = d
        .client()
        .helo(&mta.smtp_addr().to_string(), LOCAL, None)
        .expect("helo");
    let (alice, nobody, bob) = (
        mta.address("alice"),
        mta.address("nobody"),
        mta.address("bob"),
    );
    let (to_alice, to_nobody, to_bob) = ([alice.as_str()], [nobody.as_str()], [bob.as_str()]);
    let data = b"Subject: batch\r\n\r\nbody\r\n";
    let batch = [
        Outgoing {
            from: "sender@client.test",
            rcpts: &to_alice,
            data,
        },
        Outgoing {
            from: "sender@client.test",
            rcpts: &to_nobody,
            data,
        },
        Outgoing {
            from: "sender@client.test",
            rcpts: &to_bob,
            data,
        },
    ];
    let results = conn.send_many(batch).expect("send_many");
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    let refused = results[1].as_ref().expect_err("nobody is refused");
    assert_eq!(refused.code(), ReturnCode::Failure);
    let report = refused
        .send_report()
        .expect("the refusal carries its report");
    assert_eq!(
        (report.accepted(), report.recipients[0].code),
        (0, 550),
        "{report:?}"
    );
    mta.wait_for_delivery("alice", 1, T);
    mta.wait_for_delivery("bob", 1, T);
    // The connection is in step: a single send works after the batch.
    conn.sendmsg("sender@client.test", &to_alice, data)
        .expect("sendmsg after the batch");
    conn.quit().expect("quit");
}

#[test]
fn a_batch_larger_than_one_request_is_split_and_keeps_its_order() {
    let _wd = Watchdog::test("a_batch_larger_than_one_request_is_split_and_keeps_its_order");
    let sink = SmtpSink::start();
    let d =
        TestDaemon::start_with(DaemonOptions::default().env("SMTP32D_MAX_FRAME_BYTES", "65536"));
    let conn = d.client().helo(&sink.host(), LOCAL, None).expect("helo");
    let small = "line of a four kilobyte message\r\n".repeat(124);
    let huge = "line of a message larger than any request\r\n".repeat(3000);
    let mut datas: Vec<&[u8]> = vec![small.as_bytes(); 40];
    datas.insert(17, huge.as_bytes());
    let results = conn
        .send_many(datas.iter().map(|d| Outgoing {
            from: FROM,
            rcpts: TO,
            data: d,
        }))
        .expect("send_many");
    assert_eq!(results.len(), 41);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    conn.quit().expect("quit");
    assert_eq!(sink.message_count(), 41);
    let mut sizes: Vec<usize> = sink.dumps().iter().map(Vec::len).collect();
    sizes.sort_unstable();
    assert!(
        sizes[40] > 100_000 && sizes[39] < 10_000,
        "one large message among small ones: {sizes:?}"
    );
}

#[test]
fn an_invalid_message_fails_alone() {
    let _wd = Watchdog::test("an_invalid_message_fails_alone");
    let sink = SmtpSink::start();
    let d = TestDaemon::start();
    let conn = d.client().helo(&sink.host(), LOCAL, None).expect("helo");
    let batch = [
        Outgoing {
            from: FROM,
            rcpts: TO,
            data: b"one\r\n",
        },
        Outgoing {
            from: FROM,
            rcpts: &["bad\r\nRCPT TO:<x@y>"],
            data: b"two\r\n",
        },
        Outgoing {
            from: FROM,
            rcpts: &[],
            data: b"three\r\n",
        },
        Outgoing {
            from: FROM,
            rcpts: TO,
            data: b"four\r\n",
        },
    ];
    let results = conn.send_many(batch).expect("send_many");
    let codes: Vec<Option<ReturnCode>> = results
        .iter()
        .map(|r| r.as_ref().err().map(|e| e.code()))
        .collect();
    assert_eq!(
        codes,
        [
            None,
            Some(ReturnCode::InvalidArgument),
            Some(ReturnCode::InvalidArgument),
            None
        ]
    );
    conn.quit().expect("quit");
    assert_eq!(sink.message_count(), 2);
}

#[test]
fn without_pipelining_the_messages_go_one_by_one() {
    let _wd = Watchdog::test("without_pipelining_the_messages_go_one_by_one");
    let sink = SmtpSink::with_flags(&["-p"]);
    let d = TestDaemon::start();
    let conn = d.client().helo(&sink.host(), LOCAL, None).expect("helo");
    let results = conn
        .send_many((0..5).map(|_| Outgoing {
            from: FROM,
            rcpts: TO,
            data: b"x\r\n",
        }))
        .expect("send_many");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    conn.quit().expect("quit");
    assert_eq!(sink.message_count(), 5);
}

/// The timeout bounds each message's exchange, not the batch: smtp-sink -w 1 holds the replies
/// to each pipelined envelope for a second, so the first message takes about 2 s and each
/// later one about 1 s (the last less) — within a 3 s timeout apiece, about 4 s for four
/// together. The same server at
/// a 1 s timeout fails the first message and, the connection being out of step, every later
/// one alike, within the timeout.
#[test]
fn the_timeout_bounds_each_message_not_the_batch() {
    let _wd = Watchdog::test("the_timeout_bounds_each_message_not_the_batch");
    let sink = SmtpSink::with_flags(&["-w", "1"]);
    let d = TestDaemon::start();
    let messages = || {
        (0..4).map(|_| Outgoing {
            from: FROM,
            rcpts: TO,
            data: b"Subject: slow\r\n\r\nbody\r\n",
        })
    };
    let conn = d.client().helo(&sink.host(), LOCAL, None).expect("helo");
    conn.set_timeout(3).expect("OPT_TIMEOUT 3");
    let started = std::time::Instant::now();
    let results = conn.send_many(messages()).expect("send_many");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "the batch outlasted one timeout: {:?}",
        started.elapsed()
    );
    for r in &results {
        assert_eq!(r.as_ref().map(|r| r.verdict.code).ok(), Some(250), "{r:?}");
    }
    conn.quit().expect("quit");

    let conn = d.client().helo(&sink.host(), LOCAL, None).expect("helo");
    conn.set_timeout(1).expect("OPT_TIMEOUT 1");
    let started = std::time::Instant::now();
    let results = conn.send_many(messages()).expect("send_many answers");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(results.len(), 4);
    for r in &results {
        assert!(
            matches!(r, Err(e) if e.code() == ReturnCode::TimedOut),
            "{r:?}"
        );
    }
}
