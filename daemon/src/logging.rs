//! Where the daemon's `tracing` events go: always stderr (filtered by
//! `RUST_LOG`, default `info`; journald with priorities under systemd, plain
//! text without colours when stderr is not a terminal: see `log_sink`), and at
//! `debug_level` 1 or 2 also the debug log file of the SMTP-32 manual's
//! `DebugLevel` registry entry.
//!
//! Events for the debug log use two targets: [`ERROR_TARGET`] (level 1 and up)
//! and [`CALL_TARGET`] (level 2: every client call with its arguments and
//! return value). Callers never put passwords into either. The file is
//! created mode 0600 in a folder only the daemon's user may write, and a link
//! at its name is never followed (on Windows it lives in the daemon's account's
//! own `%LOCALAPPDATA%\smtp32d`, whose ACL admits that account alone). The file layer can
//! switch level and file at run time ([`DebugLog::apply`]) when SIGHUP reloads settings.

#[cfg(unix)]
use smtp32_protocol::endpoint::trust::{self, effective_uid, Uids};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, Layer, Registry};

/// Target of debug-log events describing an error.
pub const ERROR_TARGET: &str = "smtp32d::error";
/// Target of debug-log events describing one client call.
pub const CALL_TARGET: &str = "smtp32d::call";
/// The debug log's file name in the state directory.
pub const DEBUG_LOG_FILE: &str = "smtp32d.dbg";

/// Handle on the debug log: its filter and its file, both swappable.
///
/// The file layer itself is fixed; what a reload swaps is its per-layer
/// filter (through `reload`, which supports filters) and the file behind its
/// writer. Swapping a whole filtered layer through `reload` is not supported by
/// `tracing-subscriber`: the new layer never gets its filter id, and the first
/// event after the swap panics (it took the daemon down on SIGHUP).
pub struct DebugLog {
    filter: reload::Handle<Targets, Registry>,
    file: DebugFile,
}

/// The debug log's current file (`None` at level 0), shared by every writer.
#[derive(Clone, Default)]
struct DebugFile(Arc<Mutex<Option<File>>>);

/// Writes one formatted event to the current file, if there is one.
struct DebugFileWriter(Arc<Mutex<Option<File>>>);

