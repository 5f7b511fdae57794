//! The route of a connection through a SOCKS proxy (`smtp_fw_helo`).
//!
//! Each field of the manual's `fw_param` becomes a value that cannot hold a
//! wrong state: ports are non-zero, a DNS name fits SOCKS's length byte, the
//! method list is non-empty and without repeats, and the password is a
//! [`Secret`] whose `Debug` and `Display` print `***`, so no log line that
//! formats a request can show it. Deserialising checks the same rules, so a
//! peer cannot smuggle a value past them. The rules that span fields (method
//! 2 needs a user name and a password, SOCKS4 cannot reach an IPv6 address,
//! GSSAPI is not supported) are [`SocksRoute::check`], which the daemon runs
//! before it opens a socket and a client may run earlier.

use crate::failure::Failure;
/// Where a proxy failed: part of the failure type, named here too for SOCKS users.
pub use crate::failure::ProxyStage;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU16;

/// The proxy port SMTP-32 uses when `fw_port` is 0.
pub const DEFAULT_SOCKS_PORT: u16 = 1080;

/// The longest DNS name, user name or password SOCKS can carry (one length byte).
pub const MAX_SOCKS_FIELD_BYTES: usize = 255;

/// A proxy or destination host: an IPv4 or IPv6 address, or a DNS name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SocksHost {
    /// `FW_ADDR_IP4`.
    Ipv4(Ipv4Addr),
    /// `FW_ADDR_IP6`.
    Ipv6(Ipv6Addr),
    /// `FW_ADDR_DNS`: for a destination, resolved by the proxy (SOCKS4a / SOCKS5).
    Domain(DomainName),
}

impl SocksHost {
    /// An address literal (IPv6 with or without brackets) or else a DNS name.
    pub fn parse(text: &str) -> Result<SocksHost, Failure> {
        let bare = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text);
        match bare.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => Ok(SocksHost::Ipv4(a)),
            Ok(IpAddr::V6(a)) => Ok(SocksHost::Ipv6(a)),
            Err(_) => DomainName::new(text).map(SocksHost::Domain),
        }
    }
}

impl fmt::Display for SocksHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocksHost::Ipv4(a) => write!(f, "{a}"),
            SocksHost::Ipv6(a) => write!(f, "[{a}]"),
            SocksHost::Domain(d) => write!(f, "{d}"),
        }
    }
}

/// A DNS name as SOCKS carries it: 1..=255 bytes, no whitespace, control
/// character or `:` (a name with a port, or an address, is not a name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DomainName(String);

impl DomainName {
    /// Checks `name`; the error names the rule it breaks.
    pub fn new(name: impl Into<String>) -> Result<DomainName, Failure> {
        let name = name.into();
        check_field("DNS name", &name)?;
        if name.chars().any(|c| c.is_whitespace() || c == ':') {
            return Err(invalid(format!(
                "DNS name {name:?} holds whitespace or ':'"
            )));
        }
        Ok(DomainName(name))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A host and a non-zero TCP port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocksEndpoint {
    /// Address or name.
    pub host: SocksHost,
    /// Never 0 (the client turns `fw_port` 0 into [`DEFAULT_SOCKS_PORT`] before it gets here).
    pub port: NonZeroU16,
}

impl SocksEndpoint {
    /// `host` and `port`; port 0 is `InvalidArgument`.
    pub fn new(host: SocksHost, port: u16) -> Result<SocksEndpoint, Failure> {
        let port = NonZeroU16::new(port).ok_or_else(|| invalid(format!("port 0 for {host}")))?;
        Ok(SocksEndpoint { host, port })
    }
}

impl fmt::Display for SocksEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// The SOCKS versions the caller allows (`socks_ver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SocksVersions {
    /// `FW_VERSION4` only: SOCKS4, or SOCKS4a for a DNS name.
    V4,
    /// `FW_VERSION5` only.
    V5,
    /// Both bits: try SOCKS5, and SOCKS4/4a when the proxy does not speak 5.
    Both,
}

impl SocksVersions {
    /// The `socks_ver` bit for SOCKS4 (`FW_VERSION4`).
    pub const BIT_V4: i32 = 1;
    /// The `socks_ver` bit for SOCKS5 (`FW_VERSION5`).
    pub const BIT_V5: i32 = 2;

