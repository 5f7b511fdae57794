//! A complete SMTP reply as the daemon parsed it from the server.

use crate::codec::text::ReadText;
use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::sync::Arc;

mod recent;

/// One SMTP reply (RFC 5321 §4.2): a three-digit code and the text of each
/// line, without the code and separator and without the line ending.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The reply code, 200..=599.
    pub code: u16,
    /// The text of each line, in order; at least one (possibly empty) line.
    pub lines: ReplyLines,
}

/// The text of a reply's lines, in order. Either in one string, each line
/// followed by LF (a line never holds one: the reader splits on it), so a
/// reply is one allocation where a `Vec<String>` was two; or, for a one-line
/// reply, a [`SharedLine`] that every reply of the same text shares (servers
/// answer MAIL, RCPT and DATA with the same line each time). On the wire it
/// is a sequence of strings, byte for byte what the `Vec<String>` was.
#[derive(Default)]
pub struct ReplyLines {
    text: Text,
}

#[derive(Clone)]
enum Text {
    /// Every line followed by LF.
    Lines(String),
    /// One line, without LF.
    Shared(SharedLine),
}

impl Default for Text {
    fn default() -> Text {
        Text::Lines(String::new())
    }
}

/// One reply line (no LF in it) in memory its clones share.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedLine(Arc<str>);

impl SharedLine {
    /// `line` in shared memory; `None` when it holds an LF.
    pub fn new(line: &str) -> Option<SharedLine> {
        (!line.contains('\n')).then(|| SharedLine(Arc::from(line)))
    }

    /// The line.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SharedLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<SharedLine> for ReplyLines {
    fn from(line: SharedLine) -> ReplyLines {
        ReplyLines {
            text: Text::Shared(line),
        }
    }
}

impl ReplyLines {
    /// No lines.
    pub fn new() -> ReplyLines {
        ReplyLines::default()
    }

    /// The lines of a one-line reply: shared with the replies of the same
    /// text read lately on this thread (`reply/recent.rs`).
    pub fn one_line(text: &str) -> ReplyLines {
        recent::one_line(text)
    }

    /// Room for `bytes` of text (line ends included) before it grows.
    pub fn with_capacity(bytes: usize) -> ReplyLines {
        ReplyLines {
            text: Text::Lines(String::with_capacity(bytes)),
        }
    }

    /// Appends `line`; an LF inside it would end it there and start another.
    pub fn push(&mut self, line: &str) {
        if let Text::Shared(shared) = &self.text {
            let shared = shared.as_str();
            let mut text = String::with_capacity(shared.len() + 1 + line.len() + 1);
            text.push_str(shared);
            text.push('\n');
            self.text = Text::Lines(text);
        }
        if let Text::Lines(text) = &mut self.text {
            // Room for the LF too: pushed after a line that just fit, it
            // reallocated every one-line reply read from a frame.
            text.reserve(line.len() + 1);
            text.push_str(line);
            text.push('\n');
        }
    }

    /// The lines, in order.
    pub fn iter(&self) -> Lines<'_> {
        match &self.text {
            Text::Lines(text) => Lines {
                rest: text,
                unended: None,
            },
            Text::Shared(line) => Lines {
                rest: "",
                unended: Some(line.as_str()),
            },
        }
    }

    /// The first line.
    pub fn first(&self) -> Option<&str> {
        self.iter().next()
    }

    /// The last line.
    pub fn last(&self) -> Option<&str> {
        self.iter().next_back()
    }

    /// How many lines.
    pub fn len(&self) -> usize {
        match &self.text {
            // A count kept beside the text would make every response frame
            // larger (frames_stay_small_to_move); this count is a vector loop.
            Text::Lines(text) => text.bytes().filter(|&b| b == b'\n').count(),
            Text::Shared(_) => 1,
        }
    }

    /// True without a line.
    pub fn is_empty(&self) -> bool {
        match &self.text {
            Text::Lines(text) => text.is_empty(),
            Text::Shared(_) => false,
        }
    }

    /// Gives back spare capacity.
    pub fn shrink_to_fit(&mut self) {
        if let Text::Lines(text) = &mut self.text {
            text.shrink_to_fit();
        }
    }
}

