//! The daemon's local socket: which path, safe replacement of a stale socket
//! file, refusal when another daemon is alive on it, and tight permissions —
//! or the socket systemd passed, adopted as it is ([`adopt`]).

use interprocess::local_socket::tokio::Listener;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use interprocess::os::unix::local_socket::ListenerOptionsExt;
use smtp32_protocol::endpoint::{self, SOCKET_ENV};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Default mode of the socket file: owner only. Connecting needs write permission.
pub const SOCKET_MODE: u32 = 0o600;

/// How the socket file is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketPerms {
    /// 0o600 or 0o660 (the `socket_mode` setting); world bits are always cleared.
    pub mode: u32,
    /// Group to give the file (the `socket_group` setting), `None` to keep the daemon's.
    pub gid: Option<u32>,
}

impl Default for SocketPerms {
    fn default() -> Self {
        SocketPerms { mode: SOCKET_MODE, gid: None }
    }
}

/// Why the socket could not be set up.
#[derive(Debug, Error)]
pub enum ListenError {
    /// A daemon already answers on the path.
    #[error("another smtp32d is already listening on {0}")]
    Live(PathBuf),
    /// Something that is not a socket sits at the path; it is left alone.
    #[error("{0} exists and is not a socket; refusing to replace it")]
    NotASocket(PathBuf),
    /// Creating the directory or binding failed.
    #[error("cannot listen on {path}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// The socket path: the `--socket` flag, else `$SMTP32_SOCKET`, else the
/// `socket` setting, else the default rules.
pub fn socket_path(flag: Option<&Path>, setting: Option<&Path>) -> PathBuf {
    let env = std::env::var_os(SOCKET_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
    flag.map(Path::to_path_buf)
        .or(env)
        .or_else(|| setting.map(Path::to_path_buf))
        .unwrap_or_else(endpoint::default_socket_path)
}

/// Binds the listener at `path` with `perms` (mode 0600 by default). A
/// missing parent directory is created with mode 0700 (0750 for a group
/// socket); a stale socket file (nobody answers) is replaced; a live one is
/// refused. Must run inside the tokio runtime.
pub fn bind(path: &Path, perms: SocketPerms) -> Result<Listener, ListenError> {
    let mode = perms.mode & 0o770;
    let io_err = |source| ListenError::Io { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        let dir_mode = if mode & 0o070 != 0 { 0o750 } else { 0o700 };
        std::fs::DirBuilder::new().recursive(true).mode(dir_mode).create(dir).map_err(io_err)?;
        if let Some(gid) = perms.gid {
            chown_group(dir, gid).map_err(io_err)?;
        }
    }
    remove_if_stale(path)?;
    let name = path.to_fs_name::<GenericFilePath>().map_err(io_err)?;
    let listener = ListenerOptions::new()
        .name(name)
        .mode(mode as libc::mode_t)
        .reclaim_name(true)
        .create_tokio()
        .map_err(io_err)?;
    if let Some(gid) = perms.gid {
        chown_group(path, gid).map_err(io_err)?;
    }
    // Belt and braces: the file must never carry more than the configured bits.
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if meta.permissions().mode() & 0o777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io_err)?;
    }
    Ok(listener)
}

/// Takes over a listening socket passed by systemd (`smtp32d.socket`). Its
/// path, mode and group are the unit's business, and its file is left in
/// place when the daemon exits (systemd owns it).
pub fn adopt(fd: OwnedFd) -> io::Result<Listener> {
    use interprocess::os::unix::uds_local_socket::tokio::Listener as UdsListener;
    let uds = UdsListener::try_from(fd)?;
    Ok(Listener::from(uds))
}

fn chown_group(path: &Path, gid: u32) -> io::Result<()> {
    std::os::unix::fs::chown(path, None, Some(gid))
}

fn remove_if_stale(path: &Path) -> Result<(), ListenError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(ListenError::Io { path: path.to_path_buf(), source }),
    };
    if !meta.file_type().is_socket() {
        return Err(ListenError::NotASocket(path.to_path_buf()));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(ListenError::Live(path.to_path_buf())),
        Err(_) => std::fs::remove_file(path).map_err(|source| ListenError::Io { path: path.to_path_buf(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_beats_setting() {
        let p = socket_path(Some(Path::new("/a")), Some(Path::new("/b")));
        assert_eq!(p, PathBuf::from("/a"));
    }

    #[test]
    fn refuses_a_regular_file_and_replaces_a_stale_socket() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        assert!(matches!(remove_if_stale(&file), Err(ListenError::NotASocket(_))));

        let sock = dir.path().join("s");
        drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
        // The listener is closed but its file remains: stale.
        assert!(sock.exists());
        remove_if_stale(&sock).unwrap();
        assert!(!sock.exists());
    }

    #[test]
    fn refuses_a_live_socket() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("s");
        let _live = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert!(matches!(remove_if_stale(&sock), Err(ListenError::Live(_))));
    }
}
