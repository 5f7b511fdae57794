//! How a request appears in the daemon's log: its summary, taken before it
//! is served (never message bytes, never secrets), and its outcome.

use crate::smtp::redact;
use smtp32_protocol::{Command, Handle, Request, Response};

/// A one-line description of a request for the debug log: never message
/// bytes, never secrets (a SOCKS password is a `Secret`, an AUTH secret an
/// `AuthSecret`, and the `Debug` of both is `***`).
#[cfg(test)]
fn summarise(request: &Request) -> String {
    Summary::of(request, |_| false).to_string()
}

/// A request as its log line shows it, taken before the request is served:
/// the payloads only by size, everything else as the request's `Debug`.
/// Formatting it on every call cost a few thousand instructions even with
/// the call log off, so it is formatted only when a line is written.
pub(super) enum Summary {
    /// A request without bulk data, shown as its `Debug`.
    Plain(Request),
    Chunk {
        handle: Handle,
        bytes: usize,
    },
    Send {
        handle: Handle,
        addresses: Addresses,
        bytes: usize,
    },
    Batch {
        handle: Handle,
        messages: usize,
        bytes: usize,
    },
    Ping {
        bytes: usize,
    },
    Submit {
        addresses: Addresses,
        bytes: usize,
    },
}

/// A message's sender and recipients, copied for its log line into one
/// buffer (as `String`s, a one-recipient message was three allocations and
/// three frees a request): each address after its length.
pub(super) struct Addresses(Vec<u8>);

impl Addresses {
    fn of(from: &str, rcpts: &[String]) -> Addresses {
        let all = || std::iter::once(from).chain(rcpts.iter().map(String::as_str));
        let len = all().map(|a| a.len() + LEN_BYTES).sum();
        let mut bytes = Vec::with_capacity(len);
        for address in all() {
            bytes.extend_from_slice(&address.len().to_le_bytes());
            bytes.extend_from_slice(address.as_bytes());
        }
        Addresses(bytes)
    }

    /// The sender, then each recipient.
    fn iter(&self) -> impl Iterator<Item = &str> {
        let mut rest = self.0.as_slice();
        std::iter::from_fn(move || {
            let (len, after) = rest.split_first_chunk::<LEN_BYTES>()?;
            let (address, after) = after.split_at_checked(usize::from_le_bytes(*len))?;
            rest = after;
            // Copied from a `str` whole: always UTF-8.
            std::str::from_utf8(address).ok()
        })
    }
}

/// Bytes of an address's length in [`Addresses`].
const LEN_BYTES: usize = std::mem::size_of::<usize>();

impl std::fmt::Display for Addresses {
    /// `from: "a", rcpts: ["b", "c"]`, as the fields' `Debug` showed them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut all = self.iter();
        let from = all.next().unwrap_or_default();
        write!(f, "from: {from:?}, rcpts: ")?;
        f.debug_list().entries(all).finish()
    }
}

impl Summary {
    /// `in_auth_exchange` tells whether a handle's connection is inside an AUTH
    /// exchange, where any line is SASL data (asked only for `smtp_direct` lines).
    pub(super) fn of(request: &Request, in_auth_exchange: impl Fn(Handle) -> bool) -> Summary {
        match request {
            Request::Command {
                handle,
                command: Command::Direct { line },
            } => {
                let shown = redact::for_log(line, in_auth_exchange(*handle)).into_owned();
                Summary::Plain(Request::Command {
                    handle: *handle,
                    command: Command::Direct { line: shown },
                })
            }
            Request::DataChunk { handle, bytes } => Summary::Chunk {
                handle: *handle,
                bytes: bytes.len(),
            },
            Request::SendMessage {
                handle,
                from,
                rcpts,
                data,
            } => Summary::Send {
                handle: *handle,
                addresses: Addresses::of(from, rcpts),
                bytes: data.len(),
            },
            Request::SendBatch { handle, messages } => Summary::Batch {
                handle: *handle,
                messages: messages.len(),
                bytes: messages.iter().map(|m| m.data.len()).sum(),
            },
            Request::Ping { payload } => Summary::Ping {
                bytes: payload.len(),
            },
            Request::QueueSubmit(s) => Summary::Submit {
                addresses: Addresses::of(&s.from, &s.rcpts),
                bytes: s.data.len(),
            },
            other => Summary::Plain(other.clone()),
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Summary::Chunk { handle, bytes } => {
                write!(f, "DataChunk {{ handle: {handle}, {bytes} bytes }}")
            }
            Summary::Send {
                handle,
                addresses,
                bytes,
            } => {
                write!(
                    f,
                    "SendMessage {{ handle: {handle}, {addresses}, {bytes} bytes }}"
                )
            }
            Summary::Batch {
                handle,
                messages,
                bytes,
            } => {
                write!(
                    f,
                    "SendBatch {{ handle: {handle}, {messages} messages, {bytes} bytes }}"
                )
            }
            Summary::Ping { bytes } => write!(f, "Ping {{ {bytes} bytes }}"),
            Summary::Submit { addresses, bytes } => {
                write!(f, "QueueSubmit {{ {addresses}, {bytes} bytes }}")
            }
            Summary::Plain(request) => write!(f, "{request:?}"),
        }
    }
}

