//! The daemon's debug log, the manual's `DebugLevel` registry entry: `debug_level` 0 writes
//! nothing, 1 every error, 2 every call with its arguments and return value; `debug_log` names
//! the file. Set in the config file or as `SMTP32D_DEBUG_LEVEL` / `SMTP32D_DEBUG_LOG`; SIGHUP
//! after a config change switches the level for the calls that follow. Never a password (a
//! SOCKS password here) and never message bytes.
//!
//! A call's line is written before its response is sent, so once the call has returned its line
//! is in the file; the SIGHUP switch is awaited by polling pings until their lines appear (or
//! stop appearing), each poll bounded by a deadline.

use smtp32::socks::{
    Secret, SocksEndpoint, SocksHost, SocksMethods, SocksRoute, SocksUser, SocksVersions,
};
use smtp32::ReturnCode;
use smtp32_protocol::{Command, Handle, Request, Response};
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::peers::socks::Microsocks;
use smtp32_tests::session::{expect_code, LOCAL};
use smtp32_tests::wait::poll_until;
use smtp32_tests::{SmtpSink, TestDaemon, Watchdog};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

const BODY_MARKER: &str = "BODY-BYTES-MUST-NOT-BE-LOGGED";
const SOCKS_PASSWORD: &str = "socks-Pa55word-not-for-logs";
const REFUSED_RCPT: &str = "refused-rcpt@b.test";
const SENDER: &str = "logged-sender@a.test";

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A closed loopback port (bound, then released): a SOCKS proxy that is not there.
fn dead_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    l.local_addr().expect("addr").port()
}

/// One session with a bit of everything: a successful transaction whose body carries
/// [`BODY_MARKER`], a refused RCPT (`smtp-sink -f RCPT` on the second sink), a request on a
/// handle the daemon does not know, and SOCKS opens with a password: one through microsocks
/// (succeeds) and one through a dead proxy (fails).
fn exercise(d: &TestDaemon, ok: &SmtpSink, refusing: &SmtpSink) {
    let proxy = Microsocks::with_password("socks-user", SOCKS_PASSWORD);
    let client = d.client();
    let conn = client.helo(&ok.host(), LOCAL, None).expect("helo");
    conn.mail(SENDER).expect("mail");
    conn.rcpt("to@b.test").expect("rcpt");
    conn.data_buf(format!("Subject: log\r\n\r\n{BODY_MARKER}\r\n").as_bytes())
        .expect("data_buf");
    conn.data_end().expect("data_end");
    conn.quit().expect("quit");

    let conn = client.helo(&refusing.host(), LOCAL, None).expect("helo");
    conn.mail(SENDER).expect("mail");
    expect_code(
        conn.rcpt(REFUSED_RCPT),
        ReturnCode::Failure,
        "RCPT refused by the sink",
    );
    conn.quit().expect("quit");

    let mut raw = d.raw();
    let unknown = Handle::new(987_654).expect("non-zero");
    match raw.request(
        Request::Command {
            handle: unknown,
            command: Command::Noop,
        },
        Duration::from_secs(10),
    ) {
        Response::Failed(f) => assert_eq!(f.code(), ReturnCode::InvalidHandle, "{f:?}"),
        other => panic!("NOOP on an unknown handle: {other:?}"),
    }

    let route = |proxy_port: u16, dest: &str, dest_port: u16| SocksRoute {
        proxy: SocksEndpoint::new(SocksHost::parse("127.0.0.1").unwrap(), proxy_port).unwrap(),
        versions: SocksVersions::V5,
        methods: SocksMethods::parse("2").unwrap(),
        destination: SocksEndpoint::new(SocksHost::parse(dest).unwrap(), dest_port).unwrap(),
        username: Some(SocksUser::new("socks-user").unwrap()),
        password: Some(Secret::new(SOCKS_PASSWORD).unwrap()),
    };
    let via = client
        .fw_helo(
            route(proxy.port(), "127.0.0.1", ok.addr().port()),
            LOCAL,
            None,
        )
        .expect("fw_helo via microsocks");
    via.quit().expect("quit");
    let e = client
        .fw_helo(route(dead_port(), "mail.example.test", 25), LOCAL, None)
        .expect_err("no proxy listens there");
    assert_ne!(e.code(), ReturnCode::Success);
}

/// Neither secrets nor message bytes, whatever the level.
#[track_caller]
fn assert_nothing_secret(log: &str) {
    assert!(
        !log.contains(SOCKS_PASSWORD),
        "the SOCKS password is in the debug log:\n{log}"
    );
    assert!(
        !log.contains(BODY_MARKER),
        "message bytes are in the debug log:\n{log}"
    );
}

/// The lines of `log` that mention `needle`.
fn lines_with<'a>(log: &'a str, needle: &str) -> Vec<&'a str> {
    log.lines().filter(|l| l.contains(needle)).collect()
}

