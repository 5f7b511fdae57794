//! The one-call send: MAIL, every RCPT, DATA and the message in one request,
//! or, for a message of any size (or read from a reader), the same envelope
//! in one request and the message streamed behind it.

use super::Connection;
use crate::error::unexpected;
use crate::error::{check_line, Error, Result};
use crate::request_frame::RequestFrame;
use smtp32_protocol::codec::MessageRef;
use smtp32_protocol::{Failure, Reply, Request, Response, ReturnCode, SendReport};
use std::io::Read;

impl Connection {
    /// Sends `msg` from `from` (`""` for `<>`) to every one of `rcpts` in one
    /// daemon request; the daemon writes MAIL, the RCPTs and DATA in one go
    /// when the server offers PIPELINING, and adds `SIZE=`, `BODY=8BITMIME`
    /// and `SMTPUTF8` to MAIL as the server offers and the message needs.
    /// The message is made transparent as by [`Connection::data_buf`].
    ///
    /// Succeeds when at least one recipient was accepted and the server took
    /// the message; the report says which recipients were refused. Otherwise
    /// the error is `Failure` with [`Error::send_report`] (every reply) and
    /// [`Error::reply`] (the one that decided). A message over the server's
    /// SIZE limit, or a non-ASCII address for a server without SMTPUTF8, is
    /// `Failure` before anything is sent.
    ///
    /// A message of any size takes the same path: one that does not fit
    /// the daemon's frame limit (4 MiB by default) is streamed in chunks
    /// behind the same pipelined envelope, with the same MAIL parameters and
    /// the same SIZE check before anything is sent.
    pub fn sendmsg(&self, from: &str, rcpts: &[&str], msg: &[u8]) -> Result<SendReport> {
        if !fits_one_request(from, rcpts, msg, self.client.chunk_limit())? {
            let chunks = msg.chunks(self.client.chunk_limit());
            return self.sendmsg_streamed(
                from,
                rcpts,
                Some(msg.len() as u64),
                !msg.is_ascii(),
                chunks,
            );
        }
        let _busy = self.begin()?;
        let request = RequestFrame::SendMessage {
            handle: self.handle,
            message: MessageRef {
                from,
                rcpts,
                data: msg,
            },
        };
        match self.request(request)? {
            Response::Sent(report) => Ok(report),
            other => Err(unexpected(other)),
        }
    }

    /// [`Connection::sendmsg`] of a message read from `reader` as it is
    /// sent, so a message of any size (a 1 GiB file) is never held in memory:
    /// at most one chunk of it at a time. `size`, when known, is declared to
    /// the server (`SIZE=`) and checked against its limit before anything is
    /// sent; `BODY=8BITMIME` is declared when the server offers it (the
    /// content is not known in advance). A read error after the server said
    /// 354 cannot be taken back inside DATA: the connection is reset and the
    /// error is `SMTP_ABORTED` (the handle is then gone).
    pub fn sendmsg_from(
        &self,
        from: &str,
        rcpts: &[&str],
        reader: impl Read,
        size: Option<u64>,
    ) -> Result<SendReport> {
        check_envelope(from, rcpts)?;
        let chunks = ReadChunks {
            reader,
            buf: vec![0; self.client.chunk_limit()],
        };
        self.sendmsg_streamed(from, rcpts, size, true, chunks)
    }

    /// The envelope in one request (`SendBegin`: MAIL with its parameters,
    /// the RCPTs and DATA, pipelined by the daemon), then the message chunk
    /// by chunk as `chunks` yields it, then the final dot.
    fn sendmsg_streamed(
        &self,
        from: &str,
        rcpts: &[&str],
        size: Option<u64>,
        eight_bit: bool,
        mut chunks: impl ChunkSource,
    ) -> Result<SendReport> {
        let _busy = self.begin()?;
        let request = Request::SendBegin {
            handle: self.handle,
            from: from.to_owned(),
            rcpts: rcpts.iter().map(|r| r.to_string()).collect(),
            size,
            eight_bit,
        };
        let (mail, recipients) = match self.request(request)? {
            Response::Envelope { mail, recipients } => (mail, recipients),
            other => return Err(unexpected(other)),
        };
        loop {
            match chunks.next_chunk() {
                Ok(Some(chunk)) => self.send_chunk(chunk)?,
                Ok(None) => break,
                Err(e) => {
                    self.abort_quietly();
                    return Err(Error::new(
                        ReturnCode::Aborted,
                        format!("reading the message failed inside DATA ({e}); the connection was reset"),
                    ));
                }
            }
        }
        match self.data_end_inner() {
            Ok(verdict) => Ok(SendReport {
                mail,
                recipients,
                verdict,
            }),
            Err(e) => {
                let verdict = refusal(e)?;
                Err(not_sent(mail, recipients, verdict))
            }
        }
    }
}

/// A source of message chunks, in order; `None` at the end. A chunk is
/// written to the socket from where the source holds it.
trait ChunkSource {
    fn next_chunk(&mut self) -> std::io::Result<Option<&[u8]>>;
}

impl ChunkSource for std::slice::Chunks<'_, u8> {
    fn next_chunk(&mut self) -> std::io::Result<Option<&[u8]>> {
        Ok(self.next())
    }
}

/// Chunks read from a reader into one reused buffer (each chunk is written
/// from it before the next read).
struct ReadChunks<R> {
    reader: R,
    buf: Vec<u8>,
}

impl<R: Read> ChunkSource for ReadChunks<R> {
    fn next_chunk(&mut self) -> std::io::Result<Option<&[u8]>> {
        let mut filled = 0;
        while filled < self.buf.len() {
            match self.reader.read(&mut self.buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((filled > 0).then(|| &self.buf[..filled]))
    }
}

/// Checks a `sendmsg` envelope; true when the message fits one request
/// whose message may take `limit` bytes (`chunk_limit`: the frame less its
/// request's own fields), else it is streamed behind a `SendBegin`.
pub(crate) fn fits_one_request(
    from: &str,
    rcpts: &[&str],
    msg: &[u8],
    limit: usize,
) -> Result<bool> {
    check_envelope(from, rcpts)?;
    let message = MessageRef {
        from,
        rcpts,
        data: msg,
    };
    Ok(message.encoded_len() <= limit)
}

/// The `NotSent` failure of a transaction whose verdict refused it.
pub(crate) fn not_sent(mail: Reply, recipients: Vec<Reply>, verdict: Reply) -> Error {
    Error::from(Failure::NotSent(SendReport {
        mail,
        recipients,
        verdict,
    }))
}

/// The envelope's arguments: no CR, LF or NUL; at least one recipient.
fn check_envelope(from: &str, rcpts: &[&str]) -> Result<()> {
    check_line("from", from)?;
    if rcpts.is_empty() {
        return Err(Error::invalid_argument(
            "sendmsg needs at least one recipient",
        ));
    }
    for to in rcpts {
        check_line("recipient", to)?;
    }
    Ok(())
}

/// The server's refusal in `e`, or `e` itself when it is no refusal (the
/// connection is gone, the call was aborted...).
pub(crate) fn refusal(e: Error) -> Result<Reply> {
    match e.reply() {
        Some(r) => Ok(r.clone()),
        None => Err(e),
    }
}
