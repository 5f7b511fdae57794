//! The one-call send: `smtp_sendmsg`.

use super::types::SMTP_HANDLE;
use super::util::{c_str, finish, guard, handle, rc};
use crate::{ReturnCode, SendReport};
use std::os::raw::{c_char, c_int};

/// `smtp_sendmsg`: MAIL from `from`, RCPT for each of the `nrcpts` strings
/// of `rcpts`, DATA and the `len` bytes of `msg`, in one request. When
/// `rcpt_codes` is not NULL, `rcpt_codes[i]` gets recipient `i`'s reply
/// code (0 when no RCPT was sent for it).
///
/// # Safety
/// `from` is a NUL-terminated string; `rcpts` points to `nrcpts`
/// NUL-terminated strings; `msg` is readable for `len` bytes (may be NULL
/// when `len` is 0); `rcpt_codes` is NULL or writable for `nrcpts` ints.
#[no_mangle]
pub unsafe extern "C" fn smtp_sendmsg(
    conn: SMTP_HANDLE,
    from: *const c_char,
    rcpts: *const *const c_char,
    nrcpts: c_int,
    msg: *const c_char,
    len: usize,
    rcpt_codes: *mut c_int,
) -> c_int {
    guard(|| {
        let Ok(count) = usize::try_from(nrcpts) else {
            return rc(ReturnCode::InvalidArgument);
        };
        if count == 0 || rcpts.is_null() || (msg.is_null() && len > 0) {
            return rc(ReturnCode::InvalidArgument);
        }
        // SAFETY: per this function's contract.
        let from = match unsafe { c_str(from) } {
            Ok(f) => f,
            Err(code) => return code,
        };
        // SAFETY: `rcpts` holds `nrcpts` string pointers per this function's contract.
        let pointers = unsafe { std::slice::from_raw_parts(rcpts, count) };
        // SAFETY: each is a NUL-terminated string per this function's contract.
        let to: Result<Vec<&str>, c_int> = pointers.iter().map(|&p| unsafe { c_str(p) }).collect();
        let to = match to {
            Ok(to) => to,
            Err(code) => return code,
        };
        let data: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: non-NULL and readable for `len` bytes per this function's contract.
            unsafe { std::slice::from_raw_parts(msg.cast::<u8>(), len) }
        };
        let st = match handle(conn) {
            Ok(st) => st,
            Err(code) => return code,
        };
        let result = st.conn.sendmsg(from, &to, data);
        if !rcpt_codes.is_null() {
            let report = match &result {
                Ok(report) => Some(report),
                Err(e) => e.send_report(),
            };
            // SAFETY: writable for `nrcpts` ints per this function's contract.
            let codes = unsafe { std::slice::from_raw_parts_mut(rcpt_codes, count) };
            fill_codes(codes, report);
        }
        finish(conn, &st, &result)
    })
}

/// Each recipient's reply code, 0 for those no RCPT was sent for.
fn fill_codes(codes: &mut [c_int], report: Option<&SendReport>) {
    for (i, slot) in codes.iter_mut().enumerate() {
        *slot = report
            .and_then(|r| r.recipients.get(i))
            .map_or(0, |reply| c_int::from(reply.code));
    }
}
