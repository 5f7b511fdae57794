//! Real SOCKS proxies on free loopback ports: microsocks, Dante and OpenSSH's `ssh -D`.
//!
//! - [`Microsocks`]: SOCKS5 only, optionally with RFC 1929 user/password (`-u`/`-P`).
//! - [`Dante`]: `danted` with a generated config: SOCKS4 and SOCKS5, CONNECT allowed only to
//!   127.0.0.0/8 (so any other destination is a refusal on cue), method `none` or `username`.
//!   Dante's `username` method checks *system accounts*: [`Dante::with_password`] creates the
//!   account [`DANTE_USER`] with [`DANTE_PASSWORD`] (idempotently) before it starts. Dante does
//!   not do SOCKS4a.
//! - [`SshSocks`]: a private `sshd` on loopback and `ssh -N -D` against it. OpenSSH's dynamic
//!   forwarding speaks SOCKS4, **SOCKS4a** and SOCKS5 (no authentication): it is the real
//!   SOCKS4a server here. Needs Debian's `openssh-server` (for `/usr/sbin/sshd`) and
//!   `openssh-client`.
//!
//! Each proxy gets a port that was free a moment ago and is retried on another when it does not
//! come up; it is ready when a TCP connect to it succeeds (polled with a deadline), and it is
//! stopped by PID on drop.

use crate::paths::required_program;
use crate::process::{free_port, is_root, ChildGuard};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const MICROSOCKS: &str = "/usr/bin/microsocks";
const DANTED: &str = "/usr/sbin/danted";
const SSHD: &str = "/usr/sbin/sshd";
const SSH: &str = "/usr/bin/ssh";
const SSH_KEYGEN: &str = "/usr/bin/ssh-keygen";
const READY_DEADLINE: Duration = Duration::from_secs(10);
const ATTEMPTS: usize = 5;

/// The system account Dante's `username` method checks (created by [`Dante::with_password`]).
pub const DANTE_USER: &str = "smtp32socks";
/// Its password.
pub const DANTE_PASSWORD: &str = "s0cks-Pw.42";

/// `microsocks` on a free loopback port, stopped by PID on drop.
pub struct Microsocks {
    _child: ChildGuard,
    port: u16,
    _dir: TempDir,
}

impl Microsocks {
    /// SOCKS5 without authentication.
    pub fn start() -> Microsocks {
        Self::start_inner(None)
    }

    /// SOCKS5 that demands method 2 with this user name and password.
    pub fn with_password(user: &str, password: &str) -> Microsocks {
        Self::start_inner(Some((user, password)))
    }

