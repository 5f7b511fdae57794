//! Reloading the configuration, for SIGHUP and `Request::Reload` alike: the
//! file is read again (with the environment), validated, and the new values
//! replace the old for new connections and clients; the debug log switches
//! level and file at once. A bad file keeps the old settings.

use crate::config::{self, ConfigError, Settings};
use crate::logging::DebugLog;
use crate::state::DaemonState;
use std::path::PathBuf;
use tracing::{error, info, warn};

/// What a reload needs to know.
pub struct Reload {
    /// The `--config` file, if one was given.
    pub config: Option<PathBuf>,
    /// The debug log to switch to the new level and file.
    pub debug_log: DebugLog,
}

impl Reload {
    /// The configuration file that applies (the `--config` file, else the
    /// system file when it exists).
    pub fn file_in_use(&self) -> Option<PathBuf> {
        config::file_in_use(self.config.as_deref())
    }

    /// Loads the settings again and puts them in force in `state`.
    pub fn apply(&self, state: &DaemonState) -> Result<(), ConfigError> {
        let new = Settings::load(self.config.as_deref())?;
        if new.socket != state.settings().socket {
            warn!("reload: a new `socket` applies only after a restart");
        }
        if let Err(e) = self.debug_log.apply(new.debug_level, new.debug_log.as_deref()) {
            error!("reload: cannot open the debug log: {e}");
        }
        info!(timeout = new.timeout, debug_level = new.debug_level, "configuration reloaded");
        state.replace_settings(new);
        Ok(())
    }

}

/// Reloads on every SIGHUP until the daemon stops.
#[cfg(unix)]
pub async fn on_hangup(state: std::sync::Arc<DaemonState>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        error!("cannot install the SIGHUP handler");
        return;
    };
    while hup.recv().await.is_some() {
        info!("SIGHUP: reloading the configuration");
        if let Err(e) = state.reload() {
            error!("SIGHUP: keeping the old configuration: {e}");
        }
    }
}
