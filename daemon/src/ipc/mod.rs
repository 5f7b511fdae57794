//! The local-socket side of the daemon: one task per client ([`client`]),
//! the translation of requests into actor messages ([`router`]) with the
//! admin requests in [`admin`], and each request's answer ([`responder`]).
//!
//! Each client is served on one of the worker threads (`crate::workers`,
//! round robin; on Windows, where a pipe cannot move to another thread's
//! completion port, on the thread that accepted it: see `serving`), and
//! the SMTP sessions it opens run on that same thread: a request, its SMTP
//! exchange and its response never cross a thread. (Serving clients on the
//! accepting thread with sessions spread over the others cost two cross-thread
//! wake-ups per request: 55 µs instead of 15 µs for a NOOP round trip.)

pub mod admin;
pub mod client;
mod outlet;
pub mod responder;
pub mod router;
mod stream_reads;
mod summary;
