//! The TCP connection through a SOCKS proxy, for `smtp_fw_helo`.
//!
//! The protocol work is the `tokio-socks` crate's; this module chooses what
//! to ask of it and turns its errors into the daemon's. We connect to the
//! proxy ourselves ([`open_tcp`]: async resolution, every address,
//! `TCP_NODELAY`) and hand the stream to the crate, so the proxy's
//! reachability is reported like a server's (`UnknownHost`,
//! `HostNotResponding`), and everything the proxy *says* becomes
//! [`SmtpError::Proxy`] with the stage it said it at.
//!
//! What `tokio-socks` decides for us, and how the SMTP-32 semantics are kept:
//! - **SOCKS4a** is what it sends for a domain name over SOCKS4 (IP
//!   `0.0.0.1`, the name after the USERID), so `FW_ADDR_DNS` with
//!   `FW_VERSION4` is SOCKS4a with no work here.
//! - **SOCKS5 methods**: it offers `[0]` without credentials and `[0, 2]`
//!   with them, not an arbitrary list. We ask for user/password exactly when
//!   the caller lists method 2 (so a caller who lists only `"2"` also offers
//!   0, and a proxy that needs no authentication may pick it); a list with
//!   only `"0"` offers only 0. GSSAPI is refused beforehand by
//!   `SocksRoute::check`. In SOCKS5 the proxy chooses among the offered
//!   methods, so the caller's order carries no meaning on the wire.
//! - **v5 → v4 fallback** (both version bits) is ours: when the SOCKS5
//!   greeting gets an answer that is not SOCKS5, or the proxy hangs up on
//!   it, we open a fresh connection and speak SOCKS4/4a. A proxy that says
//!   anything SOCKS5 (a refused password, a refused destination) is
//!   answered; no fallback hides it. A v4-only proxy that neither answers
//!   nor hangs up on a SOCKS5 greeting leaves the fallback to the
//!   connection's timeout.
//!
//! The proxy handshake is never shown to the traffic tap: it may carry the
//! password.

use super::{open_tcp, SmtpError};
use smtp32_protocol::{ProxyStage, SocksHost, SocksMethod, SocksRoute, SocksVersions};
use std::borrow::Cow;
use std::io;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use tokio::net::TcpStream;
use tokio_socks::tcp::{Socks4Stream, Socks5Stream};
use tokio_socks::{Error as SocksError, TargetAddr};

/// `tokio-socks` builds a SOCKS4 request in a 513-byte buffer: 8 header
/// bytes, the USERID, a NUL, the SOCKS4a name and a NUL must fit.
const SOCKS4_REQUEST_BYTES: usize = 513;

/// Connects to the route's proxy and through it to the destination.
/// `route` is checked first ([`SocksRoute::check`]); the returned stream
/// carries the destination's bytes from its first byte on.
pub async fn open(route: &SocksRoute) -> Result<TcpStream, SmtpError> {
    route
        .check()
        .map_err(|f| SmtpError::InvalidArgument(invalid_text(f)))?;
    match route.versions {
        SocksVersions::V5 => socks5(route).await.map_err(|e| e.error),
        SocksVersions::V4 => socks4(route).await,
        SocksVersions::Both => match socks5(route).await {
            Ok(stream) => Ok(stream),
            Err(Attempt {
                error,
                not_socks5: true,
            }) if !matches!(route.destination.host, SocksHost::Ipv6(_)) => {
                socks4(route).await.map_err(|e| match e {
                    SmtpError::Proxy { stage, reason } => SmtpError::Proxy {
                        stage,
                        reason: format!(
                            "SOCKS4 after SOCKS5 failed ({}): {reason}",
                            proxy_reason(&error)
                        ),
                    },
                    other => other,
                })
            }
            Err(Attempt { error, .. }) => Err(error),
        },
    }
}

/// A failed SOCKS5 attempt, and whether the proxy showed it does not speak SOCKS5.
struct Attempt {
    error: SmtpError,
    not_socks5: bool,
}

async fn socks5(route: &SocksRoute) -> Result<TcpStream, Attempt> {
    let attempt = |error| Attempt {
        error,
        not_socks5: false,
    };
    let stream = connect_proxy(route).await.map_err(attempt)?;
    let target = target(route);
    let credentials = match (&route.username, &route.password) {
        (Some(user), Some(password)) if route.methods.contains(SocksMethod::UsernamePassword) => {
            Some((user.as_str(), password.expose()))
        }
        _ => None,
    };
    let result = match credentials {
        Some((user, password)) => {
            Socks5Stream::connect_with_password_and_socket(stream, target, user, password).await
        }
        None => Socks5Stream::connect_with_socket(stream, target).await,
    };
    result.map(Socks5Stream::into_inner).map_err(|e| Attempt {
        not_socks5: is_not_socks5(&e),
        error: from_socks(e, "SOCKS5"),
    })
}

