//! One connection to an SMTP server: greeting, EHLO/HELO, commands, message
//! data and QUIT, on a stream opened by [`Route::open`].
//!
//! [`SmtpClient`] owns the TCP stream and nothing else of the daemon. It sets
//! no timeouts: the session wraps each call in its own timeout and cancel and
//! drops the client when either fires, so a half-finished exchange never has
//! to be resumed. Every byte written is shown to the [`TrafficTap`] before it
//! goes out; every reply line read is shown by [`read_reply`].

use super::{read_reply, validate_arg, DataEncoder, Route, SmtpError, TrafficTap};
use smtp32_protocol::{Direction, Reply};
use std::sync::Arc;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// Read buffer size; a reply line is bounded well below it in practice.
const READ_BUFFER_BYTES: usize = 4096;
/// Capacity the write buffer keeps after a message; a large chunk's is released.
const KEPT_WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// An open SMTP connection past its greeting and EHLO/HELO.
pub struct SmtpClient {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    /// EHLO reply lines after the first: upper-cased keyword, parameters as sent.
    keywords: Vec<String>,
    esmtp: bool,
    /// Reused for every write so a message does not allocate per chunk.
    out: Vec<u8>,
    encoder: DataEncoder,
    /// True between the 354 to DATA and the final `.`.
    in_message: bool,
    tap: Arc<dyn TrafficTap>,
}

impl SmtpClient {
    /// Opens `route`, reads the 220 greeting and introduces itself as
    /// `local` with EHLO, falling back to HELO when EHLO gets a 5xx.
    /// Returns the client and the final EHLO/HELO reply. A bad `local` is
    /// refused before any socket is opened.
    pub async fn connect(
        route: &Route,
        local: &str,
        tap: Arc<dyn TrafficTap>,
    ) -> Result<(SmtpClient, Reply), SmtpError> {
        check_local_name(local)?;
        let stream = route.open().await?;
        Self::handshake(stream, local, tap).await
    }

    /// The SMTP part of a connect on a stream that is already open (straight
    /// to the server or through a proxy): the 220 greeting, then EHLO, or
    /// HELO when EHLO gets a 5xx. Returns the client and the final EHLO/HELO reply.
    pub async fn handshake(
        stream: TcpStream,
        local: &str,
        tap: Arc<dyn TrafficTap>,
    ) -> Result<(SmtpClient, Reply), SmtpError> {
        check_local_name(local)?;
        stream.set_nodelay(true)?;
        let (read, writer) = stream.into_split();
        let mut client = SmtpClient {
            reader: BufReader::with_capacity(READ_BUFFER_BYTES, read),
            writer,
            keywords: Vec::new(),
            esmtp: false,
            out: Vec::new(),
            encoder: DataEncoder::new(),
            in_message: false,
            tap,
        };
        let greeting = client.read().await?;
        if greeting.code != 220 {
            return Err(SmtpError::Refused(greeting));
        }
        let ehlo = client.exchange(&format!("EHLO {local}")).await?;
        if (500..600).contains(&ehlo.code) {
            let helo = refuse_negative(client.exchange(&format!("HELO {local}")).await?)?;
            return Ok((client, helo));
        }
        let ehlo = refuse_negative(ehlo)?;
        client.esmtp = true;
        client.keywords = ehlo
            .lines
            .iter()
            .skip(1)
            .filter_map(|l| keyword_line(l))
            .collect();
        Ok((client, ehlo))
    }

    /// Sends one command line (without CRLF) and returns its reply; a 4xx/5xx reply is `Refused`.
    pub async fn command(&mut self, line: &str) -> Result<Reply, SmtpError> {
        validate_arg("command line", line)?;
        refuse_negative(self.exchange(line).await?)
    }

