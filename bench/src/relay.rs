//! The relay floor for W3 and W7: what any daemon that passes a message
//! from a local socket to an SMTP server must at least pay.
//!
//! A `relay` worker process connects to a Unix socket the bench listens on
//! and to the sink, and copies bytes both ways, 1 MiB a read, with no
//! framing, no parsing and no copy of its own. The raw client then sends
//! through it, so the row measures one more process and two more socket
//! copies of every byte, which is what smtp32 adds at the least (smtp32d also
//! frames, decodes and dot-stuffs).

use crate::raw::Raw;
use crate::worker::Worker;
use anyhow::Result;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// Bytes a relay read takes at most.
const RELAY_READ_BYTES: usize = 1 << 20;

/// In the worker: relays between the Unix socket at `path` and the SMTP
/// server at `to` until both directions have ended.
pub fn run(path: &Path, to: SocketAddr) -> Result<()> {
    let local = UnixStream::connect(path)?;
    let server = TcpStream::connect(to)?;
    server.set_nodelay(true)?;
    let (local_in, server_out) = (local.try_clone()?, server.try_clone()?);
    let upstream = std::thread::spawn(move || -> Result<()> {
        copy(local_in, &server_out)?;
        server_out.shutdown(Shutdown::Write)?;
        Ok(())
    });
    copy(server, &local)?;
    local.shutdown(Shutdown::Write)?;
    upstream
        .join()
        .unwrap_or_else(|_| anyhow::bail!("relay thread panicked"))
}

fn copy(mut from: impl Read, mut to: impl Write) -> Result<()> {
    let mut buf = vec![0u8; RELAY_READ_BYTES];
    loop {
        match from.read(&mut buf)? {
            0 => return Ok(()),
            n => to.write_all(&buf[..n])?,
        }
    }
}

/// A relay process for one raw SMTP connection, seen from the bench.
pub struct Relayed {
    pub raw: Raw,
    worker: Worker,
}

impl Relayed {
    /// Starts a relay worker to `to` and greets the server through it;
    /// `path` is a fresh socket path for the bench to listen on.
    pub fn start(path: &Path, to: SocketAddr) -> Result<Relayed> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)?;
        let worker = Worker::spawn(&[
            "relay".into(),
            "--path".into(),
            path.display().to_string(),
            "--to".into(),
            to.to_string(),
        ])?;
        let (stream, _) = listener.accept()?;
        Ok(Relayed {
            raw: Raw::through(stream)?,
            worker,
        })
    }

    /// QUIT, then waits for the relay to see both directions end.
    pub fn finish(self) -> Result<()> {
        self.raw.quit();
        self.worker.finish()
    }
}
