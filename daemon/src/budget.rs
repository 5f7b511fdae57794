//! The bytes one IPC client holds in the daemon, counted against one budget
//! (`client_queue_bytes`): its requests while they are served, and the
//! responses and traffic copies waiting for it to read them. The budgets of
//! one user's clients also draw on that user's budget (`user_queue_bytes`),
//! so that many clients of one user cannot add up to more. The same budget
//! counts the client's requests in flight, at most
//! [`MAX_REQUESTS_IN_FLIGHT`].
//!
//! Policy: a response is always queued (dropping it would leave its caller
//! waiting); a traffic copy is dropped (and counted) when it does not fit; and
//! while the client is over its budget the daemon reads no further request
//! larger than [`SMALL_REQUEST_BYTES`] from it. Small ones (`XQuit` among them)
//! are still read, up to the client's limit on requests in flight. Whatever the
//! client sends or fails to read, what it holds is therefore bounded in bytes;
//! the README gives the formula.
//!
//! Producers and the writer measure a frame the same way ([`charge_of`]), so
//! what is taken is exactly what is given back.
//!
//! Giving back is on every request's path, and nobody waits almost always:
//! a [`Quota`] wakes waiters only when it has some (a `Notify` takes a lock
//! to find out).

use smtp32_protocol::codec::encoded_len;
use smtp32_protocol::{DaemonFrame, Event};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use tokio::sync::Notify;

/// Requests up to this size are read even while the client is over its budget.
pub const SMALL_REQUEST_BYTES: usize = 4 * 1024;

/// Requests one client may have in flight at once; the reader reads no
/// further request until one ends.
pub const MAX_REQUESTS_IN_FLIGHT: usize = 256;

/// One IPC client's bytes in the daemon, shared by its reader, its request
/// tasks, the traffic taps of its connections and its writer.
#[derive(Debug)]
pub struct ClientBudget {
    own: Quota,
    /// The budget of the client's user, shared by all of that user's clients;
    /// `None` for the users not limited per user (root, the daemon's own).
    user: Option<Arc<Quota>>,
    /// The client's requests in flight.
    requests: Quota,
}

/// An amount (bytes, requests) held against a limit, with a wake-up for
/// those waiting when some is given back.
#[derive(Debug)]
pub struct Quota {
    held: AtomicUsize,
    limit: usize,
    freed: Notify,
    /// Tasks waiting for room; `freed` is notified only when there are any.
    waiting: AtomicUsize,
}

impl Quota {
    /// A quota of `limit`, none held.
    pub fn new(limit: usize) -> Quota {
        Quota {
            held: AtomicUsize::new(0),
            limit,
            freed: Notify::new(),
            waiting: AtomicUsize::new(0),
        }
    }

    fn charge(&self, n: usize) {
        self.held.fetch_add(n, SeqCst);
    }

    /// Takes `n` if it fits, or if nothing is held (so one item larger
    /// than the whole quota can still pass, alone).
    fn try_charge(&self, n: usize) -> bool {
        self.held
            .fetch_update(SeqCst, SeqCst, |h| {
                (h == 0 || h.saturating_add(n) <= self.limit).then_some(h + n)
            })
            .is_ok()
    }

    /// Gives back `n` and wakes those waiting, if any. (Sequentially
    /// consistent with [`Waiting::on`] and the waiter's check: either the
    /// waiter's check sees the room, or this sees the waiter.)
    fn release(&self, n: usize) {
        self.undo(n);
        if self.waiting.load(SeqCst) > 0 {
            self.freed.notify_waiters();
        }
    }

    /// Gives back `n` taken a moment ago without waking anyone: nobody
    /// could have waited for it (waking would make a waiter spin on itself).
    fn undo(&self, n: usize) {
        let _ = self
            .held
            .fetch_update(SeqCst, SeqCst, |h| Some(h.saturating_sub(n)));
    }

    /// The amount held now.
    pub fn held(&self) -> usize {
        self.held.load(SeqCst)
    }

    /// Waits until `n` fits (see [`Quota::try_charge`]) and takes it.
    async fn charge_when_room(&self, n: usize) {
        let _waiting = Waiting::on(self);
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before the check, so a release in between is not missed.
            freed.as_mut().enable();
            if self.try_charge(n) {
                return;
            }
            freed.await;
        }
    }
}

/// One task counted as waiting on a [`Quota`] while this lives (a wait may
/// be dropped half-way: the count goes down with it).
struct Waiting<'a>(&'a Quota);

impl<'a> Waiting<'a> {
    fn on(quota: &'a Quota) -> Waiting<'a> {
        quota.waiting.fetch_add(1, SeqCst);
        Waiting(quota)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, SeqCst);
    }
}

/// One of a client's requests in flight; dropped, the slot is free again.
#[derive(Debug)]
pub struct RequestSlot(Arc<ClientBudget>);

impl RequestSlot {
    /// The budget of the client whose slot this is.
    pub fn budget(&self) -> &ClientBudget {
        &self.0
    }
}

impl Drop for RequestSlot {
    fn drop(&mut self) {
        self.0.requests.release(1);
    }
}

impl ClientBudget {
    /// A budget of `limit` bytes that also draws on `user` when given.
    pub fn new(limit: usize, user: Option<Arc<Quota>>) -> ClientBudget {
        ClientBudget {
            own: Quota::new(limit),
            user,
            requests: Quota::new(MAX_REQUESTS_IN_FLIGHT),
        }
    }

