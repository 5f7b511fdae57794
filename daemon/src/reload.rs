//! Reloading the configuration, for SIGHUP and `Request::Reload` alike: the
//! file is read again (with the environment), validated, and the new values
//! replace the old for new connections and clients; the debug log switches
//! level and file at once. A bad file keeps the old settings.

use crate::config::{self, ConfigError, Settings};
use crate::logging::DebugLog;
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

    /// Loads the settings again and hands them to `put_in_force`; `current` are the
    /// settings in force now (a new `socket` applies only after a restart).
    ///
    /// systemd hears `RELOADING=1` first and `READY=1` at the end, so `systemctl reload` waits
    /// for the outcome; a bad file adds a `STATUS=` line saying why (and `smtp32ctl reload`,
    /// the unit's `ExecReload=`, exits 1 with it).
    pub fn apply(
        &self,
        current: &Settings,
        put_in_force: impl FnOnce(Settings),
    ) -> Result<(), ConfigError> {
        #[cfg(unix)]
        notify(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
        let result = self.load_and_apply(current, put_in_force);
        match &result {
            Ok(()) => notify("READY=1\nSTATUS=serving"),
            Err(e) => notify(&format!(
                "READY=1\nSTATUS=reload failed, old configuration kept: {e}"
            )),
        }
        result
    }

    fn load_and_apply(
        &self,
        current: &Settings,
        put_in_force: impl FnOnce(Settings),
    ) -> Result<(), ConfigError> {
        let new = Settings::load(self.config.as_deref())?;
        if new.socket != current.socket {
            warn!("reload: a new `socket` applies only after a restart");
        }
        if let Err(e) = self
            .debug_log
            .apply(new.debug_level, new.debug_log.as_deref())
        {
            error!("reload: cannot open the debug log: {e}");
        }
        info!(
            timeout = new.timeout,
            debug_level = new.debug_level,
            "configuration reloaded"
        );
        put_in_force(new);
        Ok(())
    }
}

/// Tells systemd `state`; a failure is logged, never fatal.
#[cfg(unix)]
fn notify(state: &str) {
    if let Err(e) = crate::systemd::notify(state) {
        warn!("cannot notify systemd: {e}");
    }
}

/// No service manager listens for these on Windows.
#[cfg(windows)]
fn notify(_state: &str) {}

/// `CLOCK_MONOTONIC` in microseconds, which systemd wants beside `RELOADING=1`.
#[cfg(unix)]
fn monotonic_usec() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    (now.tv_sec.max(0) as u64) * 1_000_000 + (now.tv_nsec.max(0) as u64) / 1_000
}
