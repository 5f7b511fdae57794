//! Where the daemon's socket lives when nobody says otherwise, and whether a
//! socket found there may be trusted ([`trust`]).
//!
//! The daemon's order: the `SMTP32_SOCKET` environment variable, else
//! `$XDG_RUNTIME_DIR/smtp32d.sock`, else `/run/smtp32d/smtp32d.sock` for root
//! and `/tmp/smtp32d-$UID/smtp32d.sock` for everyone else. It puts its
//! `--socket` flag and its `socket` setting in front of this.
//!
//! Clients use [`client_socket_path`]: `SMTP32_SOCKET` when set, else the
//! first of these that exists — `$XDG_RUNTIME_DIR/smtp32d.sock` (a folder
//! only its user can write), the system daemon's socket, and only then the
//! per-user folder under `/tmp`, which anyone could have made first and which
//! [`trust::check_socket_path`] therefore checks before anything is sent.
//!
//! On Windows the endpoint is a named pipe: `SMTP32_SOCKET` when set, else
//! [`account::DEFAULT_PIPE`] (`\\.\pipe\smtp32d`), for daemon and clients
//! alike; who serves and who connects is told by access tokens ([`account`]).

#[cfg(windows)]
pub mod account;
pub mod trust;

#[cfg(unix)]
use std::path::Path;
use std::path::PathBuf;

/// The environment variable that names the socket for daemon and clients.
pub const SOCKET_ENV: &str = "SMTP32_SOCKET";
/// The socket's file name inside a runtime directory.
pub const SOCKET_FILE: &str = "smtp32d.sock";
/// The system daemon's socket (the packaged service listens here).
pub const SYSTEM_SOCKET_PATH: &str = "/run/smtp32d/smtp32d.sock";

/// The socket path from the environment and the default rules (the daemon's view).
#[cfg(unix)]
pub fn default_socket_path() -> PathBuf {
    explicit_socket_path().unwrap_or_else(|| {
        xdg_socket_path().unwrap_or_else(|| fallback_socket_path(trust::effective_uid()))
    })
}

/// The pipe from the environment, else [`account::DEFAULT_PIPE`].
#[cfg(windows)]
pub fn default_socket_path() -> PathBuf {
    explicit_socket_path().unwrap_or_else(|| PathBuf::from(account::DEFAULT_PIPE))
}

/// Where a client looks for the daemon on Windows: the daemon's own rule.
#[cfg(windows)]
pub fn client_socket_path() -> PathBuf {
    default_socket_path()
}

/// Where a client looks for the daemon: `SMTP32_SOCKET` when set, else the
/// first existing of `$XDG_RUNTIME_DIR/smtp32d.sock`, [`SYSTEM_SOCKET_PATH`]
/// and the per-user fallback; when none exists, the first of them (so the
/// error names the path a user would expect).
#[cfg(unix)]
pub fn client_socket_path() -> PathBuf {
    if let Some(path) = explicit_socket_path() {
        return path;
    }
    let uid = trust::effective_uid();
    let candidates = client_candidates(xdg_socket_path(), uid);
    first_existing(candidates, |p| std::fs::symlink_metadata(p).is_ok())
}

fn explicit_socket_path() -> Option<PathBuf> {
    std::env::var_os(SOCKET_ENV)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

#[cfg(unix)]
fn xdg_socket_path() -> Option<PathBuf> {
    std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|p| !p.is_empty())
        .map(|d| PathBuf::from(d).join(SOCKET_FILE))
}

/// The client's candidates in order of trust: the runtime directory, the
/// system socket, the per-user fallback (the last two are one for root).
#[cfg(unix)]
fn client_candidates(xdg: Option<PathBuf>, uid: u32) -> Vec<PathBuf> {
    let mut candidates: Vec<PathBuf> = xdg.into_iter().collect();
    candidates.push(PathBuf::from(SYSTEM_SOCKET_PATH));
    let fallback = fallback_socket_path(uid);
    if !candidates.contains(&fallback) {
        candidates.push(fallback);
    }
    candidates
}

#[cfg(unix)]
fn first_existing(candidates: Vec<PathBuf>, exists: impl Fn(&Path) -> bool) -> PathBuf {
    let found = candidates.iter().find(|p| exists(p)).cloned();
    // `client_candidates` always yields the system path, so the list is never empty.
    found
        .or_else(|| candidates.into_iter().next())
        .unwrap_or_else(|| PathBuf::from(SYSTEM_SOCKET_PATH))
}

/// The path used when neither `SMTP32_SOCKET` nor `XDG_RUNTIME_DIR` is set.
pub fn fallback_socket_path(uid: u32) -> PathBuf {
    if uid == 0 {
        PathBuf::from(SYSTEM_SOCKET_PATH)
    } else {
        PathBuf::from(format!("/tmp/smtp32d-{uid}")).join(SOCKET_FILE)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn clients_prefer_the_runtime_dir_then_the_system_socket_then_the_per_user_folder() {
        let xdg = PathBuf::from("/run/user/1000/smtp32d.sock");
        let system = PathBuf::from(SYSTEM_SOCKET_PATH);
        let per_user = PathBuf::from("/tmp/smtp32d-1000/smtp32d.sock");
        let all = client_candidates(Some(xdg.clone()), 1000);
        assert_eq!(all, vec![xdg.clone(), system.clone(), per_user.clone()]);
        assert_eq!(first_existing(all.clone(), |_| true), xdg);
        // A planted per-user socket never wins over the system daemon's.
        assert_eq!(first_existing(all.clone(), |p| p != xdg), system);
        assert_eq!(first_existing(all.clone(), |p| p == per_user), per_user);
        assert_eq!(first_existing(all, |_| false), xdg);
        let no_xdg = client_candidates(None, 1000);
        assert_eq!(
            first_existing(no_xdg.clone(), |p| p == per_user || p == system),
            system
        );
        assert_eq!(first_existing(no_xdg, |_| false), system);
        assert_eq!(client_candidates(None, 0), vec![system]);
    }

    #[test]
    fn fallback_depends_on_root() {
        assert_eq!(
            fallback_socket_path(0),
            PathBuf::from("/run/smtp32d/smtp32d.sock")
        );
        assert_eq!(
            fallback_socket_path(1000),
            PathBuf::from("/tmp/smtp32d-1000/smtp32d.sock")
        );
    }
}
