//! The recent traffic of one connection, kept for `smtp32ctl show`: a small
//! window of lines in both directions, bounded in lines and bytes, with
//! secrets and message content never stored.
//!
//! Redaction is decided here, on the bytes, so no caller can forget it:
//! - a client line starting `AUTH ` keeps only the verb (`AUTH [redacted]`),
//!   and every client line after it is `[redacted]` until the server answers
//!   with something other than 334 (the AUTH LOGIN / PLAIN continuations);
//! - after a 354 reply, everything the client sends up to and including the
//!   final `.` line is message content and is stored as one
//!   `[message data: N bytes]` line; what follows the dot in the same write
//!   (the next envelope of a pipelined batch) is logged as lines again.
//!
//! Every SMTP write and reply passes through here, so the window is kept
//! compact and cheap: line bytes back to back in one buffer with a small
//! record per line, turned into text only when someone asks. (A `String`
//! per line cost about 2 KiB per idle connection and a fifth of the
//! daemon's instructions per message.)

use smtp32_protocol::{Direction, TrafficLine};
use std::collections::VecDeque;
use std::time::Instant;

/// Lines kept at most.
pub const MAX_LINES: usize = 64;
/// Bytes of text kept at most, all lines together.
pub const MAX_BYTES: usize = 16 * 1024;
/// A longer line is cut to this many bytes (and marked).
pub const MAX_LINE_BYTES: usize = 512;

/// Bytes of dropped lines the text may hold before they are cut off, when
/// the kept lines are fewer.
const MIN_DEAD_BYTES: usize = 1024;
/// What marks a line that was cut.
const CUT_MARK: &str = "[...]";
/// Bytes a `[message data: N bytes]` line is counted as.
const CONTENT_LINE_BYTES: usize = 32;

/// One line of the window: 32 bytes, as it was when it held milliseconds
/// (they are worked out when someone looks: a clock subtraction a line
/// cost more than the rest of the record).
#[derive(Debug, Clone, Copy)]
struct Entry {
    at: Instant,
    kind: Kind,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `len` bytes of the text, `cut` when the line was longer.
    Text {
        len: u32,
        cut: bool,
        direction: Direction,
    },
    /// Message content (the client's), summarised.
    Content(u64),
}

impl Entry {
    fn direction(&self) -> Direction {
        match self.kind {
            Kind::Text { direction, .. } => direction,
            Kind::Content(_) => Direction::ToServer,
        }
    }

    /// Bytes counted against [`MAX_BYTES`].
    fn weight(&self) -> usize {
        match self.kind {
            Kind::Text { len, cut, .. } => len as usize + if cut { CUT_MARK.len() } else { 0 },
            Kind::Content(_) => CONTENT_LINE_BYTES,
        }
    }

    /// Bytes of the text it holds.
    fn stored(&self) -> usize {
        match self.kind {
            Kind::Text { len, .. } => len as usize,
            Kind::Content(_) => 0,
        }
    }
}

/// The bounded window of recent lines.
#[derive(Debug, Default)]
pub struct TrafficLog {
    /// The text of every kept line, back to back, oldest first, from `start`.
    /// A line that falls out only moves `start`; the bytes before it are cut
    /// off in one move once they outnumber the kept ones (a drain a line
    /// was about 5 % of the window's instructions).
    text: Vec<u8>,
    start: usize,
    entries: VecDeque<Entry>,
    bytes: usize,
    dropped: u64,
    /// Bytes of a line not yet ended by LF, per direction (client, server).
    partial: [Vec<u8>; 2],
    in_auth: bool,
    /// Set after a 354: client bytes are message content.
    in_content: bool,
    /// The content so far ends with CRLF (a `.` line may follow).
    content_at_line_start: bool,
    /// The code of the last complete reply seen.
    last_code: Option<u16>,
}

impl TrafficLog {
    /// An empty log.
    pub fn new() -> TrafficLog {
        TrafficLog::default()
    }

