//! Process-global state of the C ABI: the shared daemon client and the table
//! of live handles with their C callbacks and lParam.
//!
//! Every C callback of a handle runs through its [`CallbackGate`], which
//! `smtp_quit`/`smtp_xquit` close: once they return, none runs again. Every
//! callback also first stores the handle in the caller's `*conn` if the
//! opening call has not done so yet, so a callback never sees `*conn` unset.
//!
//! Lock order: `CLIENT` before `HANDLES`; neither is held while calling into
//! the daemon or a user callback.

use super::types::{SmtpDebugProc, SmtpStatusProc, SMTP_HANDLE};
use crate::callbacks::{CallbackGate, CallbackTurn};
use crate::sync::lock;
use crate::{Client, Connection, DebugCallback, Error, Handle, ReturnCode, StatusCallback};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Per-handle C callback state, shared with the closures the reader thread runs.
pub(crate) struct CCallbacks {
    lparam: AtomicUsize,
    debug: Mutex<SmtpDebugProc>,
    /// The `smtp_xhelo` status proc until it has been called (or never was).
    status: Mutex<SmtpStatusProc>,
    /// The caller's `*conn` (as an address) while the opening call runs and
    /// has not stored the handle in it; 0 otherwise.
    conn_out: Mutex<usize>,
    gate: CallbackGate,
    /// Set when the xhelo connect failed: the handle must not be (re)inserted.
    gone: AtomicBool,
    /// Why the last call failed when no server reply says it (a TLS failure,
    /// a SIZE refusal...): what `smtp_rply` gives until the next call.
    note: Mutex<Option<String>>,
}

impl CCallbacks {
    /// The callbacks of a handle being opened; `conn` is the caller's `*conn`.
    pub(crate) fn new(
        lparam: usize,
        debug: SmtpDebugProc,
        status: SmtpStatusProc,
        conn: *mut SMTP_HANDLE,
    ) -> Arc<Self> {
        Arc::new(CCallbacks {
            lparam: AtomicUsize::new(lparam),
            debug: Mutex::new(debug),
            status: Mutex::new(status),
            conn_out: Mutex::new(conn as usize),
            gate: CallbackGate::default(),
            gone: AtomicBool::new(false),
            note: Mutex::new(None),
        })
    }

    pub(crate) fn lparam(&self) -> usize {
        self.lparam.load(Ordering::SeqCst)
    }

    pub(crate) fn set_lparam(&self, value: usize) {
        self.lparam.store(value, Ordering::SeqCst);
    }

    pub(crate) fn set_note(&self, note: Option<String>) {
        *lock(&self.note) = note;
    }

    pub(crate) fn note(&self) -> Option<String> {
        lock(&self.note).clone()
    }

    pub(crate) fn set_debug(&self, proc_: SmtpDebugProc) {
        *lock(&self.debug) = proc_;
    }

    /// Stores `h` in the opening caller's `*conn` unless that was done.
    pub(crate) fn publish(&self, h: SMTP_HANDLE) {
        let mut out = lock(&self.conn_out);
        if *out != 0 {
            // SAFETY: a non-zero address is the `conn` argument of the opening
            // call, which is still running (it clears it under this lock before
            // it returns) and provides room for one handle.
            unsafe { (*out as *mut SMTP_HANDLE).write(h) };
            *out = 0;
        }
    }

