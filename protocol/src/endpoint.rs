//! Where the daemon's socket lives when nobody says otherwise.
//!
//! Order: the `SMTP32_SOCKET` environment variable, else
//! `$XDG_RUNTIME_DIR/smtp32d.sock`, else `/run/smtp32d/smtp32d.sock` for root
//! and `/tmp/smtp32d-$UID/smtp32d.sock` for everyone else. The daemon puts its
//! `--socket` flag and its `socket` setting in front of this.
//!
//! Clients use [`client_socket_path`]: the same rules, except that when the
//! per-user socket is absent and the system daemon's socket exists (the
//! packaged service), they use the system one, so a program run by any user
//! finds the shared daemon without setting `SMTP32_SOCKET`.

use std::path::PathBuf;

/// The environment variable that names the socket for daemon and clients.
pub const SOCKET_ENV: &str = "SMTP32_SOCKET";
/// The socket's file name inside a runtime directory.
pub const SOCKET_FILE: &str = "smtp32d.sock";

/// The socket path from the environment and the default rules.
pub fn default_socket_path() -> PathBuf {
    if let Some(p) = std::env::var_os(SOCKET_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
        return PathBuf::from(dir).join(SOCKET_FILE);
    }
    fallback_socket_path(effective_uid())
}

/// The system daemon's socket (the packaged service listens here).
pub const SYSTEM_SOCKET_PATH: &str = "/run/smtp32d/smtp32d.sock";

/// Where a client looks for the daemon: [`default_socket_path`], unless
/// `SMTP32_SOCKET` is unset, that path does not exist and
/// [`SYSTEM_SOCKET_PATH`] does.
pub fn client_socket_path() -> PathBuf {
    let own = default_socket_path();
    let explicit = std::env::var_os(SOCKET_ENV).is_some_and(|p| !p.is_empty());
    prefer_system(own, explicit, |p| p.exists())
}

fn prefer_system(own: PathBuf, explicit: bool, exists: impl Fn(&std::path::Path) -> bool) -> PathBuf {
    let system = PathBuf::from(SYSTEM_SOCKET_PATH);
    if !explicit && !exists(&own) && exists(&system) {
        system
    } else {
        own
    }
}

/// The path used when neither `SMTP32_SOCKET` nor `XDG_RUNTIME_DIR` is set.
pub fn fallback_socket_path(uid: u32) -> PathBuf {
    if uid == 0 {
        PathBuf::from(SYSTEM_SOCKET_PATH)
    } else {
        PathBuf::from(format!("/tmp/smtp32d-{uid}")).join(SOCKET_FILE)
    }
}

#[cfg(unix)]
fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc_geteuid() }
}

#[cfg(unix)]
extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

#[cfg(not(unix))]
fn effective_uid() -> u32 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_fall_back_to_the_system_socket_only_when_theirs_is_absent() {
        let own = PathBuf::from("/tmp/smtp32d-1000/smtp32d.sock");
        let system = PathBuf::from(SYSTEM_SOCKET_PATH);
        assert_eq!(prefer_system(own.clone(), false, |p| p == system), system);
        assert_eq!(prefer_system(own.clone(), false, |_| true), own);
        assert_eq!(prefer_system(own.clone(), true, |p| p == system), own);
        assert_eq!(prefer_system(own.clone(), false, |_| false), own);
    }

    #[test]
    fn fallback_depends_on_root() {
        assert_eq!(fallback_socket_path(0), PathBuf::from("/run/smtp32d/smtp32d.sock"));
        assert_eq!(fallback_socket_path(1000), PathBuf::from("/tmp/smtp32d-1000/smtp32d.sock"));
    }
}
