//! Many mail transactions in one call (`send_many`). With PIPELINING each
//! message after the first costs one write and one round trip: its envelope
//! (MAIL, RCPTs, DATA) goes out in the same write as the previous message's
//! content and final dot, and the replies are read in order (RFC 2920).
//! Without PIPELINING the messages go one by one through `send_message`.
//!
//! Each message is made transparent once, into one of two buffers that take
//! turns: while message i's content (with message i+1's envelope behind it)
//! is on its way, message i+1 is already in the other buffer, since its MAIL
//! must declare its SIZE.

use super::SmtpClient;
use crate::smtp::buffer_pool::{make_room, WRITE_BUFFERS};
use crate::smtp::command::CheckedEnvelope;
use crate::smtp::{DataEncoder, SmtpError};
use smtp32_protocol::{BatchMessage, BatchOutcome, Failure, Reply, SendReport};
use std::time::Duration;

/// The DATA reply that lets the message follow.
const START_MAIL_INPUT: u16 = 354;

/// What is left after a batch.
pub struct BatchEnd {
    /// One outcome per message, in order.
    pub outcomes: Vec<BatchOutcome>,
    /// False when the connection failed or timed out: it must be dropped.
    pub in_step: bool,
}

/// A message ready to go: its transparent content with the final dot, and
/// behind it in the same buffer its envelope's lines.
struct Ready {
    index: usize,
    rcpts: usize,
    buffer: Vec<u8>,
    body_end: usize,
}

impl Ready {
    /// Appends MAIL, the RCPTs and DATA to `out`.
    fn envelope(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.buffer.get(self.body_end..).unwrap_or_default());
        out.extend_from_slice(b"DATA\r\n");
    }
}

/// The messages not yet prepared, and every outcome so far.
struct Queue<'a> {
    messages: &'a [BatchMessage],
    next: usize,
    outcomes: Vec<Option<BatchOutcome>>,
    /// The buffer the next message is encoded into.
    spare: Vec<u8>,
}

impl Drop for Queue<'_> {
    /// The spare buffer serves the next batch or message on this thread.
    fn drop(&mut self) {
        WRITE_BUFFERS.give_back(std::mem::take(&mut self.spare));
    }
}

impl Queue<'_> {
    /// The next message that can be sent; a message refused before sending
    /// (bad address, over SIZE, needs SMTPUTF8) gets its outcome here.
    fn prepare(&mut self, client: &SmtpClient) -> Option<Ready> {
        while self.next < self.messages.len() {
            let index = self.next;
            self.next += 1;
            match self.ready(client, index) {
                Ok(r) => return Some(r),
                Err(e) => self.outcomes[index] = Some(Err(Failure::from(e))),
            }
        }
        None
    }

    fn ready(&mut self, client: &SmtpClient, index: usize) -> Result<Ready, SmtpError> {
        let m = &self.messages[index];
        if m.rcpts.is_empty() {
            return Err(SmtpError::InvalidArgument(
                "a message needs at least one recipient".into(),
            ));
        }
        let envelope = CheckedEnvelope::new(&m.from, &m.rcpts)?;
        let mut buffer = std::mem::take(&mut self.spare);
        let room = DataEncoder::room_for(m.data.len()) + envelope.room();
        make_room(&WRITE_BUFFERS, &mut buffer, room);
        let mut encoder = DataEncoder::new();
        encoder.encode(&m.data, &mut buffer);
        encoder.finish(&mut buffer);
        let body_end = buffer.len();
        let size = body_end - b".\r\n".len();
        match client.mail_parameters(&envelope, Some(size as u64), !m.data.is_ascii()) {
            Ok(params) => params.write_envelope(&envelope, &mut buffer),
            Err(e) => {
                self.spare = buffer;
                return Err(e);
            }
        }
        Ok(Ready {
            index,
            rcpts: m.rcpts.len(),
            buffer,
            body_end,
        })
    }

    /// Message `index` and every one after it that has no outcome yet get `failure`.
    /// Ends the batch: message `index` and every later one without an
    /// outcome yet fail with `failure`.
    fn end_from(mut self, index: usize, failure: Failure, in_step: bool) -> BatchEnd {
        for slot in self.outcomes[index..].iter_mut().filter(|o| o.is_none()) {
            *slot = Some(Err(failure.clone()));
        }
        self.finish(in_step)
    }

    fn finish(mut self, in_step: bool) -> BatchEnd {
        let outcomes = std::mem::take(&mut self.outcomes)
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| Err(Failure::ConnectionLost("the message was not sent".into())))
            })
            .collect();
        BatchEnd { outcomes, in_step }
    }
}

/// The failure of a message whose exchange outlived `step_limit`.
fn timed_out(step_limit: Duration) -> Failure {
    Failure::TimedOut(u16::try_from(step_limit.as_secs()).unwrap_or(u16::MAX))
}

