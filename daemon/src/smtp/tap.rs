//! The hook through which this layer hands out copies of SMTP traffic.
//!
//! The session implements [`TrafficTap`] to feed the client's debug callback;
//! the SMTP code calls it with every byte it writes or reads, in wire order,
//! and never needs to know whether debugging is on.

use smtp32_protocol::Direction;
use std::time::Instant;

/// Receives a copy of every byte crossing the SMTP connection, in order.
pub trait TrafficTap: Send + Sync {
    /// Called with bytes just about to be written (`ToServer`) or just read
    /// (`FromServer`) `at` that instant (the caller's one clock read for the
    /// write or the reply).
    fn traffic(&self, direction: Direction, bytes: &[u8], at: Instant);

    /// [`traffic`](Self::traffic) for bytes that are one whole line, its LF
    /// included (a reply line, a command line): the caller knows where the
    /// line ends, so the tap need not look.
    fn line(&self, direction: Direction, line: &[u8], at: Instant) {
        self.traffic(direction, line, at);
    }

    /// Called when a reply came, `waited` after the write before it (for the
    /// metrics' reply latency). Ignored unless a tap wants it.
    fn replied_after(&self, _waited: std::time::Duration) {}
}

/// A tap that discards everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTap;

impl TrafficTap for NoTap {
    fn traffic(&self, _direction: Direction, _bytes: &[u8], _at: Instant) {}
}

/// A tap that keeps everything, for tests.
#[cfg(test)]
#[derive(Default)]
pub struct Recorder(std::sync::Mutex<Vec<(Direction, Vec<u8>)>>);

#[cfg(test)]
impl Recorder {
    /// Everything recorded so far, in order; the recorder starts afresh.
    pub fn take(&self) -> Vec<(Direction, Vec<u8>)> {
        self.0
            .lock()
            .map(|mut seen| std::mem::take(&mut *seen))
            .unwrap_or_default()
    }
}

#[cfg(test)]
impl TrafficTap for Recorder {
    fn traffic(&self, direction: Direction, bytes: &[u8], _at: Instant) {
        if let Ok(mut seen) = self.0.lock() {
            seen.push((direction, bytes.to_vec()));
        }
    }
}
