//! The routing table shared by the calling threads and the reader thread:
//! who waits for which response, which callbacks belong to which handle, and
//! whether the daemon connection is still alive.
//!
//! Callback registration, the simplest scheme that loses nothing: a caller
//! that opens a connection puts its handle entry (with the callbacks) under
//! the *request id* of its `Open` before sending it. When the reader routes
//! the `Opened { handle }` response, it moves the entry to the handle, still
//! before it reads the next frame, so every later event finds it. Traffic
//! copies of a synchronous `Open` (greeting, EHLO) come *before* `Opened`,
//! when the handle is not yet known: while any `Open` is pending, events for
//! unknown handles are parked (bounded) and replayed when their `Opened` is
//! routed; once no `Open` is pending the parking lot is emptied.
//!
//! One mutex guards the whole table; nobody holds it while running a
//! callback or doing I/O. The blocking client waits on [`Slot`]s (a parked
//! thread); the async client (`asynchronous/`) on its own [`Waiter`] (a
//! oneshot channel): the routing is the same.

use crate::callbacks::{deliver_traffic, run_guarded, HandleEntry};
use crate::error::Error;
use crate::sync::lock;
use rustc_hash::FxHashMap;
use smtp32_protocol::{DaemonFrame, Direction, Event, Failure, Handle, Response};
use std::cell::Cell;
use std::sync::{Arc, Mutex};
use std::thread::Thread;

/// Traffic parked for handles whose `Opened` has not been routed yet is
/// dropped past this many bytes (a connect exchanges a few kilobytes).
const MAX_PARKED_BYTES: usize = 1 << 20;

/// Where a waiting caller's response lands.
pub(crate) trait Waiter: Send + Sync {
    /// The response came: hand it over and wake the caller.
    /// False when nobody waits any more (the caller gave up).
    fn fill(&self, response: Response) -> bool;
    /// The daemon connection died first: wake the caller to see it.
    fn kill(&self);
}

/// Where one waiting thread's response lands; filling it wakes the thread.
pub(crate) struct Slot {
    state: Mutex<SlotState>,
    thread: Thread,
}

enum SlotState {
    Waiting,
    Done(Response),
    /// The daemon connection died first.
    Dead,
    /// The response was taken.
    Taken,
}

thread_local! {
    /// The slot of the thread's last call, kept for its next one.
    static SPARE_SLOT: Cell<Option<Arc<Slot>>> = const { Cell::new(None) };
}

impl Slot {
    /// A slot for the calling thread: the one its last call used when
    /// nobody else holds it any more (an allocation and a thread handle
    /// fewer a call), else a new one.
    pub(crate) fn for_this_thread() -> Arc<Slot> {
        match SPARE_SLOT.take() {
            Some(mut slot) => match Arc::get_mut(&mut slot) {
                Some(only) => {
                    *only.state.get_mut().unwrap_or_else(|e| e.into_inner()) = SlotState::Waiting;
                    slot
                }
                None => Slot::new(),
            },
            None => Slot::new(),
        }
    }

    /// Keeps `slot` for the thread's next call ([`Slot::for_this_thread`]
    /// takes it only if by then nobody else holds it).
    pub(crate) fn keep(slot: Arc<Slot>) {
        SPARE_SLOT.set(Some(slot));
    }

    fn new() -> Arc<Slot> {
        Arc::new(Slot {
            state: Mutex::new(SlotState::Waiting),
            thread: std::thread::current(),
        })
    }

    /// True until the response (or the connection's death) arrives.
    pub(crate) fn is_waiting(&self) -> bool {
        matches!(*lock(&self.state), SlotState::Waiting)
    }

    /// `Some(Ok(response))` once it came, `Some(Err(()))` when the connection
    /// died first, `None` while waiting.
    pub(crate) fn take(&self) -> Option<Result<Response, ()>> {
        let mut s = lock(&self.state);
        match std::mem::replace(&mut *s, SlotState::Taken) {
            SlotState::Done(r) => Some(Ok(r)),
            SlotState::Dead | SlotState::Taken => Some(Err(())),
            SlotState::Waiting => {
                *s = SlotState::Waiting;
                None
            }
        }
    }

    /// Wakes the waiting thread (to read, or to see its response).
    pub(crate) fn wake(&self) {
        self.thread.unpark();
    }
}

