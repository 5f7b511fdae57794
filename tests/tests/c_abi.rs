//! The C ABI from C: `tests/c/basic.c` is compiled with `cc` against `client/include/smtp32.h`,
//! linked with the built `libsmtp32.so` (and, separately, `libsmtp32.a`), and run with
//! `SMTP32_SOCKET` pointing at a test daemon. The program checks each call's return code
//! itself (exit code = failed checks); this test then checks what reached the SMTP server.

use smtp32_tests::c_program::{compile, run, Link};
use smtp32_tests::message::expected_on_arrival;
use smtp32_tests::{Aiosmtpd, TestDaemon, Watchdog};
use std::time::Duration;

/// Must match `PIECES` in basic.c.
const PIECES: [&[u8]; 3] = [
    b"Subject: c data_buf\r\n\r\n.dot line\r",
    b"\nbare lf\n",
    b"no final newline",
];
/// Must match `PULLED` in basic.c.
const PULLED: &[u8] = b"Subject: c smtp_data\n\n..two dots\nline\r\n.\n";

const FLAGS: [&str; 5] = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-g"];
const RUN_DEADLINE: Duration = Duration::from_secs(60);

fn against_aiosmtpd(link: Link, name: &str) {
    let _wd = Watchdog::test(name);
    let dir = tempfile::tempdir().unwrap();
    let exe = compile(dir.path(), "basic.c", &FLAGS, link);
    let server = Aiosmtpd::start();
    let d = TestDaemon::start();
    let out = run(&exe, d.socket_path(), &[&server.host()], RUN_DEADLINE);
    out.assert_clean("basic.c");
    assert!(
        out.passed().len() >= 40,
        "too few checks ran:\n{}",
        out.stdout
    );
    let got = server.wait_for_messages(2, Duration::from_secs(10));
    assert_eq!(
        server.message_count(),
        2,
        "the aborted message must not arrive"
    );
    assert_eq!(got[0].from, "c1@a.test");
    assert_eq!(
        got[0].bytes,
        expected_on_arrival(&PIECES.concat()),
        "message sent with smtp_data_buf"
    );
    assert_eq!(got[1].from, "c2@a.test");
    assert_eq!(
        got[1].bytes,
        expected_on_arrival(PULLED),
        "message sent with smtp_data"
    );
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
    let exe = compile(dir.path(), "basic.c", &FLAGS, Link::Shared);
    let out = run(
        &exe,
        &dir.path().join("no-daemon.sock"),
        &["NODAEMON"],
        RUN_DEADLINE,
    );
    out.assert_clean("basic.c NODAEMON");
    assert!(
        out.passed().contains(&"smtp_helo without a daemon"),
        "{}",
        out.stdout
    );
}
