//! The stop signal of a session's operation in flight.
//!
//! `XQuit`, `Close`, the timeout and the actor's end stop the operation in
//! flight with a reason ([`Failure::Aborted`], [`Failure::TimedOut`]); the
//! operation awaits [`Stopped`] beside its dialogue. A session has one
//! operation in flight at most and runs on one thread, so one slot per
//! session, reused by every operation, does what a channel per operation did
//! (a `tokio::sync::oneshot` cost an allocation and a dozen atomic operations
//! a request) with two `Cell`s and the operation's waker, cloned only when
//! the operation's task changes. Every connection holds its slot while idle,
//! so it keeps the reason as a two-byte [`Why`], not as a whole [`Failure`].

use smtp32_protocol::Failure;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// Why an operation was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// `XQuit`, `Close`, or the actor's end.
    Aborted,
    /// Its timeout, in seconds, passed.
    TimedOut(u16),
}

impl From<Why> for Failure {
    fn from(why: Why) -> Failure {
        match why {
            Why::Aborted => Failure::Aborted,
            Why::TimedOut(secs) => Failure::TimedOut(secs),
        }
    }
}

/// A session's stop slot.
#[derive(Default)]
pub struct StopSlot(Rc<Shared>);

#[derive(Default)]
struct Shared {
    /// True while an operation awaits its [`Stopped`].
    armed: Cell<bool>,
    /// The reason, once stopped.
    why: Cell<Option<Why>>,
    /// Who to wake when stopped.
    waker: RefCell<Option<Waker>>,
}

impl StopSlot {
    /// Starts an operation: what it awaits, pending until [`StopSlot::stop`].
    pub fn arm(&self) -> Stopped {
        self.0.why.set(None);
        self.0.armed.set(true);
        Stopped(self.0.clone())
    }

    /// The operation in flight ended by itself: a later stop finds nothing.
    pub fn disarm(&self) {
        self.0.armed.set(false);
    }

    /// Stops the operation in flight, if any, with `why`.
    pub fn stop(&self, why: Why) {
        if !self.0.armed.replace(false) {
            return;
        }
        self.0.why.set(Some(why));
        if let Some(waker) = self.0.waker.borrow_mut().take() {
            waker.wake();
        }
    }
}

/// Ready with the reason once the operation is stopped.
pub struct Stopped(Rc<Shared>);

impl Future for Stopped {
    type Output = Failure;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Failure> {
        if let Some(why) = self.0.why.take() {
            return Poll::Ready(why.into());
        }
        let mut waker = self.0.waker.borrow_mut();
        match &mut *waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn poll(stopped: &mut Stopped) -> Poll<Failure> {
        Pin::new(stopped).poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_stop_reaches_the_operation_in_flight_with_its_reason() {
        let slot = StopSlot::default();
        let mut stopped = slot.arm();
        assert!(poll(&mut stopped).is_pending());
        slot.stop(Why::TimedOut(30));
        assert_eq!(poll(&mut stopped), Poll::Ready(Failure::TimedOut(30)));
    }

    #[test]
    fn a_stop_after_the_operation_ended_reaches_no_later_one() {
        let slot = StopSlot::default();
        let _first = slot.arm();
        slot.disarm();
        slot.stop(Why::Aborted);
        let mut next = slot.arm();
        assert!(poll(&mut next).is_pending());
    }

    #[test]
    fn only_the_first_stop_counts() {
        let slot = StopSlot::default();
        let mut stopped = slot.arm();
        slot.stop(Why::TimedOut(5));
        slot.stop(Why::Aborted);
        assert_eq!(poll(&mut stopped), Poll::Ready(Failure::TimedOut(5)));
    }
}
