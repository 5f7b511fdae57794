//! The session's side of the traffic hook: copies of SMTP traffic become
//! `Event::Traffic` frames on the owning client's outbound queue while
//! debugging is on for the handle, and every byte is counted and logged in
//! the connection's [`Activity`] for the admin view.
//!
//! Policy for a client that does not read: responses wait in its queue; copies
//! are dropped (counted) when the queue is full, or when the client already has
//! [`COPY_BUDGET_BYTES`] of copies queued and not yet written ([`CopyBudget`]).
//! The queue counts frames, and one copy of a DATA chunk can be megabytes: the
//! byte budget is what keeps those copies from piling up.

use super::activity::Activity;
use crate::smtp::TrafficTap;
use smtp32_protocol::{DaemonFrame, Direction, Event, Handle};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Bytes of traffic copies one client may have queued and not yet written.
pub const COPY_BUDGET_BYTES: usize = 4 << 20;

/// The bytes of traffic copies a client has queued that its writer has not
/// written yet; shared by the client's taps and its writer.
#[derive(Debug, Default)]
pub struct CopyBudget {
    queued: AtomicUsize,
}

impl CopyBudget {
    /// Reserves room for a copy of `n` bytes: allowed within the budget, and
    /// always when no copy is queued (so a copy larger than the budget can
    /// still pass, one at a time).
    pub fn try_take(&self, n: usize) -> bool {
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| (q == 0 || q + n <= COPY_BUDGET_BYTES).then_some(q + n))
            .is_ok()
    }

    /// Gives back a copy's bytes once it is written (or was not queued after all).
    pub fn release(&self, n: usize) {
        let _ = self.queued.fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| Some(q.saturating_sub(n)));
    }

    /// Bytes of copies queued now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }
}

/// Sends traffic copies for one handle to its client.
pub struct EventTap {
    handle: Handle,
    enabled: AtomicBool,
    dropped: AtomicU64,
    out: mpsc::Sender<DaemonFrame>,
    activity: Arc<Activity>,
    budget: Arc<CopyBudget>,
}

impl EventTap {
    /// A tap for the connection `activity` records, whose copies start enabled or not.
    pub fn new(enabled: bool, out: mpsc::Sender<DaemonFrame>, activity: Arc<Activity>) -> EventTap {
        let budget = Arc::new(CopyBudget::default());
        EventTap { handle: activity.handle(), enabled: AtomicBool::new(enabled), dropped: AtomicU64::new(0), out, activity, budget }
    }

    /// Counts this tap's copies against `budget`, the one its client's writer gives back.
    pub fn with_copy_budget(mut self, budget: Arc<CopyBudget>) -> EventTap {
        self.budget = budget;
        self
    }

    /// Switches the copies on or off; takes effect with the next byte.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Relaxed);
        self.activity.set_debug(enabled);
    }

    /// The connection's live record.
    pub fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }

    /// The client's outbound queue, for events that must not be dropped.
    pub fn outbound(&self) -> &mpsc::Sender<DaemonFrame> {
        &self.out
    }

    /// A line from the daemon itself to the debug callback (not traffic:
    /// it is neither counted nor logged as such), e.g. that the session came
    /// from the connection cache. It reads `[smtp32d] <text>` CRLF.
    pub fn note(&self, text: &str) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        let bytes = format!("[smtp32d] {text}\r\n").into_bytes();
        let direction = Direction::FromServer;
        let frame = DaemonFrame::Event(Event::Traffic { handle: self.handle, direction, bytes });
        if self.out.try_send(frame).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Copies dropped because the client's queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl TrafficTap for EventTap {
    fn traffic(&self, direction: Direction, bytes: &[u8]) {
        self.activity.traffic(direction, bytes);
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        // Policy (module docs): a client that does not read loses debug copies
        // (counted), never responses.
        if !self.budget.try_take(bytes.len()) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let frame = DaemonFrame::Event(Event::Traffic { handle: self.handle, direction, bytes: bytes.to_vec() });
        if self.out.try_send(frame).is_err() {
            self.budget.release(bytes.len());
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_budget_holds_its_bytes_and_lets_one_big_copy_through() {
        let b = CopyBudget::default();
        assert!(b.try_take(COPY_BUDGET_BYTES + 1), "a big copy passes when nothing is queued");
        assert!(!b.try_take(1), "nothing more while it waits");
        b.release(COPY_BUDGET_BYTES + 1);
        assert!(b.try_take(COPY_BUDGET_BYTES / 2) && b.try_take(COPY_BUDGET_BYTES / 2));
        assert!(!b.try_take(1));
        b.release(COPY_BUDGET_BYTES / 2);
        assert!(b.try_take(10));
        assert_eq!(b.queued(), COPY_BUDGET_BYTES / 2 + 10);
    }
}
