//! The direct raw client: the floor every other row is measured against.
//!
//! Blocking `std::net::TcpStream` with TCP_NODELAY (or a Unix stream to a
//! relay, [`crate::relay`]), EHLO once, replies read
//! through one buffer and checked by code only. Messages are prepared once,
//! already transparent (no line starts with a dot, CRLF endings), so the raw
//! client does no per-message work beyond its writes and reads:
//! - [`Raw::send_lockstep`]: MAIL, RCPT, DATA and the content with its dot,
//!   each in a write of its own that waits for its reply, as `smtp-source`
//!   sends and as smtp32's per-call API does: four round trips a message.
//! - [`Raw::send_pipelined`]: MAIL+RCPT+DATA in one write (RFC 2920), then the
//!   content and the final dot in a second: two round trips a message.
//! - [`Raw::send_batched`]: the content, the dot and the *next* message's
//!   envelope in one write: one write and one round trip a message.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// Sender of every bench message.
pub const FROM: &str = "bench@smtp32.test";
/// Recipient of every bench message.
pub const TO: &str = "sink@smtp32.test";

/// A message of exactly `size` bytes (headers included): short CRLF lines,
/// none starting with a dot, ending in CRLF.
pub fn message(size: usize) -> Vec<u8> {
    let mut m =
        format!("From: <{FROM}>\r\nTo: <{TO}>\r\nSubject: smtp32 bench\r\n\r\n").into_bytes();
    if m.len() + 2 > size {
        m.clear();
    }
    let line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n";
    while m.len() < size {
        let room = size - m.len();
        if room >= line.len() {
            m.extend_from_slice(line);
        } else if room >= 2 {
            m.extend(std::iter::repeat_n(b'x', room - 2));
            m.extend_from_slice(b"\r\n");
        } else {
            // One byte short of a line: lengthen the previous line instead.
            let at = m.len() - 2;
            m.insert(at, b'x');
        }
    }
    m.truncate(size.max(2));
    m
}

/// The pipelined envelope of one message.
pub fn envelope() -> Vec<u8> {
    format!("MAIL FROM:<{FROM}>\r\nRCPT TO:<{TO}>\r\nDATA\r\n").into_bytes()
}

/// One of [`Raw`]'s ways to send `n` copies of a message; returns the elapsed time.
pub type Exchange = fn(&mut Raw, &[u8], usize) -> Result<Duration>;

/// One raw SMTP connection past EHLO.
pub struct Raw {
    stream: Box<dyn Write + Send>,
    reader: BufReader<Box<dyn Read + Send>>,
    line: Vec<u8>,
    out: Vec<u8>,
}

impl Raw {
    /// Connects, reads the greeting and says EHLO.
    pub fn connect(addr: SocketAddr) -> Result<Raw> {
        let stream = TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let reader = stream.try_clone()?;
        Raw::greet(Box::new(stream), Box::new(reader))
    }

    /// The same over a Unix stream whose far end relays to the server.
    pub fn through(stream: UnixStream) -> Result<Raw> {
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let reader = stream.try_clone()?;
        Raw::greet(Box::new(stream), Box::new(reader))
    }

    fn greet(stream: Box<dyn Write + Send>, reader: Box<dyn Read + Send>) -> Result<Raw> {
        let mut raw = Raw {
            stream,
            reader: BufReader::with_capacity(16 * 1024, reader),
            line: Vec::with_capacity(512),
            out: Vec::with_capacity(8192),
        };
        raw.expect(220)?;
        raw.stream.write_all(b"EHLO raw.bench\r\n")?;
        raw.expect(250)?;
        Ok(raw)
    }

    /// Reads one (possibly multi-line) reply and returns its code.
    pub fn reply(&mut self) -> Result<u16> {
        loop {
            self.line.clear();
            if self.reader.read_until(b'\n', &mut self.line)? == 0 {
                bail!("server closed the connection");
            }
            if let Some(code) = last_reply_line(&self.line)? {
                return Ok(code);
            }
        }
    }

    fn expect(&mut self, code: u16) -> Result<()> {
        expect_code(self.reply()?, code)
    }

