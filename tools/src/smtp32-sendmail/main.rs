//! `smtp32-sendmail`: a sendmail front end for programs that only know how
//! to pipe a message into `sendmail`. It hands the message to smtp32d's
//! queue, from which the daemon delivers it to the relay (smarthost) in its
//! configuration, retrying and bouncing as needed; the relay's TLS and AUTH
//! credentials stay with the daemon.
//!
//! Layout:
//! - `args.rs`: the sendmail command line (hand-parsed, getopt-style) and `--help`.
//! - `headers.rs`: the header section: `-t` recipients, Bcc removal, From/Date/Message-ID added.
//! - `address.rs`: RFC 5322 address lists (via `mailparse`) to SMTP addr-specs.
//! - `local.rs`: the invoking user's login and full name, the host name.
//! - `relay.rs`: the daemon conversation (submit to the queue; `-bp`, `-q`).
//! - `smtp_session.rs`: `-bs`, an SMTP server on standard input and output.
//! - `exit.rs`: sysexits codes and the one mapping from failures to them.
//!
//! The order of work: parse the command line, read standard input to its
//! end (always, so the writer never gets SIGPIPE), prepare the message,
//! settle the envelope, then talk to the daemon. Nothing is sent unless the
//! envelope is complete.

mod address;
mod args;
mod exit;
mod headers;
mod local;
mod relay;
mod smtp_session;

use args::{Mode, Options};
use exit::{Exit, EX_DATAERR, EX_IOERR, EX_OK, EX_OSERR, EX_USAGE};
use local::LocalUser;
use smtp32::{Submission, Submitted};
use std::io::{Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::from(EX_OK),
        Err(exit) => {
            eprintln!("smtp32-sendmail: {}", exit.message);
            ExitCode::from(exit.code)
        }
    }
}

fn run() -> Result<(), Exit> {
    let opts = match args::parse(std::env::args_os().skip(1)) {
        Ok(Mode::Send(opts)) => opts,
        Ok(Mode::SmtpSession(opts)) => return smtp_session::serve(&opts, &Composer::new(&opts)?),
        Ok(Mode::ListQueue) => {
            print!("{}", relay::list(&relay::connect()?)?);
            return Ok(());
        }
        Ok(Mode::FlushQueue(id)) => return relay::flush(&relay::connect()?, id.as_deref()),
        Ok(Mode::Help) => {
            print!("{}", args::USAGE);
            return Ok(());
        }
        Ok(Mode::Version) => {
            println!("smtp32-sendmail {}", env!("CARGO_PKG_VERSION"));
            return Ok(());
        }
        Err(args::UsageError(why)) => {
            return Err(Exit::new(
                EX_USAGE,
                format!("{why}\n(see smtp32-sendmail --help)"),
            ))
        }
    };
    let input = read_message(opts.ignore_dots)?;
    let composer = Composer::new(&opts)?;
    let sender = match &opts.sender {
        Some(given) => address::sender(given, &composer.host)
            .map_err(|e| Exit::new(EX_USAGE, format!("-f: {e}")))?,
        None => composer.login_address()?,
    };
    let prepared = composer.prepare(&input, &sender)?;
    let rcpts = recipients(&opts, &prepared.recipients, &composer.host)?;
    if rcpts.is_empty() {
        let why = if opts.extract_recipients {
            "no recipients: the message has no To:, Cc: or Bcc: address and none was given as an argument"
        } else {
            "no recipients: name them as arguments, or use -t to take them from the message's headers"
        };
        return Err(Exit::new(EX_DATAERR, why));
    }
    let submission = submission(&opts, sender.clone(), rcpts.clone(), prepared.data);
    let report = match relay::submit(&relay::connect()?, submission)? {
        Submitted::Queued(id) => {
            if opts.verbose {
                eprintln!("smtp32-sendmail: queued as {id}");
            }
            return Ok(());
        }
        Submitted::Sent(report) => report,
    };
    let refused = exit::refusals(&report, &rcpts);
    if !refused.is_empty() {
        eprintln!("smtp32-sendmail: the relay refused, and did not deliver to:{refused}");
    }
    if opts.verbose {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "MAIL FROM:<{sender}>: {}", report.mail.to_wire_text());
        for (to, reply) in rcpts.iter().zip(&report.recipients) {
            let _ = writeln!(err, "RCPT TO:<{to}>: {}", reply.to_wire_text());
        }
        let _ = writeln!(err, "message: {}", report.verdict.to_wire_text());
    }
    Ok(())
}

/// A message for the daemon, with the DSN requests of `opts`.
fn submission(opts: &Options, from: String, rcpts: Vec<String>, data: Vec<u8>) -> Submission {
    Submission {
        from,
        rcpts,
        notify: opts.notify.clone().unwrap_or_default(),
        ret: opts.ret.clone().unwrap_or_default(),
        envid: opts.envid.clone().unwrap_or_default(),
        data,
    }
}

/// What every message of this run is prepared with: the host, the user and
/// the full name for a From field that is missing.
pub struct Composer {
    /// This machine's name, which qualifies bare names.
    pub host: String,
    user: LocalUser,
    full_name: Option<String>,
}

