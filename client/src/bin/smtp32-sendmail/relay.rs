//! Sending through the daemon: connect to smtp32d, have it open its
//! configured relay (connect, TLS, AUTH with the daemon's credentials),
//! send the message with one `sendmsg`, QUIT.
//!
//! `sendmsg` sends a message that fits one request frame in one pipelined
//! transaction; a larger one (over the daemon's `max_frame_bytes`, 4 MiB by
//! default) goes command by command with the message in data chunks, so no
//! message is too large for this path: only the relay's SIZE limit applies.

use crate::exit::{self, Exit, EX_UNAVAILABLE};
use smtp32::{Client, SendReport};

/// The envelope: reverse-path (`""` for `<>`) and forward-paths.
pub struct Envelope<'a> {
    /// The sender.
    pub from: &'a str,
    /// The recipients, without repeats.
    pub rcpts: &'a [String],
}

/// Sends `data` and returns the relay's report (some recipients may have
/// been refused), or the exit that says why nothing was delivered.
pub fn send(envelope: &Envelope, data: &[u8]) -> Result<SendReport, Exit> {
    let client = Client::connect_default().map_err(|e| {
        Exit::new(EX_UNAVAILABLE, format!("smtp32d cannot be reached: {}", e.message()))
    })?;
    let conn = client.open_relay(None).map_err(|e| exit::for_open(&e))?;
    let rcpts: Vec<&str> = envelope.rcpts.iter().map(String::as_str).collect();
    let result = conn.sendmsg(envelope.from, &rcpts, data);
    // Whatever happened, the relay gets its QUIT (or the daemon closes it).
    let _ = conn.quit();
    result.map_err(|e| exit::for_send(&e, envelope.rcpts))
}
