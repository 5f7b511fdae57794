//! The drain between a shutdown request and the end of serving: busy
//! connections get `shutdown_grace` to finish, then every connection is closed
//! (QUIT where idle) and the stop token fires (see `lifecycle.rs` for the two
//! tokens).

use crate::session::messages::Close;
use crate::state::DaemonState;
use std::time::Duration;
use tokio::time::Instant;
use tracing::info;

/// How often the drain looks at the connections.
const POLL: Duration = Duration::from_millis(20);
/// How long the closing QUITs may take in all (each session bounds its own to 5 s).
const CLOSE_LIMIT: Duration = Duration::from_secs(6);

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
    state.lifecycle.stop();
}
