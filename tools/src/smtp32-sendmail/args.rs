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
    /// `-bs`: an SMTP server on stdin and stdout, each message into the queue.
    SmtpSession(Options),
    /// `-bp` (mailq): list the queued messages this user may see.
    ListQueue,
    /// `-q`: try the queued messages now (`-qI<id>`: that one).
    FlushQueue(Option<String>),
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
    /// `-N`: the DSN `NOTIFY=` list (`never`, or `success`, `failure`, `delay`).
    pub notify: Option<String>,
    /// `-R`: the DSN `RET=` (`full` or `hdrs`).
    pub ret: Option<String>,
    /// `-V`: the DSN `ENVID=`.
    pub envid: Option<String>,
    /// The recipient arguments, as given (each may be a list).
    pub recipients: Vec<String>,
    /// `-bs`: speak SMTP on stdin and stdout.
    pub smtp_session: bool,
}

/// A bad command line, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

/// The `--help` text.
pub const USAGE: &str = "\
Usage: smtp32-sendmail [OPTIONS] [--] [RECIPIENT...] < MESSAGE
       smtp32-sendmail -bs        (SMTP on standard input and output)
       smtp32-sendmail -bp        (list the queue, as mailq)
       smtp32-sendmail -q[I<ID>]  (try the queued messages now)

Hands the message on standard input to the smtp32d daemon, which keeps it in
its queue until the relay (smarthost) named in its configuration ([relay]
host) takes it: it retries for up to 5 days and bounces to the sender (a
DSN) what cannot be delivered. The relay's TLS and AUTH credentials are the
daemon's: this program never sees them.

