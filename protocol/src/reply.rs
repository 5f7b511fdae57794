//! A complete SMTP reply as the daemon parsed it from the server.

use serde::{Deserialize, Serialize};

/// One SMTP reply (RFC 5321 §4.2): a three-digit code and the text of each
/// line, without the code and separator and without the line ending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The reply code, 200..=599.
    pub code: u16,
    /// The text of each line, in order; at least one (possibly empty) line.
    pub lines: Vec<String>,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_text_marks_continuations() {
        let r = Reply { code: 250, lines: vec!["a".into(), "b".into()] };
        assert_eq!(r.to_wire_text(), "250-a\r\n250 b");
        assert!(r.is_positive());
        assert!(!Reply { code: 550, lines: vec![String::new()] }.is_positive());
    }
}
