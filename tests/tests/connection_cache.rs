//! The connection cache: a session ended by `smtp_quit` in a clean state stays warm for the
//! next program's open with the same key. Connections are counted by a proxy in front of a
//! real server (Postfix's smtp-sink): two programs' messages cross ONE TCP connection; a session
//! the server closed while idle is never handed out; the first command on a reused session that
//! finds it closed is sent again on a new connection, a command after MAIL never is; idle
//! sessions get QUIT when their time is up, when the cache is full and after `max_reuse`
//! transactions; each part of the key (EHLO name, uid, SOCKS route) separates sessions.

use smtp32::socks::{SocksEndpoint, SocksHost, SocksMethods, SocksRoute, SocksVersions};
use smtp32::ReturnCode;
use smtp32_tests::ctl::{as_other_user, ctl, run, run_with_input, OTHER_GROUP};
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::peers::counting_proxy::CountingProxy;
use smtp32_tests::peers::socks::Microsocks;
use smtp32_tests::sendmail::{relay_config, sendmail, sendmail_binary};
use smtp32_tests::session::{expect_code, send_message, Traffic, LOCAL};
use smtp32_tests::wait::wait_for;
use smtp32_tests::{Aiosmtpd, SmtpSink, TestDaemon, Watchdog};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);
const HELPER: &str = env!("CARGO_BIN_EXE_smtp32-test-helper");
const MESSAGE: &[&[u8]] = &[b"Subject: warm\r\n\r\nsent on a cached session\r\n"];

/// One program's message: its own daemon client, helo, a transaction, `smtp_quit`.
fn one_program(d: &TestDaemon, host: &str, local: &str) {
    let client = d.client();
    let conn = client.helo(host, local, None).expect("helo");
    assert_eq!(
        send_message(&conn, "a@a.test", &["b@b.test"], MESSAGE).code,
        250
    );
    conn.quit().expect("quit");
}

fn cache_figures(d: &TestDaemon) -> smtp32::CacheStatus {
    d.client().status().expect("status").cache
}

fn daemon_with(config: &str) -> TestDaemon {
    TestDaemon::start_with(DaemonOptions::default().config(config))
}

#[test]
fn two_programs_messages_cross_one_tcp_connection_and_smtp32ctl_shows_the_cached_session() {
    let _wd = Watchdog::test(
        "two_programs_messages_cross_one_tcp_connection_and_smtp32ctl_shows_the_cached_session",
    );
    let sink = SmtpSink::start();
    let proxy = CountingProxy::start(sink.addr());
    let d = daemon_with("[cache]\nidle_seconds = 60\n");
    one_program(&d, &proxy.host(), LOCAL);
    let figures = cache_figures(&d);
    assert_eq!(
        (figures.idle, figures.misses, figures.hits),
        (1, 1, 0),
        "{figures:?}"
    );

    // smtp32ctl lists the idle session as `cached`.
    let rows = ctl(d.socket_path(), &["connections", "--json"]).json();
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["state"], "cached", "{rows:?}");
    let status = ctl(d.socket_path(), &["status"])
        .expect_code(0, "status")
        .to_string();
    assert!(status.contains("1 idle, 0 hits, 1 misses"), "{status}");

    // The second program: no network traffic at its open, the EHLO reply for smtp_rply and
    // smtp_ext, and the debug callback says the session was reused.
    let client = d.client();
    let traffic = Traffic::new();
    let conn = client
        .helo(&proxy.host(), LOCAL, Some(traffic.callback()))
        .expect("helo");
    let note = String::from_utf8_lossy(&traffic.bytes(smtp32::Direction::FromServer)).into_owned();
    assert!(
        note.starts_with("[smtp32d] reusing a cached connection"),
        "{note:?}"
    );
    assert!(
        traffic.sent().is_empty(),
        "nothing sent at the open: {:?}",
        traffic.sent()
    );
    let ehlo = conn.last_reply().expect("rply").expect("a reply");
    assert_eq!(ehlo.code, 250);
    assert!(conn.extension("PIPELINING").expect("ext").is_some());
    assert_eq!(
        send_message(&conn, "a@a.test", &["b@b.test"], MESSAGE).code,
        250
    );
    conn.quit().expect("quit");
    assert_eq!(
        proxy.connections(),
        1,
        "one TCP connection for both programs"
    );
    wait_for(T, "both messages at the sink", || sink.message_count() == 2);
    let figures = cache_figures(&d);
    assert_eq!(
        (figures.idle, figures.misses, figures.hits),
        (1, 1, 1),
        "{figures:?}"
    );

    // smtp32ctl close on the cached session: QUIT.
    let handle = ctl(d.socket_path(), &["connections", "--json"]).json()[0]["handle"]
        .as_u64()
        .expect("handle");
    ctl(d.socket_path(), &["close", &handle.to_string()]).expect_code(0, "close a cached session");
    proxy.wait_closed(0, T);
    assert!(proxy.sent(0).ends_with("QUIT\r\n"), "{:?}", proxy.sent(0));
    assert_eq!(cache_figures(&d).idle, 0);
}

