//! What a client asks of the daemon.

use crate::auth::{AuthMechanism, AuthSecret};
use crate::batch::BatchMessage;
use crate::ids::Handle;
use crate::queue::Submission;
use crate::socks::SocksRoute;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The timeouts a connection takes, in seconds: `SetTimeout`'s, the daemon's
/// `timeout` setting, `smtp_opts` (the manual's 1 to 999).
pub const TIMEOUT_SECONDS: std::ops::RangeInclusive<u16> = 1..=999;

/// `seconds` as a connection timeout (see [`TIMEOUT_SECONDS`]), or why it is not one.
pub fn timeout_seconds(seconds: u32) -> Result<u16, String> {
    u16::try_from(seconds)
        .ok()
        .filter(|s| TIMEOUT_SECONDS.contains(s))
        .ok_or_else(|| {
            format!(
                "timeout {seconds} s is outside {}..={} seconds",
                TIMEOUT_SECONDS.start(),
                TIMEOUT_SECONDS.end()
            )
        })
}

/// How `Open` reports the outcome of the connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpenMode {
    /// `smtp_helo`: the response comes after the greeting and EHLO/HELO.
    Sync,
    /// `smtp_xhelo`: `Opened` comes at once; `Event::Connected` follows.
    Async,
}

/// An SMTP command that expects exactly one reply. Arguments must not hold
/// CR, LF or NUL; the daemon refuses them with `Failure::InvalidArgument`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// `MAIL FROM:<from>`.
    Mail {
        #[serde(deserialize_with = "crate::codec::text::string")]
        from: String,
    },
    /// `SEND FROM:<from>` (RFC 821).
    Send {
        #[serde(deserialize_with = "crate::codec::text::string")]
        from: String,
    },
    /// `SOML FROM:<from>` (RFC 821).
    Soml {
        #[serde(deserialize_with = "crate::codec::text::string")]
        from: String,
    },
    /// `SAML FROM:<from>` (RFC 821).
    Saml {
        #[serde(deserialize_with = "crate::codec::text::string")]
        from: String,
    },
    /// `RCPT TO:<to>`.
    Rcpt {
        #[serde(deserialize_with = "crate::codec::text::string")]
        to: String,
    },
    /// `NOOP`.
    Noop,
    /// `RSET`.
    Rset,
    /// `VRFY name`.
    Vrfy {
        #[serde(deserialize_with = "crate::codec::text::string")]
        name: String,
    },
    /// `EXPN name`.
    Expn {
        #[serde(deserialize_with = "crate::codec::text::string")]
        name: String,
    },
    /// `HELP [topic]`.
    Help { topic: Option<String> },
    /// `TURN`.
    Turn,
    /// A raw command line from `smtp_direct` (not QUIT).
    Direct {
        #[serde(deserialize_with = "crate::codec::text::string")]
        line: String,
    },
}

