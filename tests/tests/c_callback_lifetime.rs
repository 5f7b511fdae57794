//! Callbacks never outlive their handle (issue 10, item 4): `tests/c/lifetime.c` runs several
//! threads against smtp-sink through the real daemon. One thread calls `smtp_xquit` while another
//! is in `smtp_data` (its data and debug procs running), `smtp_quit` while a second thread's
//! calls read the daemon stream and deliver the handle's debug copies, and `smtp_xquit` of an
//! `smtp_xhelo` connect whose greeting copy came on the reader thread. After each return the
//! program marks the lParam context dead; it fails if any callback saw it so.

use smtp32_tests::c_program::{compile, run, Link};
use smtp32_tests::peers::smtp_sink::SmtpSinkOptions;
use smtp32_tests::{SmtpSink, TestDaemon, Watchdog};
use std::time::Duration;

const FLAGS: [&str; 6] = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pthread", "-g"];

#[test]
fn no_callback_runs_after_quit_or_xquit_returned_on_another_thread() {
    let _wd = Watchdog::test("no_callback_runs_after_quit_or_xquit_returned_on_another_thread");
    let dir = tempfile::tempdir().unwrap();
    let exe = compile(dir.path(), "lifetime.c", &FLAGS, Link::Shared);
    // Endless messages: the sink keeps nothing.
    let sink = SmtpSink::start_with(SmtpSinkOptions {
        flags: vec![],
        dump: false,
        port: None,
    });
    let stall = SmtpSink::with_flags(&["-W", "EHLO:30"]);
    let d = TestDaemon::start();
    let out = run(
        &exe,
        d.socket_path(),
        &[&sink.host(), &stall.host()],
        Duration::from_secs(90),
    );
    out.assert_clean("lifetime.c");
    let passed = out.passed();
    assert!(passed.len() >= 30, "too few checks ran:\n{}", out.stdout);
    assert!(
        passed.contains(&"no callback touched its context after smtp_quit/smtp_xquit returned"),
        "{}",
        out.stdout
    );
}
