//! The Debian package: it builds (`packaging/build-deb.sh`, cargo-deb), installs into this
//! machine with `dpkg -i`, `systemd-analyze verify` accepts its units, and the installed daemon
//! answers the installed `smtp32ctl ping` when started the way its units start it: socket
//! activation (through `systemd-socket-activate`, fd 3 and `LISTEN_*`) with the unit's
//! `ExecStart`, as an unprivileged user, reporting READY=1 and STOPPING=1 on `NOTIFY_SOCKET`;
//! the installed `smtp32-sendmail` reaches it (and exits 78: the packaged config names no
//! relay), and no `/usr/sbin/sendmail` was installed. Finally `dpkg --purge` removes it again.
//!
//! Needs root (dpkg), cargo-deb and systemd's tools; `tests/run-all.sh` installs them. Missing
//! ones fail the test with a message — it never passes without having checked.

use smtp32_tests::ctl::{as_other_user, run, Output};
use smtp32_tests::paths::{crate_dir, target_dir};
use smtp32_tests::process::{is_root, ChildGuard};
use smtp32_tests::wait::wait_for;
use smtp32_tests::Watchdog;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const INSTALLED: [&str; 15] = [
    "/usr/bin/smtp32d",
    "/usr/bin/smtp32ctl",
    "/usr/bin/smtp32-sendmail",
    "/usr/lib/libsmtp32.so",
    "/usr/lib/libsmtp32.so.1",
    "/usr/lib/libsmtp32.so.1.0.0",
    "/usr/lib/libsmtp32.a",
    "/usr/include/smtp32.h",
    "/usr/include/d32-smtp.h",
    "/usr/include/d32-fw.h",
    "/usr/lib/pkgconfig/smtp32.pc",
    "/lib/systemd/system/smtp32d.service",
    "/lib/systemd/system/smtp32d.socket",
    "/usr/lib/tmpfiles.d/smtp32d.conf",
    "/etc/smtp32d/smtp32d.toml",
];

fn require(program: &str, hint: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    assert!(found, "{program} is missing: {hint} (tests/run-all.sh installs it)");
}

fn checked(what: &str, out: Output) -> Output {
    out.expect_code(0, what);
    out
}

/// Builds the package into `target/package/debian/` and returns its path.
fn build_package() -> PathBuf {
    require("cargo-deb", "cargo install cargo-deb --locked");
    let script = crate_dir().join("../packaging/build-deb.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(&script).env("CARGO_TARGET_DIR", target_dir().join("package"));
    if let Some(cargo) = std::env::var_os("CARGO") {
        // The cargo that runs this test, first on PATH for the script.
        if let Some(dir) = Path::new(&cargo).parent() {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let joined = std::env::join_paths(std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&path)));
            cmd.env("PATH", joined.expect("PATH"));
        }
    }
    let out = checked("packaging/build-deb.sh", run(cmd, Duration::from_secs(40 * 60)));
    let deb = PathBuf::from(out.stdout.lines().last().unwrap_or("").trim());
    let deb = if deb.is_absolute() { deb } else { crate_dir().join("..").join(deb) };
    assert!(deb.extension().is_some_and(|e| e == "deb") && deb.exists(), "no .deb from build-deb.sh: {}", out.stdout);
    deb
}

/// The `ExecStart=` command of an installed unit, split into words.
fn exec_start(unit: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(unit).expect("read unit");
    let line = text.lines().find_map(|l| l.strip_prefix("ExecStart=")).expect("ExecStart= in the unit");
    line.split_whitespace().map(String::from).collect()
}

