//! The local trust boundary, tested by playing the other users of the host: a second system
//! user (created by the test) plants a folder and socket where a victim's programs look, holds
//! as many connections as it can, floods the daemon with frames it never reads or never
//! finishes; the victim's secrets must not reach the planted socket, another user must still
//! get in, and the daemon's memory must stay within its budget.

use smtp32_tests::ctl::{ctl, run, Output};
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::lines::Lines;
use smtp32_tests::memory::rss_kib;
use smtp32_tests::paths::daemon_binary;
use smtp32_tests::peers::exim::{Exim, EximOptions};
use smtp32_tests::process::ChildGuard;
use smtp32_tests::users::{LocalUser, GROUP};
use smtp32_tests::wait::wait_for;
use smtp32_tests::{SmtpSink, TestDaemon, Watchdog};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const NEIGHBOUR: &str = env!("CARGO_BIN_EXE_smtp32-neighbour");
const T: Duration = Duration::from_secs(20);

/// A folder for a daemon's socket that the test group may enter (root:GROUP 0750).
fn shared_socket_dir(user: &LocalUser) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("smtp32-shared-")
        .tempdir()
        .expect("tempdir");
    std::os::unix::fs::chown(dir.path(), Some(0), Some(user.gid)).expect("chown");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o750)).expect("chmod");
    dir
}

/// An empty configuration file any user may read, so that a daemon started by a test user
/// never reads the host's /etc/smtp32d/smtp32d.toml.
fn empty_config() -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new()
        .prefix("smtp32-empty-")
        .suffix(".toml")
        .tempfile()
        .expect("tempfile");
    std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644)).expect("chmod");
    file
}

fn spawn_as(user: &LocalUser, args: &[&str]) -> (ChildGuard, Lines) {
    let mut cmd = Command::new(NEIGHBOUR);
    user.apply(&mut cmd)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = ChildGuard::spawn("smtp32-neighbour", &mut cmd);
    let lines = Lines::new(child.take_stdout().expect("stdout"));
    (child, lines)
}

#[test]
fn a_socket_another_user_planted_at_the_per_user_path_is_refused_and_hears_nothing() {
    let _wd = Watchdog::test(
        "a_socket_another_user_planted_at_the_per_user_path_is_refused_and_hears_nothing",
    );
    let mallory = LocalUser::get("smtp32-mallory");
    let victim = LocalUser::get("smtp32-victim");
    // Where the victim's programs look when XDG_RUNTIME_DIR is unset (cron, su, sshd).
    let planted = PathBuf::from(format!("/tmp/smtp32d-{}", victim.uid));
    let _ = std::fs::remove_dir_all(&planted);
    let (mut planter, mut lines) = spawn_as(&mallory, &["plant", planted.to_str().unwrap()]);
    lines.expect("READY", T);

    let mut ping = Command::new(smtp32_tests::ctl::ctl_binary());
    victim
        .apply(&mut ping)
        .env_remove("SMTP32_SOCKET")
        .arg("ping");
    let out = run(ping, T);
    let err = &out.stderr;
    out.expect_code(69, "smtp32ctl ping to a planted socket");
    assert!(
        err.contains(planted.to_str().unwrap()) && err.contains(&format!("uid {}", mallory.uid)),
        "{err}"
    );

    // The daemon, run by the victim, refuses to bind in the planted folder too.
    let empty = empty_config();
    let mut daemon = Command::new(daemon_binary());
    victim
        .apply(&mut daemon)
        .arg("--config")
        .arg(empty.path())
        .arg("--socket")
        .arg(planted.join("smtp32d.sock"));
    let out = run(daemon, T);
    assert_ne!(
        out.code, 0,
        "smtp32d bound in a folder another user owns: {out:?}"
    );
    let err = &out.stderr;
    assert!(
        err.contains(&format!("owned by uid {}", mallory.uid)),
        "{err}"
    );

    drop(planter.take_stdin());
    assert_eq!(
        lines.expect("CONNECTIONS", T),
        "0 BYTES 0",
        "the planted socket heard from the victim"
    );
    let _ = std::fs::remove_dir_all(&planted);
}

