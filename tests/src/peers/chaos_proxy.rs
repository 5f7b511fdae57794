//! A fault-injecting TCP proxy for the chaos test: it sits between the daemon and a real SMTP
//! server and, per connection, decides from a seeded generator whether to pass everything, cut
//! the connection at a random byte (either direction), reset it (TCP RST to the daemon), freeze
//! it for a while, or let a message's final dot through and then hang up before the verdict.
//!
//! Faults are only ever done to the daemon's side. Towards the server the proxy always ends
//! politely: it forwards what it took, half-closes, and reads until the server hangs up, so the
//! server finishes whatever it got (a message whose dot went through may be stored although
//! the daemon saw a failure: the one case SMTP cannot disambiguate). [`ChaosProxy::wait_idle`]
//! returns once every server connection has ended, so the server's store is final.
//!
//! The fault plan of the n-th connection is drawn from `seed` and `n`; which of the senders'
//! connections is the n-th depends on scheduling, so a seed reproduces the mix of faults, not
//! the exact run.

use crate::message::Xorshift;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the proxy waits for the server to hang up after a cut.
const DRAIN_LIMIT: Duration = Duration::from_secs(15);
/// How often a relay looks at the stop flag while nothing moves.
const POLL_MS: i32 = 100;

/// What the proxy does to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Pass everything.
    Clean,
    /// Hang up on the daemon after forwarding `at` bytes of the daemon's traffic.
    CutFromClient(u64),
    /// Hang up on the daemon after forwarding `at` bytes of the server's traffic.
    CutFromServer(u64),
    /// Reset the daemon's connection (RST) after `at` bytes of its traffic.
    ResetClient(u64),
    /// Stop moving any byte for `millis` once `at` bytes of the daemon's traffic went through.
    Delay { at: u64, millis: u64 },
    /// Forward the `nth` message's final dot to the server, then hang up on the daemon before
    /// the verdict can come back.
    DropVerdict(u32),
}

impl Fault {
    /// The plan for connection `n` under `seed`: about half the connections are clean.
    pub fn draw(seed: u64, n: u64) -> Fault {
        let mut rng = Xorshift::new(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        match rng.below(20) {
            0..=9 => Fault::Clean,
            10 | 11 => Fault::CutFromClient(rng.below(60_000)),
            12 | 13 => Fault::CutFromServer(rng.below(3_000)),
            14 | 15 => Fault::ResetClient(rng.below(60_000)),
            16 | 17 => Fault::DropVerdict(1 + rng.below(10) as u32),
            _ => Fault::Delay {
                at: rng.below(60_000),
                millis: 300 + rng.below(3_000),
            },
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Fault::Clean => "clean",
            Fault::CutFromClient(_) => "cut (daemon's bytes)",
            Fault::CutFromServer(_) => "cut (server's bytes)",
            Fault::ResetClient(_) => "reset",
            Fault::Delay { .. } => "delay",
            Fault::DropVerdict(_) => "verdict dropped after the dot",
        }
    }
}

/// Counts of what the proxy did.
#[derive(Debug, Default)]
pub struct ChaosStats {
    connections: AtomicU64,
    cuts_client: AtomicU64,
    cuts_server: AtomicU64,
    resets: AtomicU64,
    delays: AtomicU64,
    dropped_verdicts: AtomicU64,
}

impl ChaosStats {
    fn fired(&self, fault: Fault) {
        let counter = match fault {
            Fault::Clean => return,
            Fault::CutFromClient(_) => &self.cuts_client,
            Fault::CutFromServer(_) => &self.cuts_server,
            Fault::ResetClient(_) => &self.resets,
            Fault::Delay { .. } => &self.delays,
            Fault::DropVerdict(_) => &self.dropped_verdicts,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Faults that actually happened (a plan whose byte offset lay past the end of its
    /// connection did nothing and is not counted).
    pub fn injected(&self) -> u64 {
        [
            &self.cuts_client,
            &self.cuts_server,
            &self.resets,
            &self.delays,
            &self.dropped_verdicts,
        ]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum()
    }

    /// The kinds of fault that never happened in this run (empty when every kind fired).
    pub fn kinds_not_fired(&self) -> Vec<&'static str> {
        [
            (&self.cuts_client, Fault::CutFromClient(0)),
            (&self.cuts_server, Fault::CutFromServer(0)),
            (&self.resets, Fault::ResetClient(0)),
            (&self.delays, Fault::Delay { at: 0, millis: 0 }),
            (&self.dropped_verdicts, Fault::DropVerdict(0)),
        ]
        .into_iter()
        .filter(|(count, _)| count.load(Ordering::Relaxed) == 0)
        .map(|(_, fault)| fault.name())
        .collect()
    }

    /// Dropped verdicts that happened.
    pub fn dropped_verdicts(&self) -> u64 {
        self.dropped_verdicts.load(Ordering::Relaxed)
    }

    /// One line for the test's output.
    pub fn summary(&self) -> String {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "{} connections; faults injected: {} ({} cuts of the daemon's bytes, {} cuts of the server's, {} resets, {} delays, {} verdicts dropped after the dot)",
            l(&self.connections),
            self.injected(),
            l(&self.cuts_client),
            l(&self.cuts_server),
            l(&self.resets),
            l(&self.delays),
            l(&self.dropped_verdicts)
        )
    }
}

/// The proxy; stops accepting on drop (relays in progress end with their connections).
pub struct ChaosProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    live: Arc<AtomicUsize>,
    stats: Arc<ChaosStats>,
}

impl ChaosProxy {
    /// Listens on a free loopback port and relays every connection to `upstream`.
    pub fn start(upstream: SocketAddr, seed: u64) -> ChaosProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the proxy");
        let addr = listener.local_addr().expect("local_addr");
        let stop = Arc::new(AtomicBool::new(false));
        let live = Arc::new(AtomicUsize::new(0));
        let stats = Arc::new(ChaosStats::default());
        let (s, l, st) = (stop.clone(), live.clone(), stats.clone());
        std::thread::Builder::new()
            .name("chaos proxy accept".into())
            .spawn(move || accept_loop(listener, upstream, seed, s, l, st))
            .expect("spawn the proxy");
        ChaosProxy {
            addr,
            stop,
            live,
            stats,
        }
    }

