//! The daemon SIGKILLed while clients hold handles and wait in calls, then restarted on the
//! same socket: every call in flight returns at once with `SMTP_CANNOT_INITIALIZE`, the old
//! handles never work again, and new connections work without restarting the application —
//! through the C ABI (whose one global client reconnects on the next `smtp_helo`) and through
//! the Rust API (a new `Client`; the old one stays dead, by design).

use smtp32::ReturnCode;
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::lines::Lines;
use smtp32_tests::process::ChildGuard;
use smtp32_tests::session::{expect_code, LOCAL};
use smtp32_tests::{Script, ScriptedServer, TestDaemon, Watchdog};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);
/// How soon after the kill a call in flight must return.
const PROMPTLY: Duration = Duration::from_secs(2);
const HELPER: &str = env!("CARGO_BIN_EXE_smtp32-fault-helper");

#[test]
fn the_c_abi_survives_a_daemon_killed_and_restarted_on_the_same_socket() {
    let _wd = Watchdog::test("the_c_abi_survives_a_daemon_killed_and_restarted_on_the_same_socket");
    let healthy = ScriptedServer::start(Script::greeted().accept_all());
    let stalled = ScriptedServer::start(Script::stall_after_mail());
    let mut d = TestDaemon::start();
    let socket = d.socket_path().to_path_buf();
    let mut cmd = Command::new(HELPER);
    cmd.arg("c-abi-restart")
        .arg(healthy.host())
        .arg(stalled.host())
        .env("SMTP32_SOCKET", &socket);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut helper = ChildGuard::spawn("C ABI client", &mut cmd);
    let mut stdin = helper.take_stdin().expect("piped stdin");
    let mut lines = Lines::new(helper.take_stdout().expect("piped stdout"));
    let old: u32 = lines.expect("OPEN", T).parse().expect("handle");
    lines.expect("STALLED", T);
    stalled.wait_received("MAIL", T);

    let killed_at = Instant::now();
    assert!(!d.kill().success());
    let code: i32 = lines.expect("INFLIGHT", T).parse().expect("code");
    let took = killed_at.elapsed();
    assert_eq!(
        code,
        ReturnCode::CannotInitialize.as_i32(),
        "smtp_mail in flight when the daemon died"
    );
    assert!(
        took < PROMPTLY,
        "the call in flight returned {took:?} after the kill"
    );

    let _d2 = TestDaemon::start_with(DaemonOptions::default().socket(&socket));
    writeln!(stdin, "restarted").expect("tell the helper");
    let code = |word: &str, lines: &mut Lines| -> i32 {
        lines
            .expect(word, T)
            .split(' ')
            .next()
            .unwrap_or_default()
            .parse()
            .expect("code")
    };
    assert_eq!(
        code("OLD", &mut lines),
        ReturnCode::CannotInitialize.as_i32(),
        "an old handle before any new smtp_helo"
    );
    let new = lines.expect("NEW", T);
    let (rc, handle) = new.split_once(' ').expect("NEW code handle");
    assert_eq!(rc, "0", "smtp_helo after the restart, in the same process");
    assert_ne!(handle.parse::<u32>().expect("handle"), old);
    assert_eq!(
        code("OLDAFTER", &mut lines),
        ReturnCode::InvalidHandle.as_i32(),
        "the old handle after reconnecting"
    );
    assert_eq!(
        code("NEWNOOP", &mut lines),
        0,
        "smtp_noop on the new handle"
    );
    assert_eq!(
        code("NEWQUIT", &mut lines),
        0,
        "smtp_quit on the new handle"
    );
    lines.expect("DONE", T);
}

#[test]
fn rust_calls_in_flight_return_when_the_daemon_dies_and_a_new_client_works() {
    let _wd =
        Watchdog::test("rust_calls_in_flight_return_when_the_daemon_dies_and_a_new_client_works");
    let healthy = ScriptedServer::start(Script::greeted().accept_all());
    let stalled = ScriptedServer::start(Script::stall_after_mail());
    let never = ScriptedServer::start(Script::never_greet());
    let mut d = TestDaemon::start();
    let socket = d.socket_path().to_path_buf();
    let client = d.client();
    let idle = client.helo(&healthy.host(), LOCAL, None).expect("helo");
    let busy = client.helo(&stalled.host(), LOCAL, None).expect("helo");
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    let mail = std::thread::spawn(move || {
        let r = busy.mail("a@a.test").map(drop);
        let _ = tx.send(("mail", r, Instant::now()));
    });
    let c2 = client.clone();
    let never_host = never.host();
    let connect = std::thread::spawn(move || {
        let r = c2.helo(&never_host, LOCAL, None).map(drop);
        let _ = tx2.send(("helo", r, Instant::now()));
    });
    stalled.wait_received("MAIL", T);
    never.wait_connected(T);

    let killed_at = Instant::now();
    assert!(!d.kill().success());
    for _ in 0..2 {
        let (what, r, at) = rx.recv_timeout(T).expect("the calls in flight return");
        expect_code(
            r,
            ReturnCode::CannotInitialize,
            &format!("{what} in flight when the daemon died"),
        );
        let took = at.saturating_duration_since(killed_at);
        assert!(took < PROMPTLY, "{what} returned {took:?} after the kill");
    }
    mail.join().expect("mail thread");
    connect.join().expect("helo thread");
    expect_code(
        idle.noop(),
        ReturnCode::CannotInitialize,
        "an idle handle of the dead daemon",
    );

    let _d2 = TestDaemon::start_with(DaemonOptions::default().socket(&socket));
    // The old client is dead for good (documented): its calls keep failing the same way.
    expect_code(
        idle.noop(),
        ReturnCode::CannotInitialize,
        "an old handle after the restart",
    );
    assert!(!client.is_alive());
    let fresh = smtp32::Client::connect(&socket).expect("a new client after the restart");
    let conn = fresh
        .helo(&healthy.host(), LOCAL, None)
        .expect("helo after the restart");
    assert_eq!(conn.noop().expect("noop").code, 250);
    conn.quit().expect("quit");
}
