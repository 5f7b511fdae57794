//! The bounce: an RFC 3464 delivery status notification, a
//! `multipart/report; report-type=delivery-status` with a text part for
//! people, the `message/delivery-status` part for programs, and the
//! original message's header section (`text/rfc822-headers`).

use super::store::Envelope;

/// One recipient that will not get the message, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// The recipient.
    pub rcpt: String,
    /// The RFC 3463 status, e.g. `5.1.1`.
    pub status: String,
    /// The relay's reply (`550 5.1.1 no such user`) or the daemon's reason.
    pub diagnostic: String,
}

/// What the report is about.
pub struct Bounce<'a> {
    /// The queue id of the original message.
    pub id: &'a str,
    /// Its envelope.
    pub envelope: &'a Envelope,
    /// The original message (only its header section is quoted).
    pub original: &'a [u8],
    /// This host's name (`Reporting-MTA`).
    pub host: &'a str,
    /// The relay's host string (`Remote-MTA`).
    pub relay: &'a str,
    /// Now, as an RFC 5322 date.
    pub date: &'a str,
}

/// The whole DSN message, CRLF line ends, to the original sender.
pub fn render(bounce: &Bounce, failed: &[Failed], boundary: &str) -> Vec<u8> {
    let Bounce {
        id,
        envelope,
        host,
        relay,
        date,
        ..
    } = bounce;
    let mut text = String::new();
    let mut line = |s: &str| {
        text.push_str(s);
        text.push_str("\r\n");
    };
    line(&format!(
        "From: Mail Delivery System <MAILER-DAEMON@{host}>"
    ));
    line(&format!("To: <{}>", envelope.from));
    line("Subject: Undelivered Mail Returned to Sender");
    line(&format!("Date: {date}"));
    line(&format!("Message-ID: <{id}.dsn@{host}>"));
    line("Auto-Submitted: auto-replied");
    line("MIME-Version: 1.0");
    line(&format!(
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\""
    ));
    line("");
    line("This is a MIME-encapsulated message.");
    line("");
    line(&format!("--{boundary}"));
    line("Content-Type: text/plain; charset=us-ascii");
    line("");
    line(&format!(
        "This is smtp32d on {host}. Your message (queue id {id}) could not be"
    ));
    line("delivered to the recipients below; this error is permanent.");
    line("");
    for f in failed {
        line(&format!("<{}>: {}", f.rcpt, f.diagnostic));
    }
    line("");
    line(&format!("--{boundary}"));
    line("Content-Type: message/delivery-status");
    line("");
    line(&format!("Reporting-MTA: dns; {host}"));
    line(&format!("X-Smtp32-Queue-ID: {id}"));
    if !envelope.envid.is_empty() {
        line(&format!("Original-Envelope-Id: {}", envelope.envid));
    }
    line(&format!(
        "Arrival-Date: {}",
        crate::queue::clock::rfc5322(envelope.queued_at)
    ));
    for f in failed {
        line("");
        line(&format!("Final-Recipient: rfc822; {}", f.rcpt));
        line("Action: failed");
        line(&format!("Status: {}", f.status));
        line(&format!("Remote-MTA: dns; {relay}"));
        line(&format!("Diagnostic-Code: smtp; {}", f.diagnostic));
    }
    line("");
    line(&format!("--{boundary}"));
    line("Content-Type: text/rfc822-headers");
    line("");
    let mut bytes = text.into_bytes();
    for header_line in header_section(bounce.original) {
        bytes.extend_from_slice(header_line);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    bytes
}

/// The lines of the header section (up to the first empty line), without line ends.
fn header_section(message: &[u8]) -> Vec<&[u8]> {
    message
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
        .collect()
}

/// The RFC 3463 status of an SMTP reply: its enhanced code, else the class's `x.0.0`.
pub fn status_of(reply: &smtp32_protocol::Reply) -> String {
    reply
        .enhanced()
        .map(|e| e.to_string())
        .unwrap_or_else(|| format!("{}.0.0", reply.code / 100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_has_its_three_parts_and_only_the_original_headers() {
        let envelope = Envelope {
            uid: 1,
            from: "alice@x.test".into(),
            rcpts: vec!["nobody@y.test".into()],
            notify: String::new(),
            ret: String::new(),
            envid: "E1".into(),
            queued_at: 0,
        };
        let bounce = Bounce {
            id: "00AB",
            envelope: &envelope,
            original: b"Subject: hi\nTo: nobody@y.test\n\nsecret body\n",
            host: "h.test",
            relay: "relay.test",
            date: "Thu, 1 Jan 1970 00:00:00 +0000",
        };
        let failed = [Failed {
            rcpt: "nobody@y.test".into(),
            status: "5.1.1".into(),
            diagnostic: "550 5.1.1 unknown".into(),
        }];
        let text = String::from_utf8(render(&bounce, &failed, "B0")).unwrap();
        assert!(text.contains(
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B0\""
        ));
        assert!(text.contains(
            "\r\nFinal-Recipient: rfc822; nobody@y.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        ));
        assert!(text.contains("Original-Envelope-Id: E1\r\n"));
        assert!(
            text.contains("\r\nSubject: hi\r\nTo: nobody@y.test\r\n\r\n--B0--\r\n"),
            "{text}"
        );
        assert!(!text.contains("secret body"));
        let reply = smtp32_protocol::Reply {
            code: 554,
            lines: ["no"].into(),
        };
        assert_eq!(status_of(&reply), "5.0.0");
    }
}
