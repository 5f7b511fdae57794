//! Whether a socket found at a path may be trusted with what a client sends
//! (passwords, message bodies): the rules ssh-agent, tmux and X11 follow.
//!
//! Anyone can create `/tmp/smtp32d-1000` before user 1000 does, and put a
//! listening socket in it. So before connecting, a client checks the socket
//! and its folder without following links ([`check_socket_path`]): the socket
//! must be a socket, its folder a real folder that neither its group nor
//! others may write, owned by the client's own user or root — or, for the
//! system socket, by the user root gave `/run/smtp32d` to (the service's
//! dynamic user). Once connected, the daemon's peer credentials must name one
//! of those users ([`TrustedSocket::check_daemon`]). Nothing is sent before
//! both checks pass.
//!
//! The daemon applies the same folder rule to itself before it binds.

use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a socket is not trusted.
#[derive(Debug, Error)]
pub enum TrustError {
    /// The path could not be examined (missing, no permission).
    #[error("cannot examine {path}: {source}")]
    Io {
        /// The path examined.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Something other than what belongs there: a link, a file, a folder that is not one.
    #[error("refusing {path}: it is {found}, not {wanted}")]
    WrongKind {
        /// The path examined.
        path: PathBuf,
        /// What is there.
        found: &'static str,
        /// What must be there.
        wanted: &'static str,
    },
    /// The folder or socket belongs to a user who is not trusted.
    #[error("refusing {path}: it is owned by uid {owner}, expected {expected}")]
    Owner {
        /// The path examined.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The users that would be trusted.
        expected: Uids,
    },
    /// Its group or other users may write the folder, so anyone of them could have planted the socket.
    #[error("refusing {path}: mode {mode:04o} lets {who} replace what is in it")]
    Writable {
        /// The folder examined.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
        /// "its group" or "every user".
        who: &'static str,
    },
    /// The process listening on the socket runs as an untrusted user.
    #[error("refusing the daemon at {path}: it runs as uid {uid}, expected {expected}")]
    Daemon {
        /// The socket.
        path: PathBuf,
        /// The daemon's uid as the kernel reports it.
        uid: u32,
        /// The users that would be trusted.
        expected: Uids,
    },
    /// The process serving the named pipe runs as an untrusted account (Windows).
    #[error("refusing the daemon at {path}: it runs as {sid}, expected {expected}")]
    DaemonAccount {
        /// The pipe.
        path: PathBuf,
        /// The user SID in the serving process's token.
        sid: String,
        /// The accounts that would be trusted.
        expected: String,
    },
    /// The kernel did not say who listens on the socket.
    #[error("refusing the daemon at {0}: the kernel did not report who it is")]
    UnknownDaemon(PathBuf),
}

/// A small set of uids, printed as `1000 or 0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uids(Vec<u32>);

impl Uids {
    /// The distinct uids of `uids`, in their order.
    pub fn of(uids: &[u32]) -> Uids {
        let mut unique = Vec::with_capacity(uids.len());
        for &uid in uids {
            if !unique.contains(&uid) {
                unique.push(uid);
            }
        }
        Uids(unique)
    }

    /// True when `uid` is one of them.
    pub fn contains(&self, uid: u32) -> bool {
        self.0.contains(&uid)
    }
}

impl fmt::Display for Uids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .0
            .iter()
            .map(|u| {
                if *u == 0 {
                    "0 (root)".into()
                } else {
                    u.to_string()
                }
            })
            .collect();
        f.write_str(&names.join(" or "))
    }
}

/// A socket whose folder passed [`check_socket_path`]: the users its daemon may run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedSocket {
    path: PathBuf,
    daemon_uids: Uids,
}

impl TrustedSocket {
    /// Checks the credentials of the process listening on the socket.
    pub fn check_daemon(&self, uid: Option<u32>) -> Result<(), TrustError> {
        match uid {
            Some(uid) if self.daemon_uids.contains(uid) => Ok(()),
            Some(uid) => Err(TrustError::Daemon {
                path: self.path.clone(),
                uid,
                expected: self.daemon_uids.clone(),
            }),
            None => Err(TrustError::UnknownDaemon(self.path.clone())),
        }
    }

    /// The users the daemon may run as.
    pub fn daemon_uids(&self) -> &Uids {
        &self.daemon_uids
    }
}

/// The effective uid of this process (1 where there are no uids).
pub fn effective_uid() -> u32 {
    #[cfg(unix)]
    {
        extern "C" {
            fn geteuid() -> u32;
        }
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { geteuid() }
    }
    #[cfg(not(unix))]
    {
        1
    }
}

