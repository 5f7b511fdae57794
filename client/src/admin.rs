//! The admin requests for Rust callers (and `smtp32ctl`): the connection
//! listing and detail, closing a connection, reload and shutdown, and the metrics.
//!
//! The daemon decides what a caller may see: the connections of the caller's
//! uid, or all of them for root, the daemon's user and members of its
//! `admin_group`. A handle the caller may not see fails with
//! `InvalidHandle`, exactly like one that does not exist.

use crate::client::Client;
use crate::error::unexpected;
use crate::error::Result;
use smtp32_protocol::{ConnectionDetail, ConnectionInfo, Handle, Request, Response};

impl Client {
    /// The SMTP connections this caller may see, ordered by handle.
    pub fn connections(&self) -> Result<Vec<ConnectionInfo>> {
        match self.call(Request::ListConnections, None, None)? {
            Response::Connections(rows) => Ok(rows),
            other => Err(unexpected(other)),
        }
    }

    /// One connection in detail, with its recent traffic (secrets redacted,
    /// message content summarised). Works on another client's handle when
    /// this caller may see it.
    pub fn show_connection(&self, handle: Handle) -> Result<ConnectionDetail> {
        match self.call(Request::ShowConnection { handle }, None, None)? {
            Response::ConnectionDetail(detail) => Ok(*detail),
            other => Err(unexpected(other)),
        }
    }

    /// Closes a connection as `smtp_xquit` does: the owner's call in flight
    /// fails with `Aborted` and the handle becomes invalid.
    pub fn close_connection(&self, handle: Handle) -> Result<()> {
        self.expect_done(Request::CloseConnection { handle })
    }

    /// Makes the daemon reload its configuration (as SIGHUP does). Admins only.
    pub fn reload_daemon(&self) -> Result<()> {
        self.expect_done(Request::Reload)
    }

    /// Makes the daemon shut down (as SIGTERM does): work in flight may finish
    /// within its `shutdown_grace`, new work is refused. Admins only.
    pub fn shutdown_daemon(&self) -> Result<()> {
        self.expect_done(Request::Shutdown)
    }

    /// The daemon's metrics in the OpenMetrics text format, ending in `# EOF`.
    pub fn metrics(&self) -> Result<String> {
        match self.call(Request::Metrics, None, None)? {
            Response::Metrics { text } => Ok(text),
            other => Err(unexpected(other)),
        }
    }

    pub(crate) fn expect_done(&self, request: Request) -> Result<()> {
        match self.call(request, None, None)? {
            Response::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }
}
