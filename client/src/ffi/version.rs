//! `smtp32_version`: the version of the library a program runs with, to
//! compare with the `SMTP32_VERSION` it was compiled against.

use std::os::raw::c_char;

/// The crate's version ("0.1.0"), NUL-terminated.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// `smtp32_version`: the library's version as "MAJOR.MINOR.PATCH", a static
/// string (never NULL).
#[no_mangle]
pub extern "C" fn smtp32_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    const HEADER: &str = include_str!("../../include/smtp32.h");

    /// The value of `#define NAME VALUE` in the header.
    fn define(name: &str) -> Option<&'static str> {
        HEADER
            .lines()
            .filter_map(|l| l.trim().strip_prefix("#define "))
            .find_map(|rest| rest.strip_prefix(name)?.strip_prefix(' ').map(str::trim))
    }

    #[test]
    fn the_header_version_macros_are_the_crate_version() {
        let quoted = format!("\"{}\"", env!("CARGO_PKG_VERSION"));
        assert_eq!(
            define("SMTP32_VERSION"),
            Some(quoted.as_str()),
            "SMTP32_VERSION in smtp32.h"
        );
        for (name, value) in [
            ("SMTP32_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
            ("SMTP32_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR")),
            ("SMTP32_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH")),
        ] {
            assert_eq!(define(name), Some(value), "{name} in smtp32.h");
        }
    }

    #[test]
    fn smtp32_version_is_the_crate_version() {
        // SAFETY: the function returns a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(smtp32_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
