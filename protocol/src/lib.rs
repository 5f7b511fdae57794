//! The wire contract between `smtp32d` and its clients.
//!
//! Everything that crosses the local socket is defined here and nowhere else:
//! the frame types, the SMTP-32 return codes, the failure type that travels on
//! the wire and the one codec that turns frames into bytes. Neither actix nor
//! any runtime policy lives here; the daemon and the client both depend on
//! this crate and never on each other. `PROTOCOL.md` beside this crate
//! describes the same format for implementers in other languages.
//!
//! Layout:
//! - [`frame`]: the two top-level frame enums and the handshake.
//! - [`request`], [`response`], [`event`]: what a client asks, what the daemon answers, what it pushes.
//! - [`ids`]: the `Handle` and `RequestId` newtypes.
//! - [`reply`]: a parsed SMTP reply.
//! - [`failure`]: why an operation failed, and its SMTP-32 return code.
//! - [`status`]: the daemon status snapshot rendered by `smtp32ctl`.
//! - [`codec`]: length prefix + bincode + frame size limit (sync and async).
//! - [`endpoint`]: where the daemon's socket lives by default.
//! - [`admin`]: connection rows and details for `smtp32ctl connections` / `show`.
//! - [`socks`]: the SOCKS route of `smtp_fw_helo`, with a password type that never prints.
//! - [`auth`]: the SASL mechanism and secret of `smtp_auth` (the secret never prints).
//! - [`send`]: the per-recipient report of `smtp_sendmsg`.
//! - [`batch`]: the messages and per-message outcomes of `send_many`.
//! - [`queue`]: a message for the daemon's mail queue, and a queue listing row.

pub mod admin;
pub mod auth;
pub mod batch;
pub mod codec;
pub mod endpoint;
pub mod event;
pub mod failure;
pub mod frame;
pub mod ids;
pub mod queue;
pub mod reply;
pub mod request;
pub mod response;
pub mod send;
pub mod socks;
pub mod status;

pub use admin::{
    ConnectionDetail, ConnectionInfo, ConnectionState, ErrorCount, InFlight, StateCounts,
    TrafficLine,
};
pub use auth::{AuthMechanism, AuthSecret};
pub use batch::{BatchMessage, BatchOutcome};
/// The type of a data chunk's payload (`Request::DataChunk`).
pub use bytes::Bytes;
pub use bytestring::ByteString;
pub use codec::{CodecError, DEFAULT_MAX_FRAME_BYTES, MIN_MAX_FRAME_BYTES};
pub use event::{Direction, Event};
pub use failure::{Failure, ReturnCode};
pub use frame::{ClientFrame, DaemonFrame, Hello, Welcome, PROTOCOL_VERSION};
pub use ids::{Handle, RequestId};
pub use queue::{QueueEntry, Submission};
pub use reply::{EnhancedStatus, Reply, ReplyLines, SharedLine};
pub use request::{timeout_seconds, Command, OpenMode, Request, TIMEOUT_SECONDS};
pub use response::Response;
pub use send::SendReport;
pub use socks::{
    DomainName, ProxyStage, Secret, SocksEndpoint, SocksHost, SocksMethod, SocksMethods,
    SocksRoute, SocksUser, SocksVersions, DEFAULT_SOCKS_PORT,
};
pub use status::{CacheStatus, DaemonStatus};
