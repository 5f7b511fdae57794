//! Operating the daemon: `smtp32ctl` listings seen by two users, closing another program's
//! connection, SIGTERM during a large message, SIGHUP and `smtp32ctl reload`, `smtp32ctl
//! shutdown`, and the command line's exit codes.

use serde_json::Value;
use smtp32::ReturnCode;
use smtp32_tests::ctl::{as_other_user, ctl, ctl_as_other, OTHER_GROUP, OTHER_UID};
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::message::{expected_on_arrival, first_difference, generated_message};
use smtp32_tests::process::ChildGuard;
use smtp32_tests::session::{expect_code, LOCAL};
use smtp32_tests::wait::{poll_until, wait_for};
use smtp32_tests::{Aiosmtpd, Script, ScriptedServer, SmtpSink, TestDaemon, Watchdog};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);
const HELPER: &str = env!("CARGO_BIN_EXE_smtp32-test-helper");

/// The rows of `connections --json`, by handle.
fn rows(out: &Value) -> BTreeMap<u64, Value> {
    out.as_array()
        .unwrap_or_else(|| panic!("not an array: {out}"))
        .iter()
        .map(|r| (r["handle"].as_u64().expect("handle"), r.clone()))
        .collect()
}

/// A daemon whose socket `nobody` may reach: in a folder others may traverse, mode 0660,
/// group `nogroup`. Returns the folder too (it must outlive the daemon).
fn daemon_for_two_users() -> (tempfile::TempDir, TestDaemon) {
    let dir = tempfile::Builder::new()
        .prefix("smtp32-ops-")
        .tempdir()
        .expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).expect("chmod");
    let socket = dir.path().join("smtp32d.sock");
    let config = format!("socket_mode = \"0660\"\nsocket_group = \"{OTHER_GROUP}\"\n");
    let d = TestDaemon::start_with(DaemonOptions::default().socket(&socket).config(&config));
    let mode = std::fs::metadata(&socket)
        .expect("socket")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o660, "socket mode");
    (dir, d)
}

/// Starts the helper as `nobody`, holding three connections to `host`; returns it and the
/// handles (idle, in a transaction, inside DATA).
fn hold_as_other_user(socket: &Path, host: &str) -> (ChildGuard, [u64; 3]) {
    let mut cmd = as_other_user(Path::new(HELPER));
    cmd.arg("hold")
        .arg(socket)
        .arg(host)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut helper = ChildGuard::spawn("smtp32-test-helper as nobody", &mut cmd);
    let stdout = helper.take_stdout().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the helper said READY in time");
    let handles: Vec<u64> = line
        .trim()
        .strip_prefix("READY ")
        .unwrap_or("")
        .split(' ')
        .filter_map(|h| h.parse().ok())
        .collect();
    assert_eq!(handles.len(), 3, "helper said {line:?}");
    (helper, [handles[0], handles[1], handles[2]])
}

