//! One actix actor per SMTP connection.
//!
//! The actor owns the connection ([`SmtpClient`]), its timeout, its last
//! reply and the [`stop`] signal of the operation in flight. Every operation
//! runs as a future spawned on the actor's context (`ctx.spawn`, never
//! `ctx.wait`), inside a `select!` on that signal, so the mailbox
//! stays free: `XQuit` arrives while a command waits on a stalled
//! server, cancels it and stops the actor at once. The client is moved into
//! the operation's future and comes back only when the dialogue is still in
//! step (a reply, positive or not); after a timeout, a cancel or an I/O error
//! the TCP stream is dropped with the future. The timeout is the session's
//! one [`deadline`]: when it passes, the actor stops the operation with
//! `TimedOut` as `XQuit` stops it with `Aborted`.
//!
//! The connect is one such operation whatever its [`Route`](crate::smtp::Route):
//! for `smtp_fw_helo` the SOCKS handshake, the greeting and EHLO/HELO all run
//! under the one timeout and stop signal, so `XQuit` interrupts a stalled proxy
//! as it does a stalled server.
//!
//! When the actor stops, for whatever reason, it tells its [`HandleBook`]
//! (the registry) to forget its handle, so no path can leak a handle.
//!
//! Idle connections: while the link is `Ready` (no operation in flight) the
//! idle close is due (`idle_timeout`, 0 = never); every operation replaces
//! it with its own deadline and makes it due again when it ends. When it
//! comes the daemon closes the TCP connection (QUIT unless inside DATA) and
//! the handle stays, answering `ConnectionLost` (`SMTP_CANNOT_SEND_COMMAND`)
//! as after any lost connection, until the owner's `Quit` frees it: a caller
//! that comes back late learns what happened instead of meeting an unknown
//! handle.

pub mod answer;
mod batch;
mod deadline;
pub mod messages;
pub mod phase;
mod reuse;
mod send;
mod stop;
pub mod tap;
mod tls_auth;

use crate::activity::Doing;
use crate::cache::ConnectionCache;
use crate::config::CacheSettings;
use crate::peer::ClientId;
use crate::smtp::{SmtpClient, SmtpError};
use actix::prelude::*;
use answer::{Answer, OpAnswer};
use deadline::{Alarm, Deadline, Due};
use messages::{
    Close, Connect, GetLastReply, Operation, Perform, Quit, SetDebug, SetTimeout, XQuit,
};
use phase::{Effect, Outcome};
use reuse::{Resend, Reuse};
use smtp32_protocol::{ConnectionState, DaemonFrame, Event, Failure, Handle, OpenMode, Reply};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use stop::{StopSlot, Stopped, Why};
use tap::EventTap;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// How long a polite QUIT may take when the owner is gone or the daemon stops.
const CLOSE_QUIT_LIMIT: Duration = Duration::from_secs(5);

/// Where a session's handle is registered (the registry); told once, when
/// the session stops, to forget it.
pub trait HandleBook {
    /// Forgets `owner`'s `handle`.
    fn forget(&self, owner: ClientId, handle: Handle);
}

/// An operation's dialogue on the heap: it hands the client back (`None`: out
/// of step) with its result.
type Dialogue<T> =
    std::pin::Pin<Box<dyn Future<Output = (Option<Box<SmtpClient>>, Result<T, SmtpError>)>>>;

/// Where the SMTP connection stands. The client is boxed: an operation moves
/// it into its future and back out a dozen times, and a pointer moves for
/// less than its 288 bytes (about 3 % of a NOOP's instructions).
enum Link {
    /// The connect is in flight.
    Connecting,
    /// Connected and idle.
    Ready(Box<SmtpClient>),
    /// An operation owns the connection.
    Busy,
    /// The connection is gone (timeout, cancel, I/O error, failed connect).
    Lost(String),
}

/// The actor behind one handle.
pub struct SmtpSession {
    handle: Handle,
    owner: ClientId,
    book: Arc<dyn HandleBook>,
    link: Link,
    timeout_secs: u16,
    last_reply: Option<Reply>,
    /// Ends the operation in flight with a reason (`Aborted`, `TimedOut`).
    stop: StopSlot,
    tap: Arc<EventTap>,
    /// Set for `smtp_xhelo` until its `Event::Connected` has been sent.
    pending_status: bool,
    /// Seconds idle before the daemon closes the connection; 0 = never.
    idle_secs: u32,
    /// The operation's timeout or, while the link is `Ready`, the idle close.
    deadline: Deadline,
    /// The timer under `deadline`; it tells the session with [`AlarmRang`].
    alarm: Alarm,
    /// The connection cache and this session's place in it; `None`: never cached.
    reuse: Option<Box<Reuse>>,
}

