//! [`AsyncConnection`]: one SMTP connection (an SMTP-32 handle) and its async
//! operations, as [`Connection`](crate::Connection) has them.
//!
//! One operation at a time per handle (a second one fails with
//! `InProgress`); dropping the future of one in flight aborts the handle
//! (see the parent module).

use super::link::{aborted, Target};
use super::AsyncClient;
use crate::callbacks::{BusyGuard, DebugCallback, HandleEntry};
use crate::error::unexpected;
use crate::error::{check_line, Error, Result};
use crate::request_frame::RequestFrame;
use smtp32_protocol::{
    timeout_seconds, AuthMechanism, AuthSecret, Command, Handle, Reply, Request, Response,
    ReturnCode,
};
use std::sync::Arc;

/// An open SMTP connection of an [`AsyncClient`]. Clones address the same handle.
#[derive(Clone)]
pub struct AsyncConnection {
    pub(super) client: AsyncClient,
    pub(super) handle: Handle,
    pub(super) entry: Arc<HandleEntry>,
}

impl std::fmt::Debug for AsyncConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncConnection")
            .field("handle", &self.handle)
            .finish()
    }
}

/// Commands that take one line-safe string argument.
macro_rules! one_arg_commands {
    ($($(#[$doc:meta])* $name:ident($arg:ident) => $variant:ident;)*) => {$(
        $(#[$doc])*
        pub async fn $name(&self, $arg: &str) -> Result<Reply> {
            check_line(stringify!($arg), $arg)?;
            self.command(Command::$variant { $arg: $arg.to_owned() }).await
        }
    )*};
}

/// Commands without arguments.
macro_rules! plain_commands {
    ($($(#[$doc:meta])* $name:ident => $variant:ident;)*) => {$(
        $(#[$doc])*
        pub async fn $name(&self) -> Result<Reply> {
            self.command(Command::$variant).await
        }
    )*};
}

impl AsyncConnection {
    pub(super) fn new(client: AsyncClient, handle: Handle, entry: Arc<HandleEntry>) -> Self {
        AsyncConnection {
            client,
            handle,
            entry,
        }
    }

    /// The SMTP-32 handle.
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// True once the handle is gone on this side: after `quit`, `xquit`, an
    /// aborted or reset operation, or a dropped call.
    pub fn is_closed(&self) -> bool {
        self.entry.is_aborted() || self.entry.is_closed()
    }

    /// True once the handle was aborted: by `xquit`, or by dropping the
    /// future of a call in flight on it.
    pub fn is_aborted(&self) -> bool {
        self.entry.is_aborted()
    }

    /// The daemon connection this handle lives on.
    pub fn client(&self) -> &AsyncClient {
        &self.client
    }

    one_arg_commands! {
        /// See [`Connection::mail`](crate::Connection::mail).
        mail(from) => Mail;
        /// See [`Connection::send_from`](crate::Connection::send_from).
        send_from(from) => Send;
        /// See [`Connection::soml`](crate::Connection::soml).
        soml(from) => Soml;
        /// See [`Connection::saml`](crate::Connection::saml).
        saml(from) => Saml;
        /// See [`Connection::rcpt`](crate::Connection::rcpt).
        rcpt(to) => Rcpt;
        /// See [`Connection::vrfy`](crate::Connection::vrfy).
        vrfy(name) => Vrfy;
        /// See [`Connection::expn`](crate::Connection::expn).
        expn(name) => Expn;
    }

    plain_commands! {
        /// See [`Connection::noop`](crate::Connection::noop).
        noop => Noop;
        /// See [`Connection::rset`](crate::Connection::rset).
        rset => Rset;
        /// See [`Connection::turn`](crate::Connection::turn).
        turn => Turn;
    }

    /// See [`Connection::help`](crate::Connection::help).
    pub async fn help(&self, topic: Option<&str>) -> Result<Reply> {
        let topic = topic.filter(|t| !t.is_empty());
        if let Some(t) = topic {
            check_line("topic", t)?;
        }
        self.command(Command::Help {
            topic: topic.map(str::to_owned),
        })
        .await
    }

    /// See [`Connection::direct`](crate::Connection::direct).
    pub async fn direct(&self, line: &str) -> Result<Reply> {
        check_line("command", line)?;
        let verb = line.split_ascii_whitespace().next().unwrap_or("");
        if line.trim().is_empty() || verb.eq_ignore_ascii_case("QUIT") {
            return Err(Error::invalid_argument(
                "direct needs a command, and not QUIT (use quit)",
            ));
        }
        self.command(Command::Direct {
            line: line.to_owned(),
        })
        .await
    }

    /// See [`Connection::data_buf`](crate::Connection::data_buf).
    pub async fn data_buf(&self, bytes: &[u8]) -> Result<()> {
        let _busy = self.begin()?;
        for chunk in bytes.chunks(self.client.chunk_limit()) {
            self.expect_done(RequestFrame::DataChunk {
                handle: self.handle,
                bytes: chunk,
            })
            .await?;
        }
        Ok(())
    }

    /// See [`Connection::data_end`](crate::Connection::data_end).
    pub async fn data_end(&self) -> Result<Reply> {
        let _busy = self.begin()?;
        self.reply(Request::DataEnd {
            handle: self.handle,
        })
        .await
    }

    /// See [`Connection::starttls`](crate::Connection::starttls).
    pub async fn starttls(&self) -> Result<Reply> {
        let _busy = self.begin()?;
        self.reply(Request::StartTls {
            handle: self.handle,
        })
        .await
    }

    /// See [`Connection::auth`](crate::Connection::auth).
    pub async fn auth(
        &self,
        mechanism: Option<AuthMechanism>,
        user: &str,
        secret: &str,
    ) -> Result<Reply> {
        check_line("user", user)?;
        if user.is_empty() {
            return Err(Error::invalid_argument("the AUTH user is empty"));
        }
        let secret = AuthSecret::new(secret)?;
        let _busy = self.begin()?;
        self.reply(Request::Auth {
            handle: self.handle,
            mechanism,
            user: user.to_owned(),
            secret,
        })
        .await
    }

    /// See [`Connection::extensions`](crate::Connection::extensions).
    pub async fn extensions(&self) -> Result<Vec<String>> {
        let _busy = self.begin()?;
        match self
            .request(Request::Extensions {
                handle: self.handle,
            })
            .await?
        {
            Response::Extensions(list) => Ok(list),
            other => Err(unexpected(other)),
        }
    }

    /// See [`Connection::extension`](crate::Connection::extension).
    pub async fn extension(&self, keyword: &str) -> Result<Option<String>> {
        check_line("keyword", keyword)?;
        Ok(crate::connection::find_extension(
            self.extensions().await?,
            keyword,
        ))
    }

    /// See [`Connection::last_reply`](crate::Connection::last_reply).
    pub async fn last_reply(&self) -> Result<Option<Reply>> {
        match self
            .request(Request::LastReply {
                handle: self.handle,
            })
            .await?
        {
            Response::LastReply(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    /// See [`Connection::set_timeout`](crate::Connection::set_timeout).
    pub async fn set_timeout(&self, seconds: u32) -> Result<()> {
        let seconds = timeout_seconds(seconds).map_err(Error::invalid_argument)?;
        self.expect_done(Request::SetTimeout {
            handle: self.handle,
            seconds,
        })
        .await
    }

    /// See [`Connection::set_debug`](crate::Connection::set_debug).
    pub async fn set_debug(&self, callback: Option<DebugCallback>) -> Result<()> {
        match self.entry.replace_debug(callback) {
            None => Ok(()),
            Some(enabled) => {
                let done = self
                    .expect_done(Request::SetDebug {
                        handle: self.handle,
                        enabled,
                    })
                    .await;
                done.inspect_err(|_| self.entry.debug_switch_failed(enabled))
            }
        }
    }

    /// See [`Connection::quit`](crate::Connection::quit).
    pub async fn quit(self) -> Result<()> {
        let _busy = self.begin()?;
        let result = self
            .expect_done(Request::Quit {
                handle: self.handle,
            })
            .await;
        if !matches!(&result, Err(e) if e.code() == ReturnCode::InProgress) {
            self.entry.mark_closed();
            self.client.link().routing().forget(self.handle);
        }
        result
    }

    /// See [`Connection::xquit`](crate::Connection::xquit): cancels what is
    /// in flight on the handle (that call fails with `Aborted`) and frees it.
    pub async fn xquit(&self) -> Result<()> {
        self.entry.mark_aborted();
        let link = self.client.link();
        let result = match link
            .call(
                Request::XQuit {
                    handle: self.handle,
                },
                Target::Daemon,
            )
            .await
        {
            Ok(Response::Done) => Ok(()),
            Ok(other) => Err(unexpected(other)),
            Err(e) => Err(e),
        };
        link.routing().forget(self.handle);
        result
    }

    async fn command(&self, command: Command) -> Result<Reply> {
        let _busy = self.begin()?;
        self.reply(Request::Command {
            handle: self.handle,
            command,
        })
        .await
    }

    pub(super) async fn reply(&self, request: Request) -> Result<Reply> {
        match self.request(request).await? {
            Response::Reply(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    async fn expect_done(&self, request: impl Into<RequestFrame<'_>>) -> Result<()> {
        match self.request(request).await? {
            Response::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Sends a request for this handle; dropped before its response, it
    /// aborts the handle. Failures that end the handle are reported as the
    /// blocking [`Connection`](crate::Connection) reports them.
    pub(super) async fn request(&self, request: impl Into<RequestFrame<'_>>) -> Result<Response> {
        let link = self.client.link();
        match link
            .call(request, Target::Handle(self.handle, &self.entry))
            .await
        {
            Err(e) if e.code() == ReturnCode::InvalidHandle && self.entry.is_aborted() => {
                link.routing().forget(self.handle);
                Err(Error::new(ReturnCode::Aborted, "aborted by xquit"))
            }
            Err(e) if e.is_aborted() => {
                link.routing().forget(self.handle);
                Err(e)
            }
            other => other,
        }
    }

    /// Claims the handle for one call: `Aborted` once a call on it was
    /// cancelled or `xquit`, `InvalidHandle` after `quit`.
    pub(super) fn begin(&self) -> Result<BusyGuard> {
        if self.entry.is_aborted() {
            return Err(aborted());
        }
        if self.entry.is_closed() {
            return Err(Error::new(
                ReturnCode::InvalidHandle,
                "the handle was closed",
            ));
        }
        self.entry.begin().ok_or_else(|| {
            Error::new(
                ReturnCode::InProgress,
                "another operation is in progress on this handle",
            )
        })
    }
}
