//! The session's TLS and AUTH operations (`smtp_starttls`, `smtp_auth`) and
//! the EHLO keywords (`smtp_ext`). Each runs like any other operation:
//! spawned under the connection's timeout and stop signal.

use super::messages::{Authenticate, GetExtensions, StartTls};
use super::phase::Effect;
use super::{Link, OpAnswer, SmtpSession};
use crate::cache::AuthProof;
use actix::prelude::*;
use smtp32_protocol::{Failure, Reply};

impl Handler<StartTls> for SmtpSession {
    type Result = OpAnswer<Reply>;

    fn handle(&mut self, _: StartTls, _: &mut Self::Context) -> Self::Result {
        let checkout = match self.checkout(false) {
            Ok(c) => c,
            Err(f) => return Err(f).into(),
        };
        // The key of a cached session says how the open did TLS; one
        // upgraded by hand no longer matches it.
        if let Some(r) = self.reuse.as_deref_mut() {
            r.cacheable = false;
        }
        let activity = self.tap.activity().clone();
        OpAnswer::running(self.operation(
            "STARTTLS",
            Effect::Neutral,
            checkout,
            move |mut client| async move {
                let result = client.starttls().await;
                activity.set_tls(client.tls_description());
                (client, result)
            },
        ))
    }
}

impl SmtpSession {
    /// Keeps `proof` of this reused connection's AUTH, so a later `smtp_auth`
    /// as the same user with the same secret is answered without a new AUTH.
    fn auth_proven(&mut self, proof: AuthProof) {
        if let Some(r) = self.reuse.as_deref_mut() {
            r.auth = Some(Box::new(proof));
            r.auth_proven = true;
        }
    }

    /// The original 235 when this reused connection is authenticated as
    /// `msg` asks (same user, same secret), still open, and AUTH would be
    /// allowed on it now.
    fn auth_from_cache(&mut self, msg: &Authenticate) -> Option<Reply> {
        let Link::Ready(client) = &mut self.link else {
            return None;
        };
        let r = self.reuse.as_deref_mut()?;
        let proof = r.auth.as_ref()?;
        let allowed = client.is_tls() || msg.allow_cleartext;
        let usable = allowed && (!r.fresh || client.is_idle_alive());
        if !usable || !proof.matches(r.cache.digester(), &msg.user, &msg.secret) {
            return None;
        }
        r.auth_proven = true;
        r.fresh = false;
        Some(proof.reply.clone())
    }
}

impl Handler<Authenticate> for SmtpSession {
    type Result = OpAnswer<Reply>;

    fn handle(&mut self, msg: Authenticate, _: &mut Self::Context) -> Self::Result {
        if let Some(reply) = self.auth_from_cache(&msg) {
            self.tap
                .note("AUTH answered from the reused connection, authenticated as asked");
            self.remember(Some(&reply));
            return Ok(reply).into();
        }
        // Authenticated as someone else: this owner needs a new connection.
        let replace = self.reuse.as_deref().is_some_and(|r| r.auth.is_some());
        let checkout = match self.checkout(replace) {
            Ok(c) => c,
            Err(f) => return Err(f).into(),
        };
        let proof = self
            .reuse
            .as_deref()
            .map(|r| (r.cache.clone(), msg.user.clone(), msg.secret.clone()));
        let done = self.operation(
            "AUTH",
            Effect::Neutral,
            checkout,
            move |mut client| async move {
                let result = client
                    .authenticate(msg.mechanism, &msg.user, &msg.secret, msg.allow_cleartext)
                    .await;
                (client, result)
            },
        );
        OpAnswer::running(done.map(move |result, act, _| {
            if let (Ok(reply), Some((cache, user, secret))) = (&result, proof) {
                let proof = AuthProof::new(cache.digester(), &user, &secret, reply.clone());
                act.auth_proven(proof);
            }
            result
        }))
    }
}

impl Handler<GetExtensions> for SmtpSession {
    type Result = Result<Vec<String>, Failure>;

    fn handle(&mut self, _: GetExtensions, _: &mut Self::Context) -> Self::Result {
        match &self.link {
            Link::Ready(client) => Ok(client.keywords().map(str::to_owned).collect()),
            _ => Err(self.unavailable()),
        }
    }
}