#[test]
fn each_user_lists_their_own_connections_and_root_lists_all() {
    let _wd = Watchdog::test("each_user_lists_their_own_connections_and_root_lists_all");
    let sink = SmtpSink::start();
    let (_dir, d) = daemon_for_two_users();
    let socket = d.socket_path().to_path_buf();
    let client = d.client();
    let mine = client
        .helo(&sink.host(), LOCAL, None)
        .expect("helo as root");
    let my_handle = mine.handle().get() as u64;
    let (_helper, [idle, envelope, in_data]) = hold_as_other_user(&socket, &sink.host());

    // nobody sees exactly its three connections, in the states the helper left them.
    let theirs = rows(&ctl_as_other(&socket, &["connections", "--json"]).json());
    assert_eq!(theirs.keys().copied().collect::<Vec<_>>(), {
        let mut v = vec![idle, envelope, in_data];
        v.sort();
        v
    });
    for (handle, state) in [
        (idle, "ready"),
        (envelope, "in-transaction"),
        (in_data, "in-data"),
    ] {
        let row = &theirs[&handle];
        assert_eq!(row["state"], state, "{row}");
        assert_eq!(row["owner_uid"], OTHER_UID, "{row}");
        assert_eq!(row["server"], sink.host().as_str(), "{row}");
        assert_eq!(
            row["last_reply_code"],
            if state == "in-data" { 354 } else { 250 },
            "{row}"
        );
        assert!(
            row["bytes_out"].as_u64() > Some(0) && row["tls"].is_null(),
            "{row}"
        );
    }

    // root is an admin: it sees all four, its own with its pid and uid 0.
    let all = rows(&ctl(&socket, &["connections", "--json"]).json());
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!(all[&my_handle]["owner_uid"], 0);
    assert_eq!(all[&my_handle]["owner_pid"], std::process::id());
    let table = ctl(&socket, &["connections"])
        .expect_code(0, "connections as root")
        .to_string();
    assert!(
        table.starts_with("HANDLE") && table.lines().count() == 5,
        "{table}"
    );

    // nobody can neither see nor touch root's connection, nor reload or stop the daemon.
    let h = my_handle.to_string();
    ctl_as_other(&socket, &["show", &h]).expect_code(1, "show another user's handle");
    ctl_as_other(&socket, &["close", &h]).expect_code(1, "close another user's handle");
    let denied = ctl_as_other(&socket, &["reload"]);
    denied.expect_code(1, "reload as nobody");
    assert!(denied.stderr.contains("not permitted"), "{}", denied.stderr);
    ctl_as_other(&socket, &["shutdown"]).expect_code(1, "shutdown as nobody");
    d.assert_serving();
    assert_eq!(
        mine.noop().expect("root's connection is untouched").code,
        250
    );

    // Its own connection in detail; the admin sees another user's, message content summarised.
    let detail = ctl_as_other(&socket, &["show", &envelope.to_string(), "--json"]).json();
    let traffic: Vec<&str> = detail["traffic"]
        .as_array()
        .expect("traffic")
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert!(
        traffic.contains(&"MAIL FROM:<a@a.test>") && traffic.contains(&"RCPT TO:<b@b.test>"),
        "{traffic:?}"
    );
    let text = ctl(&socket, &["show", &in_data.to_string()])
        .expect_code(0, "show as root")
        .to_string();
    assert!(
        text.contains("state:        in-data") && text.contains("[message data: "),
        "{text}"
    );
    assert!(
        !text.contains("half a message"),
        "message content must not be shown:\n{text}"
    );

    // Admin requests reach other clients' handles; normal requests still do not.
    let mut raw = d.raw();
    let noop = smtp32_protocol::Request::Command {
        handle: smtp32::Handle::new(idle as u32).unwrap(),
        command: smtp32_protocol::Command::Noop,
    };
    assert_eq!(
        raw.request(noop, T),
        smtp32_protocol::Response::Failed(smtp32_protocol::Failure::InvalidHandle)
    );
    mine.quit().expect("quit");
}

#[test]
fn close_is_seen_by_the_owner_as_aborted() {
    let _wd = Watchdog::test("close_is_seen_by_the_owner_as_aborted");
    let server = ScriptedServer::start(Script::stall_after_mail());
    let d = TestDaemon::start();
    let socket = d.socket_path().to_path_buf();
    let conn = d.client().helo(&server.host(), LOCAL, None).expect("helo");
    let handle = conn.handle();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let result = conn.mail("a@a.test");
        let after = conn.noop();
        let _ = tx.send((result, after));
    });
    server.wait_received("MAIL", T);
    poll_until(T, "the listing to show MAIL in flight", || {
        let all = rows(&ctl(&socket, &["connections", "--json"]).json());
        (all.get(&(handle.get() as u64))?["operation"] == "MAIL").then_some(())
    });
    let started = Instant::now();
    ctl(&socket, &["close", &handle.to_string()]).expect_code(0, "close");
    let (result, after) = rx.recv_timeout(T).expect("the owner's MAIL returned");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "close took {:?}",
        started.elapsed()
    );
    expect_code(result, ReturnCode::Aborted, "the owner's MAIL after close");
    expect_code(after, ReturnCode::InvalidHandle, "the handle after close");
    ctl(&socket, &["show", &handle.to_string()]).expect_code(1, "show a closed handle");
    ctl(&socket, &["close", &handle.to_string()]).expect_code(1, "close it again");
}

