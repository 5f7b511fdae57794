//! Totals since start for `smtp32ctl status`: messages accepted, bytes each
//! way, failed requests by return code. Plain atomics, written from session
//! taps and the router, read by the status request; beside them what the
//! metrics observe as it happens (requests by verb and result, latencies).

use crate::observed::Observed;
use smtp32_protocol::{ErrorCount, Failure, ReturnCode};
use std::sync::atomic::{AtomicU64, Ordering};

/// Daemon-wide counters.
#[derive(Debug, Default)]
pub struct Totals {
    messages_accepted: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    /// Indexed by `-code` (0 = success, unused).
    errors: [AtomicU64; ReturnCode::ALL.len()],
    /// Requests by verb and result, request and reply latencies, for the metrics.
    pub observed: Observed,
}

impl Totals {
    /// Counts a message whose final dot the server accepted.
    pub fn message_accepted(&self) {
        self.messages_accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts bytes written to a server.
    pub fn sent(&self, n: usize) {
        self.bytes_sent.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts bytes read from a server.
    pub fn received(&self, n: usize) {
        self.bytes_received.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts a failed request under its return code.
    pub fn failed(&self, failure: &Failure) {
        let index = failure.code().as_i32().unsigned_abs() as usize;
        if let Some(slot) = self.errors.get(index) {
            slot.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Messages accepted since start.
    pub fn messages_accepted(&self) -> u64 {
        self.messages_accepted.load(Ordering::Relaxed)
    }

    /// Bytes written to servers since start.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent.load(Ordering::Relaxed)
    }

    /// Bytes read from servers since start.
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received.load(Ordering::Relaxed)
    }

    /// Failed requests by return code, codes that occurred only, from -1 down.
    pub fn errors(&self) -> Vec<ErrorCount> {
        ReturnCode::ALL
            .iter()
            .zip(&self.errors)
            .filter_map(|(code, n)| {
                let count = n.load(Ordering::Relaxed);
                (count > 0).then_some(ErrorCount {
                    code: code.as_i32(),
                    count,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_counted_by_code() {
        let t = Totals::default();
        t.failed(&Failure::TimedOut(5));
        t.failed(&Failure::TimedOut(5));
        t.failed(&Failure::Aborted);
        let codes: Vec<(i32, u64)> = t.errors().iter().map(|e| (e.code, e.count)).collect();
        assert_eq!(codes, [(-4, 2), (-6, 1)]);
    }
}
