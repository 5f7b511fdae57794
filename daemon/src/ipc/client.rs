//! One task per IPC client: the handshake, a single reader loop, a single
//! writer task, and cleanup when the client goes away.
//!
//! The reader decodes frames and spawns one task per request, so an
//! `XQuit` is served while another request of the same client is in flight;
//! at most [`MAX_REQUESTS_IN_FLIGHT`] run at once, after which the reader
//! stops reading (backpressure instead of unbounded memory), though it
//! still notices the client hanging up and then cancels its work at once. Every outbound
//! frame — responses and events pushed by session actors — goes through one
//! bounded queue to the writer, which keeps per-handle order. Memory per
//! client is bounded in bytes too: request frames over 64 KiB share a budget
//! of 16 MiB in flight (small ones, `XQuit` among them, never wait for it), and
//! traffic copies one of [`COPY_BUDGET_BYTES`](crate::session::tap::COPY_BUDGET_BYTES)
//! queued (see `session::tap`).

use super::router::Router;
use crate::logging::ERROR_TARGET;
use crate::peer::Peer;
use crate::session::messages::Close;
use crate::session::tap::CopyBudget;
use crate::state::DaemonState;
use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::StreamCommon as _;
use smtp32_protocol::codec::{append_frame, read_frame_async, CodecError};
use tokio::io::{AsyncWriteExt, BufReader};
use smtp32_protocol::{ClientFrame, DaemonFrame, Event, Welcome, PROTOCOL_VERSION};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// Frames queued for one client before producers wait (responses) or drop (debug copies).
pub const OUTBOUND_QUEUE_FRAMES: usize = 1024;
/// Requests of one client served concurrently.
pub const MAX_REQUESTS_IN_FLIGHT: usize = 256;
/// Read buffer of a client's stream.
const IPC_READ_BUFFER_BYTES: usize = 16 * 1024;
/// Queued frames are gathered into one write up to this many bytes.
const WRITE_BATCH_BYTES: usize = 64 * 1024;
/// The write buffer is freed after a frame larger than this.
const KEPT_WRITE_BUFFER_BYTES: usize = 1 << 20;
/// Time a new client has to send its `Hello`.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a reader that waits for a free request slot checks whether its client hung up.
const HANGUP_CHECK: Duration = Duration::from_millis(100);
/// Request frames up to this size need only a slot; larger ones also take their size from
/// [`LARGE_REQUEST_BYTES_IN_FLIGHT`]. The reader's buffer shrinks back to it after a larger frame.
const SMALL_FRAME_BYTES: usize = 64 * 1024;
/// Bytes of large request frames (DATA chunks, whole messages) of one client in flight at
/// once; at least one largest frame.
const LARGE_REQUEST_BYTES_IN_FLIGHT: usize = 16 << 20;

/// Serves one client until it disconnects, breaks the protocol or the daemon stops.
pub async fn serve(stream: Stream, state: Arc<DaemonState>) {
    let id = state.client_connected();
    let peer = match stream.peer_creds() {
        Ok(c) => Peer {
            pid: c.pid().and_then(|p| u32::try_from(p).ok()),
            uid: c.euid(),
            gid: c.egid(),
        },
        Err(_) => Peer::default(),
    };
    debug!(client = id.0, pid = ?peer.pid, uid = ?peer.uid, "client connected");
    let stream = Rc::new(stream);
    let (out, rx) = mpsc::channel(OUTBOUND_QUEUE_FRAMES);
    let done = CancellationToken::new();
    let copies = Arc::new(CopyBudget::default());
    let writer = actix_rt::spawn(write_loop(stream.clone(), rx, done.clone(), copies.clone()));

    let max = state.settings().max_frame_bytes;
    // Buffered: a frame's prefix and body (and often the next frames) come in one read.
    let mut reader = BufReader::with_capacity(IPC_READ_BUFFER_BYTES, &*stream);
    let mut scratch = Vec::new();
    match handshake(&mut reader, max, &mut scratch, &state).await {
        Ok(welcome) => {
            let _ = out.send(DaemonFrame::Welcome(welcome)).await;
            let router = Rc::new(Router::new(state.clone(), id, peer, out.clone()).with_copy_budget(copies));
            let stop = state.lifecycle.stop_token();
            tokio::select! {
                _ = read_loop(&mut reader, max, &mut scratch, router, &out) => {}
                _ = stop.cancelled() => {}
            }
        }
        Err(frame) => {
            let _ = out.send(frame).await;
        }
    }

    // The client is gone (or will be once the last frame is flushed): close
    // every connection it left open, politely where the server is idle.
    for session in state.registry.remove_client(id) {
        session.do_send(Close);
    }
    // Session actors may still hold senders; the writer flushes what is
    // queued now and ends, which closes the stream.
    drop(out);
    done.cancel();
    let _ = writer.await;
    state.client_disconnected();
    debug!(client = id.0, "client disconnected");
}