    /// The versions named by `socks_ver`; `None` when neither bit is set or other bits are.
    pub fn from_bits(bits: i32) -> Option<SocksVersions> {
        match bits {
            Self::BIT_V4 => Some(SocksVersions::V4),
            Self::BIT_V5 => Some(SocksVersions::V5),
            b if b == Self::BIT_V4 | Self::BIT_V5 => Some(SocksVersions::Both),
            _ => None,
        }
    }

    /// True when SOCKS4/4a may be spoken.
    pub fn allows_v4(self) -> bool {
        matches!(self, SocksVersions::V4 | SocksVersions::Both)
    }

    /// True when SOCKS5 may be spoken.
    pub fn allows_v5(self) -> bool {
        matches!(self, SocksVersions::V5 | SocksVersions::Both)
    }
}

/// A SOCKS5 authentication method, numbered as in the manual's `methods` string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SocksMethod {
    /// `'0'`: no authentication.
    NoAuth,
    /// `'1'`: GSSAPI; accepted in the list but never used (not supported).
    Gssapi,
    /// `'2'`: user name and password (RFC 1929).
    UsernamePassword,
}

impl SocksMethod {
    /// The method for a character of the `methods` string.
    pub fn from_char(c: char) -> Option<SocksMethod> {
        match c {
            '0' => Some(SocksMethod::NoAuth),
            '1' => Some(SocksMethod::Gssapi),
            '2' => Some(SocksMethod::UsernamePassword),
            _ => None,
        }
    }

    /// True for the methods the daemon can speak (0 and 2).
    pub fn is_supported(self) -> bool {
        !matches!(self, SocksMethod::Gssapi)
    }
}

/// The caller's SOCKS5 methods, in the caller's order: non-empty, no repeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<SocksMethod>", into = "Vec<SocksMethod>")]
pub struct SocksMethods(Vec<SocksMethod>);

impl SocksMethods {
    /// Checks the list; an empty list or a repeated method is `InvalidArgument`.
    pub fn new(methods: Vec<SocksMethod>) -> Result<SocksMethods, Failure> {
        if methods.is_empty() {
            return Err(invalid("no SOCKS5 method given".into()));
        }
        for (i, m) in methods.iter().enumerate() {
            if methods[..i].contains(m) {
                return Err(invalid(format!("SOCKS5 method {m:?} listed twice")));
            }
        }
        Ok(SocksMethods(methods))
    }