    /// Sends the next chunk of the message, dot-stuffed, after sending `DATA`
    /// and getting 354 if this is the first chunk.
    pub async fn data_chunk(&mut self, bytes: &[u8]) -> Result<(), SmtpError> {
        self.start_message().await?;
        self.out.clear();
        self.encoder.encode(bytes, &mut self.out);
        self.write_out().await
    }

    /// Ends the message (sending `DATA` first if no chunk did) and returns the
    /// server's verdict; a 4xx/5xx reply is `Refused`.
    pub async fn data_end(&mut self) -> Result<Reply, SmtpError> {
        self.start_message().await?;
        self.out.clear();
        self.encoder.finish(&mut self.out);
        self.in_message = false;
        self.write_out().await?;
        self.out.clear();
        self.out.shrink_to(KEPT_WRITE_BUFFER_BYTES);
        refuse_negative(self.read().await?)
    }

    /// Sends QUIT and reads the 221 if it comes; errors are ignored, the
    /// connection closes either way. Inside a message (after the 354) a QUIT
    /// line would become message content, so the connection is only closed:
    /// without the final dot the server discards the partial message.
    pub async fn quit(mut self) {
        if self.in_message {
            return;
        }
        if self.write_line("QUIT").await.is_ok() {
            let _ = self.read().await;
        }
    }

    /// The EHLO keywords (upper-cased, parameters kept), empty after HELO.
    pub fn keywords(&self) -> &[String] {
        &self.keywords
    }

    /// True if the server announced `keyword` in its EHLO reply (case-insensitive).
    pub fn has_extension(&self, keyword: &str) -> bool {
        self.keywords.iter().any(|line| {
            line.split(' ')
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
        })
    }

    /// True when the server accepted EHLO, false when it took HELO instead.
    pub fn is_esmtp(&self) -> bool {
        self.esmtp
    }

    async fn start_message(&mut self) -> Result<(), SmtpError> {
        if !self.in_message {
            let reply = self.exchange("DATA").await?;
            if reply.code != 354 {
                return Err(SmtpError::Refused(reply));
            }
            self.in_message = true;
        }
        Ok(())
    }

    /// Writes `line` CRLF and reads the reply, whatever its code.
    async fn exchange(&mut self, line: &str) -> Result<Reply, SmtpError> {
        self.write_line(line).await?;
        self.read().await
    }

    async fn write_line(&mut self, line: &str) -> Result<(), SmtpError> {
        self.out.clear();
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
        self.write_out().await
    }

    /// Shows the write buffer to the tap, then writes it in one `write_all`.
    async fn write_out(&mut self) -> Result<(), SmtpError> {
        if self.out.is_empty() {
            return Ok(());
        }
        self.tap.traffic(Direction::ToServer, &self.out);
        self.writer.write_all(&self.out).await?;
        Ok(())
    }

    async fn read(&mut self) -> Result<Reply, SmtpError> {
        read_reply(&mut self.reader, &*self.tap).await
    }
}

/// The EHLO/HELO name: one non-empty word without CR, LF or NUL.
pub fn check_local_name(local: &str) -> Result<(), SmtpError> {
    validate_arg("local name", local)?;
    if local.is_empty() || local.contains([' ', '\t']) {
        return Err(SmtpError::InvalidArgument("local name must be one non-empty word".into()));
    }
    Ok(())
}

/// An EHLO line as a keyword entry: the keyword upper-cased, parameters as sent.
fn keyword_line(line: &str) -> Option<String> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let (keyword, params) = line.split_once(' ').unwrap_or((line, ""));
    let keyword = keyword.to_ascii_uppercase();
    Some(if params.is_empty() {
        keyword
    } else {
        format!("{keyword} {params}")
    })
}

/// A 4xx/5xx reply becomes `Refused`.
fn refuse_negative(reply: Reply) -> Result<Reply, SmtpError> {
    if reply.code >= 400 {
        Err(SmtpError::Refused(reply))
    } else {
        Ok(reply)
    }
}

#[cfg(test)]
mod tests;
