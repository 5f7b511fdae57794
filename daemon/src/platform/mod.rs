//! What differs between Unix and Windows, behind one set of names: who a
//! client is ([`UserId`], [`peer_of`], [`is_owner`]), whether it hung up
//! ([`peer_hung_up`]), where its task runs ([`hand_off`]), the listening
//! endpoint ([`listen`]: a Unix socket, possibly passed by systemd, or a named
//! pipe), the signals that stop the daemon ([`stop_on_signal`]), readiness
//! ([`notify`]) and the host name ([`machine_hostname`]).
//!
//! The rest of the daemon is the same on both.

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
