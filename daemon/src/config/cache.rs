//! The `[cache]` table: how many warm SMTP sessions the daemon keeps between
//! programs, for how long, and who may share them (see [`crate::cache`]).

use super::{check, ConfigError};
use serde::Deserialize;

/// The longest `cache.idle_seconds` accepted: one hour.
pub const MAX_CACHE_IDLE_SECONDS: u32 = 3600;

/// The `[cache]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    /// Seconds a session ended by `smtp_quit` is kept idle for the next open
    /// with the same key; 0 turns the cache off (0..=3600).
    pub idle_seconds: u32,
    /// Idle sessions kept in all (0..=100000).
    pub max_idle: u32,
    /// Idle sessions kept per destination (host and port, or SOCKS route) (1..=max_idle).
    pub max_idle_per_destination: u32,
    /// Mail transactions one session may carry before it gets QUIT instead
    /// of going back to the cache (1..=1000000).
    pub max_reuse: u32,
    /// Let a session opened by one uid serve another uid's open (off: the
    /// owner's uid is part of the key).
    pub share_across_users: bool,
}

impl CacheSettings {
    /// True when sessions may be kept at all.
    pub fn enabled(&self) -> bool {
        self.idle_seconds > 0 && self.max_idle > 0
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        check(
            "cache.idle_seconds",
            self.idle_seconds.into(),
            0,
            MAX_CACHE_IDLE_SECONDS.into(),
        )?;
        check("cache.max_idle", self.max_idle.into(), 0, 100_000)?;
        let per_destination_max = self.max_idle.max(1).into();
        check(
            "cache.max_idle_per_destination",
            self.max_idle_per_destination.into(),
            1,
            per_destination_max,
        )?;
        check("cache.max_reuse", self.max_reuse.into(), 1, 1_000_000)
    }
}
