//! Helpers shared by the C functions: the panic guard, C string input,
//! truncating copies into caller buffers, and error-to-code conversion.

use super::state::{self, HandleState};
use super::types::SMTP_HANDLE;
use crate::{Error, ReturnCode};
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};

/// `SMTP_SUCCESS` as a C int.
pub(crate) const OK: c_int = ReturnCode::Success as c_int;

/// The C value of `code`.
pub(crate) fn rc(code: ReturnCode) -> c_int {
    code.as_i32()
}

/// Runs `f`, turning a panic into `SMTP_FAILURE` so that nothing unwinds into C.
pub(crate) fn guard(f: impl FnOnce() -> c_int) -> c_int {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(rc(ReturnCode::Failure))
}

/// Reads a C string argument: NULL or invalid UTF-8 is `SMTP_INVALID_ARGUMENT`.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for the call.
pub(crate) unsafe fn c_str<'a>(p: *const c_char) -> Result<&'a str, c_int> {
    if p.is_null() {
        return Err(rc(ReturnCode::InvalidArgument));
    }
    // SAFETY: per this function's contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| rc(ReturnCode::InvalidArgument))
}

/// Like [`c_str`], but NULL reads as `None`.
///
/// # Safety
/// As for [`c_str`].
pub(crate) unsafe fn opt_c_str<'a>(p: *const c_char) -> Result<Option<&'a str>, c_int> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: per this function's contract.
        unsafe { c_str(p) }.map(Some)
    }
}

/// Copies `text` and a NUL into `buf` of `cap` bytes, truncating to fit.
/// Returns whether everything fit. Writes nothing when `cap` is 0.
///
/// # Safety
/// `buf` is valid for writes of `cap` bytes (or `cap` is 0).
pub(crate) unsafe fn copy_truncated(text: &[u8], buf: *mut c_char, cap: usize) -> bool {
    if cap == 0 {
        return false;
    }
    let n = text.len().min(cap - 1);
    // SAFETY: n + 1 <= cap bytes of `buf` are writable; the regions differ.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = 0;
    }
    n == text.len()
}

/// The live handle `h`, or `SMTP_INVALID_HANDLE`.
pub(crate) fn handle(h: SMTP_HANDLE) -> Result<HandleState, c_int> {
    state::lookup(h).ok_or(rc(ReturnCode::InvalidHandle))
}

/// What `smtp_rply` reports for a failure that carries no server reply but
/// a reason the daemon gave (`SMTP_TLS_FAILURE`, or `SMTP_FAILURE` such as a
/// SIZE refusal): the text, with reply code 0 (no server said it).
pub(crate) fn failure_note(e: &Error) -> Option<String> {
    let explained = matches!(e.code(), ReturnCode::TlsFailure | ReturnCode::Failure);
    (e.reply().is_none() && explained).then(|| e.message().to_owned())
}

/// The C code of `result`; forgets the handle when the operation left it
/// closed (aborted, reset) or the daemon no longer knows it. Keeps the
/// reason of a failure without a server reply for `smtp_rply`.
pub(crate) fn finish<T>(h: SMTP_HANDLE, st: &HandleState, result: &Result<T, Error>) -> c_int {
    st.cbs
        .set_note(result.as_ref().err().and_then(failure_note));
    match result {
        Ok(_) => OK,
        Err(e) => {
            if e.code() == ReturnCode::InvalidHandle || st.conn.is_closed() {
                state::forget(h, &st.cbs);
            }
            rc(e.code())
        }
    }
}

/// Unwraps a `Result<c_int, c_int>` into the code to return.
pub(crate) fn flat(r: Result<c_int, c_int>) -> c_int {
    r.unwrap_or_else(|code| code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(text: &str, cap: usize) -> (bool, Vec<u8>) {
        let mut buf = vec![0x55u8; cap + 2];
        // SAFETY: test call with NULL or a valid NUL-terminated string, and a buffer of the length given.
        let fit = unsafe { copy_truncated(text.as_bytes(), buf.as_mut_ptr().cast(), cap) };
        (fit, buf)
    }

    #[test]
    fn copies_are_truncated_and_terminated() {
        let (fit, buf) = copy("250 OK", 16);
        assert!(fit);
        assert_eq!(&buf[..7], b"250 OK\0");
        let (fit, buf) = copy("250 OK", 4);
        assert!(!fit);
        assert_eq!(&buf[..6], b"250\0\x55\x55");
        let (fit, buf) = copy("250 OK", 7);
        assert!(fit);
        assert_eq!(&buf[..7], b"250 OK\0");
        let (fit, buf) = copy("x", 0);
        assert!(!fit);
        assert_eq!(buf[0], 0x55);
    }

    #[test]
    fn null_and_bad_strings_are_invalid_arguments() {
        let bad = rc(ReturnCode::InvalidArgument);
        // SAFETY: test call with NULL or a valid NUL-terminated string, and a buffer of the length given.
        assert_eq!(unsafe { c_str(std::ptr::null()) }, Err(bad));
        // SAFETY: test call with NULL or a valid NUL-terminated string, and a buffer of the length given.
        assert_eq!(unsafe { c_str(c"\xff".as_ptr()) }, Err(bad));
        // SAFETY: test call with NULL or a valid NUL-terminated string, and a buffer of the length given.
        assert_eq!(unsafe { c_str(c"ok".as_ptr()) }, Ok("ok"));
        // SAFETY: test call with NULL or a valid NUL-terminated string, and a buffer of the length given.
        assert_eq!(unsafe { opt_c_str(std::ptr::null()) }, Ok(None));
    }

    #[test]
    fn panics_become_failure() {
        assert_eq!(guard(|| panic!("boom")), -1);
        assert_eq!(guard(|| 3), 3);
    }
}