#[test]
fn a_session_the_server_closed_while_idle_is_never_handed_out() {
    let _wd = Watchdog::test("a_session_the_server_closed_while_idle_is_never_handed_out");
    let sink = SmtpSink::start();
    let proxy = CountingProxy::start(sink.addr());
    let d = daemon_with("[cache]\nidle_seconds = 60\n");
    one_program(&d, &proxy.host(), LOCAL);
    proxy.cut_all();
    proxy.wait_closed(0, T);
    one_program(&d, &proxy.host(), LOCAL);
    assert_eq!(proxy.connections(), 2);
    let figures = cache_figures(&d);
    assert_eq!(
        (figures.hits, figures.misses, figures.reconnects),
        (0, 2, 0),
        "{figures:?}"
    );
    wait_for(T, "both messages at the sink", || sink.message_count() == 2);
}

#[test]
fn the_first_command_on_a_reused_session_is_sent_again_when_the_server_hung_up() {
    let _wd = Watchdog::test(
        "the_first_command_on_a_reused_session_is_sent_again_when_the_server_hung_up",
    );
    let sink = SmtpSink::start();
    let proxy = CountingProxy::start(sink.addr());
    let d = daemon_with("[cache]\nidle_seconds = 60\n");
    one_program(&d, &proxy.host(), LOCAL);
    // The server hangs up just as the next MAIL comes: no transaction began, so the daemon
    // connects again and sends it once more.
    proxy.cut_on("MAIL");
    one_program(&d, &proxy.host(), LOCAL);
    assert_eq!(proxy.connections(), 2);
    let figures = cache_figures(&d);
    assert_eq!((figures.hits, figures.reconnects), (1, 1), "{figures:?}");
    wait_for(T, "both messages at the sink", || sink.message_count() == 2);
}

#[test]
fn a_command_after_mail_is_never_sent_again() {
    let _wd = Watchdog::test("a_command_after_mail_is_never_sent_again");
    let sink = SmtpSink::start();
    let proxy = CountingProxy::start(sink.addr());
    let d = daemon_with("[cache]\nidle_seconds = 60\n");
    one_program(&d, &proxy.host(), LOCAL);
    proxy.cut_on("RCPT");
    let client = d.client();
    let conn = client.helo(&proxy.host(), LOCAL, None).expect("helo");
    assert_eq!(
        conn.mail("a@a.test")
            .expect("MAIL on the reused session")
            .code,
        250
    );
    expect_code(
        conn.rcpt("b@b.test"),
        ReturnCode::CannotSendCommand,
        "RCPT after the hang-up",
    );
    conn.quit().expect("quit");
    assert_eq!(
        proxy.connections(),
        1,
        "no new connection after MAIL was accepted"
    );
    assert_eq!(cache_figures(&d).reconnects, 0);
}

