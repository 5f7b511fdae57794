//! Postfix `smtp-sink` on a free loopback port, optionally dumping each message to a folder.
//!
//! `smtp-sink` takes the port on its command line, so the fixture picks a port that was free a
//! moment ago and retries with another if the sink does not come up on it. It is ready when a
//! TCP connect gets a `220` greeting. Faults come from the sink's own flags (`man smtp-sink`):
//! `-e` (no ESMTP), `-W EHLO:2` (delay), `-f .` (hard reject after the dot), `-Q NOOP` (421 then
//! disconnect), `-q VRFY` (disconnect without reply) and so on.

use crate::paths::required_program;
use crate::process::{free_port, is_root, ChildGuard};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const SMTP_SINK: &str = "/usr/sbin/smtp-sink";
const READY_DEADLINE: Duration = Duration::from_secs(10);

/// A running `smtp-sink`, stopped by PID on drop.
pub struct SmtpSink {
    child: ChildGuard,
    addr: SocketAddr,
    dir: TempDir,
    dumping: bool,
}

/// How to start a sink.
#[derive(Debug, Clone, Default)]
pub struct SmtpSinkOptions {
    /// Extra flags, passed before the address (e.g. `["-e"]`, `["-W", "EHLO:2"]`).
    pub flags: Vec<String>,
    /// Dump every transaction to a file in the fixture's folder, so messages can be counted.
    pub dump: bool,
    /// Listen on this loopback port (a server that comes back where it was); `None`: a free one.
    pub port: Option<u16>,
}

impl SmtpSink {
    /// Starts a plain sink that dumps messages (so [`SmtpSink::message_count`] works).
    pub fn start() -> SmtpSink {
        Self::start_with(SmtpSinkOptions {
            flags: vec![],
            dump: true,
            port: None,
        })
    }

    /// Starts a sink with extra flags, e.g. `SmtpSink::with_flags(&["-e"])`, dumping messages.
    pub fn with_flags(flags: &[&str]) -> SmtpSink {
        Self::start_with(SmtpSinkOptions {
            flags: flags.iter().map(|s| s.to_string()).collect(),
            dump: true,
            port: None,
        })
    }

    /// Starts a sink with `opts`, retrying on a port clash.
    pub fn start_with(opts: SmtpSinkOptions) -> SmtpSink {
        let program = required_program(SMTP_SINK, "postfix");
        let dir = tempfile::Builder::new()
            .prefix("smtp-sink-")
            .tempdir()
            .expect("tempdir");
        let dump_dir = dir.path().join("dump");
        if opts.dump {
            std::fs::create_dir(&dump_dir).expect("create dump dir");
            // The sink drops to `nobody` before it writes: let it into the folders.
            set_mode(dir.path(), 0o755);
            set_mode(&dump_dir, 0o777);
        }
        let mut last_err = String::new();
        for attempt in 0..5 {
            let port = opts.port.unwrap_or_else(free_port);
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let stderr = std::fs::File::create(dir.path().join(format!("stderr.{attempt}")))
                .expect("stderr file");
            let mut cmd = Command::new(program);
            if is_root() {
                cmd.args(["-u", "nobody"]);
            }
            // A name of our own in the greeting proves that the 220 came from this sink and
            // not from another server that took the port first.
            let name = format!("sink-{}-{port}.test", std::process::id());
            cmd.args(["-h", &name]);
            if opts.dump {
                cmd.arg("-d").arg(format!("{}/msg.", dump_dir.display()));
            }
            cmd.args(&opts.flags)
                .arg(format!("127.0.0.1:{port}"))
                .arg("256")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr);
            let mut child = ChildGuard::spawn("smtp-sink", &mut cmd);
            match wait_ready(&mut child, addr, &name) {
                Ok(()) => {
                    return SmtpSink {
                        child,
                        addr,
                        dir,
                        dumping: opts.dump,
                    }
                }
                Err(e) => {
                    child.kill();
                    let log = std::fs::read_to_string(dir.path().join(format!("stderr.{attempt}")))
                        .unwrap_or_default();
                    last_err = format!("{e}; smtp-sink stderr: {log}");
                }
            }
        }
        panic!("smtp-sink did not come up on a free port in 5 attempts: {last_err}");
    }

    /// The address the sink listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`, the host string for `smtp_helo`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The sink's process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The number of messages dumped so far (one file per transaction that reached the final
    /// dot; a transaction abandoned with RSET leaves none).
    pub fn message_count(&self) -> usize {
        assert!(
            self.dumping,
            "this sink was started without dump: message_count is unknown"
        );
        std::fs::read_dir(self.dir.path().join("dump"))
            .expect("read dump dir")
            .count()
    }

    /// The dump files written so far (sink headers followed by the message), in no order.
    pub fn dumps(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.dir.path().join("dump")).expect("read dump dir") {
            out.push(std::fs::read(e.expect("dir entry").path()).expect("read dump"));
        }
        out
    }

    /// Stops the sink now (SIGTERM, then SIGKILL), e.g. to make the server vanish mid-test.
    pub fn stop(&mut self) {
        self.child.stop(Duration::from_secs(2));
    }
}

/// Waits until the sink greets on `addr`, or fails early when the process exits.
fn wait_ready(child: &mut ChildGuard, addr: SocketAddr, name: &str) -> Result<(), String> {
    let deadline = Instant::now() + READY_DEADLINE;
    loop {
        if let Some(status) = child.try_exit() {
            return Err(format!("smtp-sink exited at start: {status}"));
        }
        match super::read_greeting(addr, Duration::from_millis(500)) {
            Ok(line) if line.starts_with("220") && line.contains(name) => return Ok(()),
            Ok(line) => {
                return Err(format!(
                    "unexpected greeting {line:?} on {addr} (port clash?)"
                ))
            }
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                return Err(format!(
                    "no greeting on {addr} within {READY_DEADLINE:?}: {e}"
                ))
            }
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

impl SmtpSink {
    /// The fixture's folder (stderr logs and dumps).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}
