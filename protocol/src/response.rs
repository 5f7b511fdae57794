//! What the daemon answers to a request.

use crate::admin::{ConnectionDetail, ConnectionInfo};
use crate::failure::Failure;
use crate::ids::Handle;
use crate::reply::Reply;
use crate::status::DaemonStatus;
use serde::{Deserialize, Serialize};

/// The answer to one request, echoed with its `RequestId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// For `Request::Ping`: the same payload.
    Pong { payload: Vec<u8> },
    /// For `Request::Status`.
    Status(DaemonStatus),
    /// For `Request::Open` and `Request::OpenViaSocks`: the new handle (connected
    /// for `Sync` and `OpenViaSocks`, connecting for `Async`).
    Opened { handle: Handle },
    /// For `Request::Command` and `Request::DataEnd`: the server's positive reply.
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
    ConnectionDetail(ConnectionDetail),
}