impl Waiter for Slot {
    fn fill(&self, response: Response) -> bool {
        *lock(&self.state) = SlotState::Done(response);
        self.wake();
        true
    }

    fn kill(&self) {
        let mut s = lock(&self.state);
        if matches!(*s, SlotState::Waiting) {
            *s = SlotState::Dead;
        }
        drop(s);
        self.wake();
    }
}

struct Table<W> {
    pending: FxHashMap<u64, Arc<W>>,
    opening: FxHashMap<u64, Arc<HandleEntry>>,
    handles: FxHashMap<Handle, Arc<HandleEntry>>,
    parked: FxHashMap<Handle, Vec<(Direction, Vec<u8>)>>,
    parked_bytes: usize,
    dead: Option<String>,
}

/// The routing table (see the module documentation).
pub(crate) struct Routing<W = Slot> {
    table: Mutex<Table<W>>,
}

impl<W> Default for Routing<W> {
    fn default() -> Self {
        let table = Table {
            pending: FxHashMap::default(),
            opening: FxHashMap::default(),
            handles: FxHashMap::default(),
            parked: FxHashMap::default(),
            parked_bytes: 0,
            dead: None,
        };
        Routing {
            table: Mutex::new(table),
        }
    }
}

impl<W: Waiter> Routing<W> {
    /// Registers a caller waiting for the response to `id` (and, for `Open`,
    /// the entry to move to the new handle). Fails when the connection is dead.
    pub(crate) fn register(
        &self,
        id: u64,
        slot: Arc<W>,
        opening: Option<Arc<HandleEntry>>,
    ) -> Result<(), Error> {
        let mut t = lock(&self.table);
        if let Some(reason) = &t.dead {
            return Err(Error::cannot_initialize(reason.clone()));
        }
        t.pending.insert(id, slot);
        if let Some(entry) = opening {
            t.opening.insert(id, entry);
        }
        Ok(())
    }

    /// Forgets a registration whose request could not be sent.
    pub(crate) fn unregister(&self, id: u64) {
        let mut t = lock(&self.table);
        t.pending.remove(&id);
        t.opening.remove(&id);
    }

    /// True while a frame can come that no call reads (see `stream_wait.rs`).
    pub(crate) fn expects_events(&self) -> bool {
        let t = lock(&self.table);
        t.opening
            .values()
            .chain(t.handles.values())
            .any(|e| e.wants_events())
    }

    /// Why the connection died, if it did.
    pub(crate) fn dead_reason(&self) -> Option<String> {
        lock(&self.table).dead.clone()
    }

    /// Forgets the callbacks of a handle that is gone. An entry still waiting
    /// for its `Connected` status stays until the status has been delivered.
    pub(crate) fn forget(&self, handle: Handle) {
        let mut t = lock(&self.table);
        if let Some(entry) = t.handles.get(&handle) {
            entry.mark_closed();
            if !entry.status_pending() {
                t.handles.remove(&handle);
            }
        }
    }

    /// Reader: delivers a response to its caller, registering a new handle first.
    pub(crate) fn route_response(&self, id: u64, response: Response) {
        let mut replay = None;
        let tx = {
            let mut t = lock(&self.table);
            if let Some(entry) = t.opening.remove(&id) {
                if let Response::Opened { handle } = &response {
                    let handle = *handle;
                    t.handles.insert(handle, entry.clone());
                    if let Some(parked) = t.parked.remove(&handle) {
                        replay = Some((entry, handle, parked));
                    }
                }
            }
            if t.opening.is_empty() {
                t.parked.clear();
                t.parked_bytes = 0;
            }
            t.pending.remove(&id)
        };
        if let Some((entry, handle, parked)) = replay {
            for (direction, bytes) in parked {
                deliver_traffic(&entry, handle, direction, &bytes);
            }
        }
        if let Some(slot) = tx {
            let opened = match &response {
                Response::Opened { handle } => Some(*handle),
                _ => None,
            };
            if !slot.fill(response) {
                // Its caller gave up (and closes the handle): forget its entry.
                if let Some(handle) = opened {
                    lock(&self.table).handles.remove(&handle);
                }
            }
        }
    }

