//! Outbound SMTP: everything the daemon says to and hears from an SMTP server.
//!
//! This layer knows nothing of actix or of the IPC socket. It owns the
//! parsing of the caller's host string ([`target`] for the URL forms and the
//! TLS policy, [`endpoint`] for host and port), the way the TCP connection is
//! made ([`route`]: straight, or through a SOCKS proxy by [`socks`]), TLS
//! ([`tls`]: policy, verification, handshake; [`stream`]: plain or TLS under
//! one reader and writer), the exact wire line of
//! each command ([`command`]), the bounded reply reader ([`reply`]) over a
//! read buffer that is given back while the connection is idle ([`read_buf`];
//! given-back buffers wait per thread in [`buffer_pool`]), DATA
//! transparency ([`dot_stuff`]), the hook that copies traffic for the debug
//! callback ([`tap`]), what of an AUTH exchange may be shown ([`redact`]) and
//! the connection itself ([`client`]). Nothing here
//! sets a timeout: the session wraps every operation in its own timeout and
//! cancel, so each future in this module may simply be dropped.
//!
//! [`SmtpError`] is the one error type of the layer, and its `From` impl is
//! the one mapping of these errors onto the wire's [`Failure`].

pub mod buffer_pool;
pub mod client;
pub mod command;
pub mod dot_stuff;
pub mod endpoint;
pub mod read_buf;
pub mod redact;
pub mod reply;
pub mod route;
pub mod socks;
pub mod stream;
pub mod tap;
pub mod target;
pub mod tls;

pub use client::{check_local_name, DsnRequest, SmtpClient};
pub use command::{validate_arg, CheckedCommand};
pub use dot_stuff::DataEncoder;
pub use endpoint::Endpoint;
pub use reply::read_reply;
pub use route::{open_tcp, Route};
pub use tap::{NoTap, TrafficTap};

pub use stream::SmtpStream;
pub use target::Target;
pub use tls::{TlsContext, TlsMode, TlsPlan};

use smtp32_protocol::{Failure, ProxyStage, Reply, SendReport};
use thiserror::Error;

/// Why an outbound SMTP operation failed.
#[derive(Debug, Error)]
pub enum SmtpError {
    /// The server refused: a 4xx/5xx reply, or a reply other than the one the
    /// step requires (a greeting that is not 220, an answer to DATA that is not 354).
    #[error("server refused: {}", .0.to_wire_text())]
    Refused(Reply),
    /// The server's reply broke RFC 5321 or exceeded a size bound.
    #[error("malformed reply from server: {0}")]
    BadReply(String),
    /// Writing to or reading from the server failed.
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection before a complete reply.
    #[error("server closed the connection")]
    Closed,
    /// The host name did not resolve.
    #[error("unknown host: {0}")]
    UnknownHost(String),
    /// No address of the host accepted a TCP connection.
    #[error("host not responding: {0}")]
    HostNotResponding(String),
    /// The operating system refused a socket.
    #[error("cannot allocate socket: {0}")]
    CannotAllocSocket(String),
    /// The caller's argument cannot be sent: empty, CR/LF/NUL inside, or out of range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The SOCKS proxy answered but would not carry the connection.
    #[error("SOCKS proxy failed at {stage}: {reason}")]
    Proxy {
        /// Where the proxy conversation stopped.
        stage: ProxyStage,
        /// Why, in words (never a password).
        reason: String,
    },
    /// The TLS handshake failed or the certificate did not verify (or TLS was
    /// required and the server would not start it); the connection is lost.
    #[error("TLS failure: {0}")]
    Tls(String),
    /// TLS cannot be had or is needed first, and nothing was sent: STARTTLS
    /// not offered, already encrypted, AUTH refused in cleartext. The
    /// connection is unchanged.
    #[error("TLS failure: {0}")]
    TlsUnavailable(String),
    /// The server's EHLO rules the request out (SIZE limit, no SMTPUTF8, no
    /// such AUTH mechanism); nothing was sent.
    #[error("not possible with this server: {0}")]
    Unsupported(String),
    /// A one-call send that did not deliver; the dialogue is still in step.
    #[error("message not sent: {}", .0.verdict.to_wire_text())]
    NotSent(SendReport),
}

impl SmtpError {
    /// True when the dialogue is still in step after this error, so the
    /// connection can be kept: a refusal, or a request refused before anything was sent.
    pub fn keeps_connection(&self) -> bool {
        matches!(
            self,
            SmtpError::Refused(_)
                | SmtpError::TlsUnavailable(_)
                | SmtpError::Unsupported(_)
                | SmtpError::NotSent(_)
                | SmtpError::InvalidArgument(_)
        )
    }
}

impl From<SmtpError> for Failure {
    fn from(e: SmtpError) -> Self {
        match e {
            SmtpError::Refused(reply) => Failure::Refused(reply),
            SmtpError::BadReply(why) => Failure::BadReply(why),
            SmtpError::Io(_) | SmtpError::Closed => Failure::ConnectionLost(e.to_string()),
            SmtpError::UnknownHost(host) => Failure::UnknownHost(host),
            SmtpError::HostNotResponding(why) => Failure::HostNotResponding(why),
            SmtpError::CannotAllocSocket(why) => Failure::CannotAllocSocket(why),
            SmtpError::InvalidArgument(why) => Failure::InvalidArgument(why),
            SmtpError::Proxy { stage, reason } => Failure::Proxy { stage, reason },
            SmtpError::Tls(why) | SmtpError::TlsUnavailable(why) => Failure::Tls(why),
            SmtpError::Unsupported(why) => Failure::Unsupported(why),
            SmtpError::NotSent(report) => Failure::NotSent(report),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn each_error_maps_to_its_failure() {
        let reply = Reply {
            code: 550,
            lines: ["no"].into(),
        };
        assert_eq!(
            Failure::from(SmtpError::Refused(reply.clone())),
            Failure::Refused(reply)
        );
        assert_eq!(
            Failure::from(SmtpError::BadReply("x".into())),
            Failure::BadReply("x".into())
        );
        let io = SmtpError::Io(io::Error::new(io::ErrorKind::BrokenPipe, "pipe"));
        assert!(matches!(Failure::from(io), Failure::ConnectionLost(t) if t.contains("pipe")));
        assert!(
            matches!(Failure::from(SmtpError::Closed), Failure::ConnectionLost(t) if t.contains("closed"))
        );
        assert_eq!(
            Failure::from(SmtpError::UnknownHost("h".into())),
            Failure::UnknownHost("h".into())
        );
        assert_eq!(
            Failure::from(SmtpError::HostNotResponding("h".into())),
            Failure::HostNotResponding("h".into())
        );
        assert_eq!(
            Failure::from(SmtpError::CannotAllocSocket("s".into())),
            Failure::CannotAllocSocket("s".into())
        );
        assert_eq!(
            Failure::from(SmtpError::InvalidArgument("a".into())),
            Failure::InvalidArgument("a".into())
        );
        assert_eq!(
            Failure::from(SmtpError::Proxy {
                stage: ProxyStage::Connect,
                reason: "r".into()
            }),
            Failure::Proxy {
                stage: ProxyStage::Connect,
                reason: "r".into()
            }
        );
    }
}