/// Checks the socket at `path` and its folder, without following links, for
/// a client running as [`effective_uid`].
#[cfg(unix)]
pub fn check_socket_path(path: &Path) -> Result<TrustedSocket, TrustError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let me = effective_uid();
    let socket = lstat(path)?;
    if !socket.file_type().is_socket() {
        return Err(wrong_kind(path, &socket, "a socket"));
    }
    let dir = folder_of(path);
    let folder = check_folder(&dir, &Uids::of(&[me, 0]), system_folder_owner(&dir))?;
    let trusted = Uids::of(&[me, 0, folder]);
    if !trusted.contains(socket.uid()) {
        return Err(TrustError::Owner {
            path: path.to_path_buf(),
            owner: socket.uid(),
            expected: trusted,
        });
    }
    Ok(TrustedSocket {
        path: path.to_path_buf(),
        daemon_uids: trusted,
    })
}

/// Without uids there is nothing to check here; the platform's own rules apply.
#[cfg(not(unix))]
pub fn check_socket_path(path: &Path) -> Result<TrustedSocket, TrustError> {
    Ok(TrustedSocket {
        path: path.to_path_buf(),
        daemon_uids: Uids::of(&[effective_uid()]),
    })
}

/// Checks that `dir` is a real folder (not a link) owned by one of `owners`
/// (or by `extra_owner`), that neither its group nor others may write;
/// returns its owner. The daemon uses it for the folder it binds in.
#[cfg(unix)]
pub fn check_folder(
    dir: &Path,
    owners: &Uids,
    extra_owner: Option<u32>,
) -> Result<u32, TrustError> {
    use std::os::unix::fs::MetadataExt;
    let meta = lstat(dir)?;
    if !meta.file_type().is_dir() {
        return Err(wrong_kind(dir, &meta, "a folder"));
    }
    let owner = meta.uid();
    if !owners.contains(owner) && extra_owner != Some(owner) {
        return Err(TrustError::Owner {
            path: dir.to_path_buf(),
            owner,
            expected: owners.clone(),
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o002 != 0 {
        return Err(TrustError::Writable {
            path: dir.to_path_buf(),
            mode,
            who: "every user",
        });
    }
    if mode & 0o020 != 0 {
        return Err(TrustError::Writable {
            path: dir.to_path_buf(),
            mode,
            who: "its group",
        });
    }
    Ok(owner)
}

/// The folder a socket path is in (`.` for a bare name).
pub fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The owner of the system socket's folder when `dir` is that folder and only
/// root could have made it (its parent root's and closed to others): systemd
/// gives `/run/smtp32d` to the service's dynamic user.
#[cfg(unix)]
fn system_folder_owner(dir: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let system_dir = folder_of(Path::new(super::SYSTEM_SOCKET_PATH));
    if dir != system_dir {
        return None;
    }
    let parent = lstat(&folder_of(&system_dir)).ok()?;
    let closed = parent.file_type().is_dir() && parent.uid() == 0 && parent.mode() & 0o022 == 0;
    closed.then(|| lstat(dir).ok().map(|m| m.uid())).flatten()
}

#[cfg(unix)]
fn lstat(path: &Path) -> Result<std::fs::Metadata, TrustError> {
    std::fs::symlink_metadata(path).map_err(|source| TrustError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(unix)]
fn wrong_kind(path: &Path, meta: &std::fs::Metadata, wanted: &'static str) -> TrustError {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let found = if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a folder"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_file() {
        "a regular file"
    } else {
        "a special file"
    };
    TrustError::WrongKind {
        path: path.to_path_buf(),
        found,
        wanted,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn private_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        dir
    }

    #[test]
    fn a_socket_in_a_private_folder_is_trusted_for_its_own_user_and_root() {
        let dir = private_dir();
        let path = dir.path().join("s");
        let _l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let trusted = check_socket_path(&path).unwrap();
        trusted.check_daemon(Some(effective_uid())).unwrap();
        trusted.check_daemon(Some(0)).unwrap();
        let stranger = effective_uid() + 4242;
        let err = trusted
            .check_daemon(Some(stranger))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&stranger.to_string()) && err.contains(&path.display().to_string()),
            "{err}"
        );
        assert!(trusted.check_daemon(None).is_err());
    }

    #[test]
    fn a_folder_others_or_its_group_can_write_is_refused() {
        let dir = private_dir();
        let path = dir.path().join("s");
        let _l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        for (mode, who) in [
            (0o777, "every user"),
            (0o1777, "every user"),
            (0o770, "its group"),
        ] {
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
            let err = check_socket_path(&path).unwrap_err().to_string();
            assert!(err.contains(who), "{mode:o}: {err}");
        }
    }

    #[test]
    fn links_and_files_are_refused() {
        let dir = private_dir();
        let real = dir.path().join("real");
        let _l = std::os::unix::net::UnixListener::bind(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = check_socket_path(&link).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        assert!(check_socket_path(&file)
            .unwrap_err()
            .to_string()
            .contains("regular file"));
        // A linked folder is refused too.
        let inner = private_dir();
        let sock = inner.path().join("s");
        let _l2 = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let linked_dir = dir.path().join("d");
        std::os::unix::fs::symlink(inner.path(), &linked_dir).unwrap();
        let err = check_socket_path(&linked_dir.join("s"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("symbolic link"), "{err}");
    }
}
