//! Where the daemon's own log lines go (the debug log file is `logging`'s): to journald as
//! structured entries with priorities (`journalctl -p err` shows only errors) when systemd
//! connected stderr to the journal, as `JOURNAL_STREAM` says; else to stderr as plain text,
//! with ANSI colours only when stderr is a terminal.
//!
//! `JOURNAL_STREAM` is `DEVICE:INODE` of the stream systemd gave the service; it is inherited by
//! children whose stderr may be something else, so it counts only when it names stderr itself
//! (as systemd.exec(5) advises).

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;

/// The sink for stderr's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// journald, through its native protocol.
    Journal,
    /// Text on stderr; colours when it is a terminal.
    Text { ansi: bool },
}

impl Sink {
    /// The sink for this process: journald when `JOURNAL_STREAM` names stderr, else text.
    pub fn for_stderr() -> Sink {
        let stderr = std::io::stderr();
        let journal = std::env::var("JOURNAL_STREAM")
            .ok()
            .is_some_and(|v| names(&v, stderr.as_fd()));
        if journal {
            Sink::Journal
        } else {
            Sink::Text {
                ansi: stderr.is_terminal(),
            }
        }
    }
}

/// True when `journal_stream` (`DEVICE:INODE`) is the file behind `fd`.
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

#[cfg(test)]
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
