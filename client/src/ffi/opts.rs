//! `smtp_opts` (per-handle options), `smtp_date` and `smtp_strerror`.

use super::types::*;
use super::util::{finish, guard, handle, rc, OK};
use crate::{default_yield, ReturnCode, YieldHook};
use std::ffi::CString;
use std::os::raw::{c_char, c_int};
use std::sync::{Arc, OnceLock};

/// `smtp_opts`: sets an option of one handle. `OPT_SET_PARAM`,
/// `OPT_GET_PARAM` and the yield options are local; `OPT_DEBUG` and
/// `OPT_TIMEOUT` may ask the daemon.
///
/// # Safety
/// For `OPT_GET_PARAM`, `value` is a valid `uintptr_t *`; for `OPT_DEBUG`
/// and `OPT_YIELD_ON`, it is 0 or a function of the matching type.
#[no_mangle]
pub unsafe extern "C" fn smtp_opts(conn: SMTP_HANDLE, option: u16, value: usize) -> c_int {
    guard(|| {
        let st = match handle(conn) {
            Ok(st) => st,
            Err(code) => return code,
        };
        match option {
            OPT_YIELD_ON => {
                let hook: YieldHook = match value {
                    0 => default_yield(),
                    p => {
                        // SAFETY: the caller passes a `smtp_yield_proc` (non-NULL here).
                        let f: extern "C" fn() -> c_int = unsafe { std::mem::transmute(p) };
                        Arc::new(move || {
                            f();
                        })
                    }
                };
                st.conn.set_yield(Some(hook));
                OK
            }
            OPT_YIELD_OFF => {
                st.conn.set_yield(None);
                OK
            }
            OPT_SET_PARAM => {
                st.cbs.set_lparam(value);
                OK
            }
            OPT_GET_PARAM => {
                let out = value as *mut usize;
                if out.is_null() {
                    return rc(ReturnCode::InvalidArgument);
                }
                // SAFETY: non-NULL `uintptr_t *` per this function's contract.
                unsafe { out.write_unaligned(st.cbs.lparam()) };
                OK
            }
            OPT_DEBUG => {
                // SAFETY: 0 or a `smtp_debug_proc` per this function's contract;
                // Option<extern fn> has the nullable-pointer layout.
                let proc_: SmtpDebugProc = unsafe { std::mem::transmute(value) };
                st.cbs.set_debug(proc_);
                let result = st.conn.set_debug(proc_.map(|_| st.cbs.debug_callback()));
                finish(conn, &st, &result)
            }
            OPT_TIMEOUT => {
                let seconds = u32::try_from(value).unwrap_or(u32::MAX);
                let result = st.conn.set_timeout(seconds);
                finish(conn, &st, &result)
            }
            _ => rc(ReturnCode::InvalidOption),
        }
    })
}

/// `smtp_date`: the current local date-time in RFC 5322 form, NUL-terminated,
/// into `date` (at least `SMTP_DATE_SIZE` bytes); returns its length, or
/// `SMTP_INVALID_ARGUMENT` for NULL.
///
/// # Safety
/// `date` is writable for `SMTP_DATE_SIZE` bytes.
#[no_mangle]
pub unsafe extern "C" fn smtp_date(date: *mut c_char) -> c_int {
    guard(|| {
        if date.is_null() {
            return rc(ReturnCode::InvalidArgument);
        }
        let s = crate::date::rfc5322_now();
        // SAFETY: SMTP_DATE_SIZE writable bytes per this function's contract.
        unsafe { super::util::copy_truncated(s.as_bytes(), date, SMTP_DATE_SIZE) };
        s.len().min(SMTP_DATE_SIZE - 1) as c_int
    })
}

/// `smtp_strerror`: a static, NUL-terminated description of a return code
/// (never NULL; unknown codes get a generic text).
#[no_mangle]
pub extern "C" fn smtp_strerror(code: c_int) -> *const c_char {
    static TEXTS: OnceLock<Vec<(c_int, CString)>> = OnceLock::new();
    static UNKNOWN: &std::ffi::CStr = c"unknown SMTP-32 return code";
    let texts = TEXTS.get_or_init(|| {
        ReturnCode::ALL
            .iter()
            .filter_map(|c| CString::new(c.describe()).ok().map(|s| (c.as_i32(), s)))
            .collect()
    });
    texts
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(UNKNOWN.as_ptr(), |(_, s)| s.as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn strerror_knows_every_code() {
        for c in ReturnCode::ALL {
            // SAFETY: test call with valid pointers (a live buffer, the library's own strings) or NULL, which the function accepts.
            let s = unsafe { CStr::from_ptr(smtp_strerror(c.as_i32())) };
            assert_eq!(s.to_str().unwrap(), c.describe());
        }
        // SAFETY: test call with valid pointers (a live buffer, the library's own strings) or NULL, which the function accepts.
        let s = unsafe { CStr::from_ptr(smtp_strerror(42)) };
        assert_eq!(s.to_str().unwrap(), "unknown SMTP-32 return code");
    }

    #[test]
    fn date_fills_the_buffer_and_returns_its_length() {
        let mut buf = [0x55 as c_char; SMTP_DATE_SIZE];
        // SAFETY: test call with valid pointers (a live buffer, the library's own strings) or NULL, which the function accepts.
        let n = unsafe { smtp_date(buf.as_mut_ptr()) };
        // SAFETY: test call with valid pointers (a live buffer, the library's own strings) or NULL, which the function accepts.
        let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
        assert_eq!(n as usize, s.to_bytes().len());
        assert!(n > 25);
        assert_eq!(
            // SAFETY: test call with valid pointers (a live buffer, the library's own strings) or NULL, which the function accepts.
            unsafe { smtp_date(std::ptr::null_mut()) },
            ReturnCode::InvalidArgument.as_i32()
        );
    }

    #[test]
    fn bad_handles_and_options() {
        assert_eq!(
            // SAFETY: test call with valid pointers (a live buffer, the library's own strings) or NULL, which the function accepts.
            unsafe { smtp_opts(0, OPT_TIMEOUT, 20) },
            ReturnCode::InvalidHandle.as_i32()
        );
        assert_eq!(
            super::super::smtp_noop(0),
            ReturnCode::InvalidHandle.as_i32()
        );
        assert_eq!(
            super::super::smtp_xquit(12345),
            ReturnCode::InvalidHandle.as_i32()
        );
    }
}
