//! The C ABI (`client/include/smtp32.h`): the SMTP-32 functions as in the
//! manual, a thin layer over the Rust API.
//!
//! Rules every function follows: it never unwinds into C (a panic becomes
//! `SMTP_FAILURE`); a NULL pointer argument, a string that is not UTF-8 or
//! holds CR/LF, or an out-of-range value is `SMTP_INVALID_ARGUMENT`; handle 0
//! and unknown handles are `SMTP_INVALID_HANDLE`. One process-global
//! [`Client`](crate::Client) serves every handle; it is made on the first
//! `smtp_helo`/`smtp_xhelo`, and made anew by the next one after the daemon
//! went away (handles of the old one are then invalid). C callbacks run on the
//! thread that reads the daemon's answers (a thread waiting in a call, else the
//! library's reader thread "smtp32-reader"), except the data and line
//! callbacks of `smtp_data`, `smtp_expn` and `smtp_help`, and the yield
//! callback, which run on the calling thread.
//!
//! Layout: `types.rs` (typedefs and constants), `state.rs` (global client and
//! handle table), `util.rs` (strings, buffers, panic guard), `session.rs`
//! (helo, xhelo, quit, xquit, rply, direct), `commands.rs` (the one-reply
//! commands), `data.rs` (smtp_data, smtp_data_buf), `opts.rs` (smtp_opts,
//! smtp_date, smtp_strerror), `secure.rs` (smtp_starttls, smtp_auth,
//! smtp_ext), `sendmsg.rs` (smtp_sendmsg), `version.rs` (smtp32_version).

mod commands;
mod data;
mod firewall;
mod opts;
mod secure;
mod sendmsg;
mod session;
mod state;
mod types;
mod util;
mod version;

pub use commands::*;
pub use data::*;
pub use firewall::*;
pub use opts::*;
pub use secure::*;
pub use sendmsg::*;
pub use session::*;
pub use types::*;
pub use version::*;