#[test]
fn a_daemon_run_by_another_user_is_refused_before_anything_is_sent() {
    let _wd = Watchdog::test("a_daemon_run_by_another_user_is_refused_before_anything_is_sent");
    let mallory = LocalUser::get("smtp32-mallory");
    let victim = LocalUser::get("smtp32-victim");
    // Mallory's own daemon in a folder of Mallory's that the victim may enter.
    let dir = tempfile::Builder::new()
        .prefix("smtp32-mallory-")
        .tempdir()
        .expect("tempdir");
    std::os::unix::fs::chown(dir.path(), Some(mallory.uid), Some(mallory.gid)).expect("chown");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let socket = dir.path().join("smtp32d.sock");
    let empty = empty_config();
    let mut daemon = Command::new(daemon_binary());
    mallory
        .apply(&mut daemon)
        .arg("--config")
        .arg(empty.path())
        .arg("--socket")
        .arg(&socket)
        .env("SMTP32D_SOCKET_MODE", "0660");
    daemon.stdout(Stdio::null()).stderr(Stdio::null());
    let _daemon = ChildGuard::spawn("mallory's smtp32d", &mut daemon);
    wait_for(T, "mallory's daemon socket", || socket.exists());

    let mut ping = Command::new(smtp32_tests::ctl::ctl_binary());
    victim
        .apply(&mut ping)
        .arg("--socket")
        .arg(&socket)
        .arg("ping");
    let out = run(ping, T);
    out.expect_code(69, "smtp32ctl ping to another user's daemon");
    let err = &out.stderr;
    assert!(
        err.contains(&format!("owned by uid {}", mallory.uid)),
        "{err}"
    );
}

#[test]
fn one_user_with_many_clients_cannot_exceed_max_connections_per_user_while_another_still_connects()
{
    let _wd = Watchdog::test("one_user_with_many_clients_cannot_exceed_max_connections_per_user");
    let mallory = LocalUser::get("smtp32-mallory");
    let bob = LocalUser::get("smtp32-bob");
    let sink = SmtpSink::start();
    let dir = shared_socket_dir(&mallory);
    let socket = dir.path().join("smtp32d.sock");
    let config = format!(
        "socket_mode = \"0660\"\nsocket_group = \"{GROUP}\"\nmax_connections_per_user = 5\n\
         max_clients_per_user = 4\nmax_connections_per_client = 100\n"
    );
    let _d = TestDaemon::start_with(DaemonOptions::default().socket(&socket).config(&config));

    let sock = socket.to_str().unwrap();
    let (mut many, mut lines) = spawn_as(&mallory, &["open-many", sock, &sink.host(), "4", "3"]);
    assert_eq!(lines.expect("OPENED", T), "5");
    let why = lines.expect("REFUSED", T);
    assert!(
        why.contains(&format!("uid {}", mallory.uid)) && why.contains("maximum of 5"),
        "{why}"
    );
    // It holds two clients now; of three more, the third is one too many.
    let (mut fifth, mut fifth_lines) =
        spawn_as(&mallory, &["open-many", sock, &sink.host(), "3", "0"]);
    assert_eq!(fifth_lines.expect("OPENED", T), "0");
    let why = fifth_lines.expect("REFUSED", T);
    assert!(why.contains("maximum of 4 clients"), "{why}");
    // Bob is not locked out.
    let (mut other, mut other_lines) = spawn_as(&bob, &["open-many", sock, &sink.host(), "1", "1"]);
    assert_eq!(other_lines.expect("OPENED", T), "1");
    assert_eq!(other_lines.expect("REFUSED", T), "none");
    for child in [&mut many, &mut fifth, &mut other] {
        drop(child.take_stdin());
    }
}