impl SmtpSession {
    /// A session for `handle`, owned by `owner` and held in `book`, not yet
    /// connected; `ctx` is the context it will run in.
    pub fn new(
        ctx: &mut Context<Self>,
        handle: Handle,
        owner: ClientId,
        book: Arc<dyn HandleBook>,
        tap: Arc<EventTap>,
        timeout_secs: u16,
    ) -> Self {
        SmtpSession {
            handle,
            owner,
            book,
            link: Link::Connecting,
            timeout_secs,
            last_reply: None,
            stop: StopSlot::default(),
            tap,
            pending_status: false,
            idle_secs: 0,
            deadline: Deadline::default(),
            alarm: Alarm::new(AlarmRang::sender(ctx)),
            reuse: None,
        }
    }

    /// Takes its connection from `cache` when an idle one matches, and
    /// parks it there at `smtp_quit`, as `settings` say (nothing, and no
    /// memory, when they turn the cache off).
    pub fn with_cache(mut self, cache: Arc<ConnectionCache>, settings: CacheSettings) -> Self {
        if settings.enabled() {
            self.reuse = Some(Box::new(Reuse::new(cache, settings)));
        }
        self
    }

    /// Closes the connection after `secs` seconds without an operation (0 = never).
    pub fn with_idle_timeout(mut self, secs: u32) -> Self {
        self.idle_secs = secs;
        self
    }

    /// Makes the idle close due `idle_timeout` from now if the connection
    /// is idle and a limit is set; else nothing is due.
    fn arm_idle(&mut self) {
        if self.idle_secs > 0 && matches!(self.link, Link::Ready(_)) {
            let at = Instant::now() + Duration::from_secs(self.idle_secs.into());
            self.wait_for(Due::IdleClose, at);
        } else {
            self.deadline.clear();
        }
    }

    /// Makes `due` the deadline, moving the timer only when it is set for later.
    fn wait_for(&mut self, due: Due, at: Instant) {
        if let Some(at) = self.deadline.wait(due, at) {
            self.alarm.set(at);
        }
    }

    /// The timer rang: end what is due, or set the timer for the deadline again.
    fn alarm_rang(&mut self, ctx: &mut Context<Self>) {
        let (due, again) = self.deadline.rang(Instant::now());
        if let Some(at) = again {
            self.alarm.set(at);
        }
        match due {
            Some(Due::Operation(secs)) => self.end_in_flight(Why::TimedOut(secs)),
            Some(Due::IdleClose) => self.idle_expired(ctx),
            None => {}
        }
    }

    /// The idle close is due: close the TCP connection, keep the handle.
    fn idle_expired(&mut self, ctx: &mut Context<Self>) {
        let why = format!(
            "closed by smtp32d after {} s idle (idle_timeout)",
            self.idle_secs
        );
        let Link::Ready(client) = std::mem::replace(&mut self.link, Link::Lost(why)) else {
            return;
        };
        tracing::debug!(handle = %self.handle, "idle timeout: closing the SMTP connection");
        self.tap.activity().set_state(ConnectionState::Closing);
        let activity = self.tap.activity().clone();
        ctx.spawn(
            async move { tokio::time::timeout(CLOSE_QUIT_LIMIT, client.quit()).await }
                .into_actor(self)
                .map(move |_, _, _| activity.set_state(ConnectionState::Lost)),
        );
    }

    /// The failure an operation gets when the connection is not idle.
    fn unavailable(&self) -> Failure {
        match &self.link {
            Link::Lost(why) => Failure::ConnectionLost(why.clone()),
            _ => Failure::InProgress,
        }
    }

    /// Takes the idle client for an operation, or says why there is none.
    fn take_ready(&mut self) -> Result<Box<SmtpClient>, Failure> {
        match std::mem::replace(&mut self.link, Link::Busy) {
            Link::Ready(client) => Ok(client),
            other => {
                self.link = other;
                Err(self.unavailable())
            }
        }
    }

