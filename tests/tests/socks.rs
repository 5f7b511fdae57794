//! `smtp_fw_helo` end to end: the real daemon reaches Postfix `smtp-sink` through real SOCKS
//! proxies — microsocks (SOCKS5, with and without a password), Dante (SOCKS4, SOCKS5, a system
//! account's password, destinations refused by its rules) and OpenSSH's `ssh -D` (SOCKS4a with
//! a DNS name) — plus a scripted SOCKS4-only proxy for the v5 → v4 fallback, a closed port for a
//! dead proxy and a silent one for the timeout.
//!
//! Return codes proven here: a working route sends mail; a wrong password, a method the proxy
//! will not take and a refused destination are `SMTP_FAILURE` (the manual's "remote error") with
//! the proxy's reason and no SMTP reply; a dead proxy is `SMTP_HOST_NOT_RESPONDING`; GSSAPI alone
//! is `SMTP_INVALID_ARGUMENT`; a proxy that never answers is `SMTP_TIMED_OUT`.

use smtp32::socks::{
    Secret, SocksEndpoint, SocksHost, SocksMethods, SocksRoute, SocksUser, SocksVersions,
};
use smtp32::{Direction, ReturnCode};
use smtp32_protocol::{Failure, Request, Response};
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::peers::socks::{Dante, Microsocks, SshSocks, DANTE_PASSWORD, DANTE_USER};
use smtp32_tests::peers::socks4_only::Socks4Only;
use smtp32_tests::session::{expect_code, send_message, LOCAL};
use smtp32_tests::{SmtpSink, TestDaemon, Watchdog};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn route(
    proxy_port: u16,
    versions: SocksVersions,
    methods: &str,
    dest: &str,
    dest_port: u16,
) -> SocksRoute {
    SocksRoute {
        proxy: SocksEndpoint::new(SocksHost::parse("127.0.0.1").unwrap(), proxy_port).unwrap(),
        versions,
        methods: SocksMethods::parse(methods).unwrap(),
        destination: SocksEndpoint::new(SocksHost::parse(dest).unwrap(), dest_port).unwrap(),
        username: None,
        password: None,
    }
}

fn with_login(mut r: SocksRoute, user: &str, password: &str) -> SocksRoute {
    r.username = Some(SocksUser::new(user).unwrap());
    r.password = Some(Secret::new(password).unwrap());
    r
}

