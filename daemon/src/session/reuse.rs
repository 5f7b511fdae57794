//! The session's side of the connection cache ([`crate::cache`]).
//!
//! An open whose key matches an idle session takes it in its `Connect`, with
//! no traffic. The binding is lazy where the key cannot be known at the open:
//! who the connection is authenticated as. A reused session authenticated by
//! someone the new owner has not proven to be (an `smtp_auth` with the same
//! user and secret) is never used for a command: the first operation that
//! needs the connection replaces it with a new one (QUIT to the old one), as
//! it does when the reused connection turns out to be closed. A command that
//! is the first on a reused connection and finds it closed is sent again on a
//! new connection; no later command ever is (after MAIL was accepted a resend
//! could deliver twice).
//!
//! `smtp_quit` parks the connection instead of sending QUIT when the session
//! is clean: no transaction open, last reply 2xx, nothing done that the key
//! does not describe (an explicit STARTTLS, a `smtp_direct` or TURN line,
//! which could change the server's view of the session in ways the cache
//! cannot see).

use super::{Link, SmtpSession};
use crate::cache::{AuthProof, ConnectionCache, Parked, SessionKey};
use crate::config::CacheSettings;
use crate::smtp::{Route, SmtpClient, SmtpError, TlsPlan, TrafficTap};
use smtp32_protocol::{Command, ConnectionState, Failure, Reply};
use std::sync::Arc;

/// What a session knows about its place in the connection cache.
pub(super) struct Reuse {
    pub(super) cache: Arc<ConnectionCache>,
    pub(super) settings: CacheSettings,
    /// `None`: this session is never parked (owner's uid unknown).
    pub(super) key: Option<SessionKey>,
    /// How to open a replacement connection; kept only for a reused one.
    pub(super) plan: Option<Box<ReconnectPlan>>,
    /// The code and first line of the open's EHLO reply; its other lines are
    /// the client's keywords (kept once, not twice per connection).
    pub(super) ehlo_head: Option<(u16, String)>,
    /// Who the connection is authenticated as.
    pub(super) auth: Option<Box<AuthProof>>,
    /// True once this session's owner did the AUTH or proved the same identity.
    pub(super) auth_proven: bool,
    /// Taken from the cache; no operation has used the connection yet.
    pub(super) fresh: bool,
    /// False once the session did something its key does not describe.
    pub(super) cacheable: bool,
    /// Mail transactions the connection has carried.
    pub(super) transactions: u32,
}

impl Reuse {
    /// Cache state for a new session under `settings`.
    pub(super) fn new(cache: Arc<ConnectionCache>, settings: CacheSettings) -> Reuse {
        Reuse {
            cache,
            settings,
            key: None,
            plan: None,
            ehlo_head: None,
            auth: None,
            auth_proven: false,
            fresh: false,
            cacheable: true,
            transactions: 0,
        }
    }
}

/// Enough to open the same connection again.
#[derive(Clone)]
pub(super) struct ReconnectPlan {
    pub(super) route: Route,
    pub(super) local: String,
    pub(super) tls: TlsPlan,
}

impl ReconnectPlan {
    async fn connect(&self, tap: Arc<dyn TrafficTap>) -> Result<Box<SmtpClient>, SmtpError> {
        let (mut client, _ehlo) =
            SmtpClient::connect_with(&self.route, &self.local, self.tls.clone(), tap).await?;
        client.release_idle();
        Ok(Box::new(client))
    }
}

/// The connection an operation will use: the session's own, or a new one
/// opened in the operation's future (under its timeout and cancel).
///
/// Most checkouts are the session's own connection and nothing else: what a
/// reconnect needs (the plan, the tap, the cache) comes only with those
/// that may reconnect, not cloned for every request.
pub(super) struct Checkout {
    client: Option<Box<SmtpClient>>,
    /// Reconnect first (`client` is `None`), or retry once on a closed connection.
    /// Boxed: needed only on a reused connection's first request, and inline
    /// it made every operation's future larger than the allocator's
    /// per-thread cache takes (1 KiB).
    again: Option<Box<Resend>>,
}

impl Checkout {
    /// The client to use, and the plan to reconnect with if its first
    /// command finds it closed.
    pub(super) async fn open(self) -> Result<(Box<SmtpClient>, Option<Box<Resend>>), SmtpError> {
        match (self.client, self.again) {
            (Some(client), again) => Ok((client, again)),
            // Boxed: a connect's state (TCP, TLS, EHLO) is kilobytes, and
            // inline it would be moved with every operation's future.
            (None, Some(again)) => Ok((Box::pin(again.plan.connect(again.tap)).await?, None)),
            (None, None) => Err(SmtpError::Closed),
        }
    }
}

/// A first command on a reused connection may be sent once more on a new one.
pub(super) struct Resend {
    plan: ReconnectPlan,
    tap: Arc<dyn TrafficTap>,
    cache: Arc<ConnectionCache>,
}

impl Resend {
    /// True for the errors that mean the server hung up before answering.
    pub(super) fn applies(error: &SmtpError) -> bool {
        matches!(error, SmtpError::Closed | SmtpError::Io(_))
    }

    /// A new connection for the resend.
    pub(super) async fn reconnect(self) -> Result<Box<SmtpClient>, SmtpError> {
        self.cache.count_reconnect();
        // Boxed for the reason given in `Checkout::open`.
        Box::pin(self.plan.connect(self.tap)).await
    }
}

