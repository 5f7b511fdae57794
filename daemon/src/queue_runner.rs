//! The queue runner: delivers what is due through the relay, then sleeps
//! until the next try, a new message or a flush.
//!
//! It is a client of the daemon like any other, served by a [`Router`] of
//! its own: the relay is opened with `OpenRelay` (connect, TLS, AUTH with
//! the daemon's credentials) and each message sent with `SendMessage`, the
//! same path `smtp32-sendmail` used to take. One connection carries every
//! message due at the time.
//!
//! Each message's transaction is bracketed on disk: `in_flight` is written
//! before it starts and its outcome after it ends, so a crash between the
//! two (the one window SMTP cannot settle: was the final dot taken?) is
//! found at the next start and logged as ambiguous; so is a connection that
//! fails during a transaction. A message whose transaction was recorded as
//! delivered is removed and never sent again.

use crate::budget::ClientBudget;
use crate::config::Settings;
use crate::ipc::responder::Hold;
use crate::ipc::router::Router;
use crate::queue::dsn::{self, Bounce, Failed};
use crate::queue::store::{Attempt, DeliveryState};
use crate::queue::{clock, Due, Queue, QUEUE_TARGET};
use crate::session::messages::SendMessage;
use crate::state::DaemonState;
use smtp32_protocol::{
    DaemonFrame, Failure, Handle, Reply, Request, RequestId, Response, SendReport,
};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{info, warn};

/// The longest sleep with nothing due (a reload may shorten the waits).
const IDLE_WAKE: u64 = 3600;

/// Waits until the daemon's queue is opened (at start when a relay is
/// configured, else by the first queue request), then delivers it until the
/// daemon shuts down.
pub async fn run(state: Arc<DaemonState>) {
    let queue = tokio::select! {
        queue = state.queue.when_open() => queue,
        () = state.lifecycle.shutdown_requested() => return,
    };
    let mut link = RelayLink::new(state.clone());
    while !state.lifecycle.is_shutting_down() {
        let now = clock::now();
        let due = queue.take_due(now);
        if due.is_empty() {
            let wait = queue
                .next_due()
                .map_or(IDLE_WAKE, |t| t.saturating_sub(now).clamp(1, IDLE_WAKE));
            tokio::select! {
                () = queue.woken() => {}
                () = tokio::time::sleep(Duration::from_secs(wait)) => {}
            }
            continue;
        }
        deliver(&queue, &state.settings(), &mut link, due).await;
    }
}

/// The runner's own conversation with its router.
struct RelayLink {
    router: Rc<Router>,
    /// The runner's budget, which no limit bounds.
    budget: Arc<ClientBudget>,
    answers: mpsc::Receiver<DaemonFrame>,
    next_id: u64,
}

impl RelayLink {
    fn new(state: Arc<DaemonState>) -> RelayLink {
        let (out, answers) = mpsc::channel(16);
        let me = crate::platform::own_peer();
        let client = state.internal_client();
        // The daemon's own work: no client budget of its own to keep.
        let budget = Arc::new(ClientBudget::new(usize::MAX, None));
        RelayLink {
            router: Rc::new(Router::new(state, client, me, out, budget.clone())),
            budget,
            answers,
            next_id: 1,
        }
    }

    async fn call(&mut self, request: Request) -> Response {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        let hold = Hold::without_slot(self.budget.clone(), 0);
        self.router.dispatch(id, request, hold);
        while let Some(frame) = self.answers.recv().await {
            if let DaemonFrame::Response {
                id: answered,
                response,
            } = frame
            {
                if answered == id {
                    return response;
                }
            }
        }
        Response::Failed(Failure::Aborted)
    }
}

/// What became of one recipient in one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Sent(String),
    Deferred(String),
    Bounced { status: String, diagnostic: String },
}

