//! Text in a frame (`#[serde(deserialize_with = "crate::codec::text::string")]`,
//! `text::strings` for a list; `byte_string` and `byte_strings` for a
//! [`ByteString`]): written as serde writes a `String`, read by copying it
//! out of the frame once.
//!
//! Asked for an owned string, bincode reads it into a zeroed buffer, which
//! glibc's `calloc` serves from the arena and never from its per-thread
//! cache: about 230 instructions a string, two or more a request. Asked for
//! text it may borrow, bincode hands out the frame's own bytes (checked as
//! UTF-8), and one copy makes them the string, in memory the cache serves.

use bytestring::ByteString;
use serde::de::{Deserializer, Error, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// Entries a list reserves room for at most before they come (the peer's
/// announced count is not trusted further).
pub(super) const LIST_HINT: usize = 64;

/// Reads a string, borrowed from the frame when the format can lend it.
pub fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    ReadText::deserialize(deserializer).map(|text| text.0.into_owned())
}

/// Reads a list of strings, each as [`string`] reads one.
pub fn strings<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    deserializer.deserialize_seq(Texts(Cow::into_owned))
}

/// Reads a [`ByteString`] as [`string`] reads a `String`.
pub fn byte_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ByteString, D::Error> {
    string(deserializer).map(ByteString::from)
}

/// Reads a list of [`ByteString`]s, each as [`byte_string`] reads one.
pub fn byte_strings<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ByteString>, D::Error> {
    deserializer.deserialize_seq(Texts(|text: Cow<'_, str>| {
        ByteString::from(text.into_owned())
    }))
}

/// Text as read: borrowed from the frame when the format lends its bytes,
/// else owned. What the reply lines are read as, too (`crate::reply`).
pub(crate) struct ReadText<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for ReadText<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ReadText<'de>, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = ReadText<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: Error>(self, text: &'de str) -> Result<ReadText<'de>, E> {
        Ok(ReadText(Cow::Borrowed(text)))
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<ReadText<'de>, E> {
        Ok(ReadText(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: Error>(self, text: String) -> Result<ReadText<'de>, E> {
        Ok(ReadText(Cow::Owned(text)))
    }
}

/// A list of texts, each made a `T` as it is read.
struct Texts<F>(F);

impl<'de, T, F: Fn(Cow<'de, str>) -> T> Visitor<'de> for Texts<F> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        // The hint is what the peer announced: bounded, so a lie cannot
        // reserve more than a small list.
        let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(LIST_HINT));
        while let Some(ReadText(text)) = seq.next_element()? {
            list.push(self.0(text));
        }
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use crate::codec::{body_of, decode_body};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Ours {
        #[serde(deserialize_with = "super::string")]
        one: String,
        #[serde(deserialize_with = "super::strings")]
        many: Vec<String>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Plain {
        one: String,
        many: Vec<String>,
    }

    #[test]
    fn text_reads_what_a_plain_string_wrote_and_refuses_what_it_refused() {
        let plain = Plain {
            one: "a@example.org".into(),
            many: vec!["".into(), "b@example.org".into(), "é".into()],
        };
        let ours: Ours = decode_body(&body_of(&plain)).expect("decodes");
        assert_eq!(
            (ours.one.as_str(), ours.many.clone()),
            (plain.one.as_str(), plain.many)
        );
        assert_eq!(
            body_of(&ours),
            body_of(&Plain {
                one: ours.one.clone(),
                many: ours.many.clone()
            })
        );
        // Not UTF-8: refused, as a plain String refuses it.
        let mut bad = body_of(&Plain {
            one: "ab".into(),
            many: vec![],
        });
        let at = bad.iter().position(|&b| b == b'a').expect("the text");
        bad[at] = 0xff;
        assert!(decode_body::<Plain>(&bad).is_err());
        assert!(decode_body::<Ours>(&bad).is_err());
    }
}
