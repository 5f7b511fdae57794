//! [`Client`]: one IPC connection to the smtp32d daemon, shared by every
//! SMTP handle opened through it.
//!
//! Requests are written under one mutex (with a reusable encode buffer; a
//! data chunk's bytes go from the caller's buffer to the socket). A
//! caller then reads the stream itself while nobody else does, or waits to
//! be handed its response (see `reader.rs`), in 50 ms steps, running its
//! yield hook between steps. When the daemon goes away the client is dead for good: make a new
//! one.

use crate::callbacks::{HandleEntry, YieldHook};
use crate::error::{unexpected, Error, Result};
use crate::reader::{self, on_reader_thread, Gate};
use crate::request_frame::RequestFrame;
use crate::routing::{Routing, Slot};
use crate::sync::lock;
use interprocess::local_socket::prelude::*;
use interprocess::local_socket::{GenericFilePath, Stream};
use smtp32_protocol::codec::{read_frame, write_frame, MAX_MAX_FRAME_BYTES};
use smtp32_protocol::endpoint::client_socket_path;
use smtp32_protocol::endpoint::trust::{check_socket_path, TrustError, TrustedSocket};
use smtp32_protocol::{
    ClientFrame, DaemonFrame, DaemonStatus, Hello, Request, RequestId, Response, ReturnCode,
    PROTOCOL_VERSION,
};
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the handshake may take before the daemon is declared unusable.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a waiting caller wakes up to yield.
const YIELD_INTERVAL: Duration = Duration::from_millis(50);

/// A connection to the smtp32d daemon. Cheap to clone; all clones share one
/// IPC stream and one reader thread, which stop when the last clone (and the
/// last [`Connection`](crate::Connection) made from it) is dropped.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    stream: Arc<Stream>,
    writer: Mutex<Vec<u8>>,
    routing: Arc<Routing>,
    gate: Arc<Gate>,
    next_id: AtomicU64,
    daemon_version: String,
    max_frame_bytes: u32,
    socket_path: PathBuf,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Wakes the reader thread (it holds the other Arc of the stream).
        shutdown(&self.stream);
    }
}

#[cfg(unix)]
fn shutdown(stream: &Stream) {
    use std::os::fd::{AsFd, AsRawFd};
    #[allow(irrefutable_let_patterns)]
    if let Stream::UdSocket(s) = stream {
        // SAFETY: the descriptor is owned by `stream`, alive for this call.
        unsafe { libc::shutdown(s.as_fd().as_raw_fd(), libc::SHUT_RDWR) };
    }
}

#[cfg(not(unix))]
fn shutdown(_stream: &Stream) {}

/// Checks who listens: the uid the kernel reports for the socket's peer must
/// be one the socket's folder trusts.
#[cfg(unix)]
fn check_daemon(
    trusted: &TrustedSocket,
    _path: &Path,
    stream: &Stream,
) -> std::result::Result<(), TrustError> {
    use interprocess::local_socket::traits::StreamCommon as _;
    trusted.check_daemon(stream.peer_creds().ok().and_then(|c| c.euid()))
}

/// Checks who serves the pipe: the user in the token of the process that
/// `GetNamedPipeServerProcessId` names (see `endpoint::account`).
#[cfg(windows)]
fn check_daemon(
    _trusted: &TrustedSocket,
    path: &Path,
    stream: &Stream,
) -> std::result::Result<(), TrustError> {
    use interprocess::local_socket::traits::StreamCommon as _;
    let server_pid = stream.peer_creds().ok().and_then(|c| c.pid());
    smtp32_protocol::endpoint::account::check_pipe_server(path, server_pid)
}

pub(crate) fn untrusted(e: TrustError) -> Error {
    Error::cannot_initialize(format!("smtp32d socket not trusted: {e}"))
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("socket", &self.inner.socket_path)
            .field("daemon_version", &self.inner.daemon_version)
            .field("alive", &self.is_alive())
            .finish()
    }
}

impl Client {
    /// Connects to the daemon listening on the socket at `path` and performs
    /// the version handshake. Fails with `CannotInitialize` when nothing
    /// listens there or the daemon refuses the handshake.
    pub fn connect(path: impl AsRef<Path>) -> Result<Client> {
        let path = path.as_ref().to_path_buf();
        let unreachable = |e: &dyn std::fmt::Display| {
            Error::cannot_initialize(format!("cannot reach smtp32d at {}: {e}", path.display()))
        };
        // Nothing is sent to a socket that another user could have planted.
        let trusted = check_socket_path(&path).map_err(untrusted)?;
        let name = path
            .clone()
            .to_fs_name::<GenericFilePath>()
            .map_err(|e| unreachable(&e))?;
        let stream = Stream::connect(name).map_err(|e| unreachable(&e))?;
        check_daemon(&trusted, &path, &stream).map_err(untrusted)?;
        let welcome = handshake(&stream).map_err(|e| unreachable(&e))?;
        let stream = Arc::new(stream);
        let routing = Arc::new(Routing::default());
        let gate = Arc::new(Gate::default());
        reader::spawn(stream.clone(), routing.clone(), gate.clone())
            .map_err(|e| unreachable(&e))?;
        Ok(Client {
            inner: Arc::new(Inner {
                stream,
                writer: Mutex::new(Vec::new()),
                routing,
                gate,
                next_id: AtomicU64::new(1),
                daemon_version: welcome.daemon_version,
                // Never more than the protocol allows; never more than the daemon said.
                max_frame_bytes: welcome.max_frame_bytes.min(MAX_MAX_FRAME_BYTES),
                socket_path: path,
            }),
        })
    }

