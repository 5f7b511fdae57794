//! The mail queue of `smtp32-sendmail`: messages wait on disk until the
//! relay takes them, so a relay that is down, slow or answering 4xx loses
//! nothing.
//!
//! Layout:
//! - [`store`]: the files (one per message, written with fsync and an atomic rename).
//! - [`dsn`]: the RFC 3464 bounce.
//! - [`rewrite`]: `relay.from`, `relay.maildomain` and `relay.aliases` applied to a message.
//! - [`clock`]: Unix time and its RFC 5322 form.
//!
//! [`Queue`] is the index in memory over the store: the files are the
//! truth, read once at start; every change is written to disk before the
//! index shows it. [`QueueSlot`] opens the queue the first time it is
//! needed (at start when a relay is configured) and tells the runner
//! (`crate::queue_runner`: delivery through the relay, retries, bounces).

pub mod clock;
pub mod dsn;
pub mod rewrite;
pub mod store;

use crate::config::Settings;
use crate::peer::Viewer;
use crate::smtp::DsnRequest;
use smtp32_protocol::{Failure, QueueEntry, Submission};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use store::{DeliveryState, Envelope, Store};
use tokio::sync::Notify;
use tracing::{info, warn};

/// The target of the queue's log lines (one per message and recipient, as Postfix's maillog).
pub const QUEUE_TARGET: &str = "smtp32d::queue";

/// One message in the index.
struct Item {
    envelope: Envelope,
    state: DeliveryState,
    size: u64,
    /// The runner holds it now (a delivery under way).
    busy: bool,
}

/// A message the runner took to deliver.
#[derive(Debug, Clone)]
pub struct Due {
    /// Its id.
    pub id: String,
    /// Its envelope.
    pub envelope: Envelope,
    /// Its state when taken.
    pub state: DeliveryState,
    /// Its size in bytes.
    pub size: u64,
}

/// The queue: its store and the index over it.
pub struct Queue {
    store: Store,
    items: Mutex<HashMap<String, Item>>,
    /// Wakes the runner: a new message, a flush.
    wake: Notify,
}

impl Queue {
    /// Opens the store in `dir` and reads every message in it. A message
    /// whose last transaction never recorded its end (the daemon died during
    /// it) is logged as an ambiguous delivery and tried again at once.
    pub fn open(dir: &Path) -> std::io::Result<Queue> {
        let store = Store::open(dir)?;
        let mut items = HashMap::new();
        for found in store.scan()? {
            let mut state = found.state;
            if state.in_flight {
                warn!(
                    target: QUEUE_TARGET,
                    "{}: ambiguous: the daemon stopped during a transaction with the relay, \
                     which may already have the message; sending it again",
                    found.id
                );
                state.in_flight = false;
                state.next_try = 0;
            }
            items.insert(
                found.id,
                Item {
                    envelope: found.envelope,
                    state,
                    size: found.size,
                    busy: false,
                },
            );
        }
        info!(target: QUEUE_TARGET, "queue {}: {} messages", dir.display(), items.len());
        Ok(Queue {
            store,
            items: Mutex::new(items),
            wake: Notify::new(),
        })
    }

