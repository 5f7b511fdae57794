//! A program written as the SMTP-32 manual's users wrote them compiles and runs with only
//! `#include <windows.h>` dropped (issue 14, item 1): `tests/c/porting.c` includes the manual's
//! `<d32-smtp.h>` and `<d32-fw.h>` (`client/include/`), uses `GLOBALHANDLE`, `FARPROC`, `DWORD`,
//! `LPSTR`, `WINAPI`, `far`, `(FARPROC)f` casts, `MakeProcInstance`, a K&R-style callback, a
//! pointer in a `DWORD` lParam and `OPT_GET_PARAM` into a `DWORD`. It is compiled with the
//! system compiler's defaults and `-Wall -Werror` (and again as C99 with `-Wextra`), then run
//! against smtp-sink and microsocks through the real daemon.

use smtp32_tests::c_program::{compile, run, Link};
use smtp32_tests::peers::socks::Microsocks;
use smtp32_tests::{SmtpSink, TestDaemon, Watchdog};
use std::time::Duration;

#[test]
fn a_program_written_from_the_manual_compiles_with_only_windows_h_dropped_and_runs() {
    let _wd = Watchdog::test(
        "a_program_written_from_the_manual_compiles_with_only_windows_h_dropped_and_runs",
    );
    let c99 = tempfile::tempdir().unwrap();
    compile(
        c99.path(),
        "porting.c",
        &["-std=c99", "-Wall", "-Wextra", "-Werror"],
        Link::Shared,
    );
    let dir = tempfile::tempdir().unwrap();
    let exe = compile(dir.path(), "porting.c", &["-Wall", "-Werror"], Link::Shared);
    let sink = SmtpSink::start();
    let socks = Microsocks::start();
    let d = TestDaemon::start();
    let out = run(
        &exe,
        d.socket_path(),
        &[&sink.host(), &socks.port().to_string()],
        Duration::from_secs(60),
    );
    out.assert_clean("porting.c");
    assert!(
        out.passed().len() >= 25,
        "too few checks ran:\n{}",
        out.stdout
    );
    let messages: Vec<String> = sink
        .dumps()
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    let ported = messages
        .iter()
        .filter(|m| m.contains("Subject: ported from SMTP-32"))
        .count();
    assert_eq!(ported, 2, "both smtp_data messages arrive: {messages:?}");
}
