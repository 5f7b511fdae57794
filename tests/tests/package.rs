//! The Debian packages (issue 14): `smtp32` (the daemon and its tools), `libsmtp32-1` and
//! `libsmtp32-dev` build (`packaging/build-deb.sh`, cargo-deb) and install into this machine
//! with `dpkg -i`; the libraries sit in the multiarch folder, and a C program built with
//! `pkg-config --cflags --libs smtp32` against the installed files runs and reports the crate's
//! version; `man smtp32d` shows the page; `systemd-analyze verify` accepts the units; logrotate
//! accepts its file; the units are enabled through deb-systemd-helper, and an administrator's
//! `systemctl disable` survives an upgrade. The installed daemon answers the installed
//! `smtp32ctl ping` when started the way its units start it: socket activation (through
//! `systemd-socket-activate`, fd 3 and `LISTEN_*`) with the unit's `ExecStart`, as an
//! unprivileged user, reporting READY=1 and STOPPING=1 on `NOTIFY_SOCKET`; the installed
//! `smtp32-sendmail` reaches it (and exits 78: the packaged config names no relay), and no
//! `/usr/sbin/sendmail` was installed. Finally `dpkg --purge` removes all three again.
//!
//! Needs root (dpkg), cargo-deb, systemd's tools, man-db and logrotate; `tests/run-all.sh`
//! installs them. Missing ones fail the test with a message — it never passes without having
//! checked.

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

/// The files of `smtp32`, the daemon and tools.
const DAEMON_FILES: [&str; 14] = [
    "/usr/bin/smtp32d",
    "/usr/bin/smtp32ctl",
    "/usr/bin/smtp32-sendmail",
    "/usr/lib/systemd/system/smtp32d.service",
    "/usr/lib/systemd/system/smtp32d.socket",
    "/usr/lib/tmpfiles.d/smtp32d.conf",
    "/etc/smtp32d/smtp32d.toml",
    "/etc/logrotate.d/smtp32d",
    "/usr/share/man/man8/smtp32d.8.gz",
    "/usr/share/man/man8/smtp32-sendmail.8.gz",
    "/usr/share/man/man1/smtp32ctl.1.gz",
    "/usr/share/bash-completion/completions/smtp32ctl",
    "/usr/share/zsh/vendor-completions/_smtp32ctl",
    "/usr/share/fish/vendor_completions.d/smtp32ctl.fish",
];

/// The files of `libsmtp32-1` (`TUPLE`: the multiarch folder).
const RUNTIME_FILES: [&str; 2] = [
    "/usr/lib/TUPLE/libsmtp32.so.1.0.0",
    "/usr/lib/TUPLE/libsmtp32.so.1",
];

/// The files of `libsmtp32-dev`.
const DEV_FILES: [&str; 6] = [
    "/usr/lib/TUPLE/libsmtp32.so",
    "/usr/lib/TUPLE/libsmtp32.a",
    "/usr/lib/TUPLE/pkgconfig/smtp32.pc",
    "/usr/include/smtp32.h",
    "/usr/include/d32-smtp.h",
    "/usr/include/d32-fw.h",
];

/// The links deb-systemd-helper makes when it enables the units.
const ENABLED: [&str; 2] = [
    "/etc/systemd/system/sockets.target.wants/smtp32d.socket",
    "/etc/systemd/system/multi-user.target.wants/smtp32d.service",
];

fn require(program: &str, hint: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{program} is missing: {hint} (tests/run-all.sh installs it)"
    );
}

fn checked(what: &str, out: Output) -> Output {
    out.expect_code(0, what);
    out
}

