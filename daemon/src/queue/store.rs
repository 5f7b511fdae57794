//! The queue on disk: one directory, two files per message.
//!
//! - `<id>.msg`: the envelope as one JSON line, then the message bytes. It is
//!   written once, to `tmp/<id>.msg`, `fsync`ed, renamed into the queue and
//!   the directory `fsync`ed: a message exists whole or not at all, and once
//!   [`Store::add`] returns it survives a crash or a power cut.
//! - `<id>.state`: the delivery state (recipients left, attempts, next try,
//!   whether a transaction is under way), replaced the same way. No state
//!   file: never tried.
//!
//! Removal deletes the `.msg` first, so a crash between the two deletions
//! leaves an orphan state file (removed at the next scan), never a message
//! that looks untried.

use serde::{Deserialize, Serialize};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Who sent a message to whom, as stored in front of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The uid that submitted it.
    pub uid: u32,
    /// The reverse-path; empty for `<>`.
    pub from: String,
    /// Every recipient, as submitted.
    pub rcpts: Vec<String>,
    /// DSN `NOTIFY=` asked for (empty: none).
    pub notify: String,
    /// DSN `RET=` asked for (empty: none).
    pub ret: String,
    /// DSN `ENVID=` asked for (empty: none).
    pub envid: String,
    /// Unix time it was queued.
    pub queued_at: u64,
}

/// One failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// Unix time of the attempt.
    pub at: u64,
    /// What went wrong.
    pub error: String,
}

/// Where a message's delivery stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryState {
    /// The recipients neither delivered nor bounced.
    pub remaining: Vec<String>,
    /// The failed attempts, oldest first.
    pub attempts: Vec<Attempt>,
    /// Unix time of the next try.
    pub next_try: u64,
    /// A transaction was started and its end not recorded: after a crash the
    /// relay may or may not have the message (the ambiguous final dot).
    pub in_flight: bool,
}

impl DeliveryState {
    /// The state of a message never tried.
    pub fn fresh(envelope: &Envelope) -> DeliveryState {
        DeliveryState {
            remaining: envelope.rcpts.clone(),
            attempts: Vec::new(),
            next_try: 0,
            in_flight: false,
        }
    }
}

/// A message found by [`Store::scan`].
pub struct Found {
    /// Its id.
    pub id: String,
    /// Its envelope.
    pub envelope: Envelope,
    /// Its state.
    pub state: DeliveryState,
    /// The message size in bytes.
    pub size: u64,
}

/// The queue directory.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Opens `dir`, creating it (and its `tmp`) with mode 0700; an existing
    /// one must be the daemon's and is set to 0700. Leftover temporary files
    /// (a crash during a write) are removed: they were never acknowledged.
    pub fn open(dir: &Path) -> io::Result<Store> {
        private_dir_builder().recursive(true).create(dir)?;
        check_own_dir(dir)?;
        let tmp = dir.join("tmp");
        private_dir_builder()
            .create(&tmp)
            .or_else(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => Ok(()),
                _ => Err(e),
            })?;
        for entry in fs::read_dir(&tmp)? {
            let _ = fs::remove_file(entry?.path());
        }
        Ok(Store {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores a new message durably (see the module comment).
    pub fn add(&self, id: &str, envelope: &Envelope, data: &[u8]) -> io::Result<()> {
        let mut bytes = serde_json::to_vec(envelope).map_err(io::Error::other)?;
        bytes.push(b'\n');
        bytes.extend_from_slice(data);
        self.replace(&format!("{id}.msg"), &bytes)
    }

    /// Replaces the state of `id` durably.
    pub fn set_state(&self, id: &str, state: &DeliveryState) -> io::Result<()> {
        let bytes = serde_json::to_vec(state).map_err(io::Error::other)?;
        self.replace(&format!("{id}.state"), &bytes)
    }

    /// The message bytes of `id` (without the envelope line).
    pub fn data(&self, id: &str) -> io::Result<Vec<u8>> {
        let mut bytes = fs::read(self.dir.join(format!("{id}.msg")))?;
        let start = bytes
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| i + 1);
        bytes.drain(..start);
        Ok(bytes)
    }

    /// Removes `id` for good (delivered, bounced or deleted).
    pub fn remove(&self, id: &str) -> io::Result<()> {
        fs::remove_file(self.dir.join(format!("{id}.msg")))?;
        match fs::remove_file(self.dir.join(format!("{id}.state"))) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        sync_dir(&self.dir)
    }

    /// Every message in the queue; unreadable ones are skipped with a
    /// warning (left in place for the administrator), orphan state files removed.
    pub fn scan(&self) -> io::Result<Vec<Found>> {
        let mut found = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(id) = name.strip_suffix(".state") {
                if !self.dir.join(format!("{id}.msg")).exists() {
                    let _ = fs::remove_file(self.dir.join(name));
                }
                continue;
            }
            let Some(id) = name.strip_suffix(".msg") else {
                continue;
            };
            match self.load(id) {
                Ok(f) => found.push(f),
                Err(e) => tracing::warn!(
                    "queue: cannot read message {id}: {e}; left in {}",
                    self.dir.display()
                ),
            }
        }
        found.sort_by(|a, b| (a.envelope.queued_at, &a.id).cmp(&(b.envelope.queued_at, &b.id)));
        Ok(found)
    }

    fn load(&self, id: &str) -> io::Result<Found> {
        let path = self.dir.join(format!("{id}.msg"));
        let bytes = fs::read(&path)?;
        let line_end = bytes
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(bytes.len());
        let envelope: Envelope =
            serde_json::from_slice(&bytes[..line_end]).map_err(io::Error::other)?;
        let size = bytes.len().saturating_sub(line_end + 1) as u64;
        let state = match fs::read(self.dir.join(format!("{id}.state"))) {
            Ok(s) => serde_json::from_slice(&s).map_err(io::Error::other)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => DeliveryState::fresh(&envelope),
            Err(e) => return Err(e),
        };
        Ok(Found {
            id: id.to_string(),
            envelope,
            state,
            size,
        })
    }

    /// Writes `bytes` to `tmp/<name>`, fsyncs it, renames it to `<name>` and
    /// fsyncs the directory. On failure the temporary file is removed.
    fn replace(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let tmp = self.dir.join("tmp").join(name);
        let write = || -> io::Result<()> {
            let mut options = OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            fs::rename(&tmp, self.dir.join(name))?;
            sync_dir(&self.dir)
        };
        write().inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
    }
}

