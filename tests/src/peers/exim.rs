//! A real, fully configured MTA for the tests: a private Exim 4 on free loopback ports.
//!
//! [`Exim::start`] gives one daemon, in its own temporary folder, with:
//! - a plain SMTP port offering STARTTLS, with `AUTH PLAIN LOGIN` offered (and accepted) only
//!   after TLS unless [`EximOptions::auth_over_cleartext`]; an implicit-TLS port; both on
//!   `127.0.0.1` and, when the machine has it, `[::1]`;
//! - a throwaway CA and a server certificate it signed ([`certs`]), [`Exim::ca_cert_path`];
//! - a test user ([`Exim::user`], [`Exim::password`]) checked by a plaintext authenticator;
//! - the local domain `example.test` with mailboxes `alice`, `bob`, `carol` (and `josé`, for
//!   SMTPUTF8), an alias `team` expanding to the first three; EXPN and VRFY allowed from
//!   loopback (VRFY wants a full address: `VRFY alice` is a 501); HELP; SIZE (10 MiB unless
//!   set), 8BITMIME, PIPELINING, CHUNKING, SMTPUTF8; an unknown local user or another domain is
//!   refused at RCPT with 550. SEND/SOML/SAML/TURN are answered `500 unrecognized command`;
//! - maildir delivery into the folder, read back with [`Exim::wait_for_delivery`].
//!
//! The binary is Debian's `exim4-daemon-light`, unpacked (not installed: it conflicts with the
//! postfix that `smtp-sink` comes from) by `tests/setup/install-exim.sh` into
//! `/opt/smtp32-test-exim`, or the one named by `$SMTP32_TEST_EXIM`. When it is missing,
//! `start` fails with that hint: the test fails, it is not skipped.
//!
//! Exim, started by root with `-C`, gives up root and runs as `Debian-exim` (see the comment in
//! the configuration); the fixture hands that user the spool, log and mail folders.
//! Readiness is a `220` greeting carrying this fixture's token, polled with a deadline. The
//! daemon is stopped by PID on drop. Exim's logs are in [`Exim::dir`]`/log`, and every error of
//! the fixture quotes them (set `SMTP32_TEST_KEEP_EXIM` to keep the folder of a failed start).

pub mod certs;
mod config;
mod launch;

pub use config::{ALIAS, ALIAS_MEMBERS, DOMAIN, MAILBOXES};

use crate::process::ChildGuard;
use launch::{exim_binary, exim_ids, io, launch, prepare, read_logs};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Where `tests/setup/install-exim.sh` puts the binary.
pub const DEFAULT_EXIM: &str = "/opt/smtp32-test-exim/usr/sbin/exim4";
/// The run-time user compiled into Debian's binary.
const EXIM_USER: &str = "Debian-exim";
const READY_DEADLINE: Duration = Duration::from_secs(15);
const START_ATTEMPTS: usize = 5;

const TEST_USER: &str = "tester";
const TEST_PASSWORD: &str = "T3st-passw0rd";
const XOAUTH2_TOKEN: &str = "ya29.smtp32-test-token";

/// How to configure the daemon; [`Default`] is what [`Exim::start`] uses.
#[derive(Debug, Clone)]
pub struct EximOptions {
    /// Offer and accept AUTH on a connection without TLS too (default: only after TLS).
    pub auth_over_cleartext: bool,
    /// The SIZE limit in bytes, advertised in EHLO; 0 means none (default 10 MiB).
    pub message_size_limit: u64,
    /// Offer STARTTLS on the plain port (default true; the implicit-TLS port is always there).
    pub starttls: bool,
    /// Offer SMTPUTF8 (default true).
    pub smtputf8: bool,
    /// Offer PIPELINING and PIPECONNECT (default true).
    pub pipelining: bool,
    /// Offer CHUNKING (BDAT) (default true).
    pub chunking: bool,
    /// Also offer XOAUTH2, accepting [`Exim::user`] with the bearer token [`Exim::oauth_token`]
    /// (default false).
    pub xoauth2: bool,
    /// Extra lines for the main section of the configuration, e.g. `smtp_receive_timeout = 5s`.
    pub extra_main: Vec<String>,
    /// The Exim binary; `None` means `$SMTP32_TEST_EXIM`, else [`DEFAULT_EXIM`].
    pub binary: Option<PathBuf>,
}

impl Default for EximOptions {
    fn default() -> Self {
        EximOptions {
            auth_over_cleartext: false,
            message_size_limit: 10 * 1024 * 1024,
            starttls: true,
            smtputf8: true,
            pipelining: true,
            chunking: true,
            xoauth2: false,
            extra_main: Vec::new(),
            binary: None,
        }
    }
}

/// Why the fixture could not start (or read) Exim, with Exim's own logs where there are any.
pub struct EximError(String);

impl fmt::Display for EximError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// Debug is what a test returning `Result` prints: the readable text, not an escaped string.
impl fmt::Debug for EximError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EximError {}

/// A running Exim daemon, stopped by PID on drop (the folder is removed after it).
pub struct Exim {
    // Declared before `dir`: the daemon stops before its folder goes away.
    child: ChildGuard,
    smtp_port: u16,
    smtps_port: u16,
    ipv6: bool,
    ca: certs::TestCa,
    opts: EximOptions,
    dir: TempDir,
}

impl Exim {
    /// Starts a daemon with the default options and waits (with a deadline) until it greets.
    pub fn start() -> Result<Exim, EximError> {
        Self::start_with(EximOptions::default())
    }

