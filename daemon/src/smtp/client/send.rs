//! One whole mail transaction in one call (`smtp_sendmsg`): MAIL with the
//! parameters the server offers and the message needs, every RCPT, DATA and
//! the message. With PIPELINING (RFC 2920) MAIL, the RCPTs and DATA go out in
//! one write and the replies are read in order; without it, step by step.
//! With CHUNKING (RFC 3030) as well, the message goes as one `BDAT n LAST`
//! right behind MAIL and the RCPTs, before any reply: one round trip.

use super::{DsnRequest, SmtpClient};
use crate::smtp::command::{mail_line, rcpt_line};
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
        rcpts: &[String],
        data: &[u8],
    ) -> Result<SendReport, SmtpError> {
        self.send_message_with_dsn(from, rcpts, data, None).await
    }

    /// [`SmtpClient::send_message`] with the DSN parameters of `dsn` on MAIL
    /// and every RCPT when the server offers DSN (left out otherwise).
    pub async fn send_message_with_dsn(
        &mut self,
        from: &str,
        rcpts: &[String],
        data: &[u8],
        dsn: Option<&DsnRequest>,
    ) -> Result<SendReport, SmtpError> {
        self.check_new_message(rcpts)?;
        let dsn = dsn.filter(|d| !d.is_empty() && self.has_extension("DSN"));
        if let Some(d) = dsn {
            d.check()?;
        }
        let mut mail = mail_line(from)?;
        let rcpt_suffix = dsn.map(DsnRequest::rcpt_suffix).unwrap_or_default();
        let rcpt_lines = rcpt_lines(rcpts, &rcpt_suffix)?;
        // The message is made transparent once, into the write buffer's
        // memory; its size is what SIZE declares and is checked against.
        let chunked = self.caps.bdat;
        let mut body = std::mem::take(&mut self.out);
        body.clear();
        let mut encoder = if chunked {
            DataEncoder::for_bdat()
        } else {
            DataEncoder::new()
        };
        encoder.encode(data, &mut body);
        encoder.finish(&mut body);
        let size = if chunked {
            body.len()
        } else {
            body.len() - b".\r\n".len()
        };
        if let Err(e) =
            self.mail_parameters(&mut mail, Some(size as u64), !data.is_ascii(), from, rcpts)
        {
            self.out = body;
            self.release_buffer();
            return Err(e);
        }
        if let Some(d) = dsn {
            mail.push_str(&d.mail_suffix());
        }
        if chunked {
            return self.send_chunked(&mail, &rcpt_lines, body).await;
        }
        let (mail_reply, recipients) = match self.envelope(&mail, &rcpt_lines).await {
            Ok(replies) => replies,
            Err(e) => {
                self.release_buffer();
                return Err(e);
            }
        };
        self.out = body;
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
        rcpts: &[String],
        size: Option<u64>,
        eight_bit: bool,
    ) -> Result<(Reply, Vec<Reply>), SmtpError> {
        self.check_new_message(rcpts)?;
        let mut mail = mail_line(from)?;
        let rcpt_lines = rcpt_lines(rcpts, "")?;
        self.mail_parameters(&mut mail, size, eight_bit, from, rcpts)?;
        let replies = self.envelope(&mail, &rcpt_lines).await?;
        self.in_message = true;
        Ok(replies)
    }

    /// A new message needs a recipient and no message under way.
    fn check_new_message(&self, rcpts: &[String]) -> Result<(), SmtpError> {
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
    /// else step by step — up to the server's 354. When MAIL or every RCPT
    /// was refused, or DATA was, the transaction is closed (RSET; an empty
    /// message after a 354 nobody asked for) and the answer is `NotSent`.
    async fn envelope(
        &mut self,
        mail: &str,
        rcpt_lines: &[String],
    ) -> Result<(Reply, Vec<Reply>), SmtpError> {
        let pipelined = self.caps.pipelining;
        if pipelined {
            self.out.clear();
            // Often a buffer of its own (the body holds the usual one): one
            // allocation of the right size rather than growth from nothing.
            let lines = std::iter::once(mail).chain(rcpt_lines.iter().map(String::as_str));
            self.out
                .reserve(lines.clone().map(|l| l.len() + 2).sum::<usize>() + b"DATA\r\n".len());
            for line in lines {
                self.out.extend_from_slice(line.as_bytes());
                self.out.extend_from_slice(b"\r\n");
            }
            self.out.extend_from_slice(b"DATA\r\n");
            self.write_out().await?;
        }
        let mail_reply = self.step(pipelined, mail).await?;
        let mut recipients = Vec::with_capacity(rcpt_lines.len());
        if pipelined || mail_reply.is_positive() {
            for line in rcpt_lines {
                recipients.push(self.step(pipelined, line).await?);
            }
        }
        let go = mail_reply.is_positive() && recipients.iter().any(Reply::is_positive);
        let data_reply = match (pipelined, go) {
            (true, _) => Some(self.read().await?),
            (false, true) => Some(self.exchange("DATA").await?),
            (false, false) => None,
        };
        match data_reply {
            Some(reply) if go && reply.code == START_MAIL_INPUT => Ok((mail_reply, recipients)),
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

    /// MAIL, the RCPTs and `BDAT n LAST` with the message (`body`, line
    /// endings made CRLF, no dot-stuffing) written before any reply is read;
    /// then the replies in order. RSET after a refused message, as for DATA.
    async fn send_chunked(
        &mut self,
        mail: &str,
        rcpt_lines: &[String],
        body: Vec<u8>,
    ) -> Result<SendReport, SmtpError> {
        for line in std::iter::once(mail).chain(rcpt_lines.iter().map(String::as_str)) {
            self.out.extend_from_slice(line.as_bytes());
            self.out.extend_from_slice(b"\r\n");
        }
        self.out
            .extend_from_slice(format!("BDAT {} LAST\r\n", body.len()).as_bytes());
        self.write_out().await?;
        self.out = body;
        // Until the chunk is out, a QUIT would be taken as message bytes.
        self.in_message = true;
        self.write_out().await?;
        self.in_message = false;
        self.release_buffer();
        let mail_reply = self.read().await?;
        let mut recipients = Vec::with_capacity(rcpt_lines.len());
        for _ in rcpt_lines {
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

    /// Appends the MAIL parameters to `mail`, or refuses what the server cannot take.
    pub(super) fn mail_parameters(
        &self,
        mail: &mut String,
        size: Option<u64>,
        eight_bit: bool,
        from: &str,
        rcpts: &[String],
    ) -> Result<(), SmtpError> {
        if let (Some(limit), Some(size)) = (self.size_limit(), size) {
            if size > limit {
                return Err(SmtpError::Unsupported(format!(
                    "the message is {size} bytes, over the server's SIZE limit of {limit} bytes"
                )));
            }
        }
        if let Some(addr) = std::iter::once(from)
            .chain(rcpts.iter().map(String::as_str))
            .find(|a| !a.is_ascii())
        {
            if !self.caps.smtputf8 {
                return Err(SmtpError::Unsupported(format!(
                    "the server does not offer SMTPUTF8, which the address {addr:?} needs"
                )));
            }
            mail.push_str(" SMTPUTF8");
        }
        if let (true, Some(size)) = (self.caps.size, size) {
            use std::fmt::Write as _;
            let _ = write!(mail, " SIZE={size}");
        }
        if self.caps.eightbitmime && eight_bit {
            mail.push_str(" BODY=8BITMIME");
        }
        Ok(())
    }

    /// The server's SIZE limit in bytes; `None` when it gave none (or 0: no limit).
    fn size_limit(&self) -> Option<u64> {
        self.caps.size_limit
    }

    /// The reply to `line`: already written when pipelining, else sent now.
    async fn step(&mut self, pipelined: bool, line: &str) -> Result<Reply, SmtpError> {
        if pipelined {
            self.read().await
        } else {
            self.exchange(line).await
        }
    }
}

/// The RCPT line of each recipient, with `suffix` (DSN parameters) after it.
fn rcpt_lines(rcpts: &[String], suffix: &str) -> Result<Vec<String>, SmtpError> {
    rcpts
        .iter()
        .map(|to| rcpt_line(to).map(|line| line + suffix))
        .collect()
}
