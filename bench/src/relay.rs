//! The relay: the floor of a daemon in between, for every workload that has
//! one (W1–W4, W6, W7).
//!
//! A `relay` worker process listens on a Unix socket and, for every
//! connection it accepts, opens one to an SMTP server and copies bytes both
//! ways, with no framing, no parsing and no copy of its own. It is built as
//! smtp32d is, and as any daemon serving many programs must be: one
//! event-driven (tokio, epoll) thread per CPU, each serving the connections
//! handed to it in turn. The raw client then talks SMTP through it, so a row
//! through the relay measures one more process, its wake-ups and two more
//! socket copies of every byte, which is what a daemon adds at the least;
//! smtp32d also frames, decodes and dot-stuffs, and speaks SMTP itself.
//!
//! Started with `--least`, the same process is the least daemon instead
//! ([`crate::least`]): the floor of a one-call send.

use crate::raw::Raw;
use crate::worker::Worker;
use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// Bytes a relay read takes at most, for small messages and NOOPs.
pub const SMALL_READS: usize = 16 * 1024;
/// Bytes a relay read takes at most, for one large message.
pub const LARGE_READS: usize = 1 << 20;

/// How many threads a relay serves its connections on, when not told: one
/// per CPU, as smtp32d's arbiters.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// What the relay process does with each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serve {
    /// Copies bytes both ways, reading at most this many at a time.
    Copy(usize),
    /// Serves one-call sends as the least daemon.
    Least,
}

/// In the worker: listens on `path` and serves each connection with the
/// server `to[k % to.len()]` (the k-th accepted) on one of `threads`
/// threads, as `serve` says, until stdin closes.
pub fn run(path: &Path, to: Vec<SocketAddr>, serve: Serve, threads: usize) -> Result<()> {
    anyhow::ensure!(!to.is_empty(), "relay needs a server to relay to");
    anyhow::ensure!(threads > 0, "relay needs a thread");
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    let handoff = (0..threads)
        .map(|_| serve_thread(serve))
        .collect::<Result<Vec<_>>>()?;
    // The bench ends the relay by closing its stdin.
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0)
    });
    crate::worker::say("ready")?;
    for (k, local) in listener.incoming().enumerate() {
        let server = to[k % to.len()];
        handoff[k % threads]
            .send((local?, server))
            .map_err(|_| anyhow::anyhow!("relay thread ended"))?;
    }
    Ok(())
}

/// One thread with a current-thread tokio runtime; serves each connection
/// sent to it on a task of its own.
fn serve_thread(serve: Serve) -> Result<mpsc::UnboundedSender<(UnixStream, SocketAddr)>> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(UnixStream, SocketAddr)>();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    std::thread::spawn(move || {
        runtime.block_on(async move {
            while let Some((local, server)) = rx.recv().await {
                tokio::spawn(async move {
                    let served = match serve {
                        Serve::Copy(buf) => relay_one(local, server, buf).await,
                        Serve::Least => crate::least::serve(local, server).await,
                    };
                    if let Err(e) = served {
                        eprintln!("relay to {server}: {e:#}");
                    }
                });
            }
        })
    });
    Ok(tx)
}

async fn relay_one(local: UnixStream, server: SocketAddr, buf: usize) -> Result<()> {
    local.set_nonblocking(true)?;
    let mut local = tokio::net::UnixStream::from_std(local)?;
    let mut remote = tokio::net::TcpStream::connect(server)
        .await
        .with_context(|| format!("connect {server}"))?;
    remote.set_nodelay(true)?;
    tokio::io::copy_bidirectional_with_sizes(&mut local, &mut remote, buf, buf).await?;
    Ok(())
}

/// A relay process seen from the bench.
pub struct Relay {
    path: PathBuf,
    worker: Worker,
}

impl Relay {
    /// Starts a relay worker listening on `path` (a fresh path in the
    /// bench's directory) and relaying to `to`, round robin, on one thread a CPU.
    pub fn start(path: &Path, to: &[SocketAddr], buf: usize) -> Result<Relay> {
        Relay::start_on(path, to, Serve::Copy(buf), default_threads())
    }

    /// The least daemon ([`crate::least`]) listening on `path`, sending to
    /// `to`, round robin, on one thread a CPU.
    pub fn start_least(path: &Path, to: &[SocketAddr]) -> Result<Relay> {
        Relay::start_on(path, to, Serve::Least, default_threads())
    }

    /// The same on `threads` threads, serving as `serve` says.
    pub fn start_on(path: &Path, to: &[SocketAddr], serve: Serve, threads: usize) -> Result<Relay> {
        let mut args = vec![
            "relay".to_string(),
            "--path".into(),
            path.display().to_string(),
            "--threads".into(),
            threads.to_string(),
        ];
        match serve {
            Serve::Copy(buf) => args.extend(["--buf".into(), buf.to_string()]),
            Serve::Least => args.push("--least".into()),
        }
        for addr in to {
            args.push("--to".into());
            args.push(addr.to_string());
        }
        let mut worker = Worker::spawn(&args)?;
        worker.ready().context("the relay did not start")?;
        Ok(Relay {
            path: path.to_owned(),
            worker,
        })
    }

    /// The socket programs connect to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A raw SMTP connection through the relay, past EHLO.
    pub fn connect(&self) -> Result<Raw> {
        Raw::through(UnixStream::connect(&self.path)?)
    }

    /// Stops the relay (its connections end with it).
    pub fn finish(self) -> Result<()> {
        self.worker.finish()
    }
}
