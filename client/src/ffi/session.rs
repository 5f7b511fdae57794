//! Opening and closing handles, and reading replies: `smtp_helo`,
//! `smtp_xhelo`, `smtp_quit`, `smtp_xquit`, `smtp_rply`, `smtp_direct`.

use super::state::{self, CCallbacks};
use super::types::{SmtpDebugProc, SmtpStatusProc, SMTP_HANDLE};
use super::util::{c_str, copy_truncated, failure_note, finish, flat, guard, handle, rc, OK};
use crate::Connection;
use crate::{Error, Reply, ReturnCode};
use std::cell::RefCell;
use std::os::raw::{c_char, c_int};
use std::sync::Arc;

thread_local! {
    /// What `smtp_rply(0, ...)` returns after this thread's last failed
    /// `smtp_helo`/`smtp_xhelo`/`smtp_fw_helo` (there is no handle to ask):
    /// the server's reply text and code, or the reason with code 0 when no
    /// reply says it (a TLS failure, a proxy's refusal). Every open resets it.
    static LAST_OPEN_REPLY: RefCell<Option<(String, c_int)>> = const { RefCell::new(None) };
}

/// An open begins on this thread: `smtp_rply(0, ...)` forgets the last one.
pub(crate) fn open_begins() {
    LAST_OPEN_REPLY.with(|r| *r.borrow_mut() = None);
}

/// An open failed: keeps what `smtp_rply(0, ...)` should say about it, and
/// returns its code.
pub(crate) fn open_failed(e: &Error) -> c_int {
    let text = match e.reply() {
        Some(reply) => Some((reply.to_wire_text(), c_int::from(reply.code))),
        None => failure_note(e).map(|note| (note, 0)),
    };
    LAST_OPEN_REPLY.with(|r| *r.borrow_mut() = text);
    rc(e.code())
}

/// Records the handle an open gave: into the table, then into `*conn` (unless
/// a callback already stored it there, see `state.rs`).
pub(crate) fn opened(c: Connection, cbs: &Arc<CCallbacks>) {
    let h = c.handle().get();
    state::insert(c, cbs.clone());
    cbs.publish(h);
}

/// Shared body of `smtp_helo` and `smtp_xhelo`.
unsafe fn open(
    host: *const c_char,
    local: *const c_char,
    conn: *mut SMTP_HANDLE,
    dbg: SmtpDebugProc,
    stat: Option<SmtpStatusProc>,
    lparam: usize,
) -> Result<c_int, c_int> {
    open_begins();
    // SAFETY: the caller passes NUL-terminated strings or NULL.
    let (host, local) = unsafe { (c_str(host)?, c_str(local)?) };
    if conn.is_null() {
        return Err(rc(ReturnCode::InvalidArgument));
    }
    let client = state::client().map_err(|e| open_failed(&e))?;
    let cbs = CCallbacks::new(lparam, dbg, stat.flatten(), conn);
    let _conn_out = cbs.conn_out_scope();
    let debug = dbg.map(|_| cbs.debug_callback());
    let result = match stat {
        None => client.helo(host, local, debug),
        Some(_) => client.xhelo(host, local, debug, cbs.status_callback()),
    };
    let c = result.map_err(|e| open_failed(&e))?;
    opened(c, &cbs);
    Ok(OK)
}

/// `smtp_helo`: opens an SMTP connection and returns when the server has
/// accepted EHLO/HELO. `proc` (may be NULL) gets a copy of all traffic on the
/// thread that reads the daemon's answers.
///
/// # Safety
/// `host` and `local` are NUL-terminated strings; `conn` points to writable
/// storage for one handle.
#[no_mangle]
pub unsafe extern "C" fn smtp_helo(
    host: *const c_char,
    local: *const c_char,
    conn: *mut SMTP_HANDLE,
    proc_: SmtpDebugProc,
    lparam: usize,
) -> c_int {
    // SAFETY: forwarded contract.
    guard(|| flat(unsafe { open(host, local, conn, proc_, None, lparam) }))
}

/// `smtp_xhelo`: returns a handle at once; `stat` (may be NULL) runs later on
/// the thread that reads the daemon's answers, with the connect's result.
///
/// # Safety
/// As for [`smtp_helo`].
#[no_mangle]
pub unsafe extern "C" fn smtp_xhelo(
    host: *const c_char,
    local: *const c_char,
    conn: *mut SMTP_HANDLE,
    dbg: SmtpDebugProc,
    stat: SmtpStatusProc,
    lparam: usize,
) -> c_int {
    // SAFETY: forwarded contract.
    guard(|| flat(unsafe { open(host, local, conn, dbg, Some(stat), lparam) }))
}

