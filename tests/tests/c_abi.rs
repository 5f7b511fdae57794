//! The C ABI from C: `tests/c/basic.c` is compiled with `cc` against `client/include/smtp32.h`,
//! linked with the built `libsmtp32.so` (and, separately, `libsmtp32.a`), and run with
//! `SMTP32_SOCKET` pointing at a test daemon. The program checks each call's return code
//! itself (exit code = failed checks); this test then checks what reached the SMTP server.

use smtp32_tests::message::expected_on_arrival;
use smtp32_tests::paths::{built, crate_dir};
use smtp32_tests::{Aiosmtpd, TestDaemon, Watchdog};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Must match `PIECES` in basic.c.
const PIECES: [&[u8]; 3] = [b"Subject: c data_buf\r\n\r\n.dot line\r", b"\nbare lf\n", b"no final newline"];
/// Must match `PULLED` in basic.c.
const PULLED: &[u8] = b"Subject: c smtp_data\n\n..two dots\nline\r\n.\n";

enum Link {
    Shared,
    Static,
}

/// Compiles basic.c into `dir` and returns the executable.
fn compile(dir: &Path, link: Link) -> PathBuf {
    let include = crate_dir().join("../client/include");
    assert!(include.join("smtp32.h").exists(), "client/include/smtp32.h is missing");
    let exe = dir.join("basic");
    let mut cc = Command::new("cc");
    cc.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g"])
        .arg("-I")
        .arg(&include)
        .arg(crate_dir().join("c/basic.c"))
        .arg("-o")
        .arg(&exe);
    match link {
        Link::Shared => {
            let so = built("libsmtp32.so");
            let libdir = so.parent().unwrap();
            cc.arg("-L").arg(libdir).arg("-lsmtp32").arg(format!("-Wl,-rpath,{}", libdir.display()));
        }
        Link::Static => {
            cc.arg(built("libsmtp32.a")).args(["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc"]);
        }
    }
    let out = cc.output().expect("run cc (Debian package gcc; tests/run-all.sh installs it)");
    assert!(
        out.status.success(),
        "compiling basic.c failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Runs the program with a deadline and returns (exit code, stdout).
fn run(exe: &Path, socket: &Path, arg: &str) -> (i32, String) {
    let exe = exe.to_path_buf();
    let socket = socket.to_path_buf();
    let arg = arg.to_string();
    let out = smtp32_tests::with_deadline("the C program", Duration::from_secs(60), move || {
        Command::new(&exe).arg(&arg).env("SMTP32_SOCKET", &socket).output().expect("run basic")
    });
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let code = out.status.code().unwrap_or_else(|| panic!("basic died: {}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr)));
    (code, stdout)
}

fn against_aiosmtpd(link: Link, name: &str) {
    let _wd = Watchdog::test(name);
    let dir = tempfile::tempdir().unwrap();
    let exe = compile(dir.path(), link);
    let server = Aiosmtpd::start();
    let d = TestDaemon::start();
    let (code, stdout) = run(&exe, d.socket_path(), &server.host());
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("not ok")).collect();
    assert!(code == 0 && failed.is_empty(), "basic.c exit {code}; failed checks:\n{}\n\nfull output:\n{stdout}", failed.join("\n"));
    assert!(stdout.lines().filter(|l| l.starts_with("ok - ")).count() >= 40, "too few checks ran:\n{stdout}");
    let got = server.wait_for_messages(2, Duration::from_secs(10));
    assert_eq!(server.message_count(), 2, "the aborted message must not arrive");
    assert_eq!(got[0].from, "c1@a.test");
    assert_eq!(got[0].bytes, expected_on_arrival(&PIECES.concat()), "message sent with smtp_data_buf");
    assert_eq!(got[1].from, "c2@a.test");
    assert_eq!(got[1].bytes, expected_on_arrival(PULLED), "message sent with smtp_data");
}

#[test]
fn c_program_linked_with_the_shared_library() {
    against_aiosmtpd(Link::Shared, "c_program_linked_with_the_shared_library");
}

#[test]
fn c_program_linked_with_the_static_library() {
    against_aiosmtpd(Link::Static, "c_program_linked_with_the_static_library");
}

#[test]
fn c_program_without_a_daemon_gets_cannot_initialize() {
    let _wd = Watchdog::test("c_program_without_a_daemon_gets_cannot_initialize");
    let dir = tempfile::tempdir().unwrap();
    let exe = compile(dir.path(), Link::Shared);
    let (code, stdout) = run(&exe, &dir.path().join("no-daemon.sock"), "NODAEMON");
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("ok - smtp_helo without a daemon"), "{stdout}");
}
