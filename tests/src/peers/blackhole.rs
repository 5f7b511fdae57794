//! A loopback address that swallows TCP connects: a listener that never accepts, whose accept
//! queue is full.
//!
//! The tests may only ever target loopback addresses, so "a host that drops packets" is made
//! locally: a socket listens with a backlog of 0 and is never accepted from; the fixture fills
//! its accept queue itself. Linux then drops every further SYN to that port (it does not answer
//! with a RST while `tcp_abort_on_overflow` is 0, the default), so a connect there stalls in
//! SYN retransmissions exactly like a connect to a host that drops packets.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// How long a filler connect may take before the queue counts as full.
const FULL_AFTER: Duration = Duration::from_millis(300);

/// A listening port whose accept queue is full; closed on drop.
pub struct BlackHole {
    _listener: OwnedFd,
    _fillers: Vec<TcpStream>,
    addr: SocketAddr,
}

impl BlackHole {
    /// Listens on a free loopback port with backlog 0 and fills its accept queue; panics if
    /// the queue does not fill (then connects would not stall and the test would prove nothing).
    pub fn start() -> BlackHole {
        // SAFETY: plain socket calls on a descriptor we own; the sockaddr is fully initialised.
        let (listener, addr) = unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let listener = OwnedFd::from_raw_fd(fd);
            let mut sa: libc::sockaddr_in = std::mem::zeroed();
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_addr.s_addr = u32::from(Ipv4Addr::LOCALHOST).to_be();
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let rc = libc::bind(fd, (&sa as *const libc::sockaddr_in).cast(), len);
            assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
            assert_eq!(
                libc::listen(fd, 0),
                0,
                "listen: {}",
                std::io::Error::last_os_error()
            );
            let mut got: libc::sockaddr_in = std::mem::zeroed();
            let mut got_len = len;
            let rc = libc::getsockname(
                fd,
                (&mut got as *mut libc::sockaddr_in).cast(),
                &mut got_len,
            );
            assert_eq!(rc, 0, "getsockname: {}", std::io::Error::last_os_error());
            let addr = SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::LOCALHOST,
                u16::from_be(got.sin_port),
            ));
            (listener, addr)
        };
        let mut fillers = Vec::new();
        for _ in 0..16 {
            match TcpStream::connect_timeout(&addr, FULL_AFTER) {
                Ok(s) => fillers.push(s),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    return BlackHole {
                        _listener: listener,
                        _fillers: fillers,
                        addr,
                    };
                }
                Err(e) => panic!("filling the accept queue of {addr}: {e}"),
            }
        }
        panic!("the accept queue of {addr} (backlog 0) did not fill after 16 connects");
    }

    /// `127.0.0.1:PORT`, the host string for `smtp_helo`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The listening socket's descriptor (for diagnostics).
    pub fn fd(&self) -> i32 {
        self._listener.as_raw_fd()
    }
}
