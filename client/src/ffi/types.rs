//! The C typedefs and constants of `smtp32.h`. Return codes are not repeated
//! here: they are [`ReturnCode`](crate::ReturnCode) values, and a unit test
//! checks the header's `#define`s against them.

use std::os::raw::{c_char, c_int};

/// A connection handle; 0 is never valid.
#[allow(non_camel_case_types)]
pub type SMTP_HANDLE = u32;

/// `smtp_data` callback: fills `buf` (room for `len` bytes) and returns the
/// number of bytes copied, 0 at the end of the message, -1 to abort.
pub type SmtpDataProc = Option<extern "C" fn(SMTP_HANDLE, *mut c_char, c_int, usize) -> c_int>;
/// `smtp_expn`/`smtp_help` callback: one reply line (NUL-terminated, `len`
/// bytes without the NUL); -1 aborts.
pub type SmtpLineProc = Option<extern "C" fn(SMTP_HANDLE, *const c_char, c_int, usize) -> c_int>;
/// Debug callback: a copy of `len` bytes of traffic (not NUL-terminated).
pub type SmtpDebugProc = Option<extern "C" fn(SMTP_HANDLE, *const c_char, c_int, usize) -> c_int>;
/// `smtp_xhelo` status callback: the connect's result code.
pub type SmtpStatusProc = Option<extern "C" fn(SMTP_HANDLE, c_int, usize) -> c_int>;
/// Yield callback, called while a call waits.
pub type SmtpYieldProc = Option<extern "C" fn() -> c_int>;

/// `smtp_opts`: enable yielding (value: a yield proc, or 0 for the default).
pub const OPT_YIELD_ON: u16 = 1;
/// `smtp_opts`: disable yielding.
pub const OPT_YIELD_OFF: u16 = 2;
/// `smtp_opts`: set the callback parameter (lParam).
pub const OPT_SET_PARAM: u16 = 3;
/// `smtp_opts`: get the callback parameter (value: a `uintptr_t *`).
pub const OPT_GET_PARAM: u16 = 4;
/// `smtp_opts`: set (value: a debug proc) or clear (0) the debug callback.
pub const OPT_DEBUG: u16 = 5;
/// `smtp_opts`: set the timeout in seconds, 1..=999.
pub const OPT_TIMEOUT: u16 = 6;
/// The size of the buffer `smtp_date` needs.
pub const SMTP_DATE_SIZE: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReturnCode;
    use std::collections::HashMap;

    const HEADER: &str = include_str!("../../include/smtp32.h");

    /// Every `#define NAME VALUE` of the header.
    fn defines() -> HashMap<&'static str, i64> {
        HEADER
            .lines()
            .filter_map(|l| l.trim().strip_prefix("#define "))
            .filter_map(|rest| {
                let mut words = rest.split_whitespace();
                let name = words.next()?;
                let value = words.next()?.parse().ok()?;
                Some((name, value))
            })
            .collect()
    }

    #[test]
    fn header_return_codes_match_protocol() {
        let defs = defines();
        for code in ReturnCode::ALL {
            assert_eq!(
                defs.get(code.name()),
                Some(&i64::from(code.as_i32())),
                "{}",
                code.name()
            );
        }
        let smtp_defs = defs
            .keys()
            .filter(|k| k.starts_with("SMTP_") && **k != "SMTP_DATE_SIZE")
            .count();
        assert_eq!(
            smtp_defs,
            ReturnCode::ALL.len(),
            "the header defines a return code the protocol lacks"
        );
    }

    #[test]
    fn header_options_match_the_library() {
        let defs = defines();
        for (name, value) in [
            ("OPT_YIELD_ON", OPT_YIELD_ON),
            ("OPT_YIELD_OFF", OPT_YIELD_OFF),
            ("OPT_SET_PARAM", OPT_SET_PARAM),
            ("OPT_GET_PARAM", OPT_GET_PARAM),
            ("OPT_DEBUG", OPT_DEBUG),
            ("OPT_TIMEOUT", OPT_TIMEOUT),
        ] {
            assert_eq!(defs.get(name), Some(&i64::from(value)), "{name}");
        }
        assert_eq!(defs.get("SMTP_DATE_SIZE"), Some(&(SMTP_DATE_SIZE as i64)));
    }
}
