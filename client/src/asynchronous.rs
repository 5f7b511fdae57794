//! An async facade (cargo feature `tokio`): the blocking API run on tokio's
//! blocking thread pool, so an async program never blocks a runtime worker.
//!
//! Dropping a future does not cancel the SMTP operation behind it (it runs to
//! its end on the blocking pool); cancel with [`AsyncConnection::xquit`].
//! Callbacks run as in the blocking API (on the thread that reads the daemon's answers).

use crate::{AuthMechanism, Client, Connection, DaemonStatus, SendReport, DataStep, DebugCallback, Error, Handle, Reply, Result, ReturnCode, StatusCallback};
use std::path::PathBuf;
use std::time::Duration;

/// Runs a blocking call on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(Error::new(ReturnCode::Failure, format!("smtp32 task failed: {e}"))))
}

/// The async form of [`Client`].
#[derive(Clone, Debug)]
pub struct AsyncClient {
    inner: Client,
}

impl AsyncClient {
    /// See [`Client::connect`].
    pub async fn connect(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        blocking(move || Client::connect(path)).await.map(|inner| AsyncClient { inner })
    }

    /// See [`Client::connect_default`].
    pub async fn connect_default() -> Result<Self> {
        blocking(Client::connect_default).await.map(|inner| AsyncClient { inner })
    }

    /// The blocking client behind this one.
    pub fn blocking(&self) -> &Client {
        &self.inner
    }

    /// See [`Client::ping`].
    pub async fn ping(&self, payload: Vec<u8>) -> Result<Duration> {
        let c = self.inner.clone();
        blocking(move || c.ping(&payload)).await
    }

    /// See [`Client::status`].
    pub async fn status(&self) -> Result<DaemonStatus> {
        let c = self.inner.clone();
        blocking(move || c.status()).await
    }

    /// See [`Client::helo`].
    pub async fn helo(&self, host: &str, local: &str, debug: Option<DebugCallback>) -> Result<AsyncConnection> {
        let (c, host, local) = (self.inner.clone(), host.to_owned(), local.to_owned());
        blocking(move || c.helo(&host, &local, debug)).await.map(|inner| AsyncConnection { inner })
    }

    /// See [`Client::open_relay`].
    pub async fn open_relay(&self, debug: Option<DebugCallback>) -> Result<AsyncConnection> {
        let c = self.inner.clone();
        blocking(move || c.open_relay(debug)).await.map(|inner| AsyncConnection { inner })
    }

    /// See [`Client::xhelo`].
    pub async fn xhelo(
        &self,
        host: &str,
        local: &str,
        debug: Option<DebugCallback>,
        status: StatusCallback,
    ) -> Result<AsyncConnection> {
        let (c, host, local) = (self.inner.clone(), host.to_owned(), local.to_owned());
        blocking(move || c.xhelo(&host, &local, debug, status)).await.map(|inner| AsyncConnection { inner })
    }
}

/// The async form of [`Connection`].
#[derive(Clone, Debug)]
pub struct AsyncConnection {
    inner: Connection,
}

/// Async methods that take one string and return the reply.
macro_rules! with_str {
    ($($(#[$doc:meta])* $name:ident),*) => {$(
        $(#[$doc])*
        pub async fn $name(&self, arg: &str) -> Result<Reply> {
            let (c, arg) = (self.inner.clone(), arg.to_owned());
            blocking(move || c.$name(&arg)).await
        }
    )*};
}

/// Async methods without arguments that return the reply.
macro_rules! no_arg {
    ($($(#[$doc:meta])* $name:ident),*) => {$(
        $(#[$doc])*
        pub async fn $name(&self) -> Result<Reply> {
            let c = self.inner.clone();
            blocking(move || c.$name()).await
        }
    )*};
}

impl AsyncConnection {
    /// The blocking connection behind this one.
    pub fn blocking(&self) -> &Connection {
        &self.inner
    }

    /// The SMTP-32 handle.
    pub fn handle(&self) -> Handle {
        self.inner.handle()
    }

    with_str!(
        /// See [`Connection::mail`].
        mail,
        /// See [`Connection::send_from`].
        send_from,
        /// See [`Connection::soml`].
        soml,
        /// See [`Connection::saml`].
        saml,
        /// See [`Connection::rcpt`].
        rcpt,
        /// See [`Connection::vrfy`].
        vrfy,
        /// See [`Connection::expn`].
        expn,
        /// See [`Connection::direct`].
        direct
    );

    no_arg!(
        /// See [`Connection::noop`].
        noop,
        /// See [`Connection::rset`].
        rset,
        /// See [`Connection::turn`].
        turn,
        /// See [`Connection::data_end`].
        data_end,
        /// See [`Connection::starttls`].
        starttls
    );

    /// See [`Connection::auth`].
    pub async fn auth(&self, mechanism: Option<AuthMechanism>, user: &str, secret: &str) -> Result<Reply> {
        let (c, user, secret) = (self.inner.clone(), user.to_owned(), secret.to_owned());
        blocking(move || c.auth(mechanism, &user, &secret)).await
    }

    /// See [`Connection::extension`].
    pub async fn extension(&self, keyword: &str) -> Result<Option<String>> {
        let (c, keyword) = (self.inner.clone(), keyword.to_owned());
        blocking(move || c.extension(&keyword)).await
    }

    /// See [`Connection::sendmsg`].
    pub async fn sendmsg(&self, from: &str, rcpts: &[&str], msg: Vec<u8>) -> Result<SendReport> {
        let (c, from) = (self.inner.clone(), from.to_owned());
        let rcpts: Vec<String> = rcpts.iter().map(|r| r.to_string()).collect();
        blocking(move || c.sendmsg(&from, &rcpts.iter().map(String::as_str).collect::<Vec<_>>(), &msg)).await
    }

    /// See [`Connection::help`].
    pub async fn help(&self, topic: Option<&str>) -> Result<Reply> {
        let (c, topic) = (self.inner.clone(), topic.map(str::to_owned));
        blocking(move || c.help(topic.as_deref())).await
    }

    /// See [`Connection::data_buf`].
    pub async fn data_buf(&self, bytes: Vec<u8>) -> Result<()> {
        let c = self.inner.clone();
        blocking(move || c.data_buf(&bytes)).await
    }

    /// See [`Connection::data_from`]; `fill` runs on the blocking pool.
    pub async fn data_from(&self, fill: impl FnMut(&mut [u8]) -> DataStep + Send + 'static) -> Result<Reply> {
        let c = self.inner.clone();
        blocking(move || c.data_from(fill)).await
    }

    /// See [`Connection::last_reply`].
    pub async fn last_reply(&self) -> Result<Option<Reply>> {
        let c = self.inner.clone();
        blocking(move || c.last_reply()).await
    }

    /// See [`Connection::set_timeout`].
    pub async fn set_timeout(&self, seconds: u32) -> Result<()> {
        let c = self.inner.clone();
        blocking(move || c.set_timeout(seconds)).await
    }

    /// See [`Connection::set_debug`].
    pub async fn set_debug(&self, callback: Option<DebugCallback>) -> Result<()> {
        let c = self.inner.clone();
        blocking(move || c.set_debug(callback)).await
    }

    /// See [`Connection::quit`].
    pub async fn quit(self) -> Result<()> {
        blocking(move || self.inner.quit()).await
    }

    /// See [`Connection::xquit`]: cancels the operation in flight on this handle.
    pub async fn xquit(&self) -> Result<()> {
        let c = self.inner.clone();
        blocking(move || c.xquit()).await
    }
}
