//! Turns one client request into actor messages and one response.
//!
//! The router is the only place that checks a handle's owner (through the
//! registry). Each request gets a [`Responder`], which counts and logs its
//! answer (call lines at level 2, error lines at level 1) and queues it.
//! The message path (commands, data, `sendmsg`, `send_many`) is handed to
//! the session with its responder and no task of the router's waits for
//! it; what the router answers itself at once (a ping, the status, the
//! metrics) is answered there; every other request runs on a task of its
//! own. Admin requests are handed to [`super::admin`]; while the daemon
//! shuts down, requests that would start new work (a connection, a mail
//! transaction) are refused here with `Failure::ShuttingDown`.

use super::admin;
use super::responder::{Answering, Hold, Responder};
use crate::activity::Activity;
use crate::budget::ClientBudget;
use crate::peer::Peer;
use crate::peer::{ClientId, Viewer};
use crate::registry::ConnectionLimits;
use crate::session::answer::{Tell, Told};
use crate::session::messages::{
    Authenticate, BeginMessage, Connect, GetExtensions, GetLastReply, Operation, Perform, Quit,
    SendBatch, SendMessage, SetDebug, SetTimeout, StartTls, XQuit,
};
use crate::session::tap::EventTap;
use crate::session::{phase, SmtpSession};
use crate::smtp::{validate_arg, CheckedCommand, Route, Target, TlsContext, TlsMode, TlsPlan};
use crate::state::DaemonState;
use actix::{Actor, Addr, Handler, MailboxError, Message};
use smtp32_protocol::{
    timeout_seconds, DaemonFrame, Failure, Handle, OpenMode, Request, RequestId, Response,
    Submission,
};
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Serves the requests of one client.
pub struct Router {
    state: Arc<DaemonState>,
    client: ClientId,
    peer: Peer,
    out: mpsc::Sender<DaemonFrame>,
    /// The client's bytes in the daemon, shared by its writer and every tap of its connections.
    budget: Arc<ClientBudget>,
}

impl Router {
    /// A router for `client`, whose socket credentials are `peer`, answering
    /// through `out`; responses and traffic copies count against `budget`,
    /// which the client's writer gives back as it writes them.
    pub fn new(
        state: Arc<DaemonState>,
        client: ClientId,
        peer: Peer,
        out: mpsc::Sender<DaemonFrame>,
        budget: Arc<ClientBudget>,
    ) -> Router {
        Router {
            state,
            client,
            peer,
            out,
            budget,
        }
    }

    /// Who asks an admin request, with admin status as the configuration in
    /// force now says (so a reload that changes `admin_group` applies to
    /// clients already connected). The group look-up may block on the user
    /// database (NSS, LDAP), so it runs on the blocking pool, not here.
    async fn viewer(&self) -> Viewer {
        let group = self.state.settings().admin_group.clone();
        let peer = self.peer;
        let admin = match peer.admin_without_lookup(&group) {
            Some(known) => known,
            None => tokio::task::spawn_blocking(move || peer.is_admin(&group))
                .await
                .unwrap_or(false),
        };
        Viewer { peer, admin }
    }

    /// True when the connection behind `handle` (this client's) is inside an
    /// AUTH exchange, as its traffic shows.
    fn in_auth_exchange(&self, handle: Handle) -> bool {
        self.state
            .registry
            .activity(self.client, handle)
            .is_some_and(|a| a.in_auth_exchange())
    }

    /// Serves one request; `hold` is given back once it is answered. Returns
    /// at once: what waits runs in the request's session or on its own task.
    pub fn dispatch(self: &Rc<Self>, id: RequestId, request: Request, hold: Hold) {
        let answering = Answering {
            client: self.client,
            totals: &self.state.totals,
            out: &self.out,
        };
        let responder = Responder::new(
            answering,
            id,
            &request,
            |handle| self.in_auth_exchange(handle),
            hold,
        );
        if self.state.lifecycle.is_shutting_down() && starts_new_work(&request) {
            return responder.answer(Response::Failed(Failure::ShuttingDown));
        }
        self.route(request, responder);
    }