    /// Starts a daemon configured by `opts`, retrying with other ports on a bind clash.
    pub fn start_with(opts: EximOptions) -> Result<Exim, EximError> {
        let exim_path = exim_binary(opts.binary.as_deref())?;
        let (uid, gid) = exim_ids()?;
        let dir = tempfile::Builder::new()
            .prefix("exim-")
            .tempdir()
            .map_err(io("create the fixture folder"))?;
        let ipv6 = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok();
        let started = prepare(dir.path(), uid, gid).and_then(|ca| {
            launch(dir.path(), &exim_path, &ca, ipv6, &opts).map(|(c, p, s)| (ca, c, p, s))
        });
        match started {
            Ok((ca, child, smtp_port, smtps_port)) => Ok(Exim {
                child,
                smtp_port,
                smtps_port,
                ipv6,
                ca,
                opts,
                dir,
            }),
            // The error quotes Exim's logs; with SMTP32_TEST_KEEP_EXIM set, the whole folder
            // (configuration included) also stays for a look by hand.
            Err(EximError(why)) if std::env::var_os("SMTP32_TEST_KEEP_EXIM").is_some() => {
                let kept = dir.keep();
                Err(EximError(format!(
                    "{why}\n(the fixture's folder {} is kept)",
                    kept.display()
                )))
            }
            Err(e) => Err(e),
        }
    }

    /// The plain SMTP port on 127.0.0.1 (STARTTLS offered).
    pub fn smtp_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.smtp_port))
    }

    /// The plain SMTP port on [::1], when the machine has IPv6 loopback.
    pub fn smtp_addr_v6(&self) -> Option<SocketAddr> {
        self.ipv6
            .then(|| SocketAddr::from((Ipv6Addr::LOCALHOST, self.smtp_port)))
    }

    /// The implicit-TLS port on 127.0.0.1 (TLS from the first byte, like 465).
    pub fn smtps_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.smtps_port))
    }

    /// The implicit-TLS port on [::1], when the machine has IPv6 loopback.
    pub fn smtps_addr_v6(&self) -> Option<SocketAddr> {
        self.ipv6
            .then(|| SocketAddr::from((Ipv6Addr::LOCALHOST, self.smtps_port)))
    }

    /// The CA certificate (PEM) a client must trust to verify the server.
    pub fn ca_cert_path(&self) -> &Path {
        &self.ca.ca_cert
    }

    /// All the generated certificate files (CA, leaf, key, chain).
    pub fn certs(&self) -> &certs::TestCa {
        &self.ca
    }

    /// The name in the server certificate and the greeting's host: connect to `localhost`.
    pub fn tls_name(&self) -> &'static str {
        "localhost"
    }

    /// The user the AUTH mechanisms accept.
    pub fn user(&self) -> &'static str {
        TEST_USER
    }

    /// The user's password.
    pub fn password(&self) -> &'static str {
        TEST_PASSWORD
    }

    /// The bearer token XOAUTH2 accepts (with [`EximOptions::xoauth2`]).
    pub fn oauth_token(&self) -> &'static str {
        XOAUTH2_TOKEN
    }

    /// The local domain, `example.test`.
    pub fn domain(&self) -> &'static str {
        DOMAIN
    }

    /// `local@example.test`.
    pub fn address(&self, local: &str) -> String {
        format!("{local}@{DOMAIN}")
    }

    /// The options the daemon was started with.
    pub fn options(&self) -> &EximOptions {
        &self.opts
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The fixture's folder (configuration, `log/`, `mail/`, `spool/`, `tls/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Exim's stderr and its main, reject and panic logs, for failure messages.
    pub fn logs(&self) -> String {
        read_logs(self.dir.path())
    }

    /// The messages delivered to `mailbox` so far, oldest first, as stored (Exim adds
    /// `Return-path:`, `Envelope-to:` and `Received:` at the top).
    pub fn delivered(&self, mailbox: &str) -> Vec<Vec<u8>> {
        let new = self.dir.path().join("mail").join(mailbox).join("new");
        let Ok(entries) = std::fs::read_dir(&new) else {
            return Vec::new();
        };
        // Exim names each file `<seconds>.M<microseconds>P<pid>.<host>`, written in tmp/ and
        // renamed into new/ when complete: sort by the time in the name.
        let mut files: Vec<((u64, u64), PathBuf)> = entries
            .filter_map(|e| e.ok())
            .map(|e| (maildir_time(&e.file_name().to_string_lossy()), e.path()))
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, p)| std::fs::read(p).ok())
            .collect()
    }

    /// Waits until at least `n` messages were delivered to `mailbox` and returns all of them,
    /// oldest first; panics after `timeout` with Exim's logs.
    pub fn wait_for_delivery(&self, mailbox: &str, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            let got = self.delivered(mailbox);
            if got.len() >= n {
                return got;
            }
            if Instant::now() >= deadline {
                panic!(
                    "Exim delivered {} of {n} messages to {mailbox} within {timeout:?}\n{}",
                    got.len(),
                    self.logs()
                );
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }
}

impl Drop for Exim {
    fn drop(&mut self) {
        // Exim forks a process per connection and per delivery, which outlive a daemon stopped
        // alone. They share the daemon's process group (made for it at spawn): one signal to
        // the group stops them all before the folder goes. Only while the daemon is unreaped
        // is its PID, and so the group's id, certainly still ours. ChildGuard then reaps it.
        if self.child.try_exit().is_none() {
            // SAFETY: kill() on the process group led by our own, not yet reaped, child.
            unsafe { libc::kill(-(self.child.pid() as i32), libc::SIGTERM) };
        }
    }
}

/// `(seconds, microseconds)` from a maildir file name `<s>.M<us>P<pid>.<host>`; unknown = 0.
fn maildir_time(name: &str) -> (u64, u64) {
    let mut parts = name.splitn(3, '.');
    let secs = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let micros = parts
        .next()
        .and_then(|s| s.strip_prefix('M'))
        .and_then(|s| s.split('P').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (secs, micros)
}