/// A request from a client. Each travels in `ClientFrame::Request` with an id
/// that the matching `DaemonFrame::Response` echoes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Liveness check; answered by `Response::Pong` with the same payload.
    Ping {
        #[serde(with = "crate::codec::payload")]
        payload: Vec<u8>,
    },
    /// Daemon state; answered by `Response::Status`.
    Status,
    /// Open an SMTP connection (`smtp_helo` / `smtp_xhelo`); answered by `Response::Opened`.
    Open {
        /// `name`, `1.2.3.4`, `name:port`, `[v6addr]`, `[v6addr]:port`; port 25 by default.
        host: String,
        /// The name sent in EHLO/HELO.
        local: String,
        /// When the response is sent.
        mode: OpenMode,
        /// Send `Event::Traffic` copies from the first byte (the greeting) on.
        debug: bool,
    },
    /// Send one command and wait for its reply; answered by `Response::Reply`.
    Command { handle: Handle, command: Command },
    /// Message bytes for the current transaction. The first chunk of a message
    /// sends `DATA` and waits for 354; every chunk is dot-stuffed and its line
    /// endings normalised to CRLF. Answered by `Response::Done` once written.
    DataChunk {
        handle: Handle,
        #[serde(with = "crate::codec::payload")]
        bytes: Bytes,
    },
    /// End of the message (sends `DATA` first if no chunk did): the final CRLF
    /// if missing, then `.`; answered by `Response::Reply` with the server's verdict.
    DataEnd { handle: Handle },
    /// The last complete reply on the handle; answered by `Response::LastReply`.
    LastReply { handle: Handle },
    /// Set the handle's timeout in seconds ([`TIMEOUT_SECONDS`]); answered by `Response::Done`.
    SetTimeout { handle: Handle, seconds: u16 },
    /// Switch `Event::Traffic` copies on or off; answered by `Response::Done`.
    SetDebug { handle: Handle, enabled: bool },
    /// Send QUIT, close and free the handle; answered by `Response::Done`.
    Quit { handle: Handle },
    /// Cancel whatever is in flight on the handle (connect included), close it
    /// at once and free the handle; answered by `Response::Done`. The cancelled
    /// request is answered with `Failure::Aborted`.
    XQuit { handle: Handle },
    /// Open an SMTP connection through a SOCKS proxy (`smtp_fw_helo`), always
    /// synchronously; answered by `Response::Opened` after the proxy handshake,
    /// the greeting and EHLO/HELO, all under one timeout. Its `Debug` never
    /// shows the password.
    OpenViaSocks {
        /// Proxy, versions, methods, destination and credentials.
        route: Box<SocksRoute>,
        /// The name sent in EHLO/HELO.
        local: String,
        /// Send `Event::Traffic` copies of the SMTP traffic (not the proxy handshake).
        debug: bool,
    },
    /// Admin: the SMTP connections this client may see (its uid's; all for an
    /// admin); answered by `Response::Connections`.
    ListConnections,
    /// Admin: one connection with its recent traffic; answered by
    /// `Response::ConnectionDetail`. Unlike every request above, an admin may
    /// name a handle of another client here.
    ShowConnection { handle: Handle },
    /// Admin: cancel whatever is in flight on the connection and close it, as
    /// `XQuit` does (the owner's call in flight gets `Failure::Aborted`);
    /// answered by `Response::Done`.
    CloseConnection { handle: Handle },
    /// Admin: reload the configuration, as SIGHUP does; answered by
    /// `Response::Done`, or `Failure::InvalidArgument` naming the bad key.
    Reload,
    /// Admin: shut the daemon down, as SIGTERM does; answered by `Response::Done`.
    Shutdown,
    /// `smtp_starttls`: STARTTLS, the TLS handshake (verifying the server's
    /// certificate against the name in the host string), then EHLO again;
    /// answered by `Response::Reply` with the new EHLO reply.
    StartTls { handle: Handle },
    /// `smtp_auth`: SASL authentication; answered by `Response::Reply` (235).
    /// Refused with `Failure::Tls` on a cleartext connection unless the
    /// daemon's `auth.allow_cleartext` is set. Its `Debug` never shows the secret.
    Auth {
        handle: Handle,
        /// `None`: the best the server offers (PLAIN, else LOGIN).
        mechanism: Option<AuthMechanism>,
        /// The user name (the authorization identity is left empty).
        user: String,
        /// The password, or the OAuth2 bearer token for XOAUTH2.
        secret: AuthSecret,
    },
    /// `smtp_ext`: the EHLO keywords of the connection; answered by `Response::Extensions`.
    Extensions { handle: Handle },
    /// `smtp_sendmsg`: a whole transaction in one request — MAIL (with SIZE,
    /// BODY=8BITMIME and SMTPUTF8 as the server offers and the message needs),
    /// every RCPT, DATA and the message, dot-stuffed like `DataChunk`. With
    /// PIPELINING, MAIL, the RCPTs and DATA go in one write. Answered by
    /// `Response::Sent` when at least one recipient was accepted and the
    /// final dot got 2xx, else `Failure::NotSent` with the same report.
    SendMessage {
        handle: Handle,
        /// The reverse-path; empty for `<>`.
        #[serde(deserialize_with = "crate::codec::text::string")]
        from: String,
        /// At least one forward-path.
        #[serde(deserialize_with = "crate::codec::text::strings")]
        rcpts: Vec<String>,
        /// The message as the application has it.
        #[serde(with = "crate::codec::payload")]
        data: Vec<u8>,
    },
    /// `smtp32-sendmail`: open an SMTP connection to the relay (smarthost)
    /// named in the daemon's configuration (`relay.host`, with its TLS
    /// policy), say EHLO as `relay.local`, and authenticate with the
    /// daemon's `relay.user` and password when they are configured; answered
    /// by `Response::Opened`. The client never sees the credentials: it only
    /// uses the handle (`SendMessage`, `Command`, data, `Quit`) like any
    /// other. No `relay.host`: `Failure::NotConfigured`; a failed AUTH:
    /// `Failure::RelayAuth` (the connection is closed).
    OpenRelay {
        /// Send `Event::Traffic` copies from the greeting on (AUTH lines redacted).
        debug: bool,
    },
    /// `send_many`: many whole transactions on one connection in one
    /// request, each like `SendMessage`. With PIPELINING the envelope of
    /// each message after the first goes out in the same write as the
    /// previous message's content, so a message costs one SMTP round trip.
    /// Answered by `Response::SentBatch` with one outcome per message, in
    /// order; a refused message does not stop the batch. The handle's
    /// timeout applies to each message, not to the whole batch.
    SendBatch {
        handle: Handle,
        /// The messages, in the order they are sent.
        messages: Vec<BatchMessage>,
    },
    /// `smtp32-sendmail`: hand a message to the daemon's queue. Answered by
    /// `Response::Queued` once the message is safely on disk (the daemon
    /// then delivers it through the relay, retries and bounces as needed);
    /// with `relay.queue = false` the daemon sends it at once instead and
    /// answers as `SendMessage` does. No `relay.host`:
    /// `Failure::NotConfigured`; the queue cannot store it (full disk):
    /// `Failure::LimitReached`, and nothing was queued.
    QueueSubmit(Box<Submission>),
    /// The queued messages this client may see (its uid's; all for an
    /// admin); answered by `Response::QueueEntries`.
    QueueList,
    /// Try the queued messages (one, or all this client may see) now;
    /// answered by `Response::Done`. An id the client may not see:
    /// `Failure::InvalidArgument`, as for one that does not exist.
    QueueFlush { id: Option<String> },
    /// Remove a queued message without delivering it (its owner's, or any
    /// for an admin); answered by `Response::Done`.
    QueueDelete { id: String },
    /// `sendmsg` of a message of any size, streamed: the envelope of one
    /// transaction — MAIL (with `SIZE=size` when known and offered,
    /// `BODY=8BITMIME` when `eight_bit` and offered, `SMTPUTF8` for non-ASCII
    /// addresses), every RCPT and DATA, pipelined when offered. A `size` over
    /// the server's SIZE limit is refused before anything is sent. Answered by
    /// `Response::Envelope` once the server said 354: the message then follows
    /// as `DataChunk`s and `DataEnd`, whose reply is the verdict. When no
    /// recipient was accepted: `Failure::NotSent` with the report (RSET sent).
    SendBegin {
        handle: Handle,
        /// The reverse-path; empty for `<>`.
        #[serde(deserialize_with = "crate::codec::text::string")]
        from: String,
        /// At least one forward-path.
        #[serde(deserialize_with = "crate::codec::text::strings")]
        rcpts: Vec<String>,
        /// The message's size in bytes as the application has it, when known.
        size: Option<u64>,
        /// The message has (or may have) bytes over 127: declare `BODY=8BITMIME`.
        eight_bit: bool,
    },
    /// The daemon's metrics in the OpenMetrics text format (every client may ask: figures,
    /// no secrets); answered by `Response::Metrics`.
    Metrics,
}

