//! The session's TLS and AUTH operations (`smtp_starttls`, `smtp_auth`) and
//! the EHLO keywords (`smtp_ext`). Each runs like any other operation:
//! spawned under the connection's timeout and cancel token.

use super::messages::{Authenticate, GetExtensions, StartTls};
use super::phase::Effect;
use super::{Link, SmtpSession};
use crate::smtp::SmtpClient;
use actix::prelude::*;
use smtp32_protocol::{Failure, Reply};

impl SmtpSession {
    /// Takes the idle client for an operation, or says why there is none.
    pub(super) fn take_ready(&mut self) -> Result<SmtpClient, Failure> {
        match std::mem::replace(&mut self.link, Link::Busy) {
            Link::Ready(client) => Ok(client),
            other => {
                self.link = other;
                Err(self.unavailable())
            }
        }
    }
}

impl Handler<StartTls> for SmtpSession {
    type Result = ResponseFuture<Result<Reply, Failure>>;

    fn handle(&mut self, _: StartTls, ctx: &mut Self::Context) -> Self::Result {
        let mut client = match self.take_ready() {
            Ok(c) => c,
            Err(f) => return Box::pin(std::future::ready(Err(f))),
        };
        let activity = self.tap.activity().clone();
        activity.begin("STARTTLS".into());
        self.spawn_op(ctx, Effect::Neutral, async move {
            let result = client.starttls().await;
            activity.set_tls(client.tls_description());
            (client, result)
        })
    }
}

impl Handler<Authenticate> for SmtpSession {
    type Result = ResponseFuture<Result<Reply, Failure>>;

    fn handle(&mut self, msg: Authenticate, ctx: &mut Self::Context) -> Self::Result {
        let mut client = match self.take_ready() {
            Ok(c) => c,
            Err(f) => return Box::pin(std::future::ready(Err(f))),
        };
        self.tap.activity().begin("AUTH".into());
        self.spawn_op(ctx, Effect::Neutral, async move {
            let result = client.authenticate(msg.mechanism, &msg.user, &msg.secret, msg.allow_cleartext).await;
            (client, result)
        })
    }
}

impl Handler<GetExtensions> for SmtpSession {
    type Result = Result<Vec<String>, Failure>;

    fn handle(&mut self, _: GetExtensions, _: &mut Self::Context) -> Self::Result {
        match &self.link {
            Link::Ready(client) => Ok(client.keywords().to_vec()),
            _ => Err(self.unavailable()),
        }
    }
}