impl SmtpClient {
    /// Sends `messages` one after the other, pipelined as the module says.
    /// Each message's exchange must finish within `step_limit`; past it, or
    /// on an I/O error, that message and every later one fail alike and the
    /// connection is out of step. A refused message (`NotSent`) does not
    /// stop the batch.
    pub async fn send_batch(
        &mut self,
        messages: &[BatchMessage],
        step_limit: Duration,
    ) -> BatchEnd {
        let mut queue = Queue {
            messages,
            next: 0,
            outcomes: vec![None; messages.len()],
            spare: Vec::new(),
        };
        if self.in_message {
            let busy = Failure::InvalidArgument(
                "a message is under way: end it with data_end first".into(),
            );
            return queue.end_from(0, busy, true);
        }
        if !self.caps.pipelining {
            return self.send_batch_unpipelined(queue, step_limit).await;
        }
        let Some(mut current) = queue.prepare(self) else {
            return queue.finish(true);
        };
        self.out.clear();
        current.envelope(&mut self.out);
        if let Err(e) = self.write_out().await {
            return queue.end_from(current.index, Failure::from(e), false);
        }
        // One timer for the whole batch. Each message must end `step_limit`
        // after it starts; the timer is moved on only when it rings before
        // the current message's own deadline (at most once a `step_limit`),
        // not before every message: a move is a timer-wheel removal and
        // insertion, and a `timeout` a message was both and a new timer.
        let limit = tokio::time::sleep(step_limit);
        tokio::pin!(limit);
        loop {
            let index = current.index;
            let due = tokio::time::Instant::now() + step_limit;
            let step = {
                let step = self.batch_step(current, &mut queue);
                tokio::pin!(step);
                loop {
                    tokio::select! {
                        biased;
                        step = &mut step => break Some(step),
                        () = &mut limit => {
                            if limit.deadline() >= due {
                                break None;
                            }
                            limit.as_mut().reset(due);
                        }
                    }
                }
            };
            match step {
                Some(Ok(Some(next))) => current = next,
                Some(Ok(None)) => {
                    self.release_buffer();
                    return queue.finish(true);
                }
                Some(Err(e)) => return queue.end_from(index, Failure::from(e), false),
                None => return queue.end_from(index, timed_out(step_limit), false),
            }
        }
    }

    /// One message whose envelope is already written: reads its replies,
    /// writes its content (or the end of a refused transaction) with the
    /// next message's envelope behind it, reads its verdict. Returns the
    /// next message, whose envelope is now on its way.
    async fn batch_step(
        &mut self,
        mut current: Ready,
        queue: &mut Queue<'_>,
    ) -> Result<Option<Ready>, SmtpError> {
        let mail = self.read().await?;
        let mut recipients = Vec::with_capacity(current.rcpts);
        for _ in 0..current.rcpts {
            recipients.push(self.read().await?);
        }
        let data = self.read().await?;
        let go = mail.is_positive() && recipients.iter().any(Reply::is_positive);
        let sent = go && data.code == START_MAIL_INPUT;
        // What ends this transaction: the content, a lone dot (a 354 though no
        // recipient was accepted, RFC 2920 §3.1), RSET, or nothing.
        let mut out = if sent {
            let mut content = std::mem::take(&mut current.buffer);
            content.truncate(current.body_end);
            content
        } else {
            let mut out = std::mem::take(&mut self.out);
            out.clear();
            if data.code == START_MAIL_INPUT {
                out.extend_from_slice(b".\r\n");
            } else if mail.is_positive() {
                out.extend_from_slice(b"RSET\r\n");
            }
            out
        };
        let ends_with_reply = !out.is_empty();
        let next = queue.prepare(self);
        if let Some(n) = &next {
            n.envelope(&mut out);
        }
        let spare = std::mem::replace(&mut self.out, out);
        self.in_message = sent;
        self.write_out().await?;
        self.in_message = false;
        // The buffer just written is free again: the next message but one is encoded into it.
        queue.spare = std::mem::replace(&mut self.out, spare);
        if current.buffer.capacity() > 0 {
            queue.spare = std::mem::take(&mut current.buffer);
        }
        let end = if ends_with_reply {
            Some(self.read().await?)
        } else {
            None
        };
        let outcome = match end {
            Some(verdict) if sent => {
                let delivered = (200..300).contains(&verdict.code);
                let report = SendReport {
                    mail,
                    recipients,
                    verdict,
                };
                if delivered {
                    Ok(report)
                } else {
                    Err(Failure::NotSent(report))
                }
            }
            _ => {
                let verdict = if go {
                    data
                } else if !mail.is_positive() {
                    mail.clone()
                } else {
                    recipients.last().cloned().unwrap_or_else(|| mail.clone())
                };
                Err(Failure::NotSent(SendReport {
                    mail,
                    recipients,
                    verdict,
                }))
            }
        };
        queue.outcomes[current.index] = Some(outcome);
        Ok(next)
    }

    /// The batch one message at a time, for a server without PIPELINING.
    async fn send_batch_unpipelined(
        &mut self,
        mut queue: Queue<'_>,
        step_limit: Duration,
    ) -> BatchEnd {
        for (index, m) in queue.messages.iter().enumerate() {
            let sent =
                tokio::time::timeout(step_limit, self.send_message(&m.from, &m.rcpts, &m.data))
                    .await;
            match sent {
                Ok(Ok(report)) => queue.outcomes[index] = Some(Ok(report)),
                Ok(Err(e)) if e.keeps_connection() => {
                    queue.outcomes[index] = Some(Err(Failure::from(e)))
                }
                Ok(Err(e)) => return queue.end_from(index, Failure::from(e), false),
                Err(_) => return queue.end_from(index, timed_out(step_limit), false),
            }
        }
        queue.finish(true)
    }
}
