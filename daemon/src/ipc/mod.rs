//! The local-socket side of the daemon: the accept loop, one task per
//! client ([`client`]) and the translation of requests into actor messages
//! ([`router`]).

pub mod client;
pub mod router;

use crate::state::DaemonState;
use interprocess::local_socket::tokio::Listener;
use interprocess::local_socket::traits::tokio::Listener as _;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Pause after a failed accept (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Accepts clients until `shutdown` fires; each is served by its own task.
pub async fn accept_loop(listener: Listener, state: Arc<DaemonState>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(stream) => {
                    actix_rt::spawn(client::serve(stream, state.clone()));
                }
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
