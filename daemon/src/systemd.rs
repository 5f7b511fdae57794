//! The two things the daemon does with systemd, without linking libsystemd:
//! adopt the listening socket that socket activation passes
//! (`LISTEN_PID`/`LISTEN_FDS`, first descriptor 3, see sd_listen_fds(3)), and
//! report readiness and stopping on `$NOTIFY_SOCKET` (sd_notify(3)).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixDatagram;

/// The first descriptor systemd passes.
const LISTEN_FDS_START: RawFd = 3;

/// The listening socket systemd passed to this process, if any.
///
/// Only when `LISTEN_PID` is this process and `LISTEN_FDS` is at least 1;
/// descriptor 3 is then checked to be a listening Unix stream socket, marked
/// close-on-exec, and the variables are removed so that children do not
/// inherit them. More than one descriptor: the first is used, the others are
/// left alone (the unit passes one).
pub fn listen_fd() -> io::Result<Option<OwnedFd>> {
    let pid_matches = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.trim().parse::<u32>().ok())
        .unwrap_or(0);
    if !pid_matches || count == 0 {
        return Ok(None);
    }
    for key in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        // SAFETY (edition 2024 makes this unsafe): the daemon is still single-threaded here.
        std::env::remove_var(key);
    }
    let fd = LISTEN_FDS_START;
    check_listening_unix_stream(fd)?;
    // SAFETY: fd 3 is open (checked above) and, by the sd_listen_fds protocol, ours to own.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: fcntl on a descriptor we own.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Some(owned))
}

/// Refuses a passed descriptor that is not a listening `AF_UNIX` stream socket.
fn check_listening_unix_stream(fd: RawFd) -> io::Result<()> {
    let get = |option: libc::c_int| -> io::Result<libc::c_int> {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `value` and `len` are valid for writing; a bad fd yields an error, not UB.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if rc == 0 {
            Ok(value)
        } else {
            Err(io::Error::last_os_error())
        }
    };
    let wrong = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("descriptor {fd} from systemd is {what}"),
        )
    };
    if get(libc::SO_DOMAIN)? != libc::AF_UNIX {
        return Err(wrong("not a Unix socket"));
    }
    if get(libc::SO_TYPE)? != libc::SOCK_STREAM {
        return Err(wrong("not a stream socket (ListenStream= is needed)"));
    }
    if get(libc::SO_ACCEPTCONN)? == 0 {
        return Err(wrong("not listening (Accept=no is needed)"));
    }
    Ok(())
}

/// Sends `state` (e.g. `READY=1`) to systemd when `$NOTIFY_SOCKET` is set;
/// does nothing otherwise. Errors are returned for logging; they never stop the daemon.
pub fn notify(state: &str) -> io::Result<()> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let socket = UnixDatagram::unbound()?;
    let bytes = path.as_encoded_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        // An abstract socket: the name without its leading '@'.
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        socket.send_to_addr(state.as_bytes(), &addr)?;
    } else {
        socket.send_to(state.as_bytes(), std::path::Path::new(&path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_reaches_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        std::env::set_var("NOTIFY_SOCKET", &path);
        notify("READY=1").unwrap();
        std::env::remove_var("NOTIFY_SOCKET");
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        // Unset: a no-op.
        notify("STOPPING=1").unwrap();
    }

    #[test]
    fn a_plain_descriptor_is_refused() {
        let file = tempfile::tempfile().unwrap();
        use std::os::fd::AsRawFd;
        assert!(check_listening_unix_stream(file.as_raw_fd()).is_err());
        let dir = tempfile::tempdir().unwrap();
        let listener = std::os::unix::net::UnixListener::bind(dir.path().join("s")).unwrap();
        check_listening_unix_stream(listener.as_raw_fd()).unwrap();
    }
}
