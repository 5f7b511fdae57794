//! The daemon as systemd runs it (issue 14): readiness, the watchdog heartbeat and the outcome
//! of a reload on `$NOTIFY_SOCKET` (a datagram socket of the test's, as systemd's would be),
//! `smtp32ctl reload` (the unit's `ExecReload=`) failing on a bad file, and a log on a file that
//! is plain text without colour codes.

use smtp32_tests::ctl::ctl;
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::{TestDaemon, Watchdog};
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// The next message on `socket`, as text; panics when none comes within `T`.
fn next(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = socket
        .recv(&mut buf)
        .expect("a notification within the deadline");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// The next message that is not a heartbeat.
fn next_besides_heartbeats(socket: &UnixDatagram) -> String {
    loop {
        let message = next(socket);
        if message != "WATCHDOG=1" {
            return message;
        }
    }
}

#[test]
fn systemd_hears_ready_then_heartbeats_and_a_bad_reload_keeps_the_old_settings_and_says_why() {
    let _w = Watchdog::arm("systemd notifications", T * 3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let notify = UnixDatagram::bind(&path).unwrap();
    notify.set_read_timeout(Some(T)).unwrap();
    let opts = DaemonOptions::default()
        .config("timeout = 30\n")
        .env("NOTIFY_SOCKET", path.to_str().unwrap())
        .env("WATCHDOG_USEC", "200000");
    let d = TestDaemon::start_with(opts);

    assert_eq!(next(&notify), "READY=1");
    // Two heartbeats in a row: the watchdog is fed while the daemon serves.
    assert_eq!(next(&notify), "WATCHDOG=1");
    assert_eq!(next(&notify), "WATCHDOG=1");

    std::fs::write(d.dir().join("smtp32d.toml"), "timeout = \"soon\"\n").unwrap();
    let out = ctl(d.socket_path(), &["reload"]);
    out.expect_code(1, "reload of a bad file");
    assert!(
        out.stderr.contains("timeout"),
        "the reason names the key: {}",
        out.stderr
    );
    let reloading = next_besides_heartbeats(&notify);
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading:?}"
    );
    let outcome = next_besides_heartbeats(&notify);
    assert!(
        outcome.starts_with("READY=1\nSTATUS=reload failed, old configuration kept: "),
        "{outcome:?}"
    );
    d.assert_serving();
    assert_eq!(
        next(&notify),
        "WATCHDOG=1",
        "the heartbeat goes on after a failed reload"
    );

    std::fs::write(d.dir().join("smtp32d.toml"), "timeout = 20\n").unwrap();
    ctl(d.socket_path(), &["reload"]).expect_code(0, "reload of a good file");
    assert!(next_besides_heartbeats(&notify).starts_with("RELOADING=1"));
    assert_eq!(next_besides_heartbeats(&notify), "READY=1\nSTATUS=serving");
}

#[test]
fn a_log_that_is_not_a_terminal_is_plain_text_without_colour_codes() {
    let _w = Watchdog::arm("plain log", T * 2);
    // JOURNAL_STREAM naming some other file: not stderr, so still text.
    let d = TestDaemon::start_with(DaemonOptions::default().env("JOURNAL_STREAM", "1:1"));
    d.assert_serving();
    let log = d.stderr();
    assert!(log.contains("listening"), "{log}");
    assert!(!log.contains('\x1b'), "escape codes in a log file: {log:?}");
}
