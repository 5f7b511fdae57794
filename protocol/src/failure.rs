//! Why an operation failed, and the SMTP-32 return code for each reason.
//!
//! [`Failure`] is what travels on the wire; [`ReturnCode`] is the number a C
//! caller sees. The mapping between them is [`Failure::code`], the only place
//! that decides it.

use crate::reply::Reply;
use crate::send::SendReport;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// An SMTP-32 return code. The numbers are those of `client/include/smtp32.h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ReturnCode {
    /// The operation succeeded.
    Success = 0,
    /// The server refused the command (4xx/5xx) or answered nonsense; see `smtp_rply`.
    Failure = -1,
    /// The handle is unknown, closed, or belongs to another client.
    InvalidHandle = -2,
    /// The command could not be sent: the connection to the server is gone.
    CannotSendCommand = -3,
    /// No reply arrived within the connection's timeout.
    TimedOut = -4,
    /// Another operation on this handle is in flight (or its connect is still running).
    InProgress = -5,
    /// The operation was cancelled (`smtp_xquit` or a callback returning -1); the handle is gone.
    Aborted = -6,
    /// The caller's buffer is too small for the result.
    InsufficientLength = -7,
    /// The server's host name could not be resolved.
    UnknownHost = -8,
    /// No socket could be allocated for the connection.
    CannotAllocSocket = -9,
    /// The socket could not be bound to a local address.
    CannotBindSocket = -10,
    /// Nothing answered on the server's SMTP port.
    HostNotResponding = -11,
    /// The library could not initialise: the daemon cannot be reached or refused the handshake.
    CannotInitialize = -12,
    /// The network stack could not be initialised (kept for SMTP-32 compatibility).
    CannotInitWinsock = -13,
    /// No room for another connection: a daemon limit was reached.
    OutOfMemory = -14,
    /// Unknown `smtp_opts` option.
    InvalidOption = -15,
    /// A NULL pointer, CR/LF/NUL inside an argument, or a value out of range.
    InvalidArgument = -16,
    /// TLS could not be had: STARTTLS not offered where required, a failed
    /// handshake, a certificate that does not verify, or AUTH refused over a
    /// cleartext connection. `smtp_rply` gives the reason.
    TlsFailure = -17,
}

impl ReturnCode {
    /// Every code, in numeric order from `Success` downwards.
    pub const ALL: [ReturnCode; 18] = [
        ReturnCode::Success,
        ReturnCode::Failure,
        ReturnCode::InvalidHandle,
        ReturnCode::CannotSendCommand,
        ReturnCode::TimedOut,
        ReturnCode::InProgress,
        ReturnCode::Aborted,
        ReturnCode::InsufficientLength,
        ReturnCode::UnknownHost,
        ReturnCode::CannotAllocSocket,
        ReturnCode::CannotBindSocket,
        ReturnCode::HostNotResponding,
        ReturnCode::CannotInitialize,
        ReturnCode::CannotInitWinsock,
        ReturnCode::OutOfMemory,
        ReturnCode::InvalidOption,
        ReturnCode::InvalidArgument,
        ReturnCode::TlsFailure,
    ];

