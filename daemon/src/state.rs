//! What every IPC client task shares: settings, the handle registry, the
//! workers that serve the clients and run their SMTP session actors, counters for `status`, the
//! shutdown state and the means to reload.

use crate::cache::ConnectionCache;
use crate::config::{ConfigError, Settings};
use crate::lifecycle::Lifecycle;
use crate::peer::ClientId;
use crate::queue::QueueSlot;
use crate::registry::Registry;
use crate::reload::Reload;
use crate::seats::Seats;
use crate::stats::Totals;
use crate::workers::Worker;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// The daemon's shared state.
pub struct DaemonState {
    settings: RwLock<Arc<Settings>>,
    /// Every SMTP connection and its owner.
    pub registry: Arc<Registry>,
    /// Warm sessions kept between programs.
    pub cache: Arc<ConnectionCache>,
    workers: Vec<Worker>,
    next_worker: AtomicUsize,
    next_client: AtomicU64,
    /// The IPC clients connected now, in all and per user.
    pub seats: Arc<Seats>,
    started: Instant,
    /// Totals since start.
    pub totals: Arc<Totals>,
    /// Shutdown requested? Serving over?
    pub lifecycle: Lifecycle,
    reload: Reload,
    config_file: Option<PathBuf>,
    /// The mail queue of `smtp32-sendmail`, opened on first use.
    pub queue: QueueSlot,
}

impl DaemonState {
    /// State for a daemon whose session actors run on `workers` (at least
    /// one), reloading its settings through `reload`.
    pub fn new(settings: Settings, workers: Vec<Worker>, reload: Reload) -> DaemonState {
        DaemonState {
            totals: Arc::new(Totals::default()),
            lifecycle: Lifecycle::new(),
            config_file: reload.file_in_use(),
            reload,
            settings: RwLock::new(Arc::new(settings)),
            registry: Arc::new(Registry::new()),
            cache: Arc::new(ConnectionCache::new()),
            workers,
            next_worker: AtomicUsize::new(0),
            next_client: AtomicU64::new(1),
            seats: Arc::new(Seats::default()),
            started: Instant::now(),
            queue: QueueSlot::default(),
        }
    }

    /// The settings in force now. New connections and clients use them;
    /// existing ones keep what they started with.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the settings (SIGHUP).
    pub fn replace_settings(&self, settings: Settings) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(settings);
    }

    /// Reloads the settings (SIGHUP, `Request::Reload`); the old ones stay on error.
    pub fn reload(&self) -> Result<(), ConfigError> {
        self.reload
            .apply(&self.settings(), |new| self.replace_settings(new))
    }

    /// The configuration file read at start, if any.
    pub fn config_file(&self) -> Option<&PathBuf> {
        self.config_file.as_ref()
    }

    /// Every worker that serves clients and runs their SMTP sessions.
    pub fn workers(&self) -> &[Worker] {
        &self.workers
    }

    /// The worker for the next IPC client, round robin, so clients (and the
    /// sessions each opens, which run on its worker) spread over all cores.
    pub fn next_worker(&self) -> &Worker {
        let i = self.next_worker.fetch_add(1, Ordering::Relaxed);
        &self.workers[i % self.workers.len()]
    }

    /// A fresh id for a new IPC client.
    pub fn next_client_id(&self) -> ClientId {
        ClientId(self.next_client.fetch_add(1, Ordering::Relaxed))
    }

    /// A client id for work of the daemon's own (the queue runner), not
    /// counted as a connected client.
    pub fn internal_client(&self) -> ClientId {
        self.next_client_id()
    }

    /// IPC clients connected now.
    pub fn clients(&self) -> u32 {
        self.seats.taken()
    }

    /// Seconds since start.
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}
