//! The `[queue]` table: where `smtp32-sendmail`'s messages wait for the
//! relay, how often a deferred one is tried again, and when it is bounced.

use super::ConfigError;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// The largest retry interval or age accepted: 30 days, in seconds.
const MAX_SECONDS: u64 = 30 * 86_400;

/// The `[queue]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    /// The queue directory; empty: `queue` under the state directory
    /// (systemd's `$STATE_DIRECTORY`, see [`crate::logging::state_dir`]).
    #[serde(default)]
    pub dir: PathBuf,
    /// Seconds before the first retry of a deferred message.
    pub retry_first: u64,
    /// The longest wait between two tries, in seconds (the wait doubles up to it).
    pub retry_max: u64,
    /// Seconds after which a message still deferred is bounced.
    pub max_age: u64,
}

impl QueueSettings {
    /// The directory in use: `dir`, or `queue` under the state directory;
    /// `None` when neither is known (never a shared folder such as `/tmp`).
    pub fn directory(&self) -> Option<PathBuf> {
        if self.dir.as_os_str().is_empty() {
            crate::logging::state_dir().map(|d| d.join("queue"))
        } else {
            Some(self.dir.clone())
        }
    }

    /// The wait after the `attempts`-th failed try (1 for the first):
    /// `retry_first`, doubled at each try, at most `retry_max`.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        let secs = self
            .retry_first
            .saturating_mul(1u64 << doublings)
            .min(self.retry_max);
        Duration::from_secs(secs)
    }

    /// Range checks, naming the key.
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        super::check("queue.retry_first", self.retry_first, 1, MAX_SECONDS)?;
        super::check(
            "queue.retry_max",
            self.retry_max,
            self.retry_first,
            MAX_SECONDS,
        )?;
        super::check("queue.max_age", self.max_age, 1, MAX_SECONDS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_up_to_its_maximum() {
        let q = QueueSettings {
            dir: PathBuf::new(),
            retry_first: 300,
            retry_max: 3600,
            max_age: 5 * 86_400,
        };
        let waits: Vec<u64> = (1..=6).map(|n| q.backoff(n).as_secs()).collect();
        assert_eq!(waits, [300, 600, 1200, 2400, 3600, 3600]);
        assert_eq!(q.backoff(u32::MAX).as_secs(), 3600);
        assert!(q.directory().is_none_or(|d| d.ends_with("queue")));
    }
}
