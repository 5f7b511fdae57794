//! `-bs`: an SMTP server on standard input and output, as sendmail and
//! Postfix offer it, for programs that speak SMTP to `sendmail -bs`
//! (Symfony's and Laravel's sendmail transports). Each message goes into
//! the daemon's queue and its 250 carries the queue id.
//!
//! Offered: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, VRFY (252), QUIT.
//! Not offered: PIPELINING (commands sent ahead are still answered in
//! order), STARTTLS and AUTH (the peer is this user's own program).
//! Message preparation is that of a piped message: From, Date and
//! Message-ID added when missing, Bcc removed, bare names qualified.

use crate::args::Options;
use crate::exit::{Exit, EX_DATAERR, EX_IOERR, EX_NOUSER};
use crate::{address, relay, submission, Composer};
use smtp32::{Client, Submitted};
use std::io::{BufRead, Write};

/// The longest command line read; a longer one is refused (500).
const MAX_LINE: usize = 64 * 1024;

/// The transaction under way.
#[derive(Default)]
struct Transaction {
    /// `Some` after MAIL (`""` for `<>`).
    from: Option<String>,
    rcpts: Vec<String>,
}

/// Serves one SMTP session on stdin/stdout until QUIT or the end of input.
pub fn serve(opts: &Options, composer: &Composer) -> Result<(), Exit> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout().lock();
    let mut daemon: Option<Client> = None;
    let mut tx = Transaction::default();
    let host = &composer.host;
    reply(&mut out, &format!("220 {host} ESMTP smtp32-sendmail"))?;
    loop {
        let line = match read_line(&mut input)? {
            Line::Text(line) => line,
            Line::TooLong => {
                reply(&mut out, "500 5.5.0 Error: line too long")?;
                continue;
            }
            Line::End => return Ok(()),
        };
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let (verb, arg) = text
            .split_once(' ')
            .map_or((text, ""), |(v, a)| (v, a.trim()));
        let answer = match verb.to_ascii_uppercase().as_str() {
            "EHLO" => format!("250-{host}\r\n250 8BITMIME"),
            "HELO" => format!("250 {host}"),
            "MAIL" => match path_after(arg, "FROM:") {
                Some(_) if tx.from.is_some() => "503 5.5.1 Error: nested MAIL command".into(),
                Some(path) => match address::sender(&path, host) {
                    Ok(from) => {
                        tx.from = Some(from);
                        "250 2.1.0 Ok".into()
                    }
                    Err(e) => format!("501 5.1.7 Bad sender address syntax: {}", one_line(&e)),
                },
                None => "501 5.5.4 Syntax: MAIL FROM:<address>".into(),
            },
            "RCPT" => match path_after(arg, "TO:") {
                _ if tx.from.is_none() => "503 5.5.1 Error: need MAIL command".into(),
                Some(path) if !path.is_empty() && !path.contains(char::is_whitespace) => {
                    tx.rcpts.push(address::qualify(&path, host));
                    "250 2.1.5 Ok".into()
                }
                _ => "501 5.5.4 Syntax: RCPT TO:<address>".into(),
            },
            "DATA" if tx.rcpts.is_empty() => "503 5.5.1 Error: need RCPT command".into(),
            "DATA" => {
                reply(&mut out, "354 End data with <CR><LF>.<CR><LF>")?;
                let data = read_data(&mut input)?;
                let finished = std::mem::take(&mut tx);
                let from = finished.from.unwrap_or_default();
                deliver(opts, composer, &mut daemon, from, finished.rcpts, &data)
            }
            "RSET" => {
                tx = Transaction::default();
                "250 2.0.0 Ok".into()
            }
            "NOOP" => "250 2.0.0 Ok".into(),
            "VRFY" => "252 2.0.0 Cannot VRFY; send some mail and see".into(),
            "QUIT" => {
                reply(&mut out, "221 2.0.0 Bye")?;
                return Ok(());
            }
            _ => "502 5.5.2 Error: command not recognized".into(),
        };
        reply(&mut out, &answer)?;
    }
}

