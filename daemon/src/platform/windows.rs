//! The Windows side of [`crate::platform`]: users are SIDs from the client's
//! access token (`GetNamedPipeClientProcessId`, `OpenProcessToken`), a
//! hang-up is a pipe `PeekNamedPipe` calls broken, the pipe's name and DACL
//! are in `platform/windows/pipe.rs`, the host name is the DNS one, and the
//! SMTP-32 manual's registry values are defaults ([`registry_defaults`]).
//! [`service`] runs the daemon as a Windows service.

pub mod service;

use super::Peer;
use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::StreamCommon as _;
use smtp32_protocol::endpoint::account::{self, Token, ADMINISTRATORS_SID};
use std::fmt;
use std::sync::OnceLock;

/// Longest SID string: `S-1-` and a 48-bit authority, then 15 sub-authorities.
const SID_TEXT_MAX: usize = 4 + 15 + 15 * 11;

/// A SID in its string form, fixed-size so that it is `Copy` like a uid.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sid {
    len: u8,
    text: [u8; SID_TEXT_MAX],
}

impl Sid {
    /// `text` when it has the form `S-1-<authority>(-<sub-authority>)*`.
    pub fn parse(text: &str) -> Option<Sid> {
        let mut parts = text.split('-');
        let well_formed = parts.next() == Some("S")
            && parts.next() == Some("1")
            && parts
                .all(|p| !p.is_empty() && p.len() <= 15 && p.bytes().all(|b| b.is_ascii_digit()));
        (well_formed && text.len() <= SID_TEXT_MAX && text.matches('-').count() >= 2)
            .then(|| Sid::from_str(text))
    }

    const fn from_str(text: &str) -> Sid {
        let bytes = text.as_bytes();
        let mut sid = Sid {
            len: bytes.len() as u8,
            text: [0; SID_TEXT_MAX],
        };
        let mut i = 0;
        while i < bytes.len() {
            sid.text[i] = bytes[i];
            i += 1;
        }
        sid
    }

    /// The string form.
    pub fn as_str(&self) -> &str {
        // Only ASCII goes in (`parse` and the constants below).
        std::str::from_utf8(&self.text[..self.len as usize]).unwrap_or("S-1-0-0")
    }

