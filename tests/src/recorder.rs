//! [`RecordingProxy`]: a transparent TCP relay between the daemon and a real SMTP server that
//! keeps every byte it forwards, per direction — what the server really received and what the
//! daemon really got back, to compare with the debug traffic callback's copies.
//!
//! Bytes are recorded before they are forwarded, so once the daemon has seen a reply (and so
//! the client's call has returned), everything up to that reply is in the record.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// Bytes of one relayed connection.
#[derive(Debug, Default, Clone)]
pub struct Recorded {
    /// What the client (the daemon) sent, i.e. what the server received.
    pub to_server: Vec<u8>,
    /// What the server sent, i.e. what the daemon received.
    pub from_server: Vec<u8>,
}

/// A relay on a loopback port to `upstream`; every accepted connection is recorded.
pub struct RecordingProxy {
    addr: SocketAddr,
    conns: Arc<Mutex<Vec<Arc<Mutex<Recorded>>>>>,
}

impl RecordingProxy {
    /// Starts relaying to `upstream`.
    pub fn start(upstream: SocketAddr) -> RecordingProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let conns: Arc<Mutex<Vec<Arc<Mutex<Recorded>>>>> = Arc::default();
        let list = conns.clone();
        std::thread::Builder::new()
            .name("recording proxy".into())
            .spawn(move || {
                for client in listener.incoming() {
                    let Ok(client) = client else { return };
                    let Ok(server) = TcpStream::connect(upstream) else {
                        return;
                    };
                    let rec = Arc::new(Mutex::new(Recorded::default()));
                    list.lock().unwrap().push(rec.clone());
                    relay(
                        client.try_clone().expect("clone"),
                        server.try_clone().expect("clone"),
                        rec.clone(),
                        true,
                    );
                    relay(server, client, rec, false);
                }
            })
            .expect("spawn proxy thread");
        RecordingProxy { addr, conns }
    }

    /// `127.0.0.1:PORT`, the host string for `smtp_helo`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The record of the `i`-th accepted connection (0-based); panics if there is none.
    pub fn connection(&self, i: usize) -> Recorded {
        let conns = self.conns.lock().unwrap();
        let rec = conns.get(i).unwrap_or_else(|| {
            panic!(
                "the proxy accepted {} connections, not {}",
                conns.len(),
                i + 1
            )
        });
        let copy = rec.lock().unwrap().clone();
        copy
    }
}

/// Copies `from` to `to` on a thread, recording into `rec` before each write.
fn relay(mut from: TcpStream, mut to: TcpStream, rec: Arc<Mutex<Recorded>>, to_server: bool) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            {
                let mut r = rec.lock().unwrap();
                let side = if to_server {
                    &mut r.to_server
                } else {
                    &mut r.from_server
                };
                side.extend_from_slice(&buf[..n]);
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
