//! Waiting on the daemon stream (Unix): a caller for its response
//! ([`readable`]), the reader thread while no call reads ([`wait`]).
//!
//! A caller polls, then reads: a blocking read bounded by the socket's
//! receive timeout instead (one system call fewer) made the IPC ping on one
//! CPU slower (medians of six runs: 12.9 → 15.9 µs; 13.7 µs even with no
//! timeout): such a read arms a kernel timer each time it blocks.
//!
//! Every thread waiting in `poll` for data on a socket is woken by each frame
//! that arrives, and a caller that reads its own response polls the socket
//! too. A reader thread polling for data beside it was a second wake-up for
//! every call that came after a pause (one every 50 ms, say): the daemon's
//! send woke both threads, and the reader ran only to find the caller had
//! read the frame, then slept again on a timer. So the reader polls for data
//! only while a frame can come that no call would read: the `Connected`
//! status of an asynchronous connect, or traffic copies of a handle with
//! debugging on ([`Routing::expects_events`]). Otherwise it polls for the
//! hang-up alone (a dead daemon is still noticed at once; data does not wake
//! it), and a call that starts expecting events pokes it to decide again.
//!
//! Elsewhere than on Unix callers do not read (see `reader.rs`) and none of
//! this applies.

use crate::routing::Routing;
use interprocess::local_socket::Stream;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// What the reader thread waits for on the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Watch {
    /// Frames: some can come that no call reads.
    Frames,
    /// Only the stream's end; a poke makes it decide again.
    Hangup,
}

/// What ended a wait.
pub(crate) enum Woke {
    /// The stream has data, or ended.
    Stream,
    /// A poke: what to wait for may have changed.
    Poked,
}

/// The reader thread's wake-up line: a socket pair, one byte a poke.
pub(crate) struct Poke {
    rx: UnixStream,
    tx: UnixStream,
}

impl Poke {
    /// A new line; `None` when the system has no socket pair to give (the
    /// reader then always waits for frames, as callers do).
    pub(crate) fn new() -> Option<Poke> {
        let (rx, tx) = UnixStream::pair().ok()?;
        rx.set_nonblocking(true).ok()?;
        tx.set_nonblocking(true).ok()?;
        Some(Poke { rx, tx })
    }

    /// Wakes the reader thread from a `Hangup` wait. A full line already
    /// holds a poke, so a failed write loses nothing.
    pub(crate) fn poke(&self) {
        let _ = (&self.tx).write(&[1]);
    }

    /// Empties the line after a wake-up.
    fn drain(&self) {
        let mut buf = [0u8; 64];
        while matches!((&self.rx).read(&mut buf), Ok(n) if n > 0) {}
    }
}

/// What the reader thread should wait for now.
pub(crate) fn watch_for(poke: Option<&Poke>, routing: &Routing) -> Watch {
    if poke.is_none() || routing.expects_events() {
        Watch::Frames
    } else {
        Watch::Hangup
    }
}

/// Waits, as long as it takes, for what `watch` says, or for a poke.
pub(crate) fn wait(stream: &Stream, watch: Watch, poke: Option<&Poke>) -> std::io::Result<Woke> {
    let Some(fd) = stream_fd(stream) else {
        return Ok(Woke::Stream);
    };
    // POLLHUP is reported whatever is asked for; asking for nothing more
    // leaves this thread out of the wake-ups that data causes.
    let events = match watch {
        Watch::Frames => libc::POLLIN,
        Watch::Hangup => 0,
    };
    let mut fds = [
        libc::pollfd {
            fd,
            events,
            revents: 0,
        },
        libc::pollfd {
            fd: poke.map_or(-1, |p| p.rx.as_raw_fd()),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        poll(&mut fds, -1)?;
        if fds[0].revents != 0 {
            return Ok(Woke::Stream);
        }
        if let Some(p) = poke.filter(|_| fds[1].revents != 0) {
            p.drain();
            return Ok(Woke::Poked);
        }
    }
}

/// Waits up to `wait` for the stream to be readable (or closed): how a
/// caller waits for its response. A signal ends the wait early (`false`).
pub(crate) fn readable(stream: &Stream, wait: Duration) -> std::io::Result<bool> {
    let Some(fd) = stream_fd(stream) else {
        return Ok(true);
    };
    let mut fds = [libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }];
    let ms = wait.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    Ok(poll(&mut fds, ms)? > 0)
}

/// The stream's socket descriptor (`None` for a kind of stream without one).
fn stream_fd(stream: &Stream) -> Option<RawFd> {
    #[allow(irrefutable_let_patterns)]
    let Stream::UdSocket(s) = stream
    else {
        return None;
    };
    Some(s.as_fd().as_raw_fd())
}

/// `poll(2)` on `fds` for up to `timeout_ms` (-1: no limit): how many
/// descriptors are ready, 0 also when a signal interrupted the wait.
fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> std::io::Result<usize> {
    // SAFETY: `fds` is a live slice of pollfds, its length passed with it;
    // poll ignores a negative fd, and the callers' descriptors are owned by
    // streams they hold for the duration of the call.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    match usize::try_from(n) {
        Ok(n) => Ok(n),
        Err(_) => {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                Ok(0)
            } else {
                Err(e)
            }
        }
    }
}
