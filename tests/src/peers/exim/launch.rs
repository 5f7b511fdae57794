//! Starting the daemon: the fixture's folder, the configuration, the ports, readiness.
//!
//! Exim takes its ports from the configuration, so the fixture picks ports that were free a
//! moment ago (on 127.0.0.1 and ::1 alike) and, when Exim says one was taken meanwhile
//! (`daemon_startup_retries = 0` makes it say so at once), tries again with others.

use super::EximOptions;
use super::{certs, config, EximError, DEFAULT_EXIM, EXIM_USER, READY_DEADLINE, START_ATTEMPTS};
use super::{TEST_PASSWORD, TEST_USER, XOAUTH2_TOKEN};
use crate::process::ChildGuard;
use std::ffi::CString;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Fills the fixture's folder: certificates, mailbox and alias files, and the folders Exim
/// writes to, handed to `Debian-exim` (the configuration and the CA key stay root's).
pub(super) fn prepare(root: &Path, uid: u32, gid: u32) -> Result<certs::TestCa, EximError> {
    set_mode(root, 0o755)?;
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
    Ok(ca)
}

/// Writes the configuration and starts the daemon until it greets, with new ports when the
/// chosen ones were taken meanwhile; returns the daemon and its plain and implicit-TLS ports.
pub(super) fn launch(
    root: &Path,
    exim_path: &Path,
    ca: &certs::TestCa,
    ipv6: bool,
    opts: &EximOptions,
) -> Result<(ChildGuard, u16, u16), EximError> {
    let conf = root.join("exim.conf");
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
        let text = config::render(&config::Params {
            exim_path: exim_path.to_path_buf(),
            dir: root.to_path_buf(),
            smtp_port,
            smtps_port,
            ipv6,
            banner_token: token.clone(),
            chain: ca.chain.clone(),
            key: ca.leaf_key.clone(),
            user: TEST_USER,
            password: TEST_PASSWORD,
            xoauth2_token: XOAUTH2_TOKEN,
            opts,
        });
        write(&conf, &text)?;
        if attempt == 0 {
            check_config(exim_path, &conf)?;
        }
        let stderr_path = root.join(format!("log/stderr.{attempt}"));
        let stderr = std::fs::File::create(&stderr_path).map_err(io("create the stderr file"))?;
        let mut cmd = Command::new(exim_path);
        // -bdf: daemon in the foreground (its PID is the child's); -q1m: retry deferred
        // deliveries every minute (first deliveries happen at once, not on a queue run).
        cmd.arg("-C").arg(&conf).args(["-bdf", "-q1m"]);
        cmd.stdin(Stdio::null())
            .stdout(stderr.try_clone().map_err(io("dup stderr"))?)
            .stderr(stderr);
        // Its own process group, so that the processes it forks per connection and delivery
        // can be stopped with it (see `Drop for Exim`).
        cmd.process_group(0);
        let mut child = ChildGuard::spawn("exim", &mut cmd);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, smtp_port));
        let why = match wait_ready(&mut child, addr, &token) {
            Ok(()) => return Ok((child, smtp_port, smtps_port)),
            Err(why) => why,
        };
        child.kill();
        let this_attempt = std::fs::read_to_string(&stderr_path).unwrap_or_default()
            + &std::fs::read_to_string(root.join("log/paniclog")).unwrap_or_default();
        if !this_attempt.contains("Address already in use") || attempt + 1 == START_ATTEMPTS {
            return Err(EximError(format!(
                "Exim did not start ({why}; earlier attempts: {failures:?}); config {}\n{}",
                conf.display(),
                read_logs(root)
            )));
        }
        failures.push(format!("ports {smtp_port}/{smtps_port} taken meanwhile"));
        // Exim appends to its logs: start the next attempt's with a clean slate.
        for log in ["mainlog", "paniclog", "rejectlog"] {
            let _ = std::fs::remove_file(root.join("log").join(log));
        }
    }
    unreachable!("the last attempt returns")
}

/// The binary: `chosen`, else `$SMTP32_TEST_EXIM`, else [`DEFAULT_EXIM`].
pub(super) fn exim_binary(chosen: Option<&Path>) -> Result<PathBuf, EximError> {
    let path = chosen
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("SMTP32_TEST_EXIM").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_EXIM));
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
pub(super) fn exim_ids() -> Result<(u32, u32), EximError> {
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
    // The error is on stderr; stdout holds only the version banner, worth showing without one.
    let said = if out.stderr.is_empty() {
        &out.stdout
    } else {
        &out.stderr
    };
    Err(EximError(format!(
        "exim -bV refused the configuration {} ({}): {}",
        conf.display(),
        out.status,
        String::from_utf8_lossy(said).trim_end()
    )))
}

/// Polls until the plain port greets with `token`, the daemon exits, or the deadline passes.
fn wait_ready(child: &mut ChildGuard, addr: SocketAddr, token: &str) -> Result<(), String> {
    let deadline = Instant::now() + READY_DEADLINE;
    loop {
        if let Some(status) = child.try_exit() {
            return Err(format!("the daemon exited with {status}"));
        }
        let last = match crate::peers::read_greeting(addr, Duration::from_millis(500)) {
            Ok(line) if line.starts_with("220 ") && line.contains(token) => return Ok(()),
            Ok(line) => format!("greeting {line:?} is not this fixture's"),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(format!(
                "no greeting within {READY_DEADLINE:?} (last: {last})"
            ));
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
    Err(EximError(
        "no port free on both 127.0.0.1 and ::1 after 50 tries".into(),
    ))
}

pub(super) fn read_logs(dir: &Path) -> String {
    let log = dir.join("log");
    let mut names: Vec<String> = std::fs::read_dir(&log)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = String::new();
    for name in names {
        let text = std::fs::read_to_string(log.join(&name))
            .unwrap_or_else(|e| format!("<unreadable: {e}>"));
        if !text.trim().is_empty() {
            out.push_str(&format!("--- exim {name} ---\n{}\n", text.trim_end()));
        }
    }
    if out.is_empty() {
        out.push_str("(Exim wrote no log)");
    }
    out
}

pub(super) fn io(what: &'static str) -> impl Fn(std::io::Error) -> EximError {
    move |e| EximError(format!("cannot {what}: {e}"))
}

fn mkdir(path: &Path, mode: u32) -> Result<(), EximError> {
    std::fs::create_dir(path)
        .map_err(|e| EximError(format!("cannot create {}: {e}", path.display())))?;
    set_mode(path, mode)
}

fn write(path: &Path, text: &str) -> Result<(), EximError> {
    std::fs::write(path, text)
        .map_err(|e| EximError(format!("cannot write {}: {e}", path.display())))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), EximError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| EximError(format!("cannot chmod {}: {e}", path.display())))
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), EximError> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| {
        EximError(format!(
            "cannot chown {} to {EXIM_USER}: {e}",
            path.display()
        ))
    })
}
