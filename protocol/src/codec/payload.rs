//! Message bytes in a frame (`#[serde(with = "crate::codec::payload")]`):
//! written as `serde_bytes` writes them (a length, then the bytes), read by
//! copying them out of the frame once.
//!
//! `serde_bytes` reads into an owned buffer, which bincode makes by zeroing
//! one of the announced length and then copying into it: a memset of every
//! chunk, 1.06M of the daemon's 3.6M instructions per MiB of a large
//! `sendmsg`. Asked for bytes it may borrow, bincode hands out the frame's
//! own, and one copy makes them the message's.

use serde::Deserializer;
use std::borrow::Cow;

pub use serde_bytes::serialize;

/// Reads the bytes, borrowed from the frame when the format can lend them.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    serde_bytes::deserialize::<Cow<'de, [u8]>, D>(deserializer).map(Cow::into_owned)
}
