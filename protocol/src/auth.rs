//! What `smtp_auth` sends to the daemon: the SASL mechanism and the secret.
//!
//! [`AuthSecret`] is the password or OAuth2 bearer token. Its `Debug` and
//! `Display` print `***`, so no log line that formats a request can show it;
//! only [`AuthSecret::expose`] gives the text, for the one place that encodes
//! it for the server. It is not the SOCKS [`Secret`](crate::Secret): that one
//! is bounded by SOCKS's one-byte length field (255), while bearer tokens run
//! to kilobytes.

use crate::failure::Failure;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The longest secret accepted, in bytes (a large JWT bearer token fits).
pub const MAX_AUTH_SECRET_BYTES: usize = 16 * 1024;

/// A SASL mechanism the daemon can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthMechanism {
    /// RFC 4616: user and password in one initial response.
    Plain,
    /// The de-facto `LOGIN` mechanism: user and password each after a 334 prompt.
    Login,
    /// Google/Microsoft `XOAUTH2`: the user and an OAuth2 bearer token.
    XOAuth2,
}

impl AuthMechanism {
    /// The mechanism's name as in EHLO and on the `AUTH` line.
    pub fn name(self) -> &'static str {
        match self {
            AuthMechanism::Plain => "PLAIN",
            AuthMechanism::Login => "LOGIN",
            AuthMechanism::XOAuth2 => "XOAUTH2",
        }
    }
}

impl fmt::Display for AuthMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AuthMechanism {
    type Err = Failure;

    /// `PLAIN`, `LOGIN` or `XOAUTH2`, in any case; anything else is `InvalidArgument`.
    fn from_str(text: &str) -> Result<Self, Failure> {
        [
            AuthMechanism::Plain,
            AuthMechanism::Login,
            AuthMechanism::XOAuth2,
        ]
        .into_iter()
        .find(|m| m.name().eq_ignore_ascii_case(text))
        .ok_or_else(|| {
            Failure::InvalidArgument(format!(
                "unknown AUTH mechanism {text:?} (use PLAIN, LOGIN or XOAUTH2)"
            ))
        })
    }
}

/// A password or bearer token that never prints.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AuthSecret(String);

impl AuthSecret {
    /// Checks `text`: 1..=[`MAX_AUTH_SECRET_BYTES`] bytes without CR, LF or NUL
    /// (they would end the line or break the PLAIN encoding). The error never quotes it.
    pub fn new(text: impl Into<String>) -> Result<AuthSecret, Failure> {
        let text = text.into();
        if text.is_empty() || text.len() > MAX_AUTH_SECRET_BYTES {
            return Err(Failure::InvalidArgument(format!(
                "the AUTH secret must be 1..={MAX_AUTH_SECRET_BYTES} bytes"
            )));
        }
        if text.contains(['\r', '\n', '\0']) {
            return Err(Failure::InvalidArgument(
                "the AUTH secret holds CR, LF or NUL".into(),
            ));
        }
        Ok(AuthSecret(text))
    }

    /// The secret itself, for the one place that encodes it for the server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AuthSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for AuthSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl TryFrom<String> for AuthSecret {
    type Error = Failure;
    fn try_from(text: String) -> Result<Self, Failure> {
        AuthSecret::new(text)
    }
}

impl From<AuthSecret> for String {
    fn from(secret: AuthSecret) -> String {
        secret.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = AuthSecret::new("hunter2").unwrap();
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(s.expose(), "hunter2");
        let e = AuthSecret::new("a\r\nRSET").unwrap_err().to_string();
        assert!(!e.contains("RSET"), "{e}");
        assert!(AuthSecret::new("").is_err());
        assert!(AuthSecret::new("x".repeat(MAX_AUTH_SECRET_BYTES + 1)).is_err());
    }

    #[test]
    fn mechanisms_parse_in_any_case() {
        assert_eq!(
            "plain".parse::<AuthMechanism>().ok(),
            Some(AuthMechanism::Plain)
        );
        assert_eq!(
            "XOAuth2".parse::<AuthMechanism>().ok(),
            Some(AuthMechanism::XOAuth2)
        );
        assert!("CRAM-MD5".parse::<AuthMechanism>().is_err());
    }
}
