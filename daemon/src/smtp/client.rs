//! One connection to an SMTP server: greeting, EHLO/HELO, STARTTLS, AUTH,
//! commands, message data and QUIT, on a stream opened by [`Route::open`].
//!
//! [`SmtpClient`] owns the stream (plain or TLS, see [`SmtpStream`]) and
//! nothing else of the daemon. It sets no timeouts: the session wraps each
//! call in its own timeout and cancel and drops the client when either fires,
//! so a half-finished exchange never has to be resumed. Every byte written is
//! shown to the [`TrafficTap`] before it goes out (AUTH secrets redacted);
//! every reply line read is shown by [`read_reply`](super::read_reply).
//!
//! The child modules add the longer dialogues: `auth` (SASL PLAIN, LOGIN,
//! XOAUTH2), `send` (one whole pipelined transaction) and `batch` (many,
//! each envelope pipelined behind the previous message).

mod auth;
mod batch;
mod dsn;
mod parameters;
mod send;

use super::redact;
pub use dsn::DsnRequest;

use super::buffer_pool::WRITE_BUFFERS;
use super::read_buf::ReadBuffer;
use super::reply::read_reply_with;
use super::stream::SmtpStream;
use super::tls::{TlsMode, TlsPlan};
use super::{validate_arg, CheckedCommand, DataEncoder, Route, SmtpError, TrafficTap};
use smtp32_protocol::{Direction, Reply};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::AsyncWriteExt;

/// Read buffer size; a reply line is bounded well below it in practice.
const READ_BUFFER_BYTES: usize = 4096;
/// Capacity the write buffer may keep while the connection is idle.
const IDLE_WRITE_BUFFER_BYTES: usize = 512;
/// Capacity the write buffer keeps after a message; a large chunk's is released.
const KEPT_WRITE_BUFFER_BYTES: usize = 64 * 1024;
/// A data chunk is made transparent and written this much of it at a time:
/// the write buffer then holds about this much, not a second copy of the
/// whole chunk (up to a frame, 4 MiB by default) beside the chunk itself.
const DATA_PIECE_BYTES: usize = 256 * 1024;
/// How much of an unsolicited reply a `BadReply` quotes.
const UNSOLICITED_QUOTE_BYTES: usize = 80;

/// The EHLO keywords a send consults for every message (a keyword search
/// per lookup cost 2.5k instructions a message).
#[derive(Debug, Clone, Copy, Default)]
struct SendCaps {
    pipelining: bool,
    size: bool,
    /// The SIZE limit; `None` when none was given (or 0: no limit).
    size_limit: Option<u64>,
    smtputf8: bool,
    eightbitmime: bool,
    /// CHUNKING (RFC 3030) with PIPELINING: a whole message goes as one
    /// `BDAT n LAST` behind MAIL and RCPT.
    bdat: bool,
}

/// An open SMTP connection past its greeting and EHLO/HELO.
pub struct SmtpClient {
    /// Reads go through the buffer; writes pass straight to the stream.
    stream: ReadBuffer<SmtpStream>,
    /// The EHLO/HELO name, said again after STARTTLS.
    local: String,
    /// How this connection does TLS (mode, configuration, server name).
    tls: TlsPlan,
    /// EHLO reply lines after the first, one a line: upper-cased keyword,
    /// parameters as sent. One string, not one per keyword: every idle
    /// connection holds it, and a `String` each cost about 50 bytes a
    /// keyword more (W5).
    keywords: String,
    /// What a send asks of the keywords, looked up once per EHLO.
    caps: SendCaps,
    esmtp: bool,
    /// Reused for every write so a message does not allocate per chunk.
    out: Vec<u8>,
    /// Gathers a reply line that arrives split across reads.
    line: Vec<u8>,
    encoder: DataEncoder,
    /// True between the 354 to DATA and the final `.`.
    in_message: bool,
    /// True from an `AUTH` line until a reply other than 334: every line
    /// written meanwhile carries SASL data and reaches the tap as `***`.
    in_auth: bool,
    /// When the last write began, for the reply's latency (taken by the next read).
    written_at: Option<Instant>,
    tap: Arc<dyn TrafficTap>,
}