/// `smtp_quit`: sends QUIT and frees the handle; once it returns no callback
/// of the handle runs again.
#[no_mangle]
pub extern "C" fn smtp_quit(conn: SMTP_HANDLE) -> c_int {
    guard(|| {
        let st = match handle(conn) {
            Ok(st) => st,
            Err(code) => return code,
        };
        let result = st.conn.clone().quit();
        match &result {
            Err(e) if e.code() == ReturnCode::InProgress => rc(ReturnCode::InProgress),
            _ => {
                state::forget(conn, &st.cbs);
                finish(conn, &st, &result)
            }
        }
    })
}

/// `smtp_xquit`: cancels what is in flight on the handle and frees it. The
/// status proc of a cancelled `smtp_xhelo` is called (`SMTP_ABORTED`) before
/// it returns, and no callback of the handle runs after.
#[no_mangle]
pub extern "C" fn smtp_xquit(conn: SMTP_HANDLE) -> c_int {
    guard(|| {
        let st = match handle(conn) {
            Ok(st) => st,
            Err(code) => return code,
        };
        let result = st.conn.xquit();
        st.cbs.abort_status(conn);
        state::forget(conn, &st.cbs);
        finish(conn, &st, &result)
    })
}

/// `smtp_rply`: the last full reply (lines joined by CRLF) into `reply`
/// (truncated to `len` bytes with the NUL) and its code into `*code`. After
/// a failure that no server reply explains (`SMTP_TLS_FAILURE`, a SIZE
/// refusal), the reason instead, with code 0.
///
/// # Safety
/// `reply` is writable for `len` bytes (may be NULL when `len` is 0); `code`
/// points to a writable int.
#[no_mangle]
pub unsafe extern "C" fn smtp_rply(
    conn: SMTP_HANDLE,
    reply: *mut c_char,
    len: c_int,
    code: *mut c_int,
) -> c_int {
    guard(|| {
        if code.is_null() || len < 0 || (reply.is_null() && len > 0) {
            return rc(ReturnCode::InvalidArgument);
        }
        let last = if conn == 0 {
            LAST_OPEN_REPLY.with(|r| r.borrow().clone())
        } else {
            let st = match handle(conn) {
                Ok(st) => st,
                Err(c) => return c,
            };
            match st.cbs.note() {
                Some(note) => Some((note, 0)),
                None => match st.conn.last_reply() {
                    Ok(r) => r.map(|r| (r.to_wire_text(), c_int::from(r.code))),
                    Err(e) => return finish(conn, &st, &Err::<(), _>(e)),
                },
            }
        };
        let (text, value) = last.unwrap_or_default();
        // SAFETY: buffer validity per this function's contract; code checked non-NULL.
        unsafe {
            copy_truncated(text.as_bytes(), reply, len as usize);
            *code = value;
        }
        OK
    })
}

/// `smtp_direct`: sends one command line and copies the reply (NUL-terminated)
/// into `rep_buf` of `*len` bytes; when it does not fit it is truncated,
/// `*len` is set to the size needed and `SMTP_INSUFFICIENT_LENGTH` returned.
///
/// # Safety
/// `msg` is a NUL-terminated string; `len` points to an int holding the size
/// of `rep_buf`, which is writable for that many bytes.
#[no_mangle]
pub unsafe extern "C" fn smtp_direct(
    conn: SMTP_HANDLE,
    msg: *const c_char,
    rep_buf: *mut c_char,
    len: *mut c_int,
) -> c_int {
    guard(|| {
        let st = match handle(conn) {
            Ok(st) => st,
            Err(c) => return c,
        };
        // SAFETY: per this function's contract.
        let msg = match unsafe { c_str(msg) } {
            Ok(m) => m,
            Err(c) => return c,
        };
        // SAFETY: checked non-NULL; per this function's contract.
        if rep_buf.is_null() || len.is_null() || unsafe { *len } <= 0 {
            return rc(ReturnCode::InvalidArgument);
        }
        let result = st.conn.direct(msg);
        let reply = match &result {
            Ok(r) => Some(r),
            Err(e) => e.reply(),
        };
        let text = reply.map(Reply::to_wire_text).unwrap_or_default();
        // SAFETY: rep_buf holds *len bytes per this function's contract.
        let fit = unsafe { copy_truncated(text.as_bytes(), rep_buf, *len as usize) };
        if !fit {
            // SAFETY: checked non-NULL.
            unsafe { *len = c_int::try_from(text.len() + 1).unwrap_or(c_int::MAX) };
        }
        match result {
            Ok(_) if !fit => rc(ReturnCode::InsufficientLength),
            other => finish(conn, &st, &other),
        }
    })
}
