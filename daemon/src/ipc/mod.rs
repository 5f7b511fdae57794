//! The local-socket side of the daemon: the accept loop, one task per
//! client ([`client`]) and the translation of requests into actor messages
//! ([`router`]), with the admin requests in [`admin`].
//!
//! Each client is served on one of the worker arbiters (round robin; on
//! Windows, where a pipe cannot move to another thread's completion port, on
//! the arbiter that accepted it: see `platform`), and
//! the SMTP sessions it opens run on that same arbiter: a request, its SMTP
//! exchange and its response never cross a thread. (Serving clients on the
//! System arbiter with sessions spread over the others cost two cross-thread
//! wake-ups per request: 55 µs instead of 15 µs for a NOOP round trip.)

pub mod admin;
pub mod client;
pub mod router;

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
                Ok(stream) => crate::platform::hand_off(stream, &state),
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
