//! How the TCP connection to the SMTP server is made: straight to the
//! server, or through a SOCKS proxy.
//!
//! This is the step before the SMTP dialogue. [`Route::open`] yields a
//! connected `TcpStream` (with `TCP_NODELAY`), and
//! [`SmtpClient::handshake`](super::SmtpClient::handshake) takes it from
//! there, whichever way it came. [`open_tcp`] is the one place that resolves
//! a name and tries its addresses, for the SMTP server and the proxy alike.

use super::{socks, Endpoint, SmtpError};
use smtp32_protocol::{SocksHost, SocksRoute};
use std::fmt;
use std::net::SocketAddr;
use tokio::net::{lookup_host, TcpSocket, TcpStream};

/// The way to the SMTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A TCP connection to the server itself (`smtp_helo`, `smtp_xhelo`).
    Direct(Endpoint),
    /// Through a SOCKS4/4a/5 proxy (`smtp_fw_helo`); boxed, it is the large one.
    Socks(Box<SocksRoute>),
}

impl Route {
    /// Connects: to the server, or to the proxy and through it to the server.
    pub async fn open(&self) -> Result<TcpStream, SmtpError> {
        match self {
            Route::Direct(endpoint) => open_tcp(&endpoint.host, endpoint.port).await,
            Route::Socks(route) => socks::open(route).await,
        }
    }
}

impl Route {
    /// The SMTP server's host as the caller named it (an IPv6 literal
    /// without brackets): what its TLS certificate must be valid for.
    pub fn server_host(&self) -> String {
        match self {
            Route::Direct(endpoint) => endpoint.host.clone(),
            Route::Socks(r) => match &r.destination.host {
                SocksHost::Ipv4(a) => a.to_string(),
                SocksHost::Ipv6(a) => a.to_string(),
                SocksHost::Domain(d) => d.as_str().to_owned(),
            },
        }
    }
}

impl From<Endpoint> for Route {
    fn from(endpoint: Endpoint) -> Route {
        Route::Direct(endpoint)
    }
}

/// For logs: where the connection goes, never credentials.
impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::Direct(endpoint) => write!(f, "{endpoint}"),
            Route::Socks(r) => write!(
                f,
                "{} via SOCKS {:?} proxy {}",
                r.destination, r.versions, r.proxy
            ),
        }
    }
}

/// Resolves `host` and tries each address in turn; the stream has `TCP_NODELAY` set.
/// A name that does not resolve is `UnknownHost`; when no address accepts,
/// `HostNotResponding` names the last address tried and its error.
pub async fn open_tcp(host: &str, port: u16) -> Result<TcpStream, SmtpError> {
    let addrs: Vec<SocketAddr> = lookup_host((host, port))
        .await
        .map_err(|_| SmtpError::UnknownHost(host.to_owned()))?
        .collect();
    let mut last_error = None;
    for addr in addrs {
        let socket = match addr {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        };
        let socket = socket.map_err(|e| SmtpError::CannotAllocSocket(e.to_string()))?;
        match socket.connect(addr).await {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => last_error = Some((addr, e)),
        }
    }
    Err(match last_error {
        Some((addr, e)) => SmtpError::HostNotResponding(format!(
            "{} ({addr}): {e}",
            Endpoint {
                host: host.to_owned(),
                port
            }
        )),
        None => SmtpError::UnknownHost(host.to_owned()),
    })
}
