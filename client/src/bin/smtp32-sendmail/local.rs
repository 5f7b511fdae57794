//! Who is sending from where: the invoking user's login name and full name
//! (from the password database, by the real uid, as Postfix does) and the
//! machine's host name, which makes the default sender `login@hostname`
//! and qualifies bare recipient names.

use std::ffi::CStr;

/// The invoking user as the system knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalUser {
    /// The login name of the real uid, when the password database has it.
    pub login: Option<String>,
    /// The first comma-separated part of the GECOS field, when not empty.
    pub gecos_name: Option<String>,
}

impl LocalUser {
    /// Looks up the real uid in the password database.
    pub fn current() -> LocalUser {
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        let mut buf = vec![0u8; 16 * 1024];
        // SAFETY: zeroed is a valid `passwd` (null pointers, zero ids); it is
        // only read after getpwuid_r has filled it.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call; the strings it sets
        // point into `buf`, which outlives their use below.
        let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut found) };
        if rc != 0 || found.is_null() {
            return LocalUser { login: None, gecos_name: None };
        }
        // SAFETY: on success the fields are NUL-terminated strings in `buf` (or null).
        let text = |p: *const libc::c_char| -> Option<String> {
            if p.is_null() {
                return None;
            }
            let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
            Some(s).filter(|s| !s.is_empty())
        };
        let login = text(pwd.pw_name);
        let gecos_name = text(pwd.pw_gecos)
            .and_then(|g| g.split(',').next().map(|n| n.trim().to_string()))
            .filter(|n| !n.is_empty() && !n.chars().any(char::is_control));
        LocalUser { login, gecos_name }
    }
}

/// The machine's host name (`gethostname(2)`), `localhost` if it has none.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length minus the last byte, which stays 0.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(name) if rc == 0 && !name.is_empty() && !name.contains(char::is_whitespace) => name.to_string(),
        _ => "localhost".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_user_and_host_are_known() {
        let me = LocalUser::current();
        assert!(me.login.as_deref().is_some_and(|l| !l.is_empty()), "{me:?}");
        let host = hostname();
        assert!(!host.is_empty() && !host.contains(' '), "{host}");
    }
}
