//! What every IPC client task shares: settings, the handle registry, the
//! arbiters that serve the clients and run their SMTP session actors, counters for `status`, the
//! shutdown state and the means to reload.

use crate::cache::ConnectionCache;
use crate::config::{ConfigError, Settings};
use crate::lifecycle::Lifecycle;
use crate::registry::{ClientId, Registry};
use crate::reload::Reload;
use crate::stats::Totals;
use actix::ArbiterHandle;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// The daemon's shared state.
pub struct DaemonState {
    settings: RwLock<Arc<Settings>>,
    /// Every SMTP connection and its owner.
    pub registry: Arc<Registry>,
    /// Warm sessions kept between programs.
    pub cache: Arc<ConnectionCache>,
    arbiters: Vec<ArbiterHandle>,
    next_arbiter: AtomicUsize,
    next_client: AtomicU64,
    clients: AtomicU32,
    started: Instant,
    /// Totals since start.
    pub totals: Arc<Totals>,
    /// Shutdown requested? Serving over?
    pub lifecycle: Lifecycle,
    reload: Reload,
    config_file: Option<PathBuf>,
}

impl DaemonState {
    /// State for a daemon whose session actors run on `arbiters` (at least
    /// one), reloading its settings through `reload`.
    pub fn new(settings: Settings, arbiters: Vec<ArbiterHandle>, reload: Reload) -> DaemonState {
        DaemonState {
            totals: Arc::new(Totals::default()),
            lifecycle: Lifecycle::new(),
            config_file: reload.file_in_use(),
            reload,
            settings: RwLock::new(Arc::new(settings)),
            registry: Arc::new(Registry::new()),
            cache: Arc::new(ConnectionCache::new()),
            arbiters,
            next_arbiter: AtomicUsize::new(0),
            next_client: AtomicU64::new(1),
            clients: AtomicU32::new(0),
            started: Instant::now(),
        }
    }

    /// The settings in force now. New connections and clients use them;
    /// existing ones keep what they started with.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the settings (SIGHUP).
    pub fn replace_settings(&self, settings: Settings) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(settings);
    }

    /// Reloads the settings (SIGHUP, `Request::Reload`); the old ones stay on error.
    pub fn reload(&self) -> Result<(), ConfigError> {
        self.reload.apply(self)
    }

    /// The configuration file read at start, if any.
    pub fn config_file(&self) -> Option<&PathBuf> {
        self.config_file.as_ref()
    }

    /// The arbiter for the next IPC client, round robin, so clients (and the
    /// sessions each opens, which run on its arbiter) spread over all cores.
    pub fn next_arbiter(&self) -> &ArbiterHandle {
        let i = self.next_arbiter.fetch_add(1, Ordering::Relaxed);
        &self.arbiters[i % self.arbiters.len()]
    }

    /// Registers a new IPC client and returns its id.
    pub fn client_connected(&self) -> ClientId {
        self.clients.fetch_add(1, Ordering::Relaxed);
        ClientId(self.next_client.fetch_add(1, Ordering::Relaxed))
    }

    /// Counts an IPC client out.
    pub fn client_disconnected(&self) {
        self.clients.fetch_sub(1, Ordering::Relaxed);
    }

    /// IPC clients connected now.
    pub fn clients(&self) -> u32 {
        self.clients.load(Ordering::Relaxed)
    }

    /// Seconds since start.
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}
