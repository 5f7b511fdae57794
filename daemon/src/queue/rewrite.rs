//! What smarthosts expect of a null client, applied to every message from
//! `smtp32-sendmail` before it is queued or sent: `relay.from` forces the
//! envelope sender; `relay.maildomain` replaces this host's name in the
//! addresses of the envelope and of the From, Sender, Reply-To, To and Cc
//! fields (Microsoft 365, Gmail and SES refuse `root@web01`); `relay.aliases`
//! turns this host's recipients into the addresses the file gives.

use crate::config::RelaySettings;
use smtp32_protocol::Submission;

/// The header fields whose addresses `maildomain` rewrites.
const ADDRESS_FIELDS: [&str; 5] = ["From", "Sender", "Reply-To", "To", "Cc"];

/// `submission` as the relay should get it; `host` is this machine's name.
pub fn apply(relay: &RelaySettings, host: &str, mut submission: Submission) -> Submission {
    let maildomain = relay.maildomain.as_str();
    let is_local = |addr: &str| -> Option<String> {
        let (name, domain) = addr.rsplit_once('@')?;
        let local = domain.eq_ignore_ascii_case(host)
            || (!maildomain.is_empty() && domain.eq_ignore_ascii_case(maildomain));
        local.then(|| name.to_string())
    };
    let requalify = |addr: String| -> String {
        match addr.rsplit_once('@') {
            Some((name, domain)) if !maildomain.is_empty() && domain.eq_ignore_ascii_case(host) => {
                format!("{name}@{maildomain}")
            }
            _ => addr,
        }
    };
    let mut rcpts: Vec<String> = Vec::with_capacity(submission.rcpts.len());
    for rcpt in std::mem::take(&mut submission.rcpts) {
        let targets = match is_local(&rcpt).and_then(|name| relay.alias_table.lookup(&name)) {
            Some(targets) => targets.to_vec(),
            None => vec![requalify(rcpt)],
        };
        for t in targets {
            if !rcpts.iter().any(|r| r.eq_ignore_ascii_case(&t)) {
                rcpts.push(t);
            }
        }
    }
    submission.rcpts = rcpts;
    submission.from = if relay.from.is_empty() {
        requalify(submission.from)
    } else {
        relay.from.clone()
    };
    if !maildomain.is_empty() {
        submission.data = rewrite_headers(&submission.data, host, maildomain);
    }
    submission
}

/// The message with `@host` replaced by `@maildomain` in the address fields
/// of its header section; the body and every other field unchanged.
fn rewrite_headers(data: &[u8], host: &str, maildomain: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let mut in_address_field = false;
    let mut rest = data;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let (line, tail) = rest.split_at(end);
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() {
            out.extend_from_slice(rest);
            break;
        }
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            in_address_field = ADDRESS_FIELDS
                .iter()
                .any(|f| f.as_bytes().eq_ignore_ascii_case(name.trim_ascii()));
        }
        if in_address_field {
            out.extend_from_slice(&replace_domain(line, host, maildomain));
        } else {
            out.extend_from_slice(line);
        }
        rest = tail;
    }
    out
}

/// `line` with every `@host` that ends the domain (not `@host.other`) made `@maildomain`.
fn replace_domain(line: &[u8], host: &str, maildomain: &str) -> Vec<u8> {
    let needle = format!("@{host}");
    let needle = needle.as_bytes();
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        let here = &line[i..];
        let in_domain = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'.';
        let ends_domain = |after: Option<&u8>| !after.is_some_and(in_domain);
        if here.len() >= needle.len()
            && here[..needle.len()].eq_ignore_ascii_case(needle)
            && ends_domain(here.get(needle.len()))
        {
            out.push(b'@');
            out.extend_from_slice(maildomain.as_bytes());
            i += needle.len();
        } else {
            out.push(line[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn relay(extra: &str, aliases: &str) -> RelaySettings {
        let mut settings = Settings::load(None).unwrap().relay;
        for line in extra.lines() {
            match line.split_once(" = ") {
                Some(("from", v)) => settings.from = v.into(),
                Some(("maildomain", v)) => settings.maildomain = v.into(),
                _ => {}
            }
        }
        settings.alias_table = crate::config::Aliases::parse(aliases).unwrap();
        settings
    }

    fn submission(from: &str, rcpts: &[&str], data: &str) -> Submission {
        Submission {
            from: from.into(),
            rcpts: rcpts.iter().map(|r| r.to_string()).collect(),
            notify: String::new(),
            ret: String::new(),
            envid: String::new(),
            data: data.as_bytes().to_vec(),
        }
    }

    #[test]
    fn maildomain_requalifies_the_envelope_and_address_fields_only() {
        let data = "From: Root <root@web01>\r\nTo: a@web01.other, b@WEB01\r\n (c@web01)\r\n\
                    Subject: root@web01\r\n\r\nroot@web01\r\n";
        let got = apply(
            &relay("maildomain = example.com", ""),
            "web01",
            submission("root@web01", &["x@web01", "y@z.test"], data),
        );
        assert_eq!(got.from, "root@example.com");
        assert_eq!(got.rcpts, ["x@example.com", "y@z.test"]);
        let text = String::from_utf8(got.data).unwrap();
        assert_eq!(
            text,
            "From: Root <root@example.com>\r\nTo: a@web01.other, b@example.com\r\n \
             (c@example.com)\r\nSubject: root@web01\r\n\r\nroot@web01\r\n"
        );
    }

    #[test]
    fn aliases_replace_local_recipients_and_from_forces_the_sender() {
        let r = relay(
            "from = bounce@example.com",
            "root: ops@example.com, dev@example.com\ndefault: all@example.com\n",
        );
        let got = apply(
            &r,
            "web01",
            submission(
                "cron@web01",
                &["root@web01", "ops@example.com", "cron@web01", "a@b.test"],
                "x",
            ),
        );
        assert_eq!(got.from, "bounce@example.com");
        assert_eq!(
            got.rcpts,
            [
                "ops@example.com",
                "dev@example.com",
                "all@example.com",
                "a@b.test"
            ]
        );
        assert_eq!(
            got.data, b"x",
            "without maildomain the message is untouched"
        );
    }
}
