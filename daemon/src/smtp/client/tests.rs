//! Tests of [`SmtpClient`] against a scripted server on 127.0.0.1.

use super::*;
use crate::smtp::tap::Recorder;
use crate::smtp::{Endpoint, NoTap};
use std::future::Future;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One step of the scripted server: send these bytes, expect exactly these,
/// or expect the client to close with nothing more sent.
enum Step {
    Say(&'static [u8]),
    Expect(&'static [u8]),
    ExpectClose,
}
use Step::{Expect, ExpectClose, Say};

/// `line` as `smtp_direct` sends it.
fn direct(line: &str) -> CheckedCommand {
    CheckedCommand::new(smtp32_protocol::Command::Direct { line: line.into() })
        .expect("a valid command line")
}

/// Fails the test instead of hanging it.
async fn watchdog<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("watchdog: test hung")
}

/// Serves one connection on 127.0.0.1 following `script`, then closes it.
async fn scripted(script: Vec<Step>) -> (Endpoint, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    let server = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.expect("accept");
        for step in script {
            match step {
                Say(bytes) => conn.write_all(bytes).await.expect("server write"),
                Expect(want) => {
                    let mut got = vec![0; want.len()];
                    conn.read_exact(&mut got).await.expect("server read");
                    assert_eq!(
                        got.escape_ascii().to_string(),
                        want.escape_ascii().to_string()
                    );
                }
                ExpectClose => {
                    let mut rest = Vec::new();
                    conn.read_to_end(&mut rest)
                        .await
                        .expect("server read to end");
                    assert_eq!(
                        rest.escape_ascii().to_string(),
                        "",
                        "bytes after the last expected step"
                    );
                }
            }
        }
    });
    (
        Endpoint {
            host: "127.0.0.1".into(),
            port,
        },
        server,
    )
}

const GREET_EHLO: [Step; 3] = [
    Say(b"220 mx ESMTP\r\n"),
    Expect(b"EHLO me.example\r\n"),
    Say(b"250-mx greets me\r\n250-size 1000\r\n250-8BITMIME\r\n250 \r\n"),
];

async fn connected(script: Vec<Step>) -> (SmtpClient, JoinHandle<()>) {
    let mut steps = Vec::from(GREET_EHLO);
    steps.extend(script);
    let (endpoint, server) = scripted(steps).await;
    let (client, _) = SmtpClient::connect(&endpoint.clone().into(), "me.example", Arc::new(NoTap))
        .await
        .expect("connect");
    (client, server)
}

#[tokio::test]
async fn greeting_and_ehlo() {
    watchdog(async {
        let (endpoint, server) = scripted(Vec::from(GREET_EHLO)).await;
        let tap = Arc::new(Recorder::default());
        let (client, ehlo) =
            SmtpClient::connect(&endpoint.clone().into(), "me.example", tap.clone())
                .await
                .expect("connect");
        assert_eq!(ehlo.code, 250);
        assert!(client.is_esmtp());
        assert_eq!(
            client.keywords().collect::<Vec<_>>(),
            ["SIZE 1000", "8BITMIME"]
        );
        assert!(client.has_extension("size") && client.has_extension("8bitmime"));
        assert!(!client.has_extension("STARTTLS"));
        let seen: Vec<(Direction, String)> = tap
            .take()
            .into_iter()
            .map(|(d, b)| (d, b.escape_ascii().to_string()))
            .collect();
        assert_eq!(
            seen[0],
            (Direction::FromServer, "220 mx ESMTP\\r\\n".into())
        );
        assert_eq!(
            seen[1],
            (Direction::ToServer, "EHLO me.example\\r\\n".into())
        );
        assert_eq!(seen.len(), 2 + 4, "one tap per reply line");
        server.await.expect("server");
    })
    .await
}

#[tokio::test]
async fn ehlo_refused_falls_back_to_helo() {
    watchdog(async {
        let (endpoint, server) = scripted(vec![
            Say(b"220 old\r\n"),
            Expect(b"EHLO me\r\n"),
            Say(b"502 what?\r\n"),
            Expect(b"HELO me\r\n"),
            Say(b"250 old greets me\r\n"),
        ])
        .await;
        let (client, helo) = SmtpClient::connect(&endpoint.clone().into(), "me", Arc::new(NoTap))
            .await
            .expect("connect");
        assert_eq!(helo.lines, ["old greets me"]);
        assert!(!client.is_esmtp());
        assert_eq!(client.keywords().next(), None);
        server.await.expect("server");
    })
    .await
}

