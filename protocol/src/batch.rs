//! `send_many`: many messages on one connection in one request, each
//! envelope pipelined behind the previous message's content.

use crate::failure::Failure;
use crate::send::SendReport;
use bytes::Bytes;
use bytestring::ByteString;
use serde::{Deserialize, Serialize};

/// One message of a `Request::SendBatch`: what `Request::SendMessage` carries.
/// Its text and bytes may be views of the frame the daemon read the batch
/// in (`codec/kept_batch.rs`): a large batch is not copied out of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchMessage {
    /// The reverse-path; empty for `<>`.
    #[serde(deserialize_with = "crate::codec::text::byte_string")]
    pub from: ByteString,
    /// At least one forward-path.
    #[serde(deserialize_with = "crate::codec::text::byte_strings")]
    pub rcpts: Vec<ByteString>,
    /// The message as the application has it (made transparent by the daemon).
    #[serde(with = "crate::codec::payload")]
    pub data: Bytes,
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
            data: vec![b'x'].into(),
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
