//! The daemon's named pipe on Windows (`\\.\pipe\smtp32d` by default): created
//! with `FILE_FLAG_FIRST_PIPE_INSTANCE`, so that when anyone already holds the
//! name — another smtp32d, or a process squatting it to catch what clients
//! send — the daemon refuses to start instead of sharing it; remote clients
//! are rejected; and its DACL admits LocalSystem, Administrators, the daemon's
//! own account and, with `socket_mode = "0660"`, the `socket_group` (read and
//! write only: not the right to create instances of the pipe).
//!
//! Before creating, the daemon also asks whether any pipe of that name exists
//! (`WaitNamedPipeW`), which catches a squatter where the flag is not enforced
//! (Wine 8 ignores it); on Windows the flag alone closes the race.

pub use crate::platform::socket_path;
use crate::platform::GroupId;
use interprocess::local_socket::tokio::Listener;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use interprocess::os::windows::local_socket::ListenerOptionsExt;
use interprocess::os::windows::security_descriptor::SecurityDescriptor;
use smtp32_protocol::endpoint::account::Token;
use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Connect-only access for the group: FILE_GENERIC_READ, FILE_WRITE_DATA and
/// FILE_WRITE_ATTRIBUTES, without FILE_CREATE_PIPE_INSTANCE.
const GROUP_ACCESS: &str = "0x12018b";

/// Who may connect, as on Unix: `mode` 0o600 or 0o660, and the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketPerms {
    /// 0o600 (the daemon's account and the administrators) or 0o660 (and `gid`).
    pub mode: u32,
    /// The group admitted with 0o660.
    pub gid: Option<GroupId>,
}

/// Why the pipe could not be created.
#[derive(Debug, Error)]
pub enum ListenError {
    /// The name is taken: another smtp32d, or someone squatting it.
    #[error(
        "a pipe named {0} already exists (another smtp32d, or a process squatting the name); \
         refusing to start"
    )]
    Live(PathBuf),
    /// Creating the pipe failed otherwise.
    #[error("cannot listen on {path}: {source}")]
    Io {
        /// The pipe path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// Creates the first instance of the pipe at `path`. Must run inside the tokio runtime.
pub fn bind(path: &Path, perms: SocketPerms) -> Result<Listener, ListenError> {
    let io_err = |source| ListenError::Io {
        path: path.to_path_buf(),
        source,
    };
    let sddl = dacl(perms).map_err(io_err)?;
    let wide: Vec<u16> = sddl.encode_utf16().chain([0]).collect();
    let sddl = widestring::U16CStr::from_slice(&wide).map_err(|e| io_err(io::Error::other(e)))?;
    let descriptor = SecurityDescriptor::deserialize(sddl).map_err(io_err)?;
    if name_exists(path) {
        return Err(ListenError::Live(path.to_path_buf()));
    }
    let name = path.to_fs_name::<GenericFilePath>().map_err(io_err)?;
    ListenerOptions::new()
        .name(name)
        .security_descriptor(descriptor)
        .create_tokio()
        .map_err(|e| {
            // ERROR_ACCESS_DENIED: FILE_FLAG_FIRST_PIPE_INSTANCE and the name exists
            // (or its DACL keeps us out, which for our own name means the same).
            const ERROR_ACCESS_DENIED: i32 = 5;
            const ERROR_PIPE_BUSY: i32 = 231;
            match e.raw_os_error() {
                Some(ERROR_ACCESS_DENIED | ERROR_PIPE_BUSY) => {
                    ListenError::Live(path.to_path_buf())
                }
                _ => io_err(e),
            }
        })
}

/// True when a pipe named `path` exists (free or busy), without connecting to it.
fn name_exists(path: &Path) -> bool {
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::System::Pipes::WaitNamedPipeW;
    const ERROR_FILE_NOT_FOUND: i32 = 2;
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain([0]).collect();
    // SAFETY: `wide` is a NUL-terminated wide string that outlives the call.
    if unsafe { WaitNamedPipeW(wide.as_ptr(), 1) } != 0 {
        return true;
    }
    io::Error::last_os_error().raw_os_error() != Some(ERROR_FILE_NOT_FOUND)
}

/// The pipe's security descriptor in SDDL: a protected DACL (nothing
/// inherited) for LocalSystem, Administrators, the daemon's account and the group.
fn dacl(perms: SocketPerms) -> io::Result<String> {
    let me = Token::of_current_process()?.user_sid()?;
    let mut sddl = format!("D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GA;;;{me})");
    if let (true, Some(group)) = (perms.mode & 0o060 != 0, perms.gid) {
        sddl.push_str(&format!("(A;;{GROUP_ACCESS};;;{group})"));
    }
    Ok(sddl)
}