#[test]
fn an_idle_session_gets_quit_when_its_time_is_up() {
    let _wd = Watchdog::test("an_idle_session_gets_quit_when_its_time_is_up");
    let sink = SmtpSink::start();
    let proxy = CountingProxy::start(sink.addr());
    let d = daemon_with("[cache]\nidle_seconds = 1\n");
    one_program(&d, &proxy.host(), LOCAL);
    let parked = Instant::now();
    proxy.wait_closed(0, T);
    let idle = parked.elapsed();
    assert!(idle >= Duration::from_millis(800), "kept {idle:?}");
    assert!(proxy.sent(0).ends_with("QUIT\r\n"), "{:?}", proxy.sent(0));
    let figures = cache_figures(&d);
    assert_eq!((figures.idle, figures.evictions), (0, 1), "{figures:?}");
}

#[test]
fn the_oldest_idle_session_gets_quit_when_the_cache_is_full() {
    let _wd = Watchdog::test("the_oldest_idle_session_gets_quit_when_the_cache_is_full");
    let sink = SmtpSink::start();
    let proxy = CountingProxy::start(sink.addr());
    let d = daemon_with("[cache]\nidle_seconds = 60\nmax_idle = 1\nmax_idle_per_destination = 1\n");
    let client = d.client();
    let first = client.helo(&proxy.host(), LOCAL, None).expect("helo 1");
    let second = client.helo(&proxy.host(), LOCAL, None).expect("helo 2");
    first.quit().expect("quit 1");
    second.quit().expect("quit 2");
    proxy.wait_closed(0, T);
    assert!(proxy.sent(0).ends_with("QUIT\r\n"), "{:?}", proxy.sent(0));
    assert!(!proxy.closed(1), "the newer session stays");
    let figures = cache_figures(&d);
    assert_eq!((figures.idle, figures.evictions), (1, 1), "{figures:?}");
}

#[test]
fn a_session_that_carried_max_reuse_transactions_gets_quit() {
    let _wd = Watchdog::test("a_session_that_carried_max_reuse_transactions_gets_quit");
    let sink = SmtpSink::start();
    let proxy = CountingProxy::start(sink.addr());
    let d = daemon_with("[cache]\nidle_seconds = 60\nmax_reuse = 2\n");
    one_program(&d, &proxy.host(), LOCAL);
    one_program(&d, &proxy.host(), LOCAL);
    proxy.wait_closed(0, T);
    assert!(proxy.sent(0).ends_with("QUIT\r\n"), "{:?}", proxy.sent(0));
    assert_eq!(proxy.connections(), 1);
    assert_eq!(cache_figures(&d).idle, 0);
}

#[test]
fn a_session_is_not_parked_after_a_refusal_nor_with_the_cache_off() {
    let _wd = Watchdog::test("a_session_is_not_parked_after_a_refusal_nor_with_the_cache_off");
    let sink = SmtpSink::start();
    let proxy = CountingProxy::start(sink.addr());
    let d = daemon_with("[cache]\nidle_seconds = 60\n");
    let client = d.client();
    let conn = client.helo(&proxy.host(), LOCAL, None).expect("helo");
    let _ = conn.direct("XNOSUCHVERB");
    conn.quit().expect("quit");
    proxy.wait_closed(0, T);
    assert!(proxy.sent(0).ends_with("QUIT\r\n"));

    let off = daemon_with("[cache]\nidle_seconds = 0\n");
    one_program(&off, &proxy.host(), LOCAL);
    proxy.wait_closed(1, T);
    assert!(proxy.sent(1).ends_with("QUIT\r\n"));
}

#[test]
fn a_different_ehlo_name_gets_its_own_session() {
    let _wd = Watchdog::test("a_different_ehlo_name_gets_its_own_session");
    let sink = SmtpSink::start();
    let proxy = CountingProxy::start(sink.addr());
    let d = daemon_with("[cache]\nidle_seconds = 60\n");
    one_program(&d, &proxy.host(), LOCAL);
    one_program(&d, &proxy.host(), "other.smtp32.test");
    assert_eq!(proxy.connections(), 2);
    assert!(
        proxy.sent(1).starts_with("EHLO other.smtp32.test"),
        "{:?}",
        proxy.sent(1)
    );
    one_program(&d, &proxy.host(), LOCAL);
    assert_eq!(proxy.connections(), 2, "each name finds its own session");
}

