//! TLS, AUTH and extensions: `smtp_starttls`, `smtp_auth`, `smtp_ext`.

use super::types::SMTP_HANDLE;
use super::util::{c_str, copy_truncated, finish, guard, handle, opt_c_str, rc, OK};
use crate::{AuthMechanism, ReturnCode};
use std::os::raw::{c_char, c_int};

/// `smtp_starttls`: STARTTLS, the TLS handshake verifying the server for the
/// host name given to `smtp_helo`, then EHLO again.
#[no_mangle]
pub extern "C" fn smtp_starttls(conn: SMTP_HANDLE) -> c_int {
    guard(|| match handle(conn) {
        Ok(st) => {
            let result = st.conn.starttls();
            finish(conn, &st, &result)
        }
        Err(code) => code,
    })
}

/// `smtp_auth`: SMTP AUTH with `mechanism` ("PLAIN", "LOGIN", "XOAUTH2";
/// NULL for the best the server offers) as `user` with `secret`.
///
/// # Safety
/// `mechanism` is NULL or a NUL-terminated string; `user` and `secret` are
/// NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn smtp_auth(
    conn: SMTP_HANDLE,
    mechanism: *const c_char,
    user: *const c_char,
    secret: *const c_char,
) -> c_int {
    guard(|| {
        // SAFETY: per this function's contract.
        let args = unsafe { (opt_c_str(mechanism), c_str(user), c_str(secret)) };
        let (mechanism, user, secret) = match args {
            (Ok(m), Ok(u), Ok(s)) => (m, u, s),
            _ => return rc(ReturnCode::InvalidArgument),
        };
        let mechanism = match mechanism.map(str::parse::<AuthMechanism>).transpose() {
            Ok(m) => m,
            Err(_) => return rc(ReturnCode::InvalidArgument),
        };
        match handle(conn) {
            Ok(st) => {
                let result = st.conn.auth(mechanism, user, secret);
                finish(conn, &st, &result)
            }
            Err(code) => code,
        }
    })
}

/// `smtp_ext`: whether the server offered `keyword` in EHLO; its parameters
/// (NUL-terminated, "" when it has none) go into `params` of `len` bytes.
///
/// # Safety
/// `keyword` is a NUL-terminated string; `params` is writable for `len`
/// bytes (it may be NULL when `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn smtp_ext(
    conn: SMTP_HANDLE,
    keyword: *const c_char,
    params: *mut c_char,
    len: c_int,
) -> c_int {
    guard(|| {
        // SAFETY: per this function's contract.
        let keyword = match unsafe { c_str(keyword) } {
            Ok(k) if !k.is_empty() => k,
            _ => return rc(ReturnCode::InvalidArgument),
        };
        if len < 0 || (params.is_null() && len > 0) {
            return rc(ReturnCode::InvalidArgument);
        }
        let st = match handle(conn) {
            Ok(st) => st,
            Err(code) => return code,
        };
        match st.conn.extension(keyword) {
            Ok(Some(_)) if len == 0 => OK,
            Ok(Some(text)) => {
                // SAFETY: `params` holds `len` bytes per this function's contract.
                if unsafe { copy_truncated(text.as_bytes(), params, len as usize) } {
                    OK
                } else {
                    rc(ReturnCode::InsufficientLength)
                }
            }
            Ok(None) => rc(ReturnCode::Failure),
            err => finish(conn, &st, &err),
        }
    })
}
