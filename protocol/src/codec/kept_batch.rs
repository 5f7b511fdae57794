//! A large `Request::SendBatch` frame decoded where it was read: every
//! message's addresses and bytes are views of the frame's storage (shared,
//! counted), not copies. Decoded owned, each message of a batch cost four
//! allocations and frees and a copy of its bytes, 8 % of the daemon's
//! instructions per message of a `send_many`; here the batch costs one
//! allocation a message (its list of recipients) and the storage is freed
//! when the last message is done with.
//!
//! The frame is read as [`super::decode_body`] reads it, field for field
//! (`ClientFrame::Request`, its id, `Request::SendBatch`, the handle, the
//! messages), with the same checks: a frame this decoder takes, the owned
//! one takes as the same value, and what one refuses the other refuses.

use super::chunk::REQUEST_VARIANT;
use super::send_frames::SEND_BATCH_VARIANT;
use super::text::LIST_HINT;
use super::{used_whole, CodecError, CONFIG};
use crate::ids::{Handle, RequestId};
use crate::{BatchMessage, ClientFrame, Request};
use bytes::Bytes;
use bytestring::ByteString;
use serde::de::{DeserializeSeed, Deserializer, Error, SeqAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// True when `body` is a `Request::SendBatch` frame's (by its tags alone).
pub(crate) fn is_send_batch(body: &[u8]) -> bool {
    matches!(
        bincode::serde::decode_from_slice::<(u32, RequestId, u32), _>(body, CONFIG),
        Ok(((REQUEST_VARIANT, _, SEND_BATCH_VARIANT), _))
    )
}

/// Decodes the `SendBatch` frame whose body is `body`, its messages' text
/// and bytes left in `body`'s storage.
pub(crate) fn decode_kept_batch(body: &Bytes) -> Result<ClientFrame, CodecError> {
    let (frame, used) = bincode::serde::seed_decode_from_slice(Frame(body), body, CONFIG)
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    used_whole(body, used)?;
    Ok(frame)
}

/// The view of `part`, a slice of `storage`'s bytes, in `storage`.
fn view<E: Error>(storage: &Bytes, part: &[u8]) -> Result<Bytes, E> {
    let start = (part.as_ptr() as usize).wrapping_sub(storage.as_ptr() as usize);
    let end = start.wrapping_add(part.len());
    if start > storage.len() || end > storage.len() || end < start {
        return Err(E::custom("a field outside its frame"));
    }
    Ok(storage.slice(start..end))
}

/// The view of `text`, a slice of `storage`'s bytes, as text.
fn text_view<E: Error>(storage: &Bytes, text: &str) -> Result<ByteString, E> {
    ByteString::try_from(view::<E>(storage, text.as_bytes())?)
        .map_err(|_| E::custom("text that is not UTF-8"))
}

/// The next element of a frame's sequence, which must be there.
fn required<'de, T: serde::Deserialize<'de>, A: SeqAccess<'de>>(
    seq: &mut A,
    what: &'static str,
) -> Result<T, A::Error> {
    required_seed(seq, PhantomData, what)
}

/// Its seed's next element, which must be there.
fn required_seed<'de, S: DeserializeSeed<'de>, A: SeqAccess<'de>>(
    seq: &mut A,
    seed: S,
    what: &'static str,
) -> Result<S::Value, A::Error> {
    seq.next_element_seed(seed)?
        .ok_or_else(|| A::Error::custom(format_args!("the frame ends before its {what}")))
}

/// The whole frame, read from the body of the storage it holds.
struct Frame<'de>(&'de Bytes);

impl<'de> DeserializeSeed<'de> for Frame<'de> {
    type Value = ClientFrame;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ClientFrame, D::Error> {
        // The enum tags are varints like any `u32`, the fields follow in order.
        deserializer.deserialize_tuple(5, self)
    }
}

impl<'de> Visitor<'de> for Frame<'de> {
    type Value = ClientFrame;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SendBatch request")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ClientFrame, A::Error> {
        let frame: u32 = required(&mut seq, "tag")?;
        let id: RequestId = required(&mut seq, "request id")?;
        let request: u32 = required(&mut seq, "request's tag")?;
        if (frame, request) != (REQUEST_VARIANT, SEND_BATCH_VARIANT) {
            return Err(A::Error::custom("not a SendBatch request"));
        }
        let handle: Handle = required(&mut seq, "handle")?;
        let messages = required_seed(&mut seq, Messages(self.0), "messages")?;
        Ok(ClientFrame::Request {
            id,
            request: Request::SendBatch { handle, messages },
        })
    }
}

/// The list of messages.
struct Messages<'de>(&'de Bytes);