/// A daemon `nobody` may reach (socket 0660, group `nogroup`, in a folder others may
/// traverse), with `cache` as its `[cache]` table. Returns the folder too.
fn daemon_for_two_users(cache: &str) -> (tempfile::TempDir, TestDaemon) {
    let dir = tempfile::Builder::new()
        .prefix("smtp32-cache-")
        .tempdir()
        .expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).expect("chmod");
    let socket = dir.path().join("smtp32d.sock");
    let config =
        format!("socket_mode = \"0660\"\nsocket_group = \"{OTHER_GROUP}\"\n[cache]\n{cache}");
    let d = TestDaemon::start_with(DaemonOptions::default().socket(&socket).config(&config));
    (dir, d)
}

fn send_as_other_user(socket: &Path, host: &str) {
    let mut cmd = as_other_user(Path::new(HELPER));
    cmd.arg("send").arg(socket).arg(host);
    let out = run(cmd, T);
    assert!(
        out.expect_code(0, "the helper as nobody")
            .contains("SENT 250"),
        "{}",
        out.stdout
    );
}

#[test]
fn another_users_open_never_gets_a_cached_session_unless_shared() {
    let _wd = Watchdog::test("another_users_open_never_gets_a_cached_session_unless_shared");
    let sink = SmtpSink::start();
    let proxy = CountingProxy::start(sink.addr());
    let (_dir, d) = daemon_for_two_users("idle_seconds = 60\n");
    one_program(&d, &proxy.host(), LOCAL);
    send_as_other_user(d.socket_path(), &proxy.host());
    assert_eq!(
        proxy.connections(),
        2,
        "nobody's open did not take root's session"
    );
    // Each user's session waits for that user.
    send_as_other_user(d.socket_path(), &proxy.host());
    one_program(&d, &proxy.host(), LOCAL);
    assert_eq!(proxy.connections(), 2);
    let figures = cache_figures(&d);
    assert_eq!(
        (figures.hits, figures.misses, figures.idle),
        (2, 2, 2),
        "{figures:?}"
    );

    // share_across_users = true: one session serves both.
    let shared_proxy = CountingProxy::start(sink.addr());
    let (_dir2, shared) = daemon_for_two_users("idle_seconds = 60\nshare_across_users = true\n");
    one_program(&shared, &shared_proxy.host(), LOCAL);
    send_as_other_user(shared.socket_path(), &shared_proxy.host());
    assert_eq!(shared_proxy.connections(), 1);
}

fn socks_route(proxy_port: u16, dest: &CountingProxy) -> SocksRoute {
    let port: u16 = dest
        .host()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("proxy port");
    SocksRoute {
        proxy: SocksEndpoint::new(SocksHost::parse("127.0.0.1").expect("host"), proxy_port)
            .expect("endpoint"),
        versions: SocksVersions::V5,
        methods: SocksMethods::no_auth(),
        destination: SocksEndpoint::new(SocksHost::parse("127.0.0.1").expect("host"), port)
            .expect("endpoint"),
        username: None,
        password: None,
    }
}

fn one_program_via(d: &TestDaemon, route: SocksRoute) {
    let conn = d.client().fw_helo(route, LOCAL, None).expect("fw_helo");
    assert_eq!(
        send_message(&conn, "a@a.test", &["b@b.test"], MESSAGE).code,
        250
    );
    conn.quit().expect("quit");
}

