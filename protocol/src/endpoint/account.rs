//! Who runs a process, on Windows: the user SID in its access token, for the
//! named-pipe trust boundary (the counterpart of the Unix peer uid).
//!
//! A client asks who serves the pipe it connected to
//! (`GetNamedPipeServerProcessId`, then that process's token) and sends
//! nothing unless the answer is an account it trusts ([`check_pipe_server`]):
//! the account named by `SMTP32_DAEMON_SID` when set, else its own user and
//! the built-in service accounts (LocalSystem, LocalService, NetworkService).
//! The daemon identifies each client by its token's user SID the same way
//! (`GetNamedPipeClientProcessId`), and admits its admin group by the token's
//! enabled groups ([`Token::enabled_group_sids`]).

use super::trust::TrustError;
use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::path::Path;
use windows_sys::Win32::Foundation::{LocalFree, HANDLE};
use windows_sys::Win32::Security::Authorization::ConvertSidToStringSidW;
use windows_sys::Win32::Security::{
    GetTokenInformation, LookupAccountNameW, TokenGroups, TokenUser, PSID, SID_NAME_USE,
    TOKEN_GROUPS, TOKEN_INFORMATION_CLASS, TOKEN_QUERY, TOKEN_USER,
};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
};

/// The attribute of a group that counts in access checks (winnt.h).
const SE_GROUP_ENABLED: u32 = 0x4;

/// The daemon's pipe when nobody says otherwise.
pub const DEFAULT_PIPE: &str = r"\\.\pipe\smtp32d";
/// Names the one account a client trusts to serve the pipe (a SID, `S-1-5-19`).
pub const DAEMON_SID_ENV: &str = "SMTP32_DAEMON_SID";
/// LocalSystem, LocalService and NetworkService: the accounts a service runs as.
pub const SERVICE_ACCOUNT_SIDS: [&str; 3] = ["S-1-5-18", "S-1-5-19", "S-1-5-20"];
/// The built-in Administrators group.
pub const ADMINISTRATORS_SID: &str = "S-1-5-32-544";

/// An open access token.
pub struct Token(OwnedHandle);

