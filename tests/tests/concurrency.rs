//! Many handles at once: 200 SMTP connections open together from 8 threads, each sending one
//! message and quitting; every message must arrive, and the daemon must free every connection.

use smtp32_tests::session::{send_message, LOCAL};
use smtp32_tests::wait::wait_for;
use smtp32_tests::{Aiosmtpd, SmtpSink, TestDaemon, Watchdog};
use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};
use std::time::Duration;

const THREADS: usize = 8;
const PER_THREAD: usize = 25;
const TOTAL: usize = THREADS * PER_THREAD;

/// Runs 8 threads that each open 25 connections to `host`, wait until all 200 are open (the
/// daemon's status must then count them), then send one message on each and quit. `client_for`
/// gives each thread its daemon client.
fn two_hundred_at_once(d: &TestDaemon, host: &str, client_for: impl Fn(usize) -> smtp32::Client) {
    let all_open = Arc::new(Barrier::new(THREADS + 1));
    let counted = Arc::new(Barrier::new(THREADS + 1));
    let mut threads = Vec::new();
    for t in 0..THREADS {
        let client = client_for(t);
        let (all_open, counted, host) = (all_open.clone(), counted.clone(), host.to_string());
        threads.push(std::thread::spawn(move || {
            let conns: Vec<_> = (0..PER_THREAD)
                .map(|i| {
                    client
                        .helo(&host, LOCAL, None)
                        .unwrap_or_else(|e| panic!("thread {t} helo {i}: {e:?}"))
                })
                .collect();
            all_open.wait();
            counted.wait();
            for (i, conn) in conns.into_iter().enumerate() {
                let body = format!("Subject: t{t} m{i}\r\n\r\nid t{t}-m{i}\r\n");
                let reply = send_message(
                    &conn,
                    &format!("t{t}@a.test"),
                    &["rcpt@b.test"],
                    &[body.as_bytes()],
                );
                assert_eq!(reply.code, 250, "thread {t} message {i}: {reply:?}");
                conn.quit()
                    .unwrap_or_else(|e| panic!("thread {t} quit {i}: {e:?}"));
            }
        }));
    }
    all_open.wait();
    let status = d.client().status().expect("status");
    assert_eq!(
        status.connections as usize, TOTAL,
        "all 200 connections open at once: {status:?}"
    );
    counted.wait();
    for (t, th) in threads.into_iter().enumerate() {
        if let Err(p) = th.join() {
            panic!("thread {t} failed: {:?}", p.downcast_ref::<String>());
        }
    }
    let probe = d.client();
    wait_for(
        Duration::from_secs(10),
        "the daemon to free all 200 connections",
        || probe.status().expect("status").connections == 0,
    );
}

#[test]
fn two_hundred_handles_from_eight_threads_each_with_its_own_client() {
    let _wd = Watchdog::test("two_hundred_handles_from_eight_threads_each_with_its_own_client");
    let server = Aiosmtpd::start();
    let d = TestDaemon::start();
    two_hundred_at_once(&d, &server.host(), |_| d.client());
    let got = server.wait_for_messages(TOTAL, Duration::from_secs(30));
    let ids: BTreeSet<String> = got
        .iter()
        .map(|m| String::from_utf8_lossy(&m.bytes).to_string())
        .collect();
    assert_eq!(ids.len(), TOTAL, "200 distinct messages must arrive");
    for t in 0..THREADS {
        for i in 0..PER_THREAD {
            let want = format!("Subject: t{t} m{i}\r\n\r\nid t{t}-m{i}\r\n");
            assert!(ids.contains(&want), "message t{t} m{i} missing");
        }
    }
    assert_eq!(server.message_count(), TOTAL, "no extra messages");
}

#[test]
fn two_hundred_handles_from_eight_threads_sharing_one_client() {
    let _wd = Watchdog::test("two_hundred_handles_from_eight_threads_sharing_one_client");
    let sink = SmtpSink::start();
    let d = TestDaemon::start();
    let shared = d.client();
    two_hundred_at_once(&d, &sink.host(), |_| shared.clone());
    assert_eq!(sink.message_count(), TOTAL);
}