    /// A slot for one more request in flight, if one is free.
    pub fn try_request_slot(self: &Arc<Self>) -> Option<RequestSlot> {
        self.requests
            .try_charge(1)
            .then(|| RequestSlot(self.clone()))
    }

    /// A slot for one more request in flight, once one is free.
    pub async fn request_slot(self: &Arc<Self>) -> RequestSlot {
        self.requests.charge_when_room(1).await;
        RequestSlot(self.clone())
    }

    /// Takes `n` bytes whatever the budgets say (a response, a small request).
    pub fn charge(&self, n: usize) {
        self.own.charge(n);
        if let Some(user) = &self.user {
            user.charge(n);
        }
    }

    /// Takes `n` bytes if they fit in the client's budget and in its user's
    /// (each lets one item pass when it holds nothing); takes none otherwise.
    pub fn try_charge(&self, n: usize) -> bool {
        if !self.own.try_charge(n) {
            return false;
        }
        match &self.user {
            Some(user) if !user.try_charge(n) => {
                self.own.undo(n);
                false
            }
            _ => true,
        }
    }

    /// Waits until `n` bytes fit (see [`ClientBudget::try_charge`]) and takes them.
    pub async fn charge_when_room(&self, n: usize) {
        let Some(user) = &self.user else {
            return self.own.charge_when_room(n).await;
        };
        let _own = Waiting::on(&self.own);
        let _shared = Waiting::on(user);
        loop {
            let own = self.own.freed.notified();
            tokio::pin!(own);
            // Registered before the check, so a release in between is not missed.
            own.as_mut().enable();
            let shared = user.freed.notified();
            tokio::pin!(shared);
            shared.as_mut().enable();
            if self.try_charge(n) {
                return;
            }
            tokio::select! {
                _ = own => {}
                _ = shared => {}
            }
        }
    }

    /// Gives back `n` bytes (written, served, or not queued after all).
    pub fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        self.own.release(n);
        if let Some(user) = &self.user {
            user.release(n);
        }
    }

    /// Bytes this client holds now.
    pub fn held(&self) -> usize {
        self.own.held()
    }
}

/// What a frame holds against its client's budget while it waits to be
/// written: a response its encoded size, a traffic copy its bytes; the rare
/// small events (a connect's status) nothing.
pub fn charge_of(frame: &DaemonFrame) -> usize {
    match frame {
        DaemonFrame::Response { .. } => encoded_len(frame).unwrap_or(0),
        DaemonFrame::Event(Event::Traffic { bytes, .. }) => bytes.len(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls `future` once, as its task's first turn would: whether it waits
    /// is then its own state, not a matter of which task ran first.
    fn polled_once<F: std::future::Future>(
        future: std::pin::Pin<&mut F>,
    ) -> std::task::Poll<F::Output> {
        future.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    }

    #[test]
    fn copies_fit_or_are_refused_and_one_big_item_passes_alone() {
        let b = ClientBudget::new(100, None);
        assert!(b.try_charge(150), "nothing held: a big item passes");
        assert!(!b.try_charge(1));
        b.release(150);
        assert!(b.try_charge(60) && b.try_charge(40) && !b.try_charge(1));
        b.charge(500);
        assert_eq!(b.held(), 600);
        b.release(600);
        assert_eq!(b.held(), 0);
    }

    #[tokio::test]
    async fn one_users_clients_share_the_users_budget() {
        let user = Arc::new(Quota::new(150));
        let a = Arc::new(ClientBudget::new(100, Some(user.clone())));
        let b = Arc::new(ClientBudget::new(100, Some(user.clone())));
        assert!(a.try_charge(100));
        assert!(!b.try_charge(60), "each client fits, the user does not");
        assert_eq!((b.held(), user.held()), (0, 100));
        let mut waiter = std::pin::pin!(b.charge_when_room(60));
        assert!(polled_once(waiter.as_mut()).is_pending(), "it waits");
        a.release(50);
        waiter.await;
        assert_eq!((a.held(), b.held(), user.held()), (50, 60, 110));
    }

    #[tokio::test]
    async fn a_waiting_charge_goes_through_when_bytes_are_given_back() {
        let b = Arc::new(ClientBudget::new(100, None));
        b.charge(100);
        let mut waiter = std::pin::pin!(b.charge_when_room(50));
        assert!(polled_once(waiter.as_mut()).is_pending(), "it waits");
        b.release(60);
        waiter.await;
        assert_eq!(b.held(), 90);
    }

    #[tokio::test]
    async fn a_request_waits_for_a_slot_until_one_is_given_back() {
        let b = Arc::new(ClientBudget::new(100, None));
        let mut slots: Vec<RequestSlot> = (0..MAX_REQUESTS_IN_FLIGHT)
            .map(|_| b.try_request_slot().unwrap())
            .collect();
        assert!(b.try_request_slot().is_none(), "all slots taken");
        let mut waiter = std::pin::pin!(b.request_slot());
        assert!(polled_once(waiter.as_mut()).is_pending(), "it waits");
        assert_eq!(b.requests.waiting.load(SeqCst), 1);
        slots.pop();
        let slot = waiter.await;
        assert_eq!(b.requests.held(), MAX_REQUESTS_IN_FLIGHT);
        assert_eq!(
            b.requests.waiting.load(SeqCst),
            0,
            "the waiter is counted out"
        );
        drop((slot, slots));
        assert_eq!(b.requests.held(), 0);
    }
}
