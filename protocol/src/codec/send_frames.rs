//! `SendMessage` and `SendBatch` request frames encoded from messages where
//! the caller holds them: the same bytes as the owned `Request`s make, with
//! no owned copy of every address and message made first (the encode copies
//! each once, into the frame). A batch of 4 MiB of messages was copied twice
//! on its way to the socket, and each message cost three allocations or more.

use super::chunk::REQUEST_VARIANT;
use super::{encode_frame, CodecError};
use crate::ids::{Handle, RequestId};
use serde::ser::{SerializeStruct, SerializeStructVariant, Serializer};
use serde::Serialize;

/// `Request::SendMessage`'s variant index (PROTOCOL.md's; pinned by the tests below).
const SEND_MESSAGE_VARIANT: u32 = 20;
/// `Request::SendBatch`'s variant index.
pub(super) const SEND_BATCH_VARIANT: u32 = 22;

/// One message as its sender holds it: `SendMessage`'s fields past the
/// handle, or one `BatchMessage`.
#[derive(Clone, Copy, Debug)]
pub struct MessageRef<'a> {
    /// The reverse-path; empty for `<>`.
    pub from: &'a str,
    /// At least one forward-path.
    pub rcpts: &'a [&'a str],
    /// The message as the application has it.
    pub data: &'a [u8],
}

impl MessageRef<'_> {
    /// The bytes this message takes in a request frame, as `SendMessage`'s
    /// fields past the handle or as one `BatchMessage`, computed without
    /// encoding. With [`FRAME_OVERHEAD_BYTES`](super::FRAME_OVERHEAD_BYTES)
    /// for the request's own fields (tags, id, handle, the batch's count),
    /// it says whether messages fit a frame before any is encoded.
    pub fn encoded_len(&self) -> usize {
        let text = |len: usize| varint_len(len) + len;
        text(self.from.len())
            + varint_len(self.rcpts.len())
            + self.rcpts.iter().map(|r| text(r.len())).sum::<usize>()
            + text(self.data.len())
    }
}

/// Bytes of bincode's variable-length encoding of `n` (a length prefix).
fn varint_len(n: usize) -> usize {
    match n as u64 {
        0..=250 => 1,
        251..=0xFFFF => 3,
        0x1_0000..=0xFFFF_FFFF => 5,
        _ => 9,
    }
}

/// Encodes `ClientFrame::Request { id, request: Request::SendMessage { .. } }`
/// of `message` on `handle` into `out`, replacing its contents.
pub fn encode_send_message(
    id: RequestId,
    handle: Handle,
    message: MessageRef<'_>,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    encode_frame(
        &RequestFrame {
            id,
            request: SendMessage { handle, message },
        },
        out,
    )
}

/// Encodes `ClientFrame::Request { id, request: Request::SendBatch { .. } }`
/// of `messages` on `handle` into `out`, replacing its contents.
pub fn encode_send_batch(
    id: RequestId,
    handle: Handle,
    messages: &[MessageRef<'_>],
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    encode_frame(
        &RequestFrame {
            id,
            request: SendBatch { handle, messages },
        },
        out,
    )
}

/// `ClientFrame::Request` around a request written below.
struct RequestFrame<R> {
    id: RequestId,
    request: R,
}

impl<R: Serialize> Serialize for RequestFrame<R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut frame = s.serialize_struct_variant("ClientFrame", REQUEST_VARIANT, "Request", 2)?;
        frame.serialize_field("id", &self.id)?;
        frame.serialize_field("request", &self.request)?;
        frame.end()
    }
}

struct SendMessage<'a> {
    handle: Handle,
    message: MessageRef<'a>,
}

impl Serialize for SendMessage<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = &self.message;
        let mut request =
            s.serialize_struct_variant("Request", SEND_MESSAGE_VARIANT, "SendMessage", 4)?;
        request.serialize_field("handle", &self.handle)?;
        request.serialize_field("from", m.from)?;
        request.serialize_field("rcpts", m.rcpts)?;
        request.serialize_field("data", &Bytes(m.data))?;
        request.end()
    }
}

struct SendBatch<'a> {
    handle: Handle,
    messages: &'a [MessageRef<'a>],
}

impl Serialize for SendBatch<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut request =
            s.serialize_struct_variant("Request", SEND_BATCH_VARIANT, "SendBatch", 2)?;
        request.serialize_field("handle", &self.handle)?;
        request.serialize_field("messages", self.messages)?;
        request.end()
    }
}

/// As `BatchMessage`.
impl Serialize for MessageRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut message = s.serialize_struct("BatchMessage", 3)?;
        message.serialize_field("from", self.from)?;
        message.serialize_field("rcpts", self.rcpts)?;
        message.serialize_field("data", &Bytes(self.data))?;
        message.end()
    }
}

