//! The processes a run needs: Postfix `smtp-sink`, `smtp32d` on a private
//! socket, and the knobs every process inherits (CPU pinning, the fd limit).
//!
//! Every child gets `PR_SET_PDEATHSIG`, so a bench killed with ^C takes its
//! sink, daemon and workers with it; [`Child`] stops its process by PID on drop.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The fd limit the bench sets for itself and so for every child it starts.
pub const NOFILE: u64 = 65_536;

/// Pins this process (and so every child started after) to `cpu`.
pub fn pin_to(cpu: usize) -> Result<()> {
    // SAFETY: a zeroed cpu_set_t is the empty set; the libc macros only touch it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            bail!(
                "sched_setaffinity(cpu {cpu}): {}",
                std::io::Error::last_os_error()
            );
        }
    }
    // Threads already running (none of ours yet) would keep their mask; the
    // main thread's mask is what children and new threads inherit.
    Ok(())
}

/// Raises RLIMIT_NOFILE to [`NOFILE`] (root may raise the hard limit; others
/// get as far as their hard limit). Returns the soft limit now in force.
pub fn raise_nofile() -> u64 {
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        let want = libc::rlimit {
            rlim_cur: NOFILE,
            rlim_max: NOFILE.max(lim.rlim_max),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &want) != 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur
    }
}

/// A child process stopped (SIGTERM, then SIGKILL) and reaped on drop.
pub struct Child {
    inner: std::process::Child,
    name: &'static str,
}

impl Child {
    /// Spawns `cmd` so that it dies with the bench.
    pub fn spawn(name: &'static str, cmd: &mut Command) -> Result<Child> {
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let inner = cmd
            .spawn()
            .with_context(|| format!("cannot start {name} ({:?})", cmd.get_program()))?;
        Ok(Child { inner, name })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.inner.id()
    }

    /// The child's standard streams, as piped at spawn.
    pub fn inner(&mut self) -> &mut std::process::Child {
        &mut self.inner
    }

    /// Fails when the child has already exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.inner.try_wait()? {
            bail!("{} exited: {status}", self.name);
        }
        Ok(())
    }

    /// Waits for the child to exit on its own.
    pub fn wait(mut self) -> Result<std::process::ExitStatus> {
        let status = self.inner.wait()?;
        Ok(status)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.inner.try_wait() {
            return;
        }
        // SAFETY: signalling our own child by its pid; it is not reaped yet, so the pid is still ours.
        unsafe { libc::kill(self.inner.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.inner.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.inner.kill();
        let _ = self.inner.wait();
    }
}

/// Resident set size of `pid` in KiB (VmRSS).
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS line")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("VmRSS value")?
        .parse()?)
}

/// The peak resident set (`VmHWM`) of process `pid`, in KiB.
pub fn peak_rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("no VmHWM line")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("VmHWM value")?
        .parse()?)
}

/// Resets the peak resident set of process `pid` (ours) to its current RSS.
pub fn reset_peak_rss(pid: u32) -> Result<()> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .with_context(|| format!("cannot reset the peak RSS of process {pid}"))
}

/// A running Postfix `smtp-sink` on a loopback port.
pub struct Sink {
    /// Stopped on drop.
    _child: Child,
    addr: SocketAddr,
}

impl Sink {
    /// Starts `smtp-sink` on a free loopback port: up to `max_sessions`
    /// simultaneous sessions, an hour of idle time per session (idle
    /// connections of W5/W6 must stay), nothing written to disk.
    pub fn start(program: &Path, max_sessions: usize) -> Result<Sink> {
        let mut last = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
                .local_addr()?
                .port();
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let mut cmd = Command::new(program);
            // SAFETY: getuid cannot fail.
            if unsafe { libc::getuid() } == 0 {
                cmd.args(["-u", "nobody"]);
            }
            let name = format!("sink-{}-{port}.bench", std::process::id());
            cmd.args(["-h", &name, "-m", &max_sessions.to_string(), "-t", "3600"])
                .arg(addr.to_string())
                .arg("4096")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            let mut child = Child::spawn("smtp-sink", &mut cmd)?;
            match wait_greeting(&mut child, addr, &name) {
                Ok(()) => {
                    return Ok(Sink {
                        _child: child,
                        addr,
                    })
                }
                Err(e) => {
                    let mut err = String::new();
                    if let Some(mut s) = child.inner().stderr.take() {
                        let _ = s.read_to_string(&mut err);
                    }
                    last = format!("{e:#}; stderr: {err}");
                }
            }
        }
        bail!("smtp-sink did not come up: {last}")
    }

    /// Where the sink listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Polls `addr` until it greets with our sink's name (a benchmark, not a
/// test: a short poll is the simplest readiness check the sink allows).
fn wait_greeting(child: &mut Child, addr: SocketAddr, name: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        child.check_alive()?;
        if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            s.set_read_timeout(Some(Duration::from_secs(2)))?;
            let mut line = String::new();
            BufReader::new(&s).read_line(&mut line)?;
            if line.starts_with("220") && line.contains(name) {
                return Ok(());
            }
            bail!("{addr} answered {line:?}: another server took the port");
        }
        if Instant::now() > deadline {
            bail!("no greeting on {addr} within 10 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A running `smtp32d` on a private socket.
pub struct Daemon {
    child: Child,
    socket: PathBuf,
}

impl Daemon {
    /// Starts `binary` on a socket in `dir` with an empty config file (the
    /// built-in defaults), connection limits raised for W5/W6, and waits for
    /// its `READY=1` on a private `NOTIFY_SOCKET`.
    pub fn start(binary: &Path, dir: &Path, max_connections: usize) -> Result<Daemon> {
        let socket = dir.join("smtp32d.sock");
        let config = dir.join("smtp32d.toml");
        std::fs::write(&config, "")?;
        let notify_path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&notify_path);
        let notify = UnixDatagram::bind(&notify_path)?;
        notify.set_read_timeout(Some(Duration::from_millis(200)))?;
        let mut cmd = Command::new(binary);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("SMTP32") {
                cmd.env_remove(key);
            }
        }
        let limit = max_connections.to_string();
        cmd.arg("--socket")
            .arg(&socket)
            .arg("--config")
            .arg(&config)
            .env("SMTP32D_MAX_CONNECTIONS", &limit)
            .env("SMTP32D_MAX_CONNECTIONS_PER_CLIENT", &limit)
            .env("NOTIFY_SOCKET", &notify_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("smtp32d.stderr"))?);
        let mut child = Child::spawn("smtp32d", &mut cmd)?;
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buf = [0u8; 256];
        loop {
            child.check_alive().with_context(|| {
                std::fs::read_to_string(dir.join("smtp32d.stderr")).unwrap_or_default()
            })?;
            if let Ok(n) = notify.recv(&mut buf) {
                if String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .any(|l| l == "READY=1")
                {
                    return Ok(Daemon { child, socket });
                }
            }
            if Instant::now() > deadline {
                bail!("smtp32d sent no READY=1 within 20 s");
            }
        }
    }

    /// The daemon's socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }
}
