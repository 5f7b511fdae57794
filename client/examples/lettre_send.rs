//! A `lettre::Message` with an attachment sent through the daemon, once with
//! lettre's blocking `Transport` and once with its `AsyncTransport`.
//!
//! `cargo run -p smtp32 --features lettre --example lettre_send -- HOST[:PORT] FROM TO`

use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};
use lettre::{AsyncTransport, Message, Transport};
use smtp32::LettreTransport;

fn message(from: &str, to: &str, subject: &str) -> Result<Message, Box<dyn std::error::Error>> {
    Ok(Message::builder()
        .from(from.parse()?)
        .to(to.parse()?)
        .subject(subject)
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(String::from("The report is attached.")))
                .singlepart(Attachment::new(String::from("report.csv")).body(
                    b"day,sent\nmon,12\n".to_vec(),
                    ContentType::parse("text/csv")?,
                )),
        )?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [host, from, to] = args.as_slice() else {
        eprintln!("usage: lettre_send HOST[:PORT] FROM TO");
        std::process::exit(2);
    };
    // LettreTransport::relay() sends through the daemon's configured relay instead.
    let transport = LettreTransport::new(host, "lettre-example.local")?;
    let report = Transport::send(&transport, &message(from, to, "sent with Transport")?)?;
    println!("blocking: {}", report.verdict.code);
    let report =
        AsyncTransport::send(&transport, message(from, to, "sent with AsyncTransport")?).await?;
    println!("async: {}", report.verdict.code);
    Ok(())
}
