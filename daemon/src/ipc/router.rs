//! Turns one client request into actor messages and one response.
//!
//! The router is the only place that checks a handle's owner (through the
//! registry), and the only place that writes the debug log's call lines
//! (level 2) and error lines (level 1). Admin requests are handed to
//! [`super::admin`]; while the daemon shuts down, requests that would start
//! new work (a connection, a mail transaction) are refused here with
//! `Failure::ShuttingDown`.

use super::admin;
use crate::activity::Activity;
use crate::budget::{charge_of, ClientBudget};
use crate::logging::{CALL_TARGET, ERROR_TARGET};
use crate::peer::Peer;
use crate::peer::{ClientId, Viewer};
use crate::registry::ConnectionLimits;
use crate::session::messages::{
    Authenticate, BeginMessage, Connect, GetExtensions, GetLastReply, Operation, Perform, Quit,
    SendBatch, SendMessage, SetDebug, SetTimeout, StartTls, XQuit,
};
use crate::session::tap::EventTap;
use crate::session::{phase, SmtpSession};
use crate::smtp::{redact, validate_arg, Route, Target, TlsContext, TlsMode, TlsPlan};
use crate::state::DaemonState;
use actix::{Actor, Addr, MailboxError};
use smtp32_protocol::{
    Command, DaemonFrame, Failure, Handle, OpenMode, Request, RequestId, Response, Submission,
};
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::{debug, warn};

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

    /// Serves one request and queues its response.
    pub async fn serve(&self, id: RequestId, request: Request) {
        // What the log line names: kept cheaply now (the request moves on),
        // made text only if a line is written.
        let summary = Summary::of(&request, |handle| self.in_auth_exchange(handle));
        let (verb, started) = (crate::observed::verb(&request), std::time::Instant::now());
        let is_data_end = matches!(request, Request::DataEnd { .. });
        let (response, pending_connect) =
            if self.state.lifecycle.is_shutting_down() && starts_new_work(&request) {
                (Response::Failed(Failure::ShuttingDown), None)
            } else {
                self.route(request).await
            };
        match &response {
            Response::Reply(_) if is_data_end => self.state.totals.message_accepted(),
            Response::Sent(_) => self.state.totals.message_accepted(),
            Response::SentBatch(outcomes) => {
                for _ in outcomes.iter().filter(|o| o.is_ok()) {
                    self.state.totals.message_accepted();
                }
            }
            Response::Failed(f) => self.state.totals.failed(f),
            _ => {}
        }
        self.state
            .totals
            .observed
            .served(verb, &response, started.elapsed());
        match &response {
            Response::Failed(f) => {
                warn!(target: ERROR_TARGET, client = self.client.0, "{summary} -> {} ({f})", f.code().name())
            }
            _ => {
                debug!(target: CALL_TARGET, client = self.client.0, "{summary} -> {}", outcome(&response))
            }
        }
        let frame = DaemonFrame::Response { id, response };
        let charge = charge_of(&frame);
        self.budget.charge(charge);
        if self.out.send(frame).await.is_err() {
            self.budget.release(charge);
        }
        // An asynchronous connect starts only once `Opened` is queued, so its
        // `Event::Connected` can never overtake the handle's announcement.
        if let Some((session, connect)) = pending_connect {
            session.do_send(connect);
        }
    }

    /// One match for every request. The message path is awaited inline (its
    /// futures are small); every other arm that waits is boxed on its own:
    /// inline, the largest of their states (an open's) made every request's
    /// task 2 KB, copied as the task moved.
    async fn route(&self, request: Request) -> (Response, Option<(Addr<SmtpSession>, Connect)>) {
        let response = match request {
            Request::Command { handle, command } => {
                self.perform(handle, Operation::Command(command)).await
            }
            Request::DataChunk { handle, bytes } => {
                self.perform(handle, Operation::DataChunk(bytes)).await
            }
            Request::DataEnd { handle } => self.perform(handle, Operation::DataEnd).await,
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
                self.ask(handle, msg)
                    .await
                    .map_or_else(Response::Failed, Response::Sent)
            }
            Request::SendBatch { handle, messages } => {
                let outcomes = self.ask(handle, SendBatch { messages }).await;
                outcomes.map_or_else(Response::Failed, Response::SentBatch)
            }
            Request::Ping { payload } => Response::Pong { payload },
            Request::Status => admin::status(&self.state),
            Request::ListConnections => {
                Box::pin(async { admin::list(&self.state, &self.viewer().await) }).await
            }
            Request::ShowConnection { handle } => {
                Box::pin(async { admin::show(&self.state, &self.viewer().await, handle) }).await
            }
            Request::CloseConnection { handle } => {
                Box::pin(async { admin::close(&self.state, &self.viewer().await, handle).await })
                    .await
            }
            Request::Reload => {
                Box::pin(async { admin::reload(&self.state, &self.viewer().await) }).await
            }
            Request::Shutdown => {
                Box::pin(async { admin::shutdown(&self.state, &self.viewer().await) }).await
            }
            Request::Metrics => Response::Metrics {
                text: crate::metrics::render(&self.state),
            },
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
                return Box::pin(self.answer_open(route, tls, local, mode, debug)).await;
            }
            Request::OpenViaSocks {
                route,
                local,
                debug,
            } => {
                let route = route.check().map(|()| Route::Socks(Box::new(route)));
                return Box::pin(self.answer_open(route, None, local, OpenMode::Sync, debug)).await;
            }
            Request::OpenRelay { debug } => match Box::pin(self.open_relay(debug)).await {
                Ok(handle) => Response::Opened { handle },
                Err(f) => Response::Failed(f),
            },
            Request::StartTls { handle } => Box::pin(self.ask(handle, StartTls))
                .await
                .map_or_else(Response::Failed, Response::Reply),
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
                Box::pin(self.ask(handle, msg))
                    .await
                    .map_or_else(Response::Failed, Response::Reply)
            }
            Request::Extensions { handle } => Box::pin(self.ask(handle, GetExtensions))
                .await
                .map_or_else(Response::Failed, Response::Extensions),
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
                let envelope = Box::pin(self.ask(handle, msg)).await;
                envelope.map_or_else(Response::Failed, |e| Response::Envelope {
                    mail: e.mail,
                    recipients: e.recipients,
                })
            }
            Request::LastReply { handle } => match self.session(handle) {
                Ok(s) => Box::pin(s.send(GetLastReply))
                    .await
                    .map(Response::LastReply)
                    .unwrap_or_else(gone),
                Err(f) => Response::Failed(f),
            },
            Request::SetTimeout { handle, seconds } => {
                if !(1..=999).contains(&seconds) {
                    Response::Failed(Failure::InvalidArgument(format!(
                        "timeout {seconds} s is outside 1..999"
                    )))
                } else {
                    Box::pin(self.tell(handle, SetTimeout(seconds))).await
                }
            }
            Request::SetDebug { handle, enabled } => {
                Box::pin(self.tell(handle, SetDebug(enabled))).await
            }
            Request::Quit { handle } => match self.session(handle) {
                Ok(s) => match Box::pin(s.send(Quit)).await {
                    Ok(Ok(())) => self.forget(handle),
                    Ok(Err(f)) => Response::Failed(f),
                    Err(e) => gone(e),
                },
                Err(f) => Response::Failed(f),
            },
            Request::XQuit { handle } => match self.session(handle) {
                Ok(s) => {
                    let _ = Box::pin(s.send(XQuit)).await;
                    self.forget(handle)
                }
                Err(f) => Response::Failed(f),
            },
            Request::QueueSubmit(submission) => Box::pin(self.queue_submit(submission)).await,
            Request::QueueList => match self.state.queue.get(&self.state.settings()) {
                Ok(queue) => {
                    Box::pin(async { Response::QueueEntries(queue.list(&self.viewer().await)) })
                        .await
                }
                Err(f) => Response::Failed(f),
            },
            Request::QueueFlush { id } => match self.state.queue.get(&self.state.settings()) {
                Ok(queue) => {
                    Box::pin(async {
                        let flushed = queue.flush(&self.viewer().await, id.as_deref());
                        flushed.map_or_else(Response::Failed, |()| Response::Done)
                    })
                    .await
                }
                Err(f) => Response::Failed(f),
            },
            Request::QueueDelete { id } => match self.state.queue.get(&self.state.settings()) {
                Ok(queue) => {
                    Box::pin(async {
                        let viewer = self.viewer().await;
                        let deleted =
                            actix_rt::task::spawn_blocking(move || queue.delete(&viewer, &id))
                                .await;
                        deleted
                            .unwrap_or(Err(Failure::Aborted))
                            .map_or_else(Response::Failed, |()| Response::Done)
                    })
                    .await
                }
                Err(f) => Response::Failed(f),
            },
        };
        (response, None)
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

    async fn perform(&self, handle: Handle, op: Operation) -> Response {
        let session = match self.session(handle) {
            Ok(s) => s,
            Err(f) => return Response::Failed(f),
        };
        match session.send(Perform(op)).await {
            Ok(Ok(Some(reply))) => Response::Reply(reply),
            Ok(Ok(None)) => Response::Done,
            Ok(Err(f)) => Response::Failed(f),
            Err(e) => gone(e),
        }
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
        let dsn = crate::queue::dsn_request(&notify, &ret, &envid);
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

    /// `Opened`, with the connect still to start for an `Async` open, or `Failed`.
    async fn answer_open(
        &self,
        route: Result<Route, Failure>,
        tls: Option<TlsMode>,
        local: String,
        mode: OpenMode,
        debug: bool,
    ) -> (Response, Option<(Addr<SmtpSession>, Connect)>) {
        match self.open(route, tls, local, mode, debug, false).await {
            Ok((handle, pending)) => (Response::Opened { handle }, pending),
            Err(f) => (Response::Failed(f), None),
        }
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
        // The session runs on this client's arbiter (see `ipc`).
        let arbiter = actix::Arbiter::current();
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
            let session = SmtpSession::start_in_arbiter(&arbiter, move |_| {
                SmtpSession::new(handle, owner, registry, tap, timeout)
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

/// A one-line description of a request for the debug log: never message
/// bytes, never secrets (a SOCKS password is a `Secret`, an AUTH secret an
/// `AuthSecret`, and the `Debug` of both is `***`).
#[cfg(test)]
fn summarise(request: &Request) -> String {
    Summary::of(request, |_| false).to_string()
}

/// A request as its log line shows it, taken before the request is served:
/// the payloads only by size, everything else as the request's `Debug`.
/// Formatting it on every call cost a few thousand instructions even with
/// the call log off, so it is formatted only when a line is written.
enum Summary {
    /// A request without bulk data, shown as its `Debug`.
    Plain(Request),
    Chunk {
        handle: Handle,
        bytes: usize,
    },
    Send {
        handle: Handle,
        from: String,
        rcpts: Vec<String>,
        bytes: usize,
    },
    Batch {
        handle: Handle,
        messages: usize,
        bytes: usize,
    },
    Ping {
        bytes: usize,
    },
    Submit {
        from: String,
        rcpts: Vec<String>,
        bytes: usize,
    },
}

impl Summary {
    /// `in_auth_exchange` tells whether a handle's connection is inside an AUTH
    /// exchange, where any line is SASL data (asked only for `smtp_direct` lines).
    fn of(request: &Request, in_auth_exchange: impl Fn(Handle) -> bool) -> Summary {
        match request {
            Request::Command {
                handle,
                command: Command::Direct { line },
            } => {
                let shown = redact::for_log(line, in_auth_exchange(*handle)).into_owned();
                Summary::Plain(Request::Command {
                    handle: *handle,
                    command: Command::Direct { line: shown },
                })
            }
            Request::DataChunk { handle, bytes } => Summary::Chunk {
                handle: *handle,
                bytes: bytes.len(),
            },
            Request::SendMessage {
                handle,
                from,
                rcpts,
                data,
            } => Summary::Send {
                handle: *handle,
                from: from.clone(),
                rcpts: rcpts.clone(),
                bytes: data.len(),
            },
            Request::SendBatch { handle, messages } => Summary::Batch {
                handle: *handle,
                messages: messages.len(),
                bytes: messages.iter().map(|m| m.data.len()).sum(),
            },
            Request::Ping { payload } => Summary::Ping {
                bytes: payload.len(),
            },
            Request::QueueSubmit(s) => Summary::Submit {
                from: s.from.clone(),
                rcpts: s.rcpts.clone(),
                bytes: s.data.len(),
            },
            other => Summary::Plain(other.clone()),
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Summary::Chunk { handle, bytes } => {
                write!(f, "DataChunk {{ handle: {handle}, {bytes} bytes }}")
            }
            Summary::Send {
                handle,
                from,
                rcpts,
                bytes,
            } => {
                write!(f, "SendMessage {{ handle: {handle}, from: {from:?}, rcpts: {rcpts:?}, {bytes} bytes }}")
            }
            Summary::Batch {
                handle,
                messages,
                bytes,
            } => {
                write!(
                    f,
                    "SendBatch {{ handle: {handle}, {messages} messages, {bytes} bytes }}"
                )
            }
            Summary::Ping { bytes } => write!(f, "Ping {{ {bytes} bytes }}"),
            Summary::Submit { from, rcpts, bytes } => {
                write!(
                    f,
                    "QueueSubmit {{ from: {from:?}, rcpts: {rcpts:?}, {bytes} bytes }}"
                )
            }
            Summary::Plain(request) => write!(f, "{request:?}"),
        }
    }
}

fn outcome(response: &Response) -> String {
    match response {
        Response::Reply(r) => format!(
            "SMTP_SUCCESS ({} {})",
            r.code,
            r.lines.last().map(String::as_str).unwrap_or("")
        ),
        Response::Opened { handle } => format!("SMTP_SUCCESS (handle {handle})"),
        Response::Pong { .. } => "SMTP_SUCCESS (pong)".into(),
        Response::Sent(r) => format!(
            "SMTP_SUCCESS ({} of {} recipients; {} {})",
            r.accepted(),
            r.recipients.len(),
            r.verdict.code,
            r.verdict.lines.last().map(String::as_str).unwrap_or("")
        ),
        _ => "SMTP_SUCCESS".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtp32_protocol::{
        Secret, SocksEndpoint, SocksHost, SocksMethods, SocksRoute, SocksUser, SocksVersions,
    };

    #[test]
    fn socks_open_is_logged_without_its_password() {
        let route = SocksRoute {
            proxy: SocksEndpoint::new(SocksHost::parse("127.0.0.1").unwrap(), 1080).unwrap(),
            versions: SocksVersions::Both,
            methods: SocksMethods::parse("02").unwrap(),
            destination: SocksEndpoint::new(SocksHost::parse("mail.example").unwrap(), 25).unwrap(),
            username: Some(SocksUser::new("alice").unwrap()),
            password: Some(Secret::new("s3cr3t-pw").unwrap()),
        };
        let line = summarise(&Request::OpenViaSocks {
            route,
            local: "me.example".into(),
            debug: false,
        });
        assert!(!line.contains("s3cr3t-pw"), "{line}");
        assert!(
            line.contains("***") && line.contains("alice") && line.contains("mail.example"),
            "{line}"
        );
    }

    #[test]
    fn direct_auth_lines_and_their_continuations_are_logged_without_secret() {
        let handle = Handle::new(3).unwrap();
        let direct = |line: &str| Request::Command {
            handle,
            command: Command::Direct { line: line.into() },
        };
        let line = Summary::of(&direct("AUTH PLAIN AGJvYgBzM2NyM3Q="), |_| false).to_string();
        assert!(
            !line.contains("AGJvYgBzM2NyM3Q=") && line.contains("AUTH PLAIN ***"),
            "{line}"
        );
        let line = Summary::of(&direct("czNjcjN0"), |_| true).to_string();
        assert!(!line.contains("czNjcjN0") && line.contains("***"), "{line}");
        let line = Summary::of(&direct("ETRN example.org"), |_| false).to_string();
        assert!(line.contains("ETRN example.org"), "{line}");
    }

    #[test]
    fn auth_and_sendmsg_are_logged_without_secret_or_message() {
        let handle = Handle::new(3).unwrap();
        let secret = smtp32_protocol::AuthSecret::new("s3cr3t-pw").unwrap();
        let line = summarise(&Request::Auth {
            handle,
            mechanism: None,
            user: "bob".into(),
            secret,
        });
        assert!(
            !line.contains("s3cr3t-pw") && line.contains("***") && line.contains("bob"),
            "{line}"
        );
        let data = b"Subject: private\r\n\r\nbody".to_vec();
        let line = summarise(&Request::SendMessage {
            handle,
            from: "a@b".into(),
            rcpts: vec!["c@d".into()],
            data,
        });
        assert!(
            !line.contains("private") && line.contains("24 bytes") && line.contains("c@d"),
            "{line}"
        );
    }
}
