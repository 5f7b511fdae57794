//! The Unix side of [`crate::platform`]: uids from the socket's peer
//! credentials, `poll(POLLRDHUP)` for hang-ups, the socket systemd passed or
//! one bound by [`crate::listener`], SIGTERM/SIGINT, sd_notify, `gethostname`.

use crate::config::Settings;
use crate::ipc::client;
use crate::listener::{self, ListenError, SocketPerms};
use crate::logging::ERROR_TARGET;
use crate::peer::Peer;
use crate::state::DaemonState;
use crate::systemd;
use interprocess::local_socket::tokio::{Listener, Stream};
use interprocess::local_socket::traits::StreamCommon as _;
use interprocess::os::unix::uds_local_socket::tokio::Stream as UdsStream;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tracing::{info, warn};

/// Who a client is: its effective uid.
pub type UserId = u32;
/// A group: its gid.
pub type GroupId = u32;
/// The user a client counts as when the kernel did not tell ("nobody known").
pub const UNKNOWN_USER: UserId = u32::MAX;

/// A user for unit tests: uid `n`.
#[cfg(test)]
pub fn test_user(n: u32) -> UserId {
    n
}

/// The bytes that name a user in a connection cache key.
pub fn user_key(uid: UserId) -> Vec<u8> {
    uid.to_be_bytes().to_vec()
}

/// The uid as `smtp32ctl` shows it.
pub fn wire_uid(uid: UserId) -> u32 {
    uid
}

/// Root or the user the daemon runs as.
pub fn is_owner(uid: UserId) -> bool {
    uid == 0 || uid == smtp32_host::effective_uid()
}

/// The daemon itself as a peer, for the work it does on its own (the queue).
pub fn own_peer() -> Peer {
    Peer {
        pid: Some(std::process::id()),
        uid: Some(smtp32_host::effective_uid()),
        gid: Some(smtp32_host::effective_gid()),
    }
}

/// The client's credentials as the kernel reported them at connect.
pub fn peer_of(stream: &Stream) -> Peer {
    match stream.peer_creds() {
        Ok(c) => Peer {
            pid: c.pid().and_then(|p| u32::try_from(p).ok()),
            uid: c.euid(),
            gid: c.egid(),
        },
        Err(_) => Peer::default(),
    }
}

/// True when the client has closed its end (or the socket failed), whatever is still unread.
pub fn peer_hung_up(stream: &Stream) -> bool {
    use std::os::fd::{AsFd, AsRawFd};
    #[allow(irrefutable_let_patterns)]
    let Stream::UdSocket(s) = stream
    else {
        return false;
    };
    let mut fd = libc::pollfd {
        fd: s.inner().as_fd().as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid pollfd for a descriptor the stream owns; timeout 0, so it never blocks.
    let n = unsafe { libc::poll(&mut fd, 1, 0) };
    n > 0 && fd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}

/// Serves `stream` on the next worker arbiter. The socket is taken off this
/// thread's reactor and registered again with the arbiter's, so its I/O
/// never wakes another thread.
pub fn hand_off(stream: Stream, state: &Arc<DaemonState>) {
    #[allow(irrefutable_let_patterns)]
    let Stream::UdSocket(uds) = stream
    else {
        warn!(target: ERROR_TARGET, "accepted a stream of an unknown kind");
        return;
    };
    let fd = match OwnedFd::try_from(uds) {
        Ok(fd) => fd,
        Err(e) => return warn!(target: ERROR_TARGET, "cannot take over a client socket: {e}"),
    };
    let arbiter = state.next_arbiter().clone();
    let state = state.clone();
    let accepted = arbiter.spawn_fn(move || match UdsStream::try_from(fd) {
        Ok(uds) => {
            actix_rt::spawn(client::serve(Stream::from(uds), state));
        }
        Err(e) => warn!(target: ERROR_TARGET, "cannot register a client socket: {e}"),
    });
    if !accepted {
        warn!(target: ERROR_TARGET, "no arbiter to serve a client: the daemon is stopping");
    }
}

/// What must be taken before any thread exists: the socket systemd passed.
pub type Inherited = Option<OwnedFd>;

/// Reads the `LISTEN_*` variables (which also unsets them): call before any thread exists.
pub fn inherit() -> Result<Inherited, ListenError> {
    systemd::listen_fd().map_err(|source| ListenError::Io {
        path: PathBuf::from("fd 3"),
        source,
    })
}

/// Listens on the socket systemd passed, when it passed one, else binds
/// `socket`; says which for the log. Must run inside the tokio runtime.
pub fn listen(
    passed: Inherited,
    socket: &Path,
    settings: &Settings,
) -> Result<(Listener, String), ListenError> {
    let perms = SocketPerms {
        mode: settings.socket_mode_bits(),
        gid: settings.socket_gid(),
    };
    match passed {
        Some(fd) => {
            let l = listener::adopt(fd).map_err(|source| ListenError::Io {
                path: PathBuf::from("fd 3"),
                source,
            })?;
            Ok((l, "the socket passed by systemd".to_string()))
        }
        None => Ok((listener::bind(socket, perms)?, socket.display().to_string())),
    }
}

/// Tells systemd the daemon's state (`READY=1`), when it asked to be told.
pub fn notify(state: &str) {
    if let Err(e) = systemd::notify(state) {
        tracing::warn!("cannot notify systemd: {e}");
    }
}

/// Asks for a shutdown on SIGTERM or SIGINT.
pub async fn stop_on_signal(state: Arc<DaemonState>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: shutting down"),
        _ = int.recv() => info!("SIGINT: shutting down"),
    }
    state.lifecycle.request_shutdown();
}

/// Reloads the settings on every SIGHUP.
pub async fn reload_on_signal(state: Arc<DaemonState>) {
    crate::reload::on_hangup(state).await
}

/// No registry on Unix: the built-in defaults stand until the file.
pub fn registry_defaults() -> String {
    String::new()
}

/// The machine's host name, as `gethostname(2)` gives it.
pub fn machine_hostname() -> Option<String> {
    smtp32_host::hostname()
}
