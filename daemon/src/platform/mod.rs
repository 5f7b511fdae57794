//! What differs between Unix and Windows in the facts the daemon reads, behind
//! one set of names: who a client is ([`UserId`], [`Peer`], [`peer_of`],
//! [`is_owner`]), whether it hung up ([`peer_hung_up`]), readiness
//! ([`notify`]) and the host name ([`machine_hostname`]). How the daemon is
//! reached and stopped on each is [`crate::serving`]'s.
//!
//! The rest of the daemon is the same on both; this module imports none of it
//! but the systemd notifier.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

use smtp32_protocol::endpoint::{self, SOCKET_ENV};
use std::path::{Path, PathBuf};

/// The credentials of one IPC client, as the kernel reported them at connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Peer {
    /// Process id, if the platform told.
    pub pid: Option<u32>,
    /// Effective user id (a SID on Windows), if the platform told.
    pub uid: Option<UserId>,
    /// Effective group id, if the platform told.
    pub gid: Option<u32>,
}

/// The socket path: the `--socket` flag, else `$SMTP32_SOCKET`, else the
/// `socket` setting, else the default rules (on Windows `\\.\pipe\smtp32d`).
pub fn socket_path(flag: Option<&Path>, setting: Option<&Path>) -> PathBuf {
    let env = std::env::var_os(SOCKET_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    flag.map(Path::to_path_buf)
        .or(env)
        .or_else(|| setting.map(Path::to_path_buf))
        .unwrap_or_else(endpoint::default_socket_path)
}