impl Token {
    /// The token of the process `pid` (query access only).
    pub fn of_process(pid: u32) -> io::Result<Token> {
        // SAFETY: plain call; a null result is an error, a handle is ours to close.
        let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
        if process.is_null() {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `process` is a valid handle we own (checked above).
        let process = unsafe { OwnedHandle::from_raw_handle(process) };
        open_token(process.as_raw_handle())
    }

    /// The token of this process.
    pub fn of_current_process() -> io::Result<Token> {
        // SAFETY: the pseudo handle needs no closing and is always valid.
        open_token(unsafe { GetCurrentProcess() })
    }

    /// The token's user, as a SID string (`S-1-5-21-…`).
    pub fn user_sid(&self) -> io::Result<String> {
        let buf = self.information(TokenUser)?;
        // SAFETY: GetTokenInformation filled `buf` with a TOKEN_USER (aligned: a u64 buffer).
        let user = unsafe { &*(buf.as_ptr() as *const TOKEN_USER) };
        sid_string(user.User.Sid)
    }

    /// The SIDs of the token's enabled groups (a deny-only group, such as
    /// Administrators in a token that is not elevated, is left out).
    pub fn enabled_group_sids(&self) -> io::Result<Vec<String>> {
        let buf = self.information(TokenGroups)?;
        // SAFETY: GetTokenInformation filled `buf` with a TOKEN_GROUPS followed by its array.
        let groups = unsafe { &*(buf.as_ptr() as *const TOKEN_GROUPS) };
        // SAFETY: the array has GroupCount entries, all inside `buf`.
        let all = unsafe {
            std::slice::from_raw_parts(groups.Groups.as_ptr(), groups.GroupCount as usize)
        };
        all.iter()
            .filter(|g| g.Attributes & SE_GROUP_ENABLED != 0)
            .map(|g| sid_string(g.Sid))
            .collect()
    }

    fn information(&self, class: TOKEN_INFORMATION_CLASS) -> io::Result<Vec<u64>> {
        let handle = self.0.as_raw_handle() as HANDLE;
        let mut needed = 0u32;
        // SAFETY: a size query: null buffer of length 0, `needed` is valid for writing.
        unsafe { GetTokenInformation(handle, class, std::ptr::null_mut(), 0, &mut needed) };
        let mut buf = vec![0u64; (needed as usize).div_ceil(8).max(1)];
        let len = (buf.len() * 8) as u32;
        // SAFETY: `buf` is valid for `len` bytes and aligned for every TOKEN_* structure.
        if unsafe { GetTokenInformation(handle, class, buf.as_mut_ptr().cast(), len, &mut needed) }
            == 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(buf)
    }
}

fn open_token(process: HANDLE) -> io::Result<Token> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: `process` is valid for this call; `token` is valid for writing.
    if unsafe { OpenProcessToken(process, TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: OpenProcessToken succeeded: `token` is a handle we own.
    Ok(Token(unsafe { OwnedHandle::from_raw_handle(token) }))
}

/// The user SID of the process `pid`.
pub fn process_user_sid(pid: u32) -> io::Result<String> {
    Token::of_process(pid)?.user_sid()
}

/// The SID of the account or group called `name` (`Users`, `DOMAIN\name`), if it exists.
pub fn account_sid(name: &str) -> Option<String> {
    let wide: Vec<u16> = name.encode_utf16().chain([0]).collect();
    let mut sid = [0u64; 16]; // SECURITY_MAX_SID_SIZE (68 bytes) fits
    let mut sid_len = (sid.len() * 8) as u32;
    let mut domain = [0u16; 256];
    let mut domain_len = domain.len() as u32;
    let mut kind: SID_NAME_USE = 0;
    // SAFETY: every buffer is valid for the length passed with it; `wide` is NUL-terminated.
    let ok = unsafe {
        LookupAccountNameW(
            std::ptr::null(),
            wide.as_ptr(),
            sid.as_mut_ptr().cast(),
            &mut sid_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut kind,
        )
    };
    (ok != 0)
        .then(|| sid_string(sid.as_mut_ptr().cast()).ok())
        .flatten()
}

/// A SID as its string form.
fn sid_string(sid: PSID) -> io::Result<String> {
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: `sid` points to a valid SID (from the token or a look-up); `text` is
    // valid for writing.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success `text` is a NUL-terminated wide string that we free below.
    let len = (0..).take_while(|&i| unsafe { *text.add(i) } != 0).count();
    // SAFETY: `len` characters were just read through the same pointer.
    let s = String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(text, len) });
    // SAFETY: ConvertSidToStringSidW allocated `text` with LocalAlloc.
    unsafe { LocalFree(text.cast()) };
    Ok(s)
}

/// The accounts a client trusts to serve its pipe: `SMTP32_DAEMON_SID` when
/// set, else its own user and the service accounts.
pub fn trusted_daemon_sids() -> Vec<String> {
    if let Some(sid) = std::env::var(DAEMON_SID_ENV).ok().filter(|s| !s.is_empty()) {
        return vec![sid];
    }
    let mut sids: Vec<String> = Token::of_current_process()
        .and_then(|t| t.user_sid())
        .into_iter()
        .collect();
    sids.extend(SERVICE_ACCOUNT_SIDS.iter().map(|s| s.to_string()));
    sids
}

/// Checks that the process serving the pipe at `path` (`server_pid`, from
/// `GetNamedPipeServerProcessId`) runs as a trusted account.
pub fn check_pipe_server(path: &Path, server_pid: Option<u32>) -> Result<(), TrustError> {
    let unknown = || TrustError::UnknownDaemon(path.to_path_buf());
    let sid = server_pid
        .and_then(|pid| process_user_sid(pid).ok())
        .ok_or_else(unknown)?;
    let expected = trusted_daemon_sids();
    if expected.contains(&sid) {
        return Ok(());
    }
    Err(TrustError::DaemonAccount {
        path: path.to_path_buf(),
        sid,
        expected: expected.join(" or "),
    })
}
