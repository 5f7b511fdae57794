//! The connection cache: warm SMTP sessions kept between programs, in the
//! spirit of Postfix's scache.
//!
//! A session ended by `smtp_quit` in a clean state is *parked* here instead
//! of getting QUIT; the next open whose [`SessionKey`] matches takes it with
//! no network traffic. The cache owns only the connection ([`SmtpClient`])
//! and what a new owner may learn of it (the EHLO reply, who it is
//! authenticated as as an [`AuthProof`]); the actor, the handle, the debug
//! tap and the last reply of the old owner are gone with its session.
//!
//! Idle sessions leave with QUIT when their time is up
//! (`cache.idle_seconds`), when the cache or their destination is full (the
//! oldest goes), when they have carried `cache.max_reuse` transactions, or
//! when `smtp32ctl close` names them. One the server closed (an end of
//! stream, or anything the server said unasked, such as a 421) is dropped
//! when an open looks at it, never handed out.

pub mod key;

pub use key::{AuthProof, SecretDigester, SessionKey};

use crate::activity::Activity;
use crate::config::CacheSettings;
use crate::peer::Viewer;
use crate::smtp::{NoTap, SmtpClient};
use smtp32_protocol::{CacheStatus, ConnectionInfo, ConnectionState, Handle, Reply};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long a QUIT to an evicted session may take.
const EVICT_QUIT_LIMIT: Duration = Duration::from_secs(5);

/// A session waiting in the cache.
pub struct Parked {
    /// The connection, past EHLO (and AUTH if `auth`), no transaction open.
    pub client: Box<SmtpClient>,
    /// What an open must match.
    pub key: SessionKey,
    /// The EHLO reply of the open, for `smtp_rply` after a reuse.
    pub ehlo: Reply,
    /// Who the connection is authenticated as, if anyone.
    pub auth: Option<Box<AuthProof>>,
    /// Mail transactions carried so far.
    pub transactions: u32,
    /// The record the admin view lists, under the handle it last had.
    pub activity: Arc<Activity>,
}

struct Idle {
    id: u64,
    parked: Parked,
}

/// The daemon's idle sessions and the counters `smtp32ctl status` shows.
#[derive(Default)]
pub struct ConnectionCache {
    digester: SecretDigester,
    idle: Mutex<Vec<Idle>>,
    next_id: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    reconnects: AtomicU64,
    evictions: AtomicU64,
}

impl ConnectionCache {
    /// An empty cache with a fresh digest key.
    pub fn new() -> ConnectionCache {
        ConnectionCache::default()
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Idle>> {
        // Every update is one push or remove: a poisoned lock holds consistent data.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The digester of keys and AUTH proofs.
    pub fn digester(&self) -> &SecretDigester {
        &self.digester
    }

    /// Keeps `parked` for the next open with its key, within `settings`;
    /// gives its connection back (for QUIT) when the cache is off or it
    /// carried its `max_reuse` transactions. Makes room by evicting the oldest.
    pub fn park(
        self: &Arc<Self>,
        mut parked: Parked,
        settings: &CacheSettings,
    ) -> Option<Box<SmtpClient>> {
        if !settings.enabled() {
            return Some(parked.client);
        }
        if parked.transactions >= settings.max_reuse {
            self.evictions.fetch_add(1, Ordering::Relaxed);
            return Some(parked.client);
        }
        parked.client.set_tap(Arc::new(NoTap));
        parked.client.release_idle();
        parked.activity.set_state(ConnectionState::Cached);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut evicted = Vec::new();
        {
            let mut idle = self.idle();
            let same = |e: &Idle| e.parked.key.same_destination(&parked.key);
            if idle.iter().filter(|e| same(e)).count() >= settings.max_idle_per_destination as usize
            {
                if let Some(i) = idle.iter().position(same) {
                    evicted.push(idle.remove(i));
                }
            }
            if idle.len() >= settings.max_idle as usize {
                evicted.push(idle.remove(0));
            }
            idle.push(Idle { id, parked });
        }
        for e in evicted {
            drop(self.evict(e.parked));
        }
        let cache = self.clone();
        let after = Duration::from_secs(settings.idle_seconds.into());
        actix_rt::spawn(async move {
            tokio::time::sleep(after).await;
            cache.expire(id);
        });
        None
    }

    /// The most recently parked live session with `key`, taken out of the
    /// cache; dead ones met on the way are dropped.
    pub fn take(&self, key: &SessionKey) -> Option<Parked> {
        let mut dead = Vec::new();
        let found = {
            let mut idle = self.idle();
            loop {
                let Some(i) = idle.iter().rposition(|e| e.parked.key == *key) else {
                    break None;
                };
                let mut entry = idle.remove(i);
                if entry.parked.client.is_idle_alive() {
                    break Some(entry.parked);
                }
                entry.parked.activity.set_state(ConnectionState::Lost);
                dead.push(entry);
            }
        };
        self.evictions
            .fetch_add(dead.len() as u64, Ordering::Relaxed);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Counts a reused session that had to be replaced by a new connection.
    pub fn count_reconnect(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// The rows of the idle sessions `viewer` may see.
    pub fn visible(&self, viewer: &Viewer) -> Vec<ConnectionInfo> {
        let idle = self.idle();
        idle.iter()
            .filter(|e| viewer.may_see(&e.parked.activity.owner()))
            .map(|e| e.parked.activity.info())
            .collect()
    }

    /// `smtp32ctl close` on an idle session: QUIT it. False when `viewer`
    /// sees no idle session with that handle.
    pub fn close(&self, viewer: &Viewer, handle: Handle) -> bool {
        let entry = {
            let mut idle = self.idle();
            let found = idle.iter().position(|e| {
                e.parked.activity.handle() == handle && viewer.may_see(&e.parked.activity.owner())
            });
            found.map(|i| idle.remove(i))
        };
        match entry {
            Some(e) => {
                drop(self.evict(e.parked));
                true
            }
            None => false,
        }
    }

    /// QUITs every idle session and waits for the QUITs (the daemon stops).
    pub async fn clear(&self) {
        let all = std::mem::take(&mut *self.idle());
        let quits: Vec<_> = all.into_iter().map(|e| self.evict(e.parked)).collect();
        for quit in quits {
            let _ = quit.await;
        }
    }

    /// The figures of `smtp32ctl status`.
    pub fn status(&self) -> CacheStatus {
        CacheStatus {
            idle: self.idle().len() as u32,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }

    /// The idle time of entry `id` is up.
    fn expire(&self, id: u64) {
        let entry = {
            let mut idle = self.idle();
            idle.iter().position(|e| e.id == id).map(|i| idle.remove(i))
        };
        if let Some(e) = entry {
            drop(self.evict(e.parked));
        }
    }

    /// QUIT, in the background, bounded in time.
    fn evict(&self, parked: Parked) -> actix_rt::task::JoinHandle<()> {
        self.evictions.fetch_add(1, Ordering::Relaxed);
        let Parked {
            client, activity, ..
        } = parked;
        activity.set_state(ConnectionState::Closing);
        actix_rt::spawn(async move {
            let _ = tokio::time::timeout(EVICT_QUIT_LIMIT, client.quit()).await;
            activity.set_state(ConnectionState::Lost);
        })
    }
}