    /// The operation `what` that runs `work` on the connection `checkout`
    /// yields, under the timeout and the stop signal (both armed now, with
    /// one clock read for them and the connection's record); `work`
    /// hands the client back with its result. An [`OpAnswer`] spawns it on
    /// the actor's context and gives its result to the asker.
    fn operation<T, F, Fut>(
        &mut self,
        what: impl Into<Doing>,
        effect: Effect,
        checkout: reuse::Checkout,
        work: F,
    ) -> impl ActorFuture<Self, Output = Result<T, Failure>>
    where
        T: OpOutput + 'static,
        F: FnOnce(Box<SmtpClient>) -> Fut + 'static,
        Fut: Future<Output = (Box<SmtpClient>, Result<T, SmtpError>)> + 'static,
    {
        let limit = Some(self.timeout_secs);
        self.operation_within(
            what,
            effect,
            limit,
            Box::pin(async move {
                let client = match checkout.open().await {
                    Ok((client, _)) => client,
                    Err(e) => return (None, Err(e)),
                };
                let (client, result) = work(client).await;
                (Some(client), result)
            }),
        )
    }

    /// [`SmtpSession::operation`] for work that keeps its own time (`limit`
    /// `None`: only the stop signal applies) and may give the client up
    /// itself (`None`: the connection is out of step) while still succeeding.
    ///
    /// `work` comes boxed, built on the heap by its caller: the wrappers below
    /// (select, the actor's map, the answer's box and spawn) then move a
    /// pointer, not the dialogue's whole state.
    fn operation_within<T>(
        &mut self,
        what: impl Into<Doing>,
        effect: Effect,
        limit: Option<u16>,
        work: Dialogue<T>,
    ) -> impl ActorFuture<Self, Output = Result<T, Failure>>
    where
        T: OpOutput + 'static,
    {
        let now = Instant::now();
        self.tap.activity().begin(what, now.into_std());
        let stop = self.begin_in_flight(limit, now);
        self.link = Link::Busy;
        let guarded = async move {
            tokio::select! {
                biased;
                why = stop => (None, Err(why)),
                r = work => match r {
                    (client, Ok(v)) => (client, Ok(v)),
                    // A refusal leaves the dialogue in step: keep the connection.
                    (client, Err(e)) if e.keeps_connection() => (client, Err(Failure::from(e))),
                    (_, Err(e)) => (None, Err(Failure::from(e))),
                },
            }
        };
        guarded
            .into_actor(self)
            .map(move |(client, result), act, _| {
                act.in_flight_ended();
                act.link = match (client, &result) {
                    (Some(mut c), _) => {
                        c.release_idle();
                        Link::Ready(c)
                    }
                    (None, Err(f)) => Link::Lost(f.to_string()),
                    (None, Ok(_)) => Link::Lost("connection closed".into()),
                };
                let reply = match &result {
                    Ok(output) => output.reply(),
                    Err(f) => f.reply(),
                };
                let outcome = match (&act.link, &result) {
                    (Link::Lost(_), _) => Outcome::Lost,
                    (_, Ok(_)) => Outcome::Accepted,
                    (_, Err(_)) => Outcome::Refused,
                };
                if let (Effect::FinalDot, Some(r)) = (effect, act.reuse.as_deref_mut()) {
                    r.transactions = r.transactions.saturating_add(1);
                }
                let activity = act.tap.activity();
                activity.end(phase::after(activity.state(), effect, outcome));
                act.remember(reply);
                act.arm_idle();
                result
            })
    }

    /// Keeps `reply` for `smtp_rply`, in the memory of the one kept before.
    fn remember(&mut self, reply: Option<&Reply>) {
        match (&mut self.last_reply, reply) {
            (Some(kept), Some(r)) => kept.clone_from(r),
            (kept, Some(r)) => *kept = Some(r.clone()),
            (_, None) => {}
        }
    }

    /// Sends the `smtp_xhelo` status once.
    fn report_status(&mut self, result: Result<(), Failure>) {
        if !std::mem::take(&mut self.pending_status) {
            return;
        }
        let frame = DaemonFrame::Event(Event::Connected {
            handle: self.handle,
            result,
        });
        let out = self.tap.outbound().clone();
        if let Err(tokio::sync::mpsc::error::TrySendError::Full(frame)) = out.try_send(frame) {
            actix_rt::spawn(async move {
                let _ = out.send(frame).await;
            });
        }
    }

    /// Starts an operation: its stop signal, and its deadline `limit`
    /// seconds from now (`None`: it keeps its own time, nothing is due).
    fn begin_in_flight(&mut self, limit: Option<u16>, now: Instant) -> Stopped {
        let stopped = self.stop.arm();
        match limit {
            Some(secs) => {
                let at = now + Duration::from_secs(secs.into());
                self.wait_for(Due::Operation(secs), at);
            }
            None => self.deadline.clear(),
        }
        stopped
    }

