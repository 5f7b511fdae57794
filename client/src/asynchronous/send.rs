//! The one-call sends on an [`AsyncConnection`]: `sendmsg` and `send_many`,
//! with the blocking API's envelope checks and request sizing.

use super::AsyncConnection;
use crate::connection::{check, fits_one_request, not_sent, refusal, stops_the_rest};
use crate::error::unexpected;
use crate::error::{Error, Result};
use crate::request_frame::RequestFrame;
use crate::Outgoing;
use smtp32_protocol::codec::MessageRef;
use smtp32_protocol::{Request, Response, ReturnCode, SendReport};

impl AsyncConnection {
    /// See [`Connection::sendmsg`](crate::Connection::sendmsg): one request
    /// when the message fits a frame, else streamed behind one envelope.
    pub async fn sendmsg(&self, from: &str, rcpts: &[&str], msg: &[u8]) -> Result<SendReport> {
        if !fits_one_request(from, rcpts, msg, self.client.chunk_limit())? {
            return self.sendmsg_streamed(from, rcpts, msg).await;
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
        match self.request(request).await? {
            Response::Sent(report) => Ok(report),
            other => Err(unexpected(other)),
        }
    }

    /// As the blocking API streams it: the envelope in one `SendBegin`
    /// (MAIL with `SIZE=` and `BODY=8BITMIME` as needed, the SIZE limit
    /// checked before anything is sent), then the message in chunks.
    async fn sendmsg_streamed(&self, from: &str, rcpts: &[&str], msg: &[u8]) -> Result<SendReport> {
        let request = Request::SendBegin {
            handle: self.handle,
            from: from.to_owned(),
            rcpts: rcpts.iter().map(|r| r.to_string()).collect(),
            size: Some(msg.len() as u64),
            eight_bit: !msg.is_ascii(),
        };
        let (mail, recipients) = match self.request(request).await? {
            Response::Envelope { mail, recipients } => (mail, recipients),
            other => return Err(unexpected(other)),
        };
        let data = match self.data_buf(msg).await {
            Ok(()) => self.data_end().await,
            Err(e) => Err(e),
        };
        match data {
            Ok(verdict) => Ok(SendReport {
                mail,
                recipients,
                verdict,
            }),
            Err(e) => Err(not_sent(mail, recipients, refusal(e)?)),
        }
    }

    /// See [`Connection::send_many`](crate::Connection::send_many): as many
    /// messages per `SendBatch` request as the frame limit allows; one too
    /// large for any request goes as `sendmsg` sends it.
    pub async fn send_many(&self, messages: &[Outgoing<'_>]) -> Result<Vec<Result<SendReport>>> {
        let mut busy = Some(self.begin()?);
        let limit = self.client.chunk_limit();
        let mut results: Vec<Result<SendReport>> = Vec::with_capacity(messages.len());
        let mut i = 0;
        while i < messages.len() {
            if let Some(e) = results
                .iter()
                .rev()
                .find_map(|r| r.as_ref().err().filter(|e| stops_the_rest(e)))
            {
                let e = e.clone();
                results.extend((i..messages.len()).map(|_| Err(e.clone())));
                break;
            }
            let m = messages[i];
            if let Err(e) = check(&m) {
                results.push(Err(e));
                i += 1;
                continue;
            }
            let len = m.encoded_len();
            if len > limit {
                // Too large for any request: sendmsg streams it (it claims the handle itself).
                drop(busy.take());
                results.push(self.sendmsg(m.from, m.rcpts, m.data).await);
                busy = Some(self.begin().map_err(|_| taken())?);
                i += 1;
                continue;
            }
            // The longest run of valid messages that fits one request, from
            // `m` (checked and measured above).
            let (mut batch, mut bytes) = (vec![m], len);
            while let Some(m) = messages.get(i + batch.len()) {
                let len = m.encoded_len();
                if check(m).is_err() || bytes + len > limit {
                    break;
                }
                bytes += len;
                batch.push(*m);
            }
            i += batch.len();
            results.extend(self.send_batch(batch).await);
        }
        drop(busy);
        Ok(results)
    }

    /// One `SendBatch` request; one result per message.
    async fn send_batch(&self, messages: Vec<MessageRef<'_>>) -> Vec<Result<SendReport>> {
        let count = messages.len();
        match self
            .request(RequestFrame::SendBatch {
                handle: self.handle,
                messages: &messages,
            })
            .await
        {
            Ok(Response::SentBatch(o)) if o.len() == count => {
                o.into_iter().map(|r| r.map_err(Error::from)).collect()
            }
            Ok(other) => vec![Err(unexpected(other)); count],
            Err(e) => vec![Err(e); count],
        }
    }
}

/// The error when another call took the handle while a large message was streamed.
fn taken() -> Error {
    Error::new(ReturnCode::InProgress, "another operation took the handle")
}