/// Delivers `due` on one relay connection.
async fn deliver(queue: &Arc<Queue>, settings: &Settings, link: &mut RelayLink, due: Vec<Due>) {
    let relay = settings.relay.host.clone();
    let handle = match link.call(Request::OpenRelay { debug: false }).await {
        Response::Opened { handle } => handle,
        other => {
            let why = failure_text(&other);
            for message in due {
                let verdicts = message
                    .state
                    .remaining
                    .iter()
                    .map(|r| (r.clone(), Verdict::Deferred(why.clone())))
                    .collect();
                settle(queue, settings, &relay, message, verdicts).await;
            }
            return;
        }
    };
    let wants_dsn = due.iter().any(|m| {
        crate::queue::dsn_request(&m.envelope.notify, &m.envelope.ret, &m.envelope.envid).is_some()
    });
    if wants_dsn {
        let is_dsn = |k: &String| k.split(' ').next() == Some("DSN");
        let offered = matches!(link.call(Request::Extensions { handle }).await,
            Response::Extensions(keywords) if keywords.iter().any(is_dsn));
        if !offered {
            warn!(
                target: QUEUE_TARGET,
                "the relay does not offer DSN: the -N/-R/-V requests of the messages due are \
                 not passed on"
            );
        }
    }
    let mut broken: Option<String> = None;
    for message in due {
        if let Some(why) = &broken {
            let verdicts = message
                .state
                .remaining
                .iter()
                .map(|r| (r.clone(), Verdict::Deferred(why.clone())))
                .collect();
            settle(queue, settings, &relay, message, verdicts).await;
            continue;
        }
        let (verdicts, lost) = attempt(queue, link, handle, &message).await;
        if let Some(why) = &lost {
            warn!(
                target: QUEUE_TARGET,
                "{}: ambiguous: the connection failed during the transaction ({why}); had the \
                 final dot gone through, the relay has the message, which will be sent again",
                message.id
            );
        }
        broken = lost;
        settle(queue, settings, &relay, message, verdicts).await;
    }
    if broken.is_none() {
        let _ = link.call(Request::Quit { handle }).await;
    } else {
        let _ = link.call(Request::XQuit { handle }).await;
    }
}

/// One transaction for one message, bracketed by its `in_flight` record.
/// Returns each recipient's verdict, and why the connection is unusable if it is.
async fn attempt(
    queue: &Arc<Queue>,
    link: &mut RelayLink,
    handle: Handle,
    message: &Due,
) -> (Vec<(String, Verdict)>, Option<String>) {
    let all = |why: String| {
        message
            .state
            .remaining
            .iter()
            .map(|r| (r.clone(), Verdict::Deferred(why.clone())))
            .collect()
    };
    let (q, id) = (queue.clone(), message.id.clone());
    let data = match blocking(move || q.data(&id)).await {
        Ok(data) => data,
        Err(e) => return (all(format!("cannot read the queued message: {e}")), None),
    };
    let flying = DeliveryState {
        in_flight: true,
        ..message.state.clone()
    };
    let (q, id) = (queue.clone(), message.id.clone());
    if let Err(e) = blocking(move || q.record(&id, flying, false)).await {
        // Sending without the record could double the message after a crash.
        return (all(format!("cannot record the delivery state: {e}")), None);
    }
    let envelope = &message.envelope;
    let send = SendMessage {
        from: envelope.from.clone(),
        rcpts: message.state.remaining.clone(),
        data,
        dsn: crate::queue::dsn_request(&envelope.notify, &envelope.ret, &envelope.envid)
            .map(Box::new),
    };
    classify(
        &message.state.remaining,
        link.router.send_queued(handle, send).await,
    )
}

/// Each recipient's verdict from the answer to `SendMessage`, and the
/// failure that left the connection unusable, if one did.
fn classify(rcpts: &[String], answer: Response) -> (Vec<(String, Verdict)>, Option<String>) {
    let every = |v: Verdict| rcpts.iter().map(|r| (r.clone(), v.clone())).collect();
    match answer {
        Response::Sent(report) | Response::Failed(Failure::NotSent(report)) => {
            (from_report(rcpts, &report), None)
        }
        // Over the relay's SIZE, an address it cannot take: no retry helps.
        Response::Failed(f @ (Failure::Unsupported(_) | Failure::InvalidArgument(_))) => (
            every(Verdict::Bounced {
                status: "5.3.0".into(),
                diagnostic: f.to_string(),
            }),
            None,
        ),
        other => {
            let why = failure_text(&other);
            (every(Verdict::Deferred(why.clone())), Some(why))
        }
    }
}

