//! `smtp32::LettreTransport`: a `lettre::Message` with an attachment, sent through lettre's
//! `Transport` and `AsyncTransport`, arrives byte-exact at aiosmtpd with the envelope lettre
//! derives from the message's headers.

use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};
use lettre::{AsyncTransport, Message, Transport};
use smtp32::LettreTransport;
use smtp32_tests::session::LOCAL;
use smtp32_tests::{Aiosmtpd, TestDaemon, Watchdog};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// A message with a text part and a binary attachment (every byte value, so base64 is used).
fn message_with_attachment(subject: &str) -> Message {
    let attachment: Vec<u8> = (0..=255u8).cycle().take(40_000).collect();
    Message::builder()
        .from("Sender <sender@a.test>".parse().expect("from"))
        .to("rcpt@b.test".parse().expect("to"))
        .cc("copy@c.test".parse().expect("cc"))
        .subject(subject)
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(String::from(
                    "See the attachment.\r\n.leading dot\r\n",
                )))
                .singlepart(Attachment::new(String::from("data.bin")).body(
                    attachment,
                    ContentType::parse("application/octet-stream").expect("type"),
                )),
        )
        .expect("message")
}

/// The stored message is the formatted message, byte for byte, with lettre's envelope.
fn assert_arrived(server: &Aiosmtpd, index: usize, sent: &Message) {
    let stored = server.wait_for_messages(index + 1, T).swap_remove(index);
    assert_eq!(stored.from, "sender@a.test");
    assert_eq!(stored.to, ["rcpt@b.test", "copy@c.test"]);
    let mut expected = sent.formatted();
    if !expected.ends_with(b"\r\n") {
        expected.extend_from_slice(b"\r\n");
    }
    assert!(
        stored.bytes == expected,
        "the stored message differs from Message::formatted()"
    );
}

#[test]
fn a_lettre_message_with_an_attachment_arrives_byte_exact_through_the_sync_transport() {
    let _wd = Watchdog::test("a_lettre_message_with_an_attachment_arrives_byte_exact_sync");
    let server = Aiosmtpd::start();
    let d = TestDaemon::start();
    let transport = LettreTransport::new(&server.host(), LOCAL)
        .expect("transport")
        .with_socket(d.socket_path());
    let first = message_with_attachment("sync one");
    let report = Transport::send(&transport, &first).expect("send");
    assert_eq!(report.verdict.code, 250);
    let second = message_with_attachment("sync two");
    Transport::send(&transport, &second).expect("a second send on the kept connection");
    assert_arrived(&server, 0, &first);
    assert_arrived(&server, 1, &second);
    Transport::shutdown(&transport);
}

#[test]
fn a_lettre_message_with_an_attachment_arrives_byte_exact_through_the_async_transport() {
    let _wd = Watchdog::test("a_lettre_message_with_an_attachment_arrives_byte_exact_async");
    let server = Aiosmtpd::start();
    let d = TestDaemon::start();
    let transport = LettreTransport::new(&server.host(), LOCAL)
        .expect("transport")
        .with_socket(d.socket_path());
    let message = message_with_attachment("async");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let report = AsyncTransport::send(&transport, message.clone())
            .await
            .expect("send");
        assert_eq!(report.verdict.code, 250);
        AsyncTransport::shutdown(&transport).await;
    });
    assert_arrived(&server, 0, &message);
}

#[test]
fn a_bad_host_is_refused_when_the_transport_is_made() {
    let err = LettreTransport::new("bad\r\nhost", LOCAL).expect_err("CRLF in the host");
    assert_eq!(err.code(), smtp32::ReturnCode::InvalidArgument);
}