    /// The C value of this code.
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// The code with this C value, if any.
    pub fn from_i32(value: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_i32() == value)
    }

    /// The C macro name, e.g. `SMTP_TIMED_OUT`.
    pub fn name(self) -> &'static str {
        match self {
            ReturnCode::Success => "SMTP_SUCCESS",
            ReturnCode::Failure => "SMTP_FAILURE",
            ReturnCode::InvalidHandle => "SMTP_INVALID_HANDLE",
            ReturnCode::CannotSendCommand => "SMTP_CANNOT_SEND_COMMAND",
            ReturnCode::TimedOut => "SMTP_TIMED_OUT",
            ReturnCode::InProgress => "SMTP_IN_PROGRESS",
            ReturnCode::Aborted => "SMTP_ABORTED",
            ReturnCode::InsufficientLength => "SMTP_INSUFFICIENT_LENGTH",
            ReturnCode::UnknownHost => "SMTP_UNKNOWN_HOST",
            ReturnCode::CannotAllocSocket => "SMTP_CANNOT_ALLOC_SOCKET",
            ReturnCode::CannotBindSocket => "SMTP_CANNOT_BIND_SOCKET",
            ReturnCode::HostNotResponding => "SMTP_HOST_NOT_RESPONDING",
            ReturnCode::CannotInitialize => "SMTP_CANNOT_INITIALIZE",
            ReturnCode::CannotInitWinsock => "SMTP_CANNOT_INIT_WINSOCK",
            ReturnCode::OutOfMemory => "SMTP_OUT_OF_MEMORY",
            ReturnCode::InvalidOption => "SMTP_INVALID_OPTION",
            ReturnCode::InvalidArgument => "SMTP_INVALID_ARGUMENT",
            ReturnCode::TlsFailure => "SMTP_TLS_FAILURE",
        }
    }

    /// A one-line human description (what `smtp_strerror` returns).
    pub fn describe(self) -> &'static str {
        match self {
            ReturnCode::Success => "success",
            ReturnCode::Failure => "the server was not able to execute the command",
            ReturnCode::InvalidHandle => "invalid connection handle",
            ReturnCode::CannotSendCommand => "the command could not be sent: connection lost",
            ReturnCode::TimedOut => "timed out waiting for the server",
            ReturnCode::InProgress => "another operation is already in progress",
            ReturnCode::Aborted => "operation aborted; the connection has been closed",
            ReturnCode::InsufficientLength => "buffer too small",
            ReturnCode::UnknownHost => "unable to resolve the host name",
            ReturnCode::CannotAllocSocket => "could not allocate a socket",
            ReturnCode::CannotBindSocket => "could not bind the socket to a local address",
            ReturnCode::HostNotResponding => "unable to connect to the SMTP port of the host",
            ReturnCode::CannotInitialize => {
                "cannot initialise: the smtp32d daemon cannot be reached"
            }
            ReturnCode::CannotInitWinsock => "the network stack could not be initialised",
            ReturnCode::OutOfMemory => "no room for another connection (daemon limit reached)",
            ReturnCode::InvalidOption => "invalid option",
            ReturnCode::InvalidArgument => "invalid argument",
            ReturnCode::TlsFailure => {
                "TLS could not be established or the certificate did not verify"
            }
        }
    }
}