/// Message bytes as `codec::payload` writes them.
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        super::payload::serialize(&self.0, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{encoded_len, FRAME_OVERHEAD_BYTES};
    use crate::{BatchMessage, Bytes, ClientFrame, Request};

    fn owned(m: &MessageRef<'_>) -> BatchMessage {
        BatchMessage {
            from: m.from.into(),
            rcpts: m.rcpts.iter().map(|&r| r.into()).collect(),
            data: Bytes::copy_from_slice(m.data),
        }
    }

    fn samples() -> Vec<(&'static str, Vec<&'static str>, Vec<u8>)> {
        vec![
            ("", vec!["a@b"], vec![]),
            (
                "bench@smtp32.test",
                vec!["x@y", "ü@z", "w@v"],
                b"Subject: hi\r\n\r\nbody\r\n".to_vec(),
            ),
            (
                "f@g",
                vec!["r@s"],
                (0..70_000).map(|i| (i % 251) as u8).collect(),
            ),
        ]
    }

    /// Byte for byte the owned frame, whose bytes PROTOCOL.md's golden tests pin.
    #[test]
    fn a_message_encodes_as_the_owned_send_message() {
        let handle = Handle::new(70_000).unwrap();
        for (i, (from, rcpts, data)) in samples().iter().enumerate() {
            let m = MessageRef { from, rcpts, data };
            let mut whole = Vec::new();
            let request = Request::SendMessage {
                handle,
                from: from.to_string(),
                rcpts: rcpts.iter().map(|r| r.to_string()).collect(),
                data: data.clone(),
            };
            encode_frame(
                &ClientFrame::Request {
                    id: RequestId(251),
                    request,
                },
                &mut whole,
            )
            .unwrap();
            let mut borrowed = vec![9; 3];
            encode_send_message(RequestId(251), handle, m, &mut borrowed).unwrap();
            assert_eq!(borrowed, whole, "sample {i}");
        }
    }

    #[test]
    fn a_batch_encodes_as_the_owned_send_batch() {
        let handle = Handle::new(3).unwrap();
        let samples = samples();
        let refs: Vec<MessageRef<'_>> = samples
            .iter()
            .map(|(from, rcpts, data)| MessageRef { from, rcpts, data })
            .collect();
        for n in 0..=refs.len() {
            let messages = refs[..n].iter().map(owned).collect();
            let request = Request::SendBatch { handle, messages };
            let mut whole = Vec::new();
            encode_frame(
                &ClientFrame::Request {
                    id: RequestId(1 << 40),
                    request,
                },
                &mut whole,
            )
            .unwrap();
            let mut borrowed = Vec::new();
            encode_send_batch(RequestId(1 << 40), handle, &refs[..n], &mut borrowed).unwrap();
            assert_eq!(borrowed, whole, "{n} messages");
        }
    }

    /// Lengths on each side of every step of bincode's length prefix.
    fn at_prefix_steps() -> Vec<(String, Vec<String>, Vec<u8>)> {
        let text = |n: usize| "a".repeat(n);
        let mut messages: Vec<_> = [0, 250, 251, 65_535, 65_536]
            .into_iter()
            .map(|n| (text(n), vec![text(n)], vec![b'x'; n]))
            .collect();
        messages.push((text(3), vec![text(1); 251], vec![b'x'; 70_000]));
        messages
    }

    #[test]
    fn a_message_takes_its_encoded_len_in_a_frame() {
        let mut messages = at_prefix_steps();
        messages.extend(samples().into_iter().map(|(from, rcpts, data)| {
            let rcpts = rcpts.into_iter().map(str::to_owned).collect();
            (from.to_owned(), rcpts, data)
        }));
        for (i, (from, rcpts, data)) in messages.iter().enumerate() {
            let rcpts: Vec<&str> = rcpts.iter().map(String::as_str).collect();
            let m = MessageRef {
                from,
                rcpts: &rcpts,
                data,
            };
            let prefix = 4;
            assert_eq!(
                m.encoded_len() + prefix,
                encoded_len(&m).unwrap(),
                "message {i}"
            );
        }
    }

    /// The request's own fields at their largest fit the frame overhead.
    #[test]
    fn requests_fit_the_frame_overhead_beside_their_messages() {
        let steps = at_prefix_steps();
        let rcpts: Vec<Vec<&str>> = steps
            .iter()
            .map(|(_, r, _)| r.iter().map(String::as_str).collect())
            .collect();
        let refs: Vec<MessageRef<'_>> = steps
            .iter()
            .zip(&rcpts)
            .map(|((from, _, data), rcpts)| MessageRef { from, rcpts, data })
            .collect();
        let (id, handle) = (RequestId(u64::MAX), Handle::new(u32::MAX).unwrap());
        let body = |frame: &[u8]| frame.len() - 4;
        let mut frame = Vec::new();
        for m in &refs {
            encode_send_message(id, handle, *m, &mut frame).unwrap();
            assert!(body(&frame) <= FRAME_OVERHEAD_BYTES as usize + m.encoded_len());
        }
        encode_send_batch(id, handle, &refs, &mut frame).unwrap();
        let messages: usize = refs.iter().map(MessageRef::encoded_len).sum();
        assert!(body(&frame) <= FRAME_OVERHEAD_BYTES as usize + messages);
    }
}
