//! The Unix side of [`crate::platform`]: uids from the socket's peer
//! credentials, `poll(POLLRDHUP)` for hang-ups, sd_notify, `gethostname`.

use super::Peer;
use crate::systemd;
use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::StreamCommon as _;

/// Who a client is: its effective uid.
pub type UserId = u32;
/// A group: its gid.
pub type GroupId = u32;
/// The user a client counts as when the kernel did not tell ("nobody known").
pub const UNKNOWN_USER: UserId = u32::MAX;

/// A user for unit tests: uid `n`.
#[cfg(test)]
pub fn test_user(n: u32) -> UserId {
    n
}

/// The bytes that name a user in a connection cache key.
pub fn user_key(uid: UserId) -> Vec<u8> {
    uid.to_be_bytes().to_vec()
}

/// The uid as `smtp32ctl` shows it.
pub fn wire_uid(uid: UserId) -> u32 {
    uid
}

/// Root or the user the daemon runs as.
pub fn is_owner(uid: UserId) -> bool {
    uid == 0 || uid == smtp32_host::effective_uid()
}

/// The daemon itself as a peer, for the work it does on its own (the queue).
pub fn own_peer() -> Peer {
    Peer {
        pid: Some(std::process::id()),
        uid: Some(smtp32_host::effective_uid()),
        gid: Some(smtp32_host::effective_gid()),
    }
}

/// The client's credentials as the kernel reported them at connect.
pub fn peer_of(stream: &Stream) -> Peer {
    match stream.peer_creds() {
        Ok(c) => Peer {
            pid: c.pid().and_then(|p| u32::try_from(p).ok()),
            uid: c.euid(),
            gid: c.egid(),
        },
        Err(_) => Peer::default(),
    }
}

/// True when the client has closed its end (or the socket failed), whatever is still unread.
pub fn peer_hung_up(stream: &Stream) -> bool {
    use std::os::fd::{AsFd, AsRawFd};
    #[allow(irrefutable_let_patterns)]
    let Stream::UdSocket(s) = stream
    else {
        return false;
    };
    let mut fd = libc::pollfd {
        fd: s.inner().as_fd().as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid pollfd for a descriptor the stream owns; timeout 0, so it never blocks.
    let n = unsafe { libc::poll(&mut fd, 1, 0) };
    n > 0 && fd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}

/// Tells systemd the daemon's state (`READY=1`), when it asked to be told.
pub fn notify(state: &str) {
    if let Err(e) = systemd::notify(state) {
        tracing::warn!("cannot notify systemd: {e}");
    }
}

/// No registry on Unix: the built-in defaults stand until the file.
pub fn registry_defaults() -> String {
    String::new()
}

/// The machine's host name, as `gethostname(2)` gives it.
pub fn machine_hostname() -> Option<String> {
    smtp32_host::hostname()
}

/// Makes glibc's allocator keep the buffers of a large message for the next
/// one: for the daemon's process only (the binary calls it, the library
/// never does), with frames of up to `max_frame_bytes`.
///
/// A frame's buffers (the read buffer, up to twice the frame, which a large
/// data chunk keeps as its payload; the dot-stuffed output of what needs a
/// change) are freed after each frame. With glibc's
/// defaults, whether the next frame got them back or fresh pages depended on
/// what the process had freed before: a fresh daemon mapped new pages for
/// every 4 MiB frame, and page faults and zeroing took a fifth of its time
/// on a 50 MiB `sendmsg` (`perf`, all on one CPU; W7 0.66x raw, 0.78x
/// with this). Now a block of up to four frames is served from the heap, and
/// up to four frames' worth of freed heap is kept (16 MiB by default).
pub fn keep_message_buffers(max_frame_bytes: u32) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // glibc refuses a mapping threshold over 32 MiB (64-bit).
        let kept = (max_frame_bytes as usize)
            .saturating_mul(4)
            .clamp(1 << 20, 32 << 20) as libc::c_int;
        // SAFETY: mallopt sets two of the allocator's tunables under the
        // allocator's own lock; no pointer is passed.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, kept);
            libc::mallopt(libc::M_TRIM_THRESHOLD, kept);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = max_frame_bytes;
}
