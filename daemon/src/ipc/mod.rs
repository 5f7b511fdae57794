//! The local-socket side of the daemon: the accept loop, one task per
//! client ([`client`]) and the translation of requests into actor messages
//! ([`router`]), with the admin requests in [`admin`].
//!
//! Each client is served on one of the worker arbiters (round robin), and
//! the SMTP sessions it opens run on that same arbiter: a request, its SMTP
//! exchange and its response never cross a thread. (Serving clients on the
//! System arbiter with sessions spread over the others cost two cross-thread
//! wake-ups per request: 55 µs instead of 15 µs for a NOOP round trip.)

pub mod admin;
pub mod client;
pub mod router;

use crate::state::DaemonState;
use interprocess::local_socket::tokio::{Listener, Stream};
use interprocess::local_socket::traits::tokio::Listener as _;
use interprocess::os::unix::uds_local_socket::tokio::Stream as UdsStream;
use std::os::fd::OwnedFd;
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

/// Serves `stream` on the next worker arbiter. The socket is taken off this
/// thread's reactor and registered again with the arbiter's, so its I/O
/// never wakes another thread.
fn hand_off(stream: Stream, state: &Arc<DaemonState>) {
    #[allow(irrefutable_let_patterns)]
    let Stream::UdSocket(uds) = stream
    else {
        tracing::warn!(target: crate::logging::ERROR_TARGET, "accepted a stream of an unknown kind");
        return;
    };
    let fd = match OwnedFd::try_from(uds) {
        Ok(fd) => fd,
        Err(e) => return tracing::warn!(target: crate::logging::ERROR_TARGET, "cannot take over a client socket: {e}"),
    };
    let arbiter = state.next_arbiter().clone();
    let state = state.clone();
    let accepted = arbiter.spawn_fn(move || match UdsStream::try_from(fd) {
        Ok(uds) => {
            actix_rt::spawn(client::serve(Stream::from(uds), state));
        }
        Err(e) => tracing::warn!(target: crate::logging::ERROR_TARGET, "cannot register a client socket: {e}"),
    });
    if !accepted {
        tracing::warn!(target: crate::logging::ERROR_TARGET, "no arbiter to serve a client: the daemon is stopping");
    }
}