impl SmtpClient {
    /// [`SmtpClient::connect_with`] without TLS: cleartext from start to end
    /// (STARTTLS is then refused, for want of a configuration).
    pub async fn connect(
        route: &Route,
        local: &str,
        tap: Arc<dyn TrafficTap>,
    ) -> Result<(SmtpClient, Reply), SmtpError> {
        Self::connect_with(route, local, TlsPlan::cleartext_only(), tap).await
    }

    /// Opens `route`, does TLS as `tls` says (implicit: before the greeting;
    /// opportunistic or required: STARTTLS after EHLO), reads the 220 greeting
    /// and introduces itself as `local` with EHLO, falling back to HELO when
    /// EHLO gets a 5xx. Returns the client and the last EHLO/HELO reply. A bad
    /// `local` is refused before any socket is opened.
    pub async fn connect_with(
        route: &Route,
        local: &str,
        tls: TlsPlan,
        tap: Arc<dyn TrafficTap>,
    ) -> Result<(SmtpClient, Reply), SmtpError> {
        check_local_name(local)?;
        let tcp = route.open().await?;
        tcp.set_nodelay(true)?;
        let stream = match tls.mode {
            TlsMode::Implicit => SmtpStream::Tls(Box::new(tls.handshake(tcp).await?)),
            _ => SmtpStream::Plain(tcp),
        };
        let (mut client, reply) = Self::handshake(stream, local, tls, tap).await?;
        let offered = client.has_extension("STARTTLS");
        match client.tls.mode {
            TlsMode::Opportunistic if offered => match client.starttls().await {
                // A refused STARTTLS leaves a usable cleartext connection.
                Err(SmtpError::Refused(_)) => Ok((client, reply)),
                other => other.map(|ehlo| (client, ehlo)),
            },
            TlsMode::Required if offered => match client.starttls().await {
                Ok(ehlo) => Ok((client, ehlo)),
                Err(SmtpError::Refused(r)) => {
                    client.quit().await;
                    Err(SmtpError::Tls(format!(
                        "the server refused STARTTLS: {}",
                        r.to_wire_text()
                    )))
                }
                Err(e) => Err(e),
            },
            TlsMode::Required => {
                client.quit().await;
                Err(SmtpError::Tls(
                    "the server does not offer STARTTLS and the policy requires TLS".into(),
                ))
            }
            _ => Ok((client, reply)),
        }
    }

    /// The SMTP part of a connect on a stream that is already open (straight
    /// to the server or through a proxy, TLS already up for implicit TLS):
    /// the 220 greeting, then EHLO, or HELO when EHLO gets a 5xx. Returns the
    /// client and the final EHLO/HELO reply.
    pub async fn handshake(
        stream: SmtpStream,
        local: &str,
        tls: TlsPlan,
        tap: Arc<dyn TrafficTap>,
    ) -> Result<(SmtpClient, Reply), SmtpError> {
        check_local_name(local)?;
        let mut client = SmtpClient {
            stream: ReadBuffer::with_capacity(READ_BUFFER_BYTES, stream),
            local: local.to_owned(),
            tls,
            keywords: String::new(),
            caps: SendCaps::default(),
            esmtp: false,
            out: Vec::new(),
            line: Vec::new(),
            encoder: DataEncoder::new(),
            in_message: false,
            in_auth: false,
            written_at: None,
            tap,
        };
        let greeting = client.read().await?;
        if greeting.code != 220 {
            return Err(SmtpError::Refused(greeting));
        }
        let reply = client.introduce().await?;
        Ok((client, reply))
    }

    /// STARTTLS (RFC 3207): the 220, the TLS handshake verifying the server
    /// for the host name the caller gave, then EHLO again (the keywords are
    /// those of the new EHLO). STARTTLS not offered (or TLS already up) is
    /// `TlsUnavailable` with nothing sent; a 4xx/5xx is `Refused`; both keep
    /// the connection. A failed handshake is `Tls` and the connection is lost.
    pub async fn starttls(&mut self) -> Result<Reply, SmtpError> {
        if self.stream.get_ref().is_tls() {
            return Err(SmtpError::TlsUnavailable(
                "the connection is already encrypted".into(),
            ));
        }
        if !self.has_extension("STARTTLS") {
            return Err(SmtpError::TlsUnavailable(
                "the server does not offer STARTTLS".into(),
            ));
        }
        let reply = self.exchange("STARTTLS").await?;
        if reply.code != 220 {
            return Err(SmtpError::Refused(reply));
        }
        // Bytes read past the 220 would be taken as if they came over TLS
        // (the CVE-2011-0411 injection): refuse them.
        if !self.stream.buffer().is_empty() {
            return Err(SmtpError::Tls(
                "the server sent data after its 220 to STARTTLS".into(),
            ));
        }
        let tcp = self
            .stream
            .get_mut()
            .take_plain()
            .ok_or_else(|| SmtpError::Tls("no TCP stream to upgrade".into()))?;
        let tls = self.tls.handshake(tcp).await?;
        *self.stream.get_mut() = SmtpStream::Tls(Box::new(tls));
        self.introduce().await
    }