/// Builds the packages into `target/package/debian/`; returns their paths: the daemon's, the
/// runtime library's, the development files'.
fn build_packages() -> [PathBuf; 3] {
    require("cargo-deb", "cargo install cargo-deb --locked");
    let script = crate_dir().join("../packaging/build-deb.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(&script)
        .env("CARGO_TARGET_DIR", target_dir().join("package"));
    if let Some(cargo) = std::env::var_os("CARGO") {
        // The cargo that runs this test, first on PATH for the script.
        if let Some(dir) = Path::new(&cargo).parent() {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let joined = std::env::join_paths(
                std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&path)),
            );
            cmd.env("PATH", joined.expect("PATH"));
        }
    }
    let out = checked(
        "packaging/build-deb.sh",
        run(cmd, Duration::from_secs(40 * 60)),
    );
    let debs: Vec<PathBuf> = out
        .stdout
        .lines()
        .rev()
        .take(3)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .map(|line| {
            let deb = PathBuf::from(line.trim());
            let deb = if deb.is_absolute() {
                deb
            } else {
                crate_dir().join("..").join(deb)
            };
            assert!(
                deb.extension().is_some_and(|e| e == "deb") && deb.exists(),
                "no .deb: {}",
                out.stdout
            );
            deb
        })
        .collect();
    let named = |prefix: &str| {
        debs.iter()
            .find(|d| {
                d.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            })
            .unwrap_or_else(|| panic!("no {prefix}*.deb among {debs:?}"))
            .clone()
    };
    [
        named("smtp32_"),
        named("libsmtp32-1_"),
        named("libsmtp32-dev_"),
    ]
}

/// This machine's multiarch tuple, as the C compiler says (`x86_64-linux-gnu`).
fn multiarch_tuple() -> String {
    let out = checked(
        "cc -print-multiarch",
        run(
            cmd(&["cc", "-print-multiarch"], Path::new("")),
            Duration::from_secs(10),
        ),
    );
    out.stdout.trim().to_string()
}

/// Every path of `files` with `TUPLE` replaced.
fn in_tuple<'a>(files: &'a [&'a str], tuple: &'a str) -> impl Iterator<Item = String> + 'a {
    files.iter().map(move |f| f.replace("TUPLE", tuple))
}

/// The `KEY=` command of an installed unit (`ExecStart`, `ExecReload`), split into words.
fn unit_command(unit: &Path, key: &str) -> Vec<String> {
    let text = std::fs::read_to_string(unit).expect("read unit");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("{key}= in the unit"));
    line.split_whitespace().map(String::from).collect()
}

