//! Worker processes: the bench re-executes itself (`smtp32-bench worker ...`)
//! for the loads that need several client processes (W2, W6), for the
//! far end of the Unix-socket ping-pong (W4) and for the relay (the floor of
//! a daemon, [`crate::relay`]).
//!
//! A worker talks to the bench over its stdin/stdout, one line at a time:
//! it sets up (connects, opens its SMTP connections), prints `ready`, waits
//! for `go`, does its work, prints its result and, for `hold`, keeps its
//! connections open until its stdin closes. The pipes are the only
//! synchronisation; nothing sleeps.

use crate::procs::Child;
use crate::raw::Raw;
use crate::via_daemon::{self, Path as SendPath};
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use smtp32::Client;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

/// What a worker does.
#[derive(Subcommand, Debug, Clone)]
pub enum Job {
    /// Echo 64-byte frames on the Unix socket at PATH until it closes.
    Echo {
        /// The socket to connect to.
        path: PathBuf,
        /// Wait for each frame in epoll (tokio), as a daemon does, instead
        /// of in a blocking read.
        #[arg(long)]
        epoll: bool,
    },
    /// Open CONNS connections through the daemon and send MSGS messages on each, one thread per connection.
    Send {
        #[arg(long)]
        socket: PathBuf,
        #[arg(long)]
        host: String,
        #[arg(long)]
        conns: usize,
        #[arg(long)]
        msgs: usize,
        #[arg(long)]
        size: usize,
        /// per-call, sendmsg or batch.
        #[arg(long)]
        path: String,
    },
    /// Ping the daemon at SOCKET N times (IPC only; for callgrind).
    Ping {
        #[arg(long)]
        socket: PathBuf,
        #[arg(long)]
        n: usize,
    },
    /// Send MSGS messages of SIZE bytes to the least daemon at SOCKET (a
    /// relay worker started with `--least`), one request a message, or as
    /// many as a frame holds with `--batched` (for callgrind).
    LeastSend {
        #[arg(long)]
        socket: PathBuf,
        #[arg(long)]
        msgs: usize,
        #[arg(long)]
        size: usize,
        #[arg(long)]
        batched: bool,
    },
    /// Listen on PATH and relay each connection to an SMTP server TO (one
    /// `--to` each, round robin) on THREADS threads, reading BUF bytes at
    /// most: the floor of a daemon. With `--least`, serve one-call sends
    /// as the least daemon instead: the floor of `sendmsg` and `send_many`.
    Relay {
        #[arg(long)]
        path: PathBuf,
        #[arg(long, required = true)]
        to: Vec<std::net::SocketAddr>,
        #[arg(long, required_unless_present = "least")]
        buf: Option<usize>,
        #[arg(long, conflicts_with = "buf")]
        least: bool,
        #[arg(long)]
        threads: usize,
    },
    /// Open CONNS connections through the daemon at SOCKET to HOST (with
    /// `--direct`: with the raw client, on TCP to HOST itself; with
    /// `--relay`: with the raw client, through the relay at SOCKET); at each
    /// `go`, time NOOPS NOOPs cycling over them, one every INTERVAL_US
    /// microseconds.
    Hold {
        /// The daemon's socket, or with `--relay` the relay's; not used with `--direct`.
        #[arg(long, required_unless_present = "direct")]
        socket: Option<PathBuf>,
        #[arg(long)]
        host: String,
        /// Connect to HOST directly with the raw client, not through the daemon.
        #[arg(long, conflicts_with = "relay")]
        direct: bool,
        /// SOCKET is a relay's: connect through it with the raw client.
        #[arg(long)]
        relay: bool,
        #[arg(long)]
        conns: usize,
        #[arg(long)]
        noops: usize,
        #[arg(long)]
        interval_us: u64,
    },
}

