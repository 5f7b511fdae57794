//! Locking without poisoning, for every mutex in the crate.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, ignoring poisoning: every value guarded in this crate stays
/// consistent even if a user callback panicked while a guard was alive.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
