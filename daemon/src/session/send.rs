//! The session's one-call send (`smtp_sendmsg`): a whole transaction as one
//! operation under the connection's timeout and stop signal. For the
//! connection's state it counts as a message that ended (its final dot, or
//! the RSET after a refusal), whatever the outcome. A streamed send's
//! envelope ([`BeginMessage`]) is one operation too, which leaves the
//! connection inside DATA for the chunks that follow.

use super::messages::{BeginMessage, Envelope, SendMessage};
use super::phase::Effect;
use super::{Answer, OpAnswer, OpOutput, SmtpSession};
use crate::activity::{count, Doing};
use actix::prelude::*;
use smtp32_protocol::{Failure, Reply, SendReport};

impl OpOutput for SendReport {
    fn reply(&self) -> Option<&Reply> {
        Some(&self.verdict)
    }
}

impl SmtpSession {
    /// Answers [`SendMessage`] (see [`super::answer`] for its handlers).
    pub(super) fn send_message(
        &mut self,
        msg: SendMessage,
    ) -> Answer<SendReport, impl ActorFuture<Self, Output = Result<SendReport, Failure>>> {
        let checkout = match self.checkout(false) {
            Ok(c) => c,
            Err(f) => return Err(f).into(),
        };
        let what = Doing::Send {
            rcpts: count(msg.rcpts.len()),
            bytes: msg.data.len(),
        };
        Answer::Running(self.operation(
            what,
            Effect::FinalDot,
            checkout,
            move |mut client| async move {
                let result = client
                    .send_message_with_dsn(&msg.from, &msg.rcpts, &msg.data, msg.dsn.as_deref())
                    .await;
                (client, result)
            },
        ))
    }
}

impl OpOutput for Envelope {
    fn reply(&self) -> Option<&Reply> {
        self.recipients
            .iter()
            .rev()
            .find(|r| r.is_positive())
            .or(Some(&self.mail))
    }
}

impl Handler<BeginMessage> for SmtpSession {
    type Result = OpAnswer<Envelope>;

    fn handle(&mut self, msg: BeginMessage, _: &mut Self::Context) -> Self::Result {
        let checkout = match self.checkout(false) {
            Ok(c) => c,
            Err(f) => return Err(f).into(),
        };
        let rcpts = count(msg.rcpts.len());
        let what = match msg.size {
            Some(size) => Doing::Envelope { rcpts, size },
            None => Doing::EnvelopeUnsized { rcpts },
        };
        OpAnswer::running(self.operation(
            what,
            Effect::Data,
            checkout,
            move |mut client| async move {
                let result = client
                    .begin_message(&msg.from, &msg.rcpts, msg.size, msg.eight_bit)
                    .await;
                let envelope = result.map(|(mail, recipients)| Envelope { mail, recipients });
                (client, envelope)
            },
        ))
    }
}
