//! The least daemon: the floor of a one-call send through any daemon.
//!
//! The relay is an estimate from above for smtp32's one-call sends, not a
//! floor: the raw client talking SMTP through it crosses the Unix socket
//! once for every SMTP round trip, two a message pipelined, where `sendmsg`
//! crosses it once a message and `send_many` once a batch. The least daemon
//! does what any daemon must for a one-call send and nothing more. It reads
//! one request from its Unix socket (a count, then each message with its
//! length, already transparent), sends the messages on its own SMTP
//! connection as smtp32d does (the envelope pipelined, then the content
//! with its dot; each content after the first batched with the next
//! envelope), and answers with one byte: no framing library, no parsing of
//! the message, no actor, no log. It runs in the relay's process, built as
//! the relay is: one tokio thread per CPU.

use crate::raw::{envelope, expect_code, last_reply_line};
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// Request bytes smtp32 puts in one frame at most (its `send_many` batches
/// split at the frame limit): the least daemon's batches are as large.
const BATCH_BYTES: usize = 4 << 20;

/// In the relay process: serves one program's connection until it closes.
pub async fn serve(local: UnixStream, server: SocketAddr) -> Result<()> {
    local.set_nonblocking(true)?;
    // Requests are read through a buffer, as smtp32d reads its frames: a
    // batch's lengths and messages are not a read each.
    let (local, mut answers) = tokio::net::UnixStream::from_std(local)?.into_split();
    let mut local = BufReader::with_capacity(64 * 1024, local);
    let remote = TcpStream::connect(server)
        .await
        .with_context(|| format!("connect {server}"))?;
    remote.set_nodelay(true)?;
    let (read, mut write) = remote.into_split();
    let mut replies = Replies {
        reader: BufReader::with_capacity(16 * 1024, read),
        line: Vec::with_capacity(512),
    };
    replies.expect(220).await?;
    write.write_all(b"EHLO least.bench\r\n").await?;
    replies.expect(250).await?;
    let env = envelope();
    let (mut request, mut ends, mut out) = (Vec::new(), Vec::new(), Vec::new());
    loop {
        let count = match local.read_u32_le().await {
            Ok(count) => count as usize,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        request.clear();
        ends.clear();
        for _ in 0..count {
            let len = local.read_u32_le().await? as usize;
            let at = request.len();
            request.resize(at + len, 0);
            local.read_exact(&mut request[at..]).await?;
            ends.push(request.len());
        }
        let sent = send(&mut write, &mut replies, &env, &request, &ends, &mut out).await;
        answers.write_all(&[u8::from(sent.is_err())]).await?;
        sent?;
    }
}

/// The messages of `request` (each ending where `ends` says) behind one
/// pipelined envelope each, every content after the first written with the
/// next envelope.
async fn send(
    write: &mut OwnedWriteHalf,
    replies: &mut Replies,
    env: &[u8],
    request: &[u8],
    ends: &[usize],
    out: &mut Vec<u8>,
) -> Result<()> {
    write.write_all(env).await?;
    let mut start = 0;
    for (i, &end) in ends.iter().enumerate() {
        replies.expect(250).await?;
        replies.expect(250).await?;
        replies.expect(354).await?;
        out.clear();
        out.extend_from_slice(&request[start..end]);
        out.extend_from_slice(b".\r\n");
        if i + 1 < ends.len() {
            out.extend_from_slice(env);
        }
        start = end;
        write.write_all(out).await?;
        replies.expect(250).await?;
    }
    Ok(())
}

/// The server's replies, read through one buffer.
struct Replies {
    reader: BufReader<OwnedReadHalf>,
    line: Vec<u8>,
}

impl Replies {
    /// Reads one (possibly multi-line) reply and checks its code.
    async fn expect(&mut self, code: u16) -> Result<()> {
        loop {
            self.line.clear();
            if self.reader.read_until(b'\n', &mut self.line).await? == 0 {
                bail!("server closed the connection");
            }
            if let Some(got) = last_reply_line(&self.line)? {
                return expect_code(got, code);
            }
        }
    }
}

/// A program's connection to the least daemon.
pub struct Least {
    stream: UnixStream,
}

impl Least {
    /// Connects to the least daemon listening at `path`.
    pub fn connect(path: &std::path::Path) -> Result<Least> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Least { stream })
    }

    /// `n` messages, one request each (as `sendmsg`); returns the elapsed time.
    pub fn send_each(&mut self, msg: &[u8], n: usize) -> Result<Duration> {
        self.send(msg, n, 1)
    }

    /// `n` messages in requests of as many as smtp32's frame holds (as
    /// `send_many`); returns the elapsed time.
    pub fn send_batched(&mut self, msg: &[u8], n: usize) -> Result<Duration> {
        self.send(msg, n, (BATCH_BYTES / (msg.len() + 64)).max(1))
    }

    fn send(&mut self, msg: &[u8], n: usize, per_request: usize) -> Result<Duration> {
        // Every copy goes in the request, as each of smtp32's messages does.
        let request = |count: usize| {
            let mut r = Vec::with_capacity(4 + count * (4 + msg.len()));
            r.extend_from_slice(&(count as u32).to_le_bytes());
            for _ in 0..count {
                r.extend_from_slice(&(msg.len() as u32).to_le_bytes());
                r.extend_from_slice(msg);
            }
            r
        };
        let full = request(per_request);
        let start = Instant::now();
        let mut left = n;
        while left > 0 {
            let count = per_request.min(left);
            if count == per_request {
                self.stream.write_all(&full)?;
            } else {
                self.stream.write_all(&request(count))?;
            }
            let mut answer = [0u8; 1];
            self.stream.read_exact(&mut answer)?;
            if answer[0] != 0 {
                bail!("the least daemon could not send");
            }
            left -= count;
        }
        Ok(start.elapsed())
    }
}
