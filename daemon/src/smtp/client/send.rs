//! One whole mail transaction in one call (`smtp_sendmsg`): MAIL with the
//! parameters the server offers and the message needs, every RCPT, DATA and
//! the message. With PIPELINING (RFC 2920) MAIL, the RCPTs and DATA go out in
//! one write and the replies are read in order; without it, step by step.
//! With CHUNKING (RFC 3030) as well, the message goes as one `BDAT n LAST`
//! right behind MAIL and the RCPTs, before any reply: one round trip.

use super::{DsnRequest, SmtpClient};
use crate::smtp::buffer_pool::{make_room, WRITE_BUFFERS};
use crate::smtp::command::CheckedEnvelope;
use crate::smtp::{DataEncoder, SmtpError};
use smtp32_protocol::{Reply, SendReport};

/// The DATA reply that lets the message follow.
const START_MAIL_INPUT: u16 = 354;

impl SmtpClient {
    /// Sends `data` from `from` to `rcpts`. Before anything is sent, refuses
    /// (`Unsupported`) a message over the server's SIZE limit and a non-ASCII
    /// address when the server lacks SMTPUTF8. MAIL declares `SIZE=` (when
    /// offered), `BODY=8BITMIME` (8-bit data, when offered) and `SMTPUTF8`
    /// (non-ASCII addresses). Returns the report when at least one recipient
    /// was accepted and the final dot got 2xx; else `NotSent` with the same
    /// report, after RSET when a transaction was left open.
    pub async fn send_message(
        &mut self,
        from: &str,
        rcpts: &[impl AsRef<str>],
        data: &[u8],
    ) -> Result<SendReport, SmtpError> {
        self.send_message_with_dsn(from, rcpts, data, None).await
    }

    /// [`SmtpClient::send_message`] with the DSN parameters of `dsn` on MAIL
    /// and every RCPT when the server offers DSN (left out otherwise).
    pub async fn send_message_with_dsn(
        &mut self,
        from: &str,
        rcpts: &[impl AsRef<str>],
        data: &[u8],
        dsn: Option<&DsnRequest>,
    ) -> Result<SendReport, SmtpError> {
        self.check_new_message(rcpts)?;
        let dsn = dsn.filter(|d| !d.is_empty() && self.has_extension("DSN"));
        if let Some(d) = dsn {
            d.check()?;
        }
        let envelope = CheckedEnvelope::new(from, rcpts)?;
        // The message is made transparent once, into the write buffer; its
        // size is what SIZE declares and is checked against. The envelope's
        // lines go behind it in the same buffer, and out first.
        let chunked = self.caps.bdat;
        let room = DataEncoder::room_for(data.len()) + envelope.room();
        make_room(&WRITE_BUFFERS, &mut self.out, room);
        let mut encoder = if chunked {
            DataEncoder::for_bdat()
        } else {
            DataEncoder::new()
        };
        encoder.encode(data, &mut self.out);
        encoder.finish(&mut self.out);
        let body_end = self.out.len();
        let size = if chunked {
            body_end
        } else {
            body_end - b".\r\n".len()
        };
        let params = match self.mail_parameters(&envelope, Some(size as u64), !data.is_ascii()) {
            Ok(params) => params.with_dsn(dsn),
            Err(e) => {
                self.release_buffer();
                return Err(e);
            }
        };
        params.write_envelope(&envelope, &mut self.out);
        if chunked {
            return self.send_chunked(body_end, rcpts.len()).await;
        }
        let (mail_reply, recipients) = match self.envelope(body_end, rcpts.len()).await {
            Ok(replies) => replies,
            Err(e) => {
                self.release_buffer();
                return Err(e);
            }
        };
        self.out.truncate(body_end);
        self.in_message = true;
        self.write_out().await?;
        self.in_message = false;
        self.release_buffer();
        let verdict = self.read().await?;
        let delivered = (200..300).contains(&verdict.code);
        let report = SendReport {
            mail: mail_reply,
            recipients,
            verdict,
        };
        if delivered {
            Ok(report)
        } else {
            Err(SmtpError::NotSent(report))
        }
    }

    /// The envelope of a message the caller then streams with `data_chunk`
    /// and `data_end` (a message of any size): MAIL with `SIZE=size` (when
    /// known and offered), `BODY=8BITMIME` (when `eight_bit` and offered) and
    /// `SMTPUTF8` (non-ASCII addresses), the RCPTs and DATA, pipelined when
    /// offered. Refuses before anything is sent what the server cannot take
    /// (over its SIZE limit, SMTPUTF8 missing). Returns the replies to MAIL
    /// and the RCPTs once the server said 354; else `NotSent` (RSET sent).
    pub async fn begin_message(
        &mut self,
        from: &str,
        rcpts: &[impl AsRef<str>],
        size: Option<u64>,
        eight_bit: bool,
    ) -> Result<(Reply, Vec<Reply>), SmtpError> {
        self.check_new_message(rcpts)?;
        let envelope = CheckedEnvelope::new(from, rcpts)?;
        let params = self.mail_parameters(&envelope, size, eight_bit)?;
        self.out.clear();
        params.write_envelope(&envelope, &mut self.out);
        let replies = self.envelope(0, rcpts.len()).await?;
        self.in_message = true;
        Ok(replies)
    }

    /// A new message needs a recipient and no message under way.
    fn check_new_message(&self, rcpts: &[impl AsRef<str>]) -> Result<(), SmtpError> {
        if rcpts.is_empty() {
            return Err(SmtpError::InvalidArgument(
                "sendmsg needs at least one recipient".into(),
            ));
        }
        if self.in_message {
            return Err(SmtpError::InvalidArgument(
                "a message is under way: end it with data_end first".into(),
            ));
        }
        Ok(())
    }

