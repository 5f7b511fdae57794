//! TLS and AUTH end to end: the real daemon against the Exim fixture (STARTTLS, implicit TLS,
//! AUTH PLAIN/LOGIN/XOAUTH2 behind TLS) and `smtp-sink` (no STARTTLS). The daemon trusts the
//! fixture's CA through `tls.ca_files`; without it, the certificate must not verify. The
//! password must never show in debug traffic, the daemon's debug log or `smtp32ctl show`.

use smtp32::{AuthMechanism, Connection, ReturnCode};
use smtp32_tests::ctl::ctl;
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::peers::exim::{Exim, EximOptions};
use smtp32_tests::session::{expect_code, Traffic, LOCAL};
use smtp32_tests::{SmtpSink, TestDaemon, Watchdog};
use std::path::Path;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// A daemon that trusts the fixture's CA; `extra` is more TOML (tables only).
fn daemon_trusting(ca: &Path, extra: &str) -> TestDaemon {
    let config = format!(
        "[tls]\nca_files = [{:?}]\n{extra}",
        ca.display().to_string()
    );
    TestDaemon::start_with(DaemonOptions::default().config(&config))
}

fn exim() -> Exim {
    Exim::start().unwrap_or_else(|e| panic!("the Exim fixture did not start: {e}"))
}

/// `smtp://localhost:PORT` of the fixture's STARTTLS port, with a query.
fn plain_url(mta: &Exim, query: &str) -> String {
    format!(
        "smtp://{}:{}{query}",
        mta.tls_name(),
        mta.smtp_addr().port()
    )
}

/// Sends one message to `mailbox` with sendmsg and waits until Exim has stored it.
fn deliver(mta: &Exim, conn: &Connection, mailbox: &str, subject: &str) -> Vec<u8> {
    let before = mta.delivered(mailbox).len();
    let msg = format!("Subject: {subject}\r\n\r\nbody of {subject}\r\n");
    let report = conn
        .sendmsg(
            "sender@client.test",
            &[&mta.address(mailbox)],
            msg.as_bytes(),
        )
        .expect("sendmsg");
    assert_eq!(
        (report.accepted(), report.verdict.code),
        (1, 250),
        "{report:?}"
    );
    let got = mta.wait_for_delivery(mailbox, before + 1, T).remove(before);
    assert!(
        String::from_utf8_lossy(&got).contains(&format!("Subject: {subject}")),
        "{}",
        String::from_utf8_lossy(&got)
    );
    got
}

#[test]
fn starttls_then_auth_plain_and_login_deliver() {
    let _wd = Watchdog::test("starttls_then_auth_plain_and_login_deliver");
    let mta = exim();
    let d = daemon_trusting(mta.ca_cert_path(), "");
    let client = d.client();
    for (i, mechanism) in [AuthMechanism::Plain, AuthMechanism::Login]
        .into_iter()
        .enumerate()
    {
        let conn = client
            .helo(&plain_url(&mta, ""), LOCAL, None)
            .expect("helo");
        assert_eq!(
            conn.extension("STARTTLS").expect("ext"),
            Some(String::new())
        );
        assert_eq!(
            conn.extension("AUTH").expect("ext"),
            None,
            "the fixture offers AUTH only after TLS"
        );
        let ehlo = conn.starttls().expect("starttls");
        assert_eq!(ehlo.code, 250);
        assert_eq!(
            conn.extension("STARTTLS").expect("ext"),
            None,
            "keywords are the new EHLO's"
        );
        let auth = conn
            .extension("AUTH")
            .expect("ext")
            .expect("AUTH offered after TLS");
        assert!(auth.contains("PLAIN") && auth.contains("LOGIN"), "{auth}");
        assert_eq!(
            conn.auth(Some(mechanism), mta.user(), mta.password())
                .expect("auth")
                .code,
            235
        );
        deliver(
            &mta,
            &conn,
            "alice",
            &format!("over TLS with {mechanism} {i}"),
        );
        conn.quit().expect("quit");
    }
}

