//! Starting the daemon: embedded defaults serve, the socket is private, bad settings stop it
//! at start with a message naming the key, a live socket is never taken over, a stale one is.

use smtp32_protocol::{Request, Response};
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::{TestDaemon, Watchdog};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

#[test]
fn serves_with_embedded_defaults_on_a_private_socket() {
    let _wd = Watchdog::test("serves_with_embedded_defaults_on_a_private_socket");
    let d = TestDaemon::start();
    let mode = std::fs::metadata(d.socket_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o007,
        0,
        "socket must not be accessible to others: mode {mode:o}"
    );
    let mut raw = d.raw();
    match raw.request(
        Request::Ping {
            payload: b"abc".to_vec(),
        },
        T,
    ) {
        Response::Pong { payload } => assert_eq!(payload, b"abc"),
        other => panic!("ping answered {other:?}"),
    }
    match raw.request(Request::Status, T) {
        Response::Status(s) => {
            assert_eq!(s.pid, d.pid());
            assert_eq!(s.connections, 0);
            assert!(s.clients >= 1, "status counts this client: {s:?}");
        }
        other => panic!("status answered {other:?}"),
    }
}

#[test]
fn a_bad_setting_stops_the_daemon_naming_the_key() {
    let _wd = Watchdog::test("a_bad_setting_stops_the_daemon_naming_the_key");
    let cases = [
        ("SMTP32D_TIMEOUT", "0", "timeout"),
        ("SMTP32D_TIMEOUT", "1000", "timeout"),
        ("SMTP32D_TIMEOUT", "soon", "timeout"),
        ("SMTP32D_DEBUG_LEVEL", "3", "debug_level"),
        ("SMTP32D_MAX_FRAME_BYTES", "1", "max_frame_bytes"),
        ("SMTP32D_MAX_CONNECTIONS", "-5", "max_connections"),
    ];
    for (key, value, name) in cases {
        let f = match TestDaemon::try_start(DaemonOptions::default().env(key, value)) {
            Ok(_) => panic!("{key}={value} must stop the daemon at start"),
            Err(f) => f,
        };
        let status = f
            .status
            .unwrap_or_else(|| panic!("{key}={value}: daemon neither served nor exited"));
        assert!(!status.success(), "{key}={value}: exit status {status}");
        assert!(
            f.stderr.contains(name),
            "{key}={value}: message must name `{name}`, got: {}",
            f.stderr
        );
    }
}

#[test]
fn an_unknown_config_key_stops_the_daemon_naming_it() {
    let _wd = Watchdog::test("an_unknown_config_key_stops_the_daemon_naming_it");
    let f = match TestDaemon::try_start(
        DaemonOptions::default().config("timeout = 5\ntimeuot = 7\n"),
    ) {
        Ok(_) => panic!("an unknown key must stop the daemon"),
        Err(f) => f,
    };
    assert!(
        f.status.is_some_and(|s| !s.success()),
        "exit: {:?}",
        f.status
    );
    assert!(
        f.stderr.contains("timeuot"),
        "message must name the key: {}",
        f.stderr
    );
}

#[test]
fn a_valid_config_file_and_env_serve() {
    let _wd = Watchdog::test("a_valid_config_file_and_env_serve");
    let opts = DaemonOptions::default()
        .config("timeout = 5\nmax_connections = 50\n")
        .env("SMTP32D_MAX_CONNECTIONS_PER_CLIENT", "10");
    let d = TestDaemon::start_with(opts);
    d.assert_serving();
}

#[test]
fn a_live_socket_is_refused_and_its_owner_keeps_serving() {
    let _wd = Watchdog::test("a_live_socket_is_refused_and_its_owner_keeps_serving");
    let first = TestDaemon::start();
    match TestDaemon::try_start(DaemonOptions::default().socket(first.socket_path())) {
        Ok(_) => panic!("a second daemon took over a live socket"),
        Err(f) => assert!(
            f.status.is_some_and(|s| !s.success()),
            "second daemon: {:?} {}",
            f.status,
            f.stderr
        ),
    }
    first.assert_serving();
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let _wd = Watchdog::test("a_stale_socket_file_is_replaced");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists(), "the stale socket file stays behind");
    let d = TestDaemon::start_with(DaemonOptions::default().socket(&path));
    d.assert_serving();
}
