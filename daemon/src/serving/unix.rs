//! The Unix side of [`crate::serving`]: the socket systemd passed or one
//! bound by [`crate::listener`], clients moved to a worker thread's reactor,
//! SIGTERM/SIGINT to stop and SIGHUP to reload.

use crate::config::Settings;
use crate::ipc::client;
use crate::listener::{self, ListenError};
use crate::logging::ERROR_TARGET;
use crate::state::DaemonState;
use crate::systemd;
use interprocess::local_socket::tokio::{Listener, Stream};
use interprocess::os::unix::uds_local_socket::tokio::Stream as UdsStream;
use std::future::Future;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::signal::unix::{signal, SignalKind};
use tracing::{info, warn};

/// Serves `stream` on the next worker. The socket is taken off this
/// thread's reactor and registered again with the worker's, so its I/O
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
    let state_there = state.clone();
    let accepted = state
        .next_worker()
        .run(move || match UdsStream::try_from(fd) {
            Ok(uds) => {
                actix_rt::spawn(client::serve(Stream::from(uds), state_there));
            }
            Err(e) => warn!(target: ERROR_TARGET, "cannot register a client socket: {e}"),
        });
    if !accepted {
        warn!(target: ERROR_TARGET, "no worker to serve a client: the daemon is stopping");
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
    let perms = super::socket_perms(settings);
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

/// Installs the SIGTERM and SIGINT handlers now (so a signal that comes
/// before the daemon says it is ready is not fatal) and resolves to the
/// wait for either, which asks for a shutdown.
pub fn stop_on_signal(state: Arc<DaemonState>) -> impl Future<Output = ()> {
    let handlers = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    async move {
        let (Ok(mut term), Ok(mut int)) = handlers else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        tokio::select! {
            _ = term.recv() => info!("SIGTERM: shutting down"),
            _ = int.recv() => info!("SIGINT: shutting down"),
        }
        state.lifecycle.request_shutdown();
    }
}

/// Installs the SIGHUP handler now and resolves to the loop that reloads
/// the settings on every SIGHUP until the daemon stops.
pub fn reload_on_signal(state: Arc<DaemonState>) -> impl Future<Output = ()> {
    let handler = signal(SignalKind::hangup());
    async move {
        let Ok(mut hup) = handler else {
            tracing::error!("cannot install the SIGHUP handler");
            return;
        };
        while hup.recv().await.is_some() {
            info!("SIGHUP: reloading the configuration");
            if let Err(e) = state.reload() {
                tracing::error!("SIGHUP: keeping the old configuration: {e}");
            }
        }
    }
}
