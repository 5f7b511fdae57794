//! The sendmail command line, read the way sendmail's `getopt` reads it.
//!
//! clap cannot take sendmail's single-dash options with glued values
//! (`-fme@host`, `-oi`, `-odi`, `-B8BITMIME`), so this is a small hand
//! parser: flag letters may be grouped (`-ti`), a letter that takes a value
//! takes the rest of its word or else the next word, `--` ends the options,
//! and the remaining words are recipients (options may also follow them, as
//! with GNU getopt). Options that change nothing here (`-odi`, `-oem`,
//! `-B8BITMIME`, `-U`, ...) are accepted and ignored; anything else is a
//! usage error naming the option. Only `--help` and `--version` are long.

use std::ffi::OsString;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Read a message on stdin and send it.
    Send(Options),
    /// Print the usage text.
    Help,
    /// Print the version.
    Version,
}

/// The options of a send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `-t`: take recipients from the To, Cc and Bcc headers too.
    pub extract_recipients: bool,
    /// `-f` / `-r`: the envelope sender as given (`""` or `<>` for the null sender).
    pub sender: Option<String>,
    /// `-F`: the full name for a From header that the message lacks.
    pub full_name: Option<String>,
    /// `-i` / `-oi`: a line with a single dot does not end the message.
    pub ignore_dots: bool,
    /// `-v`: report each recipient's reply on stderr.
    pub verbose: bool,
    /// The recipient arguments, as given (each may be a list).
    pub recipients: Vec<String>,
}

/// A bad command line, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

/// The `--help` text.
pub const USAGE: &str = "\
Usage: smtp32-sendmail [OPTIONS] [--] [RECIPIENT...] < MESSAGE

Sends the message on standard input through the smtp32d daemon to the relay
(smarthost) named in the daemon's configuration ([relay] host). The relay's
TLS and AUTH credentials are the daemon's: this program never sees them.

Options:
  -t            Also send to the addresses of the To:, Cc: and Bcc: headers
                (Resent-To:, Resent-Cc:, Resent-Bcc: instead, when present).
                Recipients named as arguments are added, as in Postfix.
  -f SENDER     Envelope sender (also -fSENDER, -r SENDER); \"<>\" or \"\" for
                the null sender. Default: your login name @ this host's name.
  -F FULLNAME   Full name for the From: header added when the message has none.
  -i, -oi       A line with a single \".\" is message data. Without it, such a
                line ends the message (standard input is still read to its end).
  -v            Print the relay's reply to each recipient on stderr.
  --help        Print this text.       --version   Print the version.

Accepted and ignored: -bm, -odb, -odi, -odq (and other -od*), -oem, -oee and
other -oe*, -om, -m, -n, -U, -G, -B7BIT, -B8BITMIME.

