//! How the daemon stops: one shutdown request fanned out, a grace period for
//! work in flight, then QUIT on every connection and the end of serving.
//!
//! Two tokens: `drain` fires when SIGTERM/SIGINT or `Request::Shutdown` asks
//! the daemon to stop (the router then refuses new connections and new mail
//! transactions with `Failure::ShuttingDown`); `stop` fires when the drain is
//! over, and ends the accept loop and every client task. Between the two,
//! `shutdown::drain` waits until no connection is busy (an operation in flight, a
//! connect, an open transaction) or `shutdown_grace` runs out, then closes
//! every connection politely (QUIT where idle, bounded by the session's limit).

use tokio_util::sync::CancellationToken;

/// The daemon's shutdown state.
#[derive(Debug, Default)]
pub struct Lifecycle {
    drain: CancellationToken,
    stop: CancellationToken,
}

impl Lifecycle {
    /// A running daemon.
    pub fn new() -> Lifecycle {
        Lifecycle::default()
    }

    /// Asks the daemon to shut down; idempotent.
    pub fn request_shutdown(&self) {
        self.drain.cancel();
    }

    /// True once a shutdown was requested.
    pub fn is_shutting_down(&self) -> bool {
        self.drain.is_cancelled()
    }

    /// Resolves when a shutdown is requested.
    pub async fn shutdown_requested(&self) {
        self.drain.cancelled().await
    }

    /// Fires when serving ends: the accept loop and every client task stop.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Ends serving (the drain is over).
    pub fn stop(&self) {
        self.stop.cancel();
    }
}