pub(super) fn outcome(response: &Response) -> String {
    match response {
        Response::Reply(r) => format!("SMTP_SUCCESS ({} {})", r.code, r.lines.last().unwrap_or("")),
        Response::Opened { handle } => format!("SMTP_SUCCESS (handle {handle})"),
        Response::Pong { .. } => "SMTP_SUCCESS (pong)".into(),
        Response::Sent(r) => format!(
            "SMTP_SUCCESS ({} of {} recipients; {} {})",
            r.accepted(),
            r.recipients.len(),
            r.verdict.code,
            r.verdict.lines.last().unwrap_or("")
        ),
        _ => "SMTP_SUCCESS".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtp32_protocol::{
        Secret, SocksEndpoint, SocksHost, SocksMethods, SocksRoute, SocksUser, SocksVersions,
    };

    #[test]
    fn socks_open_is_logged_without_its_password() {
        let route = SocksRoute {
            proxy: SocksEndpoint::new(SocksHost::parse("127.0.0.1").unwrap(), 1080).unwrap(),
            versions: SocksVersions::Both,
            methods: SocksMethods::parse("02").unwrap(),
            destination: SocksEndpoint::new(SocksHost::parse("mail.example").unwrap(), 25).unwrap(),
            username: Some(SocksUser::new("alice").unwrap()),
            password: Some(Secret::new("s3cr3t-pw").unwrap()),
        };
        let line = summarise(&Request::OpenViaSocks {
            route: Box::new(route),
            local: "me.example".into(),
            debug: false,
        });
        assert!(!line.contains("s3cr3t-pw"), "{line}");
        assert!(
            line.contains("***") && line.contains("alice") && line.contains("mail.example"),
            "{line}"
        );
    }

    #[test]
    fn direct_auth_lines_and_their_continuations_are_logged_without_secret() {
        let handle = Handle::new(3).unwrap();
        let direct = |line: &str| Request::Command {
            handle,
            command: Command::Direct { line: line.into() },
        };
        let line = Summary::of(&direct("AUTH PLAIN AGJvYgBzM2NyM3Q="), |_| false).to_string();
        assert!(
            !line.contains("AGJvYgBzM2NyM3Q=") && line.contains("AUTH PLAIN ***"),
            "{line}"
        );
        let line = Summary::of(&direct("czNjcjN0"), |_| true).to_string();
        assert!(!line.contains("czNjcjN0") && line.contains("***"), "{line}");
        let line = Summary::of(&direct("ETRN example.org"), |_| false).to_string();
        assert!(line.contains("ETRN example.org"), "{line}");
    }

    #[test]
    fn auth_and_sendmsg_are_logged_without_secret_or_message() {
        let handle = Handle::new(3).unwrap();
        let secret = smtp32_protocol::AuthSecret::new("s3cr3t-pw").unwrap();
        let line = summarise(&Request::Auth {
            handle,
            mechanism: None,
            user: "bob".into(),
            secret,
        });
        assert!(
            !line.contains("s3cr3t-pw") && line.contains("***") && line.contains("bob"),
            "{line}"
        );
        let data = b"Subject: private\r\n\r\nbody".to_vec();
        let line = summarise(&Request::SendMessage {
            handle,
            from: "a@b".into(),
            rcpts: vec!["c@d".into()],
            data,
        });
        assert!(
            !line.contains("private") && line.contains("24 bytes") && line.contains("c@d"),
            "{line}"
        );
    }

    #[test]
    fn addresses_are_shown_as_the_fields_were() {
        let handle = Handle::new(3).unwrap();
        for (from, rcpts) in [
            ("a@b", vec!["c@d".to_string()]),
            (
                "",
                vec!["\"x\n\0\"@é".to_string(), String::new(), "e@f".into()],
            ),
            ("<a@b> SIZE=1", vec![]),
        ] {
            let line = summarise(&Request::SendMessage {
                handle,
                from: from.into(),
                rcpts: rcpts.clone(),
                data: vec![b'x'; 5],
            });
            assert_eq!(
                line,
                format!(
                    "SendMessage {{ handle: {handle}, from: {from:?}, rcpts: {rcpts:?}, 5 bytes }}"
                )
            );
        }
    }
}
