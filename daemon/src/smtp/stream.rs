//! The byte stream under an SMTP connection: plain TCP, or TLS over TCP.
//!
//! [`SmtpStream`] lets [`SmtpClient`](super::SmtpClient) keep one reader and
//! one writer path whether or not the connection is encrypted. STARTTLS takes
//! the plain stream out ([`SmtpStream::take_plain`]) and puts the TLS one back.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A connection's stream.
pub enum SmtpStream {
    /// Cleartext TCP.
    Plain(TcpStream),
    /// TLS over TCP (implicit, or after STARTTLS).
    Tls(Box<TlsStream<TcpStream>>),
    /// Taken out for the TLS handshake, which failed: every I/O is an error.
    Detached,
}

impl SmtpStream {
    /// Takes the TCP stream out for a TLS handshake; `None` if it is not plain.
    pub fn take_plain(&mut self) -> Option<TcpStream> {
        match std::mem::replace(self, SmtpStream::Detached) {
            SmtpStream::Plain(tcp) => Some(tcp),
            other => {
                *self = other;
                None
            }
        }
    }

    /// For the admin view: `TLSv1_3 TLS13_AES_256_GCM_SHA384`, `None` when not encrypted.
    pub fn tls_description(&self) -> Option<String> {
        let SmtpStream::Tls(tls) = self else {
            return None;
        };
        let (_, conn) = tls.get_ref();
        let version = conn
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default();
        let suite = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default();
        Some(format!("{version} {suite}").trim().to_string())
    }

    /// False when the runtime knows that plain TCP has nothing to read (its
    /// readiness, cleared by the last short read, not set again since): one
    /// atomic load, no waker registered, nothing read. TLS may hold
    /// decrypted bytes of its own: it always may. (On Windows tokio clears
    /// the readiness only when a read would block: there it says "may"
    /// after every reply.)
    pub fn may_have_data(&self) -> bool {
        match self {
            SmtpStream::Plain(tcp) => tcp.try_io(tokio::io::Interest::READABLE, || Ok(())).is_ok(),
            SmtpStream::Tls(_) | SmtpStream::Detached => true,
        }
    }

    /// True when the socket has nothing to read and no end of stream: asks
    /// the kernel itself (a peek that never waits), not the runtime's
    /// readiness, which may not have seen a FIN that just arrived.
    #[cfg(unix)]
    pub fn socket_is_quiet(&self) -> bool {
        use std::os::fd::AsRawFd;
        let fd = match self {
            SmtpStream::Plain(tcp) => tcp.as_raw_fd(),
            SmtpStream::Tls(tls) => tls.get_ref().0.as_raw_fd(),
            SmtpStream::Detached => return false,
        };
        let mut byte = 0u8;
        // SAFETY: `fd` is an open socket owned by `self` for the whole call,
        // and `byte` is a valid one-byte buffer; MSG_PEEK leaves the data queued.
        let n = unsafe {
            libc::recv(
                fd,
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
    }

    /// On Windows the runtime's readiness is all there is: a session the
    /// server closed is then found by its first command, which is sent again
    /// on a new connection (the cache's resend).
    #[cfg(windows)]
    pub fn socket_is_quiet(&self) -> bool {
        !matches!(self, SmtpStream::Detached)
    }

    /// True once TLS is up.
    pub fn is_tls(&self) -> bool {
        matches!(self, SmtpStream::Tls(_))
    }
}

fn detached() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the connection was lost in the TLS handshake",
    )
}

impl AsyncRead for SmtpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SmtpStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            SmtpStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            SmtpStream::Detached => Poll::Ready(Err(detached())),
        }
    }
}

impl AsyncWrite for SmtpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            SmtpStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            SmtpStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            SmtpStream::Detached => Poll::Ready(Err(detached())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SmtpStream::Plain(s) => Pin::new(s).poll_flush(cx),
            SmtpStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            SmtpStream::Detached => Poll::Ready(Err(detached())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SmtpStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            SmtpStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            SmtpStream::Detached => Poll::Ready(Ok(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn plain_tcp_may_have_data_only_once_bytes_have_come() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let (mut client, (mut server, _)) = (client.expect("connect"), accepted.expect("accept"));
        server.write_all(b"220 hi\r\n").await.expect("greet");
        let mut buf = [0u8; 64];
        assert_eq!(client.read(&mut buf).await.expect("read"), 8);
        let stream = SmtpStream::Plain(client);
        // A short read clears the socket's readiness on Unix. On Windows
        // tokio keeps it until a read would block, so there the check falls
        // back to the poll: slower, never wrong.
        #[cfg(unix)]
        assert!(!stream.may_have_data());
        server
            .write_all(b"250 nobody asked\r\n")
            .await
            .expect("stray");
        if let SmtpStream::Plain(tcp) = &stream {
            tcp.readable().await.expect("readable");
        }
        assert!(stream.may_have_data());
    }
}
