//! The daemon state snapshot that `smtp32ctl status` renders.

use crate::admin::{ErrorCount, StateCounts};
use serde::{Deserialize, Serialize};

/// A point-in-time view of the daemon. Fields after `connections_opened`
/// were appended in the admin work (issue 5); new fields only ever go at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// The daemon's package version.
    pub daemon_version: String,
    /// The wire protocol version it speaks.
    pub protocol_version: u32,
    /// The daemon's process id.
    pub pid: u32,
    /// Seconds since the daemon started.
    pub uptime_secs: u64,
    /// IPC clients connected now.
    pub clients: u32,
    /// SMTP connections open now (all clients).
    pub connections: u32,
    /// SMTP connections opened since start.
    pub connections_opened: u64,
    /// The configuration file in use, `None` when only the built-in defaults
    /// (and `SMTP32D_*` variables) apply.
    pub config_file: Option<String>,
    /// SMTP connections open now, by state (all clients).
    pub by_state: StateCounts,
    /// Messages whose final dot a server answered with 2xx, since start.
    pub messages_accepted: u64,
    /// Bytes written to SMTP servers since start.
    pub bytes_sent: u64,
    /// Bytes read from SMTP servers since start.
    pub bytes_received: u64,
    /// Failed requests since start, by return code; codes that never occurred are left out.
    pub errors: Vec<ErrorCount>,
    /// True once SIGTERM or `Request::Shutdown` started the shutdown.
    pub shutting_down: bool,
    /// The connection cache (issue 12).
    pub cache: CacheStatus,
}

/// The connection cache's figures: sessions idle now, and since start the
/// opens that took one (hits) or found none (misses), reused sessions that
/// had to be replaced by a new connection (reconnects), and idle sessions
/// closed (time up, cache full, reuse limit, found closed, `smtp32ctl close`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheStatus {
    /// Idle sessions in the cache now.
    pub idle: u32,
    /// Opens served by an idle session.
    pub hits: u64,
    /// Opens that found none and connected.
    pub misses: u64,
    /// Reused sessions replaced by a new connection before their first command.
    pub reconnects: u64,
    /// Idle sessions closed by the cache.
    pub evictions: u64,
}