    /// `127.0.0.1:PORT`, the host string the daemon should connect to.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// What the proxy did so far.
    pub fn stats(&self) -> &ChaosStats {
        &self.stats
    }

    /// Waits until no relay is running (every server connection has ended); panics after `timeout`.
    pub fn wait_idle(&self, timeout: Duration) {
        crate::wait::wait_for(timeout, "the chaos proxy's connections to end", || {
            self.live.load(Ordering::SeqCst) == 0
        });
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    seed: u64,
    stop: Arc<AtomicBool>,
    live: Arc<AtomicUsize>,
    stats: Arc<ChaosStats>,
) {
    for (n, client) in listener.incoming().enumerate() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let fault = Fault::draw(seed, n as u64);
        stats.connections.fetch_add(1, Ordering::Relaxed);
        live.fetch_add(1, Ordering::SeqCst);
        let (stop, live, stats) = (stop.clone(), live.clone(), stats.clone());
        std::thread::Builder::new()
            .name(format!("chaos relay {n}"))
            .spawn(move || {
                let _ = Relay::run(client, upstream, fault, &stop, &stats);
                live.fetch_sub(1, Ordering::SeqCst);
            })
            .expect("spawn a relay");
    }
}

/// How a relay ended towards the daemon.
enum End {
    /// Both sides finished by themselves.
    Done,
    /// A fault fired: hang up on the daemon (reset: with a RST).
    HangUp { reset: bool },
}

struct Relay {
    fault: Fault,
    fired: bool,
    from_client: u64,
    from_server: u64,
    /// The last bytes from the daemon, to see a final dot across reads.
    tail: Vec<u8>,
    dots: u32,
}

impl Relay {
    fn run(
        client: TcpStream,
        upstream: SocketAddr,
        fault: Fault,
        stop: &AtomicBool,
        stats: &ChaosStats,
    ) -> std::io::Result<()> {
        let server = TcpStream::connect(upstream)?;
        client.set_nodelay(true)?;
        server.set_nodelay(true)?;
        let mut relay = Relay {
            fault,
            fired: false,
            from_client: 0,
            from_server: 0,
            tail: Vec::new(),
            dots: 0,
        };
        let end = relay.pump(&client, &server, stop, stats);
        if let End::HangUp { reset } = end {
            stats.fired(fault);
            if reset {
                set_linger_zero(&client);
            }
            drop(client);
            // Towards the server: end politely and let it finish what it has.
            let _ = server.shutdown(Shutdown::Write);
            drain(&server);
        }
        Ok(())
    }

