//! Outbound SMTP: everything the daemon says to and hears from an SMTP server.
//!
//! This layer knows nothing of actix or of the IPC socket. It owns the
//! parsing of the caller's host string ([`endpoint`]), the way the TCP
//! connection is made ([`route`]: straight, or through a SOCKS proxy by
//! [`socks`]), the exact wire line of
//! each command ([`command`]), the bounded reply reader ([`reply`]), DATA
//! transparency ([`dot_stuff`]), the hook that copies traffic for the debug
//! callback ([`tap`]) and the connection itself ([`client`]). Nothing here
//! sets a timeout: the session wraps every operation in its own timeout and
//! cancel, so each future in this module may simply be dropped.
//!
//! [`SmtpError`] is the one error type of the layer, and its `From` impl is
//! the one mapping of these errors onto the wire's [`Failure`].

pub mod client;
pub mod command;
pub mod dot_stuff;
pub mod endpoint;
pub mod reply;
pub mod route;
pub mod socks;
pub mod tap;

pub use client::{check_local_name, SmtpClient};
pub use command::{command_line, validate_arg};
pub use dot_stuff::DataEncoder;
pub use endpoint::Endpoint;
pub use reply::read_reply;
pub use route::{open_tcp, Route};
pub use tap::{NoTap, TrafficTap};

use smtp32_protocol::{Failure, ProxyStage, Reply};
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
            lines: vec!["no".into()],
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
            Failure::from(SmtpError::Proxy { stage: ProxyStage::Connect, reason: "r".into() }),
            Failure::Proxy { stage: ProxyStage::Connect, reason: "r".into() }
        );
    }
}