    /// Records `bytes` that went `direction` at `at`.
    pub fn record(&mut self, direction: Direction, mut bytes: &[u8], at: Instant) {
        if direction == Direction::ToServer && self.in_content {
            match self.end_of_content(bytes) {
                None => return self.count_content(bytes, at),
                Some(end) => {
                    self.count_content(&bytes[..end], at);
                    self.in_content = false;
                    bytes = &bytes[end..];
                }
            }
        }
        let slot = slot(direction);
        let mut rest = bytes;
        // Content is never scanned; a pipelined envelope's lines (MAIL with
        // its parameters) are long enough for memchr to cost less than a
        // plain scan (112 instructions less a message of a batch).
        while let Some(end) = memchr::memchr(b'\n', rest) {
            let (line, after) = (&rest[..end], &rest[end + 1..]);
            rest = after;
            if self.partial[slot].is_empty() {
                self.finish_line(direction, line, at);
            } else {
                let mut joined = std::mem::take(&mut self.partial[slot]);
                push_bounded(&mut joined, line);
                self.finish_line(direction, &joined, at);
            }
            if direction == Direction::ToServer && self.in_content {
                // The rest of this write is already message content.
                if !rest.is_empty() {
                    self.record(direction, rest, at);
                }
                return;
            }
        }
        if !rest.is_empty() {
            push_bounded(&mut self.partial[slot], rest);
        }
    }

    /// Records one whole `line` (its LF included, no other LF in it) that
    /// went `direction` at `at`: what the SMTP client's reply reader
    /// and command writer hand over, so no line end is looked for.
    pub fn record_line(&mut self, direction: Direction, line: &[u8], at: Instant) {
        let content = direction == Direction::ToServer && self.in_content;
        match line.strip_suffix(b"\n") {
            Some(text) if !content && self.partial[slot(direction)].is_empty() => {
                self.finish_line(direction, text, at)
            }
            _ => self.record(direction, line, at),
        }
    }

    /// Gives back spare capacity (the window keeps what it holds).
    pub fn compact(&mut self) {
        self.cut_dead_text();
        self.text.shrink_to_fit();
        self.entries.shrink_to_fit();
        for p in &mut self.partial {
            p.shrink_to_fit();
        }
    }

    /// The lines kept, oldest first, timed from `opened`.
    pub fn lines(&self, opened: Instant) -> Vec<TrafficLine> {
        let mut at = self.start;
        self.entries
            .iter()
            .map(|e| {
                let text = match e.kind {
                    Kind::Content(n) => format!("[message data: {n} bytes]"),
                    Kind::Text { len, cut, .. } => {
                        let text = self.text.get(at..at + len as usize).unwrap_or_default();
                        at += len as usize;
                        let mut t = String::from_utf8_lossy(text).into_owned();
                        if cut {
                            t.push_str(CUT_MARK);
                        }
                        t
                    }
                };
                TrafficLine {
                    at_millis: e.at.saturating_duration_since(opened).as_millis() as u64,
                    direction: e.direction(),
                    text,
                }
            })
            .collect()
    }

    /// The code of the last complete reply the server sent.
    pub fn last_reply_code(&self) -> Option<u16> {
        self.last_code
    }

    /// True from an `AUTH` line until the server's reply other than 334.
    pub fn in_auth_exchange(&self) -> bool {
        self.in_auth
    }

    /// Lines that fell out of the window.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Where the content ends in `bytes` (just past the final `.` CRLF), if
    /// it does. The daemon writes the end of a message in one of three ways:
    /// the dot alone (`data_end` after a line end), the content's last bytes
    /// with the dot, or those followed by the next message's pipelined
    /// envelope, which ends with `DATA`. Anything else is content through and
    /// through and is not scanned (a 1 MiB chunk costs nothing here).
    fn end_of_content(&self, bytes: &[u8]) -> Option<usize> {
        if self.content_at_line_start && bytes.starts_with(b".\r\n") {
            return Some(3);
        }
        if bytes.ends_with(b"\r\n.\r\n") {
            return Some(bytes.len());
        }
        if bytes.ends_with(b"DATA\r\n") {
            // Dot-stuffing leaves one end marker at most, just before the
            // envelope: search back from the end.
            return last_end_marker(bytes);
        }
        None
    }

