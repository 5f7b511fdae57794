//! How the daemon stops: one shutdown request fanned out, a grace period for
//! work in flight, then QUIT on every connection and the end of serving.
//!
//! Two tokens: `drain` fires when SIGTERM/SIGINT or `Request::Shutdown` asks
//! the daemon to stop (the router then refuses new connections and new mail
//! transactions with `Failure::ShuttingDown`); `stop` fires when the drain is
//! over, and ends the accept loop and every client task. Between the two,
//! [`drain`] waits until no connection is busy (an operation in flight, a
//! connect, an open transaction) or `shutdown_grace` runs out, then closes
//! every connection politely (QUIT where idle, bounded by the session's limit).

use crate::session::messages::Close;
use crate::state::DaemonState;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::info;

/// How often the drain looks at the connections.
const POLL: Duration = Duration::from_millis(20);
/// How long the closing QUITs may take in all (each session bounds its own to 5 s).
const CLOSE_LIMIT: Duration = Duration::from_secs(6);

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
}

/// Waits for a shutdown request, lets busy connections finish within
/// `shutdown_grace`, closes every connection and fires the stop token.
pub async fn drain(state: &DaemonState) {
    state.lifecycle.shutdown_requested().await;
    crate::platform::notify("STOPPING=1");
    let grace = Duration::from_secs(state.settings().shutdown_grace.into());
    let busy = || {
        state
            .registry
            .all_activities()
            .iter()
            .filter(|a| a.is_busy())
            .count()
    };
    info!(
        busy = busy(),
        grace_secs = grace.as_secs(),
        "shutting down: no new work; letting work in flight finish"
    );
    let deadline = Instant::now() + grace;
    loop {
        let n = busy();
        if n == 0 {
            break;
        }
        if Instant::now() >= deadline {
            info!(
                busy = n,
                "shutdown grace over: closing connections with work still in flight"
            );
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    for session in state.registry.all_sessions() {
        session.do_send(Close);
    }
    state.cache.clear().await;
    let deadline = Instant::now() + CLOSE_LIMIT;
    while !state.registry.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
    }
    state.lifecycle.stop.cancel();
}
