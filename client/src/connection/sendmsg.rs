//! The one-call send: MAIL, every RCPT, DATA and the message in one request.

use super::Connection;
use crate::client::unexpected;
use crate::error::{check_line, Error, Result};
use smtp32_protocol::{Failure, Reply, Request, Response, SendReport};

/// Room for the request's own fields around the message in one frame.
const REQUEST_OVERHEAD_BYTES: usize = 64;

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
    /// A request must fit the daemon's frame limit (4 MiB by default). A
    /// larger message is sent command by command instead (MAIL, RCPT, data
    /// chunks, end of data): the result is the same, but MAIL then carries no
    /// parameters, and each command costs a round trip.
    pub fn sendmsg(&self, from: &str, rcpts: &[&str], msg: &[u8]) -> Result<SendReport> {
        if !fits_one_request(from, rcpts, msg, self.client.chunk_limit())? {
            return self.sendmsg_streamed(from, rcpts, msg);
        }
        let _busy = self.begin()?;
        let request = Request::SendMessage {
            handle: self.handle,
            from: from.to_owned(),
            rcpts: rcpts.iter().map(|r| r.to_string()).collect(),
            data: msg.to_vec(),
        };
        match self.request(request)? {
            Response::Sent(report) => Ok(report),
            other => Err(unexpected(other)),
        }
    }

    /// The same transaction command by command, for a message too large for one request.
    fn sendmsg_streamed(&self, from: &str, rcpts: &[&str], msg: &[u8]) -> Result<SendReport> {
        let mail = match self.mail(from) {
            Ok(r) => r,
            Err(e) => {
                let refused = refusal(e)?;
                return Err(not_sent(refused.clone(), vec![], refused));
            }
        };
        let mut recipients = Vec::with_capacity(rcpts.len());
        for to in rcpts {
            match self.rcpt(to) {
                Ok(r) => recipients.push(r),
                Err(e) => recipients.push(refusal(e)?),
            }
        }
        if !recipients.iter().any(Reply::is_positive) {
            let verdict = recipients.last().cloned().unwrap_or_else(|| mail.clone());
            self.rset()?;
            return Err(not_sent(mail, recipients, verdict));
        }
        let data = self.data_buf(msg).and_then(|()| self.data_end());
        match data {
            Ok(verdict) => Ok(SendReport { mail, recipients, verdict }),
            Err(e) => {
                let verdict = refusal(e)?;
                Err(not_sent(mail, recipients, verdict))
            }
        }
    }
}

/// Checks a `sendmsg` envelope; true when the message fits one request of
/// `limit` bytes (else it is sent command by command).
pub(crate) fn fits_one_request(from: &str, rcpts: &[&str], msg: &[u8], limit: usize) -> Result<bool> {
    check_line("from", from)?;
    if rcpts.is_empty() {
        return Err(Error::invalid_argument("sendmsg needs at least one recipient"));
    }
    for to in rcpts {
        check_line("recipient", to)?;
    }
    let envelope: usize = from.len() + rcpts.iter().map(|r| r.len() + 5).sum::<usize>();
    Ok(msg.len() + envelope + REQUEST_OVERHEAD_BYTES <= limit)
}

/// The `NotSent` failure of a transaction sent command by command.
pub(crate) fn not_sent(mail: Reply, recipients: Vec<Reply>, verdict: Reply) -> Error {
    Error::from(Failure::NotSent(SendReport { mail, recipients, verdict }))
}

/// The server's refusal in `e`, or `e` itself when it is no refusal (the
/// connection is gone, the call was aborted...).
pub(crate) fn refusal(e: Error) -> Result<Reply> {
    match e.reply() {
        Some(r) => Ok(r.clone()),
        None => Err(e),
    }
}
