//! Message bytes in a frame (`#[serde(with = "crate::codec::payload")]`, on
//! a `Vec<u8>` or a `Bytes`): written as `serde_bytes` writes them (a length,
//! then the bytes), read by copying them out of the frame once. (A large
//! `DataChunk` read by [`super::FrameDecoder::parse_client_frame`] is not
//! copied at all.)
//!
//! `serde_bytes` reads into an owned buffer, which bincode makes by zeroing
//! one of the announced length and then copying into it: a memset of every
//! chunk, 1.06M of the daemon's 3.6M instructions per MiB of a large
//! `sendmsg`. Asked for bytes it may borrow, bincode hands out the frame's
//! own, and one copy makes them the message's.

use serde::{Deserializer, Serializer};
use std::borrow::Cow;

/// Writes the bytes as one byte string.
pub fn serialize<T: AsRef<[u8]>, S: Serializer>(
    bytes: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(bytes.as_ref())
}

/// Reads the bytes, borrowed from the frame when the format can lend them,
/// into one owned buffer.
pub fn deserialize<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: From<Vec<u8>>,
{
    serde_bytes::deserialize::<Cow<'de, [u8]>, D>(deserializer).map(|b| T::from(b.into_owned()))
}
