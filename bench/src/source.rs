//! Postfix `smtp-source`: the reference every throughput row is compared to.
//!
//! `smtp-source -s SESSIONS -m MESSAGES -l 1024 -d` sends MESSAGES messages
//! over SESSIONS parallel connections, each connection reused for the next
//! message (`-d`), without pipelining (its man page: "No SMTP command
//! pipelining support"). `-l` counts the body only; smtp-source adds a few
//! header lines of its own. The time is the process's wall time, which also
//! covers its connects and QUITs.

use crate::procs::Child;
use anyhow::{bail, Result};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `smtp-source` to completion; returns its wall time.
pub fn run(
    program: &Path,
    addr: SocketAddr,
    sessions: usize,
    messages: usize,
    body: usize,
) -> Result<Duration> {
    let mut cmd = Command::new(program);
    cmd.args([
        "-s",
        &sessions.to_string(),
        "-m",
        &messages.to_string(),
        "-l",
        &body.to_string(),
        "-d",
    ])
    .args([
        "-M",
        "source.bench",
        "-f",
        crate::raw::FROM,
        "-t",
        crate::raw::TO,
    ])
    .arg(format!("inet:{addr}"))
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::inherit());
    let start = Instant::now();
    let status = Child::spawn("smtp-source", &mut cmd)?.wait()?;
    let elapsed = start.elapsed();
    if !status.success() {
        bail!("smtp-source failed: {status}");
    }
    Ok(elapsed)
}
