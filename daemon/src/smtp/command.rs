//! The exact wire line of each command a client may send.
//!
//! [`command_line`] turns a typed [`Command`] into the line the server sees
//! (without CRLF), and refuses what must never reach the wire: CR, LF or NUL
//! inside an argument (they would let a caller smuggle a second command),
//! required arguments left empty, and QUIT through `smtp_direct`.

use super::SmtpError;
use smtp32_protocol::Command;

/// The wire line for `cmd`, without CRLF.
pub fn command_line(cmd: &Command) -> Result<String, SmtpError> {
    match cmd {
        Command::Mail { from } => mail_line(from),
        Command::Send { from } => reverse_path("SEND", from),
        Command::Soml { from } => reverse_path("SOML", from),
        Command::Saml { from } => reverse_path("SAML", from),
        Command::Rcpt { to } => rcpt_line(to),
        Command::Noop => Ok("NOOP".into()),
        Command::Rset => Ok("RSET".into()),
        Command::Turn => Ok("TURN".into()),
        Command::Vrfy { name } => verb_with_name("VRFY", name),
        Command::Expn { name } => verb_with_name("EXPN", name),
        Command::Help { topic } => match topic.as_deref() {
            // Checked before the blank test: "\r\n" is blank, and refused all the same.
            Some(topic) => {
                validate_arg("help topic", topic)?;
                Ok(if is_blank(topic) {
                    "HELP".into()
                } else {
                    format!("HELP {topic}")
                })
            }
            None => Ok("HELP".into()),
        },
        Command::Direct { line } => {
            validate_arg("command line", line)?;
            if is_blank(line) {
                return Err(SmtpError::InvalidArgument("command line is empty".into()));
            }
            if is_quit(line) {
                return Err(SmtpError::InvalidArgument(
                    "use smtp_quit to close the connection".into(),
                ));
            }
            Ok(line.clone())
        }
    }
}

/// Refuses a `value` holding CR, LF or NUL, naming the argument as `name`.
pub fn validate_arg(name: &str, value: &str) -> Result<(), SmtpError> {
    if value.contains(['\r', '\n', '\0']) {
        return Err(SmtpError::InvalidArgument(format!(
            "{name} contains CR, LF or NUL"
        )));
    }
    Ok(())
}

/// `MAIL FROM:<from>`, as [`command_line`] makes it for `Command::Mail`.
pub fn mail_line(from: &str) -> Result<String, SmtpError> {
    reverse_path("MAIL", from)
}

/// `RCPT TO:<to>`, as [`command_line`] makes it for `Command::Rcpt`.
pub fn rcpt_line(to: &str) -> Result<String, SmtpError> {
    validate_arg("recipient", to)?;
    if is_blank(to) {
        return Err(SmtpError::InvalidArgument("recipient is empty".into()));
    }
    Ok(path("RCPT TO:", to))
}

/// `VERB FROM:<from>`; a blank sender is the null reverse-path `<>`.
fn reverse_path(verb: &str, from: &str) -> Result<String, SmtpError> {
    validate_arg("sender", from)?;
    let mut prefix = String::with_capacity(verb.len() + 6);
    prefix.push_str(verb);
    prefix.push_str(" FROM:");
    if is_blank(from) {
        prefix.push_str("<>");
        return Ok(prefix);
    }
    Ok(path(&prefix, from))
}

/// `prefix` then the address: an address already in angle brackets is used
/// as given, so a caller can append ESMTP parameters after the `>`; anything
/// else gets wrapped. (Built by hand: `format!` cost a tenth of a message's
/// CPU in a batch.)
fn path(prefix: &str, addr: &str) -> String {
    // Room for the ESMTP parameters a send may append (SIZE, BODY, SMTPUTF8).
    let mut line = String::with_capacity(prefix.len() + addr.len() + 40);
    line.push_str(prefix);
    if addr.starts_with('<') {
        line.push_str(addr);
    } else {
        line.push('<');
        line.push_str(addr);
        line.push('>');
    }
    line
}

fn verb_with_name(verb: &str, name: &str) -> Result<String, SmtpError> {
    validate_arg("name", name)?;
    if is_blank(name) {
        return Err(SmtpError::InvalidArgument(format!("{verb} needs a name")));
    }
    Ok(format!("{verb} {name}"))
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

    fn line(cmd: Command) -> String {
        match command_line(&cmd) {
            Ok(line) => line,
            Err(e) => panic!("{cmd:?} rejected: {e}"),
        }
    }

    fn rejected(cmd: Command, needle: &str) {
        match command_line(&cmd) {
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
    fn validate_arg_names_the_argument() {
        assert!(validate_arg("local name", "client.example").is_ok());
        match validate_arg("local name", "a\0") {
            Err(SmtpError::InvalidArgument(why)) => assert!(why.starts_with("local name")),
            other => panic!("{other:?}"),
        }
    }
}
