//! Self-tests of the Exim fixture, with no smtp32 code involved: plain conversations over
//! `TcpStream`, and Python's `smtplib` (through the test venv's interpreter) where TLS is needed,
//! verifying the server against the fixture's CA.

use smtp32_tests::paths::venv_python;
use smtp32_tests::peers::exim::{Exim, EximOptions};
use smtp32_tests::plain::PlainSmtp;
use smtp32_tests::Watchdog;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// Runs a Python `smtplib` script with `args` in `sys.argv[1:]`; returns its stdout, failing
/// the test (with the script's stderr and Exim's logs) when it fails.
fn python(mta: &Exim, script: &str, args: &[String]) -> String {
    let out = Command::new(venv_python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python failed ({}):\nstdout: {stdout}\nstderr: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        mta.logs()
    );
    stdout
}

#[test]
fn exim_plain_port_offers_starttls_and_answers_expn_vrfy_help(
) -> Result<(), Box<dyn std::error::Error>> {
    let _wd = Watchdog::arm(
        "exim_plain_port_offers_starttls_and_answers_expn_vrfy_help",
        T * 3,
    );
    let mta = Exim::start()?;
    let mut c = PlainSmtp::connect(mta.smtp_addr());
    let (code, ehlo) = c.cmd("EHLO client.test");
    assert_eq!(code, 250);
    for kw in [
        "STARTTLS",
        "SIZE 10485760",
        "8BITMIME",
        "PIPELINING",
        "CHUNKING",
        "SMTPUTF8",
        "HELP",
    ] {
        assert!(ehlo.iter().any(|l| l == kw), "EHLO lacks {kw}: {ehlo:?}");
    }
    assert!(
        !ehlo.iter().any(|l| l.starts_with("AUTH")),
        "AUTH must wait for TLS: {ehlo:?}"
    );
    assert_eq!(
        c.code("AUTH PLAIN AHRlc3RlcgBUM3N0LXBhc3N3MHJk") / 100,
        5,
        "AUTH refused without TLS"
    );

    let (code, expn) = c.cmd("EXPN team@example.test");
    assert_eq!(code, 250);
    assert_eq!(
        expn,
        [
            "<alice@example.test>",
            "<bob@example.test>",
            "<carol@example.test>"
        ]
    );
    let (code, vrfy) = c.cmd("VRFY alice@example.test");
    assert!(code == 250 || code == 252, "VRFY alice: {code} {vrfy:?}");
    assert_eq!(c.code("VRFY nobody@example.test"), 550);
    let (code, help) = c.cmd("HELP");
    assert_eq!(code, 214, "{help:?}");
    assert!(help.iter().any(|l| l.contains("EXPN")), "{help:?}");
    for obsolete in [
        "SEND FROM:<a@b.test>",
        "SOML FROM:<a@b.test>",
        "SAML FROM:<a@b.test>",
        "TURN",
    ] {
        assert_eq!(c.code(obsolete), 500, "{obsolete}");
    }

    // A refused recipient among accepted ones; the message reaches only the accepted ones.
    assert_eq!(c.code("MAIL FROM:<sender@client.test>"), 250);
    assert_eq!(c.code("RCPT TO:<alice@example.test>"), 250);
    assert_eq!(c.code("RCPT TO:<nobody@example.test>"), 550);
    assert_eq!(
        c.code("RCPT TO:<someone@elsewhere.test>"),
        550,
        "no relaying"
    );
    assert_eq!(c.code("RCPT TO:<team@example.test>"), 250);
    assert_eq!(c.code("DATA"), 354);
    c.send_raw(b"Subject: plain\r\n\r\nhello over plain SMTP\r\n.\r\n");
    assert_eq!(c.reply().0, 250);
    assert_eq!(c.code("QUIT"), 221);

    let alice = mta.wait_for_delivery("alice", 1, T);
    assert_eq!(
        alice.len(),
        1,
        "alice named twice (directly and through team) gets one copy"
    );
    let text = String::from_utf8_lossy(&alice[0]);
    assert!(
        text.starts_with("Return-path: <sender@client.test>"),
        "{text}"
    );
    assert!(
        text.contains("\nSubject: plain\n\nhello over plain SMTP\n"),
        "{text}"
    );
    assert_eq!(mta.wait_for_delivery("carol", 1, T).len(), 1);
    Ok(())
}

