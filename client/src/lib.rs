//! `smtp32`: the SMTP-32 handle API for Rust and C, served by the `smtp32d`
//! daemon.
//!
//! A [`Client`] is one local-socket connection to the daemon; each
//! [`Connection`] opened through it ([`Client::helo`], [`Client::xhelo`]) is
//! one SMTP connection (an SMTP-32 handle) that the daemon runs. Calls block
//! the calling thread; callbacks (debug traffic, connect status) run on the
//! thread that reads the daemon's answers (a waiting caller, else the
//! client's reader thread). Errors carry the SMTP-32 return code and the
//! server's reply ([`Error`]). The C ABI in [`ffi`] (header
//! `client/include/smtp32.h`) is a thin layer over this API.
//!
//! ```no_run
//! let client = smtp32::Client::connect_default()?;
//! let conn = client.helo("mail.example.org", "me.example.org", None)?;
//! conn.mail("me@example.org")?;
//! conn.rcpt("you@example.org")?;
//! conn.data_buf(b"Subject: hi\r\n\r\nHello.\r\n")?;
//! conn.data_end()?;
//! conn.quit()?;
//! # Ok::<(), smtp32::Error>(())
//! ```
//!
//! Layout:
//! - `admin.rs`: the admin requests (connection listing and detail, close, reload, shutdown).
//! - `queue.rs`: the mail queue requests (submit, list, flush, delete).
//! - `client.rs`: [`Client`], the daemon connection, handshake and request/response calls.
//! - `connection.rs`: [`Connection`], the SMTP operations on one handle.
//! - `request_frame.rs`: a request frame as both clients encode it (a data chunk written from the caller's buffer).
//! - `reader.rs`: who reads the daemon stream (a waiting caller, else the reader thread), routing responses and running callbacks.
//! - `routing.rs`: who waits for which response; callbacks per handle.
//! - `callbacks.rs`: callback types and per-handle client state.
//! - `data.rs`: data chunk sizes and the `smtp_data` pull loop.
//! - `error.rs`: [`Error`], built from the wire `Failure` by its one code mapping.
//! - `date.rs`: the RFC 5322 date of `smtp_date`.
//! - `ffi/`: the C ABI.
//! - `asynchronous.rs`, `asynchronous/` (feature `tokio`, Unix): the async client on tokio's Unix
//!   socket, requests pipelined on one daemon connection, a call cancelled when its future is dropped.
//! - `lettre_transport.rs` (feature `lettre`, Unix): [`LettreTransport`], lettre's `Transport` and
//!   `AsyncTransport` sending through the daemon.

#![warn(missing_docs)]

mod admin;
#[cfg(all(feature = "tokio", unix))]
pub mod asynchronous;
mod callbacks;
mod client;
mod connection;
mod data;
pub mod date;
mod error;
pub mod ffi;
#[cfg(all(feature = "lettre", unix))]
mod lettre_transport;
mod queue;
mod reader;
mod request_frame;
mod routing;
pub mod socks;
#[cfg(unix)]
mod stream_wait;
mod sync;
#[cfg(all(feature = "lettre", unix))]
pub use lettre_transport::LettreTransport;

pub use callbacks::{default_yield, DebugCallback, StatusCallback, YieldHook};
pub use client::Client;
pub use connection::{Connection, Outgoing};
pub use data::{DataStep, CALLBACK_BUFFER_BYTES};
pub use error::{Error, Result};
pub use queue::Submitted;
pub use smtp32_protocol::endpoint::client_socket_path;
pub use smtp32_protocol::{
    AuthMechanism, CacheStatus, ConnectionDetail, ConnectionInfo, ConnectionState, DaemonStatus,
    Direction, EnhancedStatus, ErrorCount, Failure, Handle, InFlight, QueueEntry, Reply,
    ReturnCode, SendReport, StateCounts, Submission, TrafficLine,
};