fn start(config: &str, env: &[(&str, &str)]) -> TestDaemon {
    let mut opts = DaemonOptions::default();
    if !config.is_empty() {
        opts = opts.config(config);
    }
    for (k, v) in env {
        opts = opts.env(k, v);
    }
    TestDaemon::start_with(opts)
}

fn log_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("logs").join("smtp32d.dbg")
}

#[test]
fn level_0_writes_nothing() {
    let _wd = Watchdog::test("level_0_writes_nothing");
    let (ok, refusing) = (SmtpSink::start(), SmtpSink::with_flags(&["-f", "RCPT"]));
    let dir = tempfile::tempdir().unwrap();
    let log = log_path(&dir);
    let d = start(
        "",
        &[
            ("SMTP32D_DEBUG_LEVEL", "0"),
            ("SMTP32D_DEBUG_LOG", log.to_str().unwrap()),
        ],
    );
    exercise(&d, &ok, &refusing);
    assert_eq!(read(&log), "", "level 0 writes no debug log at all");
}

#[test]
fn level_1_has_the_errors_and_no_call_lines() {
    let _wd = Watchdog::test("level_1_has_the_errors_and_no_call_lines");
    let (ok, refusing) = (SmtpSink::start(), SmtpSink::with_flags(&["-f", "RCPT"]));
    let dir = tempfile::tempdir().unwrap();
    let log_file = log_path(&dir);
    let d = start(
        &format!(
            "debug_level = 1\ndebug_log = {:?}\n",
            log_file.to_str().unwrap()
        ),
        &[],
    );
    exercise(&d, &ok, &refusing);
    let log = read(&log_file);

    let rcpt = lines_with(&log, REFUSED_RCPT);
    assert_eq!(rcpt.len(), 1, "one line for the refused RCPT:\n{log}");
    // `smtp-sink -f RCPT` answers "500 5.3.0 Error: command failed".
    assert!(
        rcpt[0].contains("SMTP_FAILURE") && rcpt[0].contains("500 5.3.0"),
        "the error, its code and the reply:\n{log}"
    );
    let unknown = lines_with(&log, "SMTP_INVALID_HANDLE");
    assert!(
        unknown.iter().any(|l| l.contains("987654")),
        "the unknown handle's error names it:\n{log}"
    );
    assert!(
        lines_with(&log, "OpenViaSocks")
            .iter()
            .any(|l| l.contains("SMTP_")),
        "the failed SOCKS open:\n{log}"
    );

    assert!(
        lines_with(&log, "SMTP_SUCCESS").is_empty(),
        "no successful call at level 1:\n{log}"
    );
    assert!(
        lines_with(&log, "smtp32d::call").is_empty(),
        "no call lines at level 1:\n{log}"
    );
    assert!(
        lines_with(&log, SENDER).is_empty(),
        "the accepted MAIL is not an error:\n{log}"
    );
    assert_nothing_secret(&log);
}

#[test]
fn level_2_has_every_call_with_its_arguments_and_return_code() {
    let _wd = Watchdog::test("level_2_has_every_call_with_its_arguments_and_return_code");
    let (ok, refusing) = (SmtpSink::start(), SmtpSink::with_flags(&["-f", "RCPT"]));
    let dir = tempfile::tempdir().unwrap();
    let log_file = log_path(&dir);
    let d = start(
        "",
        &[
            ("SMTP32D_DEBUG_LEVEL", "2"),
            ("SMTP32D_DEBUG_LOG", log_file.to_str().unwrap()),
        ],
    );
    exercise(&d, &ok, &refusing);
    let log = read(&log_file);

    let opens: Vec<&str> = lines_with(&log, "Open {");
    assert!(
        opens
            .iter()
            .any(|l| l.contains(&ok.host()) && l.contains(LOCAL) && l.contains("SMTP_SUCCESS")),
        "the open with host, local name and result:\n{log}"
    );
    let mails = lines_with(&log, SENDER);
    assert_eq!(mails.len(), 2, "both MAIL FROM calls:\n{log}");
    assert!(
        mails
            .iter()
            .all(|l| l.contains("Mail") && l.contains("SMTP_SUCCESS")),
        "MAIL with its address and SMTP_SUCCESS:\n{log}"
    );
    let rcpt = lines_with(&log, REFUSED_RCPT);
    assert_eq!(rcpt.len(), 1, "{log}");
    assert!(
        rcpt[0].contains("Rcpt") && rcpt[0].contains("SMTP_FAILURE"),
        "the refused RCPT and SMTP_FAILURE:\n{log}"
    );
    assert!(
        lines_with(&log, "to@b.test")
            .iter()
            .any(|l| l.contains("SMTP_SUCCESS")),
        "the accepted RCPT:\n{log}"
    );
    let chunk = lines_with(&log, "DataChunk");
    assert!(
        chunk
            .iter()
            .any(|l| l.contains("bytes") && l.contains("SMTP_SUCCESS")),
        "the data chunk by size:\n{log}"
    );
    assert!(
        lines_with(&log, "DataEnd")
            .iter()
            .any(|l| l.contains("SMTP_SUCCESS")),
        "{log}"
    );
    assert!(
        lines_with(&log, "Quit")
            .iter()
            .filter(|l| l.contains("SMTP_SUCCESS"))
            .count()
            >= 2,
        "{log}"
    );
    assert!(
        lines_with(&log, "SMTP_INVALID_HANDLE")
            .iter()
            .any(|l| l.contains("987654")),
        "{log}"
    );
    let socks = lines_with(&log, "OpenViaSocks");
    assert_eq!(socks.len(), 2, "both SOCKS opens:\n{log}");
    assert!(
        socks
            .iter()
            .all(|l| l.contains("socks-user") && l.contains("***")),
        "the SOCKS opens, password masked:\n{log}"
    );
    assert!(
        socks.iter().any(|l| l.contains("SMTP_SUCCESS")),
        "the SOCKS open through microsocks succeeded:\n{log}"
    );
    assert_nothing_secret(&log);
}