/// A 4 MiB ping frame, ready to write again and again.
fn ping_frame(id: u64) -> Vec<u8> {
    use smtp32_protocol::{codec::encode_frame, ClientFrame, Request, RequestId};
    let frame = ClientFrame::Request {
        id: RequestId(id),
        request: Request::Ping {
            payload: vec![7; (4 << 20) - 64],
        },
    };
    let mut bytes = Vec::new();
    encode_frame(&frame, &mut bytes).expect("encode");
    bytes
}

#[test]
fn a_thousand_4_mib_pings_never_read_keep_the_daemon_within_its_budget_and_the_client_is_cut() {
    let _wd = Watchdog::test("a_thousand_4_mib_pings_never_read_keep_the_daemon_within_its_budget");
    let d = TestDaemon::start_with(DaemonOptions::default().config("client_stall_timeout = 2\n"));
    let before = rss_kib(d.pid());
    let raw = d.raw();
    let frame = ping_frame(1);
    let mut stream = raw.stream().try_clone().expect("clone");
    // Written until the daemon stops reading and then cuts the client off.
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut sent = 0;
        while sent < 1000 && stream.write_all(&frame).is_ok() {
            sent += 1;
        }
        sent
    });
    let mut peak = before;
    wait_for(
        Duration::from_secs(60),
        "the daemon to cut the client that never reads",
        || {
            peak = peak.max(rss_kib(d.pid()));
            writer.is_finished()
        },
    );
    let sent = writer.join().expect("writer");
    assert!(
        sent < 1000,
        "the daemon read all {sent} pings from a client that never read a pong"
    );
    let grew_mib = peak.saturating_sub(before) / 1024;
    println!(
        "ping flood: {sent} pings of 4 MiB taken, RSS {} -> peak {} KiB (+{grew_mib} MiB)",
        before, peak
    );
    // Budget (8 MiB) + the frame being read and the pong being written (4 MiB each, twice
    // while decoded/encoded) + allocator slack: documented in the README as the bound.
    assert!(grew_mib < 48, "RSS grew by {grew_mib} MiB");
    assert!(
        d.stderr().contains("read nothing for 2 s"),
        "{}",
        d.stderr()
    );
    d.assert_serving();
}

#[test]
fn five_hundred_half_frames_stay_within_the_bound_and_are_cut_after_the_stall_timeout() {
    let _wd = Watchdog::test("five_hundred_half_frames_stay_within_the_bound");
    let d = TestDaemon::start_with(DaemonOptions::default().config("client_stall_timeout = 2\n"));
    let before = rss_kib(d.pid());
    let mut clients = Vec::new();
    for _ in 0..500 {
        let mut raw = d.raw();
        let mut half = (4u32 << 20).to_le_bytes().to_vec();
        half.push(1);
        raw.send_bytes(&half).expect("half a frame");
        clients.push(raw);
    }
    let held = rss_kib(d.pid());
    let grew_mib = held.saturating_sub(before) / 1024;
    println!("half frames: RSS {before} -> {held} KiB with 500 clients each 4 MiB announced and 1 byte sent");
    assert!(grew_mib < 32, "500 half frames cost {grew_mib} MiB");
    for raw in &mut clients {
        let frames = raw.expect_closed(Duration::from_secs(30));
        assert!(frames.is_empty(), "{frames:?}");
    }
    assert!(
        d.stderr().contains("did not finish it within 2 s"),
        "{}",
        d.stderr()
    );
    d.assert_serving();
}

/// Every place a secret could end up for one connection: the debug log, the traffic copies
/// of the debug callback and `smtp32ctl show`.
fn secret_appears(
    log: &Path,
    traffic: &smtp32_tests::session::Traffic,
    show: &Output,
    secrets: &[&str],
) -> Vec<String> {
    let log = std::fs::read_to_string(log).unwrap_or_default();
    let copies = String::from_utf8_lossy(&traffic.bytes(smtp32::Direction::ToServer)).into_owned();
    let shown = show.stdout.clone();
    let mut found = Vec::new();
    for (place, text) in [
        ("debug log", &log),
        ("traffic copies", &copies),
        ("smtp32ctl show", &shown),
    ] {
        for s in secrets {
            if text.contains(s) {
                found.push(format!("{s} in the {place}"));
            }
        }
    }
    found
}

