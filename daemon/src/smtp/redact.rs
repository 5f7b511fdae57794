//! What of an SMTP AUTH exchange may be shown: the verb and the mechanism,
//! never the SASL data. Used for the traffic tap (debug copies and
//! `smtp32ctl show`) and for the debug log's call lines, whatever path sent
//! the line (`smtp_auth`, or a legacy program's `smtp_direct("AUTH PLAIN …")`).

use std::borrow::Cow;

/// How a line of SASL data (a continuation after a 334) is shown.
pub const CONTINUATION: &[u8] = b"***\r\n";

/// True when `line` is an `AUTH` command (any case).
pub fn is_auth(line: &str) -> bool {
    let verb = line.split(' ').next().unwrap_or("");
    verb.eq_ignore_ascii_case("AUTH")
}

/// `AUTH MECH ***` (with CRLF) for an `AUTH` line that carries an initial
/// response; `None` when it carries only the mechanism (nothing secret).
pub fn auth_line(line: &str) -> Option<Vec<u8>> {
    let mut words = line.split(' ').filter(|w| !w.is_empty());
    let (_verb, mechanism) = (words.next()?, words.next().unwrap_or(""));
    words.next()?;
    Some(format!("AUTH {mechanism} ***\r\n").into_bytes())
}

/// A command line as the debug log may show it: an `AUTH` line without its
/// initial response, any line sent while an AUTH exchange is open as `***`.
pub fn for_log(line: &str, in_auth_exchange: bool) -> Cow<'_, str> {
    if in_auth_exchange {
        return Cow::Borrowed("***");
    }
    match auth_line(line).filter(|_| is_auth(line)) {
        Some(shown) => Cow::Owned(
            String::from_utf8_lossy(shown.strip_suffix(b"\r\n").unwrap_or(&shown)).into_owned(),
        ),
        None => Cow::Borrowed(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_lines_keep_the_mechanism_and_lose_the_data() {
        assert!(
            is_auth("AUTH PLAIN AGJvYgBzM2NyM3Q=") && is_auth("auth login") && !is_auth("AUTHX y")
        );
        assert_eq!(
            auth_line("AUTH PLAIN AGJvYgBzM2NyM3Q=").unwrap(),
            b"AUTH PLAIN ***\r\n"
        );
        assert_eq!(
            auth_line("auth xoauth2 dXNlcj1h"),
            Some(b"AUTH xoauth2 ***\r\n".to_vec())
        );
        assert_eq!(auth_line("AUTH LOGIN"), None);
        assert_eq!(
            for_log("AUTH PLAIN AGJvYgBzM2NyM3Q=", false),
            "AUTH PLAIN ***"
        );
        assert_eq!(for_log("AUTH LOGIN", false), "AUTH LOGIN");
        assert_eq!(for_log("czNjcjN0", true), "***");
        assert_eq!(for_log("ETRN example.org", false), "ETRN example.org");
    }
}
