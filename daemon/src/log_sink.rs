//! Where the daemon's own log lines go (the debug log file is `logging`'s): to journald as
//! structured entries with priorities (`journalctl -p err` shows only errors) when systemd
//! connected stderr to the journal, as `JOURNAL_STREAM` says; else to stderr as plain text,
//! with ANSI colours only when stderr is a terminal.
//!
//! `JOURNAL_STREAM` is `DEVICE:INODE` of the stream systemd gave the service; it is inherited by
//! children whose stderr may be something else, so it counts only when it names stderr itself
//! (as systemd.exec(5) advises).

use std::io::IsTerminal;
#[cfg(unix)]
use std::os::fd::AsFd;
#[cfg(unix)]
use std::os::unix::fs::MetadataExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The sink for stderr's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// journald, through its native protocol.
    #[cfg(unix)]
    Journal,
    /// Text on stderr; colours when it is a terminal.
    Text { ansi: bool },
}

impl Sink {
    /// The sink for this process: journald when `JOURNAL_STREAM` names stderr, else text.
    pub fn for_stderr() -> Sink {
        let stderr = std::io::stderr();
        #[cfg(unix)]
        if std::env::var("JOURNAL_STREAM")
            .ok()
            .is_some_and(|v| names(&v, stderr.as_fd()))
        {
            return Sink::Journal;
        }
        Sink::Text {
            ansi: stderr.is_terminal(),
        }
    }
}

/// The layer for stderr's events: journald when [`Sink::for_stderr`] says so
/// and its socket answers (a container may have none: then plain text), else
/// text, coloured only on a terminal.
pub fn stderr_layer<S>() -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let text = |ansi| {
        Box::new(
            tracing_subscriber::fmt::layer()
                .with_ansi(ansi)
                .with_writer(std::io::stderr),
        )
    };
    match Sink::for_stderr() {
        #[cfg(unix)]
        Sink::Journal => match tracing_journald::layer() {
            Ok(journal) => Box::new(journal.with_syslog_identifier("smtp32d".into())),
            Err(_) => text(false),
        },
        Sink::Text { ansi } => text(ansi),
    }
}

/// True when `journal_stream` (`DEVICE:INODE`) is the file behind `fd`.
#[cfg(unix)]
fn names(journal_stream: &str, fd: std::os::fd::BorrowedFd<'_>) -> bool {
    let Some((dev, ino)) = journal_stream.trim().split_once(':') else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    let Ok(owned) = fd.try_clone_to_owned() else {
        return false;
    };
    match std::fs::File::from(owned).metadata() {
        Ok(meta) => meta.dev() == dev && meta.ino() == ino,
        Err(_) => false,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn journal_stream_counts_only_when_it_names_the_descriptor() {
        let file = tempfile::tempfile().unwrap();
        let meta = file.metadata().unwrap();
        assert!(names(
            &format!("{}:{}", meta.dev(), meta.ino()),
            file.as_fd()
        ));
        assert!(!names(
            &format!("{}:{}", meta.dev(), meta.ino() + 1),
            file.as_fd()
        ));
        assert!(!names("garbage", file.as_fd()));
        assert!(!names("1:x", file.as_fd()));
    }
}
