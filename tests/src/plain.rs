//! A bare SMTP conversation over TCP with no smtp32 code in the way, for
//! checking the peers themselves (the fixture self-tests).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long one read may wait before the test fails instead of hanging.
const READ_LIMIT: Duration = Duration::from_secs(10);

/// One TCP connection to an SMTP server, past its 220 greeting.
pub struct PlainSmtp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl PlainSmtp {
    /// Connects to `addr` and requires a 220 greeting.
    pub fn connect(addr: SocketAddr) -> PlainSmtp {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(READ_LIMIT))
            .expect("set read timeout");
        let reader = BufReader::new(stream.try_clone().expect("clone stream"));
        let mut plain = PlainSmtp {
            reader,
            writer: stream,
        };
        let (code, lines) = plain.reply();
        assert_eq!(code, 220, "greeting: {lines:?}");
        plain
    }

    /// One whole reply: its code and the text of each line (after `NNN-` / `NNN `).
    pub fn reply(&mut self) -> (u16, Vec<String>) {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            assert!(
                self.reader.read_line(&mut line).expect("read reply") > 0,
                "server closed"
            );
            let line = line.trim_end();
            lines.push(line.get(4..).unwrap_or("").to_string());
            if line.as_bytes().get(3) != Some(&b'-') {
                return (line[..3].parse().expect("reply code"), lines);
            }
        }
    }

    /// Sends one command line and returns its whole reply.
    pub fn cmd(&mut self, line: &str) -> (u16, Vec<String>) {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("write command");
        self.reply()
    }

    /// Sends one command line and returns its reply code.
    pub fn code(&mut self, line: &str) -> u16 {
        self.cmd(line).0
    }

    /// Writes bytes as they are, with no reply read.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
    }

    /// Reads one line, waiting at most `limit`: `Ok("")` at end of stream,
    /// `Err` when nothing came in time.
    pub fn read_line_within(&mut self, limit: Duration) -> std::io::Result<String> {
        self.writer.set_read_timeout(Some(limit))?;
        let mut line = String::new();
        let got = self.reader.read_line(&mut line);
        self.writer.set_read_timeout(Some(READ_LIMIT))?;
        got.map(|_| line)
    }

    /// MAIL, RCPT, DATA, the already dot-stuffed body and the final dot;
    /// returns the code of the reply to the dot.
    pub fn send_message(&mut self, from: &str, to: &str, stuffed_body: &[u8]) -> u16 {
        assert_eq!(self.code(&format!("MAIL FROM:<{from}>")), 250);
        assert_eq!(self.code(&format!("RCPT TO:<{to}>")), 250);
        assert_eq!(self.code("DATA"), 354);
        self.writer.write_all(stuffed_body).expect("write body");
        self.writer.write_all(b".\r\n").expect("write dot");
        self.reply().0
    }
}
