//! Many messages from one async task set over one daemon connection, with a
//! timeout that cancels a stalled call in the daemon.
//!
//! `cargo run -p smtp32 --features tokio --example async_send -- HOST[:PORT] FROM TO [COUNT]`

use smtp32::asynchronous::AsyncClient;
use std::sync::Arc;
use std::time::Duration;

#[tokio::main(flavor = "current_thread")]
async fn main() -> smtp32::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [host, from, to, rest @ ..] = args.as_slice() else {
        eprintln!("usage: async_send HOST[:PORT] FROM TO [COUNT]");
        std::process::exit(2);
    };
    let count: usize = rest.first().and_then(|n| n.parse().ok()).unwrap_or(10);
    let client = AsyncClient::connect_default().await?;
    // Four SMTP connections; each handle takes one call at a time.
    let mut conns = Vec::new();
    for _ in 0..4 {
        conns.push(Arc::new(tokio::sync::Mutex::new(
            client.helo(host, "async-example.local", None).await?,
        )));
    }
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..count {
        let (conn, from, to) = (conns[i % conns.len()].clone(), from.clone(), to.clone());
        sends.spawn(async move {
            let msg = format!(
                "From: <{from}>\r\nTo: <{to}>\r\nSubject: async {i}\r\n\r\nMessage {i}.\r\n"
            );
            let conn = conn.lock().await;
            // Dropped at the timeout, the call is cancelled in the daemon (XQuit) and the
            // handle reports Aborted from then on.
            tokio::time::timeout(
                Duration::from_secs(30),
                conn.sendmsg(&from, &[&to], msg.as_bytes()),
            )
            .await
        });
    }
    let mut sent = 0;
    while let Some(done) = sends.join_next().await {
        match done {
            Ok(Ok(Ok(_report))) => sent += 1,
            Ok(Ok(Err(e))) => eprintln!("not sent: {e}"),
            Ok(Err(_elapsed)) => eprintln!("timed out; the call was cancelled"),
            Err(e) => eprintln!("task failed: {e}"),
        }
    }
    println!("{sent} of {count} messages sent");
    for conn in conns {
        if let Some(conn) = Arc::into_inner(conn) {
            let _ = conn.into_inner().quit().await;
        }
    }
    Ok(())
}