    /// The operation in flight ended: nothing to cancel, nothing due.
    fn in_flight_ended(&mut self) {
        self.stop.disarm();
        self.deadline.clear();
    }

    /// Ends the operation in flight, if any, with `why`.
    fn end_in_flight(&mut self, why: Why) {
        self.stop.stop(why);
    }
}

/// The session's [`Alarm`] rang (sent by the alarm to its session).
struct AlarmRang;

impl Message for AlarmRang {
    type Result = ();
}

impl AlarmRang {
    /// The function the alarm of the session running in `ctx` calls when it
    /// rings: it sends the session this message, if the session still runs
    /// (a weak address: the alarm does not keep the session's mailbox open).
    fn sender(ctx: &mut Context<SmtpSession>) -> impl Fn() + Send + Sync + 'static {
        let session = ctx.address().downgrade();
        move || {
            if let Some(session) = session.upgrade() {
                session.do_send(AlarmRang);
            }
        }
    }
}

impl Handler<AlarmRang> for SmtpSession {
    type Result = ();

    fn handle(&mut self, _: AlarmRang, ctx: &mut Self::Context) {
        self.alarm_rang(ctx);
    }
}

impl Actor for SmtpSession {
    type Context = Context<Self>;

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.end_in_flight(Why::Aborted);
        self.book.forget(self.owner, self.handle);
    }
}

impl Handler<Connect> for SmtpSession {
    type Result = OpAnswer<()>;

    fn handle(&mut self, msg: Connect, _: &mut Self::Context) -> Self::Result {
        self.pending_status = msg.mode == OpenMode::Async;
        if let Some(ehlo) = self.adopt_cached(&msg.route, &msg.local, &msg.tls) {
            self.last_reply = Some(ehlo);
            self.tap.activity().end(ConnectionState::Ready);
            self.arm_idle();
            self.report_status(Ok(()));
            return Ok(()).into();
        }
        let stop = self.begin_in_flight(Some(self.timeout_secs), Instant::now());
        let tap: Arc<dyn crate::smtp::TrafficTap> = self.tap.clone();
        let connect = async move {
            tokio::select! {
                biased;
                why = stop => Err(why),
                r = SmtpClient::connect_with(&msg.route, &msg.local, msg.tls, tap) => r.map_err(Failure::from),
            }
        };
        OpAnswer::running(connect.into_actor(self).map(move |result, act, ctx| {
            act.in_flight_ended();
            let result = match result {
                Ok((mut client, mut reply)) => {
                    // A connection may now sit idle for long: hold no slack.
                    client.release_idle();
                    client.compact();
                    reply.lines.shrink_to_fit();
                    act.tap.activity().compact();
                    act.tap.activity().set_tls(client.tls_description());
                    act.link = Link::Ready(Box::new(client));
                    act.tap.activity().end(ConnectionState::Ready);
                    if let Some(r) = act.reuse.as_deref_mut() {
                        // Kept for the next owner's smtp_rply, should the session be parked.
                        r.ehlo_head = Some(reuse::ehlo_head(&reply));
                    }
                    act.last_reply = Some(reply);
                    act.arm_idle();
                    Ok(())
                }
                Err(f) => {
                    act.tap.activity().end(ConnectionState::Lost);
                    act.remember(f.reply());
                    act.link = Link::Lost(f.to_string());
                    // A failed connect frees its handle.
                    ctx.stop();
                    Err(f)
                }
            };
            act.report_status(result.clone());
            result
        }))
    }
}

/// What an operation hands back, and the server reply in it that `smtp_rply` keeps.
trait OpOutput {
    /// The reply to remember, if any.
    fn reply(&self) -> Option<&Reply>;
}

impl OpOutput for Option<Reply> {
    fn reply(&self) -> Option<&Reply> {
        self.as_ref()
    }
}

impl OpOutput for Reply {
    fn reply(&self) -> Option<&Reply> {
        Some(self)
    }
}