fn from_report(rcpts: &[String], report: &SendReport) -> Vec<(String, Verdict)> {
    rcpts
        .iter()
        .enumerate()
        .map(|(i, rcpt)| {
            let verdict = if !report.mail.is_positive() {
                by_reply(&report.mail)
            } else {
                match report.recipients.get(i) {
                    None => Verdict::Deferred("the relay gave no reply for this recipient".into()),
                    Some(r) if !r.is_positive() => by_reply(r),
                    Some(_) if report.verdict.is_positive() => {
                        Verdict::Sent(one_line(&report.verdict))
                    }
                    Some(_) => by_reply(&report.verdict),
                }
            };
            (rcpt.clone(), verdict)
        })
        .collect()
}

/// A refusal: 5xx bounces, anything else is tried again.
fn by_reply(reply: &Reply) -> Verdict {
    if (500..600).contains(&reply.code) {
        Verdict::Bounced {
            status: dsn::status_of(reply),
            diagnostic: one_line(reply),
        }
    } else {
        Verdict::Deferred(one_line(reply))
    }
}

fn one_line(reply: &Reply) -> String {
    reply.to_wire_text().trim_end().replace("\r\n", " / ")
}

fn failure_text(answer: &Response) -> String {
    match answer {
        Response::Failed(f) => f.to_string(),
        other => format!("unexpected answer from the daemon: {other:?}"),
    }
}

/// Records the outcome: the log lines, a bounce for what failed for good
/// (and what stayed deferred past `queue.max_age`), then the message's new
/// state, or its removal when nothing is left.
async fn settle(
    queue: &Arc<Queue>,
    settings: &Settings,
    relay: &str,
    message: Due,
    verdicts: Vec<(String, Verdict)>,
) {
    let now = clock::now();
    let expired = now.saturating_sub(message.envelope.queued_at) >= settings.queue.max_age;
    let Due {
        id,
        envelope,
        mut state,
        size,
    } = message;
    let delay = now.saturating_sub(envelope.queued_at);
    let tries = state.attempts.len() + 1;
    let mut failed = Vec::new();
    let mut deferred = Vec::new();
    for (rcpt, verdict) in verdicts {
        let (status, text) = match verdict {
            Verdict::Sent(reply) => ("sent", reply),
            Verdict::Deferred(why) if expired => {
                let diagnostic = format!("delivery period expired; last error: {why}");
                failed.push(Failed {
                    rcpt: rcpt.clone(),
                    status: "4.4.7".into(),
                    diagnostic,
                });
                ("bounced", why)
            }
            Verdict::Deferred(why) => {
                deferred.push((rcpt.clone(), why.clone()));
                ("deferred", why)
            }
            Verdict::Bounced { status, diagnostic } => {
                failed.push(Failed {
                    rcpt: rcpt.clone(),
                    status,
                    diagnostic: diagnostic.clone(),
                });
                ("bounced", diagnostic)
            }
        };
        info!(
            target: QUEUE_TARGET,
            "{id}: uid={} from=<{}> to=<{rcpt}> relay={relay} delay={delay} size={size} \
             tries={tries} status={status} ({text})",
            envelope.uid, envelope.from
        );
    }
    if !failed.is_empty() {
        send_bounce(queue, settings, relay, &id, &envelope, &failed).await;
    }
    let q = queue.clone();
    if deferred.is_empty() {
        if let Err(e) = blocking(move || q.finish(&id)).await {
            // Kept busy: not sent again by this run; the next start finds it
            // under way and says so.
            warn!(target: QUEUE_TARGET, "cannot remove a delivered message: {e}");
        }
        return;
    }
    state.attempts.push(Attempt {
        at: now,
        error: deferred[0].1.clone(),
    });
    state.next_try = now
        + settings
            .queue
            .backoff(state.attempts.len() as u32)
            .as_secs();
    state.remaining = deferred.into_iter().map(|(r, _)| r).collect();
    state.in_flight = false;
    let (kept, id_kept) = (state.clone(), id.clone());
    if let Err(e) = blocking(move || q.record(&id, state, true)).await {
        // Nothing was delivered to these recipients, so trying them again
        // later (the disk may have room by then) cannot double anything.
        warn!(target: QUEUE_TARGET, "{id_kept}: cannot record the deferral: {e}");
        queue.release_with(&id_kept, kept);
    }
}