/// Prepares and queues one message; the reply to its final dot.
fn deliver(
    opts: &Options,
    composer: &Composer,
    daemon: &mut Option<Client>,
    from: String,
    rcpts: Vec<String>,
    data: &[u8],
) -> String {
    let prepared = match composer.prepare(data, &from) {
        Ok(p) => p,
        Err(e) => return format!("554 5.6.0 {}", one_line(&e.message)),
    };
    let client = match daemon {
        Some(c) => c,
        None => match relay::connect() {
            Ok(c) => daemon.insert(c),
            Err(e) => return format!("451 4.3.0 {}", one_line(&e.message)),
        },
    };
    match relay::submit(client, submission(opts, from, rcpts, prepared.data)) {
        Ok(Submitted::Queued(id)) => format!("250 2.0.0 Ok: queued as {id}"),
        Ok(Submitted::Sent(report)) => format!(
            "250 2.0.0 Ok: sent ({})",
            one_line(&report.verdict.to_wire_text())
        ),
        Err(e) => refusal(&e),
    }
}

/// The SMTP reply for a message the daemon did not take.
fn refusal(e: &Exit) -> String {
    let text = one_line(&e.message);
    match e.code {
        EX_DATAERR => format!("554 5.6.0 {text}"),
        EX_NOUSER => format!("550 5.1.1 {text}"),
        _ => format!("451 4.3.0 {text}"),
    }
}

/// The address in `<...>` after `keyword` (case-insensitive), without parameters.
fn path_after(arg: &str, keyword: &str) -> Option<String> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_string())
}

/// One command line as read.
enum Line {
    /// The line, with its line end.
    Text(Vec<u8>),
    /// Over [`MAX_LINE`]: read to its end and dropped.
    TooLong,
    /// The end of input.
    End,
}

fn read_line(input: &mut impl BufRead) -> Result<Line, Exit> {
    let failed =
        |e: std::io::Error| Exit::new(EX_IOERR, format!("cannot read standard input: {e}"));
    let mut line = Vec::new();
    let n = std::io::Read::take(&mut *input, MAX_LINE as u64)
        .read_until(b'\n', &mut line)
        .map_err(failed)?;
    if n == 0 {
        return Ok(Line::End);
    }
    if line.ends_with(b"\n") || n < MAX_LINE {
        return Ok(Line::Text(line));
    }
    let mut rest = Vec::new();
    input.read_until(b'\n', &mut rest).map_err(failed)?;
    Ok(Line::TooLong)
}

/// The message after DATA up to the lone dot, dot-unstuffed, line ends as sent.
fn read_data(input: &mut impl BufRead) -> Result<Vec<u8>, Exit> {
    let mut data = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| Exit::new(EX_IOERR, format!("cannot read standard input: {e}")))?;
        if n == 0 {
            return Err(Exit::new(
                EX_DATAERR,
                "standard input ended inside DATA: the message was not queued",
            ));
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(data);
        }
        let unstuffed = if line.starts_with(b".") {
            &line[1..]
        } else {
            &line[..]
        };
        data.extend_from_slice(unstuffed);
    }
}

/// Writes one reply (its lines joined by CRLF) and flushes it.
fn reply(out: &mut impl Write, text: &str) -> Result<(), Exit> {
    write!(out, "{text}\r\n")
        .and_then(|()| out.flush())
        .map_err(|e| Exit::new(EX_IOERR, format!("cannot write to standard output: {e}")))
}

/// `text` on one line, control characters as spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_data() {
        assert_eq!(
            path_after("FROM:<a@b> SIZE=10", "FROM:"),
            Some("a@b".into())
        );
        assert_eq!(path_after("from: <>", "FROM:"), Some(String::new()));
        assert_eq!(path_after("TO:a@b", "TO:"), None);
        let mut input: &[u8] = b"a\r\n..b\r\n.\r\nafter";
        assert_eq!(read_data(&mut input).unwrap(), b"a\r\n.b\r\n");
        let mut cut: &[u8] = b"a\r\n";
        assert_eq!(read_data(&mut cut).unwrap_err().code, EX_DATAERR);
    }

    #[test]
    fn refusals_keep_their_class() {
        assert!(refusal(&Exit::new(75, "full\ndisk")).starts_with("451 4.3.0 full disk"));
        assert!(refusal(&Exit::new(EX_DATAERR, "bad")).starts_with("554 "));
        assert!(refusal(&Exit::new(EX_NOUSER, "no")).starts_with("550 "));
    }
}
