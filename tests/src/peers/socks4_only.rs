//! A scripted SOCKS4/4a-only proxy, in-process: the peer that version auto-detection must fall
//! back on. None of the real proxies here is SOCKS4-only (Dante and OpenSSH speak SOCKS5 too),
//! so this one plays the old server that hangs up on anything but version 4.
//!
//! It records the version byte of every connection it gets, so a test can see the SOCKS5
//! greeting that was refused and the SOCKS4 request that followed. A granted CONNECT is relayed
//! both ways to the destination (for SOCKS4a, the name is resolved here). Stopped on drop.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// The running proxy.
pub struct Socks4Only {
    addr: SocketAddr,
    versions: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    accept: Option<thread::JoinHandle<()>>,
}

impl Socks4Only {
    /// Listens on a fresh 127.0.0.1 port.
    pub fn start() -> Socks4Only {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind socks4-only proxy");
        let addr = listener.local_addr().expect("local_addr");
        let versions = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (v, s) = (versions.clone(), stop.clone());
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let v = v.clone();
                    thread::spawn(move || {
                        let _ = serve(conn, &v);
                    });
                }
            }
        });
        Socks4Only {
            addr,
            versions,
            stop,
            accept: Some(accept),
        }
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The first byte of each connection so far, in order (5 = a SOCKS5 greeting, refused).
    pub fn versions_seen(&self) -> Vec<u8> {
        self.versions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for Socks4Only {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut client: TcpStream, versions: &Mutex<Vec<u8>>) -> io::Result<()> {
    let mut vn = [0u8; 1];
    client.read_exact(&mut vn)?;
    versions
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(vn[0]);
    if vn[0] != 4 {
        // An old SOCKS4 server: it does not know this version and hangs up.
        return Ok(());
    }
    let mut head = [0u8; 7];
    client.read_exact(&mut head)?;
    let port = u16::from_be_bytes([head[1], head[2]]);
    let ip = Ipv4Addr::new(head[3], head[4], head[5], head[6]);
    let _user = read_nul_terminated(&mut client)?;
    let target = if ip.octets()[..3] == [0, 0, 0] && ip.octets()[3] != 0 {
        let name = String::from_utf8_lossy(&read_nul_terminated(&mut client)?).into_owned();
        (name.as_str(), port)
            .to_socket_addrs()?
            .find(SocketAddr::is_ipv4)
    } else {
        Some(SocketAddr::from((ip, port)))
    };
    let upstream = match head[0] {
        1 => target.and_then(|t| TcpStream::connect(t).ok()),
        _ => None,
    };
    let Some(upstream) = upstream else {
        client.write_all(&[0, 0x5b, 0, 0, 0, 0, 0, 0])?;
        return Ok(());
    };
    client.write_all(&[0, 0x5a, 0, 0, 0, 0, 0, 0])?;
    relay(client, upstream)
}

fn read_nul_terminated(conn: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    loop {
        conn.read_exact(&mut b)?;
        if b[0] == 0 || out.len() > 1024 {
            return Ok(out);
        }
        out.push(b[0]);
    }
}

/// Copies both ways until either side closes.
fn relay(client: TcpStream, upstream: TcpStream) -> io::Result<()> {
    let (mut c_read, mut u_write) = (client.try_clone()?, upstream.try_clone()?);
    let up = thread::spawn(move || {
        let _ = io::copy(&mut c_read, &mut u_write);
        let _ = u_write.shutdown(Shutdown::Write);
    });
    let (mut u_read, mut c_write) = (upstream, client);
    let _ = io::copy(&mut u_read, &mut c_write);
    let _ = c_write.shutdown(Shutdown::Write);
    let _ = up.join();
    Ok(())
}
