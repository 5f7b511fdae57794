//! The messages an SMTP session actor understands.

use crate::smtp::{CheckedCommand, Route, TlsPlan};
use actix::Message;
use smtp32_protocol::{
    AuthMechanism, AuthSecret, BatchMessage, BatchOutcome, Bytes, Failure, OpenMode, Reply,
    SendReport,
};

/// Connect (straight or through a SOCKS proxy), read the greeting and say
/// EHLO/HELO, all under one timeout and cancel. Sent once, right after start.
pub struct Connect {
    /// Where to connect, and how.
    pub route: Route,
    /// The EHLO/HELO name.
    pub local: String,
    /// `Async` reports the result as `Event::Connected` as well.
    pub mode: OpenMode,
    /// When and how to do TLS, and the name the certificate must carry.
    pub tls: TlsPlan,
}

impl Message for Connect {
    type Result = Result<(), Failure>;
}

/// One step of the SMTP dialogue on a connected session.
pub enum Operation {
    /// A command with one reply, checked as the request arrived.
    Command(CheckedCommand),
    /// Message bytes (starts DATA when needed), held where the request was
    /// read when it was large.
    DataChunk(Bytes),
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

/// STARTTLS, the handshake and EHLO again (`smtp_starttls`).
pub struct StartTls;

impl Message for StartTls {
    type Result = Result<Reply, Failure>;
}

/// SMTP AUTH (`smtp_auth`); the secret's `Debug` is `***`.
pub struct Authenticate {
    /// `None`: the best the server offers.
    pub mechanism: Option<AuthMechanism>,
    /// The user name.
    pub user: String,
    /// The password or bearer token.
    pub secret: AuthSecret,
    /// The daemon's `auth.allow_cleartext`, as it stood when the request came.
    pub allow_cleartext: bool,
}

impl Message for Authenticate {
    type Result = Result<Reply, Failure>;
}

/// The EHLO keyword lines (`smtp_ext`).
pub struct GetExtensions;

impl Message for GetExtensions {
    type Result = Result<Vec<String>, Failure>;
}

/// A whole transaction in one operation (`smtp_sendmsg`).
pub struct SendMessage {
    /// The reverse-path.
    pub from: String,
    /// The forward-paths.
    pub rcpts: Vec<String>,
    /// The message as the application has it.
    pub data: Vec<u8>,
    /// DSN parameters for a server that offers DSN (the queue's `-N/-R/-V`).
    /// Boxed: rare, and inline they made every send's future too large for
    /// the allocator's per-thread cache (more than 1 KiB).
    pub dsn: Option<Box<crate::smtp::DsnRequest>>,
}

impl Message for SendMessage {
    type Result = Result<SendReport, Failure>;
}

/// The envelope of a message streamed afterwards (`sendmsg` of any size).
pub struct BeginMessage {
    /// The reverse-path.
    pub from: String,
    /// The forward-paths.
    pub rcpts: Vec<String>,
    /// The message's size as the application has it, when known.
    pub size: Option<u64>,
    /// The message has (or may have) 8-bit bytes.
    pub eight_bit: bool,
}

/// The replies to MAIL and to each RCPT once the server said 354.
#[derive(Debug)]
pub struct Envelope {
    /// The reply to MAIL.
    pub mail: Reply,
    /// The reply to each RCPT, in order.
    pub recipients: Vec<Reply>,
}

impl Message for BeginMessage {
    type Result = Result<Envelope, Failure>;
}

/// Many whole transactions in one operation (`send_many`).
pub struct SendBatch {
    /// The messages, in the order they are sent.
    pub messages: Vec<BatchMessage>,
}

impl Message for SendBatch {
    type Result = Result<Vec<BatchOutcome>, Failure>;
}