/// Why an operation failed, as the daemon reports it on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum Failure {
    /// The server answered with a 4xx or 5xx reply.
    #[error("server refused: {}", .0.to_wire_text())]
    Refused(Reply),
    /// The server's reply broke RFC 5321 (or a size bound); the connection was dropped.
    #[error("malformed reply from server: {0}")]
    BadReply(String),
    /// The handle is unknown, closed, or not this client's.
    #[error("invalid handle")]
    InvalidHandle,
    /// Another operation on the handle is in flight.
    #[error("another operation is in progress on this handle")]
    InProgress,
    /// No reply within the connection's timeout; the connection was dropped.
    #[error("timed out after {0} s")]
    TimedOut(u16),
    /// Cancelled by `smtp_xquit` or a callback; the handle is gone.
    #[error("aborted")]
    Aborted,
    /// Writing to or reading from the server failed; the connection is gone.
    #[error("connection to server lost: {0}")]
    ConnectionLost(String),
    /// The host name did not resolve.
    #[error("unknown host: {0}")]
    UnknownHost(String),
    /// No address of the host accepted a TCP connection.
    #[error("host not responding: {0}")]
    HostNotResponding(String),
    /// The operating system refused a socket.
    #[error("cannot allocate socket: {0}")]
    CannotAllocSocket(String),
    /// An argument was empty where required, held CR/LF/NUL, or was out of range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A daemon limit (connections in all, or per client) was reached.
    #[error("limit reached: {0}")]
    LimitReached(String),
    /// The SOCKS proxy answered but would not carry the connection: no version
    /// or method in common, a refused user name or password, or a refused
    /// destination. `SMTP_FAILURE` ("remote error" in the manual's
    /// `smtp_fw_helo` list); no SMTP reply exists, so `smtp_rply` has none.
    /// An unreachable proxy is `HostNotResponding`, an unresolvable proxy
    /// name `UnknownHost`.
    #[error("SOCKS proxy failed at {stage}: {reason}")]
    Proxy {
        /// Where the proxy conversation stopped.
        stage: ProxyStage,
        /// What the proxy said, in words.
        reason: String,
    },
    /// The daemon is shutting down (SIGTERM or `Request::Shutdown`): it opens
    /// no connection and starts no mail transaction any more; work already in
    /// flight may finish within its `shutdown_grace`. `SMTP_CANNOT_INITIALIZE`,
    /// as when the daemon cannot be reached.
    #[error("smtp32d is shutting down")]
    ShuttingDown,
    /// An admin request this client may not make (`Reload`, `Shutdown` by a
    /// user who is neither root, the daemon's user nor in its `admin_group`).
    /// `SMTP_FAILURE`.
    #[error("not permitted: {0}")]
    NotPermitted(String),
    /// TLS could not be had (`SMTP_TLS_FAILURE`): the server does not offer
    /// STARTTLS where the policy requires it, the handshake failed or the
    /// certificate did not verify (the connection is then gone), or AUTH was
    /// refused over a cleartext connection. No SMTP reply exists; the text
    /// says why.
    #[error("TLS failure: {0}")]
    Tls(String),
    /// What the server announced in EHLO rules the request out, so nothing
    /// was sent: an extension it does not offer (SMTPUTF8 for a non-ASCII
    /// address, an AUTH mechanism) or a limit it advertised (SIZE).
    /// `SMTP_FAILURE`; the connection stays usable.
    #[error("not possible with this server: {0}")]
    Unsupported(String),
    /// `Request::SendMessage` did not deliver: MAIL, every RCPT, DATA or the
    /// final dot was refused. `SMTP_FAILURE`; the report holds every reply,
    /// and `reply()` is its verdict. The connection stays usable.
    #[error("message not sent: {}", .0.verdict.to_wire_text())]
    NotSent(SendReport),
    /// The request needs a daemon setting that is not there: `OpenRelay`
    /// without `relay.host`. The text names the key. `SMTP_FAILURE`.
    #[error("not configured: {0}")]
    NotConfigured(String),
    /// `OpenRelay`: the relay did not accept the daemon's AUTH credentials,
    /// or AUTH could not run (the relay offers no AUTH, or no TLS where the
    /// daemon requires it); the inner failure says which (never itself a
    /// `RelayAuth`). The connection was closed. The return code and the
    /// reply are the inner failure's.
    #[error("the relay refused the daemon's AUTH: {0}")]
    RelayAuth(#[serde(deserialize_with = "nested::deserialize")] Box<Failure>),
}

impl Failure {
    /// The SMTP-32 return code for this failure. This is the one mapping.
    pub fn code(&self) -> ReturnCode {
        match self {
            Failure::Refused(_) | Failure::BadReply(_) | Failure::Proxy { .. } => {
                ReturnCode::Failure
            }
            Failure::InvalidHandle => ReturnCode::InvalidHandle,
            Failure::InProgress => ReturnCode::InProgress,
            Failure::TimedOut(_) => ReturnCode::TimedOut,
            Failure::Aborted => ReturnCode::Aborted,
            Failure::ConnectionLost(_) => ReturnCode::CannotSendCommand,
            Failure::UnknownHost(_) => ReturnCode::UnknownHost,
            Failure::HostNotResponding(_) => ReturnCode::HostNotResponding,
            Failure::CannotAllocSocket(_) => ReturnCode::CannotAllocSocket,
            Failure::InvalidArgument(_) => ReturnCode::InvalidArgument,
            Failure::LimitReached(_) => ReturnCode::OutOfMemory,
            Failure::ShuttingDown => ReturnCode::CannotInitialize,
            Failure::NotPermitted(_) => ReturnCode::Failure,
            Failure::Tls(_) => ReturnCode::TlsFailure,
            Failure::Unsupported(_) | Failure::NotSent(_) | Failure::NotConfigured(_) => {
                ReturnCode::Failure
            }
            Failure::RelayAuth(inner) => inner.code(),
        }
    }

    /// The server reply carried by this failure, if it has one.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Failure::Refused(r) => Some(r),
            Failure::NotSent(report) => Some(&report.verdict),
            Failure::RelayAuth(inner) => inner.reply(),
            _ => None,
        }
    }
}

