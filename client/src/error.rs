//! The public error type: an SMTP-32 return code, the server reply when
//! there was one, and a message for humans.
//!
//! Failures reported by the daemon are converted with [`Failure::code`], the
//! one mapping to return codes; this module only adds the codes that arise on
//! the client side (the daemon cannot be reached, bad local input).

use smtp32_protocol::{Failure, Reply, Response, ReturnCode, SendReport};

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an smtp32 operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({})", code.name())]
pub struct Error {
    code: ReturnCode,
    reply: Option<Reply>,
    message: String,
    /// The daemon's reason as it came on the wire (for a `sendmsg` that did
    /// not deliver, with every reply of the transaction).
    failure: Option<Box<Failure>>,
}

impl Error {
    /// An error with this code and message and no server reply.
    pub fn new(code: ReturnCode, message: impl Into<String>) -> Self {
        Error {
            code,
            reply: None,
            message: message.into(),
            failure: None,
        }
    }

    /// `SMTP_INVALID_ARGUMENT`: bad input detected before anything was sent.
    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        Error::new(ReturnCode::InvalidArgument, message)
    }

    /// `SMTP_CANNOT_INITIALIZE`: the daemon cannot be reached or went away.
    pub(crate) fn cannot_initialize(message: impl Into<String>) -> Self {
        Error::new(ReturnCode::CannotInitialize, message)
    }

    /// The SMTP-32 return code (what a C caller would see).
    pub fn code(&self) -> ReturnCode {
        self.code
    }

    /// The server's reply, when the failure is a 4xx/5xx refusal.
    pub fn reply(&self) -> Option<&Reply> {
        self.reply.as_ref()
    }

    /// For a [`Connection::sendmsg`](crate::Connection::sendmsg) that did not
    /// deliver: the reply to MAIL, to each RCPT and the verdict.
    pub fn send_report(&self) -> Option<&SendReport> {
        match self.failure.as_deref() {
            Some(Failure::NotSent(report)) => Some(report),
            _ => None,
        }
    }

    /// The daemon's reason for the failure, exactly as it reported it (for
    /// example [`Failure::RelayAuth`] from [`Client::open_relay`](crate::Client::open_relay));
    /// `None` for errors raised on this side (the daemon unreachable, bad input).
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_deref()
    }

    /// A human-readable description.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// True when no reply arrived within the connection's timeout.
    pub fn is_timeout(&self) -> bool {
        self.code == ReturnCode::TimedOut
    }

    /// True when the server refused with a 4xx reply (worth retrying later).
    pub fn is_transient(&self) -> bool {
        self.reply
            .as_ref()
            .is_some_and(|r| (400..500).contains(&r.code))
    }

    /// True when the server refused with a 5xx reply (do not retry as is).
    pub fn is_permanent(&self) -> bool {
        self.reply
            .as_ref()
            .is_some_and(|r| (500..600).contains(&r.code))
    }

    /// True when the operation was cancelled (`xquit` or a callback); the handle is gone.
    pub fn is_aborted(&self) -> bool {
        self.code == ReturnCode::Aborted
    }
}

impl From<Failure> for Error {
    fn from(failure: Failure) -> Self {
        Error {
            code: failure.code(),
            reply: failure.reply().cloned(),
            message: failure.to_string(),
            failure: Some(Box::new(failure)),
        }
    }
}

/// Checks a string argument that becomes part of an SMTP command line.
pub(crate) fn check_line(what: &str, value: &str) -> Result<()> {
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(Error::invalid_argument(format!(
            "{what} must not contain CR, LF or NUL"
        )));
    }
    Ok(())
}

/// The error for a response of the wrong kind (a daemon bug).
pub(crate) fn unexpected(response: Response) -> Error {
    Error::new(
        ReturnCode::Failure,
        format!("unexpected response from smtp32d: {response:?}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: u16) -> Error {
        Failure::Refused(Reply {
            code,
            lines: ["no"].into(),
        })
        .into()
    }

    #[test]
    fn predicates_follow_the_reply_class() {
        assert!(refused(451).is_transient() && !refused(451).is_permanent());
        assert!(refused(550).is_permanent() && !refused(550).is_transient());
        assert_eq!(refused(550).code(), ReturnCode::Failure);
        assert_eq!(refused(550).reply().map(|r| r.code), Some(550));
        let t: Error = Failure::TimedOut(20).into();
        assert!(t.is_timeout() && !t.is_transient() && !t.is_permanent());
        assert!(Error::from(Failure::Aborted).is_aborted());
    }

    #[test]
    fn display_names_the_code() {
        let e = Error::cannot_initialize("daemon connection lost");
        assert_eq!(
            e.to_string(),
            "daemon connection lost (SMTP_CANNOT_INITIALIZE)"
        );
    }

    #[test]
    fn line_check_refuses_line_breaks() {
        assert!(check_line("from", "a@b").is_ok());
        for bad in ["a\rb", "a\nb", "a\0b"] {
            assert_eq!(
                check_line("from", bad).unwrap_err().code(),
                ReturnCode::InvalidArgument
            );
        }
    }
}