    /// Reader: delivers a traffic copy, or parks it while its handle is unknown.
    pub(crate) fn route_traffic(&self, handle: Handle, direction: Direction, bytes: Vec<u8>) {
        let entry = {
            let mut t = lock(&self.table);
            match t.handles.get(&handle) {
                Some(e) => e.clone(),
                None => {
                    if !t.opening.is_empty() && t.parked_bytes + bytes.len() <= MAX_PARKED_BYTES {
                        t.parked_bytes += bytes.len();
                        t.parked.entry(handle).or_default().push((direction, bytes));
                    }
                    return;
                }
            }
        };
        deliver_traffic(&entry, handle, direction, &bytes);
    }

    /// Reader: runs the status callback of an asynchronous connect.
    pub(crate) fn route_connected(&self, handle: Handle, result: Result<(), Failure>) {
        let entry = {
            let mut t = lock(&self.table);
            let entry = t.handles.get(&handle).cloned();
            if result.is_err() {
                // The daemon has freed the handle.
                t.handles.remove(&handle);
            }
            entry
        };
        let Some(entry) = entry else { return };
        if let Some(cb) = entry.take_status() {
            let result = result.map_err(Error::from);
            run_guarded("status", || cb(handle, result));
        }
        if entry.is_closed() {
            lock(&self.table).handles.remove(&handle);
        }
    }

    /// Reader, when the stream ends: marks the connection dead; every waiting
    /// caller fails with `reason` (their slots are killed and woken), and every
    /// status callback still owed runs with the same error. Idempotent.
    pub(crate) fn kill(&self, reason: &str) {
        let (owed, waiting) = {
            let mut t = lock(&self.table);
            if t.dead.is_some() {
                return;
            }
            t.dead = Some(reason.to_owned());
            let waiting: Vec<Arc<W>> = t.pending.drain().map(|(_, s)| s).collect();
            t.opening.clear();
            t.parked.clear();
            let owed: Vec<(Handle, Arc<HandleEntry>)> = t.handles.drain().collect();
            (owed, waiting)
        };
        for slot in waiting {
            slot.kill();
        }
        for (handle, entry) in owed {
            if let Some(cb) = entry.take_status() {
                let err = Error::cannot_initialize(reason);
                run_guarded("status", || cb(handle, Err(err)));
            }
        }
    }
}

/// Routes one frame from the daemon (whoever read it); `Err` with the reason
/// when the frame ends the connection.
pub(crate) fn route_frame<W: Waiter>(
    routing: &Routing<W>,
    frame: DaemonFrame,
) -> Result<(), String> {
    match frame {
        DaemonFrame::Response { id, response } => routing.route_response(id.0, response),
        DaemonFrame::Event(Event::Traffic {
            handle,
            direction,
            bytes,
        }) => routing.route_traffic(handle, direction, bytes),
        DaemonFrame::Event(Event::Connected { handle, result }) => {
            routing.route_connected(handle, result)
        }
        DaemonFrame::ProtocolError { reason } => {
            return Err(format!("daemon reported a protocol error: {reason}"))
        }
        DaemonFrame::Welcome(_) | DaemonFrame::Refused { .. } => {
            return Err("unexpected handshake frame from the daemon".to_owned())
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_slot_serves_the_next_call_waiting_again() {
        let slot = Slot::for_this_thread();
        assert!(slot.fill(Response::Pong { payload: vec![1] }));
        assert!(matches!(slot.take(), Some(Ok(Response::Pong { .. }))));
        let first = Arc::as_ptr(&slot);
        Slot::keep(slot);
        let again = Slot::for_this_thread();
        assert_eq!(Arc::as_ptr(&again), first);
        assert!(again.is_waiting());
        assert!(again.take().is_none());
    }

    #[test]
    fn a_slot_someone_still_holds_is_not_reused() {
        let slot = Slot::for_this_thread();
        let held = slot.clone();
        Slot::keep(slot);
        let next = Slot::for_this_thread();
        assert!(!Arc::ptr_eq(&next, &held));
        // Nor on another thread, whose calls park another thread.
        let elsewhere = std::thread::spawn(|| {
            let s = Slot::for_this_thread();
            s.thread.id()
        })
        .join()
        .unwrap();
        assert_ne!(elsewhere, next.thread.id());
    }
}
