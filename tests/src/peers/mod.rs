//! Real SMTP servers written by others, and our own scripted server for faults they can't produce.
//!
//! - [`smtp_sink`]: Postfix's `smtp-sink`, a fast sink with configurable faults.
//! - [`aiosmtpd`]: a Python `aiosmtpd` server that stores every message it receives, byte-exact.
//! - [`scripted`]: a tiny in-process TCP server that stalls, cuts or babbles on cue.
//! - [`blackhole`]: a loopback port whose SYNs are dropped (a full accept queue).
//! - [`chaos_proxy`]: a TCP proxy that cuts, resets, freezes or drops verdicts at random.
//! - [`counting_proxy`]: a TCP proxy that counts connections and cuts them on cue.

pub mod aiosmtpd;
pub mod blackhole;
pub mod chaos_proxy;
pub mod counting_proxy;
pub mod exim;
pub mod scripted;
pub mod smtp_sink;
pub mod socks;
pub mod socks4_only;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Connects to `addr` and reads one reply line, within `timeout`; `Ok(line)` when a line came.
pub fn read_greeting(addr: SocketAddr, timeout: Duration) -> std::io::Result<String> {
    let started = Instant::now();
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    let left = timeout
        .saturating_sub(started.elapsed())
        .max(Duration::from_millis(10));
    stream.set_read_timeout(Some(left))?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    Ok(line)
}