Every message gets Bcc: and Resent-Bcc: removed, and a From: (the envelope
sender, with -F's name) and a Date: header when it has none. A bare name
without @ (\"root\") gets @ this host's name. There is no queue: the message is
sent now, or the exit code says why not.

Exit codes (sysexits): 0 sent (recipients the relay refused, if any, are
listed on stderr); 64 bad command line; 65 no recipients, a bad header, or the
relay refused the sender or the message; 67 the relay refused every recipient;
69 smtp32d cannot be reached, or the relay refuses service; 71 your login name
is unknown (use -f); 74 standard input unreadable; 75 temporary failure (4xx,
timeout, relay unreachable, TLS failure): try again later; 77 the relay
refused the daemon's AUTH credentials; 78 the daemon has no usable relay
configured.

Environment: SMTP32_SOCKET names the daemon's socket (default: as for every
smtp32 client, /run/smtp32d/smtp32d.sock for the system daemon).
";

/// Reads the arguments (without the program name).
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Mode, UsageError> {
    let mut opts = Options::default();
    let mut words = args.into_iter();
    let mut options_done = false;
    while let Some(word) = words.next() {
        let word = word
            .into_string()
            .map_err(|w| UsageError(format!("argument {w:?} is not valid UTF-8")))?;
        if options_done || !word.starts_with('-') {
            opts.recipients.push(word);
            continue;
        }
        match word.as_str() {
            "--" => {
                options_done = true;
                continue;
            }
            "--help" => return Ok(Mode::Help),
            "--version" => return Ok(Mode::Version),
            "-" => return Err(UsageError("a lone \"-\" is not an option or a recipient".into())),
            long if long.starts_with("--") => return Err(UsageError(format!("unknown option {long}"))),
            _ => {}
        }
        let letters = &word[1..];
        for (at, letter) in letters.char_indices() {
            match letter {
                't' => opts.extract_recipients = true,
                'i' => opts.ignore_dots = true,
                'v' => opts.verbose = true,
                // Initial submission, gateway submission, "me too", no aliasing: nothing to do here.
                'U' | 'G' | 'm' | 'n' => {}
                'f' | 'r' | 'F' | 'o' | 'B' | 'b' => {
                    let glued = &letters[at + letter.len_utf8()..];
                    let value = if glued.is_empty() {
                        let next = words.next().ok_or_else(|| UsageError(format!("-{letter} needs a value")))?;
                        next.into_string().map_err(|w| UsageError(format!("-{letter} {w:?} is not valid UTF-8")))?
                    } else {
                        glued.to_string()
                    };
                    apply(&mut opts, letter, value)?;
                    break;
                }
                other => {
                    return Err(UsageError(format!(
                        "unknown option -{other} (smtp32-sendmail takes -t -f -F -i -oi -v; see --help)"
                    )))
                }
            }
        }
    }
    Ok(Mode::Send(opts))
}

/// Applies an option that takes a value.
fn apply(opts: &mut Options, letter: char, value: String) -> Result<(), UsageError> {
    match letter {
        'f' | 'r' => {
            if opts.sender.is_some() {
                return Err(UsageError("more than one sender (-f or -r) given".into()));
            }
            opts.sender = Some(value);
        }
        'F' => {
            if value.chars().any(char::is_control) {
                return Err(UsageError("-F: the full name must not hold control characters".into()));
            }
            opts.full_name = Some(value);
        }
        'o' => match value.as_str() {
            "i" => opts.ignore_dots = true,
            // Delivery mode, error mode, "me too": this program always sends
            // at once and reports on stderr and in its exit code.
            "m" => {}
            v if v.starts_with('d') || v.starts_with('e') => {}
            v => return Err(UsageError(format!("unsupported option -o{v} (only -oi, -od*, -oe*, -om)"))),
        },
        'B' => {
            if !(value.eq_ignore_ascii_case("7BIT") || value.eq_ignore_ascii_case("8BITMIME")) {
                return Err(UsageError(format!("-B{value}: the body type is 7BIT or 8BITMIME")));
            }
            // The daemon declares BODY=8BITMIME itself when the message needs it.
        }
        'b' => {
            if value != "m" {
                return Err(UsageError(format!(
                    "-b{value} is not supported: smtp32-sendmail only sends mail (-bm)"
                )));
            }
        }
        other => return Err(UsageError(format!("unknown option -{other}"))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(args: &[&str]) -> Options {
        match parse(args.iter().map(OsString::from)) {
            Ok(Mode::Send(o)) => o,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn usage(args: &[&str]) -> String {
        match parse(args.iter().map(OsString::from)) {
            Err(UsageError(why)) => why,
            other => panic!("{args:?} should be refused, got {other:?}"),
        }
    }

    #[test]
    fn common_invocations() {
        let o = send(&["-t", "-i"]);
        assert!(o.extract_recipients && o.ignore_dots && o.recipients.is_empty());
        let o = send(&["-oi", "-f", "me@host", "-F", "Me Myself", "you@there"]);
        assert_eq!(
            (o.ignore_dots, o.sender.as_deref(), o.full_name.as_deref(), o.recipients.as_slice()),
            (true, Some("me@host"), Some("Me Myself"), &["you@there".to_string()][..])
        );
        let o = send(&["-fme@host", "-FMe", "-ti", "a@b", "c@d"]);
        assert_eq!((o.sender.as_deref(), o.full_name.as_deref()), (Some("me@host"), Some("Me")));
        assert!(o.extract_recipients && o.ignore_dots);
        assert_eq!(o.recipients, ["a@b", "c@d"]);
        assert_eq!(send(&["-r", "<>"]).sender.as_deref(), Some("<>"));
        assert_eq!(send(&["-f", ""]).sender.as_deref(), Some(""));
    }

    #[test]
    fn harmless_flags_are_ignored() {
        let o = send(&["-odi", "-oem", "-oee", "-odb", "-om", "-B8BITMIME", "-B", "7bit", "-bm", "-U", "-G", "-m", "-n", "-v", "x@y"]);
        assert!(o.verbose);
        assert_eq!(o.recipients, ["x@y"]);
        assert!(!o.ignore_dots && !o.extract_recipients);
    }

    #[test]
    fn double_dash_ends_options_and_options_may_follow_recipients() {
        assert_eq!(send(&["--", "-weird@x"]).recipients, ["-weird@x"]);
        let o = send(&["a@b", "-t"]);
        assert!(o.extract_recipients);
        assert_eq!(o.recipients, ["a@b"]);
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(["--help"].map(OsString::from)), Ok(Mode::Help));
        assert_eq!(parse(["-t", "--version"].map(OsString::from)), Ok(Mode::Version));
        assert!(USAGE.contains("-t") && USAGE.contains("78"));
    }

    #[test]
    fn bad_command_lines_say_why() {
        assert!(usage(&["-q"]).contains("unknown option -q"));
        assert!(usage(&["-bs"]).contains("only sends"));
        assert!(usage(&["-oX"]).contains("-oX"));
        assert!(usage(&["-Bbinary"]).contains("7BIT or 8BITMIME"));
        assert!(usage(&["-f"]).contains("-f needs a value"));
        assert!(usage(&["-f", "a@b", "-r", "c@d"]).contains("more than one sender"));
        assert!(usage(&["-F", "a\nb"]).contains("control"));
        assert!(usage(&["--verbose"]).contains("unknown option --verbose"));
        assert!(usage(&["-"]).contains("lone"));
        assert!(usage(&["-tz"]).contains("-z"));
    }

    #[test]
    #[cfg(unix)]
    fn non_utf8_arguments_are_refused() {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![b'a', 0xff]);
        assert!(matches!(parse([bad]), Err(UsageError(why)) if why.contains("UTF-8")));
    }
}
