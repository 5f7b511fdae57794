//! Exit codes (sendmail's, from `<sysexits.h>`) and the one mapping from
//! what went wrong to the code a calling program sees.
//!
//! The rule of thumb: 75 (EX_TEMPFAIL) when sending again later may work as
//! is (a 4xx, a timeout, an unreachable or TLS-failing relay), a permanent
//! code when it will not: 65 the message or sender was refused, 67 every
//! recipient was refused, 69 no daemon or the relay refuses service, 77 the
//! relay refused the daemon's AUTH credentials (as msmtp does), 78 the
//! daemon's relay configuration is missing or unusable. With the daemon's
//! queue (the default) most of these cannot happen: a message on disk is
//! exit 0, and the daemon retries and bounces; the relay's answers reach
//! the caller only when the queue is off, and then whatever was not
//! delivered is said now, on stderr.

use smtp32::{Error, Failure, Reply, ReturnCode, SendReport};
use std::fmt;

/// Successful termination.
pub const EX_OK: u8 = 0;
/// The command line was wrong.
pub const EX_USAGE: u8 = 64;
/// The input was wrong: no recipients, a bad header, the message or sender refused.
pub const EX_DATAERR: u8 = 65;
/// Every recipient was refused permanently.
pub const EX_NOUSER: u8 = 67;
/// The daemon cannot be reached, or the relay refuses service permanently.
pub const EX_UNAVAILABLE: u8 = 69;
/// Something that should not happen (an unexpected answer from the daemon).
pub const EX_SOFTWARE: u8 = 70;
/// The local system failed us: the login name is unknown.
pub const EX_OSERR: u8 = 71;
/// Standard input could not be read.
pub const EX_IOERR: u8 = 74;
/// A temporary failure: sending again later may work.
pub const EX_TEMPFAIL: u8 = 75;
/// The relay refused the daemon's AUTH credentials.
pub const EX_NOPERM: u8 = 77;
/// The daemon has no relay, or its relay settings cannot work.
pub const EX_CONFIG: u8 = 78;

/// Why the program stops: an exit code and a message for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// The process exit code.
    pub code: u8,
    /// What to print (without the program name).
    pub message: String,
}