impl SmtpSession {
    /// Answers [`Perform`] (see [`answer`] for its handlers).
    fn perform(
        &mut self,
        Perform(op): Perform,
    ) -> Answer<Option<Reply>, impl ActorFuture<Self, Output = Result<Option<Reply>, Failure>>>
    {
        let (effect, what) = (phase::effect(&op), phase::describe(&op));
        let checkout = match self.checkout(false) {
            Ok(c) => c,
            Err(f) => return Err(f).into(),
        };
        if let Operation::Command(cmd) = &op {
            self.note_command(cmd.command());
        }
        let limit = Some(self.timeout_secs);
        let dialogue = Box::pin(async move {
            let (mut client, resend) = match checkout.open().await {
                Ok(opened) => opened,
                Err(e) => return (None, Err(e)),
            };
            let result = match op {
                Operation::Command(cmd) => match client.command(&cmd).await {
                    // The first command on a reused connection found it
                    // closed: no transaction began, so say it again anew.
                    Err(e) if resend.is_some() && Resend::applies(&e) => {
                        let Some(resend) = resend else {
                            return (None, Err(e));
                        };
                        client = match resend.reconnect().await {
                            Ok(c) => c,
                            Err(e) => return (None, Err(e)),
                        };
                        client.command(&cmd).await.map(Some)
                    }
                    other => other.map(Some),
                },
                Operation::DataChunk(bytes) => client.data_chunk(&bytes).await.map(|()| None),
                Operation::DataEnd => client.data_end().await.map(Some),
            };
            (Some(client), result)
        });
        Answer::Running(self.operation_within(what, effect, limit, dialogue))
    }
}

impl Handler<GetLastReply> for SmtpSession {
    type Result = Option<Reply>;

    fn handle(&mut self, _: GetLastReply, _: &mut Self::Context) -> Option<Reply> {
        self.last_reply.clone()
    }
}

impl Handler<SetTimeout> for SmtpSession {
    type Result = ();

    fn handle(&mut self, SetTimeout(secs): SetTimeout, _: &mut Self::Context) {
        self.timeout_secs = secs;
        self.tap.activity().set_timeout(secs);
    }
}

impl Handler<SetDebug> for SmtpSession {
    type Result = ();

    fn handle(&mut self, SetDebug(on): SetDebug, _: &mut Self::Context) {
        self.tap.set_enabled(on);
    }
}

impl Handler<Quit> for SmtpSession {
    type Result = ResponseFuture<Result<(), Failure>>;

    fn handle(&mut self, _: Quit, ctx: &mut Self::Context) -> Self::Result {
        match std::mem::replace(&mut self.link, Link::Lost("closed by QUIT".into())) {
            Link::Ready(client) => {
                let Some(client) = self.try_park(client) else {
                    ctx.stop();
                    return Box::pin(std::future::ready(Ok(())));
                };
                self.tap.activity().begin("QUIT", std::time::Instant::now());
                self.tap.activity().set_state(ConnectionState::Closing);
                let limit = Duration::from_secs(self.timeout_secs.into());
                let (tx, rx) = oneshot::channel();
                ctx.spawn(
                    async move { tokio::time::timeout(limit, client.quit()).await }
                        .into_actor(self)
                        .map(move |_, _, ctx| {
                            ctx.stop();
                            let _ = tx.send(Ok(()));
                        }),
                );
                Box::pin(async move { rx.await.unwrap_or(Ok(())) })
            }
            Link::Lost(_) => {
                ctx.stop();
                Box::pin(std::future::ready(Ok(())))
            }
            busy => {
                self.link = busy;
                Box::pin(std::future::ready(Err(Failure::InProgress)))
            }
        }
    }
}

impl Handler<XQuit> for SmtpSession {
    type Result = ();

    fn handle(&mut self, _: XQuit, ctx: &mut Self::Context) {
        self.tap.activity().set_state(ConnectionState::Closing);
        self.end_in_flight(Why::Aborted);
        self.report_status(Err(Failure::Aborted));
        ctx.stop();
    }
}

impl Handler<Close> for SmtpSession {
    type Result = ();

    fn handle(&mut self, _: Close, ctx: &mut Self::Context) {
        self.tap.activity().set_state(ConnectionState::Closing);
        self.end_in_flight(Why::Aborted);
        self.report_status(Err(Failure::Aborted));
        match std::mem::replace(&mut self.link, Link::Lost("closed".into())) {
            Link::Ready(client) => {
                ctx.spawn(
                    async move { tokio::time::timeout(CLOSE_QUIT_LIMIT, client.quit()).await }
                        .into_actor(self)
                        .map(|_, _, ctx| ctx.stop()),
                );
            }
            _ => ctx.stop(),
        }
    }
}
