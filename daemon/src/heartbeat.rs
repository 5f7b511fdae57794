//! The systemd watchdog's heartbeat: when the unit sets `WatchdogSec=`, systemd passes
//! `WATCHDOG_USEC` (and `WATCHDOG_PID`), and the daemon sends `WATCHDOG=1` every half of that
//! interval, but only after every worker (the threads that run the clients and their SMTP
//! sessions) has run a probe task within that half. A wedged worker stops the heartbeat, and
//! systemd restarts the service (`Restart=on-failure`), as sd_watchdog_enabled(3) intends.

use crate::state::DaemonState;
use std::sync::Arc;
use std::time::Duration;
use tracing::{error, warn};

/// The interval systemd expects a heartbeat in, when it expects one from this process.
pub fn interval() -> Option<Duration> {
    let pid_is_ours = match std::env::var("WATCHDOG_PID") {
        Ok(pid) => pid.trim().parse::<u32>().ok() == Some(std::process::id()),
        Err(_) => true,
    };
    let usec = std::env::var("WATCHDOG_USEC")
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    (pid_is_ours && usec > 0).then(|| Duration::from_micros(usec))
}

/// Sends `WATCHDOG=1` every `every / 2` for as long as every worker answers in time.
pub async fn run(state: Arc<DaemonState>, every: Duration) {
    let half = every / 2;
    let mut ticks = tokio::time::interval(half);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if state.lifecycle.stop_token().is_cancelled() {
            return;
        }
        if !workers_answer(&state, half).await {
            error!("a worker did not answer within {half:?}: no watchdog heartbeat");
            continue;
        }
        if let Err(e) = crate::systemd::notify("WATCHDOG=1") {
            warn!("cannot send the watchdog heartbeat: {e}");
        }
    }
}

/// True when a probe task spawned on every worker ran within `limit`.
async fn workers_answer(state: &DaemonState, limit: Duration) -> bool {
    let mut answers = Vec::new();
    for worker in state.workers() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        if !worker.spawn(async move {
            let _ = tx.send(());
        }) {
            return false;
        }
        answers.push(rx);
    }
    let all = async {
        for answer in answers {
            if answer.await.is_err() {
                return false;
            }
        }
        true
    };
    tokio::time::timeout(limit, all).await.unwrap_or(false)
}
