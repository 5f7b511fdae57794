//! Reading one SMTP reply from the server, within fixed bounds.
//!
//! RFC 5321 §4.2: a reply is one or more lines carrying the same three-digit
//! code; `ddd-text` continues it, `ddd text`, `ddd ` or `ddd` ends it. The
//! reader never holds more than [`MAX_LINE_BYTES`] of an unfinished line nor
//! more than [`MAX_REPLY_BYTES`] of a reply, so a hostile server cannot make
//! the daemon buffer without end. Every complete line read is copied to the
//! [`TrafficTap`], line ending included, before it is judged (a NUL is
//! refused as soon as it is read, its line unshown). A one-line reply seen
//! lately on the thread shares its text with the earlier ones
//! ([`ReplyLines::one_line`]).

use super::{SmtpError, TrafficTap};
use smtp32_protocol::{Direction, Reply, ReplyLines};
use std::borrow::Cow;
use std::time::Instant;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Longest reply line accepted, line ending included (RFC 5321 asks for 512; we are generous).
pub const MAX_LINE_BYTES: usize = 4096;
/// Most lines accepted in one reply.
pub const MAX_REPLY_LINES: usize = 1000;
/// Most bytes accepted in one reply, line endings included.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

/// How much of an offending line a `BadReply` message quotes.
const QUOTE_BYTES: usize = 80;

/// Reads one complete reply. Errors: `BadReply` for anything malformed or
/// over a bound, `Closed` on end of stream before the reply is complete,
/// `Io` when reading fails.
pub async fn read_reply<R: AsyncBufRead + Unpin>(
    r: &mut R,
    tap: &dyn TrafficTap,
) -> Result<Reply, SmtpError> {
    read_reply_with(r, tap, &mut Vec::new())
        .await
        .map(|(reply, _)| reply)
}

/// [`read_reply`] that also says when the reply's first line arrived (the
/// clock is read once a reply, and the same instant is shown to the tap with
/// every line). A line that the read buffer holds whole is judged where it
/// lies; one split across reads is gathered in `partial`, the caller's, so
/// a connection reading reply after reply allocates nothing for its lines.
pub async fn read_reply_with<R: AsyncBufRead + Unpin>(
    r: &mut R,
    tap: &dyn TrafficTap,
    partial: &mut Vec<u8>,
) -> Result<(Reply, Instant), SmtpError> {
    let mut lines = ReplyLines::new();
    let mut count = 0;
    let mut code = None;
    let mut total = 0;
    let mut arrived = None;
    partial.clear();
    loop {
        let limit = MAX_LINE_BYTES.min(MAX_REPLY_BYTES - total);
        let avail = r.fill_buf().await?;
        if avail.is_empty() {
            return Err(SmtpError::Closed);
        }
        let at = *arrived.get_or_insert_with(Instant::now);
        let room = limit - partial.len();
        // One scan finds the line's end and a NUL before it: a NUL is
        // refused as soon as it is read.
        let taken = match memchr::memchr2(b'\n', 0, avail) {
            Some(nul) if avail[nul] == 0 => {
                let mut line = std::mem::take(partial);
                line.extend_from_slice(&avail[..=nul]);
                return Err(bad("NUL byte in reply", &line));
            }
            Some(end) if end < room => end + 1,
            // No LF within the room left: the line cannot fit.
            Some(_) => return Err(too_long(limit)),
            None if avail.len() >= room => return Err(too_long(limit)),
            None => {
                let n = avail.len();
                partial.extend_from_slice(avail);
                r.consume(n);
                continue;
            }
        };
        let line = if partial.is_empty() {
            &avail[..taken]
        } else {
            partial.extend_from_slice(&avail[..taken]);
            &partial[..]
        };
        tap.line(Direction::FromServer, line, at);
        total += line.len();
        let parsed = match judge(line, &mut code) {
            Ok(parsed) => parsed,
            Err(e) => {
                r.consume(taken);
                return Err(e);
            }
        };
        if lines.is_empty() && parsed.last {
            lines = ReplyLines::one_line(&parsed.text);
        } else {
            if lines.is_empty() {
                // The line's own length covers its text and the LF after it.
                lines = ReplyLines::with_capacity(line.len());
            }
            lines.push(&parsed.text);
        }
        count += 1;
        let (last, reply_code) = (parsed.last, parsed.code);
        r.consume(taken);
        if last {
            return Ok((
                Reply {
                    code: reply_code,
                    lines,
                },
                at,
            ));
        }
        if count == MAX_REPLY_LINES {
            return Err(SmtpError::BadReply(format!(
                "reply has more than {MAX_REPLY_LINES} lines"
            )));
        }
        partial.clear();
    }
}

