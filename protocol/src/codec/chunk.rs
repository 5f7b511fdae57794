//! A `Request::DataChunk` frame written from the caller's buffer: the frame's
//! bytes up to the payload are encoded here, and the payload follows them on
//! the stream as it is, with no copy into a frame buffer. Read back, the same
//! head tells where the payload starts, so the reader can keep it where it
//! was read ([`super::FrameDecoder::parse_client_frame`]).

use super::{CodecError, CONFIG, MAX_MAX_FRAME_BYTES};
use crate::ids::{Handle, RequestId};
use serde::ser::{SerializeStructVariant, Serializer};
use serde::Serialize;

/// `Request::DataChunk`'s variant index (pinned by the golden test below and
/// by PROTOCOL.md's).
const DATA_CHUNK_VARIANT: u32 = 4;
/// `ClientFrame::Request`'s variant index.
pub(super) const REQUEST_VARIANT: u32 = 1;

/// Encodes into `out` (replacing its contents) the start of the frame
/// `ClientFrame::Request { id, request: Request::DataChunk { handle, bytes } }`
/// for `len` bytes: the length prefix, the tags, `id`, `handle` and the
/// payload's length. `out` followed by the `len` bytes is exactly that frame
/// as [`super::encode_frame`] makes it.
pub fn encode_data_chunk_head(
    id: RequestId,
    handle: Handle,
    len: usize,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    out.clear();
    out.extend_from_slice(&[0; 4]);
    let head = Head {
        id,
        handle,
        len: len as u64,
    };
    bincode::serde::encode_into_std_write(&head, out, CONFIG)
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    let body = (out.len() - 4)
        .checked_add(len)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(CodecError::Oversized {
            len: u32::MAX,
            max: MAX_MAX_FRAME_BYTES,
        })?;
    out[..4].copy_from_slice(&body.to_le_bytes());
    Ok(())
}

/// The request id and handle of a `Request::DataChunk` frame body, and
/// where its payload starts in `body`; `None` for any other body (another
/// frame, or a malformed one: its owned decoding then tells what is wrong).
pub(crate) fn data_chunk_head(body: &[u8]) -> Option<(RequestId, Handle, usize)> {
    // The head as `Head` writes it: tags are varints like any `u32`.
    let ((frame, id, request, handle, len), head) =
        bincode::serde::decode_from_slice::<(u32, RequestId, u32, Handle, u64), _>(body, CONFIG)
            .ok()?;
    let exact = frame == REQUEST_VARIANT
        && request == DATA_CHUNK_VARIANT
        && u64::try_from(body.len() - head).ok() == Some(len);
    exact.then_some((id, handle, head))
}

/// The frame with the payload's length where the payload would start (bincode
/// writes a byte string as its length, a varint like any `u64`, then the bytes).
struct Head {
    id: RequestId,
    handle: Handle,
    len: u64,
}

struct DataChunkHead<'a>(&'a Head);

impl Serialize for Head {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut frame = s.serialize_struct_variant("ClientFrame", REQUEST_VARIANT, "Request", 2)?;
        frame.serialize_field("id", &self.id)?;
        frame.serialize_field("request", &DataChunkHead(self))?;
        frame.end()
    }
}

impl Serialize for DataChunkHead<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut request =
            s.serialize_struct_variant("Request", DATA_CHUNK_VARIANT, "DataChunk", 2)?;
        request.serialize_field("handle", &self.0.handle)?;
        request.serialize_field("bytes", &self.0.len)?;
        request.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode_frame;
    use crate::{ClientFrame, Request};

    /// Head and payload are byte for byte the owned frame, across the
    /// varint's length boundaries.
    #[test]
    fn head_then_payload_is_the_whole_frame() {
        let handle = Handle::new(70_000).unwrap();
        for (id, len) in [
            (0, 0),
            (1, 1),
            (250, 250),
            (251, 251),
            (1 << 20, 65_536),
            (u64::MAX, 1 << 20),
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut whole = Vec::new();
            let frame = ClientFrame::Request {
                id: RequestId(id),
                request: Request::DataChunk {
                    handle,
                    bytes: bytes.clone().into(),
                },
            };
            encode_frame(&frame, &mut whole).unwrap();
            let mut head = vec![9; 3];
            encode_data_chunk_head(RequestId(id), handle, len, &mut head).unwrap();
            head.extend_from_slice(&bytes);
            assert_eq!(head, whole, "id {id}, {len} bytes");
        }
    }

    #[test]
    fn a_length_past_four_gib_is_refused() {
        let err = encode_data_chunk_head(
            RequestId(1),
            Handle::new(1).unwrap(),
            1 << 32,
            &mut Vec::new(),
        );
        assert!(matches!(err, Err(CodecError::Oversized { .. })), "{err:?}");
    }
}
