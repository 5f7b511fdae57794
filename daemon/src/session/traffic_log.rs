//! The recent traffic of one connection, kept for `smtp32ctl show`: a small
//! window of lines in both directions, bounded in lines and bytes, with
//! secrets and message content never stored.
//!
//! Redaction is decided here, on the bytes, so no caller can forget it:
//! - a client line starting `AUTH ` keeps only the verb (`AUTH [redacted]`),
//!   and every client line after it is `[redacted]` until the server answers
//!   with something other than 334 (the AUTH LOGIN / PLAIN continuations);
//! - after a 354 reply, everything the client sends until the server speaks
//!   again is message content and is stored as one `[message data: N bytes]` line.

use smtp32_protocol::{Direction, TrafficLine};
use std::collections::VecDeque;

/// Lines kept at most.
pub const MAX_LINES: usize = 64;
/// Bytes of text kept at most, all lines together.
pub const MAX_BYTES: usize = 16 * 1024;
/// A longer line is cut to this many bytes (and marked).
pub const MAX_LINE_BYTES: usize = 512;

/// The bounded window of recent lines.
#[derive(Debug, Default)]
pub struct TrafficLog {
    lines: VecDeque<TrafficLine>,
    bytes: usize,
    dropped: u64,
    /// Bytes of a line not yet ended by LF, per direction (client, server).
    partial: [Vec<u8>; 2],
    in_auth: bool,
    /// Set after a 354: client bytes are message content.
    in_content: bool,
    /// Content bytes counted into the last line.
    content_bytes: u64,
    /// The code of the last complete reply seen.
    last_code: Option<u16>,
}

impl TrafficLog {
    /// An empty log.
    pub fn new() -> TrafficLog {
        TrafficLog::default()
    }

    /// Records `bytes` that went `direction` at `at_millis` after the connection opened.
    pub fn record(&mut self, direction: Direction, bytes: &[u8], at_millis: u64) {
        if direction == Direction::ToServer && self.in_content {
            self.count_content(bytes.len() as u64, at_millis);
            return;
        }
        let slot = match direction {
            Direction::ToServer => 0,
            Direction::FromServer => 1,
        };
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let mut line = std::mem::take(&mut self.partial[slot]);
            push_bounded(&mut line, &rest[..end]);
            rest = &rest[end + 1..];
            self.finish_line(direction, line, at_millis);
            if direction == Direction::ToServer && self.in_content {
                // The rest of this write is already message content.
                if !rest.is_empty() {
                    self.count_content(rest.len() as u64, at_millis);
                }
                return;
            }
        }
        push_bounded(&mut self.partial[slot], rest);
    }

    /// The lines kept, oldest first.
    pub fn lines(&self) -> Vec<TrafficLine> {
        self.lines.iter().cloned().collect()
    }

    /// The code of the last complete reply the server sent.
    pub fn last_reply_code(&self) -> Option<u16> {
        self.last_code
    }

    /// Lines that fell out of the window.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn finish_line(&mut self, direction: Direction, mut line: Vec<u8>, at_millis: u64) {
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let text = match direction {
            Direction::ToServer => self.client_text(&line),
            Direction::FromServer => self.server_text(&line),
        };
        self.push(TrafficLine { at_millis, direction, text });
    }

    fn client_text(&mut self, line: &[u8]) -> String {
        if self.in_auth {
            return "[redacted]".into();
        }
        if line.len() >= 5 && line[..5].eq_ignore_ascii_case(b"AUTH ") {
            self.in_auth = true;
            return "AUTH [redacted]".into();
        }
        text_of(line)
    }

    fn server_text(&mut self, line: &[u8]) -> String {
        let code = line.get(..3).filter(|c| c.iter().all(u8::is_ascii_digit));
        // Only the last line of a reply (code followed by a space or nothing) ends it.
        let last = code.is_some() && line.get(3).is_none_or(|&b| b == b' ');
        if let (true, Some(code)) = (last, code) {
            self.last_code = std::str::from_utf8(code).ok().and_then(|c| c.parse().ok());
        }
        if last {
            if self.in_auth && code != Some(b"334") {
                self.in_auth = false;
            }
            if code == Some(b"354") {
                self.in_content = true;
                self.content_bytes = 0;
            }
        }
        text_of(line)
    }

    /// Adds `n` content bytes to the running `[message data: N bytes]` line.
    fn count_content(&mut self, n: u64, at_millis: u64) {
        let continuing = self.content_bytes > 0;
        self.content_bytes += n;
        let text = format!("[message data: {} bytes]", self.content_bytes);
        if continuing {
            if let Some(last) = self.lines.back_mut() {
                self.bytes = self.bytes - last.text.len() + text.len();
                last.text = text;
                return;
            }
        }
        self.push(TrafficLine { at_millis, direction: Direction::ToServer, text });
    }

    fn push(&mut self, line: TrafficLine) {
        if line.direction == Direction::FromServer {
            // The server spoke: whatever the client sends next is not content.
            self.in_content = self.in_content && line.text.starts_with("354");
            self.content_bytes = 0;
        }
        self.bytes += line.text.len();
        self.lines.push_back(line);
        while self.lines.len() > MAX_LINES || self.bytes > MAX_BYTES {
            match self.lines.pop_front() {
                Some(old) => {
                    self.bytes -= old.text.len();
                    self.dropped += 1;
                }
                None => break,
            }
        }
    }
}