    fn finish_line(&mut self, direction: Direction, line: &[u8], at: Instant) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line: &[u8] = match direction {
            Direction::ToServer => self.client_text(line),
            Direction::FromServer => self.server_text(line),
        };
        if direction == Direction::FromServer {
            self.in_content = self.in_content && line.starts_with(b"354");
        }
        let cut = line.len() > MAX_LINE_BYTES;
        let kept = &line[..line.len().min(MAX_LINE_BYTES)];
        self.text.extend_from_slice(kept);
        self.push(Entry {
            at,
            kind: Kind::Text {
                len: kept.len() as u32,
                cut,
                direction,
            },
        });
    }

    fn client_text<'a>(&mut self, line: &'a [u8]) -> &'a [u8] {
        if self.in_auth {
            return b"[redacted]";
        }
        if line.len() >= 5 && line[..5].eq_ignore_ascii_case(b"AUTH ") {
            self.in_auth = true;
            return b"AUTH [redacted]";
        }
        line
    }

    fn server_text<'a>(&mut self, line: &'a [u8]) -> &'a [u8] {
        let code = line.get(..3).filter(|c| c.iter().all(u8::is_ascii_digit));
        // Only the last line of a reply (code followed by a space or nothing) ends it.
        let last = code.is_some() && line.get(3).is_none_or(|&b| b == b' ');
        if let (true, Some(&[a, b, c])) = (last, code) {
            self.last_code = Some(
                [a, b, c]
                    .map(|d| u16::from(d - b'0'))
                    .iter()
                    .fold(0, |n, d| n * 10 + d),
            );
        }
        if last {
            if self.in_auth && code != Some(b"334") {
                self.in_auth = false;
            }
            if code == Some(b"354") {
                self.in_content = true;
                self.content_at_line_start = true;
            }
        }
        line
    }

    fn count_content(&mut self, bytes: &[u8], at: Instant) {
        if bytes.is_empty() {
            return;
        }
        self.content_at_line_start = bytes.ends_with(b"\r\n");
        let n = bytes.len() as u64;
        if let Some(Entry {
            kind: Kind::Content(total),
            ..
        }) = self.entries.back_mut()
        {
            *total += n;
            return;
        }
        self.push(Entry {
            at,
            kind: Kind::Content(n),
        });
    }

    fn push(&mut self, entry: Entry) {
        self.bytes += entry.weight();
        self.entries.push_back(entry);
        while self.entries.len() > MAX_LINES || self.bytes > MAX_BYTES {
            match self.entries.pop_front() {
                Some(old) => {
                    self.bytes -= old.weight();
                    self.start += old.stored();
                    self.dropped += 1;
                }
                None => break,
            }
        }
        if self.start > (self.text.len() - self.start).max(MIN_DEAD_BYTES) {
            self.cut_dead_text();
        }
    }

    /// Cuts off the text of lines that fell out of the window.
    fn cut_dead_text(&mut self) {
        self.text.drain(..self.start);
        self.start = 0;
    }
}

/// Where the last `CRLF . CRLF` in `bytes` ends. The envelope after it is
/// a few lines with few dots: looking back dot by dot costs less than
/// setting up a substring search for every write.
fn last_end_marker(bytes: &[u8]) -> Option<usize> {
    let mut before = bytes.len();
    while let Some(dot) = memchr::memrchr(b'.', &bytes[..before]) {
        if bytes[..dot].ends_with(b"\r\n") && bytes[dot + 1..].starts_with(b"\r\n") {
            return Some(dot + 3);
        }
        before = dot;
    }
    None
}

/// The index of `direction`'s partial line.
fn slot(direction: Direction) -> usize {
    match direction {
        Direction::ToServer => 0,
        Direction::FromServer => 1,
    }
}