    /// Connects to the daemon at the default socket path: `SMTP32_SOCKET`,
    /// else `$XDG_RUNTIME_DIR/smtp32d.sock`, else the per-user fallback — and
    /// the system daemon's `/run/smtp32d/smtp32d.sock` when the per-user
    /// socket is absent (see [`client_socket_path`]).
    pub fn connect_default() -> Result<Client> {
        Client::connect(client_socket_path())
    }

    /// The daemon's package version, from the handshake.
    pub fn daemon_version(&self) -> &str {
        &self.inner.daemon_version
    }

    /// The socket path this client connected to.
    pub fn socket_path(&self) -> &Path {
        &self.inner.socket_path
    }

    /// The largest frame body the daemon accepts.
    pub fn max_frame_bytes(&self) -> u32 {
        self.inner.max_frame_bytes
    }

    /// The largest message slice sent in one `DataChunk` request.
    pub(crate) fn chunk_limit(&self) -> usize {
        crate::data::chunk_limit(self.inner.max_frame_bytes)
    }

    /// False once the daemon connection is lost; every call then fails with
    /// `CannotInitialize` and a new `Client` is needed.
    pub fn is_alive(&self) -> bool {
        self.inner.routing.dead_reason().is_none()
    }

    /// Sends `payload` to the daemon and waits for it to come back; returns
    /// the round-trip time.
    pub fn ping(&self, payload: &[u8]) -> Result<Duration> {
        let start = Instant::now();
        match self.call(
            Request::Ping {
                payload: payload.to_vec(),
            },
            None,
            None,
        )? {
            Response::Pong { payload: echo } if echo == payload => Ok(start.elapsed()),
            Response::Pong { .. } => Err(Error::new(
                ReturnCode::Failure,
                "ping payload came back altered",
            )),
            other => Err(unexpected(other)),
        }
    }

    /// The daemon's current state (version, uptime, clients, connections).
    pub fn status(&self) -> Result<DaemonStatus> {
        match self.call(Request::Status, None, None)? {
            Response::Status(s) => Ok(*s),
            other => Err(unexpected(other)),
        }
    }

    /// Sends one request and waits for its response, yielding every 50 ms.
    /// `Response::Failed` comes back as `Err`. `opening` is the entry to
    /// attach to the handle an `Open` returns.
    pub(crate) fn call<'a>(
        &self,
        request: impl Into<RequestFrame<'a>>,
        yield_hook: Option<YieldHook>,
        opening: Option<Arc<HandleEntry>>,
    ) -> Result<Response> {
        if on_reader_thread() {
            return Err(Error::new(
                ReturnCode::InProgress,
                "blocking smtp32 call from a callback (it would wait for the thread running the callback)",
            ));
        }
        let slot = Slot::for_this_thread();
        let result = self.call_on(&slot, request.into(), yield_hook, opening);
        Slot::keep(slot);
        result
    }

    /// [`Client::call`], waiting on `slot`.
    fn call_on(
        &self,
        slot: &Arc<Slot>,
        request: RequestFrame<'_>,
        yield_hook: Option<YieldHook>,
        opening: Option<Arc<HandleEntry>>,
    ) -> Result<Response> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let listens = opening.as_ref().is_some_and(|e| e.wants_events());
        self.inner.routing.register(id, slot.clone(), opening)?;
        let gate = &self.inner.gate;
        if listens {
            gate.expect_events();
        }
        gate.enter();
        let _waiting = ExitGuard(gate, id);
        if let Err(e) = self.send(id, request) {
            self.inner.routing.unregister(id);
            return Err(e);
        }
        // One clock read a turn (a call takes one turn unless it waits
        // long): each read is a few percent of a call's instructions. The
        // first turn starts from the reading that set the interval.
        let mut now = Instant::now();
        let mut yield_at = now + YIELD_INTERVAL;
        loop {
            match slot.take() {
                Some(Ok(Response::Failed(f))) => return Err(f.into()),
                Some(Ok(response)) => return Ok(response),
                Some(Err(())) => return Err(self.lost()),
                None => {}
            }
            if now >= yield_at {
                if let Some(hook) = &yield_hook {
                    hook();
                }
                now = Instant::now();
                yield_at = now + YIELD_INTERVAL;
                continue;
            }
            // Read the stream ourselves when nobody else does (see reader.rs).
            let turn = reader::Wait {
                now,
                until: yield_at,
            };
            let turn = gate.take_turn(id, slot, turn, &self.inner.stream, &self.inner.routing);
            // A settled slot is taken next: no need of the time then.
            if !matches!(turn, reader::Turn::Settled) {
                now = Instant::now();
            }
        }
    }

    /// Sends a request without waiting for its response (which the reader drops).
    pub(crate) fn send_only(&self, request: Request) -> Result<()> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.send(id, request.into())
    }

    fn send(&self, id: u64, request: RequestFrame<'_>) -> Result<()> {
        if let Some(reason) = self.inner.routing.dead_reason() {
            return Err(Error::cannot_initialize(reason));
        }
        let mut scratch = lock(&self.inner.writer);
        let payload = request.encode(RequestId(id), self.inner.max_frame_bytes, &mut scratch)?;
        if let Err(e) = write_all_parts(&*self.inner.stream, &scratch, payload) {
            // A partial frame desynchronises the stream: end it, the reader
            // then fails every other waiting call.
            shutdown(&self.inner.stream);
            return Err(Error::cannot_initialize(format!(
                "daemon connection lost: {e}"
            )));
        }
        if scratch.capacity() > 1 << 20 {
            *scratch = Vec::new();
        }
        Ok(())
    }

    fn lost(&self) -> Error {
        let reason = self
            .inner
            .routing
            .dead_reason()
            .unwrap_or_else(|| "daemon connection lost".into());
        Error::cannot_initialize(reason)
    }

    pub(crate) fn routing(&self) -> &Routing {
        &self.inner.routing
    }

    /// Tells the reader thread that traffic copies may come while no call waits.
    pub(crate) fn expect_events(&self) {
        self.inner.gate.expect_events();
    }
}