/// Opens through `route`, sends one message and quits; the sink must have it.
fn send_through(d: &TestDaemon, sink: &SmtpSink, route: SocksRoute) {
    let conn = d.client().fw_helo(route, LOCAL, None).expect("fw_helo");
    let reply = send_message(
        &conn,
        "from@a.test",
        &["to@b.test"],
        &[b"Subject: via SOCKS\r\n\r\nHello.\r\n"],
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    conn.quit().expect("quit");
    assert_eq!(sink.message_count(), 1);
}

/// A failed open must be `SMTP_FAILURE` naming the proxy stage, with no SMTP reply.
fn expect_proxy_failure(
    result: smtp32::Result<smtp32::Connection>,
    stage: &str,
    what: &str,
) -> String {
    let e = expect_code(result, ReturnCode::Failure, what);
    assert!(
        e.reply().is_none(),
        "{what}: a proxy refusal carries no SMTP reply: {e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains(&format!("SOCKS proxy failed at {stage}")),
        "{what}: {text}"
    );
    text
}

// ---- microsocks: SOCKS5 ------------------------------------------------------------------

#[test]
fn socks5_without_password_via_microsocks() {
    let _wd = Watchdog::test("socks5_without_password_via_microsocks");
    let sink = SmtpSink::start();
    let proxy = Microsocks::start();
    let d = TestDaemon::start();
    send_through(
        &d,
        &sink,
        route(
            proxy.port(),
            SocksVersions::V5,
            "0",
            "127.0.0.1",
            sink.addr().port(),
        ),
    );
}

#[test]
fn socks5_with_password_via_microsocks() {
    let _wd = Watchdog::test("socks5_with_password_via_microsocks");
    let sink = SmtpSink::start();
    let proxy = Microsocks::with_password("alice", "m1cro-pw");
    let d = TestDaemon::start();
    let r = with_login(
        route(
            proxy.port(),
            SocksVersions::V5,
            "2",
            "127.0.0.1",
            sink.addr().port(),
        ),
        "alice",
        "m1cro-pw",
    );
    send_through(&d, &sink, r);
}

#[test]
fn wrong_password_via_microsocks_is_failure_at_authentication() {
    let _wd = Watchdog::test("wrong_password_via_microsocks_is_failure_at_authentication");
    let sink = SmtpSink::start();
    let proxy = Microsocks::with_password("alice", "m1cro-pw");
    let d = TestDaemon::start();
    let r = with_login(
        route(
            proxy.port(),
            SocksVersions::V5,
            "02",
            "127.0.0.1",
            sink.addr().port(),
        ),
        "alice",
        "wrong-pw",
    );
    let text = expect_proxy_failure(
        d.client().fw_helo(r, LOCAL, None),
        "authentication",
        "wrong password",
    );
    assert!(
        !text.contains("wrong-pw"),
        "the password must not appear in the error: {text}"
    );
    assert!(
        !d.stderr().contains("wrong-pw"),
        "the password must not appear in the daemon's log"
    );
}

#[test]
fn no_password_offered_to_a_proxy_that_wants_one_is_failure_at_authentication() {
    let _wd = Watchdog::test(
        "no_password_offered_to_a_proxy_that_wants_one_is_failure_at_authentication",
    );
    let sink = SmtpSink::start();
    let proxy = Microsocks::with_password("alice", "m1cro-pw");
    let d = TestDaemon::start();
    let r = route(
        proxy.port(),
        SocksVersions::V5,
        "0",
        "127.0.0.1",
        sink.addr().port(),
    );
    expect_proxy_failure(
        d.client().fw_helo(r, LOCAL, None),
        "authentication",
        "method 0 only",
    );
}

// ---- Dante: SOCKS4 and SOCKS5 ------------------------------------------------------------

#[test]
fn socks4_via_dante() {
    let _wd = Watchdog::test("socks4_via_dante");
    let sink = SmtpSink::start();
    let proxy = Dante::start();
    let d = TestDaemon::start();
    send_through(
        &d,
        &sink,
        route(
            proxy.port(),
            SocksVersions::V4,
            "0",
            "127.0.0.1",
            sink.addr().port(),
        ),
    );
}

#[test]
fn version_auto_detection_via_dante_speaks_socks5() {
    let _wd = Watchdog::test("version_auto_detection_via_dante_speaks_socks5");
    let sink = SmtpSink::start();
    let proxy = Dante::start();
    let d = TestDaemon::start();
    send_through(
        &d,
        &sink,
        route(
            proxy.port(),
            SocksVersions::Both,
            "0",
            "127.0.0.1",
            sink.addr().port(),
        ),
    );
}

#[test]
fn socks5_password_via_dante_checks_the_system_account() {
    let _wd = Watchdog::test("socks5_password_via_dante_checks_the_system_account");
    let sink = SmtpSink::start();
    let proxy = Dante::with_password();
    let d = TestDaemon::start();
    let dest_port = sink.addr().port();
    let bad = with_login(
        route(
            proxy.port(),
            SocksVersions::Both,
            "2",
            "127.0.0.1",
            dest_port,
        ),
        DANTE_USER,
        "not-it",
    );
    expect_proxy_failure(
        d.client().fw_helo(bad, LOCAL, None),
        "authentication",
        "wrong system password",
    );
    let good = with_login(
        route(
            proxy.port(),
            SocksVersions::Both,
            "2",
            "127.0.0.1",
            dest_port,
        ),
        DANTE_USER,
        DANTE_PASSWORD,
    );
    send_through(&d, &sink, good);
}

#[test]
fn a_destination_refused_by_dante_is_failure_at_connect() {
    let _wd = Watchdog::test("a_destination_refused_by_dante_is_failure_at_connect");
    let proxy = Dante::start();
    let d = TestDaemon::start();
    // Dante's rules pass 127.0.0.0/8 only; 192.0.2.1 (TEST-NET-1) is refused by the proxy itself.
    for versions in [SocksVersions::V5, SocksVersions::V4, SocksVersions::Both] {
        let r = route(proxy.port(), versions, "0", "192.0.2.1", 25);
        expect_proxy_failure(
            d.client().fw_helo(r, LOCAL, None),
            "connect",
            &format!("{versions:?} to 192.0.2.1"),
        );
    }
    assert!(
        proxy.log().contains("block"),
        "Dante logged the refusals: {}",
        proxy.log()
    );
}

// ---- OpenSSH: SOCKS4a --------------------------------------------------------------------

#[test]
fn socks4a_with_a_dns_name_via_openssh() {
    let _wd = Watchdog::test("socks4a_with_a_dns_name_via_openssh");
    let sink = SmtpSink::start();
    let proxy = SshSocks::start();
    let d = TestDaemon::start();
    // `localhost` is sent to the proxy as a name (SOCKS4a) and resolved there.
    send_through(
        &d,
        &sink,
        route(
            proxy.port(),
            SocksVersions::V4,
            "0",
            "localhost",
            sink.addr().port(),
        ),
    );
}

// ---- a SOCKS4-only proxy: the v5 -> v4 fallback ------------------------------------------

#[test]
fn version_auto_detection_falls_back_to_socks4_on_a_socks4_only_proxy() {
    let _wd = Watchdog::test("version_auto_detection_falls_back_to_socks4_on_a_socks4_only_proxy");
    let sink = SmtpSink::start();
    let proxy = Socks4Only::start();
    let d = TestDaemon::start();
    send_through(
        &d,
        &sink,
        route(
            proxy.port(),
            SocksVersions::Both,
            "0",
            "localhost",
            sink.addr().port(),
        ),
    );
    assert_eq!(
        proxy.versions_seen(),
        vec![5, 4],
        "a SOCKS5 greeting, hung up on, then SOCKS4a"
    );

    // SOCKS5 alone does not fall back.
    let r = route(
        proxy.port(),
        SocksVersions::V5,
        "0",
        "127.0.0.1",
        sink.addr().port(),
    );
    expect_proxy_failure(
        d.client().fw_helo(r, LOCAL, None),
        "handshake",
        "SOCKS5 to a SOCKS4-only proxy",
    );
}

// ---- the proxy itself unreachable, silent, or asked the impossible -----------------------

#[test]
fn a_dead_proxy_is_host_not_responding() {
    let _wd = Watchdog::test("a_dead_proxy_is_host_not_responding");
    let closed = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let d = TestDaemon::start();
    for versions in [SocksVersions::V4, SocksVersions::V5, SocksVersions::Both] {
        let e = expect_code(
            d.client()
                .fw_helo(route(port, versions, "0", "127.0.0.1", 25), LOCAL, None),
            ReturnCode::HostNotResponding,
            "closed proxy port",
        );
        assert!(e.to_string().contains("SOCKS proxy"), "{e}");
    }
}

#[test]
fn a_silent_proxy_is_timed_out_by_the_connections_timeout() {
    let _wd = Watchdog::test("a_silent_proxy_is_timed_out_by_the_connections_timeout");
    // Bound and listening, never accepted: the TCP connect succeeds, the SOCKS answer never comes.
    let silent = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let d = TestDaemon::start_with(DaemonOptions::default().env("SMTP32D_TIMEOUT", "2"));
    let started = Instant::now();
    let e = expect_code(
        d.client().fw_helo(
            route(port, SocksVersions::Both, "0", "127.0.0.1", 25),
            LOCAL,
            None,
        ),
        ReturnCode::TimedOut,
        "silent proxy",
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}: {e}",
        started.elapsed()
    );
    drop(silent);
}