    /// Sends `cmd` and returns its reply; a 4xx/5xx reply is `Refused`.
    /// Refuses to send when the server has already said something nobody
    /// asked for.
    pub async fn command(&mut self, cmd: &CheckedCommand) -> Result<Reply, SmtpError> {
        self.check_in_step()?;
        self.out.clear();
        cmd.write_line(&mut self.out);
        let shown = self.shown_instead(cmd.direct_line());
        self.write_out_shown(shown.as_deref()).await?;
        refuse_negative(self.read().await?)
    }

    /// Sends the next chunk of the message, dot-stuffed, after sending `DATA`
    /// and getting 354 if this is the first chunk.
    pub async fn data_chunk(&mut self, bytes: &[u8]) -> Result<(), SmtpError> {
        self.start_message().await?;
        for piece in bytes.chunks(DATA_PIECE_BYTES) {
            // What goes out unchanged is written from the request's bytes.
            let (unchanged, rest) = piece.split_at(self.encoder.pass_unchanged(piece));
            self.write_through(unchanged).await?;
            if !rest.is_empty() {
                self.out.clear();
                self.encoder.encode_changed(rest, &mut self.out);
                self.write_out().await?;
            }
        }
        Ok(())
    }

    /// Ends the message (sending `DATA` first if no chunk did) and returns the
    /// server's verdict; a 4xx/5xx reply is `Refused`.
    pub async fn data_end(&mut self) -> Result<Reply, SmtpError> {
        self.start_message().await?;
        self.out.clear();
        self.encoder.finish(&mut self.out);
        self.in_message = false;
        self.write_out().await?;
        self.release_buffer();
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

    /// Shows this connection's traffic to `tap` from now on (a session taken
    /// from the connection cache copies to its new owner, and only to it).
    pub fn set_tap(&mut self, tap: Arc<dyn TrafficTap>) {
        self.tap = tap;
    }

    /// True when an idle connection may take a command: outside a message,
    /// nothing unasked from the server (a 421 before it closes), no end of
    /// stream. One poll, never a wait.
    pub fn is_idle_alive(&mut self) -> bool {
        !self.in_message && self.check_in_step().is_ok() && self.stream.get_ref().socket_is_quiet()
    }

    /// The EHLO keywords (upper-cased, parameters kept), none after HELO.
    pub fn keywords(&self) -> impl Iterator<Item = &str> {
        self.keywords.split('\n').filter(|line| !line.is_empty())
    }

    /// True if the server announced `keyword` in its EHLO reply (case-insensitive).
    pub fn has_extension(&self, keyword: &str) -> bool {
        self.extension(keyword).is_some()
    }

    /// The parameters of `keyword` (`""` when it has none) if the server announced it.
    pub fn extension(&self, keyword: &str) -> Option<&str> {
        self.keywords().find_map(|line| {
            let (k, params) = line.split_once(' ').unwrap_or((line, ""));
            k.eq_ignore_ascii_case(keyword).then_some(params)
        })
    }

    /// True when the server accepted EHLO, false when it took HELO instead.
    pub fn is_esmtp(&self) -> bool {
        self.esmtp
    }

    /// True once TLS is up (implicit, or after STARTTLS).
    pub fn is_tls(&self) -> bool {
        self.stream.get_ref().is_tls()
    }

    /// The TLS version and cipher suite, for the admin view; `None` in cleartext.
    pub fn tls_description(&self) -> Option<String> {
        self.stream.get_ref().tls_description()
    }

    /// EHLO, or HELO when EHLO gets a 5xx; keeps the keywords of the reply.
    async fn introduce(&mut self) -> Result<Reply, SmtpError> {
        self.keywords.clear();
        self.caps = SendCaps::default();
        self.esmtp = false;
        let ehlo = self.exchange(&format!("EHLO {}", self.local)).await?;
        if (500..600).contains(&ehlo.code) {
            return refuse_negative(self.exchange(&format!("HELO {}", self.local)).await?);
        }
        let ehlo = refuse_negative(ehlo)?;
        self.esmtp = true;
        self.keywords = keyword_lines(ehlo.lines.iter().skip(1));
        self.caps = SendCaps {
            pipelining: self.has_extension("PIPELINING"),
            size: self.has_extension("SIZE"),
            size_limit: self
                .extension("SIZE")
                .and_then(|p| p.trim().parse().ok())
                .filter(|&n| n > 0),
            smtputf8: self.has_extension("SMTPUTF8"),
            eightbitmime: self.has_extension("8BITMIME"),
            bdat: self.has_extension("CHUNKING") && self.has_extension("PIPELINING"),
        };
        Ok(ehlo)
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

    /// Writes `line` CRLF and reads the reply, whatever its code. Refuses to
    /// send when the server has already said something nobody asked for.
    async fn exchange(&mut self, line: &str) -> Result<Reply, SmtpError> {
        self.check_in_step()?;
        self.write_line(line).await?;
        self.read().await
    }

    /// Before a command: the server must have nothing more to say. SMTP
    /// replies carry no sequence number, so a reply sent before it was asked
    /// for (two replies to one command, a pipelining violation) would be
    /// taken as the answer to the next command and the dialogue would run out
    /// of step: a `RCPT` "accepted" by the reply to something else. Bytes
    /// already buffered or waiting on the socket are a `BadReply` (the session
    /// then drops the connection); an end of stream is `Closed`. A stray
    /// reply that arrives only after the next command was sent cannot be told
    /// apart from the answer to it — no SMTP client can; the usual case, an
    /// extra reply sent together with the one before it, is caught here.
    fn check_in_step(&mut self) -> Result<(), SmtpError> {
        use std::task::{Context, Poll, Waker};
        use tokio::io::AsyncBufRead;
        // Nothing buffered and nothing come (the poll below would say the
        // same, at ten times the cost: it registers a waker).
        if self.stream.buffer().is_empty() && !self.stream.get_ref().may_have_data() {
            return Ok(());
        }
        // One poll, never a wait: buffered bytes, or bytes the stream (TCP or TLS) can hand
        // over at once. A later real read registers its own waker.
        let mut cx = Context::from_waker(Waker::noop());
        let stray = match std::pin::Pin::new(&mut self.stream).poll_fill_buf(&mut cx) {
            Poll::Pending => return Ok(()),
            Poll::Ready(Err(e)) => return Err(SmtpError::Io(e)),
            Poll::Ready(Ok([])) => return Err(SmtpError::Closed),
            Poll::Ready(Ok(waiting)) => {
                waiting[..waiting.len().min(UNSOLICITED_QUOTE_BYTES)].to_vec()
            }
        };
        self.tap
            .traffic(Direction::FromServer, &stray, Instant::now());
        Err(SmtpError::BadReply(format!(
            "server sent data before it was asked (a reply to no command): \"{}\"",
            stray.escape_ascii()
        )))
    }

    /// Writes one command line of the daemon's own.
    async fn write_line(&mut self, line: &str) -> Result<(), SmtpError> {
        self.out.clear();
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
        let shown = self.shown_instead(Some(line));
        self.write_out_shown(shown.as_deref()).await
    }

    /// What the tap sees instead of the command line about to be written
    /// (`None`: the line itself). Whatever sent it (`smtp_direct` included),
    /// an `AUTH` line (`line`, when it may be one) reaches the tap without
    /// its initial response, and every line after it until the exchange
    /// ends as `***`.
    fn shown_instead(&mut self, line: Option<&str>) -> Option<Vec<u8>> {
        if self.in_auth {
            return Some(redact::CONTINUATION.to_vec());
        }
        let line = line.filter(|l| redact::is_auth(l))?;
        self.in_auth = true;
        redact::auth_line(line)
    }

    /// Shows the write buffer to the tap, then writes it.
    async fn write_out(&mut self) -> Result<(), SmtpError> {
        if self.out.is_empty() {
            return Ok(());
        }
        self.write_out_from(0).await
    }

    /// Shows the write buffer from `start` on to the tap, then writes that part.
    async fn write_out_from(&mut self, start: usize) -> Result<(), SmtpError> {
        let now = Instant::now();
        let part = self.out.get(start..).unwrap_or_default();
        self.tap.traffic(Direction::ToServer, part, now);
        self.send_out(now, start).await
    }

    /// Writes the buffer, which holds one command line; the tap sees `shown`
    /// instead of it when given, so a secret never reaches a traffic copy.
    async fn write_out_shown(&mut self, shown: Option<&[u8]>) -> Result<(), SmtpError> {
        let now = Instant::now();
        self.tap
            .line(Direction::ToServer, shown.unwrap_or(&self.out), now);
        self.send_out(now, 0).await
    }

    /// Writes the buffer from `start` on, shown to the tap `now`, in one
    /// `write_all` (and a flush, which pushes the last TLS record out). The
    /// clock is read once a write, for the tap and for the reply's latency.
    async fn send_out(&mut self, now: Instant, start: usize) -> Result<(), SmtpError> {
        self.written_at = Some(now);
        let part = self.out.get(start..).unwrap_or_default();
        write_flushed(&mut self.stream, part).await
    }

    /// Writes message bytes that are their own encoding from where the
    /// caller holds them (no copy into the write buffer), shown to the tap.
    async fn write_through(&mut self, bytes: &[u8]) -> Result<(), SmtpError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        self.tap.traffic(Direction::ToServer, bytes, now);
        self.written_at = Some(now);
        write_flushed(&mut self.stream, bytes).await
    }

    /// Gives back the read buffer (when it holds nothing the server sent
    /// ahead) and a write buffer larger than a command line needs, to the
    /// thread's pools: called when an operation ends, so an idle connection
    /// holds little buffer memory. A small write buffer is kept for the
    /// next command line (a buffer given back whole cost the next MAIL
    /// three allocations as its line grew).
    pub fn release_idle(&mut self) {
        self.stream.release_if_empty();
        self.line = Vec::new();
        if self.out.capacity() > IDLE_WRITE_BUFFER_BYTES {
            WRITE_BUFFERS.give_back(std::mem::take(&mut self.out));
        }
    }

    /// Gives back the slack of what the connect kept (the EHLO keywords).
    pub fn compact(&mut self) {
        self.keywords.shrink_to_fit();
        self.local.shrink_to_fit();
    }

    /// Empties the write buffer and gives back the memory of a large message.
    fn release_buffer(&mut self) {
        self.out.clear();
        self.out.shrink_to(KEPT_WRITE_BUFFER_BYTES);
    }

    async fn read(&mut self) -> Result<Reply, SmtpError> {
        let (reply, arrived) =
            read_reply_with(&mut self.stream, &*self.tap, &mut self.line).await?;
        if let Some(written) = self.written_at.take() {
            self.tap
                .replied_after(arrived.saturating_duration_since(written));
        }
        if reply.code != 334 {
            self.in_auth = false;
        }
        Ok(reply)
    }
}

/// The EHLO/HELO name: one non-empty word without CR, LF or NUL.
pub fn check_local_name(local: &str) -> Result<(), SmtpError> {
    validate_arg("local name", local)?;
    if local.is_empty() || local.contains([' ', '\t']) {
        return Err(SmtpError::InvalidArgument(
            "local name must be one non-empty word".into(),
        ));
    }
    Ok(())
}

/// EHLO lines as the keyword list: each keyword upper-cased, its parameters
/// as sent, one a line; blank lines left out.
fn keyword_lines<'a>(lines: impl Iterator<Item = &'a str>) -> String {
    let mut list = String::new();
    for line in lines.map(|l| l.trim()).filter(|l| !l.is_empty()) {
        let (keyword, params) = line.split_once(' ').unwrap_or((line, ""));
        if !list.is_empty() {
            list.push('\n');
        }
        list.push_str(&keyword.to_ascii_uppercase());
        if !params.is_empty() {
            list.push(' ');
            list.push_str(params);
        }
    }
    list
}

/// One `write_all` of `bytes` and a flush, which pushes the last TLS record out.
async fn write_flushed(stream: &mut ReadBuffer<SmtpStream>, bytes: &[u8]) -> Result<(), SmtpError> {
    stream.write_all(bytes).await?;
    stream.flush().await?;
    Ok(())
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