    /// MAIL, the RCPTs and DATA — one write with PIPELINING (RFC 2920),
    /// else step by step — up to the server's 354. The write buffer holds
    /// MAIL and the `rcpts` RCPT lines from `start` on; what is before it
    /// (the message) is left as it was. When MAIL or every RCPT was refused,
    /// or DATA was, the transaction is closed (RSET; an empty message after
    /// a 354 nobody asked for) and the answer is `NotSent`.
    async fn envelope(
        &mut self,
        start: usize,
        rcpts: usize,
    ) -> Result<(Reply, Vec<Reply>), SmtpError> {
        let pipelined = self.caps.pipelining;
        // Step by step, each line is written alone: the message waits aside.
        let mut aside = None;
        let (mail_reply, recipients) = if pipelined {
            self.out.extend_from_slice(b"DATA\r\n");
            self.write_out_from(start).await?;
            self.out.truncate(start);
            let mail_reply = self.read().await?;
            let mut recipients = Vec::with_capacity(rcpts);
            for _ in 0..rcpts {
                recipients.push(self.read().await?);
            }
            (mail_reply, recipients)
        } else {
            let buffer = aside.insert(std::mem::take(&mut self.out));
            let lines = buffer.get(start..).unwrap_or_default();
            self.envelope_step_by_step(lines).await?
        };
        let go = mail_reply.is_positive() && recipients.iter().any(Reply::is_positive);
        let data_reply = match (pipelined, go) {
            (true, _) => Some(self.read().await?),
            (false, true) => Some(self.exchange("DATA").await?),
            (false, false) => None,
        };
        match data_reply {
            Some(reply) if go && reply.code == START_MAIL_INPUT => {
                if let Some(mut buffer) = aside {
                    buffer.truncate(start);
                    self.out = buffer;
                }
                Ok((mail_reply, recipients))
            }
            stopped => {
                // RFC 2920 §3.1: a server that answers DATA with 354 though no
                // recipient was accepted gets an empty message, ending it.
                if stopped.as_ref().is_some_and(|r| r.code == START_MAIL_INPUT) {
                    self.write_line(".").await?;
                    self.read().await?;
                } else if mail_reply.is_positive() {
                    self.exchange("RSET").await?;
                }
                let verdict = match stopped {
                    Some(r) if go => r,
                    _ if !mail_reply.is_positive() => mail_reply.clone(),
                    _ => recipients
                        .last()
                        .cloned()
                        .unwrap_or_else(|| mail_reply.clone()),
                };
                Err(SmtpError::NotSent(SendReport {
                    mail: mail_reply,
                    recipients,
                    verdict,
                }))
            }
        }
    }

    /// MAIL, then each RCPT when MAIL was accepted, one exchange each;
    /// `lines` holds them, each ending in CRLF.
    async fn envelope_step_by_step(
        &mut self,
        lines: &[u8],
    ) -> Result<(Reply, Vec<Reply>), SmtpError> {
        let mut lines = lines.split_inclusive(|&b| b == b'\n');
        let mail_reply = self
            .exchange_written(lines.next().unwrap_or_default())
            .await?;
        let mut recipients = Vec::new();
        if mail_reply.is_positive() {
            for line in lines {
                recipients.push(self.exchange_written(line).await?);
            }
        }
        Ok((mail_reply, recipients))
    }

    /// Writes `line`, an envelope line with its CRLF, and reads the reply.
    async fn exchange_written(&mut self, line: &[u8]) -> Result<Reply, SmtpError> {
        self.check_in_step()?;
        self.out.clear();
        self.out.extend_from_slice(line);
        self.write_out().await?;
        self.read().await
    }

    /// MAIL, the RCPTs and `BDAT n LAST` with the message written before any
    /// reply is read; then the replies in order. The write buffer holds the
    /// message (line endings made CRLF, no dot-stuffing) up to `body_end`,
    /// then MAIL and the `rcpts` RCPT lines. RSET after a refused message,
    /// as for DATA.
    async fn send_chunked(
        &mut self,
        body_end: usize,
        rcpts: usize,
    ) -> Result<SendReport, SmtpError> {
        self.out.extend_from_slice(b"BDAT ");
        self.out
            .extend_from_slice(itoa::Buffer::new().format(body_end).as_bytes());
        self.out.extend_from_slice(b" LAST\r\n");
        self.write_out_from(body_end).await?;
        self.out.truncate(body_end);
        // Until the chunk is out, a QUIT would be taken as message bytes.
        self.in_message = true;
        self.write_out().await?;
        self.in_message = false;
        self.release_buffer();
        let mail_reply = self.read().await?;
        let mut recipients = Vec::with_capacity(rcpts);
        for _ in 0..rcpts {
            recipients.push(self.read().await?);
        }
        let chunk_reply = self.read().await?;
        let go = mail_reply.is_positive() && recipients.iter().any(Reply::is_positive);
        let delivered = go && (200..300).contains(&chunk_reply.code);
        if !delivered && mail_reply.is_positive() && !chunk_reply.is_positive() {
            self.exchange("RSET").await?;
        }
        let verdict = match () {
            _ if !mail_reply.is_positive() => mail_reply.clone(),
            _ if !go => recipients
                .last()
                .cloned()
                .unwrap_or_else(|| mail_reply.clone()),
            _ => chunk_reply,
        };
        let report = SendReport {
            mail: mail_reply,
            recipients,
            verdict,
        };
        if delivered {
            Ok(report)
        } else {
            Err(SmtpError::NotSent(report))
        }
    }
}