#[test]
fn implicit_tls_on_the_smtps_port() {
    let _wd = Watchdog::test("implicit_tls_on_the_smtps_port");
    let mta = exim();
    let d = daemon_trusting(mta.ca_cert_path(), "");
    let host = format!("smtps://{}:{}", mta.tls_name(), mta.smtps_addr().port());
    let conn = d
        .client()
        .helo(&host, LOCAL, None)
        .expect("helo over implicit TLS");
    let shown = ctl(d.socket_path(), &["show", &conn.handle().to_string()])
        .expect_code(0, "show")
        .to_string();
    assert!(
        shown.contains("TLSv1_3"),
        "smtp32ctl shows the TLS version: {shown}"
    );
    expect_code(
        conn.starttls(),
        ReturnCode::TlsFailure,
        "STARTTLS inside TLS",
    );
    assert_eq!(
        conn.auth(None, mta.user(), mta.password())
            .expect("auth")
            .code,
        235
    );
    deliver(&mta, &conn, "bob", "over implicit TLS");
    conn.quit().expect("quit");
}

#[test]
fn an_ip_literal_is_verified_against_the_certificates_ip_addresses() {
    let _wd = Watchdog::test("an_ip_literal_is_verified_against_the_certificates_ip_addresses");
    let mta = exim();
    let d = daemon_trusting(mta.ca_cert_path(), "");
    let client = d.client();
    let v4 = format!("smtp://127.0.0.1:{}?tls=required", mta.smtp_addr().port());
    client
        .helo(&v4, LOCAL, None)
        .expect("127.0.0.1 is in the certificate")
        .quit()
        .expect("quit");
    if let Some(v6) = mta.smtps_addr_v6() {
        let url = format!("smtps://[::1]:{}", v6.port());
        client
            .helo(&url, LOCAL, None)
            .expect("::1 is in the certificate")
            .quit()
            .expect("quit");
    }
}

#[test]
fn opportunistic_upgrades_where_offered_and_stays_clear_elsewhere() {
    let _wd = Watchdog::test("opportunistic_upgrades_where_offered_and_stays_clear_elsewhere");
    let mta = exim();
    let sink = SmtpSink::start();
    let d = daemon_trusting(mta.ca_cert_path(), "");
    let client = d.client();
    let conn = client
        .helo(&plain_url(&mta, "?tls=opportunistic"), LOCAL, None)
        .expect("helo");
    assert!(
        conn.extension("AUTH").expect("ext").is_some(),
        "TLS is up: AUTH is offered"
    );
    assert_eq!(
        conn.auth(None, mta.user(), mta.password())
            .expect("auth")
            .code,
        235
    );
    conn.quit().expect("quit");
    let clear = client
        .helo(
            &format!("smtp://{}?tls=opportunistic", sink.host()),
            LOCAL,
            None,
        )
        .expect("helo sink");
    assert_eq!(clear.noop().expect("noop").code, 250);
    clear.quit().expect("quit");
}

#[test]
fn required_tls_fails_against_a_server_without_starttls() {
    let _wd = Watchdog::test("required_tls_fails_against_a_server_without_starttls");
    let sink = SmtpSink::start();
    let d = TestDaemon::start();
    let traffic = Traffic::new();
    let url = format!("smtp://{}?tls=required", sink.host());
    let e = expect_code(
        d.client().helo(&url, LOCAL, Some(traffic.callback())),
        ReturnCode::TlsFailure,
        "tls=required",
    );
    assert!(e.message().contains("STARTTLS"), "the reason says why: {e}");
    assert!(
        !traffic.sent().contains("MAIL"),
        "no MAIL was possible: {}",
        traffic.sent()
    );
    // The configured policy applies to a bare host string.
    let strict =
        TestDaemon::start_with(DaemonOptions::default().env("SMTP32D_TLS__POLICY", "required"));
    expect_code(
        strict.client().helo(&sink.host(), LOCAL, None),
        ReturnCode::TlsFailure,
        "tls.policy = required",
    );
    let ok = strict
        .client()
        .helo(&format!("smtp://{}?tls=none", sink.host()), LOCAL, None)
        .expect("?tls=none wins");
    ok.quit().expect("quit");
}

