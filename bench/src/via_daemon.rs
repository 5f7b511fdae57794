//! The smtp32 rows: the same messages sent through `smtp32d` with each of
//! the client library's send paths.
//!
//! `sendmsg` and `send_many` are compiled in only when the client library
//! has them with the signature used here (`build.rs` looks; see there), so
//! the bench builds at every point of their development and their rows read
//! "n/a" until then.

use crate::raw::{FROM, TO};
use anyhow::{anyhow, Result};
use smtp32::{Client, Connection};
use std::time::{Duration, Instant};

/// How a message goes through the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// `mail` + `rcpt` + `data_buf` + `data_end`: four IPC round trips.
    PerCall,
    /// `sendmsg`: one IPC round trip, the envelope pipelined.
    SendMsg,
    /// `send_many`: one IPC request for many messages, each envelope
    /// pipelined behind the previous message's content.
    Batch,
}

impl Path {
    /// The row label.
    pub fn label(self) -> &'static str {
        match self {
            Path::PerCall => "smtp32 per-call (mail/rcpt/data_buf/data_end)",
            Path::SendMsg => "smtp32 sendmsg",
            Path::Batch => "smtp32 send_many (batched)",
        }
    }

    /// The command-line name (worker arguments).
    pub fn name(self) -> &'static str {
        match self {
            Path::PerCall => "per-call",
            Path::SendMsg => "sendmsg",
            Path::Batch => "batch",
        }
    }

    /// Parses [`Path::name`].
    pub fn parse(s: &str) -> Option<Path> {
        [Path::PerCall, Path::SendMsg, Path::Batch]
            .into_iter()
            .find(|p| p.name() == s)
    }

    /// False when this client library lacks the call (the row reads "n/a").
    pub fn available(self) -> bool {
        match self {
            Path::PerCall => true,
            Path::SendMsg => cfg!(has_sendmsg),
            Path::Batch => cfg!(has_send_many),
        }
    }
}

/// Opens one SMTP connection through `client`.
pub fn open(client: &Client, host: &str) -> Result<Connection> {
    Ok(client.helo(host, "smtp32.bench", None)?)
}

/// Sends `n` copies of `msg` on `conn` along `path`; returns the elapsed time.
pub fn send(conn: &Connection, path: Path, msg: &[u8], n: usize) -> Result<Duration> {
    let start = Instant::now();
    match path {
        Path::PerCall => {
            for _ in 0..n {
                conn.mail(FROM)?;
                conn.rcpt(TO)?;
                conn.data_buf(msg)?;
                conn.data_end()?;
            }
        }
        Path::SendMsg => send_msg(conn, msg, n)?,
        Path::Batch => send_batch(conn, msg, n)?,
    }
    Ok(start.elapsed())
}

#[cfg(has_sendmsg)]
fn send_msg(conn: &Connection, msg: &[u8], n: usize) -> Result<()> {
    for _ in 0..n {
        let report = conn.sendmsg(FROM, &[TO], msg)?;
        if !report.is_delivered() {
            return Err(anyhow!("sendmsg not delivered: {report:?}"));
        }
    }
    Ok(())
}

#[cfg(not(has_sendmsg))]
fn send_msg(_: &Connection, _: &[u8], _: usize) -> Result<()> {
    Err(anyhow!("this smtp32 has no Connection::sendmsg"))
}

#[cfg(has_send_many)]
fn send_batch(conn: &Connection, msg: &[u8], n: usize) -> Result<()> {
    let rcpts = [TO];
    let messages = (0..n).map(|_| smtp32::Outgoing {
        from: FROM,
        rcpts: &rcpts,
        data: msg,
    });
    for (i, result) in conn.send_many(messages)?.into_iter().enumerate() {
        result.map_err(|e| anyhow!("message {i} of the batch: {e}"))?;
    }
    Ok(())
}

#[cfg(not(has_send_many))]
fn send_batch(_: &Connection, _: &[u8], _: usize) -> Result<()> {
    Err(anyhow!("this smtp32 has no Connection::send_many"))
}

/// One message of `chunks` through `data_buf` (one call per chunk) and `data_end`.
pub fn send_large(conn: &Connection, chunks: &[Vec<u8>]) -> Result<Duration> {
    let start = Instant::now();
    conn.mail(FROM)?;
    conn.rcpt(TO)?;
    for c in chunks {
        conn.data_buf(c)?;
    }
    conn.data_end()?;
    Ok(start.elapsed())
}