    /// The relative id: the last sub-authority (1000 for the first local user).
    fn rid(&self) -> u32 {
        self.as_str()
            .rsplit('-')
            .next()
            .and_then(|r| r.parse().ok())
            .unwrap_or(u32::MAX)
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a client is: the user SID in its process's token.
pub type UserId = Sid;
/// A group: its SID.
pub type GroupId = Sid;
/// The user a client counts as when its token could not be read: Nobody (`S-1-0-0`).
pub const UNKNOWN_USER: UserId = Sid::from_str("S-1-0-0");
/// LocalSystem, the Windows counterpart of root.
const LOCAL_SYSTEM: Sid = Sid::from_str("S-1-5-18");

/// A user for unit tests: a local account SID whose relative id is `n`.
#[cfg(test)]
pub fn test_user(n: u32) -> UserId {
    Sid::parse(&format!("S-1-5-21-1-2-3-{n}")).expect("a well-formed SID")
}

/// The bytes that name a user in a connection cache key: the whole SID
/// (relative ids repeat across domains).
pub fn user_key(uid: UserId) -> Vec<u8> {
    uid.as_str().as_bytes().to_vec()
}

/// The SID's relative id, the number `smtp32ctl` shows as the owner's uid.
pub fn wire_uid(uid: UserId) -> u32 {
    uid.rid()
}

/// The account this daemon runs as.
fn own_sid() -> Option<Sid> {
    static OWN: OnceLock<Option<Sid>> = OnceLock::new();
    *OWN.get_or_init(|| {
        Token::of_current_process()
            .and_then(|t| t.user_sid())
            .ok()
            .and_then(|s| Sid::parse(&s))
    })
}

/// LocalSystem or the account the daemon runs as.
pub fn is_owner(uid: UserId) -> bool {
    uid == LOCAL_SYSTEM || Some(uid) == own_sid()
}

/// The daemon itself as a peer, for the work it does on its own (the queue).
pub fn own_peer() -> Peer {
    Peer {
        pid: Some(std::process::id()),
        uid: Some(own_sid().unwrap_or(LOCAL_SYSTEM)),
        gid: None,
    }
}

/// True when the process `pid`, still running as `uid`, has Administrators
/// or `group` among the enabled groups of its token.
pub fn is_admin_member(pid: u32, uid: UserId, group: Option<GroupId>) -> bool {
    let Ok(token) = Token::of_process(pid) else {
        return false;
    };
    // The pid may have been reused since the client connected: the user must still match.
    if token.user_sid().ok().and_then(|s| Sid::parse(&s)) != Some(uid) {
        return false;
    }
    let groups = token.enabled_group_sids().unwrap_or_default();
    groups
        .iter()
        .any(|g| g == ADMINISTRATORS_SID || group.is_some_and(|group| g == group.as_str()))
}

/// The client's process id and user, from the pipe and its process's token.
pub fn peer_of(stream: &Stream) -> Peer {
    let pid = stream.peer_creds().ok().and_then(|c| c.pid());
    let uid = pid
        .and_then(|pid| account::process_user_sid(pid).ok())
        .and_then(|s| Sid::parse(&s));
    Peer {
        pid,
        uid,
        gid: None,
    }
}

/// True when the client closed its end of the pipe (or the pipe failed).
pub fn peer_hung_up(stream: &Stream) -> bool {
    use std::os::windows::io::{AsHandle, AsRawHandle};
    use windows_sys::Win32::System::Pipes::PeekNamedPipe;
    #[allow(irrefutable_let_patterns)]
    let Stream::NamedPipe(pipe) = stream
    else {
        return false;
    };
    let handle = pipe.inner().as_handle().as_raw_handle();
    let mut available = 0u32;
    let null = std::ptr::null_mut();
    // SAFETY: the handle is the stream's, alive for the call; only `available` is written.
    unsafe { PeekNamedPipe(handle, null, 0, null.cast(), &mut available, null.cast()) == 0 }
}

/// No service manager to tell in console mode.
pub fn notify(_state: &str) {}

/// Where the SMTP-32 manual keeps the library's settings (under HKEY_LOCAL_MACHINE).
const REGISTRY_KEY: &str = r"SOFTWARE\Distinct\DLLS\SMTP32";

/// The manual's `Timeout` and `DebugLevel` (REG_DWORD) as TOML settings, for
/// the configuration to apply between the built-in defaults and the file.
pub fn registry_defaults() -> String {
    let mut toml = String::new();
    for (value, key) in [("Timeout", "timeout"), ("DebugLevel", "debug_level")] {
        if let Some(n) = registry_dword(REGISTRY_KEY, value) {
            toml.push_str(&format!("{key} = {n}\n"));
        }
    }
    toml
}

/// A REG_DWORD under HKEY_LOCAL_MACHINE, if it exists.
fn registry_dword(key: &str, value: &str) -> Option<u32> {
    use windows_sys::Win32::System::Registry::{
        RegGetValueW, HKEY_LOCAL_MACHINE, RRF_RT_REG_DWORD,
    };
    let wide = |s: &str| s.encode_utf16().chain([0]).collect::<Vec<u16>>();
    let (key, value) = (wide(key), wide(value));
    let mut data = 0u32;
    let mut len = 4u32;
    let (null, out) = (std::ptr::null_mut(), (&mut data as *mut u32).cast());
    let (root, flags) = (HKEY_LOCAL_MACHINE, RRF_RT_REG_DWORD);
    // SAFETY: the names are NUL-terminated; `data` is valid for the `len` (4) bytes.
    let rc = unsafe {
        RegGetValueW(
            root,
            key.as_ptr(),
            value.as_ptr(),
            flags,
            null,
            out,
            &mut len,
        )
    };
    (rc == 0).then_some(data)
}

/// The machine's DNS host name.
pub fn machine_hostname() -> Option<String> {
    use windows_sys::Win32::System::SystemInformation::{
        ComputerNameDnsHostname, GetComputerNameExW,
    };
    let mut buf = [0u16; 256];
    let mut len = buf.len() as u32;
    // SAFETY: `buf` is valid for `len` characters; `len` is valid for writing.
    if unsafe { GetComputerNameExW(ComputerNameDnsHostname, buf.as_mut_ptr(), &mut len) } == 0 {
        return None;
    }
    let name = String::from_utf16(&buf[..(len as usize).min(buf.len())]).ok()?;
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_parse_print_and_give_their_relative_id() {
        let sid = Sid::parse("S-1-5-21-1004336348-1177238915-682003330-1000").unwrap();
        assert_eq!(
            sid.to_string(),
            "S-1-5-21-1004336348-1177238915-682003330-1000"
        );
        assert_eq!(wire_uid(sid), 1000);
        assert_eq!(Sid::parse("S-1-5-18"), Some(LOCAL_SYSTEM));
        for bad in [
            "",
            "S-1",
            "S-1-",
            "X-1-5-18",
            "S-1-5-x",
            "S-2-5-18",
            "S-1-5--18",
        ] {
            assert!(Sid::parse(bad).is_none(), "{bad}");
        }
        assert!(is_owner(LOCAL_SYSTEM));
        assert!(own_sid().is_some_and(is_owner));
    }
}
