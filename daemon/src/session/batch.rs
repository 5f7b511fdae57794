//! The session's batched send (`send_many`): many transactions as one
//! operation under the connection's stop signal, with the connection's
//! timeout applied to each message rather than to the whole batch (a batch
//! of thousands may rightly take longer than one timeout).

use super::messages::SendBatch;
use super::phase::Effect;
use super::{Answer, OpOutput, SmtpSession};
use crate::activity::{count, Doing};
use crate::smtp::SmtpError;
use actix::prelude::*;
use smtp32_protocol::{BatchOutcome, Failure, Reply};
use std::time::Duration;

impl OpOutput for Vec<BatchOutcome> {
    /// The last message's verdict, as `smtp_rply` would show after it.
    fn reply(&self) -> Option<&Reply> {
        match self.last()? {
            Ok(report) => Some(&report.verdict),
            Err(f) => f.reply(),
        }
    }
}

impl SmtpSession {
    /// Answers [`SendBatch`] (see [`super::answer`] for its handlers).
    pub(super) fn send_batch(
        &mut self,
        msg: SendBatch,
    ) -> Answer<
        Vec<BatchOutcome>,
        impl ActorFuture<Self, Output = Result<Vec<BatchOutcome>, Failure>>,
    > {
        if msg.messages.is_empty() {
            return Err(Failure::InvalidArgument("an empty batch".into())).into();
        }
        let checkout = match self.checkout(false) {
            Ok(c) => c,
            Err(f) => return Err(f).into(),
        };
        let bytes: usize = msg.messages.iter().map(|m| m.data.len()).sum();
        let what = Doing::Batch {
            messages: count(msg.messages.len()),
            bytes,
        };
        let step = Duration::from_secs(self.timeout_secs.into());
        let dialogue = Box::pin(async move {
            let mut client = match tokio::time::timeout(step, checkout.open()).await {
                Ok(Ok((client, _))) => client,
                Ok(Err(e)) => return (None, Err(e)),
                Err(_) => {
                    return (
                        None,
                        Err(SmtpError::Io(std::io::ErrorKind::TimedOut.into())),
                    )
                }
            };
            let end = client.send_batch(&msg.messages, step).await;
            (end.in_step.then_some(client), Ok(end.outcomes))
        });
        Answer::Running(self.operation_within(what, Effect::FinalDot, None, dialogue))
    }
}