    /// Until the returned guard is dropped (when the opening call ends, however
    /// it ends), callbacks may store the handle in `*conn`; never after.
    pub(crate) fn conn_out_scope(&self) -> ConnOutScope<'_> {
        ConnOutScope(self)
    }

    /// Admits one C callback for handle `h` (storing `h` in `*conn` first):
    /// `None` once the handle was closed.
    pub(crate) fn enter(&self, h: SMTP_HANDLE) -> Option<CallbackTurn<'_>> {
        self.publish(h);
        self.gate.enter()
    }

    /// No callback starts from now on; waits for those running (see
    /// [`CallbackGate::close`]).
    pub(crate) fn close(&self) {
        self.gate.close();
    }

    /// `smtp_xquit` of a pending `smtp_xhelo`: calls the status proc with
    /// `SMTP_ABORTED` now, so that it too runs before `smtp_xquit` returns.
    pub(crate) fn abort_status(&self, h: SMTP_HANDLE) {
        let stat = lock(&self.status).take();
        if let (Some(stat), Some(_turn)) = (stat, self.enter(h)) {
            stat(h, ReturnCode::Aborted.as_i32(), self.lparam());
        }
    }

    /// The Rust debug callback that forwards to whatever C proc is current.
    pub(crate) fn debug_callback(self: &Arc<Self>) -> DebugCallback {
        let me = self.clone();
        Arc::new(move |h: Handle, _dir, bytes: &[u8]| {
            let Some(p) = *lock(&me.debug) else { return };
            let Some(_turn) = me.enter(h.get()) else {
                return;
            };
            for piece in bytes.chunks(i32::MAX as usize) {
                p(
                    h.get(),
                    piece.as_ptr().cast(),
                    piece.len() as i32,
                    me.lparam(),
                );
            }
        })
    }

    /// The Rust status callback for `smtp_xhelo`: forgets the handle when the
    /// connect failed, then calls the status proc unless `smtp_xquit` did.
    pub(crate) fn status_callback(self: &Arc<Self>) -> StatusCallback {
        let me = self.clone();
        Box::new(move |h: Handle, result: Result<(), Error>| {
            let code = match &result {
                Ok(()) => 0,
                Err(e) => e.code().as_i32(),
            };
            if code != 0 {
                let mut handles = lock(handles());
                me.gone.store(true, Ordering::SeqCst);
                handles.remove(&h.get());
            }
            let stat = lock(&me.status).take();
            if let (Some(stat), Some(_turn)) = (stat, me.enter(h.get())) {
                stat(h.get(), code, me.lparam());
            }
        })
    }
}

/// The opening call's `*conn` stays writable for callbacks while this lives.
pub(crate) struct ConnOutScope<'a>(&'a CCallbacks);

impl Drop for ConnOutScope<'_> {
    fn drop(&mut self) {
        *lock(&self.0.conn_out) = 0;
    }
}

/// A live handle as the C side knows it.
#[derive(Clone)]
pub(crate) struct HandleState {
    pub(crate) conn: Connection,
    pub(crate) cbs: Arc<CCallbacks>,
}

fn client_slot() -> &'static Mutex<Option<Client>> {
    static CLIENT: OnceLock<Mutex<Option<Client>>> = OnceLock::new();
    CLIENT.get_or_init(|| Mutex::new(None))
}

fn handles() -> &'static Mutex<HashMap<SMTP_HANDLE, HandleState>> {
    static HANDLES: OnceLock<Mutex<HashMap<SMTP_HANDLE, HandleState>>> = OnceLock::new();
    HANDLES.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The global client, connecting (again) when there is none or it is dead.
pub(crate) fn client() -> Result<Client, Error> {
    let mut slot = lock(client_slot());
    if let Some(c) = slot.as_ref().filter(|c| c.is_alive()) {
        return Ok(c.clone());
    }
    let fresh = Client::connect_default()?;
    if slot.is_some() {
        // Handles of the dead client mean nothing to the new daemon connection.
        lock(handles()).clear();
    }
    *slot = Some(fresh.clone());
    Ok(fresh)
}

/// Records a new handle, unless its asynchronous connect already failed.
pub(crate) fn insert(conn: Connection, cbs: Arc<CCallbacks>) {
    let mut handles = lock(handles());
    if !cbs.gone.load(Ordering::SeqCst) {
        handles.insert(conn.handle().get(), HandleState { conn, cbs });
    }
}

/// The state of a live handle.
pub(crate) fn lookup(h: SMTP_HANDLE) -> Option<HandleState> {
    lock(handles()).get(&h).cloned()
}

/// Forgets a handle (after quit, xquit, abort, or when the daemon disowns it)
/// and closes its callbacks: once this returns (outside a callback), none of
/// them runs again.
pub(crate) fn forget(h: SMTP_HANDLE, cbs: &CCallbacks) {
    lock(handles()).remove(&h);
    cbs.close();
}