fn push_bounded(line: &mut Vec<u8>, more: &[u8]) {
    let room = (MAX_LINE_BYTES + 1).saturating_sub(line.len());
    line.extend_from_slice(&more[..more.len().min(room)]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{FromServer as S, ToServer as C};

    /// `ms` milliseconds after the test log's start.
    fn at(ms: u64) -> Instant {
        start() + std::time::Duration::from_millis(ms)
    }

    fn start() -> Instant {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *START.get_or_init(Instant::now)
    }

    fn texts(log: &TrafficLog) -> Vec<String> {
        log.lines(start()).into_iter().map(|l| l.text).collect()
    }

    #[test]
    fn lines_are_timed_from_the_connections_start_when_shown() {
        let mut log = TrafficLog::new();
        log.record(S, b"220 hi\r\n", at(7));
        log.record(C, b"DATA\r\n", at(1500));
        log.record(S, b"354 go\r\n", at(1501));
        log.record(C, b"x\r\n", at(1600));
        let times: Vec<u64> = log.lines(start()).iter().map(|l| l.at_millis).collect();
        assert_eq!(times, [7, 1500, 1501, 1600]);
        // A record per line stays as small as when it held milliseconds.
        assert!(std::mem::size_of::<Entry>() <= 32);
    }

    #[test]
    fn lines_are_split_and_partial_lines_joined() {
        let mut log = TrafficLog::new();
        log.record(S, b"220 hi\r\n", at(0));
        log.record(C, b"EHLO me\r\n", at(1));
        log.record(S, b"250-a\r\n250 ", at(2));
        log.record(S, b"b\r\n", at(3));
        assert_eq!(texts(&log), ["220 hi", "EHLO me", "250-a", "250 b"]);
        assert_eq!(log.last_reply_code(), Some(250));
    }

    #[test]
    fn auth_and_its_continuations_are_redacted() {
        let mut log = TrafficLog::new();
        log.record(C, b"auth plain AGZvbwBzZWNyZXQ=\r\n", at(0));
        log.record(S, b"235 ok\r\n", at(0));
        log.record(C, b"AUTH LOGIN\r\n", at(0));
        log.record(S, b"334 VXNlcm5hbWU6\r\n", at(0));
        log.record(C, b"Zm9v\r\n", at(0));
        log.record(S, b"334 UGFzc3dvcmQ6\r\n", at(0));
        log.record(C, b"c2VjcmV0\r\n", at(0));
        log.record(S, b"235 ok\r\n", at(0));
        log.record(C, b"MAIL FROM:<a@b>\r\n", at(0));
        let all = texts(&log).join("|");
        assert!(
            !all.contains("AGZv") && !all.contains("Zm9v") && !all.contains("c2Vj"),
            "{all}"
        );
        assert!(all.ends_with("235 ok|MAIL FROM:<a@b>"), "{all}");
        assert_eq!(texts(&log)[0], "AUTH [redacted]");
    }

    #[test]
    fn message_content_is_summarised() {
        let mut log = TrafficLog::new();
        log.record(C, b"DATA\r\n", at(0));
        log.record(S, b"354 go\r\n", at(0));
        log.record(C, b"Subject: secret\r\n\r\nbody\r\n", at(0));
        log.record(C, b"more\r\n.\r\n", at(0));
        log.record(S, b"250 queued\r\n", at(0));
        log.record(C, b"QUIT\r\n", at(0));
        assert_eq!(
            texts(&log),
            [
                "DATA",
                "354 go",
                "[message data: 34 bytes]",
                "250 queued",
                "QUIT"
            ]
        );
    }

    #[test]
    fn an_envelope_after_the_final_dot_is_logged_as_lines() {
        let mut log = TrafficLog::new();
        log.record(S, b"354 go\r\n", at(0));
        log.record(
            C,
            b"body\r\n.\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n",
            at(0),
        );
        log.record(S, b"250 queued\r\n250 ok\r\n250 ok\r\n354 go\r\n", at(0));
        log.record(C, b"x\r\n", at(0));
        log.record(C, b".\r\nQUIT\r\n", at(0));
        assert_eq!(
            texts(&log),
            [
                "354 go",
                "[message data: 9 bytes]",
                "MAIL FROM:<a@b>",
                "RCPT TO:<c@d>",
                "DATA",
                "250 queued",
                "250 ok",
                "250 ok",
                "354 go",
                "[message data: 6 bytes]",
                "QUIT"
            ]
        );
    }

    #[test]
    fn window_is_bounded_in_lines_bytes_and_line_length() {
        let mut log = TrafficLog::new();
        for i in 0..100 {
            log.record(C, format!("NOOP {i}\r\n").as_bytes(), at(i));
        }
        assert_eq!(log.lines(start()).len(), MAX_LINES);
        assert_eq!(log.dropped(), 100 - MAX_LINES as u64);
        assert_eq!(log.lines(start())[0].text, "NOOP 36");
        let mut log = TrafficLog::new();
        log.record(S, &vec![b'x'; 10_000], at(0));
        log.record(S, b"\r\n", at(0));
        assert_eq!(
            log.lines(start())[0].text.len(),
            MAX_LINE_BYTES + "[...]".len()
        );
        for _ in 0..40 {
            log.record(S, &[b'y'; 600], at(0));
            log.record(S, b"\n", at(0));
        }
        assert!(
            log.lines(start())
                .iter()
                .map(|l| l.text.len())
                .sum::<usize>()
                <= MAX_BYTES
        );
    }

    #[test]
    fn whole_lines_are_kept_as_the_byte_stream_would_be() {
        let dialogue: [(Direction, &[u8]); 9] = [
            (C, b"AUTH PLAIN AGZvbwBzZWNyZXQ=\r\n"),
            (S, b"235 ok\r\n"),
            (C, b"MAIL FROM:<a@b>\r\n"),
            (S, b"250 ok\r\n"),
            (C, b"DATA\r\n"),
            (S, b"354 go\r\n"),
            // Content, and its final dot, come as whole lines too: still content.
            (C, b"secret body\r\n"),
            (C, b".\r\n"),
            (S, b"250 queued\r\n"),
        ];
        let (mut by_line, mut by_bytes) = (TrafficLog::new(), TrafficLog::new());
        for (direction, bytes) in dialogue {
            by_line.record_line(direction, bytes, at(0));
            by_bytes.record(direction, bytes, at(0));
        }
        assert_eq!(texts(&by_line), texts(&by_bytes));
        assert_eq!(
            texts(&by_line),
            [
                "AUTH [redacted]",
                "235 ok",
                "MAIL FROM:<a@b>",
                "250 ok",
                "DATA",
                "354 go",
                "[message data: 16 bytes]",
                "250 queued"
            ]
        );
        // A line after a partial one ends the partial one.
        let mut log = TrafficLog::new();
        log.record(S, b"250-first ", at(0));
        log.record_line(S, b"half\r\n", at(0));
        assert_eq!(texts(&log), ["250-first half"]);
    }

    #[test]
    fn dropped_lines_text_is_cut_off_and_kept_lines_stay_whole() {
        let mut log = TrafficLog::new();
        for i in 0..5000 {
            log.record(
                C,
                format!("RCPT TO:<user{i}@example.org>\r\n").as_bytes(),
                at(i),
            );
            let kept = log.text.len() - log.start;
            assert!(log.text.len() <= 2 * kept.max(MIN_DEAD_BYTES), "at {i}");
        }
        let lines = texts(&log);
        assert_eq!(lines.len(), MAX_LINES);
        assert_eq!(
            lines[0],
            format!("RCPT TO:<user{}@example.org>", 5000 - MAX_LINES)
        );
        assert_eq!(lines[MAX_LINES - 1], "RCPT TO:<user4999@example.org>");
        log.compact();
        assert_eq!(log.start, 0);
        assert_eq!(texts(&log), lines);
    }

    #[test]
    fn the_last_end_marker_is_found_behind_an_envelope_with_dots() {
        let write = b"x.y\r\n..z\r\n.\r\nMAIL FROM:<a.b@c.d>\r\nRCPT TO:<e@f.g>\r\nDATA\r\n";
        let at = last_end_marker(write).unwrap();
        assert!(write[..at].ends_with(b"\r\n.\r\n") && write[at..].starts_with(b"MAIL"));
        assert_eq!(last_end_marker(b"a.\r\n.b\r\nDATA\r\n"), None);
        assert_eq!(
            last_end_marker(b".\r\nDATA\r\n"),
            None,
            "no CRLF before the dot"
        );
    }
}