    fn items(&self) -> std::sync::MutexGuard<'_, HashMap<String, Item>> {
        // Every update is one insert, remove or field store: a panic cannot
        // leave the map half-changed, so poisoning is recovered from.
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a message from `uid` durably and returns its id (blocking:
    /// call it off the async threads). A full disk or any write error is
    /// `Failure::LimitReached`, and nothing was queued.
    pub fn submit(&self, uid: u32, submission: Submission) -> Result<String, Failure> {
        let Submission {
            from,
            rcpts,
            notify,
            ret,
            envid,
            data,
        } = submission;
        check_envelope(&from, &rcpts)?;
        DsnRequest {
            notify: notify.clone(),
            ret: ret.clone(),
            envid: envid.clone(),
        }
        .check()?;
        let envelope = Envelope {
            uid,
            from,
            rcpts,
            notify,
            ret,
            envid,
            queued_at: clock::now(),
        };
        let id = self.add(envelope, &data)?;
        let items = self.items();
        if let Some(item) = items.get(&id) {
            let e = &item.envelope;
            let (from, size, n) = (&e.from, item.size, e.rcpts.len());
            let line = format!("{id}: uid={uid} from=<{from}> size={size} nrcpt={n} queued");
            info!(target: QUEUE_TARGET, "{line}");
        }
        drop(items);
        self.wake.notify_one();
        Ok(id)
    }

    /// Writes a new message to disk, then into the index.
    fn add(&self, envelope: Envelope, data: &[u8]) -> Result<String, Failure> {
        let id = loop {
            let id = new_id(envelope.queued_at);
            if !self.items().contains_key(&id) {
                break id;
            }
        };
        self.store.add(&id, &envelope, data).map_err(|e| {
            let dir = self.store.dir().display();
            warn!(target: QUEUE_TARGET, "cannot queue a message in {dir}: {e}");
            Failure::LimitReached(format!("the queue cannot store the message now: {e}"))
        })?;
        let state = DeliveryState::fresh(&envelope);
        let item = Item {
            envelope,
            state,
            size: data.len() as u64,
            busy: false,
        };
        self.items().insert(id.clone(), item);
        Ok(id)
    }

    /// The messages `viewer` may see, oldest first.
    pub fn list(&self, viewer: &Viewer) -> Vec<QueueEntry> {
        let now = clock::now();
        let items = self.items();
        let mut rows: Vec<QueueEntry> = items
            .iter()
            .filter(|(_, item)| may_see(viewer, item.envelope.uid))
            .map(|(id, item)| QueueEntry {
                id: id.clone(),
                uid: item.envelope.uid,
                from: item.envelope.from.clone(),
                rcpts: item.state.remaining.clone(),
                size: item.size,
                age_secs: now.saturating_sub(item.envelope.queued_at),
                attempts: item.state.attempts.len() as u32,
                last_error: item
                    .state
                    .attempts
                    .last()
                    .map(|a| a.error.clone())
                    .unwrap_or_default(),
                next_try_secs: if item.busy {
                    0
                } else {
                    item.state.next_try.saturating_sub(now)
                },
            })
            .collect();
        drop(items);
        rows.sort_by(|a, b| (b.age_secs, &a.id).cmp(&(a.age_secs, &b.id)));
        rows
    }

    /// The number of messages queued and their bytes, for the metrics.
    pub fn figures(&self) -> (u64, u64) {
        let items = self.items();
        (
            items.len() as u64,
            items.values().map(|item| item.size).sum(),
        )
    }

    /// Makes one message (or every one `viewer` may see) due now.
    pub fn flush(&self, viewer: &Viewer, id: Option<&str>) -> Result<(), Failure> {
        let mut items = self.items();
        match id {
            Some(id) => match items.get_mut(id) {
                Some(item) if may_see(viewer, item.envelope.uid) => item.state.next_try = 0,
                _ => return Err(unknown(id)),
            },
            None => {
                for item in items
                    .values_mut()
                    .filter(|i| may_see(viewer, i.envelope.uid))
                {
                    item.state.next_try = 0;
                }
            }
        }
        drop(items);
        self.wake.notify_one();
        Ok(())
    }

    /// Removes a message without delivering it (blocking). Refused while
    /// the runner is delivering it.
    pub fn delete(&self, viewer: &Viewer, id: &str) -> Result<(), Failure> {
        let mut items = self.items();
        match items.get(id) {
            Some(item) if may_see(viewer, item.envelope.uid) => {
                if item.busy {
                    return Err(Failure::InProgress);
                }
            }
            _ => return Err(unknown(id)),
        }
        self.store
            .remove(id)
            .map_err(|e| Failure::InvalidArgument(format!("cannot delete {id}: {e}")))?;
        items.remove(id);
        drop(items);
        info!(target: QUEUE_TARGET, "{id}: deleted by uid {}", viewer.peer.uid.map(crate::platform::wire_uid).unwrap_or(u32::MAX));
        Ok(())
    }

    /// Takes every message due at `now` for delivery, oldest first.
    pub fn take_due(&self, now: u64) -> Vec<Due> {
        let mut items = self.items();
        let mut due: Vec<Due> = items
            .iter_mut()
            .filter(|(_, item)| !item.busy && item.state.next_try <= now)
            .map(|(id, item)| {
                item.busy = true;
                Due {
                    id: id.clone(),
                    envelope: item.envelope.clone(),
                    state: item.state.clone(),
                    size: item.size,
                }
            })
            .collect();
        drop(items);
        due.sort_by(|a, b| (a.envelope.queued_at, &a.id).cmp(&(b.envelope.queued_at, &b.id)));
        due
    }

    /// The earliest next try of a message not under way.
    pub fn next_due(&self) -> Option<u64> {
        self.items()
            .values()
            .filter(|i| !i.busy)
            .map(|i| i.state.next_try)
            .min()
    }

    /// Records `state` for a message the runner holds (blocking); with
    /// `release`, the runner lets go of it.
    pub fn record(&self, id: &str, state: DeliveryState, release: bool) -> std::io::Result<()> {
        self.store.set_state(id, &state)?;
        if let Some(item) = self.items().get_mut(id) {
            item.state = state;
            item.busy = !release;
        }
        Ok(())
    }

    /// Gives a message back with `state` kept in memory only (the disk
    /// refused it; what is on disk stays the truth after a restart).
    pub fn release_with(&self, id: &str, state: DeliveryState) {
        if let Some(item) = self.items().get_mut(id) {
            item.state = state;
            item.busy = false;
        }
    }

    /// Removes a message that is done with (blocking).
    pub fn finish(&self, id: &str) -> std::io::Result<()> {
        self.store.remove(id)?;
        self.items().remove(id);
        Ok(())
    }

    /// The message bytes of `id` (blocking).
    pub fn data(&self, id: &str) -> std::io::Result<Vec<u8>> {
        self.store.data(id)
    }

    /// Queues a bounce (blocking): from `<>` to `to`, on behalf of `uid`.
    pub fn add_bounce(&self, uid: u32, to: &str, data: &[u8]) -> Result<String, Failure> {
        let envelope = Envelope {
            uid,
            from: String::new(),
            rcpts: vec![to.to_string()],
            notify: String::new(),
            ret: String::new(),
            envid: String::new(),
            queued_at: clock::now(),
        };
        self.add(envelope, data)
    }

    /// Waits until a message is submitted or flushed (or was, since the last wait).
    pub async fn woken(&self) {
        self.wake.notified().await
    }

    /// Wakes the runner.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// The queue of a running daemon, opened on first use.
#[derive(Default)]
pub struct QueueSlot {
    queue: Mutex<Option<Arc<Queue>>>,
    /// Told once, when the queue opens.
    opened: Notify,
}

impl QueueSlot {
    /// The queue if it is open already (never opens it).
    pub fn opened(&self) -> Option<Arc<Queue>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Resolves with the queue once it is open.
    pub async fn when_open(&self) -> Arc<Queue> {
        loop {
            if let Some(queue) = self.opened() {
                return queue;
            }
            self.opened.notified().await;
        }
    }

    /// The queue, opened as `settings` say on the first call (which wakes
    /// [`QueueSlot::when_open`]). `Failure::NotConfigured` when there is no
    /// relay; `Failure::LimitReached` when the directory cannot be used.
    pub fn get(&self, settings: &Settings) -> Result<Arc<Queue>, Failure> {
        let mut slot = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(queue) = slot.as_ref() {
            return Ok(queue.clone());
        }
        if settings.relay.host.is_empty() {
            return Err(Failure::NotConfigured(
                "the daemon has no relay: set relay.host in its configuration".into(),
            ));
        }
        let Some(dir) = settings.queue.directory() else {
            return Err(Failure::NotConfigured(
                "no folder for the queue: set queue.dir, or STATE_DIRECTORY, XDG_STATE_HOME or HOME".into(),
            ));
        };
        let queue = Arc::new(Queue::open(&dir).map_err(|e| {
            warn!(target: QUEUE_TARGET, "cannot open the queue {}: {e}", dir.display());
            Failure::LimitReached(format!(
                "the daemon's queue {} cannot be used: {e}",
                dir.display()
            ))
        })?);
        *slot = Some(queue.clone());
        self.opened.notify_one();
        Ok(queue)
    }
}

/// The DSN parameters asked for, if any.
pub fn dsn_request(notify: &str, ret: &str, envid: &str) -> Option<DsnRequest> {
    let dsn = DsnRequest {
        notify: notify.into(),
        ret: ret.into(),
        envid: envid.into(),
    };
    (!dsn.is_empty()).then_some(dsn)
}

/// True when `viewer` may see a message submitted by `uid`.
fn may_see(viewer: &Viewer, uid: u32) -> bool {
    viewer.admin || viewer.peer.uid.map(crate::platform::wire_uid) == Some(uid)
}

fn unknown(id: &str) -> Failure {
    Failure::InvalidArgument(format!("no queued message {id:?} of yours"))
}

/// A sender and at least one recipient, with no CR, LF or NUL, no `<>` inside.
fn check_envelope(from: &str, rcpts: &[String]) -> Result<(), Failure> {
    if rcpts.is_empty() {
        return Err(Failure::InvalidArgument(
            "a message needs at least one recipient".into(),
        ));
    }
    for addr in std::iter::once(from).chain(rcpts.iter().map(String::as_str)) {
        crate::smtp::validate_arg("address", addr)?;
        if addr.contains(['<', '>']) {
            return Err(Failure::InvalidArgument(format!(
                "address {addr:?}: give it without <>"
            )));
        }
    }
    if rcpts.iter().any(String::is_empty) {
        return Err(Failure::InvalidArgument("an empty recipient".into()));
    }
    Ok(())
}

/// A queue id: the queue time and 32 random bits, in upper-case hex (16 digits).
fn new_id(queued_at: u64) -> String {
    format!("{:08X}{:08X}", queued_at as u32, rand::random::<u32>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::Peer;

    fn viewer(uid: u32, admin: bool) -> Viewer {
        Viewer {
            peer: Peer {
                pid: None,
                uid: Some(crate::platform::test_user(uid)),
                gid: None,
            },
            admin,
        }
    }

    fn submission(rcpts: &[&str]) -> Submission {
        Submission {
            from: "a@x.test".into(),
            rcpts: rcpts.iter().map(|r| r.to_string()).collect(),
            notify: String::new(),
            ret: String::new(),
            envid: String::new(),
            data: b"Subject: t\n\nhello\n".to_vec(),
        }
    }

    #[test]
    fn a_user_sees_flushes_and_deletes_only_their_own_messages() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        let mine = queue.submit(1000, submission(&["b@y.test"])).unwrap();
        let theirs = queue.submit(1001, submission(&["c@y.test"])).unwrap();
        let rows = queue.list(&viewer(1000, false));
        assert_eq!(
            rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            [mine.as_str()]
        );
        assert_eq!(rows[0].size, 18);
        assert_eq!(queue.list(&viewer(5, true)).len(), 2);
        assert!(queue.flush(&viewer(1000, false), Some(&theirs)).is_err());
        assert!(queue.delete(&viewer(1000, false), &theirs).is_err());
        queue.delete(&viewer(1000, false), &mine).unwrap();
        queue.delete(&viewer(5, true), &theirs).unwrap();
        assert!(Queue::open(dir.path())
            .unwrap()
            .list(&viewer(0, true))
            .is_empty());
    }

    #[test]
    fn an_interrupted_transaction_is_due_again_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        let id = queue.submit(1000, submission(&["b@y.test"])).unwrap();
        let due = queue.take_due(clock::now());
        assert_eq!(due.len(), 1);
        assert!(
            queue.take_due(clock::now()).is_empty(),
            "a message is taken once"
        );
        let state = DeliveryState {
            in_flight: true,
            next_try: u64::MAX,
            ..due[0].state.clone()
        };
        queue.record(&id, state, false).unwrap();
        let reopened = Queue::open(dir.path()).unwrap();
        assert_eq!(reopened.take_due(clock::now()).len(), 1);
    }

    #[test]
    fn bad_envelopes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        assert!(queue.submit(1, submission(&[])).is_err());
        assert!(queue.submit(1, submission(&["a\r\nRSET"])).is_err());
        assert!(queue.submit(1, submission(&["<a@b>"])).is_err());
        assert!(queue.list(&viewer(0, true)).is_empty());
    }
}
