//! A TCP proxy that adds a fixed delay each way, so loopback behaves like a link with a given
//! round-trip time: every chunk read is forwarded `rtt / 2` after it arrived, in order, with
//! no limit on bandwidth (pipelined bytes stay pipelined).

use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Listens on a free loopback port and relays every connection to `upstream` with `rtt / 2`
/// each way; returns the port. The threads live as long as the process.
pub fn start(upstream: SocketAddr, rtt: Duration) -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("bind the delay proxy")?;
    let port = listener.local_addr()?.port();
    let one_way = rtt / 2;
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(upstream) else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let pair = (client.try_clone(), server.try_clone());
            if let (Ok(c2), Ok(s2)) = pair {
                std::thread::spawn(move || relay(client, server, one_way));
                std::thread::spawn(move || relay(s2, c2, one_way));
            }
        }
    });
    Ok(port)
}

/// Copies `from` to `to`, each chunk `delay` after it was read.
fn relay(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = std::thread::spawn(move || {
        for (due, bytes) in rx {
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf) {
        if tx
            .send((Instant::now() + delay, buf[..n].to_vec()))
            .is_err()
        {
            break;
        }
    }
    drop(tx);
    let _ = writer.join();
}