impl Exit {
    /// An exit with `code` and `message`.
    pub fn new(code: u8, message: impl Into<String>) -> Exit {
        Exit {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (exit {})", self.message, self.code)
    }
}

/// 4xx: temporary; anything else: `permanent`.
fn by_class(reply: &Reply, permanent: u8) -> u8 {
    if (400..500).contains(&reply.code) {
        EX_TEMPFAIL
    } else {
        permanent
    }
}

/// The exit for a failed `OpenRelay` (connect, greeting, EHLO, TLS, AUTH).
pub fn for_open(e: &Error) -> Exit {
    let code = match e.failure() {
        None if e.code() == ReturnCode::CannotInitialize => EX_UNAVAILABLE,
        None => EX_SOFTWARE,
        Some(Failure::NotConfigured(_)) => EX_CONFIG,
        Some(Failure::RelayAuth(cause)) => match &**cause {
            Failure::Refused(reply) => by_class(reply, EX_NOPERM),
            // The relay offers no (usable) AUTH, or TLS is missing where AUTH needs it.
            Failure::Unsupported(_) | Failure::Tls(_) | Failure::InvalidArgument(_) => EX_CONFIG,
            _ => EX_TEMPFAIL,
        },
        Some(Failure::Refused(reply)) => by_class(reply, EX_UNAVAILABLE),
        // A bad relay.host or relay.local slipped past the daemon's checks.
        Some(Failure::InvalidArgument(_)) => EX_CONFIG,
        Some(Failure::NotPermitted(_)) => EX_NOPERM,
        // Unreachable, unresolvable, timed out, TLS handshake or certificate,
        // daemon limits, shutting down: all may pass.
        Some(_) => EX_TEMPFAIL,
    };
    Exit::new(code, format!("cannot open the relay: {}", e.message()))
}

/// The exit for a `sendmsg` on the relay that did not deliver.
pub fn for_send(e: &Error, rcpts: &[String]) -> Exit {
    let Some(report) = e.send_report() else {
        let code = match e.failure() {
            // Over the relay's SIZE, or a non-ASCII address it cannot take.
            Some(Failure::Unsupported(_)) => EX_DATAERR,
            Some(Failure::InvalidArgument(_)) => EX_DATAERR,
            None if e.code() == ReturnCode::InvalidArgument => EX_DATAERR,
            None if e.code() == ReturnCode::CannotInitialize => EX_TEMPFAIL,
            None => EX_SOFTWARE,
            Some(_) => EX_TEMPFAIL,
        };
        return Exit::new(code, format!("message not sent: {}", e.message()));
    };
    let (code, what) = if !report.mail.is_positive() {
        (
            by_class(&report.mail, EX_DATAERR),
            "the relay refused the sender".to_string(),
        )
    } else if report.accepted() == 0 && !report.recipients.is_empty() {
        let temporary = report
            .recipients
            .iter()
            .any(|r| (400..500).contains(&r.code));
        let code = if temporary { EX_TEMPFAIL } else { EX_NOUSER };
        (
            code,
            format!(
                "the relay refused every recipient:{}",
                refusals(report, rcpts)
            ),
        )
    } else {
        (
            by_class(&report.verdict, EX_DATAERR),
            "the relay refused the message".to_string(),
        )
    };
    Exit::new(
        code,
        format!(
            "{what}: {}",
            report.verdict.to_wire_text().replace("\r\n", " / ")
        ),
    )
}

/// The exit for a failed queue request (`QueueSubmit`, and `-bp`/`-q`).
/// With the daemon's queue off, a submission is sent at once, so the relay's
/// failures (open or send) come back here too.
pub fn for_submit(e: &Error, rcpts: &[String]) -> Exit {
    if e.send_report().is_some() {
        return for_send(e, rcpts);
    }
    let code = match e.failure() {
        Some(Failure::LimitReached(_)) => EX_TEMPFAIL,
        Some(Failure::InvalidArgument(_)) => EX_DATAERR,
        Some(Failure::Unsupported(_)) => EX_DATAERR,
        _ => return for_open(e),
    };
    Exit::new(code, format!("message not queued: {}", e.message()))
}

/// One line per refused recipient: `\n  <addr>: 550 ...`.
pub fn refusals(report: &SendReport, rcpts: &[String]) -> String {
    report
        .refused()
        .into_iter()
        .map(|i| {
            let addr = rcpts.get(i).map(String::as_str).unwrap_or("?");
            let reply = report.recipients[i].to_wire_text().replace("\r\n", " / ");
            format!("\n  <{addr}>: {reply}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16) -> Reply {
        Reply {
            code,
            lines: [format!("{}.0.0 text", code / 100)].into(),
        }
    }

    fn open(f: Failure) -> u8 {
        for_open(&Error::from(f)).code
    }

    fn not_sent(mail: u16, rcpts: &[u16], verdict: u16) -> u8 {
        let report = SendReport {
            mail: reply(mail),
            recipients: rcpts.iter().map(|&c| reply(c)).collect(),
            verdict: reply(verdict),
        };
        let names: Vec<String> = (0..rcpts.len()).map(|i| format!("r{i}@x")).collect();
        for_send(&Error::from(Failure::NotSent(report)), &names).code
    }

    #[test]
    fn open_failures() {
        assert_eq!(open(Failure::NotConfigured("relay.host".into())), EX_CONFIG);
        assert_eq!(
            open(Failure::RelayAuth(Box::new(Failure::Refused(reply(535))))),
            EX_NOPERM
        );
        assert_eq!(
            open(Failure::RelayAuth(Box::new(Failure::Refused(reply(454))))),
            EX_TEMPFAIL
        );
        assert_eq!(
            open(Failure::RelayAuth(Box::new(Failure::Unsupported(
                "no AUTH".into()
            )))),
            EX_CONFIG
        );
        assert_eq!(
            open(Failure::RelayAuth(Box::new(Failure::Tls(
                "cleartext".into()
            )))),
            EX_CONFIG
        );
        assert_eq!(
            open(Failure::RelayAuth(Box::new(Failure::TimedOut(20)))),
            EX_TEMPFAIL
        );
        assert_eq!(open(Failure::HostNotResponding("h".into())), EX_TEMPFAIL);
        assert_eq!(open(Failure::UnknownHost("h".into())), EX_TEMPFAIL);
        assert_eq!(open(Failure::Tls("certificate".into())), EX_TEMPFAIL);
        assert_eq!(open(Failure::ShuttingDown), EX_TEMPFAIL);
        assert_eq!(open(Failure::Refused(reply(554))), EX_UNAVAILABLE);
        assert_eq!(open(Failure::Refused(reply(421))), EX_TEMPFAIL);
        let unreachable = Error::new(ReturnCode::CannotInitialize, "cannot reach smtp32d");
        assert_eq!(for_open(&unreachable).code, EX_UNAVAILABLE);
    }

    #[test]
    fn send_failures() {
        assert_eq!(not_sent(250, &[550, 551], 551), EX_NOUSER);
        assert_eq!(not_sent(250, &[550, 450], 450), EX_TEMPFAIL);
        assert_eq!(not_sent(553, &[], 553), EX_DATAERR);
        assert_eq!(not_sent(451, &[], 451), EX_TEMPFAIL);
        assert_eq!(not_sent(250, &[250], 554), EX_DATAERR);
        assert_eq!(not_sent(250, &[250], 452), EX_TEMPFAIL);
        let size = Error::from(Failure::Unsupported("over SIZE".into()));
        assert_eq!(for_send(&size, &[]).code, EX_DATAERR);
        assert_eq!(
            for_send(&Error::from(Failure::TimedOut(20)), &[]).code,
            EX_TEMPFAIL
        );
        assert_eq!(
            for_send(&Error::from(Failure::ConnectionLost("x".into())), &[]).code,
            EX_TEMPFAIL
        );
    }

    #[test]
    fn submit_failures() {
        let full = Error::from(Failure::LimitReached("No space left on device".into()));
        assert_eq!(for_submit(&full, &[]).code, EX_TEMPFAIL);
        assert_eq!(
            for_submit(
                &Error::from(Failure::NotConfigured("relay.host".into())),
                &[]
            )
            .code,
            EX_CONFIG
        );
        assert_eq!(
            for_submit(&Error::from(Failure::InvalidArgument("rcpt".into())), &[]).code,
            EX_DATAERR
        );
        assert_eq!(not_sent(250, &[550], 550), EX_NOUSER);
        let report = SendReport {
            mail: reply(250),
            recipients: vec![reply(550)],
            verdict: reply(550),
        };
        let refused = Error::from(Failure::NotSent(report));
        assert_eq!(for_submit(&refused, &["a@x".into()]).code, EX_NOUSER);
    }

    #[test]
    fn refusals_name_each_refused_recipient() {
        let report = SendReport {
            mail: reply(250),
            recipients: vec![reply(250), reply(550)],
            verdict: reply(250),
        };
        let text = refusals(&report, &["a@x".into(), "b@x".into()]);
        assert_eq!(text, "\n  <b@x>: 550 5.0.0 text");
    }
}