/// `clone_from` copies into the memory already held (see [`Reply`]'s); a
/// shared line is shared, not copied.
impl Clone for ReplyLines {
    fn clone(&self) -> ReplyLines {
        ReplyLines {
            text: self.text.clone(),
        }
    }

    fn clone_from(&mut self, source: &ReplyLines) {
        match (&mut self.text, &source.text) {
            (Text::Lines(mine), Text::Lines(theirs)) => mine.clone_from(theirs),
            _ => *self = source.clone(),
        }
    }
}

impl PartialEq for ReplyLines {
    fn eq(&self, other: &ReplyLines) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for ReplyLines {}

/// The lines of a [`ReplyLines`], front to back or back to front. (A byte
/// search: `split_terminator('\n')` cost twice as much on short lines.)
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    /// The lines not yet given, each followed by its LF.
    rest: &'a str,
    /// A shared line not yet given: it has no LF to end it.
    unended: Option<&'a str>,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let Some(end) = self.rest.bytes().position(|b| b == b'\n') else {
            return self.unended.take();
        };
        let line = &self.rest[..end];
        self.rest = &self.rest[end + 1..];
        Some(line)
    }
}

impl<'a> DoubleEndedIterator for Lines<'a> {
    fn next_back(&mut self) -> Option<&'a str> {
        if let Some(line) = self.unended.take() {
            return Some(line);
        }
        let body = self.rest.strip_suffix('\n')?;
        let start = body
            .bytes()
            .rposition(|b| b == b'\n')
            .map_or(0, |lf| lf + 1);
        self.rest = &self.rest[..start];
        Some(&body[start..])
    }
}

