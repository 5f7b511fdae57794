//! A session's one deadline and the timer under it.
//!
//! An operation in flight must end within its timeout, and an idle
//! connection is closed after `idle_timeout`; the two never hold at once, so
//! a session waits for one [`Due`] at a time. The timer is moved only when a
//! deadline comes before the instant it is set for; when it rings before the
//! deadline (which moved later since) it is set again for the deadline.
//!
//! Why not a fresh timer per operation: tokio wakes its own thread through
//! an eventfd write, and then polls once more, whenever a timer is inserted
//! before its next wake-up, and an operation's timeout is always earlier
//! than the idle close it replaces. Operations that start and end within
//! their timeout now leave the timer alone, about twice a timeout apart at
//! most.
//!
//! The timer itself is an [`Alarm`]: a tokio `Sleep` whose waker tells the
//! session (a message) when it rang, so nothing polls it before. actix polls
//! every item of a context whenever any one of them wakes it, and a timer
//! item (`run_later`) was polled about three times a request for nothing
//! (0.43k instructions).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use tokio::time::{Instant, Sleep};

/// What a session waits for, until its deadline at the latest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// The operation in flight must end; its timeout in seconds.
    Operation(u16),
    /// The idle connection is to be closed.
    IdleClose,
}

/// The deadline and the instant its timer is set for.
#[derive(Debug, Default)]
pub struct Deadline {
    due: Option<(Instant, Due)>,
    timer_at: Option<Instant>,
}

impl Deadline {
    /// Waits for `due` until `at`, in place of anything waited for before.
    /// Returns the instant to set the timer for when it is not set, or set
    /// for later than `at`.
    #[must_use]
    pub fn wait(&mut self, due: Due, at: Instant) -> Option<Instant> {
        self.due = Some((at, due));
        match self.timer_at {
            Some(set) if set <= at => None,
            _ => {
                self.timer_at = Some(at);
                Some(at)
            }
        }
    }

    /// Waits for nothing; the timer, if set, rings to no effect.
    pub fn clear(&mut self) {
        self.due = None;
    }

    /// The timer rang at `now`: what is due (no longer waited for), and the
    /// instant to set the timer for again when the deadline is still ahead.
    pub fn rang(&mut self, now: Instant) -> (Option<Due>, Option<Instant>) {
        self.timer_at = None;
        match self.due {
            Some((at, due)) if at <= now => {
                self.due = None;
                (Some(due), None)
            }
            Some((at, _)) => {
                self.timer_at = Some(at);
                (None, Some(at))
            }
            None => (None, None),
        }
    }
}

/// The timer under a [`Deadline`], set for one instant at a time. When it
/// rings it calls its `ring` (on the runtime's thread, from the timer).
pub struct Alarm {
    /// Made at the first [`set`](Alarm::set).
    sleep: Option<Pin<Box<Sleep>>>,
    /// The waker the timer holds: it calls `ring`.
    bell: Waker,
}

/// `ring`, as a waker.
struct Bell<F>(F);

impl<F: Fn() + Send + Sync + 'static> Wake for Bell<F> {
    fn wake(self: Arc<Self>) {
        (self.0)();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        (self.0)();
    }
}

impl Alarm {
    /// An alarm not set yet, that calls `ring` each time it rings.
    pub fn new(ring: impl Fn() + Send + Sync + 'static) -> Alarm {
        Alarm {
            sleep: None,
            bell: Waker::from(Arc::new(Bell(ring))),
        }
    }

    /// Sets the timer for `at`, in place of where it was set.
    pub fn set(&mut self, at: Instant) {
        let sleep = match &mut self.sleep {
            Some(sleep) => {
                sleep.as_mut().reset(at);
                sleep
            }
            None => self.sleep.insert(Box::pin(tokio::time::sleep_until(at))),
        };
        // The timer holds the bell from now on (one that rang holds nothing);
        // an instant already past rings at once.
        if sleep
            .as_mut()
            .poll(&mut Context::from_waker(&self.bell))
            .is_ready()
        {
            self.bell.wake_by_ref();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// An alarm whose rings are sent to the returned channel.
    fn alarm() -> (Alarm, tokio::sync::mpsc::UnboundedReceiver<()>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (
            Alarm::new(move || {
                let _ = tx.send(());
            }),
            rx,
        )
    }

    /// Waits (5 s at most) for the next ring; true when it came.
    async fn rings(rx: &mut tokio::sync::mpsc::UnboundedReceiver<()>) -> bool {
        matches!(tokio::time::timeout(secs(5), rx.recv()).await, Ok(Some(())))
    }

    #[tokio::test]
    async fn the_alarm_rings_once_for_the_last_instant_it_was_set_for() {
        let (mut alarm, mut rx) = alarm();
        let t0 = Instant::now();
        alarm.set(t0 + Duration::from_millis(20));
        alarm.set(t0 + Duration::from_millis(50));
        assert!(rings(&mut rx).await);
        assert!(Instant::now() >= t0 + Duration::from_millis(50));
        assert!(rx.try_recv().is_err(), "it rings once");
        // Set again after it rang, and set for an instant already past.
        alarm.set(Instant::now() + Duration::from_millis(10));
        assert!(rings(&mut rx).await);
        alarm.set(Instant::now() - secs(1));
        assert!(rings(&mut rx).await);
    }

    #[test]
    fn a_later_deadline_leaves_the_timer_where_it_is() {
        let t0 = Instant::now();
        let mut d = Deadline::default();
        assert_eq!(d.wait(Due::IdleClose, t0 + secs(300)), Some(t0 + secs(300)));
        assert_eq!(
            d.wait(Due::Operation(30), t0 + secs(30)),
            Some(t0 + secs(30))
        );
        // The next operations and idle closes all come after the timer.
        assert_eq!(d.wait(Due::IdleClose, t0 + secs(301)), None);
        assert_eq!(d.wait(Due::Operation(30), t0 + secs(31)), None);
        assert_eq!(d.wait(Due::Operation(30), t0 + secs(32)), None);
    }

    #[test]
    fn a_timer_that_rings_early_is_set_again_for_the_deadline() {
        let t0 = Instant::now();
        let mut d = Deadline::default();
        let _ = d.wait(Due::Operation(30), t0 + secs(30));
        let _ = d.wait(Due::Operation(30), t0 + secs(40));
        assert_eq!(d.rang(t0 + secs(30)), (None, Some(t0 + secs(40))));
        assert_eq!(d.rang(t0 + secs(40)), (Some(Due::Operation(30)), None));
        // Nothing is due twice.
        assert_eq!(d.rang(t0 + secs(41)), (None, None));
    }

    #[test]
    fn a_shorter_timeout_moves_the_timer_earlier() {
        let t0 = Instant::now();
        let mut d = Deadline::default();
        let _ = d.wait(Due::Operation(30), t0 + secs(30));
        assert_eq!(d.wait(Due::Operation(5), t0 + secs(6)), Some(t0 + secs(6)));
        assert_eq!(d.rang(t0 + secs(6)), (Some(Due::Operation(5)), None));
    }

    #[test]
    fn a_cleared_deadline_rings_to_no_effect() {
        let t0 = Instant::now();
        let mut d = Deadline::default();
        let _ = d.wait(Due::Operation(30), t0 + secs(30));
        d.clear();
        assert_eq!(d.rang(t0 + secs(30)), (None, None));
        // Unset now: the next wait sets it.
        assert_eq!(d.wait(Due::IdleClose, t0 + secs(400)), Some(t0 + secs(400)));
    }
}
