//! `smtp_fw_helo` for Rust: an SMTP connection through a SOCKS proxy.
//!
//! The route is the wire contract's [`SocksRoute`], re-exported here with its
//! parts, so a Rust caller builds the same checked values the daemon
//! receives. The password is a [`Secret`]: it prints as `***`.

use crate::callbacks::{default_yield, DebugCallback, HandleEntry};
use crate::client::Client;
use crate::connection::Connection;
use crate::error::unexpected;
use crate::error::{check_line, Error, Result};
use smtp32_protocol::{Request, Response};

pub use smtp32_protocol::{
    DomainName, ProxyStage, Secret, SocksEndpoint, SocksHost, SocksMethod, SocksMethods,
    SocksRoute, SocksUser, SocksVersions, DEFAULT_SOCKS_PORT,
};

impl Client {
    /// Opens an SMTP connection through a SOCKS4, SOCKS4a or SOCKS5 proxy
    /// (`smtp_fw_helo`): the daemon connects to `route.proxy`, has it connect
    /// to `route.destination`, reads the greeting and sends EHLO (or HELO)
    /// `local`, all within the connection's timeout. `debug` receives the SMTP
    /// traffic from the greeting on (never the proxy handshake).
    ///
    /// Errors: a route that breaks [`SocksRoute::check`] (GSSAPI alone,
    /// method 2 without credentials, SOCKS4 to IPv6) is `InvalidArgument`
    /// before anything is sent; an unresolvable proxy is `UnknownHost`; an
    /// unreachable one `HostNotResponding`; a proxy that refuses (no common
    /// version or method, wrong password, destination refused) is `Failure`
    /// with the proxy's reason and no reply.
    pub fn fw_helo(
        &self,
        route: SocksRoute,
        local: &str,
        debug: Option<DebugCallback>,
    ) -> Result<Connection> {
        check_line("local", local)?;
        route.check().map_err(Error::from)?;
        let entry = HandleEntry::new(debug, None);
        let request = Request::OpenViaSocks {
            route: Box::new(route),
            local: local.to_owned(),
            debug: entry.debug().is_some(),
        };
        match self.call(request, Some(default_yield()), Some(entry.clone()))? {
            Response::Opened { handle } => Ok(Connection::new(self.clone(), handle, entry)),
            other => Err(unexpected(other)),
        }
    }
}