/// Appends `more` to `line`, keeping at most [`MAX_LINE_BYTES`] (+1 to mark a cut).
fn push_bounded(line: &mut Vec<u8>, more: &[u8]) {
    let room = (MAX_LINE_BYTES + 1).saturating_sub(line.len());
    line.extend_from_slice(&more[..more.len().min(room)]);
}

fn text_of(line: &[u8]) -> String {
    if line.len() > MAX_LINE_BYTES {
        format!("{}[...]", String::from_utf8_lossy(&line[..MAX_LINE_BYTES]))
    } else {
        String::from_utf8_lossy(line).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{FromServer as S, ToServer as C};

    fn texts(log: &TrafficLog) -> Vec<String> {
        log.lines().into_iter().map(|l| l.text).collect()
    }

    #[test]
    fn lines_are_split_and_partial_lines_joined() {
        let mut log = TrafficLog::new();
        log.record(S, b"220 hi\r\n", 0);
        log.record(C, b"EHLO me\r\n", 1);
        log.record(S, b"250-a\r\n250 ", 2);
        log.record(S, b"b\r\n", 3);
        assert_eq!(texts(&log), ["220 hi", "EHLO me", "250-a", "250 b"]);
        assert_eq!(log.last_reply_code(), Some(250));
    }

    #[test]
    fn auth_and_its_continuations_are_redacted() {
        let mut log = TrafficLog::new();
        log.record(C, b"auth plain AGZvbwBzZWNyZXQ=\r\n", 0);
        log.record(S, b"235 ok\r\n", 0);
        log.record(C, b"AUTH LOGIN\r\n", 0);
        log.record(S, b"334 VXNlcm5hbWU6\r\n", 0);
        log.record(C, b"Zm9v\r\n", 0);
        log.record(S, b"334 UGFzc3dvcmQ6\r\n", 0);
        log.record(C, b"c2VjcmV0\r\n", 0);
        log.record(S, b"235 ok\r\n", 0);
        log.record(C, b"MAIL FROM:<a@b>\r\n", 0);
        let all = texts(&log).join("|");
        assert!(!all.contains("AGZv") && !all.contains("Zm9v") && !all.contains("c2Vj"), "{all}");
        assert!(all.ends_with("235 ok|MAIL FROM:<a@b>"), "{all}");
        assert_eq!(texts(&log)[0], "AUTH [redacted]");
    }

    #[test]
    fn message_content_is_summarised() {
        let mut log = TrafficLog::new();
        log.record(C, b"DATA\r\n", 0);
        log.record(S, b"354 go\r\n", 0);
        log.record(C, b"Subject: secret\r\n\r\nbody\r\n", 0);
        log.record(C, b"more\r\n.\r\n", 0);
        log.record(S, b"250 queued\r\n", 0);
        log.record(C, b"QUIT\r\n", 0);
        assert_eq!(texts(&log), ["DATA", "354 go", "[message data: 34 bytes]", "250 queued", "QUIT"]);
    }

    #[test]
    fn window_is_bounded_in_lines_bytes_and_line_length() {
        let mut log = TrafficLog::new();
        for i in 0..100 {
            log.record(C, format!("NOOP {i}\r\n").as_bytes(), i);
        }
        assert_eq!(log.lines().len(), MAX_LINES);
        assert_eq!(log.dropped(), 100 - MAX_LINES as u64);
        assert_eq!(log.lines()[0].text, "NOOP 36");
        let mut log = TrafficLog::new();
        log.record(S, &vec![b'x'; 10_000], 0);
        log.record(S, b"\r\n", 0);
        assert_eq!(log.lines()[0].text.len(), MAX_LINE_BYTES + "[...]".len());
        for _ in 0..40 {
            log.record(S, &[b'y'; 600], 0);
            log.record(S, b"\n", 0);
        }
        assert!(log.lines().iter().map(|l| l.text.len()).sum::<usize>() <= MAX_BYTES);
    }
}