#[test]
fn a_certificate_that_does_not_verify_is_a_tls_failure() {
    let _wd = Watchdog::test("a_certificate_that_does_not_verify_is_a_tls_failure");
    let mta = exim();
    let d = TestDaemon::start();
    let client = d.client();
    let e = expect_code(
        client.helo(&plain_url(&mta, "?tls=required"), LOCAL, None),
        ReturnCode::TlsFailure,
        "untrusted CA",
    );
    assert!(
        e.message().to_ascii_lowercase().contains("certificate"),
        "{e}"
    );
    let smtps = format!("smtps://{}:{}", mta.tls_name(), mta.smtps_addr().port());
    expect_code(
        client.helo(&smtps, LOCAL, None),
        ReturnCode::TlsFailure,
        "untrusted CA, implicit TLS",
    );
    // smtp_starttls on an open connection: the handshake fails and the connection is gone.
    let conn = client
        .helo(&plain_url(&mta, ""), LOCAL, None)
        .expect("helo");
    expect_code(
        conn.starttls(),
        ReturnCode::TlsFailure,
        "starttls with an untrusted CA",
    );
    expect_code(
        conn.noop(),
        ReturnCode::CannotSendCommand,
        "the connection is gone after a failed handshake",
    );
    // Only the administrator can make an exception, host by host.
    let lenient = TestDaemon::start_with(
        DaemonOptions::default().config("[tls]\ninsecure_skip_verify_hosts = [\"localhost\"]\n"),
    );
    let conn = lenient
        .client()
        .helo(&plain_url(&mta, "?tls=required"), LOCAL, None)
        .expect("exception for localhost");
    conn.quit().expect("quit");
}

#[test]
fn a_wrong_password_is_failure_with_the_535() {
    let _wd = Watchdog::test("a_wrong_password_is_failure_with_the_535");
    let mta = exim();
    let d = daemon_trusting(mta.ca_cert_path(), "");
    let conn = d
        .client()
        .helo(&plain_url(&mta, "?tls=required"), LOCAL, None)
        .expect("helo");
    let e = expect_code(
        conn.auth(Some(AuthMechanism::Plain), mta.user(), "not-the-password"),
        ReturnCode::Failure,
        "bad password",
    );
    assert_eq!(e.reply().map(|r| r.code), Some(535), "{e}");
    assert_eq!(
        conn.last_reply().expect("last_reply").map(|r| r.code),
        Some(535)
    );
    // The connection survives and a right password then works.
    assert_eq!(
        conn.auth(None, mta.user(), mta.password())
            .expect("auth")
            .code,
        235
    );
    conn.quit().expect("quit");
}

#[test]
fn auth_in_cleartext_is_refused_unless_the_administrator_allows_it() {
    let _wd = Watchdog::test("auth_in_cleartext_is_refused_unless_the_administrator_allows_it");
    let mta = Exim::start_with(EximOptions {
        auth_over_cleartext: true,
        ..EximOptions::default()
    })
    .unwrap_or_else(|e| panic!("the Exim fixture did not start: {e}"));
    let strict = TestDaemon::start();
    let traffic = Traffic::new();
    let conn = strict
        .client()
        .helo(&plain_url(&mta, ""), LOCAL, Some(traffic.callback()))
        .expect("helo");
    let e = expect_code(
        conn.auth(None, mta.user(), mta.password()),
        ReturnCode::TlsFailure,
        "AUTH in cleartext",
    );
    assert!(e.message().contains("cleartext"), "{e}");
    assert!(
        !traffic.sent().contains("AUTH"),
        "nothing was sent: {}",
        traffic.sent()
    );
    conn.quit().expect("quit");
    let lenient =
        TestDaemon::start_with(DaemonOptions::default().config("[auth]\nallow_cleartext = true\n"));
    let conn = lenient
        .client()
        .helo(&plain_url(&mta, ""), LOCAL, None)
        .expect("helo");
    assert_eq!(
        conn.auth(Some(AuthMechanism::Login), mta.user(), mta.password())
            .expect("auth")
            .code,
        235
    );
    conn.quit().expect("quit");
}

