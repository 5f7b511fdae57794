//! Deadlines on anything that could hang.
//!
//! [`Watchdog`] guards a whole test: if the test is still running when it expires, it prints
//! which test overran, kills the helper processes the test started and aborts the process (a
//! hung thread cannot be unwound from outside). [`with_deadline`] bounds one closure and turns
//! an overrun into an ordinary panic in the calling test.

use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The default deadline for one end-to-end test.
pub const TEST_DEADLINE: Duration = Duration::from_secs(120);

/// Aborts the process if not dropped within its deadline.
#[must_use = "the watchdog is disarmed when dropped"]
pub struct Watchdog {
    disarm: Option<mpsc::Sender<()>>,
}

impl Watchdog {
    /// Arms a watchdog for `what` that fires after `timeout`.
    pub fn arm(what: &str, timeout: Duration) -> Watchdog {
        let (tx, rx) = mpsc::channel::<()>();
        let what = what.to_string();
        std::thread::Builder::new()
            .name(format!("watchdog {what}"))
            .spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(timeout) {
                    eprintln!("WATCHDOG: {what} still running after {timeout:?}; aborting the test process");
                    crate::process::kill_all_recorded();
                    std::process::abort();
                }
            })
            .expect("spawn watchdog thread");
        Watchdog { disarm: Some(tx) }
    }

    /// Arms the default per-test watchdog ([`TEST_DEADLINE`]).
    pub fn test(what: &str) -> Watchdog {
        Watchdog::arm(what, TEST_DEADLINE)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.disarm.take() {
            let _ = tx.send(());
        }
    }
}

/// Runs `f` on its own thread and returns its result, or panics with a message naming `what`
/// if it does not finish within `timeout` (the thread is left behind). A panic inside `f` is
/// re-raised in the caller.
pub fn with_deadline<T: Send + 'static>(
    what: &str,
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    let handle = std::thread::Builder::new()
        .name(format!("deadline {what}"))
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r);
        })
        .expect("spawn deadline thread");
    match rx.recv_timeout(timeout) {
        Ok(Ok(v)) => {
            let _ = handle.join();
            v
        }
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!(
            "{what} did not finish within {timeout:?} (started {:?} ago)",
            started.elapsed()
        ),
    }
}
