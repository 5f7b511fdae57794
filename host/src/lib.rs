//! The facts about this host that the daemon and the tools look up: the host name, a user's
//! login name, full name and groups, a group's id, the process's own uids. One place, through
//! `nix` (which wraps `gethostname(2)`, `getpwuid_r(3)`, `getgrnam_r(3)` and
//! `getgrouplist(3)` with their buffer growing and error handling), so no caller repeats the
//! unsafe calls and every caller gets the same answers.

use nix::unistd::{self, Gid, Group, Uid, User};
use std::ffi::CString;

/// The machine's host name (`gethostname(2)`), when it has one that is valid UTF-8, not
/// empty and free of white space.
pub fn hostname() -> Option<String> {
    let name = unistd::gethostname().ok()?.into_string().ok()?;
    (!name.is_empty() && !name.contains(char::is_whitespace)).then_some(name)
}

/// The real uid of this process (who ran it).
pub fn real_uid() -> u32 {
    Uid::current().as_raw()
}

/// The effective uid of this process (whose rights it has).
pub fn effective_uid() -> u32 {
    Uid::effective().as_raw()
}

/// The effective gid of this process.
pub fn effective_gid() -> u32 {
    Gid::effective().as_raw()
}

/// A user as the password database knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The login name.
    pub login: String,
    /// The first comma-separated part of the GECOS field, trimmed, when it is not empty and has
    /// no control characters.
    pub full_name: Option<String>,
    /// The primary group.
    pub gid: u32,
}

/// The password database's entry for `uid`, if it has one.
pub fn account(uid: u32) -> Option<Account> {
    let user = User::from_uid(Uid::from_raw(uid)).ok()??;
    let gecos = user.gecos.to_string_lossy();
    let full_name = gecos
        .split(',')
        .next()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty() && !n.chars().any(char::is_control));
    Some(Account {
        login: user.name,
        full_name,
        gid: user.gid.as_raw(),
    })
}

/// The id of the group called `name`, if it exists.
pub fn group_id(name: &str) -> Option<u32> {
    Group::from_name(name).ok()?.map(|g| g.gid.as_raw())
}

/// Every group `uid` belongs to (primary and supplementary); empty when the user is unknown to
/// the user database.
pub fn user_groups(uid: u32) -> Vec<u32> {
    let Some(account) = account(uid) else {
        return Vec::new();
    };
    let Ok(login) = CString::new(account.login) else {
        return Vec::new();
    };
    unistd::getgrouplist(&login, Gid::from_raw(account.gid))
        .map(|groups| groups.into_iter().map(Gid::as_raw).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_user_and_host_are_known() {
        let me = account(real_uid()).expect("the test user is in the password database");
        assert!(!me.login.is_empty(), "{me:?}");
        let host = hostname().expect("the test machine has a host name");
        assert!(!host.contains(' '), "{host}");
    }

    #[test]
    fn root_is_in_group_zero_and_strangers_are_nobody() {
        // Group 0 is `root` on every Linux system.
        assert_eq!(group_id("root"), Some(0));
        assert!(user_groups(0).contains(&0));
        assert_eq!(group_id("no-such-group-smtp32"), None);
        assert!(user_groups(4_000_000).is_empty());
    }
}
