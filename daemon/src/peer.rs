//! Who is on the other end of an IPC connection, from the socket's peer
//! credentials, and whether that user may administer the daemon.
//!
//! An admin sees and acts on every connection through the admin requests;
//! everyone else only on the connections of their own uid. Admins are root,
//! the daemon's own user (a per-user daemon is its user's to run), and the
//! members of the group named by the `admin_group` setting — by primary group
//! or supplementary membership as the system's user database says (looked up
//! through `smtp32-host`).
//!
//! On Windows a user is a SID from the client's access token; the owners are
//! LocalSystem and the daemon's own account, and admins also the enabled
//! members of Administrators (an elevated token) and of `admin_group`.

pub use crate::platform::Peer;
use crate::platform::{self, GroupId, UserId};

impl Peer {
    /// True when this peer may see and act on every connection: root, the
    /// daemon's own user, or a member of `admin_group` (empty: nobody else).
    /// May block on the user database: see [`Peer::admin_without_lookup`].
    pub fn is_admin(&self, admin_group: &str) -> bool {
        if let Some(known) = self.admin_without_lookup(admin_group) {
            return known;
        }
        let Some(uid) = self.uid else { return false };
        self.in_admin_group(uid, admin_group)
    }

    #[cfg(unix)]
    fn in_admin_group(&self, uid: UserId, admin_group: &str) -> bool {
        match group_id(admin_group) {
            Some(gid) => self.gid == Some(gid) || smtp32_host::user_groups(uid).contains(&gid),
            None => false,
        }
    }

    #[cfg(windows)]
    fn in_admin_group(&self, uid: UserId, admin_group: &str) -> bool {
        self.pid
            .is_some_and(|pid| platform::is_admin_member(pid, uid, group_id(admin_group)))
    }
}

impl Peer {
    /// Admin status when it needs no look-up in the user database: root and
    /// the daemon's own user are admins, an unknown uid or an empty
    /// `admin_group` leaves everyone else out; `None` when group membership decides.
    pub fn admin_without_lookup(&self, admin_group: &str) -> Option<bool> {
        let Some(uid) = self.uid else {
            return Some(false);
        };
        if platform::is_owner(uid) {
            return Some(true);
        }
        // On Windows, Administrators are admins too, which only the token tells.
        (cfg!(unix) && admin_group.is_empty()).then_some(false)
    }

    /// The uid whose per-user limits (`max_clients_per_user`,
    /// `max_connections_per_user`) apply to this peer. Root and the daemon's
    /// own user own the daemon and are not limited per user; a peer whose uid
    /// the kernel did not report counts as `u32::MAX` ("nobody known").
    pub fn limited_uid(&self) -> Option<UserId> {
        match self.uid {
            Some(uid) if platform::is_owner(uid) => None,
            Some(uid) => Some(uid),
            None => Some(platform::UNKNOWN_USER),
        }
    }
}

/// The SID of the group called `name`, if it exists.
#[cfg(windows)]
pub fn group_id(name: &str) -> Option<GroupId> {
    smtp32_protocol::endpoint::account::account_sid(name).and_then(|sid| platform::Sid::parse(&sid))
}

/// The id of the group called `name`, if it exists (the user database, through `smtp32-host`).
#[cfg(unix)]
pub fn group_id(name: &str) -> Option<GroupId> {
    smtp32_host::group_id(name)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn root_and_own_user_are_admins_strangers_are_not() {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        assert!(Peer {
            uid: Some(0),
            ..Peer::default()
        }
        .is_admin(""));
        assert!(Peer {
            uid: Some(me),
            ..Peer::default()
        }
        .is_admin(""));
        assert!(!Peer {
            uid: None,
            ..Peer::default()
        }
        .is_admin("root"));
        let stranger = if me == 0 { 65_534 } else { me + 1 };
        assert!(!Peer {
            uid: Some(stranger),
            gid: Some(4242),
            pid: None
        }
        .is_admin(""));
        assert!(!Peer {
            uid: Some(stranger),
            gid: Some(4242),
            pid: None
        }
        .is_admin("no-such-group-smtp32"));
    }

    #[test]
    fn membership_by_primary_group() {
        // Group 0 is `root` on every Linux system.
        assert_eq!(group_id("root"), Some(0));
        let stranger = Peer {
            uid: Some(4_000_000),
            gid: Some(0),
            pid: None,
        };
        assert!(stranger.is_admin("root"));
        assert!(smtp32_host::user_groups(0).contains(&0));
    }
}

/// Identifies one IPC client connection for the daemon's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientId(pub u64);

/// Who asks an admin request: their credentials and whether they are an admin.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    /// The asking client's credentials.
    pub peer: Peer,
    /// True for root, the daemon's user and `admin_group` members.
    pub admin: bool,
}

impl Viewer {
    /// True when this viewer may see and act on a connection opened by `owner`.
    pub fn may_see(&self, owner: &Peer) -> bool {
        self.admin || (self.peer.uid.is_some() && self.peer.uid == owner.uid)
    }
}
