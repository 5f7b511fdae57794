//! What the daemon answers to a request.

use crate::admin::{ConnectionDetail, ConnectionInfo};
use crate::batch::BatchOutcome;
use crate::failure::Failure;
use crate::ids::Handle;
use crate::queue::QueueEntry;
use crate::reply::Reply;
use crate::send::SendReport;
use crate::status::DaemonStatus;
use serde::{Deserialize, Serialize};

/// The answer to one request, echoed with its `RequestId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// For `Request::Ping`: the same payload.
    Pong {
        #[serde(with = "crate::codec::payload")]
        payload: Vec<u8>,
    },
    /// For `Request::Status`.
    Status(Box<DaemonStatus>),
    /// For `Request::Open` and `Request::OpenViaSocks`: the new handle (connected
    /// for `Sync` and `OpenViaSocks`, connecting for `Async`).
    Opened { handle: Handle },
    /// For `Request::Command`, `Request::DataEnd`, `Request::StartTls` and
    /// `Request::Auth`: the server's positive reply.
    Reply(Reply),
    /// For requests that carry no result: it was done.
    Done,
    /// For `Request::LastReply`: the last complete reply, if any arrived yet.
    LastReply(Option<Reply>),
    /// For any request: it failed, and why.
    Failed(Failure),
    /// For `Request::ListConnections`: one row per visible connection, by handle.
    Connections(Vec<ConnectionInfo>),
    /// For `Request::ShowConnection`.
    ConnectionDetail(Box<ConnectionDetail>),
    /// For `Request::Extensions`: each EHLO keyword line after the greeting
    /// line, keyword upper-cased, parameters as sent (`SIZE 10485760`); empty after HELO.
    Extensions(Vec<String>),
    /// For `Request::SendMessage`: the message was delivered to at least one recipient.
    Sent(SendReport),
    /// For `Request::SendBatch`: one outcome per message, in request order.
    SentBatch(Vec<BatchOutcome>),
    /// For `Request::QueueSubmit`: the message is on disk under this queue id.
    Queued { id: String },
    /// For `Request::QueueList`: one row per visible message, oldest first.
    QueueEntries(Vec<QueueEntry>),
    /// Response for `Request::SendBegin`: the server's replies to MAIL and to
    /// each RCPT; the server said 354 and waits for the message.
    Envelope {
        /// The reply to `MAIL FROM`.
        mail: Reply,
        /// The reply to each `RCPT TO`, in the request's order.
        recipients: Vec<Reply>,
    },
    /// For `Request::Metrics`: the exposition, ending in `# EOF`.
    Metrics { text: String },
}
