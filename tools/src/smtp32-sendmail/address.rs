//! Addresses: the RFC 5322 address lists of To/Cc/Bcc fields and of
//! recipient arguments, parsed by `mailparse` (display names, comments,
//! quoted strings, groups, encoded words), reduced to the bare addr-specs
//! that SMTP's MAIL and RCPT take.
//!
//! sendmail also takes bare local names (`root`, as cron writes `To: root`),
//! which `mailparse` refuses for want of an `@`: a list it refuses is read
//! again piece by piece between commas, each piece a bare name or an
//! address of its own. [`qualify`] later gives bare names this host's domain.

use mailparse::{MailAddr, MailAddrList, MailParseError};
use std::panic::{self, AssertUnwindSafe};

/// The addresses of one header field, given whole as it stood in the
/// message (`To: a <b@c>,\r\n  d@e\r\n`, folding included).
pub fn from_field(field: &[u8]) -> Result<Vec<String>, String> {
    let header = match mailparse::parse_header(field) {
        Ok((header, _)) => header,
        Err(e) => return Err(e.to_string()),
    };
    let value = header.get_value();
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    match quietly(|| mailparse::addrparse_header(&header)) {
        Ok(list) => flatten(list),
        Err(e) => piecewise(&value).ok_or(e),
    }
}

/// The addresses of a list given as text (a recipient argument).
pub fn from_text(text: &str) -> Result<Vec<String>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    match quietly(|| mailparse::addrparse(text)) {
        Ok(list) => flatten(list),
        Err(e) => piecewise(text).ok_or(e),
    }
}

/// A list read piece by piece between commas: each piece a bare local name
/// (a dot-atom without `@`) or one address list of its own; `None` when a
/// piece is neither.
fn piecewise(text: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for piece in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bare = piece
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext));
        if bare {
            out.push(piece.to_string());
        } else {
            out.extend(flatten(quietly(|| mailparse::addrparse(piece)).ok()?).ok()?);
        }
    }
    Some(out)
}

/// RFC 5322 atext.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// The envelope sender of `-f`: `""` or `<>` is the null sender (returned
/// as `""`); anything else must be exactly one address, qualified with `domain`.
pub fn sender(text: &str, domain: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() || text == "<>" {
        return Ok(String::new());
    }
    match from_text(text)?.as_slice() {
        [one] => Ok(qualify(one, domain)),
        _ => Err(format!("{text:?} is not one address")),
    }
}

/// `name` becomes `name@domain`; an address with a domain is left alone.
pub fn qualify(addr: &str, domain: &str) -> String {
    if addr.contains('@') {
        addr.to_string()
    } else {
        format!("{addr}@{domain}")
    }
}

/// Every address of the list, group members included, each checked.
fn flatten(list: MailAddrList) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(list.count_addrs());
    for entry in list.into_inner() {
        match entry {
            MailAddr::Single(one) => out.push(checked(one.addr)?),
            MailAddr::Group(group) => {
                for one in group.addrs {
                    out.push(checked(one.addr)?);
                }
            }
        }
    }
    Ok(out)
}

/// An addr-spec that can go into `RCPT TO:<...>`: not empty, no control
/// characters or angle brackets, and no blanks outside a quoted local part.
fn checked(addr: String) -> Result<String, String> {
    let addr = addr.trim().to_string();
    let bad = addr.is_empty()
        || addr.chars().any(|c| c.is_control() || c == '<' || c == '>')
        || (!addr.starts_with('"') && addr.contains(char::is_whitespace));
    if bad {
        return Err(format!("{addr:?} is not an address"));
    }
    Ok(addr)
}

/// Runs the parser so that a panic inside it (on input nobody foresaw)
/// becomes an error instead of ending the program with a backtrace.
fn quietly<T>(parse: impl FnOnce() -> Result<T, MailParseError>) -> Result<T, String> {
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let result = panic::catch_unwind(AssertUnwindSafe(parse));
    panic::set_hook(hook);
    match result {
        Ok(parsed) => parsed.map_err(|e| e.to_string()),
        Err(_) => Err("the address list cannot be parsed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_comments_groups_and_folding() {
        let field = b"To: \"Doe, Jane\" <jane@a.test>, bob@b.test (Bob),\r\n\tFriends: carol@c.test, Dan <dan@d.test>;,\r\n =?UTF-8?B?w4lsaXNl?= <elise@e.test>\r\n";
        assert_eq!(
            from_field(field).unwrap(),
            [
                "jane@a.test",
                "bob@b.test",
                "carol@c.test",
                "dan@d.test",
                "elise@e.test"
            ]
        );
        assert_eq!(
            from_field(b"Cc: undisclosed-recipients:;\r\n").unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(from_field(b"Bcc:\r\n").unwrap(), Vec::<String>::new());
        assert_eq!(from_field(b"bcc: x@y.test\n").unwrap(), ["x@y.test"]);
        assert_eq!(from_field(b"To: root\n").unwrap(), ["root"]);
        assert_eq!(
            from_field(b"To: root, Ann <ann@a.test>\n").unwrap(),
            ["root", "ann@a.test"]
        );
    }

    #[test]
    fn arguments_and_senders() {
        assert_eq!(
            from_text("a@b.test, Name <c@d.test>").unwrap(),
            ["a@b.test", "c@d.test"]
        );
        assert_eq!(from_text("root").unwrap(), ["root"]);
        assert_eq!(
            from_text("a@x.test, root, first.last").unwrap(),
            ["a@x.test", "root", "first.last"]
        );
        assert_eq!(sender("<>", "h.test").unwrap(), "");
        assert_eq!(sender("", "h.test").unwrap(), "");
        assert_eq!(sender("<me@x.test>", "h.test").unwrap(), "me@x.test");
        assert_eq!(sender("daemon", "h.test").unwrap(), "daemon@h.test");
        assert!(sender("a@x.test, b@x.test", "h").is_err());
        assert_eq!(qualify("root", "h.test"), "root@h.test");
        assert_eq!(qualify("r@x", "h.test"), "r@x");
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        for text in [
            "foo bar baz",
            "<",
            "a@b <",
            "\"unterminated",
            "(((",
            "x@y>z",
            "Group: a@b",
            ":;",
            "@",
            "<>",
        ] {
            let _ = from_text(text);
        }
        assert!(from_text("foo bar baz").is_err());
        // Bytes of every kind in a header field.
        let mut seed = 0x2545_f491_u32;
        for _ in 0..2000 {
            let mut field = b"To: ".to_vec();
            for _ in 0..(seed % 40) {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                field.push(b" <>\"(),:;@\\.=?aZ\r\n\t\xc3\xff"[(seed % 20) as usize]);
            }
            let _ = from_field(&field);
        }
    }
}
