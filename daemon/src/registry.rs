//! Which SMTP connections exist and who owns them.
//!
//! Handles are random non-zero 32-bit ids, unique in the daemon. A handle is
//! found only by the IPC client that created it: to everyone else it does not
//! exist (`Failure::InvalidHandle`), so handles cannot be guessed across
//! clients. Limits on connections in all, per IPC client and per user (uid,
//! across all of that user's clients) are enforced here.
//!
//! The admin requests are the one exception, and they go through their own
//! lookups ([`Registry::visible`], [`Registry::lookup_admin`]): there a
//! connection belongs to its owner's *uid*, so `smtp32ctl` run by the same
//! user sees it, and an admin sees every connection.

use crate::activity::Activity;
use crate::peer::{ClientId, Viewer};
use crate::platform::UserId;
use crate::session::{HandleBook, SmtpSession};
use actix::{Addr, Handler, Message};
use rand::Rng;
use rustc_hash::FxHashMap;
use smtp32_protocol::{Failure, Handle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

struct Entry {
    owner: ClientId,
    /// The uid the connection counts against, if its user is limited.
    user: Option<UserId>,
    session: Addr<SmtpSession>,
    activity: Arc<Activity>,
}

#[derive(Default)]
struct Table {
    entries: FxHashMap<Handle, Entry>,
    per_client: FxHashMap<ClientId, u32>,
    /// Connections by the uid they count against (`ConnectionLimits::per_user`).
    per_user: FxHashMap<UserId, u32>,
}

/// The limits an open is checked against.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// `max_connections`: all clients together.
    pub total: u32,
    /// `max_connections_per_client`: one IPC client.
    pub per_client: u32,
    /// The uid the connection counts against and `max_connections_per_user`,
    /// `None` for the users not limited per user (root, the daemon's own).
    pub per_user: Option<(UserId, u32)>,
}

