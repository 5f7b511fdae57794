//! The session's side of the traffic hook: copies of SMTP traffic become
//! `Event::Traffic` frames on the owning client's outbound queue while
//! debugging is on for the handle, and every byte is counted and logged in
//! the connection's [`Activity`] for the admin view.
//!
//! Policy for a client that does not read: responses wait in its queue; copies
//! are dropped (counted) when the queue is full, or when they do not fit in
//! the client's byte budget ([`ClientBudget`]). The queue counts frames, and
//! one copy of a DATA chunk can be megabytes: the byte budget is what keeps
//! those copies from piling up.

use crate::activity::Activity;
use crate::budget::ClientBudget;
use crate::smtp::TrafficTap;
use smtp32_protocol::{DaemonFrame, Direction, Event, Handle};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// Sends traffic copies for one handle to its client.
pub struct EventTap {
    handle: Handle,
    enabled: AtomicBool,
    dropped: AtomicU64,
    out: mpsc::Sender<DaemonFrame>,
    activity: Arc<Activity>,
    budget: Arc<ClientBudget>,
}

impl EventTap {
    /// A tap for the connection `activity` records, whose copies start enabled
    /// or not and count against `budget`, the one its client's writer gives back.
    pub fn new(
        enabled: bool,
        out: mpsc::Sender<DaemonFrame>,
        activity: Arc<Activity>,
        budget: Arc<ClientBudget>,
    ) -> EventTap {
        let handle = activity.handle();
        EventTap {
            handle,
            enabled: AtomicBool::new(enabled),
            dropped: AtomicU64::new(0),
            out,
            activity,
            budget,
        }
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
        let frame = DaemonFrame::Event(Event::Traffic {
            handle: self.handle,
            direction,
            bytes,
        });
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
    fn replied_after(&self, waited: std::time::Duration) {
        self.activity.replied_after(waited);
    }

    fn traffic(&self, direction: Direction, bytes: &[u8], at: Instant) {
        self.activity.traffic(direction, bytes, at);
        self.copy(direction, bytes);
    }

    fn line(&self, direction: Direction, line: &[u8], at: Instant) {
        self.activity.line(direction, line, at);
        self.copy(direction, line);
    }
}

impl EventTap {
    /// Sends a copy of `bytes` to the client while debugging is on.
    fn copy(&self, direction: Direction, bytes: &[u8]) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        // Policy (module docs): a client that does not read loses debug copies
        // (counted), never responses.
        if !self.budget.try_charge(bytes.len()) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let frame = DaemonFrame::Event(Event::Traffic {
            handle: self.handle,
            direction,
            bytes: bytes.to_vec(),
        });
        if self.out.try_send(frame).is_err() {
            self.budget.release(bytes.len());
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}
