//! The issue-4 functions from C: `tests/c/sendmsg.c` is compiled against `smtp32.h` (so the
//! prototypes of `smtp_starttls`, `smtp_auth`, `smtp_ext` and `smtp_sendmsg` are checked by a C
//! compiler), linked with `libsmtp32.so` and run against aiosmtpd; this test then checks what
//! arrived.

use smtp32_tests::c_program::{compile, run, Link};
use smtp32_tests::message::expected_on_arrival;
use smtp32_tests::{Aiosmtpd, TestDaemon, Watchdog};
use std::time::Duration;

/// Must match `MESSAGE` in sendmsg.c.
const MESSAGE: &[u8] = b"Subject: from C\r\n\r\n.one line from smtp_sendmsg\n";

#[test]
fn c_program_uses_ext_starttls_auth_and_sendmsg() {
    let _wd = Watchdog::test("c_program_uses_ext_starttls_auth_and_sendmsg");
    let dir = tempfile::tempdir().unwrap();
    let exe = compile(
        dir.path(),
        "sendmsg.c",
        &["-std=c11", "-Wall", "-Wextra", "-Werror", "-g"],
        Link::Shared,
    );
    let server = Aiosmtpd::start();
    let d = TestDaemon::start();
    let out = run(
        &exe,
        d.socket_path(),
        &[&server.host()],
        Duration::from_secs(60),
    );
    out.assert_clean("sendmsg.c");
    assert!(
        out.passed().len() >= 15,
        "too few checks ran:\n{}",
        out.stdout
    );
    let got = server
        .wait_for_messages(1, Duration::from_secs(10))
        .remove(0);
    assert_eq!((got.from.as_str(), got.to.len()), ("c@a.test", 2));
    assert_eq!(got.bytes, expected_on_arrival(MESSAGE));
}
