//! `smtp32d`: the daemon that holds SMTP connections for local programs.
//!
//! Layout:
//! - [`config`]: settings (embedded defaults, TOML file, `SMTP32D_*` env), validated at start.
//! - [`logging`]: stderr and the SMTP-32 debug log file.
//! - [`cli`]: the command line (for `main.rs` and the generated man page).
//! - [`log_sink`]: journald or plain text for stderr's events.
//! - [`listener`]: the Unix socket: path, permissions, stale-file handling
//!   (on Windows the named pipe, in `platform/windows/pipe.rs`).
//! - [`ipc`]: the accept loop, one task per client, request routing.
//! - [`queue`]: the durable mail queue of `smtp32-sendmail` and its bounces.
//! - [`queue_runner`]: delivers the queue through the relay, as a client of the daemon.
//! - [`registry`]: handles, their owners and the connection limits.
//! - [`seats`]: the limits on IPC clients, in all and per user.
//! - [`budget`]: the bytes one IPC client may hold in the daemon.
//! - [`activity`]: what one SMTP connection is doing, for status, admin views and the drain.
//! - [`session`]: the actix actor per SMTP connection, with timeout and cancel.
//! - [`cache`]: warm SMTP sessions kept between programs (`smtp_quit` parks, an open takes).
//! - [`smtp`]: outbound SMTP, free of actix and IPC.
//! - [`state`]: what the client tasks share.
//! - [`peer`]: client credentials and who is an admin.
//! - [`stats`]: totals since start for `status`.
//! - [`lifecycle`]: the shutdown request and the end of serving (two tokens).
//! - [`shutdown`]: the drain between them: grace period, closing every connection.
//! - [`reload`]: SIGHUP and `Request::Reload`.
//! - [`metrics`]: the OpenMetrics text and its optional scrape listener (`metrics.listen`).
//! - [`observed`]: what is counted and timed as it happens (requests, replies).
//! - [`systemd`]: socket activation and sd_notify (Unix).
//! - [`heartbeat`]: the systemd watchdog's `WATCHDOG=1`, sent while every worker answers (Unix).
//! - [`platform`]: what differs between Unix and Windows in who a client is, readiness, the host name.
//! - [`serving`]: the listening endpoint, the worker per client, stop and reload signals, per OS.
//! - [`workers`]: the threads that serve clients and run their SMTP sessions, one per core.
//!
//! [`run`] is the whole daemon; `main.rs` only parses flags and calls it.

pub mod activity;
pub mod budget;
pub mod cache;
pub mod cli;
pub mod config;
#[cfg(unix)]
pub mod heartbeat;
pub mod ipc;
pub mod lifecycle;
#[cfg(unix)]
pub mod listener;
#[cfg(windows)]
#[path = "platform/windows/pipe.rs"]
pub mod listener;
pub mod log_sink;
pub mod logging;
pub mod metrics;
pub mod observed;
pub mod peer;
pub mod platform;
pub mod queue;
pub mod queue_runner;
pub mod registry;
pub mod reload;
pub mod seats;
pub mod serving;
pub mod session;
pub mod shutdown;
pub mod smtp;
pub mod state;
pub mod stats;
#[cfg(unix)]
pub mod systemd;
pub mod workers;

use config::Settings;
use listener::ListenError;
pub use reload::Reload;
use state::DaemonState;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tracing::info;

/// How long the end of a shutdown waits for client tasks to flush their last frames.
const CLIENT_FLUSH_LIMIT: Duration = Duration::from_secs(2);

/// Runs the daemon until SIGTERM, SIGINT (Windows: Ctrl-C, Ctrl-Break, the
/// service's Stop) or `Request::Shutdown`, then lets
/// work in flight finish within `shutdown_grace`, closes every SMTP
/// connection (QUIT where it can) and returns. Listens on the socket systemd
/// passed, when it passed one, else binds `socket`. SIGHUP reloads the
/// settings through `reload`; new values apply to new connections.
pub fn run(settings: Settings, socket: &Path, reload: Reload) -> Result<(), ListenError> {
    // Before any thread exists: reading the LISTEN_* variables also unsets them.
    let passed = serving::inherit()?;
    let system = actix::System::new();
    system.block_on(async move {
        let (listener, from) = serving::listen(passed, socket, &settings)?;
        let metrics =
            match settings.metrics.address().ok().flatten() {
                Some(address) => {
                    Some(metrics::listener::bind(address).await.map_err(|source| {
                        ListenError::Io {
                            path: std::path::PathBuf::from(format!("metrics.listen {address}")),
                            source,
                        }
                    })?)
                }
                None => None,
            };
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let workers = workers::start(cores).map_err(|source| ListenError::Io {
            path: std::path::PathBuf::from("worker threads"),
            source,
        })?;
        let state = Arc::new(DaemonState::new(settings, workers.clone(), reload));
        let runner = state.clone();
        // Spawned there, not sent: the runner holds its router (not `Send`) across awaits.
        state.next_worker().run(move || {
            actix_rt::spawn(queue_runner::run(runner));
        });
        let relay = &state.settings().relay;
        if relay.queue && !relay.host.is_empty() {
            // Messages left by the last run are delivered without waiting for a new one.
            if let Err(f) = state.queue.get(&state.settings()) {
                tracing::warn!("the queue is not running: {f}");
            }
        }
        actix_rt::spawn(serving::stop_on_signal(state.clone()));
        actix_rt::spawn(serving::reload_on_signal(state.clone()));
        if let Some(listener) = metrics {
            actix_rt::spawn(metrics::listener::serve(listener, state.clone()));
        }
        #[cfg(unix)]
        if let Some(every) = heartbeat::interval() {
            actix_rt::spawn(heartbeat::run(state.clone(), every));
        }
        let drain = actix_rt::spawn({
            let state = state.clone();
            async move { shutdown::drain(&state).await }
        });
        info!(socket = %from, workers = cores, "smtp32d {} listening", env!("CARGO_PKG_VERSION"));
        platform::notify("READY=1");
        serving::accept_loop(listener, state.clone()).await;
        let _ = drain.await;
        let deadline = tokio::time::Instant::now() + CLIENT_FLUSH_LIMIT;
        while state.clients() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for worker in workers {
            worker.stop();
        }
        info!("smtp32d stopped");
        Ok(())
    })
}
