//! Many messages in few requests: [`Connection::send_many`].

use super::Connection;
use crate::error::unexpected;
use crate::error::{check_line, Error, Result};
use crate::request_frame::RequestFrame;
use smtp32_protocol::codec::MessageRef;
use smtp32_protocol::{Response, ReturnCode, SendReport};

/// One message for [`Connection::send_many`]: what [`Connection::sendmsg`]
/// takes, borrowed from the caller. It is the protocol's own
/// [`MessageRef`], so a request frame encodes it from where it is.
pub type Outgoing<'a> = MessageRef<'a>;

/// Checks message `m`'s envelope as `sendmsg` checks its arguments.
pub(crate) fn check(m: &Outgoing<'_>) -> Result<()> {
    check_line("from", m.from)?;
    if m.rcpts.is_empty() {
        return Err(Error::invalid_argument(
            "a message needs at least one recipient",
        ));
    }
    m.rcpts
        .iter()
        .try_for_each(|to| check_line("recipient", to))
}

/// The messages of the next request, and where their outcomes go.
#[derive(Default)]
struct Pending<'a> {
    indices: Vec<usize>,
    messages: Vec<MessageRef<'a>>,
}

impl Connection {
    /// Sends many messages on this connection, each as [`Connection::sendmsg`]
    /// would, but in as few daemon requests as the frame limit allows and,
    /// when the server offers PIPELINING, with each message's envelope
    /// (MAIL, RCPTs, DATA) pipelined behind the previous message's content:
    /// one SMTP round trip per message instead of two, and one IPC round
    /// trip per request instead of one per message.
    ///
    /// Returns one result per message, in order: the report when the server
    /// took it, else the error `sendmsg` would have given. A refused message
    /// does not stop the others. When the connection fails (I/O error,
    /// timeout — the handle's timeout applies to each message), that message
    /// and every later one get that error, and the connection is gone. The
    /// outer `Err` is only for a call that could not start (the handle is
    /// closed or busy). A message too large for one request is sent on its
    /// own, as `sendmsg` sends it.
    pub fn send_many<'a>(
        &self,
        messages: impl IntoIterator<Item = Outgoing<'a>>,
    ) -> Result<Vec<Result<SendReport>>> {
        let mut busy = Some(self.begin()?);
        let limit = self.client.chunk_limit();
        let mut results: Vec<Option<Result<SendReport>>> = Vec::new();
        let mut pending = Pending::default();
        let mut pending_bytes = 0;
        let mut fatal: Option<Error> = None;
        for m in messages {
            let index = results.len();
            results.push(None);
            if let Some(e) = &fatal {
                results[index] = Some(Err(e.clone()));
                continue;
            }
            if let Err(e) = check(&m) {
                results[index] = Some(Err(e));
                continue;
            }
            let bytes = m.encoded_len();
            if pending_bytes + bytes > limit && !pending.messages.is_empty() {
                fatal = self.flush(&mut pending, &mut results);
                pending_bytes = 0;
                if let Some(e) = &fatal {
                    results[index] = Some(Err(e.clone()));
                    continue;
                }
            }
            if bytes > limit {
                // Too large for any request: sendmsg streams it (it claims the handle itself).
                drop(busy.take());
                let sent = self.sendmsg(m.from, m.rcpts, m.data);
                busy = self.begin().ok();
                fatal = match (&sent, &busy) {
                    (Err(e), _) if stops_the_rest(e) => Some(e.clone()),
                    (_, None) => Some(Error::new(
                        ReturnCode::InProgress,
                        "another operation took the handle",
                    )),
                    _ => None,
                };
                results[index] = Some(sent);
                continue;
            }
            pending_bytes += bytes;
            pending.indices.push(index);
            pending.messages.push(m);
        }
        if fatal.is_none() && !pending.messages.is_empty() {
            self.flush(&mut pending, &mut results);
        }
        drop(busy);
        Ok(results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(Error::new(ReturnCode::Failure, "the message was not sent"))
                })
            })
            .collect())
    }

    /// Sends the pending messages as one `SendBatch` and files their
    /// outcomes; returns the error that stops the rest of the call, if any.
    fn flush(
        &self,
        pending: &mut Pending<'_>,
        results: &mut [Option<Result<SendReport>>],
    ) -> Option<Error> {
        let outcome = self.request(RequestFrame::SendBatch {
            handle: self.handle,
            messages: &pending.messages,
        });
        pending.messages.clear();
        let indices = std::mem::take(&mut pending.indices);
        let outcomes = match outcome {
            Ok(Response::SentBatch(o)) if o.len() == indices.len() => o,
            Ok(other) => {
                let e = unexpected(other);
                indices
                    .iter()
                    .for_each(|&i| results[i] = Some(Err(e.clone())));
                return Some(e);
            }
            Err(e) => {
                indices
                    .iter()
                    .for_each(|&i| results[i] = Some(Err(e.clone())));
                return Some(e);
            }
        };
        let mut stop = None;
        for (i, o) in indices.into_iter().zip(outcomes) {
            let r = o.map_err(Error::from);
            if let Err(e) = &r {
                if stops_the_rest(e) {
                    stop = Some(e.clone());
                }
            }
            results[i] = Some(r);
        }
        stop
    }
}

/// True for an error after which nothing more can be sent on the handle
/// (the connection is gone, timed out, aborted, or the daemon is stopping),
/// as opposed to a refusal of one message.
pub(crate) fn stops_the_rest(e: &Error) -> bool {
    !matches!(e.code(), ReturnCode::Failure | ReturnCode::InvalidArgument)
}