/// Where in the proxy conversation a [`Failure::Proxy`] happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProxyStage {
    /// Version and method negotiation: the proxy speaks no version we may use,
    /// accepts none of our methods, or broke off the conversation.
    Handshake,
    /// RFC 1929: the proxy refused the user name or password.
    Authentication,
    /// The proxy would not or could not connect to the destination
    /// (SOCKS5 reply 0x01..=0x08, SOCKS4 reply 91..=93).
    Connect,
}

impl std::fmt::Display for ProxyStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProxyStage::Handshake => "handshake",
            ProxyStage::Authentication => "authentication",
            ProxyStage::Connect => "connect",
        })
    }
}

/// Decoding of the one recursive field, `RelayAuth`'s cause, with its depth
/// bounded: a frame that nests causes without end would otherwise recurse
/// until the decoder's stack overflows (the frame fuzzer found it).
mod nested {
    use super::Failure;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer};
    use std::cell::Cell;

    /// Causes nested deeper than this are refused (the daemon sends one).
    const MAX_DEPTH: u8 = 4;

    thread_local! {
        static DEPTH: Cell<u8> = const { Cell::new(0) };
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Box<Failure>, D::Error> {
        let depth = DEPTH.with(|c| c.get());
        if depth >= MAX_DEPTH {
            return Err(D::Error::custom("RelayAuth causes nested too deep"));
        }
        DEPTH.with(|c| c.set(depth + 1));
        let inner = Failure::deserialize(d);
        DEPTH.with(|c| c.set(depth));
        inner.map(Box::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_auth_causes_nested_without_end_are_refused_not_a_stack_overflow() {
        // RelayAuth's tag (19) repeated: every cause is another RelayAuth.
        let mut body = vec![19u8; 100_000];
        body.extend_from_slice(&[0, 0xfb, 0x17, 0x02, 0]);
        assert!(crate::codec::decode_body::<Failure>(&body).is_err());
        let mut two = vec![19u8; 2];
        two.extend_from_slice(&[0, 0xfb, 0x17, 0x02, 0]);
        let decoded: Failure = crate::codec::decode_body(&two).expect("two levels decode");
        assert_eq!(decoded.code(), ReturnCode::Failure);
    }

    #[test]
    fn codes_round_trip_and_are_distinct() {
        for c in ReturnCode::ALL {
            assert_eq!(ReturnCode::from_i32(c.as_i32()), Some(c));
        }
        assert_eq!(ReturnCode::from_i32(1), None);
        assert_eq!(ReturnCode::Success.as_i32(), 0);
    }

    #[test]
    fn refusal_maps_to_failure_and_keeps_reply() {
        let f = Failure::Refused(Reply {
            code: 550,
            lines: ["no"].into(),
        });
        assert_eq!(f.code(), ReturnCode::Failure);
        assert_eq!(f.reply().map(|r| r.code), Some(550));
    }

    #[test]
    fn proxy_failure_is_a_remote_error_without_reply() {
        let f = Failure::Proxy {
            stage: ProxyStage::Authentication,
            reason: "password refused".into(),
        };
        assert_eq!(f.code(), ReturnCode::Failure);
        assert_eq!(f.reply(), None);
        assert_eq!(
            f.to_string(),
            "SOCKS proxy failed at authentication: password refused"
        );
    }

    #[test]
    fn relay_auth_takes_code_and_reply_from_its_cause() {
        let refused = Failure::Refused(Reply {
            code: 535,
            lines: ["5.7.8 bad credentials"].into(),
        });
        let f = Failure::RelayAuth(Box::new(refused));
        assert_eq!(
            (f.code(), f.reply().map(|r| r.code)),
            (ReturnCode::Failure, Some(535))
        );
        assert!(f.to_string().contains("535 5.7.8 bad credentials"), "{f}");
        let f = Failure::RelayAuth(Box::new(Failure::TimedOut(20)));
        assert_eq!((f.code(), f.reply()), (ReturnCode::TimedOut, None));
        assert_eq!(
            Failure::NotConfigured("relay.host".into()).code(),
            ReturnCode::Failure
        );
    }
}
