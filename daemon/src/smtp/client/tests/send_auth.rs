//! Tests of the one-call send and of AUTH against the scripted server.

use super::*;
use smtp32_protocol::{AuthMechanism, AuthSecret};

const PIPELINING_EHLO: &[u8] =
    b"250-mx\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250 AUTH PLAIN LOGIN\r\n";
const PLAIN_EHLO: &[u8] = b"250-mx\r\n250-SIZE 10\r\n250 AUTH LOGIN\r\n";

/// A client connected to a server that answers EHLO with `ehlo`, then follows `script`.
async fn with_ehlo(
    ehlo: &'static [u8],
    script: Vec<Step>,
    tap: Arc<dyn TrafficTap>,
) -> (SmtpClient, JoinHandle<()>) {
    let mut steps = vec![
        Say(b"220 mx\r\n"),
        Expect(b"EHLO me.example\r\n"),
        Say(ehlo),
    ];
    steps.extend(script);
    let (endpoint, server) = scripted(steps).await;
    let (client, _) = SmtpClient::connect(&endpoint.into(), "me.example", tap)
        .await
        .expect("connect");
    (client, server)
}

fn rcpts(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn to_server(tap: &Recorder) -> String {
    tap.take()
        .into_iter()
        .filter(|(d, _)| *d == Direction::ToServer)
        .map(|(_, b)| b.escape_ascii().to_string())
        .collect()
}

#[tokio::test]
async fn pipelined_send_writes_the_envelope_at_once_and_reports_each_recipient() {
    watchdog(async {
        let tap = Arc::new(Recorder::default());
        let (mut client, server) = with_ehlo(
            PIPELINING_EHLO,
            vec![
                Expect(b"MAIL FROM:<a@b> SIZE=4\r\nRCPT TO:<c@d>\r\nRCPT TO:<x@d>\r\nDATA\r\n"),
                Say(b"250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n354 go\r\n"),
                Expect(b"hi\r\n.\r\n"),
                Say(b"250 2.0.0 queued as X\r\n"),
                ExpectClose,
            ],
            tap.clone(),
        )
        .await;
        tap.take();
        let report = client
            .send_message("a@b", &rcpts(&["c@d", "x@d"]), b"hi\n")
            .await
            .expect("sent");
        assert_eq!(
            report.recipients.iter().map(|r| r.code).collect::<Vec<_>>(),
            [250, 550]
        );
        assert_eq!((report.verdict.code, report.refused()), (250, vec![1]));
        let sent = to_server(&tap);
        assert!(
            sent.starts_with("MAIL FROM:<a@b> SIZE=4\\r\\nRCPT"),
            "one write for the envelope: {sent}"
        );
        drop(client);
        server.await.expect("server");
    })
    .await
}

#[tokio::test]
async fn no_accepted_recipient_gets_rset_not_data() {
    watchdog(async {
        let (mut client, server) = with_ehlo(
            PIPELINING_EHLO,
            vec![
                Expect(b"MAIL FROM:<> SIZE=5 BODY=8BITMIME\r\nRCPT TO:<x@d>\r\nDATA\r\n"),
                Say(b"250 ok\r\n550 no\r\n554 no valid recipients\r\n"),
                Expect(b"RSET\r\n"),
                Say(b"250 reset\r\n"),
                ExpectClose,
            ],
            Arc::new(NoTap),
        )
        .await;
        match client
            .send_message("", &rcpts(&["x@d"]), b"\xe9t\xe9\r\n")
            .await
        {
            Err(SmtpError::NotSent(report)) => {
                assert_eq!((report.verdict.code, report.accepted()), (550, 0));
            }
            other => panic!("{other:?}"),
        }
        drop(client);
        server.await.expect("server");
    })
    .await
}

#[tokio::test]
async fn a_354_without_recipients_gets_an_empty_message() {
    watchdog(async {
        let (mut client, server) = with_ehlo(
            PIPELINING_EHLO,
            vec![
                Expect(b"MAIL FROM:<a@b> SIZE=0\r\nRCPT TO:<x@d>\r\nDATA\r\n"),
                Say(b"250 ok\r\n550 no\r\n354 go\r\n"),
                Expect(b".\r\n"),
                Say(b"554 no recipients\r\n"),
                ExpectClose,
            ],
            Arc::new(NoTap),
        )
        .await;
        let result = client.send_message("a@b", &rcpts(&["x@d"]), b"").await;
        assert!(
            matches!(&result, Err(SmtpError::NotSent(r)) if r.verdict.code == 550),
            "{result:?}"
        );
        drop(client);
        server.await.expect("server");
    })
    .await
}

#[tokio::test]
async fn without_pipelining_it_goes_step_by_step() {
    watchdog(async {
        let (mut client, server) = with_ehlo(
            b"250-mx\r\n250 SMTPUTF8\r\n",
            vec![
                Expect(b"MAIL FROM:<jos\xc3\xa9@b> SMTPUTF8\r\n"),
                Say(b"250 ok\r\n"),
                Expect(b"RCPT TO:<c@d>\r\n"),
                Say(b"250 ok\r\n"),
                Expect(b"DATA\r\n"),
                Say(b"354 go\r\n"),
                Expect(b"..x\r\n.\r\n"),
                Say(b"250 ok\r\n"),
                ExpectClose,
            ],
            Arc::new(NoTap),
        )
        .await;
        let report = client
            .send_message("jos\u{e9}@b", &rcpts(&["c@d"]), b".x")
            .await
            .expect("sent");
        assert!(report.is_delivered());
        drop(client);
        server.await.expect("server");
    })
    .await
}

#[tokio::test]
async fn over_size_or_without_smtputf8_nothing_is_sent() {
    watchdog(async {
        let (mut client, server) = with_ehlo(PLAIN_EHLO, vec![ExpectClose], Arc::new(NoTap)).await;
        let big = client
            .send_message("a@b", &rcpts(&["c@d"]), &[b'x'; 11])
            .await;
        assert!(
            matches!(&big, Err(SmtpError::Unsupported(why)) if why.contains("SIZE limit of 10")),
            "{big:?}"
        );
        let utf8 = client
            .send_message("a@b", &rcpts(&["jos\u{e9}@d"]), b"x")
            .await;
        assert!(
            matches!(&utf8, Err(SmtpError::Unsupported(why)) if why.contains("SMTPUTF8")),
            "{utf8:?}"
        );
        assert!(big.unwrap_err().keeps_connection());
        drop(client);
        server.await.expect("server");
    })
    .await
}

#[tokio::test]
async fn auth_plain_is_redacted_in_the_tap() {
    watchdog(async {
        let tap = Arc::new(Recorder::default());
        let (mut client, server) = with_ehlo(
            PIPELINING_EHLO,
            vec![
                Expect(b"AUTH PLAIN AHVzZXIAcHc=\r\n"),
                Say(b"235 2.7.0 ok\r\n"),
                ExpectClose,
            ],
            tap.clone(),
        )
        .await;
        tap.take();
        let secret = AuthSecret::new("pw").unwrap();
        let reply = client
            .authenticate(None, "user", &secret, true)
            .await
            .expect("auth");
        assert_eq!(reply.code, 235);
        assert_eq!(to_server(&tap), "AUTH PLAIN ***\\r\\n");
        drop(client);
        server.await.expect("server");
    })
    .await
}

#[tokio::test]
async fn auth_login_refused_is_the_535_and_redacted() {
    watchdog(async {
        let tap = Arc::new(Recorder::default());
        let (mut client, server) = with_ehlo(
            PLAIN_EHLO,
            vec![
                Expect(b"AUTH LOGIN\r\n"),
                Say(b"334 VXNlcm5hbWU6\r\n"),
                Expect(b"dXNlcg==\r\n"),
                Say(b"334 UGFzc3dvcmQ6\r\n"),
                Expect(b"cHc=\r\n"),
                Say(b"535 5.7.8 bad credentials\r\n"),
                ExpectClose,
            ],
            tap.clone(),
        )
        .await;
        tap.take();
        let secret = AuthSecret::new("pw").unwrap();
        let result = client.authenticate(None, "user", &secret, true).await;
        assert!(
            matches!(&result, Err(SmtpError::Refused(r)) if r.code == 535),
            "{result:?}"
        );
        assert_eq!(to_server(&tap), "AUTH LOGIN\\r\\n***\\r\\n***\\r\\n");
        drop(client);
        server.await.expect("server");
    })
    .await
}

#[tokio::test]
async fn auth_is_refused_in_cleartext_or_for_a_mechanism_not_offered() {
    watchdog(async {
        let (mut client, server) = with_ehlo(PLAIN_EHLO, vec![ExpectClose], Arc::new(NoTap)).await;
        let secret = AuthSecret::new("pw").unwrap();
        let clear = client.authenticate(None, "user", &secret, false).await;
        assert!(
            matches!(&clear, Err(SmtpError::TlsUnavailable(why)) if why.contains("cleartext")),
            "{clear:?}"
        );
        let plain = client
            .authenticate(Some(AuthMechanism::Plain), "user", &secret, true)
            .await;
        assert!(
            matches!(&plain, Err(SmtpError::Unsupported(why)) if why.contains("LOGIN")),
            "{plain:?}"
        );
        let tls = client.starttls().await;
        assert!(matches!(&tls, Err(SmtpError::TlsUnavailable(_))), "{tls:?}");
        drop(client);
        server.await.expect("server");
    })
    .await
}

#[tokio::test]
async fn auth_sent_as_direct_lines_is_redacted_in_the_tap_until_the_exchange_ends() {
    watchdog(async {
        let tap = Arc::new(Recorder::default());
        let script = vec![
            Expect(b"AUTH PLAIN AHVzZXIAcHc=\r\n"),
            Say(b"535 5.7.8 no\r\n"),
            Expect(b"AUTH LOGIN\r\n"),
            Say(b"334 VXNlcm5hbWU6\r\n"),
            Expect(b"dXNlcg==\r\n"),
            Say(b"334 UGFzc3dvcmQ6\r\n"),
            Expect(b"cHc=\r\n"),
            Say(b"235 2.7.0 ok\r\n"),
            Expect(b"NOOP\r\n"),
            Say(b"250 ok\r\n"),
            ExpectClose,
        ];
        let (mut client, server) = with_ehlo(PIPELINING_EHLO, script, tap.clone()).await;
        tap.take();
        assert!(client
            .command(&direct("AUTH PLAIN AHVzZXIAcHc="))
            .await
            .is_err());
        for line in ["AUTH LOGIN", "dXNlcg==", "cHc=", "NOOP"] {
            client.command(&direct(line)).await.expect(line);
        }
        let shown = to_server(&tap);
        assert_eq!(
            shown,
            "AUTH PLAIN ***\\r\\nAUTH LOGIN\\r\\n***\\r\\n***\\r\\nNOOP\\r\\n"
        );
        drop(client);
        server.await.expect("server");
    })
    .await
}