impl fmt::Debug for ReplyLines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a ReplyLines {
    type Item = &'a str;
    type IntoIter = Lines<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<S: AsRef<str>> FromIterator<S> for ReplyLines {
    fn from_iter<I: IntoIterator<Item = S>>(lines: I) -> ReplyLines {
        let mut out = ReplyLines::new();
        for line in lines {
            out.push(line.as_ref());
        }
        out
    }
}

impl<S: AsRef<str>> From<Vec<S>> for ReplyLines {
    fn from(lines: Vec<S>) -> ReplyLines {
        lines.into_iter().collect()
    }
}

impl<S: AsRef<str>, const N: usize> From<[S; N]> for ReplyLines {
    fn from(lines: [S; N]) -> ReplyLines {
        lines.into_iter().collect()
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for ReplyLines {
    fn eq(&self, other: &[S; N]) -> bool {
        self.iter().eq(other.iter().map(AsRef::as_ref))
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for ReplyLines {
    fn eq(&self, other: &Vec<S>) -> bool {
        self.iter().eq(other.iter().map(AsRef::as_ref))
    }
}

impl Serialize for ReplyLines {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for line in self.iter() {
            seq.serialize_element(line)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for ReplyLines {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ReplyLines, D::Error> {
        struct Lines;

        impl<'de> Visitor<'de> for Lines {
            type Value = ReplyLines;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence of reply lines")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ReplyLines, A::Error> {
                let line = |text: Option<ReadText<'de>>| match text {
                    Some(ReadText(line)) if line.contains('\n') => {
                        Err(serde::de::Error::custom("a reply line holds an LF"))
                    }
                    text => Ok(text.map(|t| t.0)),
                };
                let Some(first) = line(seq.next_element()?)? else {
                    return Ok(ReplyLines::new());
                };
                let Some(second) = line(seq.next_element()?)? else {
                    // A one-line reply, as most are: shared, not a copy each.
                    return Ok(ReplyLines::one_line(&first));
                };
                let mut lines = ReplyLines::from([first, second]);
                while let Some(next) = line(seq.next_element()?)? {
                    lines.push(&next);
                }
                Ok(lines)
            }
        }

        deserializer.deserialize_seq(Lines)
    }
}

/// `clone_from` copies into the lines' memory already held (a derived
/// `Clone` would allocate anew), or shares a shared line: the daemon keeps
/// every connection's last reply this way, one copy a request, with no
/// allocation once the lines fit.
impl Clone for Reply {
    fn clone(&self) -> Reply {
        Reply {
            code: self.code,
            lines: self.lines.clone(),
        }
    }

    fn clone_from(&mut self, source: &Reply) {
        self.code = source.code;
        self.lines.clone_from(&source.lines);
    }
}

impl Reply {
    /// True for a 2xx or 3xx reply.
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// The reply as the server sent it: `code-text` lines joined by CRLF and
    /// the last one as `code text`, without a final line ending.
    pub fn to_wire_text(&self) -> String {
        let last = self.lines.len().saturating_sub(1);
        let mut out = String::new();
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                out.push_str("\r\n");
            }
            let sep = if i == last { ' ' } else { '-' };
            out.push_str(&format!("{}{}{}", self.code, sep, line));
        }
        out
    }

    /// The RFC 3463 enhanced status code at the start of the first line's
    /// text (`250 2.1.0 Ok` gives `2.1.0`), as servers offering
    /// ENHANCEDSTATUSCODES send it. Read from the text, so it costs nothing
    /// on the wire; `None` when the text does not start with one, or its
    /// class does not match the reply code's first digit.
    pub fn enhanced(&self) -> Option<EnhancedStatus> {
        let word = self.lines.first()?.split(' ').next()?;
        let mut parts = word.split('.');
        let class: u8 = parse_part(parts.next()?, 1)?;
        let subject: u16 = parse_part(parts.next()?, 3)?;
        let detail: u16 = parse_part(parts.next()?, 3)?;
        let matches_code = u16::from(class) == self.code / 100;
        (parts.next().is_none() && matches!(class, 2 | 4 | 5) && matches_code).then_some(
            EnhancedStatus {
                class,
                subject,
                detail,
            },
        )
    }
}

/// An RFC 3463 enhanced status code `class.subject.detail`, e.g. `5.7.8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedStatus {
    /// 2 success, 4 persistent transient failure, 5 permanent failure.
    pub class: u8,
    /// The subject (0..=999), e.g. 7 for security or policy.
    pub subject: u16,
    /// The detail (0..=999).
    pub detail: u16,
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// 1..=`max_digits` ASCII digits as a number.
fn parse_part<T: std::str::FromStr>(text: &str, max_digits: usize) -> Option<T> {
    let ok = (1..=max_digits).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_from_copies_into_the_memory_held() {
        let mut kept = Reply {
            code: 250,
            lines: ["2.0.0 Ok: queued as 4Xyz"].into(),
        };
        let held = kept.lines.first().map(str::as_ptr);
        let next = Reply {
            code: 550,
            lines: ["5.1.1 no"].into(),
        };
        kept.clone_from(&next);
        assert_eq!(kept, next);
        assert_eq!(kept.lines.first().map(str::as_ptr), held);
        let longer = Reply {
            code: 214,
            lines: ["a", "b"].into(),
        };
        kept.clone_from(&longer);
        assert_eq!(kept, longer);
    }

    #[test]
    fn lines_travel_as_the_vec_of_strings_they_replaced() {
        use crate::codec::{body_of, decode_body};
        for lines in [
            vec![],
            vec![""],
            vec!["", ""],
            vec!["a", "b c", ""],
            vec!["é", "x"],
        ] {
            let ours = ReplyLines::from(lines.clone());
            let theirs: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            assert_eq!(body_of(&ours), body_of(&theirs), "{lines:?}");
            let back: ReplyLines = decode_body(&body_of(&theirs)).expect("decodes");
            assert_eq!(back, ours);
            assert_eq!(
                (back.len(), back.is_empty()),
                (lines.len(), lines.is_empty())
            );
            assert_eq!(back.iter().collect::<Vec<_>>(), lines);
            assert_eq!(
                (back.first(), back.last()),
                (lines.first().copied(), lines.last().copied())
            );
        }
    }

    /// A program decoding reply after reply (a batch's outcomes) shares
    /// each one-line text, as the daemon's reader does; a line holding an
    /// LF is refused wherever it stands.
    #[test]
    fn one_line_replies_decoded_again_share_their_text() {
        use crate::codec::{body_of, decode_body};
        let decode = |lines: &[&str]| decode_body::<ReplyLines>(&body_of(&lines.to_vec()));
        let first = decode(&["2.1.5 Ok"]).expect("decodes");
        let again = decode(&["2.1.5 Ok"]).expect("decodes");
        assert_eq!(
            again.first().map(str::as_ptr),
            first.first().map(str::as_ptr)
        );
        for lf in [&["a\nb"][..], &["a", "b\nc"], &["a", "b", "c\n"]] {
            assert!(decode(lf).is_err(), "{lf:?}");
        }
    }

    #[test]
    fn a_shared_line_is_one_line_that_clones_share() {
        use crate::codec::body_of;
        assert_eq!(SharedLine::new("a\nb"), None);
        let shared = ReplyLines::from(SharedLine::new("2.1.0 Ok").expect("no LF"));
        let owned = ReplyLines::from(["2.1.0 Ok"]);
        assert_eq!(shared, owned);
        assert_eq!(body_of(&shared), body_of(&owned));
        assert_eq!((shared.len(), shared.is_empty()), (1, false));
        assert_eq!(
            (shared.first(), shared.last()),
            (Some("2.1.0 Ok"), Some("2.1.0 Ok"))
        );
        assert_eq!(shared.iter().rev().collect::<Vec<_>>(), ["2.1.0 Ok"]);
        let copy = shared.clone();
        assert_eq!(
            copy.first().map(str::as_ptr),
            shared.first().map(str::as_ptr)
        );
        let mut longer = shared.clone();
        longer.push("more");
        assert_eq!(longer, ReplyLines::from(["2.1.0 Ok", "more"]));
        assert_eq!(shared.len(), 1);
    }

    #[test]
    fn lines_read_the_same_from_both_ends() {
        let lines = ReplyLines::from(["", "a", "", "bc", ""]);
        let mut back: Vec<&str> = lines.iter().rev().collect();
        back.reverse();
        assert_eq!(back, lines.iter().collect::<Vec<_>>());
        let mut both = lines.iter();
        assert_eq!((both.next(), both.next_back()), (Some(""), Some("")));
        assert_eq!((both.next_back(), both.next()), (Some("bc"), Some("a")));
        assert_eq!(
            (both.next(), both.next(), both.next_back()),
            (Some(""), None, None)
        );
    }

    #[test]
    fn a_line_holding_an_lf_is_refused_on_the_way_in() {
        let body = crate::codec::body_of(&vec!["250 a\nb".to_string()]);
        assert!(crate::codec::decode_body::<ReplyLines>(&body).is_err());
    }

    #[test]
    fn wire_text_marks_continuations() {
        let r = Reply {
            code: 250,
            lines: ["a", "b"].into(),
        };
        assert_eq!(r.to_wire_text(), "250-a\r\n250 b");
        assert!(r.is_positive());
        assert!(!Reply {
            code: 550,
            lines: [""].into()
        }
        .is_positive());
    }

    #[test]
    fn enhanced_status_is_read_from_the_first_line() {
        let r = |code: u16, text: &str| Reply {
            code,
            lines: [text, "more"].into(),
        };
        let e = r(535, "5.7.8 Authentication credentials invalid").enhanced();
        assert_eq!(
            e,
            Some(EnhancedStatus {
                class: 5,
                subject: 7,
                detail: 8
            })
        );
        assert_eq!(e.map(|e| e.to_string()).as_deref(), Some("5.7.8"));
        assert_eq!(r(250, "2.0.0").enhanced().map(|e| e.detail), Some(0));
        for (code, text) in [
            (250, "Ok"),
            (250, "5.1.1 wrong class"),
            (250, "2.1"),
            (250, "2.1.0.1"),
            (250, "2.x.0"),
            (250, ""),
        ] {
            assert_eq!(r(code, text).enhanced(), None, "{text:?}");
        }
    }
}
