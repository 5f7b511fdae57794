//! Polling a condition until a deadline: the only way these tests wait for something.

use std::time::{Duration, Instant};

/// Polls `check` every few milliseconds until it returns `Some`, or panics after `timeout`
/// with a message naming `what` (and the last state reported by `describe`, if any).
pub fn poll_until<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(v) = check() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Like [`poll_until`] for a boolean condition.
pub fn wait_for(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    poll_until(timeout, what, || cond().then_some(()))
}