async fn socks4(route: &SocksRoute) -> Result<TcpStream, SmtpError> {
    let user = route.username.as_ref().map(|u| u.as_str());
    if let SocksHost::Domain(name) = &route.destination.host {
        let needed = 8 + user.map_or(0, str::len) + 1 + name.as_str().len() + 1;
        if needed > SOCKS4_REQUEST_BYTES {
            return Err(SmtpError::InvalidArgument(format!(
                "SOCKS4a request of {needed} bytes: user name and DNS name together are too long"
            )));
        }
    }
    let stream = connect_proxy(route).await?;
    let target = target(route);
    let result = match user {
        Some(user) => Socks4Stream::connect_with_userid_and_socket(stream, target, user).await,
        None => Socks4Stream::connect_with_socket(stream, target).await,
    };
    result
        .map(Socks4Stream::into_inner)
        .map_err(|e| from_socks(e, "SOCKS4"))
}

/// The TCP connection to the proxy itself; failures name the proxy.
async fn connect_proxy(route: &SocksRoute) -> Result<TcpStream, SmtpError> {
    let host = match &route.proxy.host {
        SocksHost::Ipv4(a) => a.to_string(),
        SocksHost::Ipv6(a) => a.to_string(),
        SocksHost::Domain(d) => d.as_str().to_owned(),
    };
    open_tcp(&host, route.proxy.port.get())
        .await
        .map_err(|e| match e {
            SmtpError::HostNotResponding(why) => {
                SmtpError::HostNotResponding(format!("SOCKS proxy {why}"))
            }
            other => other,
        })
}

fn target(route: &SocksRoute) -> TargetAddr<'_> {
    let port = route.destination.port.get();
    match &route.destination.host {
        SocksHost::Ipv4(a) => TargetAddr::Ip(SocketAddr::V4(SocketAddrV4::new(*a, port))),
        SocksHost::Ipv6(a) => TargetAddr::Ip(SocketAddr::V6(SocketAddrV6::new(*a, port, 0, 0))),
        SocksHost::Domain(d) => TargetAddr::Domain(Cow::Borrowed(d.as_str()), port),
    }
}

/// True when the proxy's answer to a SOCKS5 greeting shows it does not speak
/// SOCKS5: a reply with another version byte, or a hang-up.
fn is_not_socks5(e: &SocksError) -> bool {
    match e {
        SocksError::InvalidResponseVersion => true,
        SocksError::Io(io) => matches!(
            io.kind(),
            io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
        ),
        _ => false,
    }
}

/// The one mapping of `tokio-socks` errors onto the daemon's.
fn from_socks(e: SocksError, version: &str) -> SmtpError {
    use SocksError as E;
    let proxy = |stage, reason: String| SmtpError::Proxy { stage, reason };
    match e {
        E::Io(io) => proxy(
            ProxyStage::Handshake,
            format!("{version} proxy broke off the conversation: {io}"),
        ),
        E::InvalidResponseVersion => proxy(
            ProxyStage::Handshake,
            format!("the proxy does not answer as a {version} server"),
        ),
        E::UnknownAuthMethod
        | E::InvalidReservedByte
        | E::UnknownAddressType
        | E::ParseError(_) => proxy(
            ProxyStage::Handshake,
            format!("malformed {version} answer from the proxy ({e})"),
        ),
        E::InvalidTargetAddress(why) => proxy(
            ProxyStage::Handshake,
            format!("malformed {version} answer from the proxy ({why})"),
        ),
        E::NoAcceptableAuthMethods => proxy(
            ProxyStage::Authentication,
            "the proxy accepts none of the offered SOCKS5 methods".into(),
        ),
        E::AuthorizationRequired => proxy(
            ProxyStage::Authentication,
            "the proxy demands user name and password (SOCKS5 method 2) but none was offered"
                .into(),
        ),
        E::PasswordAuthFailure(status) => proxy(
            ProxyStage::Authentication,
            format!("the proxy refused the user name or password (RFC 1929 status {status})"),
        ),
        E::IdentdAuthFailure | E::InvalidUserIdAuthFailure => proxy(
            ProxyStage::Authentication,
            format!("the SOCKS4 proxy refused the user id: {e}"),
        ),
        E::GeneralSocksServerFailure
        | E::ConnectionNotAllowedByRuleset
        | E::NetworkUnreachable
        | E::HostUnreachable
        | E::ConnectionRefused
        | E::TtlExpired
        | E::CommandNotSupported
        | E::AddressTypeNotSupported
        | E::UnknownError => proxy(
            ProxyStage::Connect,
            format!("the {version} proxy refused the destination: {e}"),
        ),
        E::ProxyServerUnreachable => {
            SmtpError::HostNotResponding(format!("SOCKS proxy unreachable: {e}"))
        }
        E::InvalidAuthValues(why) => SmtpError::InvalidArgument(why.into()),
    }
}

/// The reason of a proxy error, for the message of the fallback that followed it.
fn proxy_reason(e: &SmtpError) -> String {
    match e {
        SmtpError::Proxy { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// The text of an `InvalidArgument` failure from `SocksRoute::check`.
fn invalid_text(f: smtp32_protocol::Failure) -> String {
    match f {
        smtp32_protocol::Failure::InvalidArgument(why) => why,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