impl<'de> DeserializeSeed<'de> for Messages<'de> {
    type Value = Vec<BatchMessage>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Messages<'de> {
    type Value = Vec<BatchMessage>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of messages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // A message takes three bytes at least: the count the peer announced
        // reserves no more than the frame could hold.
        let most = self.0.len() / 3;
        let mut messages = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(most));
        while let Some(message) = seq.next_element_seed(Message(self.0))? {
            messages.push(message);
        }
        Ok(messages)
    }
}

/// One message: its sender, its recipients and its bytes.
struct Message<'de>(&'de Bytes);

impl<'de> DeserializeSeed<'de> for Message<'de> {
    type Value = BatchMessage;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<BatchMessage, D::Error> {
        deserializer.deserialize_tuple(3, self)
    }
}

impl<'de> Visitor<'de> for Message<'de> {
    type Value = BatchMessage;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BatchMessage, A::Error> {
        let from: &'de str = required(&mut seq, "sender")?;
        let rcpts = required_seed(&mut seq, Recipients(self.0), "recipients")?;
        let data: &'de [u8] = required(&mut seq, "message bytes")?;
        Ok(BatchMessage {
            from: text_view(self.0, from)?,
            rcpts,
            data: view(self.0, data)?,
        })
    }
}

/// A message's list of recipients.
struct Recipients<'de>(&'de Bytes);

impl<'de> DeserializeSeed<'de> for Recipients<'de> {
    type Value = Vec<ByteString>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Recipients<'de> {
    type Value = Vec<ByteString>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of recipients")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut rcpts = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(LIST_HINT));
        while let Some(to) = seq.next_element::<&'de str>()? {
            rcpts.push(text_view(self.0, to)?);
        }
        Ok(rcpts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_body, encode_frame};

    fn batch(messages: Vec<BatchMessage>) -> (ClientFrame, Bytes) {
        let frame = ClientFrame::Request {
            id: RequestId(300),
            request: Request::SendBatch {
                handle: Handle::new(70_000).expect("a handle"),
                messages,
            },
        };
        let mut bytes = Vec::new();
        encode_frame(&frame, &mut bytes).expect("encodes");
        (frame, Bytes::from(bytes).slice(4..))
    }

    fn message(from: &str, rcpts: &[&str], data: &[u8]) -> BatchMessage {
        BatchMessage {
            from: from.into(),
            rcpts: rcpts.iter().map(|&to| to.into()).collect(),
            data: Bytes::copy_from_slice(data),
        }
    }

    /// The same value as the owned decoding, its text and bytes inside the
    /// frame's storage; across the varint's length boundaries.
    #[test]
    fn reads_what_the_owned_decoding_reads_from_the_frame_itself() {
        let long = vec![b'x'; 300];
        let (frame, body) = batch(vec![
            message("", &["a@example.org"], b""),
            message(
                "é@example.org",
                &["b@example.org", "c@example.org", ""],
                &long,
            ),
            message("d@example.org", &[], b"Subject: x\r\n\r\nbody\r\n"),
        ]);
        assert!(is_send_batch(&body));
        let kept = decode_kept_batch(&body).expect("decodes");
        assert_eq!(kept, frame);
        assert_eq!(decode_body::<ClientFrame>(&body).expect("decodes"), frame);
        let ClientFrame::Request {
            request: Request::SendBatch { messages, .. },
            ..
        } = kept
        else {
            panic!("not a batch: {kept:?}");
        };
        let inside = body.as_ptr_range();
        for m in &messages {
            let parts = [m.from.as_bytes(), &m.data]
                .into_iter()
                .chain(m.rcpts.iter().map(|to| to.as_bytes()));
            for part in parts.filter(|p| !p.is_empty()) {
                assert!(inside.contains(&part.as_ptr()), "{m:?}: copied");
            }
        }
    }

    /// What the owned decoding refuses, this one refuses (and neither panics):
    /// text that is not UTF-8, a frame cut anywhere, bytes after it.
    #[test]
    fn refuses_what_the_owned_decoding_refuses() {
        let (_, body) = batch(vec![message("ab@example.org", &["c@example.org"], b"hi")]);
        let mut bad = body.to_vec();
        let at = bad.iter().position(|&b| b == b'a').expect("the sender");
        bad[at] = 0xff;
        let mut longer = body.to_vec();
        longer.push(0);
        let cut = (0..body.len()).map(|n| body.slice(..n));
        for body in [Bytes::from(bad), Bytes::from(longer)]
            .into_iter()
            .chain(cut)
        {
            assert!(decode_body::<ClientFrame>(&body).is_err(), "{body:?}");
            assert!(decode_kept_batch(&body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn other_frames_are_not_taken_for_a_batch() {
        let (_, body) = batch(vec![]);
        assert!(is_send_batch(&body));
        let mut other = body.to_vec();
        let tag = other
            .iter()
            .position(|&b| b == 22)
            .expect("the request's tag");
        other[tag] = 20; // SendMessage's
        assert!(!is_send_batch(&other));
        assert!(decode_kept_batch(&Bytes::from(other)).is_err());
    }
}
