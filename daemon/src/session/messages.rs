//! The messages an SMTP session actor understands.

use crate::smtp::Route;
use actix::Message;
use smtp32_protocol::{Command, Failure, OpenMode, Reply};

/// Connect (straight or through a SOCKS proxy), read the greeting and say
/// EHLO/HELO, all under one timeout and cancel. Sent once, right after start.
pub struct Connect {
    /// Where to connect, and how.
    pub route: Route,
    /// The EHLO/HELO name.
    pub local: String,
    /// `Async` reports the result as `Event::Connected` as well.
    pub mode: OpenMode,
}

impl Message for Connect {
    type Result = Result<(), Failure>;
}

/// One step of the SMTP dialogue on a connected session.
pub enum Operation {
    /// A command with one reply.
    Command(Command),
    /// Message bytes (starts DATA when needed).
    DataChunk(Vec<u8>),
    /// End of message: the final dot and the server's verdict.
    DataEnd,
}

/// Run an [`Operation`]; the result is the server's reply, if the step has one.
pub struct Perform(pub Operation);

impl Message for Perform {
    type Result = Result<Option<Reply>, Failure>;
}

/// The last complete reply.
pub struct GetLastReply;

impl Message for GetLastReply {
    type Result = Option<Reply>;
}

/// Set the timeout for the next operations, in seconds (validated by the caller).
pub struct SetTimeout(pub u16);

impl Message for SetTimeout {
    type Result = ();
}

/// Switch traffic copies on or off.
pub struct SetDebug(pub bool);

impl Message for SetDebug {
    type Result = ();
}

/// Polite close: QUIT, then stop. Refused while an operation is in flight.
pub struct Quit;

impl Message for Quit {
    type Result = Result<(), Failure>;
}

/// Cancel whatever is in flight and stop at once (`smtp_xquit`).
pub struct XQuit;

impl Message for XQuit {
    type Result = ();
}

/// The owner is gone or the daemon stops: cancel, QUIT when idle, stop.
pub struct Close;

impl Message for Close {
    type Result = ();
}