/// Waits up to 10 s for one datagram on the notify socket.
fn notified(socket: &UnixDatagram) -> String {
    socket.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut buf = [0u8; 256];
    let n = socket.recv(&mut buf).expect("a datagram on NOTIFY_SOCKET within 10 s");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn the_package_builds_installs_verifies_and_serves() {
    let _wd = Watchdog::arm("the_package_builds_installs_verifies_and_serves", Duration::from_secs(45 * 60));
    assert!(is_root(), "installing the package needs root (CI runs as root)");
    require("systemd-analyze", "Debian package `systemd`");
    require("systemd-socket-activate", "Debian package `systemd`");
    let deb = build_package();

    let listing = checked("dpkg-deb -c", run(cmd(&["dpkg-deb", "-c"], &deb), Duration::from_secs(60))).stdout;
    for path in INSTALLED {
        assert!(listing.contains(&format!(".{path}")), "{path} is not in the package:\n{listing}");
    }
    checked("dpkg -i", run(cmd(&["dpkg", "-i"], &deb), Duration::from_secs(120)));
    for path in INSTALLED {
        assert!(Path::new(path).exists(), "{path} was not installed");
    }
    let group = run(cmd(&["getent", "group"], Path::new("smtp32")), Duration::from_secs(10));
    group.expect_code(0, "the group smtp32 exists after install");
    let pc = std::fs::read_to_string("/usr/lib/pkgconfig/smtp32.pc").expect("smtp32.pc");
    assert!(pc.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))), "{pc}");

    let verify = run(
        cmd(&["systemd-analyze", "verify", "/lib/systemd/system/smtp32d.socket"], Path::new("/lib/systemd/system/smtp32d.service")),
        Duration::from_secs(60),
    );
    verify.expect_code(0, "systemd-analyze verify");
    assert!(
        !verify.stderr.contains("smtp32d") && !verify.stdout.contains("smtp32d"),
        "systemd-analyze verify complained:\n{}{}",
        verify.stdout,
        verify.stderr
    );

    // Start the installed daemon the way the units do, as an unprivileged user.
    let dir = tempfile::Builder::new().prefix("smtp32-pkg-").tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).expect("chmod");
    let socket = dir.path().join("smtp32d.sock");
    let notify_path = dir.path().join("notify");
    let notify = UnixDatagram::bind(&notify_path).expect("bind the notify socket");
    std::fs::set_permissions(&notify_path, std::fs::Permissions::from_mode(0o666)).expect("chmod notify");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).expect("state dir");
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).expect("chmod state");
    let argv = exec_start(Path::new("/lib/systemd/system/smtp32d.service"));
    assert_eq!(argv[0], "/usr/bin/smtp32d", "{argv:?}");
    let mut activate = Command::new("systemd-socket-activate");
    activate
        .arg("-l")
        .arg(&socket)
        .arg("-E")
        .arg(format!("NOTIFY_SOCKET={}", notify_path.display()))
        .arg("-E")
        .arg(format!("STATE_DIRECTORY={}", state.display()))
        .arg("--");
    let unprivileged = as_other_user(Path::new(&argv[0]));
    activate.arg(unprivileged.get_program()).args(unprivileged.get_args()).args(&argv[1..]);
    let mut daemon = ChildGuard::spawn("smtp32d under systemd-socket-activate", &mut activate);
    wait_for(Duration::from_secs(10), "systemd-socket-activate to listen", || socket.exists());

    let ctl = |args: &[&str]| {
        let mut c = Command::new("/usr/bin/smtp32ctl");
        c.arg("--socket").arg(&socket).args(args);
        run(c, Duration::from_secs(20))
    };
    ctl(&["ping"]).expect_code(0, "installed smtp32ctl ping");
    assert_eq!(notified(&notify), "READY=1");
    let status = ctl(&["status", "--json"]).json();
    assert_eq!(status["config_file"], "/etc/smtp32d/smtp32d.toml", "{status}");
    assert_eq!(status["pid"], daemon.pid(), "the activated process serves: {status}");
    let mut sendmail = Command::new("/usr/bin/smtp32-sendmail");
    sendmail.env("SMTP32_SOCKET", &socket).arg("root@localhost");
    let out = smtp32_tests::ctl::run_with_input(sendmail, Some(b"Subject: x\n\nx\n".to_vec()), Duration::from_secs(20));
    out.expect_code(78, "the installed smtp32-sendmail without a relay configured");
    assert!(out.stderr.contains("relay.host"), "{}", out.stderr);
    let sendmail_path = Path::new("/usr/sbin/sendmail");
    let ours = std::fs::canonicalize(sendmail_path).is_ok_and(|p| p == Path::new("/usr/bin/smtp32-sendmail"));
    assert!(!ours, "the package must not take over /usr/sbin/sendmail");

    daemon.signal(libc::SIGTERM);
    assert_eq!(notified(&notify), "STOPPING=1");
    let exit = daemon.wait_exit(Duration::from_secs(20)).expect("the daemon exits after SIGTERM");
    assert_eq!(exit.code(), Some(0), "{exit:?}");

    checked("dpkg --purge", run(cmd(&["dpkg", "--purge", "smtp32"], Path::new("")), Duration::from_secs(120)));
    assert!(!Path::new("/usr/bin/smtp32d").exists() && !Path::new("/etc/smtp32d/smtp32d.toml").exists());
}

/// `program args... last` (an empty `last` is left out).
fn cmd(program_and_args: &[&str], last: &Path) -> Command {
    let mut c = Command::new(program_and_args[0]);
    c.args(&program_and_args[1..]);
    if !last.as_os_str().is_empty() {
        c.arg(last);
    }
    c
}
