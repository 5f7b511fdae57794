//! The host string of `smtp_helo` with its TLS policy, URL-style.
//!
//! The TLS policy of a connection must be known before it exists, so it
//! travels in the one string the SMTP-32 API has:
//! - `smtps://host[:port]`: implicit TLS, port 465 unless given;
//! - `smtp://host[:port]` with an optional `?tls=none|opportunistic|required`,
//!   port 25 unless given (without `?tls=` the daemon's `tls.policy` applies);
//! - any other string is a bare host ([`Endpoint::parse`]) under the daemon's policy.

use super::endpoint::DEFAULT_PORT;
use super::tls::TlsMode;
use super::{Endpoint, SmtpError};

/// The port of `smtps://` when none is given (RFC 8314).
pub const SMTPS_PORT: u16 = 465;

/// Where to connect and, when the string says so, how to do TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The server.
    pub endpoint: Endpoint,
    /// The policy the string names; `None`: the daemon's `tls.policy`.
    pub tls: Option<TlsMode>,
}

impl Target {
    /// Parses a host string; every rejection is `InvalidArgument` naming the problem.
    pub fn parse(text: &str) -> Result<Target, SmtpError> {
        if let Some(rest) = strip_scheme(text, "smtps://") {
            if rest.contains('?') {
                return Err(invalid("smtps:// takes no ?tls= (it is always TLS)"));
            }
            let endpoint = Endpoint::parse_with_default(rest, SMTPS_PORT)?;
            return Ok(Target {
                endpoint,
                tls: Some(TlsMode::Implicit),
            });
        }
        if let Some(rest) = strip_scheme(text, "smtp://") {
            let (host, query) = match rest.split_once('?') {
                Some((host, query)) => (host, Some(query)),
                None => (rest, None),
            };
            let tls = query.map(parse_query).transpose()?;
            let endpoint = Endpoint::parse_with_default(host, DEFAULT_PORT)?;
            return Ok(Target { endpoint, tls });
        }
        if text.contains("://") {
            return Err(invalid(&format!(
                "unknown scheme in {text:?} (use smtp:// or smtps://)"
            )));
        }
        Ok(Target {
            endpoint: Endpoint::parse(text)?,
            tls: None,
        })
    }
}

/// The rest of `text` after `scheme`, compared without regard to case.
fn strip_scheme<'a>(text: &'a str, scheme: &str) -> Option<&'a str> {
    let head = text.get(..scheme.len())?;
    head.eq_ignore_ascii_case(scheme)
        .then(|| &text[scheme.len()..])
}

/// `tls=none`, `tls=opportunistic` or `tls=required`, nothing else.
fn parse_query(query: &str) -> Result<TlsMode, SmtpError> {
    match query.split_once('=') {
        Some((key, value)) if key.eq_ignore_ascii_case("tls") => {
            match value.to_ascii_lowercase().as_str() {
                "none" => Ok(TlsMode::None),
                "opportunistic" => Ok(TlsMode::Opportunistic),
                "required" => Ok(TlsMode::Required),
                _ => Err(invalid(&format!(
                    "tls={value} is not none, opportunistic or required"
                ))),
            }
        }
        _ => Err(invalid(&format!(
            "unknown query {query:?} (only ?tls=none|opportunistic|required)"
        ))),
    }
}

fn invalid(why: &str) -> SmtpError {
    SmtpError::InvalidArgument(why.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> (String, u16, Option<TlsMode>) {
        match Target::parse(text) {
            Ok(t) => (t.endpoint.host, t.endpoint.port, t.tls),
            Err(e) => panic!("{text:?} rejected: {e}"),
        }
    }

    fn rejected(text: &str, needle: &str) {
        match Target::parse(text) {
            Err(SmtpError::InvalidArgument(why)) => {
                assert!(why.contains(needle), "{text:?}: {why:?}")
            }
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    #[test]
    fn schemes_choose_port_and_policy() {
        assert_eq!(
            ok("smtps://mail.example"),
            ("mail.example".into(), 465, Some(TlsMode::Implicit))
        );
        assert_eq!(
            ok("SMTPS://[::1]:4465"),
            ("::1".into(), 4465, Some(TlsMode::Implicit))
        );
        assert_eq!(ok("smtp://mail.example"), ("mail.example".into(), 25, None));
        assert_eq!(
            ok("smtp://h:587?tls=required"),
            ("h".into(), 587, Some(TlsMode::Required))
        );
        assert_eq!(
            ok("smtp://h?tls=Opportunistic"),
            ("h".into(), 25, Some(TlsMode::Opportunistic))
        );
        assert_eq!(
            ok("smtp://127.0.0.1:2525?tls=none"),
            ("127.0.0.1".into(), 2525, Some(TlsMode::None))
        );
        assert_eq!(ok("h:2525"), ("h".into(), 2525, None));
        assert_eq!(ok("[::1]:26"), ("::1".into(), 26, None));
    }

    #[test]
    fn bad_urls_are_named() {
        rejected("smtp://h?tls=maybe", "tls=maybe");
        rejected("smtp://h?verify=no", "unknown query");
        rejected("smtps://h?tls=none", "always TLS");
        rejected("http://h", "unknown scheme");
        rejected("smtp://", "empty");
        rejected("smtp://h:0", "port 0");
    }
}