    /// The manual's `methods` string, e.g. `"02"`; anything but `0`, `1`, `2` is `InvalidArgument`.
    pub fn parse(text: &str) -> Result<SocksMethods, Failure> {
        let methods = text
            .chars()
            .map(|c| {
                SocksMethod::from_char(c)
                    .ok_or_else(|| invalid(format!("unknown SOCKS5 method {c:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        SocksMethods::new(methods)
    }

    /// Method 0 alone: what a SOCKS4-only caller, who passes no methods, gets.
    pub fn no_auth() -> SocksMethods {
        SocksMethods(vec![SocksMethod::NoAuth])
    }

    /// The methods in the caller's order.
    pub fn as_slice(&self) -> &[SocksMethod] {
        &self.0
    }

    /// True when `method` is in the list.
    pub fn contains(&self, method: SocksMethod) -> bool {
        self.0.contains(&method)
    }
}

impl TryFrom<Vec<SocksMethod>> for SocksMethods {
    type Error = Failure;
    fn try_from(methods: Vec<SocksMethod>) -> Result<Self, Failure> {
        SocksMethods::new(methods)
    }
}

impl From<SocksMethods> for Vec<SocksMethod> {
    fn from(methods: SocksMethods) -> Vec<SocksMethod> {
        methods.0
    }
}

/// A SOCKS user name (SOCKS4 USERID or RFC 1929 UNAME): 1..=255 bytes, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SocksUser(String);

impl SocksUser {
    /// Checks `name`.
    pub fn new(name: impl Into<String>) -> Result<SocksUser, Failure> {
        let name = name.into();
        check_field("SOCKS user name", &name)?;
        Ok(SocksUser(name))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password: 1..=255 bytes, no control characters. `Debug` and `Display`
/// print `***`; only [`Secret::expose`] gives the text, for the one place
/// that writes it to the proxy.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Secret(String);

impl Secret {
    /// Checks `text` (the error never quotes it).
    pub fn new(text: impl Into<String>) -> Result<Secret, Failure> {
        let text = text.into();
        if text.is_empty() || text.len() > MAX_SOCKS_FIELD_BYTES {
            return Err(invalid(format!(
                "SOCKS password must be 1..={MAX_SOCKS_FIELD_BYTES} bytes"
            )));
        }
        if text.chars().any(char::is_control) {
            return Err(invalid("SOCKS password holds a control character".into()));
        }
        Ok(Secret(text))
    }

    /// The password itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Everything `smtp_fw_helo` needs to reach the SMTP server through a proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocksRoute {
    /// The proxy (`fw_host`, `fw_port`).
    pub proxy: SocksEndpoint,
    /// `socks_ver`.
    pub versions: SocksVersions,
    /// SOCKS5 methods (`methods`, `n_methods`); ignored for SOCKS4.
    pub methods: SocksMethods,
    /// The SMTP server as the proxy should reach it (`addr_type`, `dest_host`/`domain_name`, `dest_port`).
    pub destination: SocksEndpoint,
    /// SOCKS4 USERID, or the RFC 1929 user name for method 2.
    pub username: Option<SocksUser>,
    /// The RFC 1929 password for method 2.
    pub password: Option<Secret>,
}

impl SocksRoute {
    /// The rules that span fields, each an `InvalidArgument` naming it:
    /// - SOCKS5: at least one method must be supported; GSSAPI alone is
    ///   "GSSAPI is not supported"; method 2 needs a user name and a password.
    /// - SOCKS4 only: the destination cannot be an IPv6 address.
    pub fn check(&self) -> Result<(), Failure> {
        if self.versions.allows_v5() {
            if !self.methods.as_slice().iter().any(|m| m.is_supported()) {
                return Err(invalid(
                    "GSSAPI is not supported (use SOCKS5 method 0 or 2)".into(),
                ));
            }
            if self.methods.contains(SocksMethod::UsernamePassword)
                && (self.username.is_none() || self.password.is_none())
            {
                return Err(invalid(
                    "SOCKS5 method 2 needs a user name and a password".into(),
                ));
            }
        }
        if self.versions == SocksVersions::V4 && matches!(self.destination.host, SocksHost::Ipv6(_))
        {
            return Err(invalid("SOCKS4 cannot reach an IPv6 destination".into()));
        }
        Ok(())
    }
}

/// `TryFrom<String>` through the type's checking `new`, and back to `String`,
/// for serde's `try_from`/`into`: decoding checks what construction checks.
macro_rules! checked_string {
    ($($t:ident),*) => {$(
        impl TryFrom<String> for $t {
            type Error = Failure;
            fn try_from(text: String) -> Result<Self, Failure> {
                $t::new(text)
            }
        }

        impl From<$t> for String {
            fn from(value: $t) -> String {
                value.0
            }
        }
    )*};
}

checked_string!(DomainName, SocksUser, Secret);

/// A user-supplied text field: 1..=255 bytes and no control characters.
fn check_field(what: &str, text: &str) -> Result<(), Failure> {
    if text.is_empty() || text.len() > MAX_SOCKS_FIELD_BYTES {
        return Err(invalid(format!(
            "{what} must be 1..={MAX_SOCKS_FIELD_BYTES} bytes, not {}",
            text.len()
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{what} holds a control character (CR, LF, NUL)"
        )));
    }
    Ok(())
}

fn invalid(why: String) -> Failure {
    Failure::InvalidArgument(why)
}

#[cfg(test)]
mod tests;