/// Writes `head`, then `payload`, in one `writev` where the stream has it.
fn write_all_parts(mut w: impl Write, head: &[u8], payload: &[u8]) -> io::Result<()> {
    let mut parts = [IoSlice::new(head), IoSlice::new(payload)];
    let mut parts = &mut parts[..];
    IoSlice::advance_slices(&mut parts, 0);
    while !parts.is_empty() {
        match w.write_vectored(parts) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut parts, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Counts a call out of the gate's waiting callers however it ends.
struct ExitGuard<'a>(&'a Gate, u64);

impl Drop for ExitGuard<'_> {
    fn drop(&mut self) {
        self.0.exit(self.1);
    }
}

/// Sends `Hello` and reads `Welcome` (or `Refused`) within the handshake timeout.
fn handshake(stream: &Stream) -> std::result::Result<smtp32_protocol::Welcome, String> {
    let mut scratch = Vec::new();
    let mut io = stream;
    handshake_timeout(stream, Some(HANDSHAKE_TIMEOUT))?;
    // A daemon that refuses this client (too many clients) may say so and
    // close before the Hello arrives: its reason is still there to read.
    let written = write_frame(&mut io, &hello(), &mut scratch).map_err(|e| e.to_string());
    let answer = read_frame::<_, DaemonFrame>(&mut io, MAX_MAX_FRAME_BYTES, &mut scratch);
    let answer = match (written, answer) {
        (_, Ok(answer)) => answer,
        (Err(write), Err(_)) => return Err(write),
        (Ok(()), Err(read)) => return Err(read.to_string()),
    };
    handshake_timeout(stream, None)?;
    welcome(answer)
}

/// The first frame a client sends (the blocking one and the async one).
pub(crate) fn hello() -> ClientFrame {
    ClientFrame::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        client_name: format!(
            "smtp32 {} (pid {})",
            env!("CARGO_PKG_VERSION"),
            std::process::id()
        ),
    })
}

/// The daemon's answer to [`hello`]: its `Welcome`, or why there is none.
pub(crate) fn welcome(
    answer: DaemonFrame,
) -> std::result::Result<smtp32_protocol::Welcome, String> {
    match answer {
        DaemonFrame::Welcome(w) if w.protocol_version == PROTOCOL_VERSION => Ok(w),
        DaemonFrame::Welcome(w) => Err(format!(
            "protocol version mismatch: daemon speaks {}, this library {PROTOCOL_VERSION}",
            w.protocol_version
        )),
        DaemonFrame::Refused { protocol_version, reason } => Err(format!(
            "daemon refused the handshake (daemon protocol {protocol_version}, ours {PROTOCOL_VERSION}): {reason}"
        )),
        DaemonFrame::ProtocolError { reason } => Err(format!("daemon reported a protocol error: {reason}")),
        other => Err(format!("unexpected first frame from the daemon: {other:?}")),
    }
}

/// Limits how long the handshake's read may wait (`None`: no limit).
#[cfg(unix)]
fn handshake_timeout(stream: &Stream, limit: Option<Duration>) -> std::result::Result<(), String> {
    stream.set_recv_timeout(limit).map_err(|e| e.to_string())
}

/// Named pipes have no read timeout: on Windows the handshake waits for the
/// daemon whose account `check_daemon` has just accepted.
#[cfg(windows)]
fn handshake_timeout(_: &Stream, _: Option<Duration>) -> std::result::Result<(), String> {
    Ok(())
}
