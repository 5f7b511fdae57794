//! The daemon state snapshot that `smtp32ctl status` renders.

use serde::{Deserialize, Serialize};

/// A point-in-time view of the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}
