//! The Windows side of [`crate::serving`]: the named pipe
//! ([`crate::listener`], `platform/windows/pipe.rs`), Ctrl-C, Ctrl-Break and
//! closing the console (or the service's Stop) to stop, the service's
//! ParamChange to reload.
//!
//! A pipe is bound to the completion port of the thread that accepted it, so
//! its client is served on the accepting thread (sessions follow it there).

use crate::config::Settings;
use crate::ipc::client;
use crate::listener::{self, ListenError};
use crate::platform::service;
use crate::state::DaemonState;
use interprocess::local_socket::tokio::{Listener, Stream};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use tracing::info;

/// Serves `stream` on this thread (a pipe cannot move to another thread's completion port).
pub fn hand_off(stream: Stream, state: &Arc<DaemonState>) {
    actix_rt::spawn(client::serve(stream, state.clone()));
}

/// Nothing is inherited on Windows (no socket activation).
pub type Inherited = ();

/// Nothing to take before threads start on Windows.
pub fn inherit() -> Result<Inherited, ListenError> {
    Ok(())
}

/// Creates the named pipe `socket` (first instance only, with its DACL).
pub fn listen(
    _: Inherited,
    socket: &Path,
    settings: &Settings,
) -> Result<(Listener, String), ListenError> {
    let perms = super::socket_perms(settings);
    Ok((listener::bind(socket, perms)?, socket.display().to_string()))
}

/// Installs the console control handlers now (in a console; so a Ctrl-C that
/// comes before the daemon says it is ready is not fatal) and resolves to the
/// wait for one of them or the service's stop, which asks for a shutdown.
pub fn stop_on_signal(state: Arc<DaemonState>) -> impl Future<Output = ()> {
    use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close};
    let console = (!service::is_service()).then(|| (ctrl_c(), ctrl_break(), ctrl_close()));
    async move {
        let why = match console {
            None => {
                service::stop_requested().await;
                "service stop"
            }
            Some((Ok(mut c), Ok(mut brk), Ok(mut close))) => tokio::select! {
                _ = c.recv() => "Ctrl-C",
                _ = brk.recv() => "Ctrl-Break",
                _ = close.recv() => "console closed",
            },
            Some(_) => {
                tracing::error!("cannot install console control handlers");
                return;
            }
        };
        info!("{why}: shutting down");
        state.lifecycle.request_shutdown();
    }
}

/// Reloads the settings on every ParamChange control of the service (in a
/// console there is no reload signal: `smtp32ctl reload` reloads).
pub async fn reload_on_signal(state: Arc<DaemonState>) {
    loop {
        service::reload_requested().await;
        info!("service ParamChange: reloading the configuration");
        if let Err(e) = state.reload() {
            tracing::error!("ParamChange: keeping the old configuration: {e}");
        }
    }
}
