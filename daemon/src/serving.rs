//! How the daemon is reached and stopped, behind one set of names: the
//! listening endpoint ([`listen`]: a Unix socket, possibly passed by systemd,
//! or a named pipe; [`inherit`] takes what systemd passed before any thread
//! exists), the [`accept_loop`] and the worker that serves each accepted
//! client ([`hand_off`]), and the
//! signals that stop the daemon ([`stop_on_signal`]) or reload its settings
//! ([`reload_on_signal`]).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

use crate::config::Settings;
use crate::listener::SocketPerms;
use crate::state::DaemonState;
use interprocess::local_socket::tokio::Listener;
use interprocess::local_socket::traits::tokio::Listener as _;
use std::sync::Arc;
use std::time::Duration;

/// Pause after a failed accept (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Accepts clients until serving stops (the end of a shutdown); each is
/// served by its own task. During the shutdown's grace period clients are
/// still accepted, so that they hear `ShuttingDown` instead of waiting.
pub async fn accept_loop(listener: Listener, state: Arc<DaemonState>) {
    let stop = state.lifecycle.stop_token();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(stream) => hand_off(stream, &state),
                // EMFILE and friends: log, back off briefly instead of spinning,
                // and keep serving the clients we have.
                Err(e) => {
                    tracing::warn!(target: crate::logging::ERROR_TARGET, "accept failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
}

/// The mode and group the socket (or the pipe's DACL) gets, as the settings say.
fn socket_perms(settings: &Settings) -> SocketPerms {
    SocketPerms {
        mode: settings.socket_mode_bits(),
        gid: settings.socket_gid(),
    }
}