#[test]
fn sigterm_lets_a_50_mib_message_finish_then_exits_0() {
    let _wd = Watchdog::arm(
        "sigterm_lets_a_50_mib_message_finish_then_exits_0",
        Duration::from_secs(300),
    );
    let message = generated_message(50 * 1024 * 1024, 51);
    let want = expected_on_arrival(&message);
    let server = Aiosmtpd::start();
    let mut d = TestDaemon::start_with(DaemonOptions::default().config("shutdown_grace = 240\n"));
    let bystander = d.client();
    let conn = d.client().helo(&server.host(), LOCAL, None).expect("helo");
    conn.mail("big@a.test").expect("mail");
    conn.rcpt("rcpt@b.test").expect("rcpt");
    let mut chunks = message.chunks(1024 * 1024);
    for chunk in chunks.by_ref().take(4) {
        conn.data_buf(chunk).expect("data before SIGTERM");
    }

    // SAFETY: kill() on the daemon's PID, which this test started and has not reaped.
    unsafe { libc::kill(d.pid() as i32, libc::SIGTERM) };
    poll_until(T, "status to say shutting down", || {
        bystander.status().ok().filter(|s| s.shutting_down)
    });
    let refused = expect_code(
        bystander.helo(&server.host(), LOCAL, None),
        ReturnCode::CannotInitialize,
        "helo",
    );
    assert!(refused.message().contains("shutting down"), "{refused}");
    let other = d.client();
    expect_code(
        other.helo(&server.host(), LOCAL, None),
        ReturnCode::CannotInitialize,
        "helo from a new client",
    );

    for chunk in chunks {
        conn.data_buf(chunk).expect("data after SIGTERM");
    }
    let reply = conn.data_end().expect("the final dot after SIGTERM");
    assert_eq!(reply.code, 250, "{reply:?}");
    wait_for(Duration::from_secs(20), "the daemon to exit", || {
        !d.is_running()
    });
    let status = d.stop(Duration::from_secs(1));
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status:?}; stderr:\n{}",
        d.stderr()
    );
    let got = server
        .wait_for_messages(1, Duration::from_secs(60))
        .remove(0);
    assert!(got.bytes == want, "{}", first_difference(&got.bytes, &want));
    expect_code(
        conn.noop(),
        ReturnCode::CannotInitialize,
        "a call after the daemon exited",
    );
}

#[test]
fn sighup_changes_the_timeout_for_new_connections() {
    let _wd = Watchdog::test("sighup_changes_the_timeout_for_new_connections");
    let sink = SmtpSink::start();
    let d = TestDaemon::start_with(DaemonOptions::default().config("timeout = 20\n"));
    let client = d.client();
    let old = client
        .helo(&sink.host(), LOCAL, None)
        .expect("helo before SIGHUP");
    std::fs::write(d.dir().join("smtp32d.toml"), "timeout = 2\n").expect("rewrite config");
    // SAFETY: kill() on the daemon's PID, which this test started and has not reaped.
    unsafe { libc::kill(d.pid() as i32, libc::SIGHUP) };
    poll_until(T, "new connections to get the new timeout", || {
        let conn = client.helo(&sink.host(), LOCAL, None).ok()?;
        let secs = client.show_connection(conn.handle()).ok()?.timeout_secs;
        conn.quit().ok()?;
        (secs == 2).then_some(())
    });
    assert_eq!(
        client
            .show_connection(old.handle())
            .expect("show")
            .timeout_secs,
        20,
        "old connections keep theirs"
    );
    assert_eq!(
        old.noop().expect("the old connection survives SIGHUP").code,
        250
    );

    // And it is a real timeout: a stalled NOOP gives up after about 2 s.
    let stall = ScriptedServer::start(Script::stall_on_noop());
    let conn = client
        .helo(&stall.host(), LOCAL, None)
        .expect("helo to the staller");
    let started = Instant::now();
    expect_code(conn.noop(), ReturnCode::TimedOut, "stalled NOOP");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(8),
        "timed out after {took:?}"
    );
}

