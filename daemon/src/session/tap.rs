//! The session's side of the traffic hook: copies of SMTP traffic become
//! `Event::Traffic` frames on the owning client's outbound queue while
//! debugging is on for the handle, and every byte is counted and logged in
//! the connection's [`Activity`] for the admin view.

use super::activity::Activity;
use crate::smtp::TrafficTap;
use smtp32_protocol::{DaemonFrame, Direction, Event, Handle};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Sends traffic copies for one handle to its client.
pub struct EventTap {
    handle: Handle,
    enabled: AtomicBool,
    dropped: AtomicU64,
    out: mpsc::Sender<DaemonFrame>,
    activity: Arc<Activity>,
}

impl EventTap {
    /// A tap for the connection `activity` records, whose copies start enabled or not.
    pub fn new(enabled: bool, out: mpsc::Sender<DaemonFrame>, activity: Arc<Activity>) -> EventTap {
        EventTap { handle: activity.handle(), enabled: AtomicBool::new(enabled), dropped: AtomicU64::new(0), out, activity }
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
        let frame = DaemonFrame::Event(Event::Traffic { handle: self.handle, direction, bytes: bytes.to_vec() });
        // Policy: the outbound queue is bounded; a client that does not read
        // loses debug copies (counted), never responses.
        if self.out.try_send(frame).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}