    /// One match for every request.
    fn route(self: &Rc<Self>, request: Request, responder: Responder) {
        match request {
            // Checked once, here: the session and the connection only carry it.
            Request::Command { handle, command } => match CheckedCommand::new(command) {
                Ok(checked) => self.perform(handle, Operation::Command(checked), responder),
                Err(e) => responder.answer(Response::Failed(Failure::from(e))),
            },
            Request::DataChunk { handle, bytes } => {
                self.perform(handle, Operation::DataChunk(bytes), responder)
            }
            Request::DataEnd { handle } => self.perform(handle, Operation::DataEnd, responder),
            Request::SendMessage {
                handle,
                from,
                rcpts,
                data,
            } => {
                let msg = SendMessage {
                    from,
                    rcpts,
                    data,
                    dsn: None,
                };
                self.hand_over(handle, msg, responder, |sent| {
                    sent.map_or_else(Response::Failed, Response::Sent)
                })
            }
            Request::SendBatch { handle, messages } => {
                self.hand_over(handle, SendBatch { messages }, responder, |outcomes| {
                    outcomes.map_or_else(Response::Failed, Response::SentBatch)
                })
            }
            Request::Ping { payload } => responder.answer(Response::Pong { payload }),
            Request::Status => responder.answer(admin::status(&self.state)),
            Request::Metrics => responder.answer(Response::Metrics {
                text: crate::metrics::render(&self.state),
            }),
            Request::ListConnections => self.later(responder, |r| async move {
                admin::list(&r.state, &r.viewer().await)
            }),
            Request::ShowConnection { handle } => self.later(responder, move |r| async move {
                admin::show(&r.state, &r.viewer().await, handle)
            }),
            Request::CloseConnection { handle } => self.later(responder, move |r| async move {
                admin::close(&r.state, &r.viewer().await, handle).await
            }),
            Request::Reload => self.later(responder, |r| async move {
                admin::reload(&r.state, &r.viewer().await)
            }),
            Request::Shutdown => self.later(responder, |r| async move {
                admin::shutdown(&r.state, &r.viewer().await)
            }),
            Request::Open {
                host,
                local,
                mode,
                debug,
            } => {
                let target = Target::parse(&host).map_err(Failure::from);
                let (route, tls) = match target {
                    Ok(t) => (Ok(Route::Direct(t.endpoint)), t.tls),
                    Err(f) => (Err(f), None),
                };
                self.answer_open(responder, route, tls, local, mode, debug)
            }
            Request::OpenViaSocks {
                route,
                local,
                debug,
            } => {
                let route = route.check().map(|()| Route::Socks(route));
                self.answer_open(responder, route, None, local, OpenMode::Sync, debug)
            }
            Request::OpenRelay { debug } => self.later(responder, move |r| async move {
                match r.open_relay(debug).await {
                    Ok(handle) => Response::Opened { handle },
                    Err(f) => Response::Failed(f),
                }
            }),
            Request::StartTls { handle } => self.later(responder, move |r| async move {
                let reply = r.ask(handle, StartTls).await;
                reply.map_or_else(Response::Failed, Response::Reply)
            }),
            Request::Auth {
                handle,
                mechanism,
                user,
                secret,
            } => {
                let allow_cleartext = self.state.settings().auth.allow_cleartext;
                let msg = Authenticate {
                    mechanism,
                    user,
                    secret,
                    allow_cleartext,
                };
                self.later(responder, move |r| async move {
                    let reply = r.ask(handle, msg).await;
                    reply.map_or_else(Response::Failed, Response::Reply)
                })
            }
            Request::Extensions { handle } => self.later(responder, move |r| async move {
                let extensions = r.ask(handle, GetExtensions).await;
                extensions.map_or_else(Response::Failed, Response::Extensions)
            }),
            Request::SendBegin {
                handle,
                from,
                rcpts,
                size,
                eight_bit,
            } => {
                let msg = BeginMessage {
                    from,
                    rcpts,
                    size,
                    eight_bit,
                };
                self.later(responder, move |r| async move {
                    let envelope = r.ask(handle, msg).await;
                    envelope.map_or_else(Response::Failed, |e| Response::Envelope {
                        mail: e.mail,
                        recipients: e.recipients,
                    })
                })
            }
            Request::LastReply { handle } => self.later(responder, move |r| async move {
                match r.session(handle) {
                    Ok(s) => s
                        .send(GetLastReply)
                        .await
                        .map(Response::LastReply)
                        .unwrap_or_else(gone),
                    Err(f) => Response::Failed(f),
                }
            }),
            Request::SetTimeout { handle, seconds } => match timeout_seconds(seconds.into()) {
                Err(why) => responder.answer(Response::Failed(Failure::InvalidArgument(why))),
                Ok(seconds) => self.later(responder, move |r| async move {
                    r.tell(handle, SetTimeout(seconds)).await
                }),
            },
            Request::SetDebug { handle, enabled } => self.later(responder, move |r| async move {
                r.tell(handle, SetDebug(enabled)).await
            }),
            Request::Quit { handle } => self.later(responder, move |r| async move {
                match r.session(handle) {
                    Ok(s) => match s.send(Quit).await {
                        Ok(Ok(())) => r.forget(handle),
                        Ok(Err(f)) => Response::Failed(f),
                        Err(e) => gone(e),
                    },
                    Err(f) => Response::Failed(f),
                }
            }),
            Request::XQuit { handle } => self.later(responder, move |r| async move {
                match r.session(handle) {
                    Ok(s) => {
                        let _ = s.send(XQuit).await;
                        r.forget(handle)
                    }
                    Err(f) => Response::Failed(f),
                }
            }),
            Request::QueueSubmit(submission) => self.later(responder, move |r| async move {
                r.queue_submit(*submission).await
            }),
            Request::QueueList => self.later(responder, |r| async move {
                match r.state.queue.get(&r.state.settings()) {
                    Ok(queue) => Response::QueueEntries(queue.list(&r.viewer().await)),
                    Err(f) => Response::Failed(f),
                }
            }),
            Request::QueueFlush { id } => self.later(responder, move |r| async move {
                match r.state.queue.get(&r.state.settings()) {
                    Ok(queue) => {
                        let flushed = queue.flush(&r.viewer().await, id.as_deref());
                        flushed.map_or_else(Response::Failed, |()| Response::Done)
                    }
                    Err(f) => Response::Failed(f),
                }
            }),
            Request::QueueDelete { id } => self.later(responder, move |r| async move {
                match r.state.queue.get(&r.state.settings()) {
                    Ok(queue) => {
                        let viewer = r.viewer().await;
                        let deleted =
                            actix_rt::task::spawn_blocking(move || queue.delete(&viewer, &id))
                                .await;
                        deleted
                            .unwrap_or(Err(Failure::Aborted))
                            .map_or_else(Response::Failed, |()| Response::Done)
                    }
                    Err(f) => Response::Failed(f),
                }
            }),
        }
    }