const TLS_SCRIPT: &str = r#"
import smtplib, ssl, sys
host, port, sport, ca, user, pw, rcpt = sys.argv[1:8]
ctx = ssl.create_default_context(cafile=ca)
s = smtplib.SMTP(host, int(port), timeout=10)
s.ehlo("client.test")
assert s.has_extn("starttls"), s.esmtp_features
s.starttls(context=ctx)
s.ehlo("client.test")
print("AUTH", s.esmtp_features.get("auth", "").strip())
code, text = s.docmd("AUTH", "PLAIN " + smtplib.base64.b64encode(f"\0{user}\0wrong-password".encode()).decode())
print("WRONG", code)
code, text = s.docmd("AUTH", "PLAIN " + smtplib.base64.b64encode(f"\0{user}\0{pw}".encode()).decode())
print("RIGHT", code)
s.sendmail("sender@client.test", [rcpt], b"Subject: over TLS\r\n\r\nauthenticated\r\n")
s.quit()
s = smtplib.SMTP("localhost", int(port), timeout=10)
s.starttls(context=ctx)
s.ehlo("client.test")
s.user, s.password = user, pw
code, text = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
print("LOGIN", code)
s.quit()
s = smtplib.SMTP_SSL(host, int(sport), context=ctx, timeout=10)
code, _ = s.ehlo("client.test")
print("SMTPS", code, s.sock.version())
s.quit()
"#;

#[test]
fn exim_starttls_auth_and_implicit_tls_verify_against_the_fixture_ca(
) -> Result<(), Box<dyn std::error::Error>> {
    let _wd = Watchdog::arm(
        "exim_starttls_auth_and_implicit_tls_verify_against_the_fixture_ca",
        T * 3,
    );
    let mta = Exim::start()?;
    let mut runs = vec![("127.0.0.1".to_string(), mta.smtp_addr(), mta.smtps_addr())];
    if let (Some(v6), Some(v6s)) = (mta.smtp_addr_v6(), mta.smtps_addr_v6()) {
        runs.push(("::1".to_string(), v6, v6s));
    }
    for (host, smtp, smtps) in &runs {
        let out = python(
            &mta,
            TLS_SCRIPT,
            &[
                host.clone(),
                smtp.port().to_string(),
                smtps.port().to_string(),
                mta.ca_cert_path().display().to_string(),
                mta.user().to_string(),
                mta.password().to_string(),
                mta.address("bob"),
            ],
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0], "AUTH PLAIN LOGIN",
            "after STARTTLS ({host}): {out}"
        );
        assert_eq!(lines[1], "WRONG 535", "{out}");
        assert_eq!(lines[2], "RIGHT 235", "{out}");
        assert_eq!(lines[3], "LOGIN 235", "{out}");
        assert!(lines[4].starts_with("SMTPS 250 TLSv1."), "{out}");
    }
    let bob = mta.wait_for_delivery("bob", runs.len(), T);
    assert!(bob
        .iter()
        .all(|m| String::from_utf8_lossy(m).contains("authenticated")));
    Ok(())
}

#[test]
fn exim_options_cleartext_auth_size_limit_and_xoauth2() -> Result<(), Box<dyn std::error::Error>> {
    let _wd = Watchdog::arm("exim_options_cleartext_auth_size_limit_and_xoauth2", T * 3);
    let mta = Exim::start_with(EximOptions {
        auth_over_cleartext: true,
        message_size_limit: 2000,
        xoauth2: true,
        ..EximOptions::default()
    })?;
    let mut c = PlainSmtp::connect(mta.smtp_addr());
    let (_, ehlo) = c.cmd("EHLO client.test");
    assert!(ehlo.iter().any(|l| l == "SIZE 2000"), "{ehlo:?}");
    assert!(
        ehlo.iter().any(|l| l == "AUTH PLAIN LOGIN XOAUTH2"),
        "{ehlo:?}"
    );
    let xoauth2 = format!(
        "user={}\x01auth=Bearer {}\x01\x01",
        mta.user(),
        mta.oauth_token()
    );
    let (code, text) = c.cmd(&format!("AUTH XOAUTH2 {}", base64(xoauth2.as_bytes())));
    assert_eq!(code, 235, "{text:?}\n{}", mta.logs());
    assert_eq!(
        c.code("MAIL FROM:<sender@client.test> SIZE=5000"),
        552,
        "over the SIZE limit"
    );
    assert_eq!(c.code("MAIL FROM:<sender@client.test> SMTPUTF8"), 250);
    assert_eq!(c.code("RCPT TO:<josé@example.test>"), 250);
    assert_eq!(c.code("DATA"), 354);
    c.send_raw("Subject: ünïcode\r\n\r\nhé\r\n.\r\n".as_bytes());
    assert_eq!(c.reply().0, 250);
    assert_eq!(c.code("QUIT"), 221);
    assert_eq!(mta.wait_for_delivery("josé", 1, T).len(), 1);
    Ok(())
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn exim_start_failures_say_why() {
    let missing = Exim::start_with(EximOptions {
        binary: Some("/nonexistent/exim4".into()),
        ..EximOptions::default()
    });
    let msg = missing
        .err()
        .expect("a missing binary must be an error")
        .to_string();
    assert!(
        msg.contains("/nonexistent/exim4") && msg.contains("tests/setup/install-exim.sh"),
        "{msg}"
    );

    let bad = Exim::start_with(EximOptions {
        extra_main: vec!["no_such_option = 1".into()],
        ..EximOptions::default()
    });
    let msg = bad
        .err()
        .expect("a bad configuration must be an error")
        .to_string();
    assert!(
        msg.contains("no_such_option"),
        "the error must quote Exim: {msg}"
    );
}
