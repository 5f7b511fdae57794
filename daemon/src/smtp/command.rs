//! The one check of a caller's command and its exact wire line.
//!
//! [`CheckedCommand::new`] refuses what must never reach the wire: CR, LF or
//! NUL inside an argument (they would let a caller smuggle a second command),
//! required arguments left empty, and QUIT through `smtp_direct`. The router
//! checks each request's command once, as it arrives; the session and the
//! connection then only carry it, and [`CheckedCommand::write_line`] writes
//! its line straight into the connection's write buffer, with nothing
//! checked or built again on the way. [`CheckedEnvelope`] is the same check
//! and the same lines for a send's envelope, with the send's parameters.

use super::SmtpError;
use smtp32_protocol::Command;

/// A [`Command`] that passed the check: every argument is one line's worth.
#[derive(Debug)]
pub struct CheckedCommand(Command);

impl CheckedCommand {
    /// `cmd`, or the reason it must not be sent.
    pub fn new(cmd: Command) -> Result<CheckedCommand, SmtpError> {
        match &cmd {
            Command::Mail { from }
            | Command::Send { from }
            | Command::Soml { from }
            | Command::Saml { from } => validate_arg("sender", from)?,
            Command::Rcpt { to } => check_recipient(to)?,
            Command::Noop | Command::Rset | Command::Turn | Command::Help { topic: None } => {}
            Command::Vrfy { name } => check_name("VRFY", name)?,
            Command::Expn { name } => check_name("EXPN", name)?,
            // Checked whole: "\r\n" is blank, and refused all the same.
            Command::Help { topic: Some(topic) } => validate_arg("help topic", topic)?,
            Command::Direct { line } => check_direct(line)?,
        }
        Ok(CheckedCommand(cmd))
    }

    /// The command as the caller gave it.
    pub fn command(&self) -> &Command {
        &self.0
    }

    /// The `smtp_direct` line: the only command that may be an `AUTH`,
    /// whose secrets the traffic tap must not see.
    pub fn direct_line(&self) -> Option<&str> {
        match &self.0 {
            Command::Direct { line } => Some(line),
            _ => None,
        }
    }

    /// Appends the command's line and CRLF to `out`.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        match &self.0 {
            Command::Mail { from } => reverse_path(out, "MAIL", from),
            Command::Send { from } => reverse_path(out, "SEND", from),
            Command::Soml { from } => reverse_path(out, "SOML", from),
            Command::Saml { from } => reverse_path(out, "SAML", from),
            Command::Rcpt { to } => path(out, "RCPT TO:", to),
            Command::Noop => put(out, "NOOP"),
            Command::Rset => put(out, "RSET"),
            Command::Turn => put(out, "TURN"),
            Command::Vrfy { name } => verb_with_name(out, "VRFY", name),
            Command::Expn { name } => verb_with_name(out, "EXPN", name),
            Command::Help { topic } => match topic.as_deref().filter(|t| !is_blank(t)) {
                Some(topic) => verb_with_name(out, "HELP", topic),
                None => put(out, "HELP"),
            },
            Command::Direct { line } => put(out, line),
        }
        put(out, "\r\n");
    }
}

/// Refuses a `value` holding CR, LF or NUL, naming the argument as `name`.
pub fn validate_arg(name: &str, value: &str) -> Result<(), SmtpError> {
    // By bytes: a `char` pattern decodes the UTF-8 first (CR, LF and NUL
    // are never part of a longer sequence).
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | b'\0')) {
        return Err(SmtpError::InvalidArgument(format!(
            "{name} contains CR, LF or NUL"
        )));
    }
    Ok(())
}

/// A send's envelope — sender and recipients — checked as
/// [`CheckedCommand::new`] checks `Command::Mail` and `Command::Rcpt`. The
/// recipients are any text: a `sendmsg`'s `String`s, or a batch's views of
/// its frame.
#[derive(Debug, Clone, Copy)]
pub struct CheckedEnvelope<'a, R> {
    from: &'a str,
    rcpts: &'a [R],
}