/// Waits up to 10 s for one datagram on the notify socket.
fn notified(socket: &UnixDatagram) -> String {
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = [0u8; 256];
    let n = socket
        .recv(&mut buf)
        .expect("a datagram on NOTIFY_SOCKET within 10 s");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn the_packages_build_install_verify_and_serve() {
    let _wd = Watchdog::arm(
        "the_packages_build_install_verify_and_serve",
        Duration::from_secs(45 * 60),
    );
    assert!(
        is_root(),
        "installing the packages needs root (CI runs as root)"
    );
    require("systemd-analyze", "Debian package `systemd`");
    require("systemd-socket-activate", "Debian package `systemd`");
    require("man", "Debian package `man-db`");
    require("logrotate", "Debian package `logrotate`");
    let [daemon_deb, runtime_deb, dev_deb] = build_packages();
    let tuple = multiarch_tuple();

    for (deb, files) in [
        (
            &daemon_deb,
            DAEMON_FILES
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>(),
        ),
        (&runtime_deb, in_tuple(&RUNTIME_FILES, &tuple).collect()),
        (&dev_deb, in_tuple(&DEV_FILES, &tuple).collect()),
    ] {
        let listing = checked(
            "dpkg-deb -c",
            run(cmd(&["dpkg-deb", "-c"], deb), Duration::from_secs(60)),
        )
        .stdout;
        for path in files {
            assert!(
                listing.contains(&format!(".{path}")),
                "{path} is not in {}:\n{listing}",
                deb.display()
            );
        }
    }
    let field = |deb: &Path, name: &str| {
        checked(
            "dpkg-deb -f",
            run(
                cmd(&["dpkg-deb", "-f", &deb.to_string_lossy()], Path::new(name)),
                Duration::from_secs(10),
            ),
        )
        .stdout
        .trim()
        .to_string()
    };
    let version = format!("{}-1", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        field(&dev_deb, "Depends"),
        format!("libsmtp32-1 (= {version})"),
        "libsmtp32-dev needs this very runtime"
    );
    assert_eq!(field(&runtime_deb, "Multi-Arch"), "same");

    // A run that failed midway may have left them installed: start from a first install.
    let leftovers = cmd(
        &["dpkg", "--purge", "smtp32", "libsmtp32-dev"],
        Path::new("libsmtp32-1"),
    );
    let _ = run(leftovers, Duration::from_secs(120));
    let mut install = cmd(&["dpkg", "-i"], &runtime_deb);
    install.arg(&dev_deb).arg(&daemon_deb);
    checked(
        "dpkg -i of all three",
        run(install, Duration::from_secs(120)),
    );
    let everything: Vec<String> = DAEMON_FILES
        .iter()
        .map(|f| f.to_string())
        .chain(in_tuple(&RUNTIME_FILES, &tuple))
        .chain(in_tuple(&DEV_FILES, &tuple))
        .collect();
    for path in &everything {
        assert!(Path::new(path).exists(), "{path} was not installed");
    }
    let group = run(
        cmd(&["getent", "group"], Path::new("smtp32")),
        Duration::from_secs(10),
    );
    group.expect_code(0, "the group smtp32 exists after install");

    // The C library as a program's build finds it.
    let pkg = |flag: &str| {
        checked(
            "pkg-config",
            run(
                cmd(&["pkg-config", flag], Path::new("smtp32")),
                Duration::from_secs(10),
            ),
        )
        .stdout
    };
    assert_eq!(pkg("--modversion").trim(), env!("CARGO_PKG_VERSION"));
    assert_eq!(
        pkg("--variable=libdir").trim(),
        format!("/usr/lib/{tuple}/pkgconfig/..")
    );
    let build_dir = tempfile::tempdir().expect("tempdir");
    let exe = build_dir.path().join("version");
    let mut cc = Command::new("sh");
    let source = crate_dir().join("c/version.c");
    let include = crate_dir().join("c");
    cc.arg("-c").arg(format!(
        "cc -std=c11 -Wall -Werror -I{} {} -o {} $(pkg-config --cflags --libs smtp32)",
        include.display(),
        source.display(),
        exe.display()
    ));
    checked(
        "cc with pkg-config against the installed library",
        run(cc, Duration::from_secs(60)),
    );
    let ran = checked(
        "the program built against the package",
        run(Command::new(&exe), Duration::from_secs(10)),
    );
    assert!(
        ran.stdout
            .contains(&format!("version {}", env!("CARGO_PKG_VERSION"))),
        "{}",
        ran.stdout
    );

    // The man page, and logrotate's file.
    let mut man = Command::new("man");
    man.arg("smtp32d")
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80");
    let page = checked("man smtp32d", run(man, Duration::from_secs(30))).stdout;
    assert!(
        page.contains("--check-config") && page.contains("SMTP"),
        "{page}"
    );
    checked(
        "logrotate --debug",
        run(
            cmd(
                &["logrotate", "--debug"],
                Path::new("/etc/logrotate.d/smtp32d"),
            ),
            Duration::from_secs(30),
        ),
    );

    let verify = run(
        cmd(
            &[
                "systemd-analyze",
                "verify",
                "/usr/lib/systemd/system/smtp32d.socket",
            ],
            Path::new("/usr/lib/systemd/system/smtp32d.service"),
        ),
        Duration::from_secs(60),
    );
    verify.expect_code(0, "systemd-analyze verify");
    assert!(
        !verify.stderr.contains("smtp32d") && !verify.stdout.contains("smtp32d"),
        "systemd-analyze verify complained:\n{}{}",
        verify.stdout,
        verify.stderr
    );

    // Enabled on the first install; an administrator's disable survives an upgrade.
    for link in ENABLED {
        assert!(
            Path::new(link).is_symlink(),
            "{link}: the first install enables the units"
        );
    }
    let disable = cmd(
        &["systemctl", "disable", "smtp32d.socket"],
        Path::new("smtp32d.service"),
    );
    checked("systemctl disable", run(disable, Duration::from_secs(30)));
    for link in ENABLED {
        assert!(
            !Path::new(link).exists(),
            "{link}: systemctl disable removed it"
        );
    }
    checked(
        "dpkg -i again (an upgrade)",
        run(cmd(&["dpkg", "-i"], &daemon_deb), Duration::from_secs(120)),
    );
    for link in ENABLED {
        assert!(
            !Path::new(link).exists(),
            "{link}: the upgrade must keep the units disabled"
        );
    }

    // Start the installed daemon the way the units do, as an unprivileged user.
    let dir = tempfile::Builder::new()
        .prefix("smtp32-pkg-")
        .tempdir()
        .expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).expect("chmod");
    let socket = dir.path().join("smtp32d.sock");
    let notify_path = dir.path().join("notify");
    let notify = UnixDatagram::bind(&notify_path).expect("bind the notify socket");
    std::fs::set_permissions(&notify_path, std::fs::Permissions::from_mode(0o666))
        .expect("chmod notify");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).expect("state dir");
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).expect("chmod state");
    let service = Path::new("/usr/lib/systemd/system/smtp32d.service");
    let argv = unit_command(service, "ExecStart");
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
    activate
        .arg(unprivileged.get_program())
        .args(unprivileged.get_args())
        .args(&argv[1..]);
    let mut daemon = ChildGuard::spawn("smtp32d under systemd-socket-activate", &mut activate);
    wait_for(
        Duration::from_secs(10),
        "systemd-socket-activate to listen",
        || socket.exists(),
    );

    let ctl = |args: &[&str]| {
        let mut c = Command::new("/usr/bin/smtp32ctl");
        c.arg("--socket").arg(&socket).args(args);
        run(c, Duration::from_secs(20))
    };
    ctl(&["ping"]).expect_code(0, "installed smtp32ctl ping");
    assert_eq!(notified(&notify), "READY=1");
    let status = ctl(&["status", "--json"]).json();
    assert_eq!(
        status["config_file"], "/etc/smtp32d/smtp32d.toml",
        "{status}"
    );
    assert_eq!(
        status["pid"],
        daemon.pid(),
        "the activated process serves: {status}"
    );
    // The unit's ExecReload (run as root, `+`) on this daemon's socket reloads it.
    let reload = unit_command(service, "ExecReload");
    assert_eq!(reload[0], "+/usr/bin/smtp32ctl", "{reload:?}");
    assert_eq!(reload[1..2], ["--socket".to_string()], "{reload:?}");
    let mut exec_reload = Command::new(&reload[0][1..]);
    exec_reload.arg("--socket").arg(&socket).args(&reload[3..]);
    let reloaded = checked(
        "the unit's ExecReload",
        run(exec_reload, Duration::from_secs(20)),
    );
    assert_eq!(reloaded.stdout, "configuration reloaded\n");
    assert!(notified(&notify).starts_with("RELOADING=1\nMONOTONIC_USEC="));
    assert_eq!(notified(&notify), "READY=1\nSTATUS=serving");
    let mut sendmail = Command::new("/usr/bin/smtp32-sendmail");
    sendmail.env("SMTP32_SOCKET", &socket).arg("root@localhost");
    let out = smtp32_tests::ctl::run_with_input(
        sendmail,
        Some(b"Subject: x\n\nx\n".to_vec()),
        Duration::from_secs(20),
    );
    out.expect_code(
        78,
        "the installed smtp32-sendmail without a relay configured",
    );
    assert!(out.stderr.contains("relay.host"), "{}", out.stderr);
    let sendmail_path = Path::new("/usr/sbin/sendmail");
    let ours = std::fs::canonicalize(sendmail_path)
        .is_ok_and(|p| p == Path::new("/usr/bin/smtp32-sendmail"));
    assert!(!ours, "the package must not take over /usr/sbin/sendmail");

    daemon.signal(libc::SIGTERM);
    assert_eq!(notified(&notify), "STOPPING=1");
    let exit = daemon
        .wait_exit(Duration::from_secs(20))
        .expect("the daemon exits after SIGTERM");
    assert_eq!(exit.code(), Some(0), "{exit:?}");

    let purge = cmd(
        &["dpkg", "--purge", "smtp32", "libsmtp32-dev"],
        Path::new("libsmtp32-1"),
    );
    checked("dpkg --purge", run(purge, Duration::from_secs(120)));
    for path in &everything {
        assert!(
            !Path::new(path).exists(),
            "{path} is still there after the purge"
        );
    }
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
