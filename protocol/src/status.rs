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
}
