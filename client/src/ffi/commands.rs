//! The commands that send one line and expect one reply: `smtp_mail`,
//! `smtp_send`, `smtp_soml`, `smtp_saml`, `smtp_rcpt`, `smtp_noop`,
//! `smtp_rset`, `smtp_turn`, `smtp_vrfy`, `smtp_expn`, `smtp_help`.
//! A 4xx/5xx reply is `SMTP_FAILURE`; `smtp_rply` then gives the reply.

use super::state::{self, HandleState};
use super::types::{SmtpLineProc, SMTP_HANDLE};
use super::util::{c_str, finish, guard, handle, opt_c_str, rc, OK};
use crate::{Connection, Reply, Result, ReturnCode};
use std::os::raw::{c_char, c_int};

/// Runs `op` on the live handle `h` and converts the outcome.
fn run(h: SMTP_HANDLE, op: impl FnOnce(&Connection) -> Result<Reply>) -> c_int {
    guard(|| match handle(h) {
        Ok(st) => {
            let result = op(&st.conn);
            finish(h, &st, &result)
        }
        Err(code) => code,
    })
}

/// Like [`run`] for commands with one string argument.
///
/// # Safety
/// `arg` is NULL or a NUL-terminated string.
unsafe fn run_str(
    h: SMTP_HANDLE,
    arg: *const c_char,
    op: impl FnOnce(&Connection, &str) -> Result<Reply>,
) -> c_int {
    // SAFETY: per this function's contract.
    guard(|| match unsafe { c_str(arg) } {
        Ok(s) => run(h, |c| op(c, s)),
        Err(code) => code,
    })
}

/// `smtp_mail`: `MAIL FROM:<from>`.
///
/// # Safety
/// `from` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn smtp_mail(conn: SMTP_HANDLE, from: *const c_char) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { run_str(conn, from, Connection::mail) }
}

/// `smtp_send`: `SEND FROM:<from>`.
///
/// # Safety
/// `from` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn smtp_send(conn: SMTP_HANDLE, from: *const c_char) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { run_str(conn, from, Connection::send_from) }
}

/// `smtp_soml`: `SOML FROM:<from>`.
///
/// # Safety
/// `from` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn smtp_soml(conn: SMTP_HANDLE, from: *const c_char) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { run_str(conn, from, Connection::soml) }
}

/// `smtp_saml`: `SAML FROM:<from>`.
///
/// # Safety
/// `from` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn smtp_saml(conn: SMTP_HANDLE, from: *const c_char) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { run_str(conn, from, Connection::saml) }
}

/// `smtp_rcpt`: `RCPT TO:<to>`.
///
/// # Safety
/// `to` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn smtp_rcpt(conn: SMTP_HANDLE, to: *const c_char) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { run_str(conn, to, Connection::rcpt) }
}

/// `smtp_vrfy`: `VRFY name`.
///
/// # Safety
/// `name` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn smtp_vrfy(conn: SMTP_HANDLE, name: *const c_char) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { run_str(conn, name, Connection::vrfy) }
}

/// `smtp_noop`: `NOOP`.
#[no_mangle]
pub extern "C" fn smtp_noop(conn: SMTP_HANDLE) -> c_int {
    run(conn, Connection::noop)
}

/// `smtp_rset`: `RSET`.
#[no_mangle]
pub extern "C" fn smtp_rset(conn: SMTP_HANDLE) -> c_int {
    run(conn, Connection::rset)
}

/// `smtp_turn`: `TURN`.
#[no_mangle]
pub extern "C" fn smtp_turn(conn: SMTP_HANDLE) -> c_int {
    run(conn, Connection::turn)
}

/// Calls `proc_` once per line of `reply`. -1 resets the connection; so does
/// `smtp_xquit` (or `smtp_quit`) from a line proc or another thread, after
/// which no line follows. Both give `SMTP_ABORTED`.
fn each_line(h: SMTP_HANDLE, st: &HandleState, reply: &Reply, proc_: SmtpLineProc) -> c_int {
    let Some(p) = proc_ else { return OK };
    let aborted = || {
        state::forget(h, &st.cbs);
        rc(ReturnCode::Aborted)
    };
    let mut line = Vec::new();
    for text in &reply.lines {
        line.clear();
        line.extend_from_slice(text.as_bytes());
        line.push(0);
        let len = c_int::try_from(text.len()).unwrap_or(c_int::MAX);
        let Some(turn) = st.cbs.enter(h).filter(|_| !st.conn.is_closed()) else {
            return aborted();
        };
        let verdict = p(h, line.as_ptr().cast(), len, st.cbs.lparam());
        drop(turn);
        if verdict == -1 {
            let _ = st.conn.xquit();
            return aborted();
        }
    }
    if st.conn.is_closed() {
        return aborted();
    }
    OK
}

/// Shared body of `smtp_expn` and `smtp_help`.
fn listing(
    h: SMTP_HANDLE,
    proc_: SmtpLineProc,
    op: impl FnOnce(&Connection) -> Result<Reply>,
) -> c_int {
    guard(|| {
        let st = match handle(h) {
            Ok(st) => st,
            Err(code) => return code,
        };
        match op(&st.conn) {
            Ok(reply) => each_line(h, &st, &reply, proc_),
            err => finish(h, &st, &err),
        }
    })
}

/// `smtp_expn`: `EXPN name`; `proc_` runs once per reply line, on the
/// calling thread.
///
/// # Safety
/// `name` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn smtp_expn(
    conn: SMTP_HANDLE,
    name: *const c_char,
    proc_: SmtpLineProc,
) -> c_int {
    // SAFETY: per this function's contract.
    match unsafe { c_str(name) } {
        Ok(name) => listing(conn, proc_, |c| c.expn(name)),
        Err(code) => code,
    }
}

/// `smtp_help`: `HELP [topic]` (NULL or "" for the list); `proc_` runs once
/// per reply line, on the calling thread.
///
/// # Safety
/// `topic` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn smtp_help(
    conn: SMTP_HANDLE,
    topic: *const c_char,
    proc_: SmtpLineProc,
) -> c_int {
    // SAFETY: per this function's contract.
    match unsafe { opt_c_str(topic) } {
        Ok(topic) => listing(conn, proc_, |c| c.help(topic)),
        Err(code) => code,
    }
}
