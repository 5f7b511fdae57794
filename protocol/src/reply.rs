//! A complete SMTP reply as the daemon parsed it from the server.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One SMTP reply (RFC 5321 §4.2): a three-digit code and the text of each
/// line, without the code and separator and without the line ending.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The reply code, 200..=599.
    pub code: u16,
    /// The text of each line, in order; at least one (possibly empty) line.
    pub lines: Vec<String>,
}

/// `clone_from` copies into the lines' memory already held (a derived
/// `Clone` would allocate anew): the daemon keeps every connection's last
/// reply this way, one copy a request, with no allocation once the lines fit.
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
            lines: vec!["2.0.0 Ok: queued as 4Xyz".into()],
        };
        let held = kept.lines[0].as_ptr();
        let next = Reply {
            code: 550,
            lines: vec!["5.1.1 no".into()],
        };
        kept.clone_from(&next);
        assert_eq!(kept, next);
        assert_eq!(kept.lines[0].as_ptr(), held);
        let longer = Reply {
            code: 214,
            lines: vec!["a".into(), "b".into()],
        };
        kept.clone_from(&longer);
        assert_eq!(kept, longer);
    }

    #[test]
    fn wire_text_marks_continuations() {
        let r = Reply {
            code: 250,
            lines: vec!["a".into(), "b".into()],
        };
        assert_eq!(r.to_wire_text(), "250-a\r\n250 b");
        assert!(r.is_positive());
        assert!(!Reply {
            code: 550,
            lines: vec![String::new()]
        }
        .is_positive());
    }

    #[test]
    fn enhanced_status_is_read_from_the_first_line() {
        let r = |code: u16, text: &str| Reply {
            code,
            lines: vec![text.into(), "more".into()],
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
