//! Where the daemon's `tracing` events go: always stderr (filtered by
//! `RUST_LOG`, default `info`), and at `debug_level` 1 or 2 also the debug log
//! file of the SMTP-32 manual's `DebugLevel` registry entry.
//!
//! Events for the debug log use two targets: [`ERROR_TARGET`] (level 1 and up)
//! and [`CALL_TARGET`] (level 2: every client call with its arguments and
//! return value). Callers never put passwords into either. The file layer can
//! be swapped at run time ([`DebugLog::apply`]) when SIGHUP reloads settings.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, Layer, Registry};

/// Target of debug-log events describing an error.
pub const ERROR_TARGET: &str = "smtp32d::error";
/// Target of debug-log events describing one client call.
pub const CALL_TARGET: &str = "smtp32d::call";
/// The debug log's file name in the state directory.
pub const DEBUG_LOG_FILE: &str = "smtp32d.dbg";

type FileLayer = Option<Box<dyn Layer<Registry> + Send + Sync>>;

/// Handle on the debug log file layer.
pub struct DebugLog {
    handle: reload::Handle<FileLayer, Registry>,
}

/// The state directory: `$STATE_DIRECTORY` (systemd), else
/// `$XDG_STATE_HOME/smtp32d`, else `/var/lib/smtp32d` for root, else
/// `~/.local/state/smtp32d`.
pub fn state_dir() -> PathBuf {
    let env_dir = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(d) = env_dir("STATE_DIRECTORY") {
        return d;
    }
    if let Some(d) = env_dir("XDG_STATE_HOME") {
        return d.join("smtp32d");
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/var/lib/smtp32d");
    }
    env_dir("HOME").unwrap_or_else(|| PathBuf::from("/tmp")).join(".local/state/smtp32d")
}

/// Installs the global subscriber with the debug log at `debug_level`.
pub fn init(debug_level: u8, debug_log: Option<&Path>) -> std::io::Result<DebugLog> {
    let (file, handle) = reload::Layer::new(file_layer(debug_level, debug_log)?);
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")));
    tracing_subscriber::registry().with(file).with(stderr).init();
    Ok(DebugLog { handle })
}

impl DebugLog {
    /// Switches the debug log to `debug_level` and `debug_log`.
    pub fn apply(&self, debug_level: u8, debug_log: Option<&Path>) -> std::io::Result<()> {
        let layer = file_layer(debug_level, debug_log)?;
        self.handle.reload(layer).map_err(std::io::Error::other)
    }
}

fn file_layer(debug_level: u8, debug_log: Option<&Path>) -> std::io::Result<FileLayer> {
    if debug_level == 0 {
        return Ok(None);
    }
    let path = debug_log.map(Path::to_path_buf).unwrap_or_else(|| state_dir().join(DEBUG_LOG_FILE));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    let mut targets = Targets::new().with_target(ERROR_TARGET, LevelFilter::TRACE).with_default(LevelFilter::WARN);
    if debug_level >= 2 {
        targets = targets.with_target(CALL_TARGET, LevelFilter::TRACE);
    }
    let layer = tracing_subscriber::fmt::layer().with_ansi(false).with_writer(Mutex::new(file)).with_filter(targets);
    Ok(Some(Box::new(layer)))
}
