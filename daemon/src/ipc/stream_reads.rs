//! How the daemon reads an IPC client's stream: a read that returns less
//! than it had room for has drained the socket, so the reader next waits
//! for the reactor instead of reading again only to be told `EAGAIN`.
//!
//! tokio does this for its own streams; the local socket's `&Stream` reads
//! through `try_read`, which learns the socket is empty only from an
//! `EAGAIN`: one more `recvfrom` for every request, on the round trip.
//! Forgetting readiness after a short read is safe on an edge-triggered
//! reactor: bytes that arrive after the read raise a new event, and tokio
//! ignores a clear that comes after an event newer than the read.

use interprocess::local_socket::tokio::Stream;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// An IPC client's stream, as its reader reads it.
#[derive(Clone, Copy)]
pub struct StreamReads<'a>(pub &'a Stream);

impl StreamReads<'_> {
    /// The stream read.
    pub fn stream(&self) -> &Stream {
        self.0
    }
}

impl AsyncRead for StreamReads<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        #[cfg(unix)]
        {
            let Stream::UdSocket(uds) = self.0;
            poll_read_socket(uds.inner(), cx, buf)
        }
        // Named pipes: read as the local socket reads them.
        #[cfg(windows)]
        {
            Pin::new(&mut &*self.0).poll_read(cx, buf)
        }
    }
}

/// Reads what the socket holds into `buf`'s spare room; after a short read
/// the next poll waits for the reactor.
#[cfg(unix)]
fn poll_read_socket(
    socket: &tokio::net::UnixStream,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    use tokio::io::Interest;
    let fd = std::os::fd::AsRawFd::as_raw_fd(socket);
    loop {
        std::task::ready!(socket.poll_read_ready(cx))?;
        // SAFETY: only `recv` below writes to these bytes, and only
        // those it reports are marked initialized.
        let unfilled = unsafe { buf.unfilled_mut() };
        let room = unfilled.len();
        // Into the buffer as it is, uninitialized: `try_read` wants a
        // zeroed slice, a memset of the whole spare room of a large frame.
        let read = socket.try_io(Interest::READABLE, || {
            // SAFETY: `fd` is the socket's, open while `socket` is
            // borrowed; `recv` writes at most `room` bytes into `unfilled`.
            let n = unsafe { libc::recv(fd, unfilled.as_mut_ptr().cast(), room, 0) };
            usize::try_from(n).map_err(|_| io::Error::last_os_error())
        });
        match read {
            Ok(n) => {
                // SAFETY: `recv` initialized the first `n` bytes of the unfilled part.
                unsafe { buf.assume_init(n) };
                buf.advance(n);
                if 0 < n && n < room {
                    // Only clears the readiness flag: no system call.
                    let _ = socket.try_io(Interest::READABLE, || {
                        Err::<(), _>(io::ErrorKind::WouldBlock.into())
                    });
                }
                return Poll::Ready(Ok(()));
            }
            // `try_io` cleared the readiness: the next poll waits.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}
