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
//! the fixture quotes them.

pub mod certs;
mod config;

pub use config::{ALIAS, ALIAS_MEMBERS, DOMAIN, MAILBOXES};

use crate::process::ChildGuard;
use std::ffi::CString;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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
        let exim_path = exim_binary()?;
        let (uid, gid) = exim_ids()?;
        let dir = tempfile::Builder::new().prefix("exim-").tempdir().map_err(io("create the fixture folder"))?;
        let root = dir.path().to_path_buf();
        // Debian-exim must reach everything below; the config and the CA key stay root's.
        set_mode(&root, 0o755)?;
        let tls = root.join("tls");
        mkdir(&tls, 0o755)?;
        let ca = certs::TestCa::generate(&tls).map_err(EximError)?;
        chown(&ca.leaf_key, uid, gid)?;
        set_mode(&ca.leaf_key, 0o600)?;
        for sub in ["spool", "log", "mail"] {
            mkdir(&root.join(sub), 0o755)?;
            chown(&root.join(sub), uid, gid)?;
        }
        write(&root.join("mailboxes"), &config::mailboxes_file())?;
        write(&root.join("aliases"), &config::aliases_file())?;
        let ipv6 = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok();

        let mut failures = Vec::new();
        for attempt in 0..START_ATTEMPTS {
            let smtp_port = free_port(ipv6)?;
            let smtps_port = loop {
                let p = free_port(ipv6)?;
                if p != smtp_port {
                    break p;
                }
            };
            let token = format!("smtp32-fixture-{}-{smtp_port}", std::process::id());
            let conf = root.join("exim.conf");
            let text = config::render(&config::Params {
                exim_path: exim_path.clone(),
                dir: root.clone(),
                smtp_port,
                smtps_port,
                ipv6,
                banner_token: token.clone(),
                chain: ca.chain.clone(),
                key: ca.leaf_key.clone(),
                user: TEST_USER,
                password: TEST_PASSWORD,
                xoauth2_token: XOAUTH2_TOKEN,
                opts: &opts,
            });
            write(&conf, &text)?;
            if attempt == 0 {
                check_config(&exim_path, &conf)?;
            }
            let stderr_path = root.join(format!("log/stderr.{attempt}"));
            let stderr = std::fs::File::create(&stderr_path).map_err(io("create the stderr file"))?;
            let mut cmd = Command::new(&exim_path);
            // -bdf: daemon in the foreground (its PID is the child's); -q1m: retry deferred
            // deliveries every minute (first deliveries happen at once, not on a queue run).
            cmd.arg("-C").arg(&conf).args(["-bdf", "-q1m"]);
            cmd.stdin(Stdio::null()).stdout(stderr.try_clone().map_err(io("dup stderr"))?).stderr(stderr);
            let mut child = ChildGuard::spawn("exim", &mut cmd);
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, smtp_port));
            match wait_ready(&mut child, addr, &token) {
                Ok(()) => return Ok(Exim { child, smtp_port, smtps_port, ipv6, ca, opts, dir }),
                Err(why) => {
                    child.kill();
                    let logs = read_logs(&root);
                    if logs.contains("Address already in use") && attempt + 1 < START_ATTEMPTS {
                        failures.push(format!("ports {smtp_port}/{smtps_port} taken meanwhile"));
                        // Exim appends to its logs: start the next attempt's with a clean slate.
                        for log in ["mainlog", "paniclog", "rejectlog"] {
                            let _ = std::fs::remove_file(root.join("log").join(log));
                        }
                        continue;
                    }
                    return Err(EximError(format!(
                        "Exim did not start ({why}; earlier attempts: {failures:?}); config {}\n{logs}",
                        conf.display()
                    )));
                }
            }
        }
        unreachable!("the last attempt returns")
    }

    /// The plain SMTP port on 127.0.0.1 (STARTTLS offered).
    pub fn smtp_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.smtp_port))
    }

    /// The plain SMTP port on [::1], when the machine has IPv6 loopback.
    pub fn smtp_addr_v6(&self) -> Option<SocketAddr> {
        self.ipv6.then(|| SocketAddr::from((Ipv6Addr::LOCALHOST, self.smtp_port)))
    }

    /// The implicit-TLS port on 127.0.0.1 (TLS from the first byte, like 465).
    pub fn smtps_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.smtps_port))
    }

    /// The implicit-TLS port on [::1], when the machine has IPv6 loopback.
    pub fn smtps_addr_v6(&self) -> Option<SocketAddr> {
        self.ipv6.then(|| SocketAddr::from((Ipv6Addr::LOCALHOST, self.smtps_port)))
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
        let Ok(entries) = std::fs::read_dir(&new) else { return Vec::new() };
        // Exim names each file `<seconds>.M<microseconds>P<pid>.<host>`, written in tmp/ and
        // renamed into new/ when complete: sort by the time in the name.
        let mut files: Vec<((u64, u64), PathBuf)> = entries
            .filter_map(|e| e.ok())
            .map(|e| (maildir_time(&e.file_name().to_string_lossy()), e.path()))
            .collect();
        files.sort();
        files.into_iter().filter_map(|(_, p)| std::fs::read(p).ok()).collect()
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

/// The binary: `$SMTP32_TEST_EXIM`, else [`DEFAULT_EXIM`].
fn exim_binary() -> Result<PathBuf, EximError> {
    let path = std::env::var_os("SMTP32_TEST_EXIM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_EXIM));
    if path.exists() {
        Ok(path)
    } else {
        Err(EximError(format!(
            "the Exim binary {} is missing: run tests/setup/install-exim.sh (tests/run-all.sh does), \
             which unpacks Debian's exim4-daemon-light there",
            path.display()
        )))
    }
}

/// The uid and gid of `Debian-exim`.
fn exim_ids() -> Result<(u32, u32), EximError> {
    let name = CString::new(EXIM_USER).expect("no NUL in the user name");
    // SAFETY: getpwnam with a valid C string; the result is read at once, before any other
    // call that could overwrite its static buffer.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(EximError(format!(
            "the system user {EXIM_USER} (compiled into Debian's exim4) does not exist: \
             run tests/setup/install-exim.sh, which creates it"
        )));
    }
    // SAFETY: non-null pointer to a passwd record returned just above.
    Ok(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

/// `exim -bV` on the configuration: a syntax error is reported with Exim's own words.
fn check_config(exim: &Path, conf: &Path) -> Result<(), EximError> {
    let out = Command::new(exim)
        .arg("-C")
        .arg(conf)
        .arg("-bV")
        .stdin(Stdio::null())
        .output()
        .map_err(io("run exim -bV"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(EximError(format!(
        "exim -bV refused the configuration {} ({}): {}{}",
        conf.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )))
}

/// Polls until the plain port greets with `token`, the daemon exits, or the deadline passes.
fn wait_ready(child: &mut ChildGuard, addr: SocketAddr, token: &str) -> Result<(), String> {
    let deadline = Instant::now() + READY_DEADLINE;
    loop {
        if let Some(status) = child.try_exit() {
            return Err(format!("the daemon exited with {status}"));
        }
        let last = match super::read_greeting(addr, Duration::from_millis(500)) {
            Ok(line) if line.starts_with("220 ") && line.contains(token) => return Ok(()),
            Ok(line) => format!("greeting {line:?} is not this fixture's"),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(format!("no greeting within {READY_DEADLINE:?} (last: {last})"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A port free on 127.0.0.1 (and on ::1 when `ipv6`) a moment ago.
fn free_port(ipv6: bool) -> Result<u16, EximError> {
    for _ in 0..50 {
        let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io("bind 127.0.0.1:0"))?;
        let port = v4.local_addr().map_err(io("local_addr"))?.port();
        if !ipv6 || TcpListener::bind((Ipv6Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(EximError("no port free on both 127.0.0.1 and ::1 after 50 tries".into()))
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

fn read_logs(dir: &Path) -> String {
    let log = dir.join("log");
    let mut names: Vec<String> = std::fs::read_dir(&log)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    let mut out = String::new();
    for name in names {
        let text = std::fs::read_to_string(log.join(&name)).unwrap_or_else(|e| format!("<unreadable: {e}>"));
        if !text.trim().is_empty() {
            out.push_str(&format!("--- exim {name} ---\n{}\n", text.trim_end()));
        }
    }
    if out.is_empty() {
        out.push_str("(Exim wrote no log)");
    }
    out
}

fn io(what: &'static str) -> impl Fn(std::io::Error) -> EximError {
    move |e| EximError(format!("cannot {what}: {e}"))
}

fn mkdir(path: &Path, mode: u32) -> Result<(), EximError> {
    std::fs::create_dir(path).map_err(|e| EximError(format!("cannot create {}: {e}", path.display())))?;
    set_mode(path, mode)
}

fn write(path: &Path, text: &str) -> Result<(), EximError> {
    std::fs::write(path, text).map_err(|e| EximError(format!("cannot write {}: {e}", path.display())))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), EximError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| EximError(format!("cannot chmod {}: {e}", path.display())))
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), EximError> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .map_err(|e| EximError(format!("cannot chown {} to {EXIM_USER}: {e}", path.display())))
}