impl Write for DebugFileWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut file = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match file.as_mut() {
            Some(f) => f.write(buf),
            None => Ok(buf.len()),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        // One lock for the whole event, so that lines from two threads never interleave.
        let mut file = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match file.as_mut() {
            Some(f) => f.write_all(buf),
            None => Ok(()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for DebugFile {
    type Writer = DebugFileWriter;

    fn make_writer(&'a self) -> Self::Writer {
        DebugFileWriter(self.0.clone())
    }
}

/// The state directory: `$STATE_DIRECTORY` (systemd), else
/// `$XDG_STATE_HOME/smtp32d`, else `/var/lib/smtp32d` for root, else
/// `~/.local/state/smtp32d`; `None` when none of these can be known (never a
/// shared folder such as `/tmp`, where another user could prepare the file).
#[cfg(unix)]
pub fn state_dir() -> Option<PathBuf> {
    let env_dir = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = env_dir("STATE_DIRECTORY") {
        return Some(d);
    }
    if let Some(d) = env_dir("XDG_STATE_HOME") {
        return Some(d.join("smtp32d"));
    }
    if effective_uid() == 0 {
        return Some(PathBuf::from("/var/lib/smtp32d"));
    }
    env_dir("HOME").map(|home| home.join(".local/state/smtp32d"))
}

/// The state directory on Windows: `%LOCALAPPDATA%\smtp32d` of the daemon's
/// account (for a service as LocalService, that account's own profile).
#[cfg(windows)]
pub fn state_dir() -> Option<PathBuf> {
    std::env::var_os("LOCALAPPDATA")
        .filter(|v| !v.is_empty())
        .map(|d| PathBuf::from(d).join("smtp32d"))
}

/// Installs the global subscriber with the debug log at `debug_level`.
pub fn init(debug_level: u8, debug_log: Option<&Path>) -> std::io::Result<DebugLog> {
    let file = DebugFile::default();
    *file.0.lock().unwrap_or_else(|e| e.into_inner()) = open_file(debug_level, debug_log)?;
    let (filter, handle) = reload::Layer::new(targets(debug_level));
    let file_layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(file.clone())
        .with_filter(filter);
    let level = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let stderr = crate::log_sink::stderr_layer().with_filter(level);
    tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr)
        .init();
    Ok(DebugLog {
        filter: handle,
        file,
    })
}

impl DebugLog {
    /// Switches the debug log to `debug_level` and `debug_log`. When the new
    /// file cannot be opened, nothing changes.
    pub fn apply(&self, debug_level: u8, debug_log: Option<&Path>) -> std::io::Result<()> {
        let new_file = open_file(debug_level, debug_log)?;
        // Close the old file first when going quiet; open the new one before
        // letting more events through.
        if new_file.is_none() {
            self.filter
                .reload(targets(debug_level))
                .map_err(std::io::Error::other)?;
            *self.file.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
        } else {
            *self.file.0.lock().unwrap_or_else(|e| e.into_inner()) = new_file;
            self.filter
                .reload(targets(debug_level))
                .map_err(std::io::Error::other)?;
        }
        Ok(())
    }
}

/// What reaches the file at `debug_level`: nothing at 0; errors (and any
/// warning) at 1; also every call at 2.
fn targets(debug_level: u8) -> Targets {
    match debug_level {
        0 => Targets::new().with_default(LevelFilter::OFF),
        1 => Targets::new()
            .with_target(ERROR_TARGET, LevelFilter::TRACE)
            .with_default(LevelFilter::WARN),
        _ => Targets::new()
            .with_target(ERROR_TARGET, LevelFilter::TRACE)
            .with_target(CALL_TARGET, LevelFilter::TRACE)
            .with_default(LevelFilter::WARN),
    }
}

/// Opens (appending, creating its folder) the file for `debug_level`; none at 0.
///
/// The log holds what programs did, so it is made as safely as the socket:
/// only in a folder the daemon's user owns and nobody else may write (made
/// 0700 when missing), without following a link at the file's name, mode
/// 0600, and only if what is there is a regular file of the daemon's user.
fn open_file(debug_level: u8, debug_log: Option<&Path>) -> std::io::Result<Option<File>> {
    if debug_level == 0 {
        return Ok(None);
    }
    let path = match debug_log {
        Some(p) => p.to_path_buf(),
        None => state_dir().map(|d| d.join(DEBUG_LOG_FILE)).ok_or_else(|| {
            let why = "no folder for the debug log: set debug_log, or STATE_DIRECTORY, XDG_STATE_HOME or HOME";
            std::io::Error::new(std::io::ErrorKind::NotFound, why)
        })?,
    };
    open_private(&path).map(Some)
}

/// Opens the debug log at `path` for appending, creating it and its folder.
#[cfg(windows)]
fn open_private(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

/// Opens the debug log at `path` for appending: a regular file of the
/// daemon's user, mode 0600, in a folder nobody else may write.
#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<File> {
    use std::io::{Error, ErrorKind};
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
    let path = path.to_path_buf();
    let dir = trust::folder_of(&path);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    let me = effective_uid();
    trust::check_folder(&dir, &Uids::of(&[me]), None).map_err(|e| {
        Error::new(
            ErrorKind::PermissionDenied,
            format!("debug log {}: {e}", path.display()),
        )
    })?;
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| {
            Error::new(
                e.kind(),
                format!(
                    "debug log {}: {e} (a link there is never followed)",
                    path.display()
                ),
            )
        })?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() || meta.uid() != me {
        let why = format!(
            "debug log {}: not a regular file of uid {me}",
            path.display()
        );
        return Err(Error::new(ErrorKind::PermissionDenied, why));
    }
    if meta.mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_debug_log_is_private_and_never_follows_a_planted_link() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("logs/smtp32d.dbg");
        let file = open_file(2, Some(&log))
            .unwrap()
            .expect("a file at level 2");
        drop(file);
        assert_eq!(
            std::fs::metadata(&log).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(log.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );

        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let planted = dir.path().join("logs/planted.dbg");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let err = open_file(2, Some(&planted)).unwrap_err();
        assert!(err.to_string().contains("never followed"), "{err}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    }

    #[test]
    fn the_debug_log_is_refused_in_a_folder_others_can_write() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let err = open_file(1, Some(&open.join("x.dbg"))).unwrap_err();
        assert!(err.to_string().contains("every user"), "{err}");
        assert!(!open.join("x.dbg").exists());
        assert!(open_file(0, Some(&open.join("x.dbg"))).unwrap().is_none());
    }
}