impl<'a, R: AsRef<str>> CheckedEnvelope<'a, R> {
    /// The envelope, or the reason one of its addresses must not be sent.
    pub fn new(from: &'a str, rcpts: &'a [R]) -> Result<CheckedEnvelope<'a, R>, SmtpError> {
        validate_arg("sender", from)?;
        for to in rcpts {
            check_recipient(to.as_ref())?;
        }
        Ok(CheckedEnvelope { from, rcpts })
    }

    /// The sender as given.
    pub fn from(&self) -> &'a str {
        self.from
    }

    /// The recipients as given.
    pub fn rcpts(&self) -> &'a [R] {
        self.rcpts
    }

    /// The room to reserve for the envelope's lines: enough for the usual
    /// parameters (SIZE, BODY, SMTPUTF8 on MAIL; NOTIFY on RCPT).
    pub fn room(&self) -> usize {
        let rcpts: usize = self.rcpts.iter().map(|to| to.as_ref().len() + 40).sum();
        self.from.len() + 64 + rcpts
    }

    /// Appends `MAIL FROM:<from>` with what `mail_params` writes after it,
    /// then `RCPT TO:<to>` with what `rcpt_params` writes, for every
    /// recipient; each line ends in CRLF. Written in place: a `String` per
    /// line cost a tenth of a `sendmsg`'s allocations.
    pub fn write_lines(
        &self,
        out: &mut Vec<u8>,
        mail_params: impl FnOnce(&mut Vec<u8>),
        rcpt_params: impl Fn(&mut Vec<u8>),
    ) {
        reverse_path(out, "MAIL", self.from);
        mail_params(out);
        put(out, "\r\n");
        for to in self.rcpts {
            path(out, "RCPT TO:", to.as_ref());
            rcpt_params(out);
            put(out, "\r\n");
        }
    }
}

fn check_recipient(to: &str) -> Result<(), SmtpError> {
    validate_arg("recipient", to)?;
    if is_blank(to) {
        return Err(SmtpError::InvalidArgument("recipient is empty".into()));
    }
    Ok(())
}

fn check_name(verb: &str, name: &str) -> Result<(), SmtpError> {
    validate_arg("name", name)?;
    if is_blank(name) {
        return Err(SmtpError::InvalidArgument(format!("{verb} needs a name")));
    }
    Ok(())
}

fn check_direct(line: &str) -> Result<(), SmtpError> {
    validate_arg("command line", line)?;
    if is_blank(line) {
        return Err(SmtpError::InvalidArgument("command line is empty".into()));
    }
    if is_quit(line) {
        return Err(SmtpError::InvalidArgument(
            "use smtp_quit to close the connection".into(),
        ));
    }
    Ok(())
}

/// Appends `text` to a command line. (Lines are built by hand: `format!`
/// cost a tenth of a message's CPU in a batch.)
fn put(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
}

/// `VERB FROM:<from>`; a blank sender is the null reverse-path `<>`.
fn reverse_path(out: &mut Vec<u8>, verb: &str, from: &str) {
    put(out, verb);
    if is_blank(from) {
        put(out, " FROM:<>");
    } else {
        path(out, " FROM:", from);
    }
}

/// `prefix` then the address: an address already in angle brackets is used
/// as given, so a caller can append ESMTP parameters after the `>`; anything
/// else gets wrapped.
fn path(out: &mut Vec<u8>, prefix: &str, addr: &str) {
    put(out, prefix);
    if addr.starts_with('<') {
        put(out, addr);
    } else {
        put(out, "<");
        put(out, addr);
        put(out, ">");
    }
}

fn verb_with_name(out: &mut Vec<u8>, verb: &str, name: &str) {
    put(out, verb);
    put(out, " ");
    put(out, name);
}

fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

