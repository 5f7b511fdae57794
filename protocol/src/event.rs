//! Frames the daemon pushes without being asked.

use crate::failure::Failure;
use crate::ids::Handle;
use serde::{Deserialize, Serialize};

/// Which way a copy of SMTP traffic went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Bytes the daemon wrote to the SMTP server.
    ToServer,
    /// Bytes the daemon read from the SMTP server.
    FromServer,
}

/// An asynchronous notification about one handle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// The connect started by `Open { mode: Async }` finished (the `smtp_xhelo` status).
    Connected {
        /// The handle the `Opened` response announced.
        handle: Handle,
        /// `Ok` when the greeting and EHLO/HELO succeeded.
        result: Result<(), Failure>,
    },
    /// A copy of SMTP traffic, sent only while debugging is on for the handle.
    /// Events for one handle arrive in the order the bytes crossed the wire,
    /// and before the response to the request that caused them. A line the
    /// daemon itself adds (`FromServer`, starting `[smtp32d] `) says what no
    /// byte on the wire shows, e.g. that the open took a cached session.
    Traffic {
        /// The connection the bytes belong to.
        handle: Handle,
        /// Which way they went.
        direction: Direction,
        /// The bytes, exactly as on the wire (AUTH secrets redacted).
        #[serde(with = "crate::codec::payload")]
        bytes: Vec<u8>,
    },
}
