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
//!
//! Opening a connection is [`open`]'s, and what is submitted for the relay
//! (the queue, or a send at once) is [`submission`]'s.

mod open;
mod submission;

use super::admin;
use super::responder::{Answering, Hold, Responder};
use crate::budget::ClientBudget;
use crate::peer::Peer;
use crate::peer::{ClientId, Viewer};
use crate::session::answer::{Tell, Told};
use crate::session::messages::{
    Authenticate, BeginMessage, GetExtensions, GetLastReply, Operation, Perform, Quit, SendBatch,
    SendMessage, SetDebug, SetTimeout, StartTls, XQuit,
};
use crate::session::{phase, SmtpSession};
use crate::smtp::{CheckedCommand, Route, Target};
use crate::state::DaemonState;
use actix::{Addr, Handler, MailboxError, Message};
use smtp32_protocol::{
    timeout_seconds, DaemonFrame, Failure, Handle, OpenMode, Request, RequestId, Response,
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