/// The daemon-wide handle table, shared by every IPC client task.
pub struct Registry {
    table: Mutex<Table>,
    opened: AtomicU64,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry {
            table: Mutex::new(Table::default()),
            opened: AtomicU64::new(0),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while holding the lock cannot leave the table inconsistent
        // (every update is a single insert/remove), so recover from poisoning.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Picks a fresh handle for `owner` within the limits and registers the
    /// session that `start` creates for it (with its live record); returns the handle and session.
    pub fn open(
        &self,
        owner: ClientId,
        limits: ConnectionLimits,
        start: impl FnOnce(Handle) -> (Addr<SmtpSession>, Arc<Activity>),
    ) -> Result<(Handle, Addr<SmtpSession>), Failure> {
        let mut t = self.table();
        let max_total = limits.total;
        if t.entries.len() >= max_total as usize {
            return Err(Failure::LimitReached(format!(
                "the daemon holds its maximum of {max_total} connections"
            )));
        }
        let mine = t.per_client.get(&owner).copied().unwrap_or(0);
        if mine >= limits.per_client {
            let max = limits.per_client;
            return Err(Failure::LimitReached(format!(
                "this client holds its maximum of {max} connections"
            )));
        }
        if let Some((uid, max)) = limits.per_user {
            if t.per_user.get(&uid).copied().unwrap_or(0) >= max {
                return Err(Failure::LimitReached(format!(
                    "uid {uid} holds its maximum of {max} connections"
                )));
            }
        }
        let mut rng = rand::rng();
        let handle = loop {
            if let Some(h) = Handle::new(rng.random()) {
                if !t.entries.contains_key(&h) {
                    break h;
                }
            }
        };
        let (session, activity) = start(handle);
        let user = limits.per_user.map(|(uid, _)| uid);
        t.entries.insert(
            handle,
            Entry {
                owner,
                user,
                session: session.clone(),
                activity,
            },
        );
        *t.per_client.entry(owner).or_default() += 1;
        if let Some(uid) = user {
            *t.per_user.entry(uid).or_default() += 1;
        }
        self.opened.fetch_add(1, Ordering::Relaxed);
        Ok((handle, session))
    }

    /// The session behind `handle`, if `owner` created it.
    pub fn lookup(&self, owner: ClientId, handle: Handle) -> Result<Addr<SmtpSession>, Failure> {
        match self.table().entries.get(&handle) {
            Some(e) if e.owner == owner => Ok(e.session.clone()),
            _ => Err(Failure::InvalidHandle),
        }
    }

    /// Sends `message` to the session behind `handle` if `owner` created it
    /// and it still runs; gives the message back otherwise. (No copy of the
    /// session's address: each costs two allocations.)
    pub fn do_send<M>(&self, owner: ClientId, handle: Handle, message: M) -> Result<(), M>
    where
        M: Message + Send + 'static,
        M::Result: Send,
        SmtpSession: Handler<M>,
    {
        match self.table().entries.get(&handle) {
            Some(e) if e.owner == owner && e.session.connected() => {
                e.session.do_send(message);
                Ok(())
            }
            _ => Err(message),
        }
    }

    /// The live record behind `handle`, if `owner` created it.
    pub fn activity(&self, owner: ClientId, handle: Handle) -> Option<Arc<Activity>> {
        match self.table().entries.get(&handle) {
            Some(e) if e.owner == owner => Some(e.activity.clone()),
            _ => None,
        }
    }

    /// Forgets `handle` if `owner` holds it; returns whether it did.
    pub fn remove(&self, owner: ClientId, handle: Handle) -> bool {
        let mut t = self.table();
        if !matches!(t.entries.get(&handle), Some(e) if e.owner == owner) {
            return false;
        }
        if let Some(entry) = t.entries.remove(&handle) {
            release_user(&mut t, entry.user);
        }
        release(&mut t, owner, 1);
        true
    }

    /// Forgets every handle of `owner` and returns their sessions.
    pub fn remove_client(&self, owner: ClientId) -> Vec<Addr<SmtpSession>> {
        let mut t = self.table();
        let handles: Vec<Handle> = t
            .entries
            .iter()
            .filter(|(_, e)| e.owner == owner)
            .map(|(h, _)| *h)
            .collect();
        let entries: Vec<Entry> = handles.iter().filter_map(|h| t.entries.remove(h)).collect();
        let sessions = entries
            .into_iter()
            .map(|e| {
                release_user(&mut t, e.user);
                e.session
            })
            .collect();
        t.per_client.remove(&owner);
        sessions
    }

    /// The live records of the connections `viewer` may see, by handle.
    pub fn visible(&self, viewer: &Viewer) -> Vec<Arc<Activity>> {
        let mut seen: Vec<Arc<Activity>> = self
            .table()
            .entries
            .values()
            .filter(|e| viewer.may_see(&e.activity.owner()))
            .map(|e| e.activity.clone())
            .collect();
        seen.sort_by_key(|a| a.handle());
        seen
    }

    /// The session and record behind `handle` for an admin request: found
    /// when `viewer` may see it, whichever client opened it.
    pub fn lookup_admin(
        &self,
        viewer: &Viewer,
        handle: Handle,
    ) -> Result<(Addr<SmtpSession>, Arc<Activity>), Failure> {
        match self.table().entries.get(&handle) {
            Some(e) if viewer.may_see(&e.activity.owner()) => {
                Ok((e.session.clone(), e.activity.clone()))
            }
            _ => Err(Failure::InvalidHandle),
        }
    }

    /// The live record of every connection, for status counts and shutdown.
    pub fn all_activities(&self) -> Vec<Arc<Activity>> {
        self.table()
            .entries
            .values()
            .map(|e| e.activity.clone())
            .collect()
    }

    /// Every session, for shutdown.
    pub fn all_sessions(&self) -> Vec<Addr<SmtpSession>> {
        self.table()
            .entries
            .values()
            .map(|e| e.session.clone())
            .collect()
    }

    /// Connections open now.
    pub fn len(&self) -> usize {
        self.table().entries.len()
    }

    /// True when no connection is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Connections opened since start.
    pub fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

fn release(t: &mut Table, owner: ClientId, n: u32) {
    if let Some(c) = t.per_client.get_mut(&owner) {
        *c = c.saturating_sub(n);
        if *c == 0 {
            t.per_client.remove(&owner);
        }
    }
}

fn release_user(t: &mut Table, user: Option<UserId>) {
    let Some(uid) = user else { return };
    if let Some(c) = t.per_user.get_mut(&uid) {
        *c = c.saturating_sub(1);
        if *c == 0 {
            t.per_user.remove(&uid);
        }
    }
}

impl HandleBook for Registry {
    fn forget(&self, owner: ClientId, handle: Handle) {
        self.remove(owner, handle);
    }
}
