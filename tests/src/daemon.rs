//! [`TestDaemon`]: the real `smtp32d` binary on a private socket, one per test.
//!
//! Each daemon gets its own temporary folder holding its socket, its captured stderr and its
//! state directory (`$STATE_DIRECTORY`, where its mail queue lives unless `queue.dir` says). It is
//! ready when a client can connect, shake hands, get a ping answered and see this daemon's PID in
//! the status (polled, 10 s deadline);
//! if the process exits first, the start fails at once and shows what the daemon printed.
//! Dropping the fixture stops the daemon by PID and reaps it. Variables starting with
//! `SMTP32` are removed from the daemon's environment so the caller's shell can't leak into it.

use crate::paths::daemon_binary;
use crate::process::ChildGuard;
use crate::raw::RawClient;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const READY_DEADLINE: Duration = Duration::from_secs(10);

/// How to start a daemon.
#[derive(Debug, Clone, Default)]
pub struct DaemonOptions {
    /// Environment variables for the daemon, e.g. `("SMTP32D_TIMEOUT", "5")`.
    pub env: Vec<(String, String)>,
    /// Text of a TOML config file, written to the daemon's folder and passed with `--config`.
    pub config: Option<String>,
    /// Extra command-line arguments.
    pub args: Vec<String>,
    /// Listen here instead of a fresh path in the daemon's own folder.
    pub socket: Option<PathBuf>,
}

impl DaemonOptions {
    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Listens on `path` instead of a fresh one.
    pub fn socket(mut self, path: &Path) -> Self {
        self.socket = Some(path.to_path_buf());
        self
    }

    /// Sets the config file's text.
    pub fn config(mut self, toml: &str) -> Self {
        self.config = Some(toml.to_string());
        self
    }
}

/// Why a daemon did not become ready.
#[derive(Debug)]
pub struct StartFailure {
    /// The exit status, when the daemon exited (None: it was still running at the deadline).
    pub status: Option<ExitStatus>,
    /// What it printed on stderr.
    pub stderr: String,
}

/// A running `smtp32d`, stopped by PID on drop.
pub struct TestDaemon {
    child: ChildGuard,
    dir: TempDir,
    socket: PathBuf,
}

impl TestDaemon {
    /// Starts a daemon with the embedded defaults.
    pub fn start() -> TestDaemon {
        Self::start_with(DaemonOptions::default())
    }

    /// Starts a daemon with `opts`; panics (showing its stderr) if it does not become ready.
    pub fn start_with(opts: DaemonOptions) -> TestDaemon {
        match Self::try_start(opts) {
            Ok(d) => d,
            Err(f) => panic!(
                "smtp32d did not start (exit: {:?}); its stderr:\n{}",
                f.status, f.stderr
            ),
        }
    }

    /// Starts a daemon, returning how it failed instead of panicking (for tests of bad config).
    pub fn try_start(opts: DaemonOptions) -> Result<TestDaemon, StartFailure> {
        let binary = daemon_binary();
        let dir = tempfile::Builder::new()
            .prefix("smtp32d-test-")
            .tempdir()
            .expect("tempdir");
        let socket = opts
            .socket
            .clone()
            .unwrap_or_else(|| dir.path().join("smtp32d.sock"));
        let stderr_path = dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut cmd = Command::new(&binary);
        cmd.arg("--socket").arg(&socket);
        // Always a file of its own: a test daemon never reads the host's
        // /etc/smtp32d/smtp32d.toml (the package test installs one meanwhile).
        if !opts.args.iter().any(|a| a == "--config") {
            let path = dir.path().join("smtp32d.toml");
            let text = opts
                .config
                .as_deref()
                .unwrap_or("# the embedded defaults\n");
            std::fs::write(&path, text).expect("write config");
            cmd.arg("--config").arg(path);
        }
        cmd.args(&opts.args);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("SMTP32") {
                cmd.env_remove(key);
            }
        }
        // The state directory (the mail queue's default home) inside the daemon's folder.
        cmd.env("STATE_DIRECTORY", dir.path().join("state"));
        cmd.envs(opts.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let mut child = ChildGuard::spawn("smtp32d", &mut cmd);
        let deadline = Instant::now() + READY_DEADLINE;
        let mut last = String::from("socket not created yet");
        loop {
            if let Some(status) = child.try_exit() {
                let stderr = read_log(&stderr_path);
                return Err(StartFailure {
                    status: Some(status),
                    stderr,
                });
            }
            if socket.exists() {
                // The PID check makes sure we talk to this daemon, not to one that owned the
                // socket path before.
                match RawClient::try_ready(&socket, Duration::from_secs(2)) {
                    Ok(pid) if pid == child.pid() => return Ok(TestDaemon { child, dir, socket }),
                    Ok(pid) => last = format!("the socket is served by another daemon (pid {pid})"),
                    Err(e) => last = e,
                }
            }
            if Instant::now() >= deadline {
                child.kill();
                let stderr = format!(
                    "{}\n(not ready within {READY_DEADLINE:?}: {last})",
                    read_log(&stderr_path)
                );
                return Err(StartFailure {
                    status: None,
                    stderr,
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The daemon's socket path (what `SMTP32_SOCKET` should say for C programs).
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// The daemon's folder (socket, config, stderr log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// What the daemon has printed on stderr so far.
    pub fn stderr(&self) -> String {
        read_log(&self.dir.path().join("stderr.log"))
    }

    /// A new client connection through the Rust client library.
    pub fn client(&self) -> smtp32::Client {
        smtp32::Client::connect(&self.socket).unwrap_or_else(|e| {
            panic!(
                "client cannot connect to the test daemon: {e:?}\nstderr:\n{}",
                self.stderr()
            )
        })
    }

    /// A raw frame-level connection that has completed the handshake.
    pub fn raw(&self) -> RawClient {
        RawClient::connect_hello(&self.socket)
    }

    /// Panics unless this daemon still answers on its socket (handshake, ping, own PID).
    pub fn assert_serving(&self) {
        match RawClient::try_ready(&self.socket, Duration::from_secs(5)) {
            Ok(pid) => assert_eq!(pid, self.pid(), "the socket is served by another process"),
            Err(e) => panic!(
                "the daemon does not serve any more: {e}\nstderr:\n{}",
                self.stderr()
            ),
        }
    }

    /// Whether the daemon process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_exit().is_none()
    }

    /// SIGKILLs the daemon and reaps it.
    pub fn kill(&mut self) -> ExitStatus {
        self.child.kill()
    }

    /// Asks the daemon to stop (SIGTERM), SIGKILLs it after `grace`, and reaps it.
    pub fn stop(&mut self, grace: Duration) -> ExitStatus {
        self.child.stop(grace)
    }
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| format!("<cannot read {}: {e}>", path.display()))
}