#[test]
fn gssapi_alone_is_invalid_argument_in_the_client_and_in_the_daemon() {
    let _wd = Watchdog::test("gssapi_alone_is_invalid_argument_in_the_client_and_in_the_daemon");
    let d = TestDaemon::start();
    let r = route(1080, SocksVersions::V5, "1", "127.0.0.1", 25);
    let e = expect_code(
        d.client().fw_helo(r.clone(), LOCAL, None),
        ReturnCode::InvalidArgument,
        "GSSAPI",
    );
    assert!(e.to_string().contains("GSSAPI is not supported"), "{e}");
    // A client that skips the check meets the same answer from the daemon.
    let mut raw = d.raw();
    match raw.request(
        Request::OpenViaSocks {
            route: Box::new(r),
            local: LOCAL.into(),
            debug: false,
        },
        Duration::from_secs(10),
    ) {
        Response::Failed(Failure::InvalidArgument(why)) => {
            assert!(why.contains("GSSAPI is not supported"), "{why}")
        }
        other => panic!("daemon answered {other:?}"),
    }
}

#[test]
fn debug_traffic_starts_at_the_greeting_and_never_shows_the_proxy_password() {
    let _wd =
        Watchdog::test("debug_traffic_starts_at_the_greeting_and_never_shows_the_proxy_password");
    let sink = SmtpSink::start();
    let proxy = Microsocks::with_password("alice", "m1cro-pw");
    let logs = tempfile::tempdir().expect("tempdir");
    let debug_log = logs.path().join("smtp32d.dbg");
    let d = TestDaemon::start_with(
        DaemonOptions::default()
            .env("SMTP32D_DEBUG_LEVEL", "2")
            .env("SMTP32D_DEBUG_LOG", debug_log.to_str().expect("utf-8 path")),
    );
    let log = Arc::new(Mutex::new(Vec::<(Direction, Vec<u8>)>::new()));
    let l = log.clone();
    let debug: smtp32::DebugCallback =
        Arc::new(move |_, dir, bytes| l.lock().unwrap().push((dir, bytes.to_vec())));
    let r = with_login(
        route(
            proxy.port(),
            SocksVersions::Both,
            "2",
            "127.0.0.1",
            sink.addr().port(),
        ),
        "alice",
        "m1cro-pw",
    );
    let conn = d.client().fw_helo(r, LOCAL, Some(debug)).expect("fw_helo");
    conn.noop().expect("noop");
    conn.quit().expect("quit");
    let log = log.lock().unwrap().clone();
    let first = log.first().expect("some traffic");
    assert_eq!(first.0, Direction::FromServer);
    assert!(
        first.1.starts_with(b"220 "),
        "{:?}",
        String::from_utf8_lossy(&first.1)
    );
    let all: Vec<u8> = log.iter().flat_map(|(_, b)| b.clone()).collect();
    assert!(
        !all.windows(8).any(|w| w == b"m1cro-pw"),
        "the proxy password reached the debug callback"
    );
    assert!(
        !d.stderr().contains("m1cro-pw"),
        "the proxy password reached the daemon's stderr"
    );
    let calls = std::fs::read_to_string(&debug_log).expect("read the debug log");
    assert!(
        calls.contains("OpenViaSocks") && calls.contains("***"),
        "level 2 logs the call: {calls}"
    );
    assert!(
        !calls.contains("m1cro-pw"),
        "the proxy password reached the debug log: {calls}"
    );
}
