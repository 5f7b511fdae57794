//! Message data: `smtp_data` (pull from a callback) and `smtp_data_buf`
//! (push; length 0 ends the message).

use super::types::{SmtpDataProc, SMTP_HANDLE};
use super::util::{finish, guard, handle, rc};
use crate::{DataStep, ReturnCode};
use std::os::raw::{c_char, c_int};

/// `smtp_data`: calls `proc_` (on the calling thread) with a buffer of 4 KiB
/// to 64 KiB until it returns 0, then ends the message. -1 (or `smtp_xquit`)
/// resets the connection: `SMTP_ABORTED`, the handle is gone.
#[no_mangle]
pub extern "C" fn smtp_data(conn: SMTP_HANDLE, proc_: SmtpDataProc) -> c_int {
    guard(|| {
        let st = match handle(conn) {
            Ok(st) => st,
            Err(code) => return code,
        };
        let Some(p) = proc_ else {
            return rc(ReturnCode::InvalidArgument);
        };
        let cbs = st.cbs.clone();
        let result = st.conn.data_from(|buf| {
            let len = c_int::try_from(buf.len()).unwrap_or(c_int::MAX);
            // Closed by smtp_xquit on another thread: the proc is not called again.
            let Some(_turn) = cbs.enter(conn) else {
                return DataStep::Abort;
            };
            match p(conn, buf.as_mut_ptr().cast::<c_char>(), len, cbs.lparam()) {
                n if n < 0 => DataStep::Abort,
                0 => DataStep::End,
                n => DataStep::Bytes(n as usize),
            }
        });
        finish(conn, &st, &result)
    })
}

/// `smtp_data_buf`: sends `len` bytes of message data; `len` 0 ends the
/// message and returns the server's verdict.
///
/// # Safety
/// `buf` is readable for `len` bytes (may be NULL when `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn smtp_data_buf(conn: SMTP_HANDLE, buf: *const c_char, len: c_int) -> c_int {
    guard(|| {
        let st = match handle(conn) {
            Ok(st) => st,
            Err(code) => return code,
        };
        if len < 0 || (len > 0 && buf.is_null()) {
            return rc(ReturnCode::InvalidArgument);
        }
        if len == 0 {
            let result = st.conn.data_end();
            return finish(conn, &st, &result);
        }
        // SAFETY: non-NULL and readable for `len` bytes per this function's contract.
        let bytes = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len as usize) };
        let result = st.conn.data_buf(bytes);
        finish(conn, &st, &result)
    })
}
