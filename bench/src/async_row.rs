//! W1 through the async client: `sendmsg` on one SMTP connection, awaited
//! one after the other on a single-threaded tokio runtime (the blocking
//! client's `sendmsg` row is the same workload).

use crate::raw::{FROM, TO};
use anyhow::{anyhow, Result};
use smtp32::asynchronous::AsyncClient;
use std::path::Path;
use std::time::{Duration, Instant};

/// Sends `n` messages with `sendmsg` on one handle; the time they took.
pub fn send(socket: &Path, host: &str, msg: &[u8], n: usize) -> Result<Duration> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = AsyncClient::connect(socket).await?;
        let conn = client.helo(host, "smtp32.bench", None).await?;
        let start = Instant::now();
        for _ in 0..n {
            let report = conn.sendmsg(FROM, &[TO], msg).await?;
            if report.verdict.code != 250 {
                return Err(anyhow!("async sendmsg not delivered: {report:?}"));
            }
        }
        let elapsed = start.elapsed();
        conn.quit().await?;
        Ok(elapsed)
    })
}