    /// Moves bytes both ways until both sides are done or a fault ends the relay.
    fn pump(
        &mut self,
        client: &TcpStream,
        server: &TcpStream,
        stop: &AtomicBool,
        stats: &ChaosStats,
    ) -> End {
        let mut buf = vec![0u8; 64 * 1024];
        let mut client_open = true;
        loop {
            if stop.load(Ordering::SeqCst) {
                return End::HangUp { reset: false };
            }
            let mut fds = [
                libc::pollfd {
                    fd: client.as_raw_fd(),
                    events: if client_open { libc::POLLIN } else { 0 },
                    revents: 0,
                },
                libc::pollfd {
                    fd: server.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: two valid pollfds for descriptors owned by the streams.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, POLL_MS) };
            if n <= 0 {
                continue;
            }
            if client_open && fds[0].revents != 0 {
                match (&*client).read(&mut buf) {
                    Ok(0) | Err(_) => {
                        // The daemon hung up: pass the half-close on, then wait for the server.
                        client_open = false;
                        let _ = server.shutdown(Shutdown::Write);
                    }
                    Ok(n) => {
                        if let Some(end) = self.forward_client(&buf[..n], server, stats) {
                            return end;
                        }
                    }
                }
            }
            if fds[1].revents != 0 {
                match (&*server).read(&mut buf) {
                    Ok(0) | Err(_) => return End::Done,
                    Ok(n) => {
                        if let Some(end) = self.forward_server(&buf[..n], client) {
                            return end;
                        }
                    }
                }
            }
        }
    }

    /// Forwards the daemon's bytes, firing the fault when its moment comes.
    fn forward_client(
        &mut self,
        bytes: &[u8],
        server: &TcpStream,
        stats: &ChaosStats,
    ) -> Option<End> {
        let start = self.from_client;
        self.from_client += bytes.len() as u64;
        if !self.fired {
            match self.fault {
                Fault::CutFromClient(at) | Fault::ResetClient(at) if self.from_client > at => {
                    self.fired = true;
                    let _ = (&*server).write_all(&bytes[..(at - start) as usize]);
                    return Some(End::HangUp {
                        reset: matches!(self.fault, Fault::ResetClient(_)),
                    });
                }
                Fault::Delay { at, millis } if self.from_client > at => {
                    self.fired = true;
                    stats.fired(self.fault);
                    std::thread::sleep(Duration::from_millis(millis));
                }
                Fault::DropVerdict(nth) => {
                    if let Some(cut) = self.final_dot_end(bytes, nth) {
                        self.fired = true;
                        let _ = (&*server).write_all(&bytes[..cut]);
                        return Some(End::HangUp { reset: false });
                    }
                }
                _ => {}
            }
        }
        (&*server)
            .write_all(bytes)
            .err()
            .map(|_| End::HangUp { reset: false })
    }

    /// Forwards the server's bytes, firing a cut of them when its moment comes.
    fn forward_server(&mut self, bytes: &[u8], client: &TcpStream) -> Option<End> {
        let start = self.from_server;
        self.from_server += bytes.len() as u64;
        if let (false, Fault::CutFromServer(at)) = (self.fired, self.fault) {
            if self.from_server > at {
                self.fired = true;
                let _ = (&*client).write_all(&bytes[..(at - start) as usize]);
                return Some(End::HangUp { reset: false });
            }
        }
        (&*client).write_all(bytes).err().map(|_| End::Done)
    }

    /// Where, in `bytes`, the `nth` message's final `CRLF . CRLF` ends, if it is here.
    fn final_dot_end(&mut self, bytes: &[u8], nth: u32) -> Option<usize> {
        const END: &[u8] = b"\r\n.\r\n";
        for (i, &b) in bytes.iter().enumerate() {
            self.tail.push(b);
            if self.tail.len() > END.len() {
                self.tail.remove(0);
            }
            if self.tail == END {
                self.dots += 1;
                if self.dots == nth {
                    return Some(i + 1);
                }
            }
        }
        None
    }
}

/// Reads until the server hangs up (or a deadline), discarding what it says.
fn drain(server: &TcpStream) {
    let deadline = Instant::now() + DRAIN_LIMIT;
    let _ = server.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match (&*server).read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return,
        }
    }
}

/// SO_LINGER 0: closing then sends a RST.
fn set_linger_zero(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor and a properly sized option value.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_follow_the_seed_and_mix_every_fault() {
        let plans: Vec<Fault> = (0..400).map(|n| Fault::draw(42, n)).collect();
        assert_eq!(
            plans,
            (0..400).map(|n| Fault::draw(42, n)).collect::<Vec<_>>()
        );
        for name in [
            "clean",
            "cut (daemon's bytes)",
            "cut (server's bytes)",
            "reset",
            "delay",
            "verdict dropped after the dot",
        ] {
            assert!(
                plans.iter().any(|f| f.name() == name),
                "no {name} in 400 plans"
            );
        }
    }

    #[test]
    fn the_final_dot_is_found_across_reads() {
        let mut r = Relay {
            fault: Fault::DropVerdict(2),
            fired: false,
            from_client: 0,
            from_server: 0,
            tail: Vec::new(),
            dots: 0,
        };
        assert_eq!(
            r.final_dot_end(b"DATA\r\nhello\r\n.\r\nMAIL FROM:<a>\r\n", 2),
            None
        );
        assert_eq!(r.final_dot_end(b"x\r\n.", 2), None);
        assert_eq!(r.final_dot_end(b"\r\nQUIT\r\n", 2), Some(2));
    }
}
