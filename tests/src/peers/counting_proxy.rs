//! A TCP proxy in front of a real server that counts the connections made through it, keeps
//! what each client sent, and can cut connections on cue: the connection cache tests count
//! TCP connections with it and make "the server" close an idle session.
//!
//! [`CountingProxy::cut_all`] closes every connection in both directions (to the client it
//! looks like the server hung up); [`CountingProxy::cut_on`] arms a one-shot trap: the next
//! client line starting with a given verb is not forwarded and its connection is cut (the
//! server hung up just as the command came).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One connection through the proxy.
struct Link {
    client: TcpStream,
    upstream: TcpStream,
    /// Everything the client sent on it.
    sent: Arc<Mutex<Vec<u8>>>,
    /// True once the client closed its side (or the proxy cut it).
    closed: Arc<AtomicBool>,
}

#[derive(Default)]
struct Shared {
    links: Mutex<Vec<Link>>,
    /// The verb of the armed trap, upper-case.
    trap: Mutex<Option<String>>,
}

/// The proxy; stops accepting on drop.
pub struct CountingProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
}

impl CountingProxy {
    /// Listens on a free loopback port and relays every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> CountingProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the proxy");
        let addr = listener.local_addr().expect("local_addr");
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared::default());
        let (s, sh) = (stop.clone(), shared.clone());
        std::thread::Builder::new()
            .name("counting proxy".into())
            .spawn(move || accept_loop(listener, upstream, s, sh))
            .expect("spawn the proxy");
        CountingProxy { addr, stop, shared }
    }

    /// `127.0.0.1:PORT`, the host string the daemon should connect to.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.links.lock().expect("links").len()
    }

    /// What the client sent on connection `i` (0-based), lossily decoded.
    pub fn sent(&self, i: usize) -> String {
        let links = self.shared.links.lock().expect("links");
        links
            .get(i)
            .map(|l| String::from_utf8_lossy(&l.sent.lock().expect("sent")).into_owned())
            .unwrap_or_default()
    }

    /// True once the client side of connection `i` is closed.
    pub fn closed(&self, i: usize) -> bool {
        let links = self.shared.links.lock().expect("links");
        links
            .get(i)
            .is_some_and(|l| l.closed.load(Ordering::SeqCst))
    }

    /// Waits until connection `i` is closed by its client; panics after `timeout`.
    pub fn wait_closed(&self, i: usize, timeout: Duration) {
        crate::wait::wait_for(timeout, &format!("proxied connection {i} to close"), || {
            self.closed(i)
        });
    }

    /// Closes every connection, both ways: to the client, the server hung up.
    pub fn cut_all(&self) {
        for link in self.shared.links.lock().expect("links").iter() {
            cut(link);
        }
    }

    /// The next client line starting with `verb` is swallowed and its connection cut.
    pub fn cut_on(&self, verb: &str) {
        *self.shared.trap.lock().expect("trap") = Some(verb.to_ascii_uppercase());
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.cut_all();
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn cut(link: &Link) {
    let _ = link.client.shutdown(Shutdown::Both);
    let _ = link.upstream.shutdown(Shutdown::Both);
}

fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
) {
    for client in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let Ok(server) = TcpStream::connect(upstream) else {
            continue;
        };
        let link = Link {
            client: client.try_clone().expect("clone"),
            upstream: server.try_clone().expect("clone"),
            sent: Arc::default(),
            closed: Arc::default(),
        };
        let (sent, closed) = (link.sent.clone(), link.closed.clone());
        let index = {
            let mut links = shared.links.lock().expect("links");
            links.push(link);
            links.len() - 1
        };
        let (c2, s2) = (
            client.try_clone().expect("clone"),
            server.try_clone().expect("clone"),
        );
        std::thread::spawn(move || pump_down(s2, c2));
        let shared = shared.clone();
        std::thread::spawn(move || pump_up(client, server, sent, closed, shared, index));
    }
}

/// Server to client, as it comes.
fn pump_down(mut server: TcpStream, mut client: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n @ 1..) = server.read(&mut buf) {
        if client.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Write);
}

/// Client to server, keeping a copy and watching for the trap's verb.
fn pump_up(
    mut client: TcpStream,
    mut server: TcpStream,
    sent: Arc<Mutex<Vec<u8>>>,
    closed: Arc<AtomicBool>,
    shared: Arc<Shared>,
    index: usize,
) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n @ 1..) = client.read(&mut buf) {
        let chunk = &buf[..n];
        let sprung = {
            let mut trap = shared.trap.lock().expect("trap");
            let hit = trap
                .as_deref()
                .is_some_and(|verb| chunk.to_ascii_uppercase().starts_with(verb.as_bytes()));
            if hit {
                *trap = None;
            }
            hit
        };
        if sprung {
            if let Some(link) = shared.links.lock().expect("links").get(index) {
                cut(link);
            }
            break;
        }
        sent.lock().expect("sent").extend_from_slice(chunk);
        if server.write_all(chunk).is_err() {
            break;
        }
    }
    closed.store(true, Ordering::SeqCst);
    let _ = server.shutdown(Shutdown::Write);
}
