//! How a session answers a message that runs an SMTP operation: the
//! operation is a future of the actor (it can touch the session when it
//! ends), spawned on the actor's context, and its result goes straight to
//! the asker: into its reply channel (`Addr::send`), or into the callback a
//! [`Told`] message carries, which runs on the actor's thread when the
//! operation ends.
//!
//! actix's own `ResponseFuture` costs a second tokio task per operation (it
//! spawns one that awaits the future and forwards its result) and asked for
//! a second oneshot to carry the result out of the actor; `ResponseActFuture`
//! has neither, but when the actor stops with the operation in flight the
//! asker only sees its mailbox closed, the same as for a handle that was
//! already gone. [`OpAnswer`] keeps the one spawn and says `Aborted` then.
//! [`Told`] goes further for a caller that would only await the answer to
//! pass it on (the IPC router): no channel and no task of the caller's, and
//! the operation is spawned as it was built, not boxed first into an
//! [`OpAnswer`] (one allocation a request less on the message path).

use super::messages::{Perform, SendBatch, SendMessage};
use super::SmtpSession;
use actix::dev::{MessageResponse, OneshotSender};
use actix::prelude::*;
use smtp32_protocol::{BatchOutcome, Failure, Reply, SendReport};
use std::pin::Pin;

/// An operation's answer: known at once (a refusal before anything was
/// sent), or the operation `F` that will give it.
pub enum Answer<T, F> {
    /// Known at once.
    Ready(Result<T, Failure>),
    /// The operation, spawned on the session's context when the asker's
    /// reply channel (or callback) is at hand.
    Running(F),
}

/// An [`Answer`] whose operation is boxed: what a handler returns to actix.
pub type OpAnswer<T> =
    Answer<T, Pin<Box<dyn ActorFuture<SmtpSession, Output = Result<T, Failure>>>>>;

impl<T: 'static> OpAnswer<T> {
    /// The operation `work`, to be spawned on the session's context.
    pub(crate) fn running(
        work: impl ActorFuture<SmtpSession, Output = Result<T, Failure>> + 'static,
    ) -> OpAnswer<T> {
        Answer::Running(Box::pin(work))
    }
}

impl<T: 'static, F> Answer<T, F>
where
    F: ActorFuture<SmtpSession, Output = Result<T, Failure>> + 'static,
{
    /// The answer with its operation boxed, for actix.
    pub(crate) fn boxed(self) -> OpAnswer<T> {
        match self {
            Answer::Ready(result) => Answer::Ready(result),
            Answer::Running(work) => OpAnswer::running(work),
        }
    }

    /// Gives the answer to `tell`: at once, or when the operation ends. If
    /// the actor stops first, `tell` is dropped uncalled.
    fn deliver(
        self,
        ctx: &mut Context<SmtpSession>,
        tell: impl FnOnce(Result<T, Failure>) + 'static,
    ) {
        match self {
            Answer::Ready(result) => tell(result),
            Answer::Running(work) => {
                ctx.spawn(work.map(move |result, _, _| tell(result)));
            }
        }
    }
}

impl<T, F> From<Result<T, Failure>> for Answer<T, F> {
    fn from(result: Result<T, Failure>) -> Answer<T, F> {
        Answer::Ready(result)
    }
}

impl<M, T> MessageResponse<SmtpSession, M> for OpAnswer<T>
where
    M: Message<Result = Result<T, Failure>>,
    T: 'static,
{
    fn handle(self, ctx: &mut Context<SmtpSession>, tx: Option<OneshotSender<M::Result>>) {
        let mut asker = Asker(tx);
        self.deliver(ctx, move |result| asker.tell(result));
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

/// `message`, whose result is given to `tell` on the session's thread
/// instead of being sent back through a channel. A `tell` dropped untold
/// (the session stopped first) must answer for itself, from its `Drop`.
pub struct Told<M, F> {
    pub message: M,
    pub tell: F,
}

/// Who takes a [`Told`] message's result `R`.
pub trait Tell<R>: 'static {
    fn tell(self, result: R);
}

impl<M, F> Message for Told<M, F> {
    type Result = ();
}

/// The handler of each message on the message path, and of its `Told`,
/// from the session's method that answers it with a `T` (`fn(&mut self, M)
/// -> Answer<T, impl ActorFuture>`). (One `Told` impl for any such message
/// made the compiler, asked about a `Told` of a message it did not know
/// yet, look for a `Told` of a `Told`, and so on.)
macro_rules! told {
    ($($message:ty => $answer:ident: $value:ty),*) => {$(
        impl Handler<$message> for SmtpSession {
            type Result = OpAnswer<$value>;

            fn handle(&mut self, message: $message, _: &mut Self::Context) -> Self::Result {
                self.$answer(message).boxed()
            }
        }

        impl<F> Handler<Told<$message, F>> for SmtpSession
        where
            F: Tell<<$message as Message>::Result>,
        {
            type Result = ();

            fn handle(&mut self, told: Told<$message, F>, ctx: &mut Self::Context) {
                let tell = told.tell;
                self.$answer(told.message)
                    .deliver(ctx, move |result| tell.tell(result));
            }
        }
    )*};
}

told!(
    Perform => perform: Option<Reply>,
    SendMessage => send_message: SendReport,
    SendBatch => send_batch: Vec<BatchOutcome>
);
