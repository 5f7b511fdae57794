//! `send_many`: many messages on one connection in one request, each
//! envelope pipelined behind the previous message's content.

use crate::failure::Failure;
use crate::send::SendReport;
use serde::{Deserialize, Serialize};

/// One message of a `Request::SendBatch`: what `Request::SendMessage` carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchMessage {
    /// The reverse-path; empty for `<>`.
    #[serde(deserialize_with = "crate::codec::text::string")]
    pub from: String,
    /// At least one forward-path.
    #[serde(deserialize_with = "crate::codec::text::strings")]
    pub rcpts: Vec<String>,
    /// The message as the application has it (made transparent by the daemon).
    #[serde(with = "crate::codec::payload")]
    pub data: Vec<u8>,
}

/// The outcome of one message of a batch, in request order: `Ok` when the
/// server took it for at least one recipient; `Err(NotSent(report))` when
/// the server refused it (the dialogue stayed in step and the batch went
/// on); any other `Err` when it could not be sent (the connection failed at
/// or before this message, so it and every later one have this entry).
pub type BatchOutcome = Result<SendReport, Failure>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::body_of as body;
    use crate::{Handle, Reply, Request, Response};

    /// The variant indices and layout PROTOCOL.md gives for the batch.
    #[test]
    fn documented_layout() {
        let h = Handle::new(5).unwrap();
        let msg = BatchMessage {
            from: "a".into(),
            rcpts: vec!["t".into()],
            data: vec![b'x'],
        };
        let req = Request::SendBatch {
            handle: h,
            messages: vec![msg],
        };
        assert_eq!(body(&req), [22, 5, 1, 1, b'a', 1, 1, b't', 1, b'x']);
        let report = SendReport {
            mail: Reply {
                code: 250,
                lines: crate::ReplyLines::new(),
            },
            recipients: vec![],
            verdict: Reply {
                code: 250,
                lines: crate::ReplyLines::new(),
            },
        };
        let resp = Response::SentBatch(vec![Ok(report), Err(Failure::Aborted)]);
        let b = body(&resp);
        assert_eq!(&b[..3], [11, 2, 0]);
        assert_eq!(&b[b.len() - 2..], [1, 5]);
    }
}
