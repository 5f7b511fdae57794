//! The SMTP server a connection goes to, parsed from the caller's host string.
//!
//! SMTP-32 callers pass one string: `name`, `1.2.3.4`, `name:port`,
//! `[v6addr]:port`, `[v6addr]` or a bare IPv6 literal such as `::1`. This
//! module turns it into a host and a port (25 unless given) and refuses
//! anything ambiguous before it reaches the resolver.

use super::SmtpError;
use std::fmt;
use std::net::Ipv6Addr;

/// The SMTP port used when the host string names none.
pub const DEFAULT_PORT: u16 = 25;

/// A host (name or address, IPv6 without brackets) and a TCP port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The host name or address literal; an IPv6 literal is stored without brackets.
    pub host: String,
    /// The TCP port, never 0.
    pub port: u16,
}

impl Endpoint {
    /// Parses a caller's host string; every rejection is `InvalidArgument` naming the problem.
    pub fn parse(text: &str) -> Result<Endpoint, SmtpError> {
        Self::parse_with_default(text, DEFAULT_PORT)
    }

    /// As [`Endpoint::parse`], with `default_port` when the string names none.
    pub fn parse_with_default(text: &str, default_port: u16) -> Result<Endpoint, SmtpError> {
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(
                "host contains whitespace or a control character (CR, LF, NUL)",
            ));
        }
        if text.is_empty() {
            return Err(invalid("host is empty"));
        }
        if let Some(rest) = text.strip_prefix('[') {
            return parse_bracketed(rest, default_port);
        }
        if text.contains(['[', ']']) {
            return Err(invalid(&format!("unbalanced brackets in host {text:?}")));
        }
        match text.matches(':').count() {
            0 => Ok(Endpoint {
                host: text.to_owned(),
                port: default_port,
            }),
            1 => {
                let (host, port) = text.split_once(':').unwrap_or((text, ""));
                if host.is_empty() {
                    return Err(invalid("host is empty"));
                }
                Ok(Endpoint {
                    host: host.to_owned(),
                    port: parse_port(port)?,
                })
            }
            _ => {
                let addr = parse_v6(text)?;
                Ok(Endpoint {
                    host: addr,
                    port: default_port,
                })
            }
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// `rest` is what follows the opening `[`: `v6addr]` or `v6addr]:port`.
fn parse_bracketed(rest: &str, default_port: u16) -> Result<Endpoint, SmtpError> {
    let Some((inside, after)) = rest.split_once(']') else {
        return Err(invalid("unbalanced brackets: '[' without ']'"));
    };
    if inside.is_empty() {
        return Err(invalid("host is empty"));
    }
    if inside.contains('[') || after.contains(['[', ']']) {
        return Err(invalid("unbalanced brackets in host"));
    }
    let host = parse_v6(inside)?;
    let port = match after {
        "" => default_port,
        _ => match after.strip_prefix(':') {
            Some(port) => parse_port(port)?,
            None => return Err(invalid(&format!("unexpected {after:?} after ']'"))),
        },
    };
    Ok(Endpoint { host, port })
}

/// Checks that `text` is an IPv6 address and returns it as given.
fn parse_v6(text: &str) -> Result<String, SmtpError> {
    match text.parse::<Ipv6Addr>() {
        Ok(_) => Ok(text.to_owned()),
        Err(_) => Err(invalid(&format!(
            "{text:?} is not an IPv6 address (only IPv6 literals may hold several ':' or sit in brackets)"
        ))),
    }
}

/// A decimal port in 1..=65535; `u16::from_str` alone would also take `+25`.
fn parse_port(text: &str) -> Result<u16, SmtpError> {
    if text.is_empty() {
        return Err(invalid("port is empty"));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(&format!("port {text:?} is not a number")));
    }
    match text.parse::<u16>() {
        Ok(0) => Err(invalid("port 0 is not allowed")),
        Ok(port) => Ok(port),
        Err(_) => Err(invalid(&format!("port {text} is out of range (1..=65535)"))),
    }
}

fn invalid(why: &str) -> SmtpError {
    SmtpError::InvalidArgument(why.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> (String, u16) {
        match Endpoint::parse(text) {
            Ok(e) => (e.host, e.port),
            Err(e) => panic!("{text:?} rejected: {e}"),
        }
    }

    fn rejected(text: &str, needle: &str) {
        match Endpoint::parse(text) {
            Err(SmtpError::InvalidArgument(why)) => {
                assert!(why.contains(needle), "{text:?}: {why:?} lacks {needle:?}")
            }
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    #[test]
    fn accepts_every_form() {
        assert_eq!(ok("mail.example.com"), ("mail.example.com".into(), 25));
        assert_eq!(ok("192.0.2.1"), ("192.0.2.1".into(), 25));
        assert_eq!(
            ok("mail.example.com:2525"),
            ("mail.example.com".into(), 2525)
        );
        assert_eq!(ok("192.0.2.1:587"), ("192.0.2.1".into(), 587));
        assert_eq!(ok("[2001:db8::1]:2525"), ("2001:db8::1".into(), 2525));
        assert_eq!(ok("[::1]"), ("::1".into(), 25));
        assert_eq!(ok("::1"), ("::1".into(), 25));
        assert_eq!(ok("2001:db8::25"), ("2001:db8::25".into(), 25));
        assert_eq!(ok("host:65535"), ("host".into(), 65535));
        assert_eq!(ok("host:0025"), ("host".into(), 25));
    }

    #[test]
    fn displays_host_and_port() {
        assert_eq!(
            Endpoint::parse("a.example").map(|e| e.to_string()).ok(),
            Some("a.example:25".into())
        );
        assert_eq!(
            Endpoint::parse("::1").map(|e| e.to_string()).ok(),
            Some("[::1]:25".into())
        );
        assert_eq!(
            Endpoint::parse("[::1]:26").map(|e| e.to_string()).ok(),
            Some("[::1]:26".into())
        );
    }

    #[test]
    fn rejects_empty_hosts() {
        rejected("", "empty");
        rejected(":25", "host is empty");
        rejected("[]", "host is empty");
        rejected("[]:25", "host is empty");
    }

    #[test]
    fn rejects_bad_ports() {
        rejected("host:", "port is empty");
        rejected("host:0", "port 0");
        rejected("host:smtp", "not a number");
        rejected("host:+25", "not a number");
        rejected("host:-1", "not a number");
        rejected("host:65536", "out of range");
        rejected("host:99999999999", "out of range");
        rejected("[::1]:", "port is empty");
        rejected("[::1]:0", "port 0");
        rejected("[::1]:x", "not a number");
    }

    #[test]
    fn rejects_whitespace_and_control_characters() {
        rejected(" host", "whitespace");
        rejected("ho st", "whitespace");
        rejected("host\r\n", "whitespace");
        rejected("host\n", "whitespace");
        rejected("ho\0st", "control");
        rejected("host:25\t", "whitespace");
    }

    #[test]
    fn rejects_unbalanced_or_misused_brackets() {
        rejected("[::1", "without ']'");
        rejected("::1]", "unbalanced");
        rejected("host]", "unbalanced");
        rejected("ho[st", "unbalanced");
        rejected("[::1]]", "unbalanced");
        rejected("[[::1]", "unbalanced");
        rejected("[::1]25", "after ']'");
        rejected("[host]", "not an IPv6 address");
        rejected("[192.0.2.1]:25", "not an IPv6 address");
    }

    #[test]
    fn rejects_several_colons_that_are_no_ipv6_address() {
        rejected("host:25:26", "not an IPv6 address");
        rejected("a:b:c", "not an IPv6 address");
    }
}
