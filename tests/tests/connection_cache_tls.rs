//! The connection cache with TLS and AUTH, against the Exim fixture (STARTTLS, AUTH PLAIN),
//! counting TCP connections in Exim's own log: `smtp_auth` with the same user and secret on a
//! reused session answers the original 235 with nothing sent; a different secret, a program
//! that does not authenticate, and a different TLS mode each get a new connection; a new TLS
//! connection to a server seen before resumes the TLS session (Exim logs it).

use smtp32::{Connection, ReturnCode};
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::peers::exim::{Exim, EximOptions};
use smtp32_tests::session::{expect_code, Traffic, LOCAL};
use smtp32_tests::{TestDaemon, Watchdog};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn exim() -> Exim {
    let opts = EximOptions {
        extra_main: vec![
            // Offer TLS session tickets (the fixture's log marks resumed sessions).
            "tls_resumption_hosts = *".into(),
        ],
        ..EximOptions::default()
    };
    Exim::start_with(opts).unwrap_or_else(|e| panic!("the Exim fixture did not start: {e}"))
}

fn url(mta: &Exim, tls: &str) -> String {
    format!(
        "smtp://{}:{}?tls={tls}",
        mta.tls_name(),
        mta.smtp_addr().port()
    )
}

/// The TCP connections Exim has accepted from the daemon so far, from its main log (the
/// fixture's own readiness probe, which never says EHLO, is not counted).
fn connections(mta: &Exim) -> usize {
    let logs = mta.logs();
    logs.matches("(TCP/IP connection count").count() - logs.matches("lost D=0s").count()
}

/// Sends one message to `mailbox` and waits until Exim stored it.
fn deliver(mta: &Exim, conn: &Connection, mailbox: &str, n: usize) {
    let msg = format!("Subject: cached {n}\r\n\r\nmessage {n}\r\n");
    let report = conn
        .sendmsg(
            "sender@client.test",
            &[&mta.address(mailbox)],
            msg.as_bytes(),
        )
        .expect("sendmsg");
    assert_eq!(report.verdict.code, 250, "{report:?}");
    mta.wait_for_delivery(mailbox, n, T);
}

#[test]
fn auth_on_a_reused_session_is_answered_only_for_the_same_user_and_secret() {
    let _wd =
        Watchdog::test("auth_on_a_reused_session_is_answered_only_for_the_same_user_and_secret");
    let mta = exim();
    let config = format!(
        "[tls]\nca_files = [{:?}]\n[cache]\nidle_seconds = 60\n",
        mta.ca_cert_path().display().to_string()
    );
    let d = TestDaemon::start_with(DaemonOptions::default().config(&config));
    let host = url(&mta, "required");

    // The first program: STARTTLS at the open, AUTH, a message, smtp_quit (parked).
    let client = d.client();
    let conn = client.helo(&host, LOCAL, None).expect("helo");
    assert_eq!(
        conn.auth(None, mta.user(), mta.password())
            .expect("auth")
            .code,
        235
    );
    deliver(&mta, &conn, "alice", 1);
    conn.quit().expect("quit");

    // The second, same user and secret: the 235 without a byte on the wire.
    let client = d.client();
    let traffic = Traffic::new();
    let conn = client
        .helo(&host, LOCAL, Some(traffic.callback()))
        .expect("helo");
    assert_eq!(
        conn.auth(None, mta.user(), mta.password())
            .expect("auth")
            .code,
        235
    );
    assert!(
        traffic.sent().is_empty(),
        "nothing sent for the open and AUTH: {:?}",
        traffic.sent()
    );
    deliver(&mta, &conn, "alice", 2);
    conn.quit().expect("quit");
    assert_eq!(connections(&mta), 1, "{}", mta.logs());

    // A wrong secret for the same user: never the authenticated session; a new connection
    // whose AUTH the server refuses.
    let client = d.client();
    let conn = client.helo(&host, LOCAL, None).expect("helo");
    expect_code(
        conn.auth(None, mta.user(), "not-the-password"),
        ReturnCode::Failure,
        "wrong secret",
    );
    conn.quit().expect("quit");
    assert_eq!(connections(&mta), 2, "{}", mta.logs());

    // A program that does not authenticate never sends on the authenticated session.
    let client = d.client();
    let conn = client.helo(&host, LOCAL, None).expect("helo");
    deliver(&mta, &conn, "bob", 1);
    conn.quit().expect("quit");
    assert_eq!(connections(&mta), 3, "{}", mta.logs());
    let logs = mta.logs();
    let received: Vec<&str> = logs.lines().filter(|l| l.contains(" <= ")).collect();
    assert_eq!(received.len(), 3, "{received:?}");
    assert!(
        received[0].contains(" A=") && received[1].contains(" A="),
        "{received:?}"
    );
    assert!(
        !received[2].contains(" A="),
        "bob's message was not sent authenticated: {received:?}"
    );

    // TLS resumption: the later connections resumed the first one's TLS session.
    // With +tls_resumption Exim ends the X= field of a resumed session with `*`.
    let x_fields: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(" <= "))
        .filter_map(|l| l.split(' ').find(|w| w.starts_with("X=")))
        .collect();
    assert_eq!(x_fields.len(), 3, "{logs}");
    assert!(
        !x_fields[0].ends_with('*'),
        "the first TLS session is a full handshake: {x_fields:?}"
    );
    assert!(
        x_fields[2].ends_with('*'),
        "a resumed TLS session in Exim's log:\n{logs}"
    );
}

#[test]
fn a_different_tls_mode_gets_its_own_session() {
    let _wd = Watchdog::test("a_different_tls_mode_gets_its_own_session");
    let mta = exim();
    let config = format!(
        "[tls]\nca_files = [{:?}]\n[cache]\nidle_seconds = 60\n",
        mta.ca_cert_path().display().to_string()
    );
    let d = TestDaemon::start_with(DaemonOptions::default().config(&config));
    for (n, tls) in ["none", "required", "none", "required"].iter().enumerate() {
        let client = d.client();
        let conn = client.helo(&url(&mta, tls), LOCAL, None).expect("helo");
        deliver(&mta, &conn, "carol", n + 1);
        conn.quit().expect("quit");
    }
    assert_eq!(
        connections(&mta),
        2,
        "one session per TLS mode:\n{}",
        mta.logs()
    );
}