fn is_quit(line: &str) -> bool {
    let line = line.trim_start();
    line.get(..4)
        .is_some_and(|verb| verb.eq_ignore_ascii_case("QUIT"))
        && line[4..].chars().next().is_none_or(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line `cmd` writes, without its CRLF.
    fn line(cmd: Command) -> String {
        let checked = match CheckedCommand::new(cmd) {
            Ok(checked) => checked,
            Err(e) => panic!("rejected: {e}"),
        };
        let mut out = Vec::new();
        checked.write_line(&mut out);
        let text = String::from_utf8(out).expect("utf-8");
        match text.strip_suffix("\r\n") {
            Some(line) if !line.contains(['\r', '\n']) => line.to_owned(),
            _ => panic!("{text:?} is not one line"),
        }
    }

    fn rejected(cmd: Command, needle: &str) {
        match CheckedCommand::new(cmd.clone()) {
            Err(SmtpError::InvalidArgument(why)) => {
                assert!(why.contains(needle), "{why:?} lacks {needle:?}")
            }
            other => panic!("{cmd:?} gave {other:?}"),
        }
    }

    #[test]
    fn sender_commands() {
        assert_eq!(
            line(Command::Mail {
                from: "a@b.example".into()
            }),
            "MAIL FROM:<a@b.example>"
        );
        assert_eq!(
            line(Command::Send { from: "a@b".into() }),
            "SEND FROM:<a@b>"
        );
        assert_eq!(
            line(Command::Soml { from: "a@b".into() }),
            "SOML FROM:<a@b>"
        );
        assert_eq!(
            line(Command::Saml { from: "a@b".into() }),
            "SAML FROM:<a@b>"
        );
        assert_eq!(
            line(Command::Mail {
                from: String::new()
            }),
            "MAIL FROM:<>"
        );
        assert_eq!(line(Command::Mail { from: "<>".into() }), "MAIL FROM:<>");
        assert_eq!(
            line(Command::Mail {
                from: "<a@b> SIZE=100 BODY=8BITMIME".into()
            }),
            "MAIL FROM:<a@b> SIZE=100 BODY=8BITMIME"
        );
        rejected(
            Command::Mail {
                from: "a@b\r\nRCPT TO:<x>".into(),
            },
            "sender contains CR, LF or NUL",
        );
        rejected(Command::Saml { from: "a\0".into() }, "sender");
    }

    #[test]
    fn recipient_command() {
        assert_eq!(line(Command::Rcpt { to: "c@d".into() }), "RCPT TO:<c@d>");
        assert_eq!(
            line(Command::Rcpt {
                to: "<c@d> NOTIFY=NEVER".into()
            }),
            "RCPT TO:<c@d> NOTIFY=NEVER"
        );
        rejected(Command::Rcpt { to: String::new() }, "recipient is empty");
        rejected(Command::Rcpt { to: "c@d\n".into() }, "recipient contains");
    }

    #[test]
    fn commands_without_arguments() {
        assert_eq!(line(Command::Noop), "NOOP");
        assert_eq!(line(Command::Rset), "RSET");
        assert_eq!(line(Command::Turn), "TURN");
    }

    #[test]
    fn vrfy_and_expn() {
        assert_eq!(
            line(Command::Vrfy {
                name: "postmaster".into()
            }),
            "VRFY postmaster"
        );
        assert_eq!(
            line(Command::Expn {
                name: "staff".into()
            }),
            "EXPN staff"
        );
        rejected(
            Command::Vrfy {
                name: String::new(),
            },
            "VRFY needs a name",
        );
        rejected(Command::Expn { name: " ".into() }, "EXPN needs a name");
        rejected(
            Command::Expn {
                name: "a\rb".into(),
            },
            "name contains",
        );
    }

    #[test]
    fn help_with_and_without_topic() {
        assert_eq!(line(Command::Help { topic: None }), "HELP");
        assert_eq!(
            line(Command::Help {
                topic: Some(String::new())
            }),
            "HELP"
        );
        assert_eq!(
            line(Command::Help {
                topic: Some("MAIL".into())
            }),
            "HELP MAIL"
        );
        rejected(
            Command::Help {
                topic: Some("MAIL\r\nQUIT".into()),
            },
            "help topic contains",
        );
        // Blank, yet a line break: refused like any other, never sent as a bare HELP.
        rejected(
            Command::Help {
                topic: Some("\r\n".into()),
            },
            "help topic contains",
        );
        assert_eq!(
            line(Command::Help {
                topic: Some("  ".into())
            }),
            "HELP"
        );
    }

    #[test]
    fn direct_lines() {
        assert_eq!(
            line(Command::Direct {
                line: "XCLIENT ADDR=1.2.3.4".into()
            }),
            "XCLIENT ADDR=1.2.3.4"
        );
        assert_eq!(
            line(Command::Direct {
                line: "QUITE".into()
            }),
            "QUITE"
        );
        rejected(
            Command::Direct {
                line: String::new(),
            },
            "empty",
        );
        rejected(
            Command::Direct {
                line: "NOOP\r\nQUIT".into(),
            },
            "command line contains",
        );
        for quit in ["QUIT", "quit", "QuIt now", "  QUIT", "\tquit\t"] {
            rejected(Command::Direct { line: quit.into() }, "use smtp_quit");
        }
    }

    #[test]
    fn quit_detection_survives_multibyte_text() {
        assert_eq!(line(Command::Direct { line: "é".into() }), "é");
        assert_eq!(
            line(Command::Direct {
                line: "QUIé".into()
            }),
            "QUIé"
        );
    }

    #[test]
    fn an_envelope_line_is_the_command_line() {
        for from in ["a@b", "", "<a@b> SIZE=1"] {
            for to in ["c@d", "<c@d> NOTIFY=NEVER"] {
                let rcpts = [to.to_string()];
                let mut out = Vec::new();
                let envelope = CheckedEnvelope::new(from, &rcpts).unwrap();
                envelope.write_lines(&mut out, |_| {}, |_| {});
                let mail = line(Command::Mail { from: from.into() });
                let rcpt = line(Command::Rcpt { to: to.into() });
                assert_eq!(out, format!("{mail}\r\n{rcpt}\r\n").into_bytes());
            }
        }
        let rcpts = ["c@d".to_string(), "e@f".to_string()];
        let mut out = Vec::new();
        CheckedEnvelope::new("a@b", &rcpts).unwrap().write_lines(
            &mut out,
            |o| o.extend_from_slice(b" SIZE=9"),
            |o| o.extend_from_slice(b" NOTIFY=NEVER"),
        );
        assert_eq!(
            out,
            b"MAIL FROM:<a@b> SIZE=9\r\nRCPT TO:<c@d> NOTIFY=NEVER\r\nRCPT TO:<e@f> NOTIFY=NEVER\r\n"
        );
        assert!(CheckedEnvelope::new("a\nb", &rcpts).is_err());
        assert!(CheckedEnvelope::new("a@b", &["c@d", " "]).is_err());
    }

    #[test]
    fn only_a_direct_line_is_shown_as_given() {
        let direct = CheckedCommand::new(Command::Direct {
            line: "AUTH PLAIN AGEAYg==".into(),
        });
        assert_eq!(
            direct.ok().as_ref().and_then(CheckedCommand::direct_line),
            Some("AUTH PLAIN AGEAYg==")
        );
        let vrfy = CheckedCommand::new(Command::Vrfy {
            name: "AUTH".into(),
        });
        assert_eq!(
            vrfy.ok().and_then(|c| c.direct_line().map(str::to_owned)),
            None
        );
    }

    #[test]
    fn validate_arg_names_the_argument() {
        assert!(validate_arg("local name", "client.example").is_ok());
        match validate_arg("local name", "a\0") {
            Err(SmtpError::InvalidArgument(why)) => assert!(why.starts_with("local name")),
            other => panic!("{other:?}"),
        }
    }
}