impl Request {
    /// The handle this request addresses, if any.
    pub fn handle(&self) -> Option<Handle> {
        match self {
            Request::Ping { .. }
            | Request::Status
            | Request::Open { .. }
            | Request::OpenViaSocks { .. }
            | Request::ListConnections
            | Request::Reload
            | Request::Shutdown
            | Request::OpenRelay { .. }
            | Request::QueueSubmit(_)
            | Request::QueueList
            | Request::QueueFlush { .. }
            | Request::QueueDelete { .. }
            | Request::Metrics => None,
            Request::Command { handle, .. }
            | Request::DataChunk { handle, .. }
            | Request::DataEnd { handle }
            | Request::LastReply { handle }
            | Request::SetTimeout { handle, .. }
            | Request::SetDebug { handle, .. }
            | Request::Quit { handle }
            | Request::XQuit { handle }
            | Request::ShowConnection { handle }
            | Request::CloseConnection { handle }
            | Request::StartTls { handle }
            | Request::Auth { handle, .. }
            | Request::Extensions { handle }
            | Request::SendBegin { handle, .. }
            | Request::SendMessage { handle, .. }
            | Request::SendBatch { handle, .. } => Some(*handle),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::body_of as body;
    use crate::{Failure, Reply};

    /// The variant indices PROTOCOL.md gives for the relay additions (issue 5, `smtp32-sendmail`).
    #[test]
    fn documented_relay_indices() {
        assert_eq!(body(&Request::OpenRelay { debug: true }), [21, 1]);
        assert_eq!(body(&Failure::NotConfigured("k".into())), [18, 1, b'k']);
        let refused = Failure::Refused(Reply {
            code: 535,
            lines: crate::ReplyLines::new(),
        });
        // The cause follows the tag as a Failure of its own: Refused(Reply { 535, [] }).
        assert_eq!(
            body(&Failure::RelayAuth(Box::new(refused))),
            [19, 0, 0xfb, 0x17, 0x02, 0]
        );
        assert_eq!(Request::OpenRelay { debug: false }.handle(), None);
    }

    /// The variant indices PROTOCOL.md gives for the streamed send.
    #[test]
    fn documented_streamed_send_indices() {
        let handle = Handle::new(5).unwrap();
        let (from, rcpts) = ("a".to_string(), vec!["b".to_string()]);
        let begin = Request::SendBegin {
            handle,
            from,
            rcpts,
            size: Some(3),
            eight_bit: true,
        };
        assert_eq!(body(&begin), [27, 5, 1, b'a', 1, 1, b'b', 1, 3, 1]);
        assert_eq!(begin.handle(), Some(handle));
        let ok = Reply {
            code: 250,
            lines: crate::ReplyLines::new(),
        };
        let envelope = crate::Response::Envelope {
            mail: ok.clone(),
            recipients: vec![ok],
        };
        assert_eq!(body(&envelope), [14, 0xfa, 0, 1, 0xfa, 0]);
    }

    #[test]
    fn metrics_request_and_response_bytes() {
        use crate::Response;
        assert_eq!(body(&Request::Metrics), [28]);
        let response = body(&Response::Metrics {
            text: "# EOF\n".into(),
        });
        assert_eq!(response, [15, 6, b'#', b' ', b'E', b'O', b'F', b'\n']);
        assert_eq!(Request::Metrics.handle(), None);
    }

    #[test]
    fn a_timeout_is_one_to_999_seconds() {
        for ok in [1, 20, 999] {
            assert_eq!(timeout_seconds(ok), Ok(ok as u16));
        }
        for bad in [0, 1000, 65_536 + 20, u32::MAX] {
            let why = timeout_seconds(bad).expect_err("out of range");
            assert_eq!(why, format!("timeout {bad} s is outside 1..=999 seconds"));
        }
    }
}