/// Queues the DSN for `failed` to the sender (none for `<>`: a bounce never bounces).
async fn send_bounce(
    queue: &Arc<Queue>,
    settings: &Settings,
    relay: &str,
    id: &str,
    envelope: &crate::queue::store::Envelope,
    failed: &[Failed],
) {
    if envelope.from.is_empty() {
        warn!(target: QUEUE_TARGET, "{id}: undeliverable, and its sender is <>: no bounce");
        return;
    }
    let (q, id_owned) = (queue.clone(), id.to_string());
    let original = blocking(move || q.data(&id_owned))
        .await
        .unwrap_or_default();
    let host = settings.relay.ehlo_name();
    let bounce = Bounce {
        id,
        envelope,
        original: &original,
        host: &host,
        relay,
        date: &clock::rfc5322(clock::now()),
    };
    let boundary = format!("{id}.{:08X}/{host}", rand::random::<u32>());
    let data = dsn::render(&bounce, failed, &boundary);
    let (q, uid, to) = (queue.clone(), envelope.uid, envelope.from.clone());
    let queued = move || {
        q.add_bounce(uid, &to, &data)
            .map_err(|f| std::io::Error::other(f.to_string()))
    };
    match blocking(queued).await {
        Ok(dsn_id) => {
            info!(target: QUEUE_TARGET, "{id}: sender non-delivery notification: {dsn_id}")
        }
        Err(e) => warn!(target: QUEUE_TARGET, "{id}: cannot queue the bounce: {e}"),
    }
}

/// Runs file work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    match actix_rt::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) => Err(std::io::Error::other(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16, text: &str) -> Reply {
        Reply {
            code,
            lines: [text].into(),
        }
    }

    #[test]
    fn refused_recipients_bounce_alone_and_4xx_is_retried() {
        let rcpts: Vec<String> = ["a@x", "b@x", "c@x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let report = SendReport {
            mail: reply(250, "ok"),
            recipients: vec![
                reply(250, "ok"),
                reply(550, "5.1.1 no"),
                reply(451, "4.3.0 later"),
            ],
            verdict: reply(250, "queued"),
        };
        let (verdicts, broken) = classify(&rcpts, Response::Sent(report));
        assert_eq!(broken, None);
        assert!(matches!(&verdicts[0].1, Verdict::Sent(t) if t == "250 queued"));
        assert!(matches!(&verdicts[1].1, Verdict::Bounced { status, .. } if status == "5.1.1"));
        assert!(matches!(&verdicts[2].1, Verdict::Deferred(t) if t.starts_with("451")));
    }

    #[test]
    fn a_refused_dot_or_sender_counts_for_every_recipient() {
        let rcpts = vec!["a@x".to_string()];
        let dot = SendReport {
            mail: reply(250, "ok"),
            recipients: vec![reply(250, "ok")],
            verdict: reply(554, "no"),
        };
        let (verdicts, _) = classify(&rcpts, Response::Failed(Failure::NotSent(dot)));
        assert!(matches!(&verdicts[0].1, Verdict::Bounced { status, .. } if status == "5.0.0"));
        let mail = SendReport {
            mail: reply(421, "busy"),
            recipients: vec![],
            verdict: reply(421, "busy"),
        };
        let (verdicts, _) = classify(&rcpts, Response::Failed(Failure::NotSent(mail)));
        assert!(matches!(&verdicts[0].1, Verdict::Deferred(_)));
        let (verdicts, broken) = classify(&rcpts, Response::Failed(Failure::TimedOut(20)));
        assert!(matches!(&verdicts[0].1, Verdict::Deferred(_)) && broken.is_some());
    }
}