/// Reads the `Hello`; returns the `Welcome` to send, or the frame that refuses.
async fn handshake(
    reader: &mut BufReader<&Stream>,
    max: u32,
    scratch: &mut Vec<u8>,
    state: &DaemonState,
) -> Result<Welcome, DaemonFrame> {
    let refuse = |reason: String| DaemonFrame::Refused { protocol_version: PROTOCOL_VERSION, reason };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, read_frame_async::<_, ClientFrame>(reader, max, scratch)).await {
        Err(_) => Err(refuse("no Hello within the handshake timeout".into())),
        Ok(Ok(ClientFrame::Hello(hello))) if hello.protocol_version == PROTOCOL_VERSION => {
            debug!(client_name = %hello.client_name, "handshake");
            Ok(Welcome {
                protocol_version: PROTOCOL_VERSION,
                daemon_version: env!("CARGO_PKG_VERSION").into(),
                max_frame_bytes: state.settings().max_frame_bytes,
            })
        }
        Ok(Ok(ClientFrame::Hello(hello))) => Err(refuse(format!(
            "protocol version mismatch: client speaks {}, daemon speaks {PROTOCOL_VERSION}",
            hello.protocol_version
        ))),
        Ok(Ok(ClientFrame::Request { .. })) => {
            Err(DaemonFrame::ProtocolError { reason: "the first frame must be Hello".into() })
        }
        Ok(Err(e)) => Err(DaemonFrame::ProtocolError { reason: format!("bad handshake frame: {e}") }),
    }
}

async fn read_loop(
    reader: &mut BufReader<&Stream>,
    max: u32,
    scratch: &mut Vec<u8>,
    router: Rc<Router>,
    out: &mpsc::Sender<DaemonFrame>,
) {
    let permits = Arc::new(Semaphore::new(MAX_REQUESTS_IN_FLIGHT));
    let large_bytes = Arc::new(Semaphore::new(LARGE_REQUEST_BYTES_IN_FLIGHT.max(max as usize)));
    loop {
        let frame = match read_frame_async::<_, ClientFrame>(reader, max, scratch).await {
            Ok(frame) => frame,
            Err(e) if e.is_disconnect() => return,
            Err(e) => return protocol_error(out, e).await,
        };
        let (id, request) = match frame {
            ClientFrame::Request { id, request } => (id, request),
            ClientFrame::Hello(_) => {
                let _ = out.send(DaemonFrame::ProtocolError { reason: "Hello sent twice".into() }).await;
                return;
            }
        };
        let size = scratch.len();
        if scratch.capacity() > SMALL_FRAME_BYTES {
            // Do not keep a frame-sized buffer for the client's lifetime.
            *scratch = Vec::new();
        }
        let Some(permit) = acquire(&permits, 1, reader.get_ref()).await else { return };
        let large = match size {
            n if n > SMALL_FRAME_BYTES => match acquire(&large_bytes, n, reader.get_ref()).await {
                Some(p) => Some(p),
                None => return,
            },
            _ => None,
        };
        let router = router.clone();
        actix_rt::spawn(async move {
            router.serve(id, request).await;
            drop((permit, large));
        });
    }
}