    /// Runs `work` on a task of its own and answers with what it gives.
    fn later<F, W>(self: &Rc<Self>, responder: Responder, work: W)
    where
        W: FnOnce(Rc<Router>) -> F,
        F: Future<Output = Response> + 'static,
    {
        let work = work(self.clone());
        actix_rt::spawn(async move { responder.send(work.await).await });
    }

    /// Hands `message` to the handle's session with `responder`, which the
    /// session answers through (`into` turns its result into the response)
    /// when the operation ends.
    fn hand_over<M, T>(
        &self,
        handle: Handle,
        message: M,
        responder: Responder,
        into: fn(Result<T, Failure>) -> Response,
    ) where
        M: Message<Result = Result<T, Failure>> + Send + 'static,
        T: Send + 'static,
        SmtpSession: Handler<Told<M, Answer<M::Result>>>,
    {
        let told = Told {
            message,
            tell: Answer { responder, into },
        };
        // Not found, not this client's, or stopped (xquit, quit, failed
        // connect) since it was registered.
        if let Err(told) = self.state.registry.do_send(self.client, handle, told) {
            told.tell
                .responder
                .answer(Response::Failed(Failure::InvalidHandle));
        }
    }

    fn perform(&self, handle: Handle, op: Operation, responder: Responder) {
        self.hand_over(handle, Perform(op), responder, |done| match done {
            Ok(Some(reply)) => Response::Reply(reply),
            Ok(None) => Response::Done,
            Err(f) => Response::Failed(f),
        })
    }

    fn session(&self, handle: Handle) -> Result<Addr<SmtpSession>, Failure> {
        self.state.registry.lookup(self.client, handle)
    }

    fn forget(&self, handle: Handle) -> Response {
        self.state.registry.remove(self.client, handle);
        Response::Done
    }

    async fn tell<M>(&self, handle: Handle, msg: M) -> Response
    where
        M: actix::Message<Result = ()> + Send + 'static,
        SmtpSession: actix::Handler<M>,
    {
        match self.session(handle) {
            Ok(s) => s
                .send(msg)
                .await
                .map(|()| Response::Done)
                .unwrap_or_else(gone),
            Err(f) => Response::Failed(f),
        }
    }

    /// Sends `msg` to the handle's session and waits for its result.
    async fn ask<M, T>(&self, handle: Handle, msg: M) -> Result<T, Failure>
    where
        M: actix::Message<Result = Result<T, Failure>> + Send + 'static,
        T: Send + 'static,
        SmtpSession: actix::Handler<M>,
    {
        let session = self.session(handle)?;
        session
            .send(msg)
            .await
            .unwrap_or(Err(Failure::InvalidHandle))
    }

