//! `smtp32d`: the daemon that holds SMTP connections for local programs.
//!
//! Layout:
//! - [`config`]: settings (embedded defaults, TOML file, `SMTP32D_*` env), validated at start.
//! - [`logging`]: stderr and the SMTP-32 debug log file.
//! - [`listener`]: the Unix socket: path, permissions, stale-file handling.
//! - [`ipc`]: the accept loop, one task per client, request routing.
//! - [`registry`]: handles, their owners and the connection limits.
//! - [`session`]: the actix actor per SMTP connection, with timeout and cancel.
//! - [`smtp`]: outbound SMTP, free of actix and IPC.
//! - [`state`]: what the client tasks share.
//!
//! [`run`] is the whole daemon; `main.rs` only parses flags and calls it.

pub mod config;
pub mod ipc;
pub mod listener;
pub mod logging;
pub mod registry;
pub mod session;
pub mod smtp;
pub mod state;

use actix::Arbiter;
use config::Settings;
use session::messages::Close;
use state::DaemonState;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::info;

/// How long shutdown waits for connections to say QUIT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How SIGHUP reloads the configuration.
pub struct Reload {
    /// The `--config` file, if one was given.
    pub config: Option<PathBuf>,
    /// The debug log to switch to the new level and file.
    pub debug_log: logging::DebugLog,
}

/// Runs the daemon on `socket` until SIGTERM or SIGINT, then closes every
/// SMTP connection (QUIT where it can) and returns. SIGHUP reloads the
/// settings through `reload`; new values apply to new connections.
pub fn run(settings: Settings, socket: &Path, reload: Reload) -> Result<(), listener::ListenError> {
    let system = actix::System::new();
    let result = system.block_on(async move {
        let listener = listener::bind(socket)?;
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let arbiters: Vec<Arbiter> = (0..cores).map(|_| Arbiter::new()).collect();
        let state = Arc::new(DaemonState::new(settings, arbiters.iter().map(Arbiter::handle).collect()));
        let shutdown = CancellationToken::new();
        actix_rt::spawn(stop_on_signal(shutdown.clone()));
        actix_rt::spawn(reload_on_hangup(state.clone(), reload));
        info!(socket = %socket.display(), arbiters = cores, "smtp32d {} listening", env!("CARGO_PKG_VERSION"));
        ipc::accept_loop(listener, state.clone(), shutdown).await;
        close_all(&state).await;
        for arbiter in arbiters {
            arbiter.stop();
        }
        info!("smtp32d stopped");
        Ok(())
    });
    result
}

async fn stop_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: shutting down"),
        _ = int.recv() => info!("SIGINT: shutting down"),
    }
    shutdown.cancel();
}

async fn reload_on_hangup(state: Arc<DaemonState>, reload: Reload) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::error!("cannot install the SIGHUP handler");
        return;
    };
    while hup.recv().await.is_some() {
        match Settings::load(reload.config.as_deref()) {
            Ok(new) => {
                if new.socket != state.settings().socket {
                    tracing::warn!("SIGHUP: a new `socket` applies only after a restart");
                }
                if let Err(e) = reload.debug_log.apply(new.debug_level, new.debug_log.as_deref()) {
                    tracing::error!("SIGHUP: cannot open the debug log: {e}");
                }
                info!(timeout = new.timeout, debug_level = new.debug_level, "SIGHUP: configuration reloaded");
                state.replace_settings(new);
            }
            Err(e) => tracing::error!("SIGHUP: keeping the old configuration: {e}"),
        }
    }
}

/// Asks every session to close and waits, up to the grace period, until the
/// registry is empty.
async fn close_all(state: &DaemonState) {
    for session in state.registry.all_sessions() {
        session.do_send(Close);
    }
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    while !state.registry.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
