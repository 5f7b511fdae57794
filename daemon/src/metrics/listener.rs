//! The scrape listener of `metrics.listen`: answers `GET /metrics` (and `GET /`) over HTTP/1.1
//! with the OpenMetrics text, one request per connection, then closes. It reads at most
//! [`MAX_REQUEST_BYTES`] of request head within [`REQUEST_DEADLINE`], so a slow or hostile peer
//! holds nothing for long; anything else gets 404 or 405. A Prometheus server needs no more.

use crate::state::DaemonState;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::{info, warn};

/// The longest request head read.
const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// How long a peer has to send its request and take the answer.
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// The content type of the OpenMetrics text format.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Binds `address` (before the daemon reports ready, so a bad address stops the start).
pub async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(address).await?;
    info!(address = %listener.local_addr()?, "metrics listener serving GET /metrics");
    Ok(listener)
}

/// Serves scrapes until the daemon stops.
pub async fn serve(listener: TcpListener, state: Arc<DaemonState>) {
    let stop = state.lifecycle.stop_token();
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                let state = state.clone();
                actix_rt::spawn(async move {
                    if tokio::time::timeout(REQUEST_DEADLINE, answer(stream, &state))
                        .await
                        .is_err()
                    {
                        warn!("metrics listener: a scrape took longer than {REQUEST_DEADLINE:?}");
                    }
                });
            }
            Err(e) => {
                warn!("metrics listener: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads one request head and writes the answer.
async fn answer(mut stream: TcpStream, state: &DaemonState) {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > MAX_REQUEST_BYTES {
            let _ = stream
                .write_all(&response(
                    "431 Request Header Fields Too Large",
                    "text/plain",
                    "",
                ))
                .await;
            return;
        }
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut words = line.split(|&b| b == b' ');
    let (method, target) = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default(),
    );
    let target = target.split(|&b| b == b'?').next().unwrap_or_default();
    let reply = match (method, target) {
        (b"GET", b"/metrics" | b"/") => response("200 OK", CONTENT_TYPE, &super::render(state)),
        (b"GET", _) => response("404 Not Found", "text/plain", "only /metrics is here\n"),
        _ => response("405 Method Not Allowed", "text/plain", "GET only\n"),
    };
    let _ = stream.write_all(&reply).await;
    let _ = stream.shutdown().await;
}

/// A whole HTTP/1.1 response that closes the connection.
fn response(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    let length = body.len();
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\
         Connection: close\r\n\r\n{body}"
    )
    .into_bytes()
}
