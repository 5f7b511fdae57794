//! The manual's promises the library once broke (issue 14, item 2), from C: `tests/c/fidelity.c`
//! runs against Exim (EXPN and HELP), smtp-sink (one that takes everything, one that refuses
//! EHLO and HELO) and microsocks through the real daemon:
//! `smtp_xquit` during `smtp_expn`/`smtp_help` (from the line proc and from another thread) gives
//! `SMTP_ABORTED` and no further line; `smtp_rply(0, …)` is reset by every open, `smtp_fw_helo`
//! included; the `smtp_data` fill proc is always offered at least 4 KiB (a line-at-a-time proc
//! sends 3 MiB across the 1 MiB batch edges); `smtp_xhelo` stores `*conn` before its status and
//! debug procs run.

use smtp32_tests::c_program::{compile, run, Link};
use smtp32_tests::peers::exim::Exim;
use smtp32_tests::peers::socks::Microsocks;
use smtp32_tests::{SmtpSink, TestDaemon, Watchdog};
use std::time::Duration;

const FLAGS: [&str; 6] = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pthread", "-g"];
const SOCKS_USER: &str = "fidelity-user";
const SOCKS_PASSWORD: &str = "fidelity-Pa55";

#[test]
fn xquit_during_listings_last_open_reply_fill_room_and_xhelo_conn_follow_the_manual() {
    let _wd = Watchdog::arm(
        "xquit_during_listings_last_open_reply_fill_room_and_xhelo_conn_follow_the_manual",
        Duration::from_secs(120),
    );
    let dir = tempfile::tempdir().unwrap();
    let exe = compile(dir.path(), "fidelity.c", &FLAGS, Link::Shared);
    let mta = Exim::start().unwrap_or_else(|e| panic!("the Exim fixture did not start: {e}"));
    let sink = SmtpSink::start();
    let refusing = SmtpSink::with_flags(&["-f", "EHLO,HELO"]);
    let socks = Microsocks::with_password(SOCKS_USER, SOCKS_PASSWORD);
    let d = TestDaemon::start();
    let out = run(
        &exe,
        d.socket_path(),
        &[
            &mta.smtp_addr().to_string(),
            &sink.host(),
            &refusing.host(),
            &socks.port().to_string(),
            SOCKS_USER,
            SOCKS_PASSWORD,
        ],
        Duration::from_secs(90),
    );
    out.assert_clean("fidelity.c");
    assert!(
        out.passed().len() >= 30,
        "too few checks ran:\n{}",
        out.stdout
    );
    let dumps = sink.dumps();
    // 3146 lines of 1000 bytes, as the sink dumps them (with its own envelope lines).
    let sizes: Vec<usize> = dumps.iter().map(Vec::len).collect();
    assert!(
        sizes.iter().any(|&n| n >= 3_100_000),
        "the 3 MiB message did not reach the sink: sizes {sizes:?}"
    );
}