/// The error for a line that cannot fit in `limit` bytes.
fn too_long(limit: usize) -> SmtpError {
    SmtpError::BadReply(if limit == MAX_LINE_BYTES {
        format!("reply line longer than {MAX_LINE_BYTES} bytes")
    } else {
        format!("reply longer than {MAX_REPLY_BYTES} bytes")
    })
}

/// Parses `line` as the next line of a reply whose code, if known, is `code`.
fn judge<'a>(line: &'a [u8], code: &mut Option<u16>) -> Result<Line<'a>, SmtpError> {
    let parsed = parse_line(line)?;
    let expected = *code.get_or_insert(parsed.code);
    if expected != parsed.code {
        return Err(bad(
            &format!("reply code changes within a reply (expected {expected})"),
            line,
        ));
    }
    Ok(parsed)
}

/// One reply line, judged; its text borrowed from the line when it is UTF-8.
struct Line<'a> {
    code: u16,
    last: bool,
    text: Cow<'a, str>,
}

/// Parses one line; the reader has refused a NUL in it already.
fn parse_line(raw: &[u8]) -> Result<Line<'_>, SmtpError> {
    let body = raw.strip_suffix(b"\n").unwrap_or(raw);
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    let (code, rest) = match body {
        [a @ b'2'..=b'5', b @ b'0'..=b'5', c @ b'0'..=b'9', rest @ ..] => {
            let digits = [a, b, c].map(|d| u16::from(d - b'0'));
            (digits[0] * 100 + digits[1] * 10 + digits[2], rest)
        }
        _ => return Err(bad("reply line does not start with a valid code", raw)),
    };
    let (last, text) = match rest {
        [] => (true, &[][..]),
        [b' ', text @ ..] => (true, text),
        [b'-', text @ ..] => (false, text),
        _ => return Err(bad("reply code not followed by ' ' or '-'", raw)),
    };
    Ok(Line {
        code,
        last,
        text: text_of(text),
    })
}

/// A line's text as UTF-8, each invalid sequence replaced. Reply text is
/// nearly always ASCII, which is checked a word at a time and then borrowed
/// as it is (the lossy conversion walks every byte: 4 % of a `sendmsg`).
fn text_of(bytes: &[u8]) -> Cow<'_, str> {
    if bytes.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8.
        Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        String::from_utf8_lossy(bytes)
    }
}

