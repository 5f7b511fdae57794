//! Opening a connection for a client: the arguments checked, the session
//! registered under the client's limits, its connection record and traffic
//! tap made, the actor started on the client's worker thread, and the
//! connect run at once (`Sync`) or handed back to be sent after `Opened`
//! (`Async`). The relay's connection (`OpenRelay`) is opened the same way,
//! then authenticated with the daemon's own credentials.

use super::Router;
use crate::activity::Activity;
use crate::ipc::responder::Responder;
use crate::registry::ConnectionLimits;
use crate::session::messages::{Authenticate, Connect, Quit};
use crate::session::tap::EventTap;
use crate::session::SmtpSession;
use crate::smtp::{validate_arg, Route, Target, TlsContext, TlsMode, TlsPlan};
use actix::{Actor, Addr};
use smtp32_protocol::{Failure, Handle, OpenMode, Response};
use std::rc::Rc;
use std::sync::Arc;

impl Router {
    /// Opens on a task of its own and answers `Opened` or `Failed`. An
    /// asynchronous connect starts only once `Opened` is queued, so its
    /// `Event::Connected` can never overtake the handle's announcement.
    pub(super) fn answer_open(
        self: &Rc<Self>,
        responder: Responder,
        route: Result<Route, Failure>,
        tls: Option<TlsMode>,
        local: String,
        mode: OpenMode,
        debug: bool,
    ) {
        let router = self.clone();
        actix_rt::spawn(async move {
            match router.open(route, tls, local, mode, debug, false).await {
                Ok((handle, pending)) => {
                    responder.send(Response::Opened { handle }).await;
                    if let Some((session, connect)) = pending {
                        session.do_send(connect);
                    }
                }
                Err(f) => responder.send(Response::Failed(f)).await,
            }
        });
    }

    /// Checks the arguments, registers a session and connects it along `route`
    /// with TLS as `tls` says (`None`: the configured `tls.policy`), at once
    /// for `Sync`; for `Async` the caller sends the returned `Connect`. A
    /// `shared` session may be cached for every user, whatever `cache.share_across_users`.
    async fn open(
        &self,
        route: Result<Route, Failure>,
        tls: Option<TlsMode>,
        local: String,
        mode: OpenMode,
        debug: bool,
        shared: bool,
    ) -> Result<(Handle, Option<(Addr<SmtpSession>, Connect)>), Failure> {
        let route = route?;
        validate_arg("local name", &local)?;
        let settings = self.state.settings();
        let tls = TlsPlan {
            mode: tls.unwrap_or(settings.tls.policy.into()),
            context: Some(TlsContext::shared(&settings.tls).map_err(Failure::Tls)?),
            host: route.server_host(),
        };
        let registry = self.state.registry.clone();
        let (owner, out, timeout) = (self.client, self.out.clone(), settings.timeout);
        let idle = settings.idle_timeout;
        let budget = self.budget.clone();
        let (cache, mut cache_settings) = (self.state.cache.clone(), settings.cache);
        cache_settings.share_across_users |= shared;
        let (peer, server, totals) = (self.peer, route.to_string(), self.state.totals.clone());
        let limits = ConnectionLimits {
            total: settings.max_connections,
            per_client: settings.max_connections_per_client,
            per_user: peer
                .limited_uid()
                .map(|uid| (uid, settings.max_connections_per_user)),
        };
        let (handle, session) = self.state.registry.open(owner, limits, |handle| {
            let activity = Arc::new(Activity::new(
                handle,
                peer,
                server,
                local.clone(),
                timeout,
                debug,
                totals,
            ));
            let tap = Arc::new(EventTap::new(debug, out, activity.clone(), budget));
            // The session runs on this client's worker thread (see `ipc`).
            let session = SmtpSession::create(move |ctx| {
                SmtpSession::new(ctx, handle, owner, registry, tap, timeout)
                    .with_idle_timeout(idle)
                    .with_cache(cache, cache_settings)
            });
            (session, activity)
        })?;
        let connect = Connect {
            route,
            local,
            mode,
            tls,
        };
        match mode {
            OpenMode::Async => Ok((handle, Some((session, connect)))),
            OpenMode::Sync => match session.send(connect).await {
                Ok(Ok(())) => Ok((handle, None)),
                Ok(Err(f)) => Err(f),
                Err(_) => Err(Failure::Aborted),
            },
        }
    }

    /// `OpenRelay`: a synchronous open of the configured smarthost, then
    /// AUTH with the daemon's credentials when there are any. A failed AUTH
    /// closes the connection (QUIT when the dialogue is still in step).
    pub(super) async fn open_relay(&self, debug: bool) -> Result<Handle, Failure> {
        let settings = self.state.settings();
        let relay = &settings.relay;
        if relay.host.is_empty() {
            return Err(Failure::NotConfigured(
                "the daemon has no relay: set relay.host in its configuration".into(),
            ));
        }
        let target = Target::parse(&relay.host).map_err(Failure::from)?;
        let route = Ok(Route::Direct(target.endpoint));
        // Relay sessions carry the daemon's own credentials: all who may relay share them.
        let local = relay.ehlo_name();
        let (handle, _) = self
            .open(route, target.tls, local, OpenMode::Sync, debug, true)
            .await?;
        if let Some((user, secret)) = relay.credentials() {
            let msg = Authenticate {
                mechanism: None,
                user: user.to_owned(),
                secret: secret.clone(),
                allow_cleartext: settings.auth.allow_cleartext,
            };
            if let Err(cause) = self.ask(handle, msg).await {
                self.close_relay(handle).await;
                return Err(Failure::RelayAuth(Box::new(cause)));
            }
        }
        Ok(handle)
    }

    /// Ends a connection the daemon opened for itself (`open_relay`): QUIT
    /// while its session is there, then the handle is forgotten.
    pub(super) async fn close_relay(&self, handle: Handle) {
        if let Ok(session) = self.session(handle) {
            let _ = session.send(Quit).await;
        }
        self.forget(handle);
    }
}
