//! An IPC client's stream as the daemon writes it. Every write goes through
//! the client's [`Outlet`] under its lock, so writes never interleave and
//! frames leave in the order they were handed over.
//!
//! Frames normally wait in the client's queue for its writer task (which
//! gathers what is queued into one write). A response may instead be written
//! at once by whoever has it ([`write_now`]), when nothing is queued and no
//! write holds the lock: on the request path that saves the hand-over to the
//! writer (the queue, its wake-up, its poll). What the socket does not take
//! at once is finished by a task that keeps the lock, and the client's stall
//! timeout, so nothing overtakes it. Only on the client's own thread (where
//! its sessions run) and only on Unix: a named pipe is written by the writer.

use crate::budget::ClientBudget;
use crate::peer::ClientId;
use interprocess::local_socket::tokio::Stream;
use rustc_hash::FxHashMap;
use smtp32_protocol::codec::append_frame;
use smtp32_protocol::DaemonFrame;
use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, Mutex, OwnedMutexGuard};
use tokio_util::sync::CancellationToken;

/// A write at once keeps an encode buffer up to this size.
const KEPT_SCRATCH_BYTES: usize = 64 * 1024;

/// The write side of one client's stream.
pub struct Outlet {
    stream: Rc<Stream>,
    /// Held by every write: the writer's batches and the writes at once.
    lock: Arc<Mutex<()>>,
    /// The writer's queue, looked at (not used) by a write at once.
    queue: mpsc::Sender<DaemonFrame>,
    /// The bytes of frames written, given back here.
    budget: Arc<ClientBudget>,
    stall: Duration,
    stalled: CancellationToken,
    /// A write at once encodes here.
    scratch: RefCell<Vec<u8>>,
}

thread_local! {
    /// The outlets of the clients served on this thread.
    static OUTLETS: RefCell<FxHashMap<ClientId, Rc<Outlet>>> = RefCell::new(FxHashMap::default());
}

/// An outlet registered for [`write_now`]; unregistered when dropped.
pub struct Registered(ClientId);

impl Drop for Registered {
    fn drop(&mut self) {
        OUTLETS.with(|outlets| outlets.borrow_mut().remove(&self.0));
    }
}

impl Outlet {
    /// The outlet of `stream`, whose writer reads `queue`; frames written
    /// give their bytes back to `budget`; a client that reads nothing for
    /// `stall` while a write waits is cut (`stalled` fires).
    pub fn new(
        stream: Rc<Stream>,
        queue: mpsc::Sender<DaemonFrame>,
        budget: Arc<ClientBudget>,
        stall: Duration,
        stalled: CancellationToken,
    ) -> Outlet {
        Outlet {
            stream,
            lock: Arc::new(Mutex::new(())),
            queue,
            budget,
            stall,
            stalled,
            scratch: RefCell::new(Vec::new()),
        }
    }

    /// Makes the outlet `client`'s for [`write_now`] on this thread (on
    /// Unix; a pipe is written by the writer alone).
    pub fn register(self: &Rc<Self>, client: ClientId) -> Registered {
        #[cfg(unix)]
        OUTLETS.with(|outlets| outlets.borrow_mut().insert(client, self.clone()));
        Registered(client)
    }

    /// Writes all of `bytes` under the lock; false when the stream failed,
    /// or when the client read nothing for the stall timeout (then
    /// `stalled` fires).
    pub async fn write(&self, bytes: &[u8]) -> bool {
        let _turn = self.lock.lock().await;
        self.write_locked(bytes).await
    }

    /// The budget frames written give their bytes back to.
    pub fn budget(&self) -> &ClientBudget {
        &self.budget
    }

    async fn write_locked(&self, mut bytes: &[u8]) -> bool {
        let mut writer = &*self.stream;
        while !bytes.is_empty() {
            match tokio::time::timeout(self.stall, writer.write(bytes)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return false,
                Ok(Ok(n)) => bytes = &bytes[n..],
                Err(_) => {
                    self.stalled.cancel();
                    return false;
                }
            }
        }
        true
    }

    /// Writes `frame` now if nothing is queued or being written; false
    /// when it did not (the caller queues it).
    fn write_now(self: Rc<Self>, frame: &DaemonFrame) -> bool {
        if self.queue.capacity() < self.queue.max_capacity() {
            return false;
        }
        let Ok(turn) = self.lock.clone().try_lock_owned() else {
            return false;
        };
        let mut bytes = self.scratch.borrow_mut();
        bytes.clear();
        if append_frame(frame, &mut bytes).is_err() {
            // The writer ends the stream on it.
            return false;
        }
        let written = match self.try_write(&bytes) {
            Some(Ok(n)) => n,
            Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => 0,
            // Broken, or no write at once here: the writer sees to it.
            Some(Err(_)) | None => return false,
        };
        if written == bytes.len() {
            if bytes.capacity() > KEPT_SCRATCH_BYTES {
                *bytes = Vec::new();
            }
        } else {
            // The bytes go to the task (a large frame's are not copied),
            // and count against the client's budget until written.
            let rest = std::mem::take(&mut *bytes);
            drop(bytes);
            self.budget.charge(rest.len() - written);
            actix_rt::spawn(self.finish(rest, written, turn));
        }
        true
    }

    /// Writes what a write at once left (`bytes` after `written`), keeping
    /// the lock it took.
    async fn finish(self: Rc<Self>, bytes: Vec<u8>, written: usize, turn: OwnedMutexGuard<()>) {
        self.write_locked(&bytes[written..]).await;
        drop(turn);
        self.budget.release(bytes.len() - written);
    }

    /// One write that does not wait; `None` where there is none (a pipe).
    fn try_write(&self, bytes: &[u8]) -> Option<io::Result<usize>> {
        #[cfg(unix)]
        {
            let Stream::UdSocket(socket) = &*self.stream;
            Some(socket.inner().try_write(bytes))
        }
        #[cfg(windows)]
        {
            let _ = bytes;
            None
        }
    }
}

/// Writes `frame` to `client`'s stream now, when its outlet is on this
/// thread and free (see the module docs); false when it did not (the
/// caller queues it).
pub fn write_now(client: ClientId, frame: &DaemonFrame) -> bool {
    match OUTLETS.with(|outlets| outlets.borrow().get(&client).cloned()) {
        Some(outlet) => outlet.write_now(frame),
        None => false,
    }
}