#[test]
fn xoauth2_when_asked_for() {
    let _wd = Watchdog::test("xoauth2_when_asked_for");
    let mta = Exim::start_with(EximOptions {
        xoauth2: true,
        ..EximOptions::default()
    })
    .unwrap_or_else(|e| panic!("the Exim fixture did not start: {e}"));
    let d = daemon_trusting(mta.ca_cert_path(), "");
    let conn = d
        .client()
        .helo(&plain_url(&mta, "?tls=required"), LOCAL, None)
        .expect("helo");
    let e = expect_code(
        conn.auth(Some(AuthMechanism::XOAuth2), mta.user(), "wrong-token"),
        ReturnCode::Failure,
        "bad token",
    );
    assert_eq!(e.reply().map(|r| r.code / 100), Some(5), "{e}");
    assert_eq!(
        conn.auth(Some(AuthMechanism::XOAuth2), mta.user(), mta.oauth_token())
            .expect("xoauth2")
            .code,
        235
    );
    conn.quit().expect("quit");
}

#[test]
fn the_password_never_shows_in_traffic_logs_or_smtp32ctl() {
    let _wd = Watchdog::test("the_password_never_shows_in_traffic_logs_or_smtp32ctl");
    let mta = exim();
    let logs = tempfile::tempdir().expect("tempdir");
    let log = logs.path().join("debug.log");
    let d = TestDaemon::start_with(DaemonOptions::default().config(&format!(
        "debug_level = 2\ndebug_log = {:?}\n[tls]\nca_files = [{:?}]\n",
        log.display().to_string(),
        mta.ca_cert_path().display().to_string()
    )));
    let traffic = Traffic::new();
    let client = d.client();
    for mechanism in [AuthMechanism::Plain, AuthMechanism::Login] {
        let conn = client
            .helo(
                &plain_url(&mta, "?tls=required"),
                LOCAL,
                Some(traffic.callback()),
            )
            .expect("helo");
        // A refused secret first (the server answers 535), then the right one.
        let _ = conn.auth(Some(mechanism), mta.user(), "Wrong-Secret-42");
        conn.auth(Some(mechanism), mta.user(), mta.password())
            .expect("auth");
        let shown = ctl(d.socket_path(), &["show", &conn.handle().to_string()])
            .expect_code(0, "show")
            .to_string();
        assert!(
            shown.contains("C: AUTH"),
            "smtp32ctl show has the (redacted) AUTH lines: {shown}"
        );
        for secret in [mta.password(), "Wrong-Secret-42"] {
            assert!(
                !shown.contains(secret),
                "smtp32ctl show leaks the secret: {shown}"
            );
        }
        conn.quit().expect("quit");
    }
    let sent = traffic.sent();
    assert!(
        sent.contains("AUTH PLAIN ***\r\n") && sent.contains("AUTH LOGIN\r\n***\r\n***\r\n"),
        "{sent}"
    );
    let log = std::fs::read_to_string(&log).expect("debug log");
    assert!(log.contains("Auth"), "level 2 logs the AUTH call: {log}");
    for secret in [mta.password(), "Wrong-Secret-42"] {
        assert!(!sent.contains(secret), "debug traffic leaks the secret");
        assert!(
            !log.contains(secret),
            "the debug log leaks the secret: {log}"
        );
        for encoded in base64_forms(mta.user(), secret) {
            assert!(
                !sent.contains(&encoded) && !log.contains(&encoded),
                "an encoded secret leaks: {encoded}"
            );
        }
    }
}

/// The base64 forms the secret takes on the wire (PLAIN's token, LOGIN's answer).
fn base64_forms(user: &str, secret: &str) -> Vec<String> {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    vec![b64(&format!("\0{user}\0{secret}")), b64(secret)]
}
