//! What `smtp_sendmsg` reports: the server's reply to MAIL, to each RCPT and
//! the verdict on the message.

use crate::reply::Reply;
use serde::{Deserialize, Serialize};

/// The outcome of one `Request::SendMessage` whose dialogue stayed in step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendReport {
    /// The reply to `MAIL FROM`.
    pub mail: Reply,
    /// The reply to each `RCPT TO`, in the order of the request's recipients;
    /// shorter than the list (empty) when MAIL was refused before any RCPT was sent.
    pub recipients: Vec<Reply>,
    /// The reply that decided: to the final dot when the message was sent,
    /// else the one that stopped it (MAIL's, the last RCPT's when none was
    /// accepted, or DATA's).
    pub verdict: Reply,
}

impl SendReport {
    /// True when the message went out and the server took it (2xx to the final dot)
    /// for at least one recipient.
    pub fn is_delivered(&self) -> bool {
        (200..300).contains(&self.verdict.code) && self.accepted() > 0
    }

    /// How many recipients the server accepted.
    pub fn accepted(&self) -> usize {
        self.recipients.iter().filter(|r| r.is_positive()).count()
    }

    /// The indices (into the request's list) of the recipients the server refused.
    pub fn refused(&self) -> Vec<usize> {
        self.recipients
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.is_positive())
            .map(|(i, _)| i)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::body_of as body;

    fn r(code: u16) -> Reply {
        Reply {
            code,
            lines: [String::new()].into(),
        }
    }

    /// The variant indices PROTOCOL.md gives for the TLS, AUTH, extension and
    /// sendmsg additions (issue 4).
    #[test]
    fn documented_variant_indices() {
        use crate::{AuthMechanism, AuthSecret, Failure, Handle, Request, Response, ReturnCode};
        let h = Handle::new(5).unwrap();
        assert_eq!(body(&Request::StartTls { handle: h }), [17, 5]);
        let secret = AuthSecret::new("pw").unwrap();
        let auth = Request::Auth {
            handle: h,
            mechanism: Some(AuthMechanism::Login),
            user: "u".into(),
            secret,
        };
        assert_eq!(body(&auth), [18, 5, 1, 1, 1, b'u', 2, b'p', b'w']);
        assert_eq!(body(&Request::Extensions { handle: h }), [19, 5]);
        let send = Request::SendMessage {
            handle: h,
            from: String::new(),
            rcpts: vec!["t".into()],
            data: vec![b'x'],
        };
        assert_eq!(body(&send), [20, 5, 0, 1, 1, b't', 1, b'x']);
        assert_eq!(body(&Response::Extensions(vec![])), [9, 0]);
        let report = SendReport {
            mail: r(250),
            recipients: vec![],
            verdict: r(250),
        };
        assert_eq!(body(&Response::Sent(report.clone()))[0], 10);
        assert_eq!(body(&Failure::Tls("x".into())), [15, 1, b'x']);
        assert_eq!(body(&Failure::Unsupported("x".into())), [16, 1, b'x']);
        assert_eq!(body(&Failure::NotSent(report))[0], 17);
        assert_eq!(ReturnCode::TlsFailure.as_i32(), -17);
        assert_eq!(Failure::Tls("x".into()).code(), ReturnCode::TlsFailure);
    }

    #[test]
    fn counts_accepted_and_refused() {
        let report = SendReport {
            mail: r(250),
            recipients: vec![r(250), r(550), r(251)],
            verdict: r(250),
        };
        assert!(report.is_delivered());
        assert_eq!((report.accepted(), report.refused()), (2, vec![1]));
        let none = SendReport {
            mail: r(250),
            recipients: vec![r(550)],
            verdict: r(550),
        };
        assert!(!none.is_delivered());
    }
}