    /// `OpenRelay`: a synchronous open of the configured smarthost, then
    /// AUTH with the daemon's credentials when there are any. A failed AUTH
    /// closes the connection (QUIT when the dialogue is still in step).
    async fn open_relay(&self, debug: bool) -> Result<Handle, Failure> {
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
                if let Ok(session) = self.session(handle) {
                    let _ = session.send(Quit).await;
                }
                self.forget(handle);
                return Err(Failure::RelayAuth(Box::new(cause)));
            }
        }
        Ok(handle)
    }

    /// `QueueSubmit`: rewritten for the relay (`relay.from`, `maildomain`,
    /// `aliases`), then into the queue (on disk before `Queued` is
    /// answered), or, with `relay.queue = false`, through the relay at once.
    async fn queue_submit(&self, submission: Submission) -> Response {
        let settings = self.state.settings();
        let host = crate::platform::machine_hostname().unwrap_or_else(|| "localhost".into());
        let submission = crate::queue::rewrite::apply(&settings.relay, &host, submission);
        if !settings.relay.queue {
            return self.send_now(submission).await;
        }
        let Some(uid) = self.peer.uid else {
            let why = "the daemon cannot tell which user you are (no peer credentials)";
            return Response::Failed(Failure::NotPermitted(why.into()));
        };
        let queue = match self.state.queue.get(&self.state.settings()) {
            Ok(queue) => queue,
            Err(f) => return Response::Failed(f),
        };
        let uid = crate::platform::wire_uid(uid);
        match actix_rt::task::spawn_blocking(move || queue.submit(uid, submission)).await {
            Ok(Ok(id)) => Response::Queued { id },
            Ok(Err(f)) => Response::Failed(f),
            Err(_) => Response::Failed(Failure::Aborted),
        }
    }

    /// The send-now path of `relay.queue = false`: `OpenRelay`, `SendMessage`, QUIT.
    async fn send_now(&self, submission: Submission) -> Response {
        if self.state.lifecycle.is_shutting_down() {
            return Response::Failed(Failure::ShuttingDown);
        }
        let handle = match self.open_relay(false).await {
            Ok(handle) => handle,
            Err(f) => return Response::Failed(f),
        };
        let Submission {
            from,
            rcpts,
            data,
            notify,
            ret,
            envid,
        } = submission;
        let dsn = crate::queue::dsn_request(&notify, &ret, &envid).map(Box::new);
        let result = self
            .ask(
                handle,
                SendMessage {
                    from,
                    rcpts,
                    data,
                    dsn,
                },
            )
            .await;
        if let Ok(session) = self.session(handle) {
            let _ = session.send(Quit).await;
        }
        self.forget(handle);
        result.map_or_else(Response::Failed, Response::Sent)
    }

    /// The queue runner's send: `SendMessage` with DSN parameters, which no
    /// client request carries; answered and counted as `SendMessage` is.
    pub async fn send_queued(&self, handle: Handle, msg: SendMessage) -> Response {
        match self.ask(handle, msg).await {
            Ok(report) => {
                self.state.totals.message_accepted();
                Response::Sent(report)
            }
            Err(f) => {
                self.state.totals.failed(&f);
                Response::Failed(f)
            }
        }
    }

    /// Opens on a task of its own and answers `Opened` or `Failed`. An
    /// asynchronous connect starts only once `Opened` is queued, so its
    /// `Event::Connected` can never overtake the handle's announcement.
    fn answer_open(
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
}

/// A session's result `R` on its way to the client: made a response by `into`.
struct Answer<R> {
    responder: Responder,
    into: fn(R) -> Response,
}

impl<R: 'static> Tell<R> for Answer<R> {
    fn tell(self, result: R) {
        self.responder.answer((self.into)(result));
    }
}

/// True for a request that would start new work: refused while shutting down.
/// Requests on a transaction already open (RCPT, DATA...) go on, so a message
/// under way can still finish within the grace period.
fn starts_new_work(request: &Request) -> bool {
    match request {
        Request::Open { .. }
        | Request::OpenViaSocks { .. }
        | Request::OpenRelay { .. }
        | Request::SendMessage { .. }
        | Request::SendBegin { .. }
        | Request::SendBatch { .. } => true,
        Request::Command { command, .. } => phase::opens_transaction(command),
        _ => false,
    }
}

/// The session's mailbox is closed: it stopped (xquit, quit, failed connect)
/// between the lookup and the message.
fn gone(_: MailboxError) -> Response {
    Response::Failed(Failure::InvalidHandle)
}