#[tokio::test]
async fn helo_refused_is_refused() {
    watchdog(async {
        let (endpoint, server) = scripted(vec![
            Say(b"220 old\r\n"),
            Expect(b"EHLO me\r\n"),
            Say(b"500 what?\r\n"),
            Expect(b"HELO me\r\n"),
            Say(b"501 go away\r\n"),
        ])
        .await;
        let result = SmtpClient::connect(&endpoint.clone().into(), "me", Arc::new(NoTap)).await;
        assert!(matches!(result, Err(SmtpError::Refused(r)) if r.code == 501));
        server.await.expect("server");
    })
    .await
}

#[tokio::test]
async fn greeting_554_is_refused() {
    watchdog(async {
        let (endpoint, server) = scripted(vec![Say(b"554 no service\r\n")]).await;
        let result = SmtpClient::connect(&endpoint.clone().into(), "me", Arc::new(NoTap)).await;
        assert!(matches!(result, Err(SmtpError::Refused(r)) if r.code == 554));
        server.await.expect("server");
    })
    .await
}

#[tokio::test]
async fn commands_return_replies_and_refusals() {
    watchdog(async {
        let (mut client, server) = connected(vec![
            Expect(b"NOOP\r\n"),
            Say(b"250-ok\r\n250 fine\r\n"),
            Expect(b"RCPT TO:<x@y>\r\n"),
            Say(b"550 5.1.1 no such user\r\n"),
            Expect(b"QUIT\r\n"),
            Say(b"221 bye\r\n"),
        ])
        .await;
        let reply = client.command(&direct("NOOP")).await.expect("noop");
        assert_eq!((reply.code, reply.lines), (250, ["ok", "fine"].into()));
        let refused = client.command(&direct("RCPT TO:<x@y>")).await;
        assert!(matches!(refused, Err(SmtpError::Refused(r)) if r.code == 550));
        client.quit().await;
        server.await.expect("server");
    })
    .await
}

#[tokio::test]
async fn message_bytes_on_the_wire_are_stuffed_and_normalised() {
    watchdog(async {
        let (mut client, server) = connected(vec![
            Expect(b"DATA\r\n"),
            Say(b"354 go ahead\r\n"),
            Expect(b"..first\r\nsecond\r\n"),
            Expect(b"..third\r\n\r\n..\r\n"),
            Expect(b"last\r\n.\r\n"),
            Say(b"250 queued\r\n"),
            Expect(b"DATA\r\n"),
            Say(b"354 go ahead\r\n"),
            Expect(b".\r\n"),
            Say(b"554 empty message\r\n"),
        ])
        .await;
        client
            .data_chunk(b".first\nsecond\r")
            .await
            .expect("chunk 1");
        client
            .data_chunk(b"\n.third\r\r\n.\n")
            .await
            .expect("chunk 2");
        client.data_chunk(b"last").await.expect("chunk 3");
        assert_eq!(client.data_end().await.expect("end").code, 250);
        let refused = client.data_end().await;
        assert!(matches!(refused, Err(SmtpError::Refused(r)) if r.code == 554));
        server.await.expect("server");
    })
    .await
}

/// A chunk that goes out partly as it came (written from the caller's
/// bytes) and partly changed reaches the wire and the traffic tap whole and
/// in order.
#[tokio::test]
async fn a_chunk_partly_unchanged_reaches_the_wire_and_the_tap_whole() {
    watchdog(async {
        // More than two check blocks of lines that go out as they are.
        let clean = "0123456789abcdefghijklmnopqrstuvwxyz\r\n".repeat(60);
        let chunk = format!("{clean}.dot\nend");
        let wire: &'static [u8] = format!("{clean}..dot\r\nend\r\n.\r\n").into_bytes().leak();
        let mut steps = Vec::from(GREET_EHLO);
        steps.extend([
            Expect(b"DATA\r\n"),
            Say(b"354 go ahead\r\n"),
            Expect(wire),
            Say(b"250 queued\r\n"),
        ]);
        let (endpoint, server) = scripted(steps).await;
        let tap = Arc::new(Recorder::default());
        let (mut client, _) =
            SmtpClient::connect(&endpoint.clone().into(), "me.example", tap.clone())
                .await
                .expect("connect");
        client.data_chunk(chunk.as_bytes()).await.expect("chunk");
        assert_eq!(client.data_end().await.expect("end").code, 250);
        let sent: Vec<u8> = tap
            .take()
            .into_iter()
            .filter(|(direction, _)| *direction == Direction::ToServer)
            .flat_map(|(_, bytes)| bytes)
            .collect();
        let want = [b"EHLO me.example\r\nDATA\r\n".as_slice(), wire].concat();
        assert_eq!(
            sent.escape_ascii().to_string(),
            want.escape_ascii().to_string()
        );
        server.await.expect("server");
    })
    .await
}

