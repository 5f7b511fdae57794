//! Second and third local users for the tests that play a hostile neighbour:
//! system accounts created on first use (the tests run as root), sharing one
//! primary group so that a daemon's `0660` socket can admit both.
//!
//! Creation is idempotent and safe across test processes: a lock file
//! serialises `groupadd`/`useradd`, and an account that exists is reused.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// The group both test users have as their primary group.
pub const GROUP: &str = "smtp32-neighbours";

/// A local system user made for the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalUser {
    /// Its uid.
    pub uid: u32,
    /// Its primary group's gid (the shared [`GROUP`]).
    pub gid: u32,
}

impl LocalUser {
    /// The user `name` (e.g. `smtp32-mallory`), created when missing.
    pub fn get(name: &str) -> LocalUser {
        let lock = File::create("/tmp/smtp32-test-users.lock").expect("lock file");
        // SAFETY: flock on a descriptor this function owns; it blocks until granted.
        let locked = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
        assert_eq!(locked, 0, "flock");
        if id("-g", GROUP, true).is_none() {
            run(Command::new("groupadd").args(["--system", GROUP]));
        }
        if id("-u", name, false).is_none() {
            run(Command::new("useradd").args([
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                "--gid",
                GROUP,
                name,
            ]));
        }
        let uid = id("-u", name, false).expect("the user exists now");
        let gid = id("-g", GROUP, true).expect("the group exists now");
        LocalUser { uid, gid }
    }

    /// Makes `cmd` run as this user (uid and primary gid, no supplementary groups).
    pub fn apply<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.uid(self.uid)
            .gid(self.gid)
            .env_remove("XDG_RUNTIME_DIR")
            .env("HOME", "/nonexistent")
    }
}

/// `id -u NAME` or the gid of group NAME, if it exists.
fn id(flag: &str, name: &str, group: bool) -> Option<u32> {
    let out = if group {
        Command::new("getent").args(["group", name]).output().ok()?
    } else {
        Command::new("id").args([flag, name]).output().ok()?
    };
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let field = if group {
        text.split(':').nth(2)?
    } else {
        text.trim()
    };
    field.trim().parse().ok()
}

fn run(cmd: &mut Command) {
    let status = cmd.status().expect("run an account tool");
    assert!(status.success(), "{cmd:?} failed: {status}");
}
