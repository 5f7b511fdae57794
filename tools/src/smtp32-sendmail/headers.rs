//! The message's header section: where each field starts and ends, the
//! recipients of `-t`, Bcc removal and the From/Date a message may lack.
//!
//! The message is handled as bytes and changed as little as possible:
//! Bcc and Resent-Bcc fields (with their folded lines) are cut out, From,
//! Date and Message-ID are put in front when missing, a Unix mbox `From ` line at the
//! very start is dropped, and an empty line is inserted only where the
//! header section ends at a line that is no header (so that line is not
//! taken for a broken header downstream). Everything else goes out as it
//! came; the daemon normalises line endings and makes the data transparent.

use crate::address;
use std::ops::Range;

/// The recipient fields of `-t`, and their Resent- forms that replace them.
const RECIPIENT_FIELDS: [&str; 3] = ["To", "Cc", "Bcc"];
const RESENT_FIELDS: [&str; 3] = ["Resent-To", "Resent-Cc", "Resent-Bcc"];
/// Fields never sent.
const BLIND_FIELDS: [&str; 2] = ["Bcc", "Resent-Bcc"];

/// What to add to a message that lacks it.
pub struct Additions<'a> {
    /// The whole `From:` field value (`Name <addr>` or `addr`).
    pub from: &'a str,
    /// The `Date:` field value (RFC 5322 date-time).
    pub date: &'a str,
    /// The `Message-ID:` field value (`<unique@host>`).
    pub message_id: &'a str,
}

/// The message ready to send, and the recipients its headers name.
#[derive(Debug, PartialEq, Eq)]
pub struct Prepared {
    /// The bytes to send.
    pub data: Vec<u8>,
    /// To, Cc and Bcc addresses (or the Resent- ones when there are any), in
    /// order, not qualified, possibly with repeats.
    pub recipients: Vec<String>,
}

/// The header section as found: field ranges (each with its folded lines and
/// line end), where the section stops, and whether an empty line ends it.
struct Section {
    fields: Vec<Range<usize>>,
    /// Offset just past the last field.
    end: usize,
    /// The empty line follows at `end`.
    blank_line: bool,
}

/// Prepares `input` for sending: recipients read from the header fields,
/// blind fields removed, missing From, Date and Message-ID added. A recipient field
/// that cannot be parsed is an error naming it.
pub fn prepare(input: &[u8], add: &Additions) -> Result<Prepared, String> {
    let input = strip_mbox_from_line(input);
    let section = split(input);
    let mut normal = Vec::new();
    let mut resent = Vec::new();
    let mut resent_seen = false;
    let (mut has_from, mut has_date, mut has_id) = (false, false, false);
    let mut kept: Vec<Range<usize>> = Vec::with_capacity(section.fields.len());
    for range in &section.fields {
        let field = &input[range.clone()];
        let name = field_name(field);
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        has_from |= is("From");
        has_date |= is("Date");
        has_id |= is("Message-ID");
        if RECIPIENT_FIELDS.iter().any(|n| is(n)) {
            normal.extend(parse_field(field, name)?);
        } else if RESENT_FIELDS.iter().any(|n| is(n)) {
            resent_seen = true;
            resent.extend(parse_field(field, name)?);
        }
        if !BLIND_FIELDS.iter().any(|n| is(n)) {
            kept.push(range.clone());
        }
    }
    let mut data = Vec::with_capacity(input.len() + 128);
    if !has_from {
        data.extend_from_slice(format!("From: {}\r\n", add.from).as_bytes());
    }
    if !has_date {
        data.extend_from_slice(format!("Date: {}\r\n", add.date).as_bytes());
    }
    if !has_id {
        data.extend_from_slice(format!("Message-ID: {}\r\n", add.message_id).as_bytes());
    }
    for range in kept {
        data.extend_from_slice(&input[range]);
    }
    let rest = &input[section.end..];
    let added = !has_from || !has_date || !has_id;
    let fields_before_rest = added || !section.fields.is_empty();
    if fields_before_rest && !section.blank_line && !rest.is_empty() {
        // The fields end at a line that is no field: separate it as the body.
        data.extend_from_slice(b"\r\n");
    } else if section.fields.is_empty() && added && rest.is_empty() {
        // Only the added fields: end the header section.
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(rest);
    Ok(Prepared {
        data,
        recipients: if resent_seen { resent } else { normal },
    })
}

/// The value of a From field for `addr`, with `name` as its display name
/// (quoted when it has specials, RFC 2047-encoded when it is not ASCII).
pub fn from_value(name: Option<&str>, addr: &str) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        None => addr.to_string(),
        Some(name) => format!("{} <{addr}>", display_name(name)),
    }
}

