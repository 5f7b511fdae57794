//! An `aiosmtpd` server (`tests/peers/store_server.py`) that stores every message it receives.
//!
//! The server binds port 0 itself and prints `READY <port>`, so there is no port race. For the
//! n-th message it writes `<n>.eml` (the DATA bytes after dot-unstuffing, each line with its
//! CRLF, without the final `.CRLF`) and then `<n>.json` (the envelope), each renamed into place:
//! a test waits for the `.json` file, never for time to pass.
//!
//! [`Aiosmtpd::start_with_auth`] makes it require AUTH (PLAIN or LOGIN, without TLS: loopback
//! only) for one user and password, and record who authenticated in [`StoredMessage::auth_login`].

use crate::paths::{crate_dir, venv_python};
use crate::process::ChildGuard;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const READY_DEADLINE: Duration = Duration::from_secs(15);

/// One message as the server stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The `MAIL FROM` address without angle brackets (the null sender is stored as `<>`).
    pub from: String,
    /// The `RCPT TO` addresses, in order.
    pub to: Vec<String>,
    /// The DATA bytes after dot-unstuffing, including the last line's CRLF.
    pub bytes: Vec<u8>,
    /// The user the session authenticated as (servers started with
    /// [`Aiosmtpd::start_with_auth`]); `None` without AUTH.
    pub auth_login: Option<String>,
}

/// A running store server, stopped by PID on drop.
pub struct Aiosmtpd {
    child: ChildGuard,
    addr: SocketAddr,
    dir: TempDir,
}

impl Aiosmtpd {
    /// Starts the store server and waits (with a deadline) until it listens.
    pub fn start() -> Aiosmtpd {
        Self::launch(None)
    }

    /// Starts a store server that offers AUTH PLAIN and LOGIN without TLS, accepts only
    /// `user` with `password` (535 otherwise) and refuses MAIL before AUTH (530).
    pub fn start_with_auth(user: &str, password: &str) -> Aiosmtpd {
        Self::launch(Some((user, password)))
    }

    fn launch(auth: Option<(&str, &str)>) -> Aiosmtpd {
        let python = venv_python();
        let script = crate_dir().join("peers/store_server.py");
        let dir = tempfile::Builder::new()
            .prefix("aiosmtpd-")
            .tempdir()
            .expect("tempdir");
        let store = dir.path().join("store");
        std::fs::create_dir(&store).expect("create store dir");
        let stderr_path = dir.path().join("stderr");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut cmd = Command::new(&python);
        cmd.arg("-u").arg(&script).arg(&store);
        if let Some((user, password)) = auth {
            cmd.arg("--auth").arg(format!("{user}:{password}"));
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = ChildGuard::spawn("aiosmtpd", &mut cmd);
        let stdout = child_stdout(&mut child);

        // Read the READY line on a thread so that the wait has a deadline.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let mut reader = BufReader::new(stdout);
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining so the server never blocks on a full pipe.
            let mut sink = String::new();
            while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        let line = match rx.recv_timeout(READY_DEADLINE) {
            Ok(line) => line,
            Err(_) => {
                child.kill();
                panic!(
                    "aiosmtpd did not print READY within {READY_DEADLINE:?}; stderr: {}",
                    read_log(&stderr_path)
                );
            }
        };
        let port: u16 = match line
            .trim()
            .strip_prefix("READY ")
            .and_then(|p| p.parse().ok())
        {
            Some(p) => p,
            None => {
                let status = child.wait_exit(Duration::from_secs(2));
                panic!(
                    "aiosmtpd did not start (said {line:?}, exit {status:?}); stderr: {}",
                    read_log(&stderr_path)
                );
            }
        };
        Aiosmtpd {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            dir,
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`, the host string for `smtp_helo`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The number of messages stored so far.
    pub fn message_count(&self) -> usize {
        let mut n = 0;
        while self.store().join(format!("{}.json", n + 1)).exists() {
            n += 1;
        }
        n
    }

    /// Waits until at least `n` messages are stored (panicking after `timeout`, with the
    /// server's stderr) and returns the first `n`, in arrival order.
    pub fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<StoredMessage> {
        let deadline = Instant::now() + timeout;
        while self.message_count() < n {
            if Instant::now() >= deadline {
                panic!(
                    "aiosmtpd stored {} of {n} messages within {timeout:?}; stderr: {}",
                    self.message_count(),
                    read_log(&self.dir.path().join("stderr"))
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        (1..=n).map(|i| self.message(i)).collect()
    }

    /// The i-th stored message (1-based); it must exist.
    pub fn message(&self, i: usize) -> StoredMessage {
        let meta = std::fs::read(self.store().join(format!("{i}.json"))).expect("read envelope");
        let meta: serde_json::Value = serde_json::from_slice(&meta).expect("envelope json");
        let bytes = std::fs::read(self.store().join(format!("{i}.eml"))).expect("read message");
        StoredMessage {
            from: meta["mail_from"].as_str().expect("mail_from").to_string(),
            to: meta["rcpt_tos"]
                .as_array()
                .expect("rcpt_tos")
                .iter()
                .map(|v| v.as_str().expect("rcpt").to_string())
                .collect(),
            bytes,
            auth_login: meta["auth_login"].as_str().map(str::to_string),
        }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }
}

fn child_stdout(child: &mut ChildGuard) -> std::process::ChildStdout {
    child.take_stdout().expect("aiosmtpd stdout is piped")
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| format!("<cannot read {}: {e}>", path.display()))
}
