//! [`LettreTransport`] (cargo feature `lettre`): lettre's `Transport` and
//! `AsyncTransport` (tokio) sending through the daemon with `sendmsg`.
//!
//! The envelope is lettre's (from the message's headers, or the one set on
//! it); the bytes are `Message::formatted`. Each side (blocking, async)
//! opens its daemon connection and SMTP connection at its first send and
//! keeps them for the next ones; a send that loses the connection drops it,
//! and the next send opens a new one.

use crate::asynchronous::{AsyncClient, AsyncConnection};
use crate::connection::stops_the_rest;
use crate::error::{check_line, Error, Result};
use crate::sync::lock;
use crate::{Client, Connection, SendReport};
use lettre::address::Envelope;
use smtp32_protocol::endpoint::client_socket_path;
use std::path::PathBuf;
use std::sync::Mutex;

/// Where a [`LettreTransport`] sends: an SMTP server, or the daemon's relay.
#[derive(Debug, Clone)]
enum Destination {
    /// `smtp_helo`'s host string and the name to say in EHLO.
    Server { host: String, local: String },
    /// The relay (smarthost) and credentials of the daemon's configuration.
    Relay,
}

/// A lettre transport through the smtp32d daemon: `Transport::send` and
/// `AsyncTransport::send` take a `lettre::Message` and hand it to the daemon
/// with `sendmsg` (the report of the server's replies is the `Ok` value).
///
/// ```no_run
/// use lettre::{Message, Transport};
/// let mail = Message::builder()
///     .from("me@example.org".parse().unwrap())
///     .to("you@example.org".parse().unwrap())
///     .subject("hi")
///     .body(String::from("Hello."))
///     .unwrap();
/// let transport = smtp32::LettreTransport::new("mail.example.org", "me.example.org")?;
/// transport.send(&mail)?;
/// # Ok::<(), smtp32::Error>(())
/// ```
pub struct LettreTransport {
    destination: Destination,
    socket: PathBuf,
    blocking: Mutex<Option<Connection>>,
    asynchronous: tokio::sync::Mutex<Option<AsyncConnection>>,
}

impl std::fmt::Debug for LettreTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LettreTransport")
            .field("destination", &self.destination)
            .field("socket", &self.socket)
            .finish()
    }
}

impl LettreTransport {
    /// Sends to `host` (as [`Client::helo`] takes it), saying EHLO `local`,
    /// through the daemon found by the usual socket rules
    /// ([`client_socket_path`]). Fails with `InvalidArgument` for a bad host
    /// or name; the daemon is reached at the first send.
    pub fn new(host: &str, local: &str) -> Result<LettreTransport> {
        check_line("host", host)?;
        check_line("local", local)?;
        if host.is_empty() {
            return Err(Error::invalid_argument("host must not be empty"));
        }
        Ok(LettreTransport::to(Destination::Server {
            host: host.to_owned(),
            local: local.to_owned(),
        }))
    }

    /// Sends through the relay named in the daemon's configuration, with the
    /// daemon's credentials (see [`Client::open_relay`]).
    pub fn relay() -> Result<LettreTransport> {
        Ok(LettreTransport::to(Destination::Relay))
    }

    /// The same transport through the daemon listening at `path`.
    pub fn with_socket(mut self, path: impl Into<PathBuf>) -> LettreTransport {
        self.socket = path.into();
        self
    }

    fn to(destination: Destination) -> LettreTransport {
        LettreTransport {
            destination,
            socket: client_socket_path(),
            blocking: Mutex::new(None),
            asynchronous: tokio::sync::Mutex::new(None),
        }
    }

    fn open_blocking(&self) -> Result<Connection> {
        let client = Client::connect(&self.socket)?;
        match &self.destination {
            Destination::Server { host, local } => client.helo(host, local, None),
            Destination::Relay => client.open_relay(None),
        }
    }

    async fn open_async(&self) -> Result<AsyncConnection> {
        let client = AsyncClient::connect(&self.socket).await?;
        match &self.destination {
            Destination::Server { host, local } => client.helo(host, local, None).await,
            Destination::Relay => client.open_relay(None).await,
        }
    }
}

/// The envelope as `sendmsg` takes it (`""` for a null reverse-path).
fn envelope_of(envelope: &Envelope) -> (&str, Vec<&str>) {
    let from = envelope.from().map_or("", |a| a.as_ref());
    (from, envelope.to().iter().map(|a| a.as_ref()).collect())
}

/// Keeps the connection for the next send unless the result ended it.
fn keep_if_usable<C>(cached: &mut Option<C>, conn: C, result: &Result<SendReport>) {
    if !matches!(result, Err(e) if stops_the_rest(e)) {
        *cached = Some(conn);
    }
}

impl lettre::Transport for LettreTransport {
    type Ok = SendReport;
    type Error = Error;

    fn send_raw(&self, envelope: &Envelope, email: &[u8]) -> Result<SendReport> {
        let (from, rcpts) = envelope_of(envelope);
        let mut cached = lock(&self.blocking);
        let conn = match cached.take() {
            Some(conn) => conn,
            None => self.open_blocking()?,
        };
        let result = conn.sendmsg(from, &rcpts, email);
        keep_if_usable(&mut cached, conn, &result);
        result
    }

    fn shutdown(&self) {
        if let Some(conn) = lock(&self.blocking).take() {
            let _ = conn.quit();
        }
    }
}

#[async_trait::async_trait]
impl lettre::AsyncTransport for LettreTransport {
    type Ok = SendReport;
    type Error = Error;

    async fn send_raw(&self, envelope: &Envelope, email: &[u8]) -> Result<SendReport> {
        let (from, rcpts) = envelope_of(envelope);
        let mut cached = self.asynchronous.lock().await;
        let conn = match cached.take() {
            Some(conn) => conn,
            None => self.open_async().await?,
        };
        let result = conn.sendmsg(from, &rcpts, email).await;
        keep_if_usable(&mut cached, conn, &result);
        result
    }

    async fn shutdown(&self) {
        if let Some(conn) = self.asynchronous.lock().await.take() {
            let _ = conn.quit().await;
        }
    }
}
