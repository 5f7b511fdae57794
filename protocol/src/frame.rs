//! The two top-level frame types and the version handshake.
//!
//! Compatibility rule: variant 0 of [`ClientFrame`] (`Hello`) and variants 0
//! and 1 of [`DaemonFrame`] (`Welcome`, `Refused`), with their fields, never
//! change, so that any two versions can at least tell each other that they
//! do not match.

use crate::event::Event;
use crate::ids::RequestId;
use crate::request::Request;
use crate::response::Response;
use serde::{Deserialize, Serialize};

/// The protocol version this crate speaks. A daemon serves only clients of
/// the same version.
pub const PROTOCOL_VERSION: u32 = 1;

/// The first frame a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The client's `PROTOCOL_VERSION`.
    pub protocol_version: u32,
    /// A free-form name for logs, e.g. `smtp32 0.1.0 (pid 1234)`.
    pub client_name: String,
}

/// The daemon's answer to an acceptable `Hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The daemon's `PROTOCOL_VERSION` (equal to the client's).
    pub protocol_version: u32,
    /// The daemon's package version, for display.
    pub daemon_version: String,
    /// The largest frame body the daemon accepts; clients split data to fit.
    pub max_frame_bytes: u32,
}

/// A frame from client to daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientFrame {
    /// The handshake; must be the first frame, and only the first.
    Hello(Hello),
    /// A request; the daemon answers with a `Response` frame of the same id.
    Request { id: RequestId, request: Request },
}

/// A frame from daemon to client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DaemonFrame {
    /// The handshake succeeded.
    Welcome(Welcome),
    /// The handshake failed (e.g. version mismatch); the daemon closes the stream next.
    Refused {
        /// The daemon's `PROTOCOL_VERSION`.
        protocol_version: u32,
        /// Why, in words.
        reason: String,
    },
    /// The answer to the request with this id.
    Response { id: RequestId, response: Response },
    /// A notification not tied to a request.
    Event(Event),
    /// The client broke the protocol (malformed or oversized frame, no
    /// handshake); the daemon closes the stream next.
    ProtocolError { reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every request and response is moved a dozen times between the socket
    /// and the SMTP connection, at both ends: the rare large payloads (a
    /// status, a connection's detail, a queue submission, a SOCKS route) are
    /// boxed so the common frames do not pay their size on every move.
    #[test]
    fn frames_stay_small_to_move() {
        assert!(std::mem::size_of::<Request>() <= 80);
        assert!(std::mem::size_of::<Response>() <= 96);
        assert!(std::mem::size_of::<ClientFrame>() <= 88);
        assert!(std::mem::size_of::<DaemonFrame>() <= 104);
    }
}
