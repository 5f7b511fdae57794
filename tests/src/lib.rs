//! Fixtures for the end-to-end tests: the real `smtp32d` binary against real SMTP peers.
//!
//! Every test starts what it needs itself, on a fresh socket path and free loopback ports, and
//! stops it by PID when the fixture is dropped. Readiness is always observed (a greeting read, a
//! ping answered, a file renamed into place), never slept for, and every wait has a deadline.
//!
//! Layout:
//! - [`paths`]: where the built binaries, the test venv's Python and the peer scripts are.
//! - [`process`]: spawning helper processes that die with the test, stopping them by PID.
//! - [`wait`]: polling a condition until a deadline.
//! - [`watchdog`]: a deadline on a whole test or on one closure.
//! - [`ctl`]: running `smtp32ctl` (as this user or as `nobody`) with a deadline, reading its JSON.
//! - [`daemon`]: [`daemon::TestDaemon`], the real `smtp32d` on a private socket.
//! - [`peers`]: Postfix `smtp-sink`, an `aiosmtpd` store server, and our scripted fault server.
//! - [`lines`]: a helper process's stdout, line by line, with deadlines.
//! - [`memory`]: a process's resident memory (now and peak) from `/proc`.
//! - [`message`]: the reference DATA normalisation and message generators.
//! - [`raw`]: a raw-frame IPC client for tests that break the protocol on purpose.
//! - [`session`]: conveniences over the Rust client API (send one message, expect a code).
//! - [`recorder`]: a TCP relay that records the exact bytes exchanged with a real server.
//! - [`ffi`]: the shared daemon and buffers for C-ABI calls made from Rust tests.
//! - [`sendmail`]: running `smtp32-sendmail` with a message on stdin; a relay's daemon config.
//! - [`c_program`]: compiling and running the C programs of `tests/c/`.
//! - [`users`]: second local users who play the hostile neighbour.

pub mod c_program;
pub mod ctl;
pub mod daemon;
pub mod ffi;
pub mod lines;
pub mod memory;
pub mod message;
pub mod paths;
pub mod peers;
pub mod plain;
pub mod process;
pub mod raw;
pub mod recorder;
pub mod sendmail;
pub mod session;
pub mod users;
pub mod wait;
pub mod watchdog;

pub use daemon::TestDaemon;
pub use peers::aiosmtpd::{Aiosmtpd, StoredMessage};
pub use peers::scripted::{Script, ScriptedServer, ServerEvent};
pub use peers::smtp_sink::SmtpSink;
pub use watchdog::{with_deadline, Watchdog};