Options:
  -t            Also send to the addresses of the To:, Cc: and Bcc: headers
                (Resent-To:, Resent-Cc:, Resent-Bcc: instead, when present).
                Recipients named as arguments are added, as in Postfix.
  -f SENDER     Envelope sender (also -fSENDER, -r SENDER); \"<>\" or \"\" for
                the null sender. Default: your login name @ this host's name.
  -F FULLNAME   Full name for the From: header added when the message has none
                (default: $NAME, else your name in the password database).
  -i, -oi       A line with a single \".\" is message data. Without it, such a
                line ends the message (standard input is still read to its end).
  -N LIST       DSN notify: never, or a list of success, failure, delay.
  -R full|hdrs  DSN return: the whole message or its headers.
  -V ENVID      DSN envelope id. (-N, -R and -V go to the relay when it
                offers DSN, and are left out otherwise.)
  -v            Print the queue id (or, without a queue, the relay's replies).
  -bs           Speak SMTP on standard input and output (EHLO, MAIL, RCPT, DATA,
                RSET, QUIT; for Symfony and Laravel): each message is queued.
  -bp           List your queued messages (all of them for an admin).
  -q, -qI<ID>   Try your queued messages (or the one with that id) now.
  --help        Print this text.       --version   Print the version.

Accepted and ignored: -bm, -odb, -odi, -odq (and other -od*), -oem, -oee and
other -oe*, -om, -m, -n, -U, -G, -B7BIT, -B8BITMIME.

Every message gets Bcc: and Resent-Bcc: removed, and a From: (the envelope
sender, with -F's name), a Date: and a Message-ID: header when it has none. A
bare name without @ (\"root\") gets @ this host's name.

Exit codes (sysexits): 0 queued (the daemon delivers it or bounces it to the
sender; with the daemon's queue off: sent, and recipients the relay refused
are listed on stderr); 64 bad command line; 65 no recipients or a bad header
(without the queue: the relay refused the sender or the message); 67 the
relay refused every recipient (without the queue); 69 smtp32d cannot be
reached; 71 your login name is unknown (use -f); 74 standard input
unreadable; 75 temporary failure: the queue cannot store the message now
(a full disk), or, without the queue, a 4xx, a timeout, an unreachable relay;
try again later; 77 the relay refused the daemon's AUTH credentials (without
the queue); 78 the daemon has no usable relay configured.

Environment: SMTP32_SOCKET names the daemon's socket (default: as for every
smtp32 client, /run/smtp32d/smtp32d.sock for the system daemon); NAME gives
the full name when -F does not.
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
            "-" => {
                return Err(UsageError(
                    "a lone \"-\" is not an option or a recipient".into(),
                ))
            }
            long if long.starts_with("--") => {
                return Err(UsageError(format!("unknown option {long}")))
            }
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
                'q' => {
                    // -q, -q30m (an interval: this program runs no daemon), -qI<id>.
                    let rest = &letters[at + 1..];
                    let id = rest.strip_prefix('I').map(str::to_string).filter(|i| !i.is_empty());
                    return Ok(Mode::FlushQueue(id));
                }
                'f' | 'r' | 'F' | 'o' | 'B' | 'b' | 'N' | 'R' | 'V' => {
                    let glued = &letters[at + letter.len_utf8()..];
                    let value = if glued.is_empty() {
                        let next = words.next().ok_or_else(|| UsageError(format!("-{letter} needs a value")))?;
                        next.into_string().map_err(|w| UsageError(format!("-{letter} {w:?} is not valid UTF-8")))?
                    } else {
                        glued.to_string()
                    };
                    if letter == 'b' && value == "p" {
                        return Ok(Mode::ListQueue);
                    }
                    if letter == 'b' && value == "s" {
                        opts.smtp_session = true;
                        break;
                    }
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
    if opts.smtp_session {
        return Ok(Mode::SmtpSession(opts));
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
                return Err(UsageError(
                    "-F: the full name must not hold control characters".into(),
                ));
            }
            opts.full_name = Some(value);
        }
        'o' => match value.as_str() {
            "i" => opts.ignore_dots = true,
            // Delivery mode, error mode, "me too": this program always sends
            // at once and reports on stderr and in its exit code.
            "m" => {}
            v if v.starts_with('d') || v.starts_with('e') => {}
            v => {
                return Err(UsageError(format!(
                    "unsupported option -o{v} (only -oi, -od*, -oe*, -om)"
                )))
            }
        },
        'B' => {
            if !(value.eq_ignore_ascii_case("7BIT") || value.eq_ignore_ascii_case("8BITMIME")) {
                return Err(UsageError(format!(
                    "-B{value}: the body type is 7BIT or 8BITMIME"
                )));
            }
            // The daemon declares BODY=8BITMIME itself when the message needs it.
        }
        'b' => {
            if value != "m" {
                return Err(UsageError(format!(
                    "-b{value} is not supported: smtp32-sendmail sends mail (-bm, -bs) and lists its queue (-bp)"
                )));
            }
        }
        'N' => {
            let words: Vec<String> = value
                .split(',')
                .map(|w| w.trim().to_ascii_uppercase())
                .collect();
            let known = |w: &String| ["NEVER", "SUCCESS", "FAILURE", "DELAY"].contains(&w.as_str());
            let never_alone = !words.iter().any(|w| w == "NEVER") || words.len() == 1;
            if !words.iter().all(known) || !never_alone {
                return Err(UsageError(format!(
                    "-N{value}: give never, or a list of success, failure, delay"
                )));
            }
            opts.notify = Some(words.join(","));
        }
        'R' => {
            let ret = value.to_ascii_uppercase();
            if ret != "FULL" && ret != "HDRS" {
                return Err(UsageError(format!("-R{value}: give full or hdrs")));
            }
            opts.ret = Some(ret);
        }
        'V' => {
            // RFC 3461's ENVID is 1..100 printable ASCII characters.
            if value.is_empty() || value.len() > 100 || !value.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(UsageError(
                    "-V: the envelope id is 1 to 100 printable ASCII characters".into(),
                ));
            }
            opts.envid = Some(value);
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
            (
                o.ignore_dots,
                o.sender.as_deref(),
                o.full_name.as_deref(),
                o.recipients.as_slice()
            ),
            (
                true,
                Some("me@host"),
                Some("Me Myself"),
                &["you@there".to_string()][..]
            )
        );
        let o = send(&["-fme@host", "-FMe", "-ti", "a@b", "c@d"]);
        assert_eq!(
            (o.sender.as_deref(), o.full_name.as_deref()),
            (Some("me@host"), Some("Me"))
        );
        assert!(o.extract_recipients && o.ignore_dots);
        assert_eq!(o.recipients, ["a@b", "c@d"]);
        assert_eq!(send(&["-r", "<>"]).sender.as_deref(), Some("<>"));
        assert_eq!(send(&["-f", ""]).sender.as_deref(), Some(""));
    }

    #[test]
    fn harmless_flags_are_ignored() {
        let o = send(&[
            "-odi",
            "-oem",
            "-oee",
            "-odb",
            "-om",
            "-B8BITMIME",
            "-B",
            "7bit",
            "-bm",
            "-U",
            "-G",
            "-m",
            "-n",
            "-v",
            "x@y",
        ]);
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
    fn queue_modes_and_dsn_options() {
        assert_eq!(parse(["-bp"].map(OsString::from)), Ok(Mode::ListQueue));
        assert_eq!(
            parse(["-q"].map(OsString::from)),
            Ok(Mode::FlushQueue(None))
        );
        assert_eq!(
            parse(["-q30m"].map(OsString::from)),
            Ok(Mode::FlushQueue(None))
        );
        assert_eq!(
            parse(["-qI00AB"].map(OsString::from)),
            Ok(Mode::FlushQueue(Some("00AB".into())))
        );
        let o = send(&["-N", "failure,delay", "-Rhdrs", "-V", "id-1", "a@b"]);
        assert_eq!(
            (o.notify.as_deref(), o.ret.as_deref(), o.envid.as_deref()),
            (Some("FAILURE,DELAY"), Some("HDRS"), Some("id-1"))
        );
        assert_eq!(send(&["-Nnever"]).notify.as_deref(), Some("NEVER"));
        assert!(matches!(
            parse(["-bs"].map(OsString::from)),
            Ok(Mode::SmtpSession(_))
        ));
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(["--help"].map(OsString::from)), Ok(Mode::Help));
        assert_eq!(
            parse(["-t", "--version"].map(OsString::from)),
            Ok(Mode::Version)
        );
        assert!(USAGE.contains("-t") && USAGE.contains("78"));
    }

    #[test]
    fn bad_command_lines_say_why() {
        assert!(usage(&["-bz"]).contains("-bp"));
        assert!(usage(&["-Nsometimes"]).contains("-N"));
        assert!(usage(&["-N", "never,delay"]).contains("-N"));
        assert!(usage(&["-R", "body"]).contains("full or hdrs"));
        assert!(usage(&["-V", "a b"]).contains("-V"));
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