#[test]
fn a_different_socks_route_gets_its_own_session() {
    let _wd = Watchdog::test("a_different_socks_route_gets_its_own_session");
    let sink = SmtpSink::start();
    let proxy = CountingProxy::start(sink.addr());
    let (socks_a, socks_b) = (Microsocks::start(), Microsocks::start());
    let d = daemon_with("[cache]\nidle_seconds = 60\n");
    one_program(&d, &proxy.host(), LOCAL);
    one_program_via(&d, socks_route(socks_a.port(), &proxy));
    one_program_via(&d, socks_route(socks_b.port(), &proxy));
    assert_eq!(
        proxy.connections(),
        3,
        "straight, through A and through B: three sessions"
    );
    one_program_via(&d, socks_route(socks_a.port(), &proxy));
    one_program(&d, &proxy.host(), LOCAL);
    one_program_via(&d, socks_route(socks_b.port(), &proxy));
    assert_eq!(proxy.connections(), 3, "each route finds its own session");
    assert_eq!(cache_figures(&d).hits, 3);
}

#[test]
fn idle_sessions_get_quit_when_the_daemon_stops() {
    let _wd = Watchdog::test("idle_sessions_get_quit_when_the_daemon_stops");
    let sink = SmtpSink::start();
    let proxy = CountingProxy::start(sink.addr());
    let mut d = daemon_with("[cache]\nidle_seconds = 60\n");
    one_program(&d, &proxy.host(), LOCAL);
    assert!(!proxy.closed(0));
    d.stop(T);
    proxy.wait_closed(0, T);
    assert!(proxy.sent(0).ends_with("QUIT\r\n"), "{:?}", proxy.sent(0));
}

#[test]
fn relay_sessions_of_smtp32_sendmail_are_shared_by_every_user() {
    let _wd = Watchdog::test("relay_sessions_of_smtp32_sendmail_are_shared_by_every_user");
    let server = Aiosmtpd::start_with_auth("relay-user", "relay-pw");
    let proxy = CountingProxy::start(server.addr());
    let dir = tempfile::tempdir().expect("tempdir");
    let password_file = dir.path().join("relay-password");
    std::fs::write(&password_file, "relay-pw\n").expect("password file");
    let (_dir, d) = daemon_for_two_users(&format!(
        "idle_seconds = 60\n{}",
        relay_config(&proxy.host(), "relay-user", &password_file)
    ));
    let message = b"Subject: relayed\r\n\r\nthrough the shared session\r\n";
    let out = sendmail(
        d.socket_path(),
        &["-f", "root@client.test", "x@y.test"],
        message,
    );
    out.expect_code(0, "smtp32-sendmail as root");
    let mut cmd = as_other_user(&sendmail_binary());
    cmd.env("SMTP32_SOCKET", d.socket_path())
        .args(["-f", "nobody@client.test", "x@y.test"]);
    run_with_input(cmd, Some(message.to_vec()), T).expect_code(0, "smtp32-sendmail as nobody");
    let stored = server.wait_for_messages(2, T);
    assert!(
        stored
            .iter()
            .all(|m| m.auth_login.as_deref() == Some("relay-user")),
        "both sent authenticated"
    );
    assert_eq!(proxy.connections(), 1, "one relay session for both users");
}

#[test]
fn an_asynchronous_open_takes_a_cached_session_and_reports_it_once() {
    let _wd = Watchdog::test("an_asynchronous_open_takes_a_cached_session_and_reports_it_once");
    let sink = SmtpSink::start();
    let proxy = CountingProxy::start(sink.addr());
    let d = daemon_with("[cache]\nidle_seconds = 60\n");
    one_program(&d, &proxy.host(), LOCAL);
    let (tx, rx) = std::sync::mpsc::channel();
    let status: smtp32::StatusCallback = Box::new(move |h, r| {
        let _ = tx.send((h, r));
    });
    let client = d.client();
    let conn = client
        .xhelo(&proxy.host(), LOCAL, None, status)
        .expect("xhelo");
    let (handle, result) = rx.recv_timeout(T).expect("the status callback runs");
    assert_eq!(handle, conn.handle());
    result.expect("the cached session is ready");
    assert!(
        rx.recv_timeout(Duration::from_millis(100)).is_err(),
        "the status callback runs once"
    );
    assert_eq!(
        send_message(&conn, "a@a.test", &["b@b.test"], MESSAGE).code,
        250
    );
    conn.quit().expect("quit");
    assert_eq!(proxy.connections(), 1);
}