impl Composer {
    /// Looks up the user and the full name (`-F`, else `$NAME`, else GECOS).
    fn new(opts: &Options) -> Result<Composer, Exit> {
        let user = LocalUser::current();
        let full_name = match &opts.full_name {
            Some(given) => Some(given.clone()),
            None => name_from_environment()?.or(user.gecos_name.clone()),
        };
        Ok(Composer {
            host: local::hostname(),
            user,
            full_name,
        })
    }

    /// `login@host`, the default sender.
    pub fn login_address(&self) -> Result<String, Exit> {
        match &self.user.login {
            Some(login) => Ok(format!("{login}@{}", self.host)),
            None => Err(Exit::new(
                EX_OSERR,
                "your login name is unknown to this system: give the sender with -f",
            )),
        }
    }

    /// `input` with its header section prepared for envelope sender `sender`.
    pub fn prepare(&self, input: &[u8], sender: &str) -> Result<headers::Prepared, Exit> {
        // The From field names a real mailbox even when the envelope has the null sender.
        let from_addr = match (sender, &self.user.login) {
            (s, _) if !s.is_empty() => s.to_string(),
            (_, Some(login)) => format!("{login}@{}", self.host),
            (_, None) => format!("MAILER-DAEMON@{}", self.host),
        };
        let date = smtp32::date::rfc5322_now();
        let from_value = headers::from_value(self.full_name.as_deref(), &from_addr);
        let message_id = new_message_id(&self.host);
        let additions = headers::Additions {
            from: &from_value,
            date: &date,
            message_id: &message_id,
        };
        headers::prepare(input, &additions).map_err(|e| Exit::new(EX_DATAERR, e))
    }
}

/// The full name in `$NAME`, if set; one holding control characters (a CR
/// or LF would end the From field early) is refused, as it is from `-F`.
fn name_from_environment() -> Result<Option<String>, Exit> {
    match std::env::var("NAME") {
        Ok(name) if name.chars().any(char::is_control) => Err(Exit::new(
            EX_USAGE,
            "$NAME: the full name must not hold control characters (fix or unset NAME, or give -F)",
        )),
        Ok(name) => Ok(Some(name)),
        Err(_) => Ok(None),
    }
}

/// A Message-ID unique to this host: the time in nanoseconds and the process id.
fn new_message_id(host: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("<{nanos:x}.{}@{host}>", std::process::id())
}

/// Reads standard input to its end. Unless `ignore_dots`, a line holding a
/// single dot ends the message (what follows is read and dropped).
fn read_message(ignore_dots: bool) -> Result<Vec<u8>, Exit> {
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut input)
        .map_err(|e| {
            Exit::new(
                EX_IOERR,
                format!("cannot read the message from standard input: {e}"),
            )
        })?;
    if !ignore_dots {
        input.truncate(lone_dot_line(&input).unwrap_or(input.len()));
    }
    Ok(input)
}

/// The offset of the first line that is a single `.` (LF or CRLF ended, or at the end).
fn lone_dot_line(input: &[u8]) -> Option<usize> {
    let mut start = 0;
    while start < input.len() {
        let end = input[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(input.len(), |i| start + i);
        let line = &input[start..end];
        if line == b"." || line == b".\r" {
            return Some(start);
        }
        start = end + 1;
    }
    None
}

/// The argument recipients, then (with `-t`) those of the headers, each
/// qualified, without repeats (compared without regard to case).
fn recipients(opts: &Options, from_headers: &[String], host: &str) -> Result<Vec<String>, Exit> {
    let mut all: Vec<String> = Vec::new();
    for arg in &opts.recipients {
        let list = address::from_text(arg)
            .map_err(|e| Exit::new(EX_USAGE, format!("recipient {arg:?}: {e}")))?;
        all.extend(list);
    }
    if opts.extract_recipients {
        all.extend(from_headers.iter().cloned());
    }
    let mut unique: Vec<String> = Vec::with_capacity(all.len());
    for addr in all {
        let addr = address::qualify(&addr, host);
        if !unique.iter().any(|u| u.eq_ignore_ascii_case(&addr)) {
            unique.push(addr);
        }
    }
    Ok(unique)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_dot_ends_the_message() {
        assert_eq!(lone_dot_line(b"a\n.\nb\n"), Some(2));
        assert_eq!(lone_dot_line(b"a\r\n.\r\nb\r\n"), Some(3));
        assert_eq!(lone_dot_line(b".\n"), Some(0));
        assert_eq!(lone_dot_line(b"a\n."), Some(2));
        assert_eq!(lone_dot_line(b"a\n..\n.a\n"), None);
    }

    #[test]
    fn recipients_are_qualified_and_unique() {
        let opts = Options {
            extract_recipients: true,
            recipients: vec!["a@x.test, root".into(), "B@x.test".into()],
            ..Options::default()
        };
        let got = recipients(
            &opts,
            &["b@x.test".into(), "A@X.test".into(), "c@y.test".into()],
            "h.test",
        )
        .unwrap();
        assert_eq!(got, ["a@x.test", "root@h.test", "B@x.test", "c@y.test"]);
        let without_t = Options {
            extract_recipients: false,
            ..opts
        };
        assert_eq!(
            recipients(&without_t, &["c@y.test".into()], "h")
                .unwrap()
                .len(),
            3
        );
        let bad = Options {
            recipients: vec!["foo bar baz".into()],
            ..Options::default()
        };
        assert_eq!(recipients(&bad, &[], "h").unwrap_err().code, EX_USAGE);
    }
}