impl SmtpSession {
    /// Takes the connection for an operation. A reused connection that is
    /// closed, or authenticated as someone this owner has not proven to be,
    /// or that `replace` rules out, is given up for a new one.
    pub(super) fn checkout(&mut self, replace: bool) -> Result<Checkout, Failure> {
        let mut client = self.take_ready()?;
        let Some(r) = self.reuse.as_deref_mut() else {
            return Ok(Checkout {
                client: Some(client),
                again: None,
            });
        };
        let fresh = std::mem::take(&mut r.fresh);
        let foreign_auth = r.auth.is_some() && !r.auth_proven;
        let dead = fresh && !client.is_idle_alive();
        // What a reconnect needs, made only for a checkout that may use it
        // (a request on a session long reused no longer does).
        let again = |plan: &ReconnectPlan, cache: &Arc<ConnectionCache>| {
            Box::new(Resend {
                plan: plan.clone(),
                tap: self.tap.clone(),
                cache: cache.clone(),
            })
        };
        match r.plan.as_deref() {
            Some(plan) if replace || foreign_auth || dead => {
                let again = again(plan, &r.cache);
                r.auth = None;
                r.auth_proven = false;
                r.transactions = 0;
                r.cache.count_reconnect();
                if !dead {
                    actix_rt::spawn(async move { client.quit().await });
                }
                let why = if dead {
                    "was closed by the server"
                } else {
                    "is authenticated differently"
                };
                self.tap
                    .note(&format!("the reused connection {why}: opening a new one"));
                Ok(Checkout {
                    client: None,
                    again: Some(again),
                })
            }
            plan => Ok(Checkout {
                client: Some(client),
                again: plan.filter(|_| fresh).map(|plan| again(plan, &r.cache)),
            }),
        }
    }

    /// Takes an idle session for this open when the cache has one with its
    /// key; returns the EHLO reply to keep, or `None` when a connect is needed.
    pub(super) fn adopt_cached(
        &mut self,
        route: &Route,
        local: &str,
        tls: &TlsPlan,
    ) -> Option<Reply> {
        let uid = self.tap.activity().owner().uid;
        let r = self.reuse.as_deref_mut()?;
        let owner = if r.settings.share_across_users {
            None
        } else {
            Some(uid?)
        };
        let key = SessionKey::new(r.cache.digester(), route, local, tls, owner);
        let parked = if r.settings.enabled() {
            r.cache.take(&key)
        } else {
            None
        };
        r.key = Some(key);
        let mut parked = parked?;
        // Only a reused connection may need replacing: a new one keeps no plan.
        r.plan = Some(Box::new(ReconnectPlan {
            route: route.clone(),
            local: local.to_owned(),
            tls: tls.clone(),
        }));
        parked.client.set_tap(self.tap.clone());
        r.ehlo_head = Some(ehlo_head(&parked.ehlo));
        r.auth = parked.auth;
        r.auth_proven = false;
        r.fresh = true;
        r.transactions = parked.transactions;
        let activity = self.tap.activity();
        activity.set_tls(parked.client.tls_description());
        self.tap.note(&format!(
            "reusing a cached connection to {} (no network traffic; {} transactions so far)",
            route, parked.transactions
        ));
        self.link = Link::Ready(parked.client);
        Some(parked.ehlo)
    }

    /// `smtp_quit` on a clean session: park its connection. Gives the client
    /// back when it must get QUIT instead.
    pub(super) fn try_park(&mut self, client: Box<SmtpClient>) -> Option<Box<SmtpClient>> {
        let clean = self.tap.activity().state() == ConnectionState::Ready
            && self
                .last_reply
                .as_ref()
                .is_some_and(|r| (200..300).contains(&r.code));
        let activity = self.tap.activity().clone();
        let Some(r) = self.reuse.as_deref_mut() else {
            return Some(client);
        };
        let (Some(key), Some(ehlo)) = (r.key, r.ehlo_head.as_ref().map(|h| ehlo_reply(h, &client)))
        else {
            return Some(client);
        };
        if !clean || !r.cacheable || !r.settings.enabled() {
            return Some(client);
        }
        let parked = Parked {
            client,
            key,
            ehlo,
            auth: r.auth.take(),
            transactions: r.transactions,
            activity,
        };
        r.cache.park(parked, &r.settings)
    }

    /// Before `command` goes out: a `smtp_direct` or TURN line may change the
    /// server's view of the session in ways its key cannot tell, so the
    /// session gets QUIT at `smtp_quit` instead of being parked.
    pub(super) fn note_command(&mut self, command: &Command) {
        if let Some(r) = self.reuse.as_deref_mut() {
            if matches!(command, Command::Direct { .. } | Command::Turn) {
                r.cacheable = false;
            }
        }
    }
}

/// What a session keeps of its EHLO reply: the code and the first line.
pub(super) fn ehlo_head(reply: &Reply) -> (u16, String) {
    (
        reply.code,
        reply.lines.first().map(str::to_owned).unwrap_or_default(),
    )
}

/// The EHLO reply again, from its first line and the client's keywords.
fn ehlo_reply((code, head): &(u16, String), client: &SmtpClient) -> Reply {
    let lines = std::iter::once(head.clone())
        .chain(client.keywords().map(str::to_owned))
        .collect();
    Reply { code: *code, lines }
}
