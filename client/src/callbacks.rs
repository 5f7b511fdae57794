//! Callback types and the per-handle state that the reading thread and the
//! calling threads share.
//!
//! Callbacks run on the thread that reads the daemon stream (see
//! `reader.rs`): a thread waiting in a call — usually the caller itself —
//! or the client's reader thread ("smtp32-reader") while no call waits. They
//! run in the order the daemon sent the frames, so the traffic copies caused
//! by a call are delivered before that call returns. A callback must return
//! quickly and must not call blocking smtp32 functions: such a call fails at
//! once with `ReturnCode::InProgress` instead of deadlocking the reader.
//! [`Connection::xquit`](crate::Connection::xquit) is the exception: from a
//! callback it is sent without waiting for its answer.
//!
//! [`CallbackGate`] is what lets a C program free a handle's lParam context
//! once `smtp_quit`/`smtp_xquit` returned: closing it waits for the
//! handle's callbacks running on other threads and admits no new one.

use crate::error::Error;
use crate::sync::lock;
use smtp32_protocol::{Direction, Handle};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Receives a copy of every byte exchanged with the SMTP server, both
/// directions, in wire order. Runs on the thread that reads (module docs).
pub type DebugCallback = Arc<dyn Fn(Handle, Direction, &[u8]) + Send + Sync>;

/// Receives the outcome of an asynchronous connect ([`Client::xhelo`](crate::Client::xhelo)),
/// exactly once. Runs on the thread that reads (module docs).
pub type StatusCallback = Box<dyn FnOnce(Handle, Result<(), Error>) + Send>;

/// Called on the waiting thread at least every 50 ms while a call waits for
/// the daemon, so that single-threaded event loops stay responsive.
pub type YieldHook = Arc<dyn Fn() + Send + Sync>;

/// The default yield hook: `std::thread::yield_now`.
pub fn default_yield() -> YieldHook {
    Arc::new(std::thread::yield_now)
}

/// What the library keeps for one SMTP handle on the client side.
pub(crate) struct HandleEntry {
    debug: Mutex<Option<DebugCallback>>,
    /// Whether the daemon currently sends traffic copies for this handle.
    daemon_debug: AtomicBool,
    status: Mutex<Option<StatusCallback>>,
    yield_hook: Mutex<Option<YieldHook>>,
    busy: AtomicBool,
    aborted: AtomicBool,
    closed: AtomicBool,
}

impl HandleEntry {
    /// A new entry; yielding is on with the default hook.
    pub(crate) fn new(debug: Option<DebugCallback>, status: Option<StatusCallback>) -> Arc<Self> {
        Arc::new(HandleEntry {
            daemon_debug: AtomicBool::new(debug.is_some()),
            debug: Mutex::new(debug),
            status: Mutex::new(status),
            yield_hook: Mutex::new(Some(default_yield())),
            busy: AtomicBool::new(false),
            aborted: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        })
    }

    pub(crate) fn debug(&self) -> Option<DebugCallback> {
        lock(&self.debug).clone()
    }

    /// Installs `cb` and returns whether the daemon must be told to switch
    /// traffic copies on or off (`Some(enabled)`), or `None` when it already
    /// does what is wanted.
    pub(crate) fn replace_debug(&self, cb: Option<DebugCallback>) -> Option<bool> {
        let want = cb.is_some();
        *lock(&self.debug) = cb;
        let had = self.daemon_debug.swap(want, Ordering::SeqCst);
        (had != want).then_some(want)
    }

    /// Undoes the bookkeeping of `replace_debug` when telling the daemon failed.
    pub(crate) fn debug_switch_failed(&self, wanted: bool) {
        self.daemon_debug.store(!wanted, Ordering::SeqCst);
    }

    pub(crate) fn take_status(&self) -> Option<StatusCallback> {
        lock(&self.status).take()
    }

    pub(crate) fn status_pending(&self) -> bool {
        lock(&self.status).is_some()
    }

    /// True while frames can come for this handle that no call reads: its
    /// asynchronous connect's status, or traffic copies.
    pub(crate) fn wants_events(&self) -> bool {
        self.daemon_debug.load(Ordering::SeqCst) || self.status_pending()
    }

    pub(crate) fn yield_hook(&self) -> Option<YieldHook> {
        lock(&self.yield_hook).clone()
    }

    pub(crate) fn set_yield_hook(&self, hook: Option<YieldHook>) {
        *lock(&self.yield_hook) = hook;
    }

    /// Marks the handle busy for the life of the guard; `None` when another
    /// operation on it is in flight in this process.
    pub(crate) fn begin(self: &Arc<Self>) -> Option<BusyGuard> {
        self.busy
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| BusyGuard(self.clone()))
    }

    pub(crate) fn mark_aborted(&self) {
        self.aborted.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::SeqCst)
    }

    pub(crate) fn mark_closed(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// Clears the busy flag of a handle when dropped.
pub(crate) struct BusyGuard(Arc<HandleEntry>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.busy.store(false, Ordering::Release);
    }
}

/// Runs a user callback, containing a panic so that it cannot kill the reader
/// thread (which would leave every caller waiting forever).
pub(crate) fn run_guarded(what: &str, f: impl FnOnce()) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
        eprintln!("smtp32: a {what} callback panicked; the panic was contained");
    }
}

/// Calls the debug callback of `entry`, if any.
pub(crate) fn deliver_traffic(
    entry: &HandleEntry,
    handle: Handle,
    direction: Direction,
    bytes: &[u8],
) {
    if let Some(cb) = entry.debug() {
        run_guarded("debug", || cb(handle, direction, bytes));
    }
}

thread_local! {
    /// How many callbacks (of any handle) this thread is running now.
    static CALLBACK_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// True while the current thread runs a callback admitted by a [`CallbackGate`].
pub(crate) fn in_callback() -> bool {
    CALLBACK_DEPTH.with(|d| d.get() > 0)
}

/// Admits the callbacks of one handle until it is closed, and lets the closer
/// wait for those already running: once [`CallbackGate::close`] has returned
/// (outside a callback), none of the handle's callbacks runs again.
#[derive(Default)]
pub(crate) struct CallbackGate {
    state: Mutex<GateState>,
    idle: std::sync::Condvar,
}

#[derive(Default)]
struct GateState {
    closed: bool,
    running: usize,
}

impl CallbackGate {
    /// Admits one callback: `None` once the handle is closed.
    pub(crate) fn enter(&self) -> Option<CallbackTurn<'_>> {
        let mut s = lock(&self.state);
        if s.closed {
            return None;
        }
        s.running += 1;
        drop(s);
        CALLBACK_DEPTH.with(|d| d.set(d.get() + 1));
        Some(CallbackTurn(self))
    }

    /// Admits no callback from now on, then waits until those running have
    /// returned, unless called from inside a callback: that one cannot be
    /// waited for (it is the caller), and waiting for another thread's could
    /// deadlock when that thread waits for this one, so there it returns at
    /// once.
    pub(crate) fn close(&self) {
        let mut s = lock(&self.state);
        s.closed = true;
        if in_callback() {
            return;
        }
        while s.running > 0 {
            s = self.idle.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// One running callback; its end is counted when dropped.
pub(crate) struct CallbackTurn<'a>(&'a CallbackGate);

impl Drop for CallbackTurn<'_> {
    fn drop(&mut self) {
        CALLBACK_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
        let mut s = lock(&self.0.state);
        s.running -= 1;
        if s.running == 0 {
            self.0.idle.notify_all();
        }
    }
}