/// Runs `job` in this (worker) process.
pub fn run(job: Job) -> Result<()> {
    match job {
        Job::Echo { path, epoll: false } => echo(&path),
        Job::Echo { path, epoll: true } => echo_epoll(&path),
        Job::Ping { socket, n } => {
            let client = Client::connect(&socket)?;
            for _ in 0..n {
                client.ping(&[7u8; 16])?;
            }
            Ok(())
        }
        Job::LeastSend {
            socket,
            msgs,
            size,
            batched,
        } => {
            let mut least = crate::least::Least::connect(&socket)?;
            let msg = crate::raw::message(size);
            if batched {
                least.send_batched(&msg, msgs)?;
            } else {
                least.send_each(&msg, msgs)?;
            }
            Ok(())
        }
        Job::Relay {
            path,
            to,
            buf,
            least: _,
            threads,
        } => {
            // clap lets exactly one of `--buf` and `--least` through.
            let serve = buf.map_or(crate::relay::Serve::Least, crate::relay::Serve::Copy);
            crate::relay::run(&path, to, serve, threads)
        }
        Job::Send {
            socket,
            host,
            conns,
            msgs,
            size,
            path,
        } => {
            let path = SendPath::parse(&path).context("unknown send path")?;
            let client = Client::connect(&socket)?;
            let msg = crate::raw::message(size);
            let opened = (0..conns)
                .map(|_| via_daemon::open(&client, &host))
                .collect::<Result<Vec<_>>>()?;
            wait_for_go()?;
            let results: Vec<Result<()>> = std::thread::scope(|s| {
                let handles: Vec<_> = opened
                    .iter()
                    .map(|conn| s.spawn(|| via_daemon::send(conn, path, &msg, msgs).map(|_| ())))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|_| bail!("sender panicked")))
                    .collect()
            });
            results.into_iter().collect::<Result<()>>()?;
            say("done")?;
            Ok(())
        }
        Job::Hold {
            socket,
            host,
            direct,
            relay,
            conns,
            noops,
            interval_us,
        } => {
            let mut held = if direct {
                let addr = host.parse().context("--direct needs HOST as IP:PORT")?;
                Held::Raw(
                    (0..conns)
                        .map(|_| Raw::connect(addr))
                        .collect::<Result<_>>()?,
                )
            } else if relay {
                let socket = socket.context("--relay needs --socket")?;
                Held::Raw(
                    (0..conns)
                        .map(|_| Raw::through(UnixStream::connect(&socket)?))
                        .collect::<Result<_>>()?,
                )
            } else {
                let client = Client::connect(socket.context("hold needs --socket")?)?;
                Held::Daemon(
                    (0..conns)
                        .map(|_| via_daemon::open(&client, &host))
                        .collect::<Result<_>>()?,
                )
            };
            say("ready")?;
            // One round per `go`; the connections stay open until stdin closes.
            let mut lat = Vec::with_capacity(noops);
            let mut next = 0;
            while read_go()? {
                lat.clear();
                // A steady rate, not a closed loop: the load is the same
                // whatever the latency, and a late NOOP does not push the next.
                let interval = std::time::Duration::from_micros(interval_us);
                let mut due = Instant::now();
                for _ in 0..noops {
                    due += interval;
                    let start = Instant::now();
                    held.noop(next % conns)?;
                    lat.push(start.elapsed().as_secs_f64() * 1e6);
                    next += 1;
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
                let line: Vec<String> = lat.iter().map(|v| format!("{v:.1}")).collect();
                say(&format!("lat {}", line.join(" ")))?;
            }
            Ok(())
        }
    }
}

/// The connections a `hold` worker keeps open.
enum Held {
    /// Through the daemon.
    Daemon(Vec<smtp32::Connection>),
    /// With the raw client, on TCP to the sink or through a relay.
    Raw(Vec<Raw>),
}

impl Held {
    /// One NOOP round trip on connection `i`.
    fn noop(&mut self, i: usize) -> Result<()> {
        match self {
            Held::Daemon(conns) => conns[i].noop().map(|_| ()).map_err(Into::into),
            Held::Raw(conns) => conns[i].noop().map(|_| ()),
        }
    }
}

/// One line to the bench.
pub fn say(line: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

fn wait_for_go() -> Result<()> {
    say("ready")?;
    if !read_go()? {
        bail!("stdin closed before go");
    }
    Ok(())
}

/// True for a `go` line, false when stdin is closed.
fn read_go() -> Result<bool> {
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line)? == 0 {
        return Ok(false);
    }
    if line.trim() != "go" {
        bail!("expected go, got {line:?}");
    }
    Ok(true)
}

fn echo(path: &std::path::Path) -> Result<()> {
    let mut s = UnixStream::connect(path)?;
    let mut buf = [0u8; 64];
    loop {
        match s.read_exact(&mut buf) {
            Ok(()) => s.write_all(&buf)?,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// [`echo`] as a daemon would: a current-thread tokio runtime waits for
/// each frame in epoll.
fn echo_epoll(path: &std::path::Path) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = UnixStream::connect(path)?;
    s.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async move {
        let mut s = tokio::net::UnixStream::from_std(s)?;
        let mut buf = [0u8; 64];
        loop {
            match s.read_exact(&mut buf).await {
                Ok(_) => s.write_all(&buf).await?,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    })
}

/// A worker process seen from the bench.
pub struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    /// Starts `smtp32-bench worker ARGS...`.
    pub fn spawn(args: &[String]) -> Result<Worker> {
        let exe = std::env::current_exe()?;
        let mut cmd = Command::new(exe);
        cmd.arg("worker")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = Child::spawn("bench worker", &mut cmd)?;
        let stdin = child.inner().stdin.take();
        let stdout = BufReader::new(child.inner().stdout.take().context("worker stdout")?);
        Ok(Worker {
            child,
            stdin,
            stdout,
        })
    }

    /// The next line the worker prints; an error when it exits first.
    pub fn line(&mut self) -> Result<String> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            self.child.check_alive()?;
            bail!("worker closed its stdout");
        }
        Ok(line.trim_end().to_owned())
    }

    /// Waits for the worker's `ready`.
    pub fn ready(&mut self) -> Result<()> {
        let line = self.line()?;
        if line != "ready" {
            bail!("worker said {line:?} instead of ready");
        }
        Ok(())
    }

    /// Tells the worker to start.
    pub fn go(&mut self) -> Result<()> {
        let stdin = self.stdin.as_mut().context("worker stdin closed")?;
        stdin.write_all(b"go\n")?;
        stdin.flush()?;
        Ok(())
    }

    /// Closes the worker's stdin (a `hold` worker then closes its
    /// connections and exits) and waits for it.
    pub fn finish(mut self) -> Result<()> {
        drop(self.stdin.take());
        let status = self.child.wait()?;
        if !status.success() {
            bail!("worker failed: {status}");
        }
        Ok(())
    }
}
