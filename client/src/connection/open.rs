//! Opening a connection: the [`Client`] methods that make a [`Connection`]
//! (`smtp_helo`, `smtp_xhelo`, the configured relay).

use super::Connection;
use crate::callbacks::{default_yield, DebugCallback, HandleEntry, StatusCallback};
use crate::client::Client;
use crate::error::{check_line, unexpected, Error, Result};
use smtp32_protocol::{OpenMode, Request, Response};
use std::sync::Arc;

impl Client {
    /// Opens an SMTP connection (`smtp_helo`): connects to `host` (`name`,
    /// `1.2.3.4`, `name:port`, `[v6]`, `[v6]:port`; port 25 by default),
    /// reads the greeting and sends EHLO (or HELO) `local`. Returns when the
    /// server has accepted, or with the failure. `debug` receives a copy of
    /// all traffic from the greeting on.
    pub fn helo(
        &self,
        host: &str,
        local: &str,
        debug: Option<DebugCallback>,
    ) -> Result<Connection> {
        self.open(host, local, OpenMode::Sync, debug, None)
    }

    /// Starts an SMTP connection in the background (`smtp_xhelo`) and returns
    /// its handle at once. `status` runs once (as callbacks run, see
    /// `callbacks.rs`), with the
    /// outcome of the connect (`Aborted` after an `xquit` during the connect,
    /// `CannotInitialize` if the daemon goes away first). Calls on the
    /// connection before then fail with `InProgress`.
    pub fn xhelo(
        &self,
        host: &str,
        local: &str,
        debug: Option<DebugCallback>,
        status: StatusCallback,
    ) -> Result<Connection> {
        self.open(host, local, OpenMode::Async, debug, Some(status))
    }

    /// Opens an SMTP connection to the relay (smarthost) named in the
    /// daemon's configuration (`relay.host`), authenticated with the
    /// daemon's own credentials when it has any: the password never reaches
    /// this process. Use the connection like any other (`sendmsg`, `quit`).
    /// Fails with `Failure` carrying [`Failure::NotConfigured`] when the
    /// daemon has no relay, [`Failure::RelayAuth`] (code and reply of the
    /// cause, e.g. 535) when the relay refuses the credentials (see
    /// [`Error::failure`]), and as [`Client::helo`] does when the connect fails.
    ///
    /// [`Failure::NotConfigured`]: crate::Failure::NotConfigured
    /// [`Failure::RelayAuth`]: crate::Failure::RelayAuth
    pub fn open_relay(&self, debug: Option<DebugCallback>) -> Result<Connection> {
        let entry = HandleEntry::new(debug, None);
        let request = Request::OpenRelay {
            debug: entry.debug().is_some(),
        };
        match self.call(request, Some(default_yield()), Some(entry.clone()))? {
            Response::Opened { handle } => Ok(Connection::new(self.clone(), handle, entry)),
            other => Err(unexpected(other)),
        }
    }

    fn open(
        &self,
        host: &str,
        local: &str,
        mode: OpenMode,
        debug: Option<DebugCallback>,
        status: Option<StatusCallback>,
    ) -> Result<Connection> {
        let (request, entry) = open_request(host, local, mode, debug, status)?;
        match self.call(request, Some(default_yield()), Some(entry.clone()))? {
            Response::Opened { handle } => Ok(Connection::new(self.clone(), handle, entry)),
            other => Err(unexpected(other)),
        }
    }
}

/// The `Open` request for `host` and `local` (refused when either would break
/// the line or `host` is empty), and the entry its handle gets; the blocking
/// and the async client both send it.
pub(crate) fn open_request(
    host: &str,
    local: &str,
    mode: OpenMode,
    debug: Option<DebugCallback>,
    status: Option<StatusCallback>,
) -> Result<(Request, Arc<HandleEntry>)> {
    check_line("host", host)?;
    check_line("local", local)?;
    if host.is_empty() {
        return Err(Error::invalid_argument("host must not be empty"));
    }
    let entry = HandleEntry::new(debug, status);
    let request = Request::Open {
        host: host.to_owned(),
        local: local.to_owned(),
        mode,
        debug: entry.debug().is_some(),
    };
    Ok((request, entry))
}
