//! A program that calls now and then, as most programs that send mail do: a call made after a
//! pause wakes no thread of the client library but the caller's own (the library's reader
//! thread stays asleep), and what can still come between calls does come: an `xhelo` status
//! started after a pause arrives with no call made, as does the news that the daemon died
//! (`isolation.rs::a_daemon_that_dies_makes_later_calls_cannot_initialize`).
//!
//! The pauses are the workload, not synchronisation: longer than the 20 ms after which the
//! reader thread starts watching the stream for a program that makes no call.

use smtp32_tests::session::LOCAL;
use smtp32_tests::{SmtpSink, TestDaemon, Watchdog};
use std::collections::HashMap;
use std::sync::{mpsc, Mutex};
use std::time::Duration;

/// Longer than the client's hand-back to its reader thread (20 ms).
const PAUSE: Duration = Duration::from_millis(40);
const CALLS: u64 = 20;

/// Context switches so far of each of this process's smtp32 reader threads ("smtp32-reader"),
/// by thread id: each is a sleep of the thread and the wake-up that ended it.
fn reader_switches() -> HashMap<String, u64> {
    let mut switches = HashMap::new();
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let dir = task.expect("task").path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim_end() != "smtp32-reader" {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        let n = status
            .lines()
            .filter(|l| l.contains("ctxt_switches:"))
            .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
            .sum::<u64>();
        switches.insert(dir.display().to_string(), n);
    }
    switches
}

/// The tests of this file run one at a time: the count above must not see the reader thread
/// of the other test's client (nor lose one that ends meanwhile).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn a_call_after_a_pause_wakes_no_other_thread_of_the_client() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _wd = Watchdog::test("a_call_after_a_pause_wakes_no_other_thread_of_the_client");
    let sink = SmtpSink::start();
    let d = TestDaemon::start();
    let client = d.client();
    let conn = client.helo(&sink.host(), LOCAL, None).expect("helo");
    std::thread::sleep(PAUSE);
    let before = reader_switches();
    for i in 0..CALLS {
        assert_eq!(conn.noop().expect("noop").code, 250, "noop {i}");
        std::thread::sleep(PAUSE);
    }
    // Per thread, so a reader thread that ends meanwhile cannot make the count go back.
    let woken: u64 = reader_switches()
        .iter()
        .map(|(tid, n)| n.saturating_sub(before.get(tid).copied().unwrap_or(0)))
        .sum();
    // Before: each paced call woke the reader thread twice (the response, then a timer).
    assert!(
        woken < CALLS / 4,
        "{CALLS} paced calls switched the reader thread {woken} times"
    );
    conn.quit().expect("quit");
}

#[test]
fn an_xhelo_started_after_a_pause_gets_its_status_with_no_call_made() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _wd = Watchdog::test("an_xhelo_started_after_a_pause_gets_its_status_with_no_call_made");
    let sink = SmtpSink::start();
    let d = TestDaemon::start();
    let client = d.client();
    let first = client.helo(&sink.host(), LOCAL, None).expect("helo");
    assert_eq!(first.noop().expect("noop").code, 250);
    std::thread::sleep(PAUSE);
    let (tx, rx) = mpsc::channel();
    let pending = client
        .xhelo(
            &sink.host(),
            LOCAL,
            None,
            Box::new(move |_, result| {
                let _ = tx.send(result.map_err(|e| e.code()));
            }),
        )
        .expect("xhelo");
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the status callback ran with no call made"),
        Ok(())
    );
    assert_eq!(pending.noop().expect("noop on the new handle").code, 250);
    pending.quit().expect("quit");
    first.quit().expect("quit");
}
