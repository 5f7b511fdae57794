//! Tests of the batched send against the scripted server: envelopes behind
//! content, refusals that do not stop the batch, a server that hangs up.

use super::*;
use smtp32_protocol::{BatchMessage, BatchOutcome, Bytes, Failure};

const EHLO: &[u8] = b"250-mx\r\n250 PIPELINING\r\n";

async fn client(script: Vec<Step>) -> (SmtpClient, JoinHandle<()>) {
    let mut steps = vec![
        Say(b"220 mx\r\n"),
        Expect(b"EHLO me.example\r\n"),
        Say(EHLO),
    ];
    steps.extend(script);
    let (endpoint, server) = scripted(steps).await;
    let (client, _) = SmtpClient::connect(&endpoint.into(), "me.example", Arc::new(NoTap))
        .await
        .expect("connect");
    (client, server)
}

fn msg(to: &str, data: &str) -> BatchMessage {
    BatchMessage {
        from: "a@x".into(),
        rcpts: vec![to.into()],
        data: Bytes::copy_from_slice(data.as_bytes()),
    }
}

fn codes(outcome: &BatchOutcome) -> (u16, Vec<u16>) {
    match outcome {
        Ok(r) | Err(Failure::NotSent(r)) => (
            r.verdict.code,
            r.recipients.iter().map(|x| x.code).collect(),
        ),
        Err(other) => panic!("unexpected outcome {other:?}"),
    }
}

#[tokio::test]
async fn envelopes_ride_behind_content_and_a_refused_recipient_gets_a_lone_dot() {
    watchdog(async {
        let (mut c, server) = client(vec![
            Expect(b"MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n"),
            Say(b"250 ok\r\n250 ok\r\n354 go\r\n"),
            Expect(b"m0\r\n.\r\nMAIL FROM:<a@x>\r\nRCPT TO:<bad@x>\r\nDATA\r\n"),
            // RFC 2920 3.1: 354 though no recipient was accepted.
            Say(b"250 queued\r\n250 ok\r\n550 no\r\n354 go\r\n"),
            Expect(b".\r\nMAIL FROM:<a@x>\r\nRCPT TO:<c@x>\r\nDATA\r\n"),
            Say(b"250 empty\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
            Expect(b"m2\r\n.\r\n"),
            Say(b"250 queued\r\n"),
        ])
        .await;
        let end = c
            .send_batch(
                &[msg("b@x", "m0"), msg("bad@x", "m1"), msg("c@x", "m2")],
                Duration::from_secs(5),
            )
            .await;
        assert!(end.in_step);
        assert!(
            end.outcomes[0].is_ok() && end.outcomes[2].is_ok(),
            "{:?}",
            end.outcomes
        );
        assert!(
            matches!(end.outcomes[1], Err(Failure::NotSent(_))),
            "{:?}",
            end.outcomes[1]
        );
        assert_eq!(codes(&end.outcomes[1]), (550, vec![550]));
        drop(c);
        server.await.expect("server");
    })
    .await;
}

#[tokio::test]
async fn a_refused_data_gets_rset_and_the_batch_goes_on() {
    watchdog(async {
        let (mut c, server) = client(vec![
            Expect(b"MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n"),
            Say(b"250 ok\r\n250 ok\r\n554 no data today\r\n"),
            Expect(b"RSET\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n"),
            Say(b"250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
            Expect(b"m1\r\n.\r\n"),
            Say(b"250 queued\r\n"),
        ])
        .await;
        let end = c
            .send_batch(
                &[msg("b@x", "m0"), msg("b@x", "m1")],
                Duration::from_secs(5),
            )
            .await;
        assert!(end.in_step);
        assert_eq!(codes(&end.outcomes[0]), (554, vec![250]));
        assert!(end.outcomes[1].is_ok(), "{:?}", end.outcomes[1]);
        drop(c);
        server.await.expect("server");
    })
    .await;
}

#[tokio::test]
async fn a_server_that_hangs_up_fails_the_rest_alike() {
    watchdog(async {
        let (mut c, server) = client(vec![
            Expect(b"MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n"),
            Say(b"250 ok\r\n250 ok\r\n354 go\r\n"),
            Expect(b"m0\r\n.\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n"),
            Say(b"250 queued\r\n"),
        ])
        .await;
        let batch = [msg("b@x", "m0"), msg("b@x", "m1"), msg("b@x", "m2")];
        let end = c.send_batch(&batch, Duration::from_secs(5)).await;
        assert!(!end.in_step);
        assert!(end.outcomes[0].is_ok(), "{:?}", end.outcomes[0]);
        for o in &end.outcomes[1..] {
            assert!(matches!(o, Err(Failure::ConnectionLost(_))), "{o:?}");
        }
        server.await.expect("server");
    })
    .await;
}