fn display_name(name: &str) -> String {
    use base64::Engine;
    if !name.is_ascii() {
        let encoded = base64::engine::general_purpose::STANDARD.encode(name.as_bytes());
        return format!("=?UTF-8?B?{encoded}?=");
    }
    let atext =
        |c: char| c.is_ascii_alphanumeric() || c == ' ' || "!#$%&'*+-/=?^_`{|}~".contains(c);
    if name.chars().all(atext) {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

fn parse_field(field: &[u8], name: &[u8]) -> Result<Vec<String>, String> {
    address::from_field(field).map_err(|e| {
        let name = String::from_utf8_lossy(name);
        format!("cannot read the addresses of the {name}: header ({e})")
    })
}

/// Drops a Unix mbox `From sender date` line at the very start.
fn strip_mbox_from_line(input: &[u8]) -> &[u8] {
    if !input.starts_with(b"From ") {
        return input;
    }
    match input.iter().position(|&b| b == b'\n') {
        Some(eol) => &input[eol + 1..],
        None => &[],
    }
}

/// Finds the header fields at the start of `input`.
fn split(input: &[u8]) -> Section {
    let mut fields: Vec<Range<usize>> = Vec::new();
    let mut pos = 0;
    while pos < input.len() {
        let eol = input[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(input.len(), |i| pos + i + 1);
        let line = &input[pos..eol];
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() {
            return Section {
                fields,
                end: pos,
                blank_line: true,
            };
        }
        let continuation = matches!(content[0], b' ' | b'\t');
        match fields.last_mut() {
            Some(last) if continuation => last.end = eol,
            _ if !continuation && is_field_start(content) => fields.push(pos..eol),
            _ => {
                return Section {
                    fields,
                    end: pos,
                    blank_line: false,
                }
            }
        }
        pos = eol;
    }
    Section {
        fields,
        end: pos,
        blank_line: false,
    }
}

/// `name:` with a name of printable ASCII other than `:` (and blanks before
/// the colon, as the obsolete syntax allows).
fn is_field_start(line: &[u8]) -> bool {
    let name = field_name(line);
    !name.is_empty()
        && name.iter().all(|&b| (33..=126).contains(&b) && b != b':')
        && line[name.len()..]
            .iter()
            .find(|&&b| b != b' ' && b != b'\t')
            == Some(&b':')
}

/// The bytes before the colon (or the first blank), i.e. the field name.
fn field_name(field: &[u8]) -> &[u8] {
    let end = field
        .iter()
        .position(|&b| matches!(b, b':' | b' ' | b'\t' | b'\r' | b'\n'))
        .unwrap_or(field.len());
    &field[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADD: Additions = Additions {
        from: "me@h.test",
        date: "Sat, 28 Nov 2026 13:28:29 +0000",
        message_id: "<1.2@h.test>",
    };
    /// The three fields added to a message that has none of them.
    const ADDED: &str =
        "From: me@h.test\r\nDate: Sat, 28 Nov 2026 13:28:29 +0000\r\nMessage-ID: <1.2@h.test>\r\n";

    fn prepared(input: &str) -> (String, Vec<String>) {
        let p = prepare(input.as_bytes(), &ADD).unwrap();
        (String::from_utf8(p.data).unwrap(), p.recipients)
    }

    #[test]
    fn bcc_goes_and_everything_else_stays_byte_for_byte() {
        let input = "From: a@a.test\r\nDate: x\r\nMessage-ID: <m@x>\r\nTo: Bo <b@b.test>,\r\n c@c.test\r\nBcc: secret@s.test,\r\n\tother@s.test\r\nCc: d@d.test\r\nSubject: hi\r\n\r\nbody\r\nBcc: not a header\r\n";
        let (data, rcpts) = prepared(input);
        assert_eq!(
            data,
            input.replace("Bcc: secret@s.test,\r\n\tother@s.test\r\n", "")
        );
        assert_eq!(
            rcpts,
            [
                "b@b.test",
                "c@c.test",
                "secret@s.test",
                "other@s.test",
                "d@d.test"
            ]
        );
    }

    #[test]
    fn lf_only_messages_and_lower_case_names() {
        let (data, rcpts) = prepared(
            "from: a@a.test\ndate: x\nmessage-id: <m@x>\nto: b@b.test\nbcc: c@c.test\n\nbody\n",
        );
        assert_eq!(
            data,
            "from: a@a.test\ndate: x\nmessage-id: <m@x>\nto: b@b.test\n\nbody\n"
        );
        assert_eq!(rcpts, ["b@b.test", "c@c.test"]);
    }

    #[test]
    fn resent_fields_replace_the_originals() {
        let input = "From: a@a.test\r\nDate: x\r\nMessage-ID: <m@x>\r\nTo: old@o.test\r\nResent-To: new@n.test\r\nResent-Bcc: hidden@n.test\r\n\r\nb\r\n";
        let (data, rcpts) = prepared(input);
        assert_eq!(rcpts, ["new@n.test", "hidden@n.test"]);
        assert!(
            !data.contains("hidden") && data.contains("To: old@o.test"),
            "{data}"
        );
    }

    #[test]
    fn missing_from_date_and_message_id_are_added_in_front() {
        let (data, _) = prepared("To: b@b.test\r\n\r\nbody\r\n");
        assert_eq!(data, format!("{ADDED}To: b@b.test\r\n\r\nbody\r\n"));
        let (data, _) = prepared("Date: x\r\nMessage-ID: <m@x>\r\nFrom: a@a.test\r\n\r\n");
        assert_eq!(
            data, "Date: x\r\nMessage-ID: <m@x>\r\nFrom: a@a.test\r\n\r\n",
            "nothing added, nothing changed"
        );
    }

    #[test]
    fn a_message_without_headers_gets_a_separating_empty_line() {
        let (data, rcpts) = prepared("just text\r\n");
        assert_eq!(data, format!("{ADDED}\r\njust text\r\n"));
        assert!(rcpts.is_empty());
        let (data, _) = prepared("");
        assert_eq!(data, format!("{ADDED}\r\n"));
        // Only the Message-ID is missing: only it is added.
        let (data, _) = prepared("From: a@a.test\r\nDate: y\r\n\r\nb\r\n");
        assert_eq!(
            data,
            "Message-ID: <1.2@h.test>\r\nFrom: a@a.test\r\nDate: y\r\n\r\nb\r\n"
        );
        // Fields that run straight into text: the text becomes the body.
        let (data, _) =
            prepared("From: a@a.test\r\nDate: x\r\nMessage-ID: <m@x>\r\nno colon here\r\n");
        assert_eq!(
            data,
            "From: a@a.test\r\nDate: x\r\nMessage-ID: <m@x>\r\n\r\nno colon here\r\n"
        );
        // Headers only, no body: left as is.
        let (data, _) = prepared("From: a@a.test\r\nDate: x\r\nMessage-ID: <m@x>\r\n");
        assert_eq!(data, "From: a@a.test\r\nDate: x\r\nMessage-ID: <m@x>\r\n");
    }

    #[test]
    fn an_mbox_from_line_is_dropped() {
        let (data, _) = prepared("From a@a.test Sat Nov 28 13:28:29 2026\nFrom: a@a.test\nDate: x\nMessage-ID: <m@x>\n\nb\n");
        assert_eq!(data, "From: a@a.test\nDate: x\nMessage-ID: <m@x>\n\nb\n");
    }

    #[test]
    fn an_unreadable_recipient_field_is_named() {
        let e = prepare(b"To: foo bar baz\r\n\r\n", &ADD).unwrap_err();
        assert!(e.contains("To:"), "{e}");
        // ...but only matters for recipient fields.
        assert!(prepare(b"Reply-To: foo bar baz\r\n\r\n", &ADD).is_ok());
    }

    #[test]
    fn from_values() {
        assert_eq!(from_value(None, "a@b"), "a@b");
        assert_eq!(from_value(Some("Jane Doe"), "a@b"), "Jane Doe <a@b>");
        assert_eq!(from_value(Some("Doe, Jane"), "a@b"), "\"Doe, Jane\" <a@b>");
        assert_eq!(
            from_value(Some("Say \"hi\""), "a@b"),
            "\"Say \\\"hi\\\"\" <a@b>"
        );
        assert_eq!(
            from_value(Some("Élise"), "a@b"),
            "=?UTF-8?B?w4lsaXNl?= <a@b>"
        );
        assert_eq!(from_value(Some("  "), "a@b"), "a@b");
    }

    #[test]
    fn binary_input_never_panics() {
        let mut seed = 0x9e37_79b9_u32;
        for _ in 0..2000 {
            let mut input = Vec::new();
            for _ in 0..(seed % 64) {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                input.push(b"To:Bcc:From \r\n\t:<>@,;\"\xff\x00a"[(seed % 24) as usize]);
            }
            let _ = prepare(&input, &ADD);
        }
    }
}