/// Takes `n` permits of `semaphore` for a request. While they are busy the reader stops
/// reading (backpressure), so it would not see the client hang up until they free, which may
/// be a whole timeout away: it looks for the hang-up itself meanwhile, so a dead client's work
/// is cancelled at once (`None`).
async fn acquire(semaphore: &Arc<Semaphore>, n: usize, reader: &Stream) -> Option<tokio::sync::OwnedSemaphorePermit> {
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    loop {
        tokio::select! {
            permit = semaphore.clone().acquire_many_owned(n) => return permit.ok(),
            _ = tokio::time::sleep(HANGUP_CHECK) => {
                if peer_hung_up(reader) {
                    return None;
                }
            }
        }
    }
}

/// True when the client has closed its end (or the socket failed), whatever is still unread.
fn peer_hung_up(stream: &Stream) -> bool {
    use std::os::fd::{AsFd, AsRawFd};
    #[allow(irrefutable_let_patterns)]
    let Stream::UdSocket(s) = stream
    else {
        return false;
    };
    let mut fd = libc::pollfd { fd: s.inner().as_fd().as_raw_fd(), events: libc::POLLRDHUP, revents: 0 };
    // SAFETY: one valid pollfd for a descriptor the stream owns; timeout 0, so it never blocks.
    let n = unsafe { libc::poll(&mut fd, 1, 0) };
    n > 0 && fd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}

async fn protocol_error(out: &mpsc::Sender<DaemonFrame>, e: CodecError) {
    warn!(target: ERROR_TARGET, "client broke the protocol: {e}");
    let _ = out.send(DaemonFrame::ProtocolError { reason: e.to_string() }).await;
}

/// Writes queued frames in order, as many as are queued (up to
/// [`WRITE_BATCH_BYTES`]) in one write; once `done` fires it flushes what is
/// already queued and returns.
async fn write_loop(stream: Rc<Stream>, mut rx: mpsc::Receiver<DaemonFrame>, done: CancellationToken, copies: Arc<CopyBudget>) {
    let mut writer = &*stream;
    let mut out = Vec::new();
    loop {
        let frame = tokio::select! {
            biased;
            frame = rx.recv() => match frame {
                Some(frame) => frame,
                None => return,
            },
            _ = done.cancelled() => break,
        };
        out.clear();
        // Traffic copies in this write: their bytes go back to the budget once written.
        let mut copy_bytes = copy_len(&frame);
        // A frame that cannot be encoded ends the stream (as a failed write
        // does): dropping it would leave its caller waiting for ever.
        if append_frame(&frame, &mut out).is_err() {
            return;
        }
        while out.len() < WRITE_BATCH_BYTES {
            match rx.try_recv() {
                Ok(frame) => {
                    copy_bytes += copy_len(&frame);
                    if append_frame(&frame, &mut out).is_err() {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        if writer.write_all(&out).await.is_err() {
            return;
        }
        copies.release(copy_bytes);
        if out.capacity() > KEPT_WRITE_BUFFER_BYTES {
            out = Vec::new();
        }
    }
    out.clear();
    while let Ok(frame) = rx.try_recv() {
        if append_frame(&frame, &mut out).is_err() {
            break;
        }
    }
    let _ = writer.write_all(&out).await;
}

/// The bytes a frame holds against the client's copy budget: a traffic copy's, else none.
fn copy_len(frame: &DaemonFrame) -> usize {
    match frame {
        DaemonFrame::Event(Event::Traffic { bytes, .. }) => bytes.len(),
        _ => 0,
    }
}