#[test]
fn an_auth_plain_sent_through_smtp_direct_appears_nowhere_at_any_debug_level() {
    let _wd =
        Watchdog::test("an_auth_plain_sent_through_smtp_direct_appears_nowhere_at_any_debug_level");
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let exim = Exim::start_with(EximOptions {
        auth_over_cleartext: true,
        ..EximOptions::default()
    })
    .expect("exim");
    let (user, password) = (exim.user(), exim.password());
    let plain = b64(&format!("\0{user}\0{password}"));
    let (login_user, login_password) = (b64(user), b64(password));
    let secrets = [plain.as_str(), login_password.as_str()];
    let host = exim.smtp_addr().to_string();
    for level in [0, 1, 2] {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("smtp32d.dbg");
        let config = format!(
            "debug_level = {level}\ndebug_log = {:?}\n",
            log.to_str().unwrap()
        );
        let d = TestDaemon::start_with(DaemonOptions::default().config(&config));
        // A legacy program's own AUTH PLAIN, then AUTH LOGIN line by line, all through smtp_direct.
        let traffic = smtp32_tests::session::Traffic::new();
        let plain_conn = d
            .client()
            .helo(&host, "me.test", Some(traffic.callback()))
            .expect("helo");
        assert_eq!(
            plain_conn
                .direct(&format!("AUTH PLAIN {plain}"))
                .expect("AUTH PLAIN")
                .code,
            235
        );
        let login_conn = d
            .client()
            .helo(&host, "me.test", Some(traffic.callback()))
            .expect("helo");
        assert_eq!(
            login_conn.direct("AUTH LOGIN").expect("AUTH LOGIN").code,
            334
        );
        assert_eq!(login_conn.direct(&login_user).expect("user").code, 334);
        assert_eq!(
            login_conn.direct(&login_password).expect("password").code,
            235
        );
        login_conn.noop().expect("noop");
        for conn in [&plain_conn, &login_conn] {
            let show = ctl(d.socket_path(), &["show", &conn.handle().to_string()]);
            assert!(
                show.expect_code(0, "smtp32ctl show").contains("AUTH"),
                "show lost the verb: {show:?}"
            );
            let found = secret_appears(&log, &traffic, &show, &secrets);
            assert!(found.is_empty(), "debug_level {level}: {found:?}");
        }
        assert!(
            traffic.sent().contains("AUTH PLAIN ***"),
            "{}",
            traffic.sent()
        );
        if level == 2 {
            let text = std::fs::read_to_string(&log).expect("the level-2 log");
            assert!(
                text.contains("AUTH PLAIN ***"),
                "the call line is there, redacted: {text}"
            );
        }
        plain_conn.quit().expect("quit");
        login_conn.quit().expect("quit");
    }
}

#[test]
fn an_escape_in_a_local_name_is_printed_escaped_by_smtp32ctl() {
    let _wd = Watchdog::test("an_escape_in_a_local_name_is_printed_escaped_by_smtp32ctl");
    let sink = SmtpSink::start();
    let d = TestDaemon::start();
    let conn = d
        .client()
        .helo(&sink.host(), "evil\u{1b}[2J.test", None)
        .expect("helo with an ESC in the name");
    let show = ctl(d.socket_path(), &["show", &conn.handle().to_string()]);
    let text = show.expect_code(0, "smtp32ctl show");
    assert!(
        !text.contains('\u{1b}'),
        "a raw ESC reached the terminal: {text:?}"
    );
    assert!(text.contains("evil\\x1b[2J.test"), "{text}");
    conn.quit().expect("quit");
}