#[tokio::test]
async fn quit_inside_a_message_only_closes() {
    watchdog(async {
        let (mut client, server) = connected(vec![
            Expect(b"DATA\r\n"),
            Say(b"354 go ahead\r\n"),
            Expect(b"partial\r\n"),
            ExpectClose,
        ])
        .await;
        client.data_chunk(b"partial\n").await.expect("chunk");
        client.quit().await;
        server.await.expect("server");
    })
    .await
}

#[tokio::test]
async fn data_refused_is_refused() {
    watchdog(async {
        let (mut client, server) =
            connected(vec![Expect(b"DATA\r\n"), Say(b"503 need RCPT first\r\n")]).await;
        assert!(
            matches!(client.data_chunk(b"x").await, Err(SmtpError::Refused(r)) if r.code == 503)
        );
        server.await.expect("server");
    })
    .await
}

#[tokio::test]
async fn server_closing_mid_command_is_closed() {
    watchdog(async {
        let (mut client, server) = connected(vec![Expect(b"NOOP\r\n"), Say(b"250-par")]).await;
        assert!(matches!(
            client.command(&direct("NOOP")).await,
            Err(SmtpError::Closed)
        ));
        server.await.expect("server");
    })
    .await
}

#[tokio::test]
async fn closed_port_is_host_not_responding() {
    watchdog(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        drop(listener);
        let endpoint = Endpoint {
            host: "127.0.0.1".into(),
            port,
        };
        let result = SmtpClient::connect(&endpoint.clone().into(), "me", Arc::new(NoTap)).await;
        assert!(
            matches!(result, Err(SmtpError::HostNotResponding(_))),
            "{:?}",
            result.err()
        );
    })
    .await
}

#[tokio::test]
async fn unresolvable_name_is_unknown_host() {
    watchdog(async {
        let endpoint = Endpoint {
            host: "no-such-host.invalid".into(),
            port: 25,
        };
        let result = SmtpClient::connect(&endpoint.clone().into(), "me", Arc::new(NoTap)).await;
        assert!(matches!(result, Err(SmtpError::UnknownHost(h)) if h == "no-such-host.invalid"));
    })
    .await
}

#[tokio::test]
async fn bad_local_names_are_refused_before_connecting() {
    watchdog(async {
        let endpoint = Endpoint {
            host: "no-such-host.invalid".into(),
            port: 25,
        };
        for local in ["", "two words", "tab\there", "cr\r", "nul\0"] {
            let result =
                SmtpClient::connect(&endpoint.clone().into(), local, Arc::new(NoTap)).await;
            assert!(
                matches!(result, Err(SmtpError::InvalidArgument(_))),
                "{local:?}"
            );
        }
    })
    .await
}

#[tokio::test]
async fn a_reply_nobody_asked_for_is_refused_before_the_next_command() {
    watchdog(async {
        // Two replies to MAIL: the second would be read as the answer to RCPT.
        let (mut client, server) = connected(vec![
            Expect(b"MAIL FROM:<a@b>\r\n"),
            Say(b"250 ok\r\n250 and another\r\n"),
            ExpectClose,
        ])
        .await;
        assert_eq!(
            client
                .command(&direct("MAIL FROM:<a@b>"))
                .await
                .expect("mail")
                .code,
            250
        );
        match client.command(&direct("RCPT TO:<c@d>")).await {
            Err(SmtpError::BadReply(why)) => assert!(why.contains("before it was asked"), "{why}"),
            other => panic!("RCPT after an unsolicited reply gave {other:?}"),
        }
        drop(client);
        server
            .await
            .expect("server: RCPT must never reach the wire");
    })
    .await
}

#[tokio::test]
async fn a_server_gone_while_idle_is_closed_before_writing() {
    watchdog(async {
        let (mut client, server) = connected(vec![]).await;
        server.await.expect("server closes after EHLO");
        assert!(matches!(
            client.command(&direct("NOOP")).await,
            Err(SmtpError::Closed)
        ));
    })
    .await
}

mod batch;
mod send_auth;