/// Sends SIGHUP to the daemon.
fn hangup(d: &TestDaemon) {
    // SAFETY: kill() on the PID of our own running child.
    assert_eq!(unsafe { libc::kill(d.pid() as i32, libc::SIGHUP) }, 0);
}

/// Pings until a ping's call line is in the log (`want_logged`) or is not (`!want_logged`).
fn await_level(d: &TestDaemon, log_file: &Path, want_logged: bool) {
    let client = d.client();
    poll_until(Duration::from_secs(10), "the reloaded debug level", || {
        let before = lines_with(&read(log_file), "Ping").len();
        client.ping(b"level?").expect("ping");
        let logged = lines_with(&read(log_file), "Ping").len() > before;
        (logged == want_logged).then_some(())
    });
}

#[test]
fn sighup_switches_the_level_for_new_calls() {
    let _wd = Watchdog::test("sighup_switches_the_level_for_new_calls");
    let (ok, refusing) = (SmtpSink::start(), SmtpSink::with_flags(&["-f", "RCPT"]));
    let dir = tempfile::tempdir().unwrap();
    let log_file = log_path(&dir);
    let config = |level: u8| {
        format!(
            "debug_level = {level}\ndebug_log = {:?}\n",
            log_file.to_str().unwrap()
        )
    };
    let d = start(&config(1), &[]);
    let config_path = d.dir().join("smtp32d.toml");
    assert!(
        read(&config_path).contains("debug_level = 1"),
        "the fixture writes the config there"
    );

    let first = d.client().helo(&ok.host(), LOCAL, None).expect("helo");
    first.mail(SENDER).expect("mail");
    assert!(
        lines_with(&read(&log_file), SENDER).is_empty(),
        "level 1: no call line"
    );

    std::fs::write(&config_path, config(2)).unwrap();
    hangup(&d);
    await_level(&d, &log_file, true);
    first.rset().expect("rset");
    let conn = d.client().helo(&ok.host(), LOCAL, None).expect("helo");
    conn.mail("after-hup@a.test").expect("mail");
    let log = read(&log_file);
    assert!(
        lines_with(&log, "after-hup@a.test")
            .iter()
            .any(|l| l.contains("SMTP_SUCCESS")),
        "level 2 after SIGHUP: the call line is written:\n{log}"
    );
    conn.quit().expect("quit");

    std::fs::write(&config_path, config(1)).unwrap();
    hangup(&d);
    await_level(&d, &log_file, false);
    let before = read(&log_file);
    let conn = d
        .client()
        .helo(&refusing.host(), LOCAL, None)
        .expect("helo");
    conn.mail("back-to-1@a.test").expect("mail");
    expect_code(conn.rcpt(REFUSED_RCPT), ReturnCode::Failure, "RCPT");
    conn.quit().expect("quit");
    let log = read(&log_file);
    let new = &log[before.len()..];
    assert!(
        lines_with(new, "back-to-1@a.test").is_empty(),
        "level 1 again: no call line:\n{new}"
    );
    assert_eq!(
        lines_with(new, REFUSED_RCPT).len(),
        1,
        "level 1 again: the error is still logged:\n{new}"
    );

    std::fs::write(&config_path, config(0)).unwrap();
    hangup(&d);
    // Level 0 writes nothing, so there is nothing to wait for in the file; wait for the
    // daemon to say it reloaded (its stderr), then check that an error is no longer logged.
    poll_until(Duration::from_secs(10), "the third reload", || {
        (d.stderr().matches("reloaded").count() >= 3).then_some(())
    });
    let before = read(&log_file);
    let conn = d
        .client()
        .helo(&refusing.host(), LOCAL, None)
        .expect("helo");
    conn.mail(SENDER).expect("mail");
    expect_code(conn.rcpt(REFUSED_RCPT), ReturnCode::Failure, "RCPT");
    conn.quit().expect("quit");
    assert_eq!(
        read(&log_file),
        before,
        "level 0 after SIGHUP: nothing more is written"
    );
    first
        .quit()
        .expect("the connection opened before the first SIGHUP still works");
}