/// A `BadReply` quoting (escaped, shortened) the line at fault.
fn bad(why: &str, raw: &[u8]) -> SmtpError {
    let shown = &raw[..raw.len().min(QUOTE_BYTES)];
    let more = if raw.len() > QUOTE_BYTES { "..." } else { "" };
    SmtpError::BadReply(format!("{why}: \"{}{more}\"", shown.escape_ascii()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::tap::Recorder;
    use crate::smtp::NoTap;

    async fn read(input: &[u8]) -> Result<Reply, SmtpError> {
        let mut r = input;
        read_reply(&mut r, &NoTap).await
    }

    async fn bad_reply(input: &[u8], needle: &str) {
        match read(input).await {
            Err(SmtpError::BadReply(why)) => {
                assert!(why.contains(needle), "{why:?} lacks {needle:?}")
            }
            other => panic!("{:?} gave {other:?}", input.escape_ascii().to_string()),
        }
    }

    fn reply(code: u16, lines: &[&str]) -> Reply {
        Reply {
            code,
            lines: lines.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[tokio::test]
    async fn reads_single_and_multi_line_replies() {
        assert_eq!(
            read(b"220 ready\r\n").await.ok(),
            Some(reply(220, &["ready"]))
        );
        assert_eq!(
            read(b"250-mx.example\r\n250-SIZE 100\r\n250 8BITMIME\r\n")
                .await
                .ok(),
            Some(reply(250, &["mx.example", "SIZE 100", "8BITMIME"]))
        );
    }

    #[tokio::test]
    async fn accepts_empty_final_lines_and_bare_lf() {
        // Postfix smtp-sink ends its EHLO reply with "250 ".
        assert_eq!(
            read(b"250-sink\r\n250 \r\n").await.ok(),
            Some(reply(250, &["sink", ""]))
        );
        assert_eq!(read(b"250\r\n").await.ok(), Some(reply(250, &[""])));
        assert_eq!(
            read(b"250-a\n250 b\n").await.ok(),
            Some(reply(250, &["a", "b"]))
        );
        assert_eq!(read(b"559 x\r\n").await.ok().map(|r| r.code), Some(559));
    }

    #[tokio::test]
    async fn leaves_the_next_reply_unread() {
        let mut r: &[u8] = b"250 one\r\n251 two\r\n";
        assert_eq!(
            read_reply(&mut r, &NoTap).await.ok().map(|r| r.code),
            Some(250)
        );
        assert_eq!(r, b"251 two\r\n");
    }

    #[tokio::test]
    async fn lossy_converts_invalid_utf8() {
        assert_eq!(
            read(b"250 caf\xe9\r\n").await.ok(),
            Some(reply(250, &["caf\u{fffd}"]))
        );
        // Valid UTF-8 beside ASCII lines of the same reply is kept as it is.
        assert_eq!(
            read("250-plain\r\n250 caf\u{e9} \u{2713}\r\n".as_bytes())
                .await
                .ok(),
            Some(reply(250, &["plain", "caf\u{e9} \u{2713}"]))
        );
    }

    #[tokio::test]
    async fn rejects_code_changes() {
        bad_reply(b"250-a\r\n251 b\r\n", "code changes").await;
    }

    #[tokio::test]
    async fn rejects_bad_codes_and_separators() {
        bad_reply(b"150 x\r\n", "valid code").await;
        bad_reply(b"650 x\r\n", "valid code").await;
        bad_reply(b"260 x\r\n", "valid code").await;
        bad_reply(b"590 x\r\n", "valid code").await;
        bad_reply(b"25 x\r\n", "valid code").await;
        bad_reply(b"25a x\r\n", "valid code").await;
        bad_reply(b"\r\n", "valid code").await;
        bad_reply(b"hello\r\n", "\"hello\\r\\n\"").await;
        bad_reply(b"250x\r\n", "' ' or '-'").await;
        bad_reply(b"2500 x\r\n", "' ' or '-'").await;
    }

    #[tokio::test]
    async fn rejects_nul() {
        bad_reply(b"250 a\0b\r\n", "NUL").await;
        bad_reply(b"250-ok\r\n250 a\0b\r\n", "NUL").await;
        bad_reply(b"\0", "NUL").await;
        // A NUL in a line split across reads is found in its second part.
        let mut reader = tokio::io::BufReader::with_capacity(7, &b"250 abcd\0e\r\n"[..]);
        match read_reply(&mut reader, &NoTap).await {
            Err(SmtpError::BadReply(why)) => assert!(why.contains("250 abcd\\x00"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn rejects_over_long_lines() {
        let mut input = b"250 ".to_vec();
        input.resize(MAX_LINE_BYTES - 2, b'x');
        input.extend_from_slice(b"\r\n");
        assert!(
            read(&input).await.is_ok(),
            "a line of exactly the bound is fine"
        );
        input.insert(5, b'x');
        bad_reply(&input, "line longer").await;
        bad_reply(&vec![b'2'; 100_000], "line longer").await;
    }

    #[tokio::test]
    async fn rejects_too_many_lines() {
        let mut input = b"250-x\r\n".repeat(MAX_REPLY_LINES - 1);
        input.extend_from_slice(b"250 x\r\n");
        assert_eq!(
            read(&input).await.ok().map(|r| r.lines.len()),
            Some(MAX_REPLY_LINES)
        );
        let mut input = b"250-x\r\n".repeat(MAX_REPLY_LINES);
        input.extend_from_slice(b"250 x\r\n");
        bad_reply(&input, "more than 1000 lines").await;
    }

    #[tokio::test]
    async fn rejects_too_many_bytes() {
        let mut line = b"250-".to_vec();
        line.resize(1022, b'x');
        line.extend_from_slice(b"\r\n");
        let input = line.repeat(MAX_REPLY_BYTES / line.len() + 1);
        bad_reply(&input, "reply longer than 65536").await;
    }

    #[tokio::test]
    async fn eof_before_a_complete_reply_is_closed() {
        for input in [
            &b""[..],
            b"250-a\r\n",
            b"250 no line end",
            b"250-a\r\n250 b",
        ] {
            assert!(
                matches!(read(input).await, Err(SmtpError::Closed)),
                "{input:?}"
            );
        }
    }

    #[tokio::test]
    async fn taps_each_line_in_order_with_its_ending() {
        let tap = Recorder::default();
        let mut r: &[u8] = b"250-a\r\n250 b\n";
        assert!(read_reply(&mut r, &tap).await.is_ok());
        assert_eq!(
            tap.take(),
            vec![
                (Direction::FromServer, b"250-a\r\n".to_vec()),
                (Direction::FromServer, b"250 b\n".to_vec())
            ]
        );
    }
}