    fn start_inner(auth: Option<(&str, &str)>) -> Microsocks {
        let program = required_program(MICROSOCKS, "microsocks");
        let dir = fixture_dir("microsocks-");
        let (child, port) = start_on_free_port("microsocks", &dir, |port| {
            let mut cmd = Command::new(program);
            cmd.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
            if let Some((user, password)) = auth {
                cmd.args(["-u", user, "-P", password]);
            }
            cmd
        });
        Microsocks {
            _child: child,
            port,
            _dir: dir,
        }
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// `danted` on a free loopback port with a generated config, stopped by PID on drop.
pub struct Dante {
    _child: ChildGuard,
    port: u16,
    dir: TempDir,
}

impl Dante {
    /// SOCKS4 and SOCKS5 without authentication.
    pub fn start() -> Dante {
        Self::start_inner("none")
    }

    /// SOCKS5 with method 2 only, checked against the system account [`DANTE_USER`].
    pub fn with_password() -> Dante {
        ensure_dante_user();
        Self::start_inner("username")
    }

    fn start_inner(method: &str) -> Dante {
        let program = required_program(DANTED, "dante-server");
        let dir = fixture_dir("danted-");
        let (child, port) = start_on_free_port("danted", &dir, |port| {
            let conf = dir.path().join(format!("danted.{port}.conf"));
            std::fs::write(&conf, dante_config(dir.path(), port, method))
                .expect("write danted.conf");
            let mut cmd = Command::new(program);
            cmd.arg("-f")
                .arg(&conf)
                .arg("-p")
                .arg(dir.path().join(format!("danted.{port}.pid")))
                .args(["-N", "1"]);
            cmd
        });
        Dante {
            _child: child,
            port,
            dir,
        }
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Dante's log so far (connects passed and blocked are logged).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("danted.log")).unwrap_or_default()
    }
}

/// CONNECT to 127.0.0.0/8 passes; everything else is blocked, so a destination such as
/// 192.0.2.1 is refused by the proxy itself (SOCKS5 reply 0x02, SOCKS4 reply 91).
fn dante_config(dir: &Path, port: u16, method: &str) -> String {
    let users = if is_root() {
        "user.privileged: root\nuser.unprivileged: nobody\n"
    } else {
        ""
    };
    format!(
        "logoutput: stderr {log}\n\
         internal: 127.0.0.1 port = {port}\n\
         external: 127.0.0.1\n\
         clientmethod: none\n\
         socksmethod: {method}\n\
         {users}\
         client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}\n\
         socks pass {{\n  from: 127.0.0.0/8 to: 127.0.0.0/8\n  command: connect\n  log: connect error\n}}\n\
         socks block {{\n  from: 0.0.0.0/0 to: 0.0.0.0/0\n  log: connect error\n}}\n",
        log = dir.join("danted.log").display(),
    )
}

/// Creates the nologin system account Dante checks, if missing, and sets its password; once
/// per test process (tests run in parallel threads), and harmless when repeated across runs.
fn ensure_dante_user() {
    static DONE: Mutex<bool> = Mutex::new(false);
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if *done {
        return;
    }
    assert!(
        is_root(),
        "Dante's username method checks system accounts: creating {DANTE_USER} needs root"
    );
    let exists = Command::new("id")
        .arg(DANTE_USER)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !exists.is_ok_and(|s| s.success()) {
        let status = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                DANTE_USER,
            ])
            .status()
            .expect("run useradd");
        // 9: the account appeared meanwhile (another test process); fine.
        assert!(
            status.success() || status.code() == Some(9),
            "useradd {DANTE_USER}: {status}"
        );
    }
    // chpasswd locks /etc/shadow; another test process may hold the lock for a moment.
    let deadline = Instant::now() + READY_DEADLINE;
    loop {
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("run chpasswd");
        {
            use std::io::Write;
            let mut stdin = chpasswd.stdin.take().expect("chpasswd stdin");
            writeln!(stdin, "{DANTE_USER}:{DANTE_PASSWORD}").expect("write to chpasswd");
        }
        let status = chpasswd.wait().expect("wait for chpasswd");
        if status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "chpasswd for {DANTE_USER}: {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    *done = true;
}

/// A private `sshd` and `ssh -N -D` against it: OpenSSH's SOCKS4/4a/5 proxy.
pub struct SshSocks {
    // Dropped in order: the forwarding client before the server.
    _client: ChildGuard,
    _server: ChildGuard,
    port: u16,
    _dir: TempDir,
}

impl SshSocks {
    /// Starts both; the SOCKS port is ready when it accepts a TCP connection.
    pub fn start() -> SshSocks {
        let sshd = required_program(SSHD, "openssh-server");
        let ssh = required_program(SSH, "openssh-client");
        let keygen = required_program(SSH_KEYGEN, "openssh-client");
        let dir = fixture_dir("sshd-");
        let d = dir.path();
        for key in ["host_key", "client_key"] {
            let status = Command::new(keygen)
                .args(["-q", "-t", "ed25519", "-N", ""])
                .arg("-f")
                .arg(d.join(key))
                .status()
                .expect("run ssh-keygen");
            assert!(status.success(), "ssh-keygen {key}: {status}");
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys"))
            .expect("authorized_keys");
        // sshd refuses to start without its privilege separation directory.
        if is_root() {
            std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        }
        let user = current_user();
        let (server, ssh_port) = start_on_free_port("sshd", &dir, |port| {
            let cfg = d.join(format!("sshd.{port}.conf"));
            std::fs::write(
                &cfg,
                format!(
                    "ListenAddress 127.0.0.1\nPort {port}\nHostKey {hk}\nAuthorizedKeysFile {ak}\n\
                     StrictModes no\nUsePAM no\nPidFile none\nPermitRootLogin prohibit-password\n\
                     PasswordAuthentication no\nKbdInteractiveAuthentication no\nAllowTcpForwarding yes\n",
                    hk = d.join("host_key").display(),
                    ak = d.join("authorized_keys").display(),
                ),
            )
            .expect("write sshd config");
            let mut cmd = Command::new(sshd);
            cmd.args(["-D", "-e", "-f"]).arg(&cfg);
            cmd
        });
        let (client, port) = start_on_free_port("ssh -D", &dir, |port| {
            let mut cmd = Command::new(ssh);
            cmd.args([
                "-N",
                "-F",
                "/dev/null",
                "-D",
                &format!("127.0.0.1:{port}"),
                "-p",
                &ssh_port.to_string(),
            ])
            .arg("-i")
            .arg(d.join("client_key"))
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "ExitOnForwardFailure=yes",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "LogLevel=ERROR",
            ])
            .arg(format!("{user}@127.0.0.1"));
            cmd
        });
        SshSocks {
            _client: client,
            _server: server,
            port,
            _dir: dir,
        }
    }

    /// The SOCKS port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A folder for configs and logs that a daemon dropping privileges can still read.
fn fixture_dir(prefix: &str) -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("tempdir");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod fixture dir");
    dir
}

/// Starts `command(port)` on a port that was free a moment ago, until one comes up: ready when
/// a TCP connect to 127.0.0.1:port succeeds; another port when the process exits first (a bind
/// clash). Its stdout and stderr go to files in `dir`, quoted when it never comes up.
fn start_on_free_port(
    name: &str,
    dir: &TempDir,
    command: impl Fn(u16) -> Command,
) -> (ChildGuard, u16) {
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        let port = free_port();
        let log_path = dir
            .path()
            .join(format!("{}.{attempt}.log", name.replace(' ', "_")));
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut cmd = command(port);
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        let mut child = ChildGuard::spawn(name, &mut cmd);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            if let Some(status) = child.try_exit() {
                last = format!(
                    "exited at start: {status}; output: {}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
                break;
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return (child, port);
            }
            if Instant::now() >= deadline {
                child.kill();
                last = format!(
                    "no listener on {addr} within {READY_DEADLINE:?}; output: {}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    panic!("{name} did not come up on a free port in {ATTEMPTS} attempts: {last}");
}
