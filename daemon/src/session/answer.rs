//! How a session answers a message that runs an SMTP operation: the
//! operation is a future of the actor (it can touch the session when it
//! ends), spawned on the actor's context, and its result goes straight into
//! the asker's reply channel.
//!
//! actix's own `ResponseFuture` costs a second tokio task per operation (it
//! spawns one that awaits the future and forwards its result) and asked for
//! a second oneshot to carry the result out of the actor; `ResponseActFuture`
//! has neither, but when the actor stops with the operation in flight the
//! asker only sees its mailbox closed, the same as for a handle that was
//! already gone. [`OpAnswer`] keeps the one spawn and says `Aborted` then.

use super::SmtpSession;
use actix::dev::{MessageResponse, OneshotSender};
use actix::prelude::*;
use smtp32_protocol::Failure;
use std::pin::Pin;

/// An operation's answer: known at once (a refusal before anything was
/// sent), or the operation that will give it.
pub enum OpAnswer<T> {
    /// Known at once.
    Ready(Result<T, Failure>),
    /// The operation, spawned on the session's context when actix hands
    /// over the asker's reply channel.
    Running(Pin<Box<dyn ActorFuture<SmtpSession, Output = Result<T, Failure>>>>),
}

impl<T> OpAnswer<T> {
    /// The operation `work`, to be spawned on the session's context.
    pub(crate) fn running(
        work: impl ActorFuture<SmtpSession, Output = Result<T, Failure>> + 'static,
    ) -> OpAnswer<T> {
        OpAnswer::Running(Box::pin(work))
    }
}

impl<T> From<Result<T, Failure>> for OpAnswer<T> {
    fn from(result: Result<T, Failure>) -> OpAnswer<T> {
        OpAnswer::Ready(result)
    }
}

impl<M, T> MessageResponse<SmtpSession, M> for OpAnswer<T>
where
    M: Message<Result = Result<T, Failure>>,
    T: 'static,
{
    fn handle(self, ctx: &mut Context<SmtpSession>, tx: Option<OneshotSender<M::Result>>) {
        let mut asker = Asker(tx);
        match self {
            OpAnswer::Ready(result) => asker.tell(result),
            OpAnswer::Running(work) => {
                ctx.spawn(work.map(move |result, _, _| asker.tell(result)));
            }
        }
    }
}

/// The asker's reply channel; dropped unanswered (the actor stopped and
/// dropped the operation), it answers `Aborted`.
struct Asker<T>(Option<OneshotSender<Result<T, Failure>>>);

impl<T> Asker<T> {
    fn tell(&mut self, result: Result<T, Failure>) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(result);
        }
    }
}

impl<T> Drop for Asker<T> {
    fn drop(&mut self) {
        self.tell(Err(Failure::Aborted));
    }
}