#[test]
fn smtp32ctl_reload_keeps_a_bad_file_out_and_shutdown_exits_0() {
    let _wd = Watchdog::test("smtp32ctl_reload_keeps_a_bad_file_out_and_shutdown_exits_0");
    let sink = SmtpSink::start();
    let mut d = TestDaemon::start_with(DaemonOptions::default().config("timeout = 20\n"));
    let socket = d.socket_path().to_path_buf();
    let config = d.dir().join("smtp32d.toml");
    let status = ctl(&socket, &["status", "--json"]).json();
    assert_eq!(status["config_file"], config.display().to_string().as_str());

    std::fs::write(&config, "timeout = 0\n").expect("write a bad config");
    let bad = ctl(&socket, &["reload"]);
    bad.expect_code(1, "reload of a bad file");
    assert!(bad.stderr.contains("`timeout`"), "{}", bad.stderr);
    std::fs::write(&config, "timeout = 7\n").expect("write a good config");
    ctl(&socket, &["reload"]).expect_code(0, "reload");
    let client = d.client();
    let conn = client.helo(&sink.host(), LOCAL, None).expect("helo");
    assert_eq!(
        client
            .show_connection(conn.handle())
            .expect("show")
            .timeout_secs,
        7
    );

    // Totals count what happened.
    expect_code(
        conn.rcpt("nobody@b.test"),
        ReturnCode::Failure,
        "RCPT without MAIL",
    );
    let status = ctl(&socket, &["status", "--json"]).json();
    assert_eq!(status["by_state"]["ready"], 1, "{status}");
    assert!(
        status["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "SMTP_FAILURE"),
        "{status}"
    );
    assert!(status["bytes_sent"].as_u64() > Some(0), "{status}");

    ctl(&socket, &["shutdown"]).expect_code(0, "shutdown");
    wait_for(T, "the daemon to exit", || !d.is_running());
    assert_eq!(
        d.stop(Duration::from_secs(1)).code(),
        Some(0),
        "stderr:\n{}",
        d.stderr()
    );
    assert!(!socket.exists(), "the socket file is removed");
    ctl(&socket, &["ping"]).expect_code(69, "ping with no daemon");
}

#[test]
fn smtp32ctl_has_help_everywhere_and_usage_errors_exit_64() {
    let _wd = Watchdog::test("smtp32ctl_has_help_everywhere_and_usage_errors_exit_64");
    let nowhere = Path::new("/nonexistent/smtp32d.sock");
    for sub in [
        "ping",
        "status",
        "connections",
        "show",
        "close",
        "reload",
        "shutdown",
    ] {
        let out = ctl(nowhere, &[sub, "--help"]);
        assert!(
            out.expect_code(0, sub).contains("Usage: smtp32ctl"),
            "{sub}: {}",
            out.stdout
        );
    }
    ctl(nowhere, &["--help"]).expect_code(0, "--help");
    ctl(nowhere, &["show"]).expect_code(64, "show without a handle");
    ctl(nowhere, &["show", "0"]).expect_code(64, "handle 0");
    ctl(nowhere, &["frobnicate"]).expect_code(64, "unknown command");
    ctl(nowhere, &["status"]).expect_code(69, "no daemon");
}