/// A builder for the queue's folders: mode 0700 on Unix (on Windows the
/// state folder's ACL, the daemon account's own, applies).
fn private_dir_builder() -> fs::DirBuilder {
    #[allow(unused_mut)]
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
}

/// The queue's folder must be a folder of the daemon's user, and is made 0700.
#[cfg(unix)]
fn check_own_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = fs::symlink_metadata(dir)?;
    let me = smtp32_host::effective_uid();
    if !meta.is_dir() || meta.uid() != me {
        let why = format!("{} is not a directory owned by uid {me}", dir.display());
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

/// The queue's folder must be a folder (its ACL is the state folder's).
#[cfg(windows)]
fn check_own_dir(dir: &Path) -> io::Result<()> {
    if fs::symlink_metadata(dir)?.is_dir() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} is not a directory", dir.display()),
        ))
    }
}

/// Makes a rename in `dir` durable (Unix: fsync the folder; Windows: the
/// rename is journaled by NTFS, and a folder cannot be opened for fsync).
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    return fs::File::open(dir)?.sync_all();
    #[cfg(windows)]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn envelope() -> Envelope {
        Envelope {
            uid: 1000,
            from: "a@x.test".into(),
            rcpts: vec!["b@y.test".into(), "c@y.test".into()],
            notify: String::new(),
            ret: String::new(),
            envid: String::new(),
            queued_at: 17,
        }
    }

    #[test]
    fn a_message_and_its_state_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let qdir = dir.path().join("q");
        let store = Store::open(&qdir).unwrap();
        store
            .add("00AB", &envelope(), b"Subject: x\n\nbody\n")
            .unwrap();
        let mode = fs::metadata(&qdir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let store = Store::open(&qdir).unwrap();
        let found = store.scan().unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].id.as_str(), found[0].size), ("00AB", 17));
        assert_eq!(found[0].state, DeliveryState::fresh(&envelope()));
        let state = DeliveryState {
            remaining: vec!["c@y.test".into()],
            attempts: vec![],
            next_try: 9,
            in_flight: true,
        };
        store.set_state("00AB", &state).unwrap();
        assert_eq!(store.scan().unwrap()[0].state, state);
        assert_eq!(store.data("00AB").unwrap(), b"Subject: x\n\nbody\n");
        store.remove("00AB").unwrap();
        assert!(store.scan().unwrap().is_empty());
        assert_eq!(fs::read_dir(&qdir).unwrap().count(), 1, "only tmp/ is left");
    }

    #[test]
    fn orphan_state_and_temporary_files_are_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        fs::write(dir.path().join("tmp/0001.msg"), b"half").unwrap();
        fs::write(dir.path().join("0002.state"), b"{}").unwrap();
        let store = Store::open(store.dir()).unwrap();
        assert!(store.scan().unwrap().is_empty());
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert!(!dir.path().join("0002.state").exists());
    }
}
