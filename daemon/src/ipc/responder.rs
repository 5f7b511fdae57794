//! The answer to one request: its accounting (totals, metrics, the log
//! line), its frame written at once or queued for the client's writer (see
//! [`super::outlet`]), and the request's hold on its client given back.
//!
//! A [`Responder`] travels with its request. The requests of the message
//! path hand it to their session inside a `Told` message, and the session
//! answers through it on its own thread when the SMTP exchange ends: no task
//! and no channel of the router's wait in between. Other requests are
//! answered by the router's task for them. A responder dropped unanswered
//! (its session stopped with the request in it) answers `Aborted`, so no
//! caller waits for ever.

use super::outlet::write_now;
use super::summary::{outcome, Summary};
use crate::budget::{charge_of, ClientBudget, RequestSlot};
use crate::logging::{CALL_TARGET, ERROR_TARGET};
use crate::observed::Verb;
use crate::peer::ClientId;
use crate::stats::Totals;
use smtp32_protocol::{DaemonFrame, Failure, Request, RequestId, Response};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::{self, error::TrySendError};
use tracing::{debug, warn};

/// What a request holds of its client while it is served, given back when
/// it is answered: its bytes in the client's budget and its slot among the
/// requests in flight.
pub struct Hold {
    on: Holder,
    bytes: usize,
}

/// Whose budget a request draws on: a client's request through its slot
/// (which holds the budget: one reference, not two), or the queue runner's,
/// which no limit of slots counts.
enum Holder {
    Slot(RequestSlot),
    Runner(Arc<ClientBudget>),
}

impl Hold {
    /// `bytes` already charged to the budget of `slot`'s client.
    pub fn with_slot(slot: RequestSlot, bytes: usize) -> Hold {
        Hold {
            on: Holder::Slot(slot),
            bytes,
        }
    }

    /// `bytes` already charged to `budget`, for a request that takes no slot.
    pub fn without_slot(budget: Arc<ClientBudget>, bytes: usize) -> Hold {
        Hold {
            on: Holder::Runner(budget),
            bytes,
        }
    }

    fn budget(&self) -> &ClientBudget {
        match &self.on {
            Holder::Slot(slot) => slot.budget(),
            Holder::Runner(budget) => budget,
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.budget().release(self.bytes);
    }
}

/// Where the response to one request goes.
pub struct Responder(Option<Pending>);

/// A responder not yet answered.
struct Pending {
    id: RequestId,
    client: ClientId,
    /// What the log line names, taken before the request moved on.
    summary: Summary,
    verb: Verb,
    started: Instant,
    is_data_end: bool,
    totals: Arc<Totals>,
    out: mpsc::Sender<DaemonFrame>,
    hold: Hold,
}

/// Who answers: the client, its writer's queue and its counters.
pub struct Answering<'a> {
    pub client: ClientId,
    pub totals: &'a Arc<Totals>,
    pub out: &'a mpsc::Sender<DaemonFrame>,
}

impl Responder {
    /// The responder for `request`, taken before the request is served;
    /// `in_auth_exchange` tells whether a handle's connection is inside an
    /// AUTH exchange (its `smtp_direct` lines are then logged as secret).
    pub fn new(
        answering: Answering<'_>,
        id: RequestId,
        request: &Request,
        in_auth_exchange: impl Fn(smtp32_protocol::Handle) -> bool,
        hold: Hold,
    ) -> Responder {
        Responder(Some(Pending {
            id,
            client: answering.client,
            summary: Summary::of(request, in_auth_exchange),
            verb: crate::observed::verb(request),
            started: Instant::now(),
            is_data_end: matches!(request, Request::DataEnd { .. }),
            totals: answering.totals.clone(),
            out: answering.out.clone(),
            hold,
        }))
    }

    /// Answers without waiting: when the client's queue is full, a task
    /// waits for room (the caller may be a session, which must not wait).
    pub fn answer(mut self, response: Response) {
        if let Some(pending) = self.0.take() {
            pending.answer(response);
        }
    }

    /// Answers, waiting for room in the client's queue (backpressure on the
    /// router's task).
    pub async fn send(mut self, response: Response) {
        if let Some(pending) = self.0.take() {
            let Some((frame, charge)) = pending.outgoing(response) else {
                return;
            };
            if pending.out.send(frame).await.is_err() {
                pending.hold.budget().release(charge);
            }
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if let Some(pending) = self.0.take() {
            pending.answer(Response::Failed(Failure::Aborted));
        }
    }
}

impl Pending {
    fn answer(self, response: Response) {
        let Some((frame, charge)) = self.outgoing(response) else {
            return;
        };
        match self.out.try_send(frame) {
            Ok(()) => {}
            Err(TrySendError::Full(frame)) => {
                actix_rt::spawn(async move {
                    if self.out.send(frame).await.is_err() {
                        self.hold.budget().release(charge);
                    }
                });
            }
            Err(TrySendError::Closed(_)) => self.hold.budget().release(charge),
        }
    }

    /// Counts and logs `response` and writes its frame at once if the
    /// client's outlet can take it; else returns the frame to queue, with
    /// the bytes it was charged to the budget (the writer gives them back
    /// once it is written).
    fn outgoing(&self, response: Response) -> Option<(DaemonFrame, usize)> {
        let frame = self.settle(response);
        if write_now(self.client, &frame) {
            return None;
        }
        let charge = charge_of(&frame);
        self.hold.budget().charge(charge);
        Some((frame, charge))
    }

    /// Counts and logs `response`; returns its frame.
    fn settle(&self, response: Response) -> DaemonFrame {
        let totals = &self.totals;
        match &response {
            Response::Reply(_) if self.is_data_end => totals.message_accepted(),
            Response::Sent(_) => totals.message_accepted(),
            Response::SentBatch(outcomes) => {
                for _ in outcomes.iter().filter(|o| o.is_ok()) {
                    totals.message_accepted();
                }
            }
            Response::Failed(f) => totals.failed(f),
            _ => {}
        }
        totals
            .observed
            .served(self.verb, &response, self.started.elapsed());
        let (client, summary) = (self.client.0, &self.summary);
        match &response {
            Response::Failed(f) => {
                warn!(target: ERROR_TARGET, client, "{summary} -> {} ({f})", f.code().name())
            }
            _ => debug!(target: CALL_TARGET, client, "{summary} -> {}", outcome(&response)),
        }
        DaemonFrame::Response {
            id: self.id,
            response,
        }
    }
}
