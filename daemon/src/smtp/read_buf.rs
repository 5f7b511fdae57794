//! The read buffer of an SMTP connection, given back while the connection
//! is idle.
//!
//! tokio's `BufReader` keeps its buffer for the life of the stream: 4 KiB
//! per connection, most of a connection's memory when ten thousand sit
//! idle. [`ReadBuffer`] allocates its buffer when a read needs it and
//! [`ReadBuffer::release_if_empty`] gives it back between operations (never
//! while it still holds bytes the server sent ahead), to the thread's
//! [`READ_BUFFERS`].

use super::buffer_pool::READ_BUFFERS;
use std::io;

/// A zeroed-once buffer of `capacity` bytes, from the pool when it has one.
fn take_buffer(capacity: usize) -> Vec<u8> {
    READ_BUFFERS
        .take()
        .filter(|b| b.len() == capacity)
        .unwrap_or_else(|| vec![0; capacity])
}
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, ReadBuf};

/// A buffered reader (and pass-through writer) over `S` whose buffer exists only while needed.
pub struct ReadBuffer<S> {
    inner: S,
    /// Empty while released; else `capacity` bytes, of which `pos..filled` are unread.
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    capacity: usize,
}

impl<S> ReadBuffer<S> {
    /// A reader that reads up to `capacity` bytes at a time; nothing is allocated yet.
    pub fn with_capacity(capacity: usize, inner: S) -> Self {
        ReadBuffer {
            inner,
            buf: Vec::new(),
            pos: 0,
            filled: 0,
            capacity: capacity.max(1),
        }
    }

    /// The stream underneath.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The stream underneath (bytes already buffered stay buffered).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The bytes read from the stream and not yet consumed.
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.pos..self.filled]
    }

    /// Gives the buffer back when it holds no unread byte.
    pub fn release_if_empty(&mut self) {
        if self.pos == self.filled && !self.buf.is_empty() {
            READ_BUFFERS.give_back(std::mem::take(&mut self.buf));
            self.pos = 0;
            self.filled = 0;
        }
    }

    /// Bytes of buffer memory held now.
    pub fn held(&self) -> usize {
        self.buf.capacity()
    }
}

impl<S: AsyncRead + Unpin> AsyncBufRead for ReadBuffer<S> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.pos == this.filled {
            if this.buf.is_empty() {
                this.buf = take_buffer(this.capacity);
            }
            let mut read = ReadBuf::new(&mut this.buf);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            this.filled = read.filled().len();
            this.pos = 0;
        }
        Poll::Ready(Ok(&this.buf[this.pos..this.filled]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.pos = (this.pos + amt).min(this.filled);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadBuffer<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let available = ready!(self.as_mut().poll_fill_buf(cx))?;
        let n = available.len().min(out.remaining());
        out.put_slice(&available[..n]);
        self.consume(n);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadBuffer<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};

    #[tokio::test]
    async fn reads_in_pieces_and_releases_only_when_drained() {
        let mut r = ReadBuffer::with_capacity(4, &b"250 ok\r\n354 go\r\n"[..]);
        assert_eq!(r.held(), 0, "nothing allocated before a read");
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        assert_eq!(line, "250 ok\r\n");
        r.release_if_empty();
        assert_eq!(r.held(), 0, "drained: released");
        assert_eq!(r.fill_buf().await.unwrap(), b"354 ");
        r.consume(2);
        r.release_if_empty();
        assert_eq!(
            (r.held(), r.buffer()),
            (4, &b"4 "[..]),
            "unread bytes are kept"
        );
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"4 go\r\n");
    }
}
