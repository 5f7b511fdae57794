//! lettre 0.11 `SmtpTransport` (pooled, one connection, no TLS), given a
//! TCP_NODELAY socket.
//!
//! lettre offers no way to set TCP_NODELAY, and without it every message
//! waits ~40 ms for a delayed ACK (lettre writes the final dot on its own).
//! The bench sends one message outside the timing so the pool holds a
//! connection, finds that connection's socket among the process's fds by
//! its peer address, and sets TCP_NODELAY on it from outside.

use crate::raw::{FROM, TO};
use anyhow::{bail, Context, Result};
use lettre::address::Envelope;
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::PoolConfig;
use lettre::{SmtpTransport, Transport};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Sends `n` messages on one pooled lettre connection; returns the elapsed
/// time and whether TCP_NODELAY could be set.
pub fn send(addr: SocketAddr, msg: &[u8], n: usize, nodelay: bool) -> Result<(Duration, bool)> {
    let transport = SmtpTransport::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .hello_name(ClientId::Domain("lettre.bench".into()))
        .timeout(Some(Duration::from_secs(60)))
        .pool_config(PoolConfig::new().max_size(1))
        .build();
    let envelope = Envelope::new(Some(FROM.parse()?), vec![TO.parse()?])?;
    let before = sockets_to(addr);
    transport
        .send_raw(&envelope, msg)
        .context("lettre warm-up message")?;
    let fresh: Vec<i32> = sockets_to(addr)
        .into_iter()
        .filter(|fd| !before.contains(fd))
        .collect();
    let set = nodelay && fresh.len() == 1 && set_nodelay(fresh[0]);
    let start = Instant::now();
    for _ in 0..n {
        transport.send_raw(&envelope, msg)?;
    }
    let elapsed = start.elapsed();
    if sockets_to(addr) != sockets_to_keep(&before, &fresh) {
        bail!("lettre opened another connection during the run: not one connection");
    }
    Ok((elapsed, set))
}

fn sockets_to_keep(before: &[i32], fresh: &[i32]) -> Vec<i32> {
    let mut all: Vec<i32> = before.iter().chain(fresh).copied().collect();
    all.sort_unstable();
    all
}

/// This process's TCP sockets connected to `addr`, by fd.
fn sockets_to(addr: SocketAddr) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return vec![];
    };
    let mut fds: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&fd| peer(fd) == Some(addr))
        .collect();
    fds.sort_unstable();
    fds
}

fn peer(fd: i32) -> Option<SocketAddr> {
    // SAFETY: getpeername on an fd we only read; a non-socket fails with ENOTSOCK.
    unsafe {
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        if libc::getpeername(fd, (&mut sa as *mut libc::sockaddr_in).cast(), &mut len) != 0
            || i32::from(sa.sin_family) != libc::AF_INET
        {
            return None;
        }
        let ip = std::net::Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr));
        Some(SocketAddr::from((ip, u16::from_be(sa.sin_port))))
    }
}

fn set_nodelay(fd: i32) -> bool {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt on a socket fd owned by lettre's pooled connection, still open.
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        ) == 0
    }
}
