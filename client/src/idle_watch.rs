//! How the reader thread waits on the daemon stream while no call reads it.
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
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;

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
    #[allow(irrefutable_let_patterns)]
    let Stream::UdSocket(s) = stream
    else {
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
            fd: s.as_fd().as_raw_fd(),
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
        // SAFETY: two pollfds on descriptors that `stream` and `poke` own for
        // the duration of the call (a negative fd is ignored by poll).
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if fds[0].revents != 0 {
            return Ok(Woke::Stream);
        }
        if let Some(p) = poke.filter(|_| fds[1].revents != 0) {
            p.drain();
            return Ok(Woke::Poked);
        }
    }
}