    /// `n` messages, four round trips each; returns the elapsed time.
    pub fn send_lockstep(&mut self, msg: &[u8], n: usize) -> Result<Duration> {
        let mail = format!("MAIL FROM:<{FROM}>\r\n").into_bytes();
        let rcpt = format!("RCPT TO:<{TO}>\r\n").into_bytes();
        self.out.clear();
        self.out.extend_from_slice(msg);
        self.out.extend_from_slice(b".\r\n");
        let start = Instant::now();
        for _ in 0..n {
            self.stream.write_all(&mail)?;
            self.expect(250)?;
            self.stream.write_all(&rcpt)?;
            self.expect(250)?;
            self.stream.write_all(b"DATA\r\n")?;
            self.expect(354)?;
            self.stream.write_all(&self.out)?;
            self.expect(250)?;
        }
        Ok(start.elapsed())
    }

    /// `n` messages, two round trips each; returns the elapsed time.
    pub fn send_pipelined(&mut self, msg: &[u8], n: usize) -> Result<Duration> {
        let env = envelope();
        self.out.clear();
        self.out.extend_from_slice(msg);
        self.out.extend_from_slice(b".\r\n");
        let start = Instant::now();
        for _ in 0..n {
            self.stream.write_all(&env)?;
            self.expect(250)?;
            self.expect(250)?;
            self.expect(354)?;
            self.stream.write_all(&self.out)?;
            self.expect(250)?;
        }
        Ok(start.elapsed())
    }

    /// `n` messages, each content + dot + next envelope in one write; returns the elapsed time.
    pub fn send_batched(&mut self, msg: &[u8], n: usize) -> Result<Duration> {
        let env = envelope();
        let mut with_next = msg.to_vec();
        with_next.extend_from_slice(b".\r\n");
        let last = with_next.clone();
        with_next.extend_from_slice(&env);
        let start = Instant::now();
        if n == 0 {
            return Ok(start.elapsed());
        }
        self.stream.write_all(&env)?;
        self.expect(250)?;
        self.expect(250)?;
        self.expect(354)?;
        for i in 0..n {
            let more = i + 1 < n;
            self.stream
                .write_all(if more { &with_next } else { &last })?;
            self.expect(250)?;
            if more {
                self.expect(250)?;
                self.expect(250)?;
                self.expect(354)?;
            }
        }
        Ok(start.elapsed())
    }

    /// One NOOP round trip.
    pub fn noop(&mut self) -> Result<Duration> {
        let start = Instant::now();
        self.stream.write_all(b"NOOP\r\n")?;
        self.expect(250)?;
        Ok(start.elapsed())
    }

    /// One message of `chunks` slices (already transparent), written slice by slice.
    pub fn send_large(&mut self, chunks: &[Vec<u8>]) -> Result<Duration> {
        let start = Instant::now();
        self.stream.write_all(&envelope())?;
        self.expect(250)?;
        self.expect(250)?;
        self.expect(354)?;
        for c in chunks {
            self.stream.write_all(c)?;
        }
        self.stream.write_all(b".\r\n")?;
        self.expect(250)?;
        Ok(start.elapsed())
    }

    /// QUIT, best effort.
    pub fn quit(mut self) {
        if self.stream.write_all(b"QUIT\r\n").is_ok() {
            let _ = self.reply();
        }
    }
}

/// One line of a server's reply: its code when it is the reply's last line
/// (no `-` after the code), `None` when more lines follow.
pub fn last_reply_line(line: &[u8]) -> Result<Option<u16>> {
    if line.len() < 4 {
        bail!("short reply line {:?}", String::from_utf8_lossy(line));
    }
    if line[3] == b'-' {
        return Ok(None);
    }
    Ok(Some(std::str::from_utf8(&line[..3])?.parse()?))
}

/// Fails unless the reply's code `got` is the `expected` one.
pub fn expect_code(got: u16, expected: u16) -> Result<()> {
    if got != expected {
        bail!("expected {expected}, got {got}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_exact_size_and_no_leading_dots() {
        for size in [2, 3, 60, 100, 1024, 4097] {
            let m = message(size);
            assert_eq!(m.len(), size, "size {size}");
            assert!(m.ends_with(b"\r\n"));
            assert!(m.split(|&b| b == b'\n').all(|l| !l.starts_with(b".")));
        }
    }
}
