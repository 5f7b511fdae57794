//! The daemon's local socket: which path, a folder that is the daemon's alone,
//! safe replacement of its own stale socket file, refusal when another daemon
//! is alive on it, and tight permissions — or the socket systemd passed,
//! adopted as it is ([`adopt`]).

use interprocess::local_socket::tokio::Listener;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use interprocess::os::unix::local_socket::ListenerOptionsExt;
use smtp32_protocol::endpoint::trust::{self, TrustError, Uids};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
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
        SocketPerms {
            mode: SOCKET_MODE,
            gid: None,
        }
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
    /// A socket nobody answers on, but it is not the daemon's own: left alone.
    #[error("{path} is a stale socket owned by uid {owner}, not by this daemon's user; remove it by hand")]
    ForeignStale {
        /// The socket path.
        path: PathBuf,
        /// The file's owner.
        owner: u32,
    },
    /// The existing socket could not be probed for a live daemon (e.g. no permission).
    #[error("{path} exists and cannot be probed ({source}); refusing to replace it")]
    Unprobed {
        /// The socket path.
        path: PathBuf,
        /// Why connecting failed.
        source: io::Error,
    },
    /// The folder is not the daemon's alone: someone else could plant or swap files in it.
    #[error("cannot listen on {path}: {source}")]
    Untrusted {
        /// The socket path.
        path: PathBuf,
        /// What is wrong with its folder.
        source: TrustError,
    },
    /// Creating the directory or binding failed.
    #[error("cannot listen on {path}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

pub use crate::platform::socket_path;

/// Binds the listener at `path` with `perms` (mode 0600 by default), in a
/// folder that is the daemon's alone. A missing folder is created with mode
/// 0700 (0750 for a group socket) and then examined like an existing one: a
/// real folder (not a link), owned by the daemon's user, that neither its
/// group nor others may write; anything else is refused. A stale socket file
/// (connecting is refused) of the daemon's own user is replaced; a live one,
/// or anyone else's, is left alone. Must run inside the tokio runtime.
pub fn bind(path: &Path, perms: SocketPerms) -> Result<Listener, ListenError> {
    let mode = perms.mode & 0o770;
    let io_err = |source| ListenError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = trust::folder_of(path);
    if std::fs::symlink_metadata(&dir).is_err() {
        create_folder(
            &dir,
            if mode & 0o070 != 0 { 0o750 } else { 0o700 },
            perms.gid,
        )
        .map_err(io_err)?;
    }
    let me = trust::effective_uid();
    trust::check_folder(&dir, &Uids::of(&[me]), None).map_err(|source| ListenError::Untrusted {
        path: path.to_path_buf(),
        source,
    })?;
    // From here on nobody else can add, swap or link anything in `dir`.
    remove_if_stale(path, me)?;
    let name = path.to_fs_name::<GenericFilePath>().map_err(io_err)?;
    let listener = ListenerOptions::new()
        .name(name)
        .mode(mode as libc::mode_t)
        .reclaim_name(true)
        .create_tokio()
        .map_err(io_err)?;
    if let Some(gid) = perms.gid {
        std::os::unix::fs::lchown(path, None, Some(gid)).map_err(io_err)?;
    }
    // Belt and braces: the file must never carry more than the configured bits.
    let meta = std::fs::symlink_metadata(path).map_err(io_err)?;
    if !meta.file_type().is_socket() {
        return Err(ListenError::NotASocket(path.to_path_buf()));
    }
    if meta.permissions().mode() & 0o777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io_err)?;
    }
    Ok(listener)
}

/// Creates `dir` (and missing parents) with `mode`, then sets its group and
/// mode through a descriptor opened without following links, so a link
/// planted in the meantime is never followed.
fn create_folder(dir: &Path, mode: u32, gid: Option<u32>) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)?;
    let folder = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir)?;
    if let Some(gid) = gid {
        std::os::unix::fs::fchown(&folder, None, Some(gid))?;
    }
    folder.set_permissions(std::fs::Permissions::from_mode(mode))
}

/// Takes over a listening socket passed by systemd (`smtp32d.socket`). Its
/// path, mode and group are the unit's business, and its file is left in
/// place when the daemon exits (systemd owns it).
pub fn adopt(fd: OwnedFd) -> io::Result<Listener> {
    use interprocess::os::unix::uds_local_socket::tokio::Listener as UdsListener;
    let uds = UdsListener::try_from(fd)?;
    Ok(Listener::from(uds))
}

/// Removes the socket file at `path` when it is stale: connecting is refused
/// (nobody listens) and the file is the daemon's own user's. Anything else
/// (a live daemon, another user's file, a probe that fails otherwise) is refused.
fn remove_if_stale(path: &Path, me: u32) -> Result<(), ListenError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ListenError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if !meta.file_type().is_socket() {
        return Err(ListenError::NotASocket(path.to_path_buf()));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(ListenError::Live(path.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            if meta.uid() != me {
                return Err(ListenError::ForeignStale {
                    path: path.to_path_buf(),
                    owner: meta.uid(),
                });
            }
            std::fs::remove_file(path).map_err(|source| ListenError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
        Err(source) => Err(ListenError::Unprobed {
            path: path.to_path_buf(),
            source,
        }),
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
        assert!(matches!(
            remove_if_stale(&file, trust::effective_uid()),
            Err(ListenError::NotASocket(_))
        ));

        let sock = dir.path().join("s");
        drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
        // The listener is closed but its file remains: stale.
        assert!(sock.exists());
        remove_if_stale(&sock, trust::effective_uid()).unwrap();
        assert!(!sock.exists());
    }

    #[test]
    fn refuses_a_live_socket() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("s");
        let _live = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert!(matches!(
            remove_if_stale(&sock, trust::effective_uid()),
            Err(ListenError::Live(_))
        ));
    }

    #[test]
    fn another_users_stale_socket_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("s");
        drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
        let me = trust::effective_uid();
        let err = remove_if_stale(&sock, me + 4242).unwrap_err();
        assert!(
            matches!(err, ListenError::ForeignStale { owner, .. } if owner == me),
            "{err}"
        );
        assert!(sock.exists());
    }

    #[actix_rt::test]
    async fn a_folder_others_can_write_or_a_linked_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = bind(&open.join("s"), SocketPerms::default()).unwrap_err();
        assert!(matches!(err, ListenError::Untrusted { .. }), "{err}");
        assert!(!open.join("s").exists());

        let private = dir.path().join("private");
        std::fs::create_dir(&private).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&private, &link).unwrap();
        let err = bind(&link.join("s"), SocketPerms::default()).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(!private.join("s").exists());

        let fresh = dir.path().join("new/sub");
        drop(bind(&fresh.join("s"), SocketPerms::default()).unwrap());
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
