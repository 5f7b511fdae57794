//! One task per IPC client: the handshake, a single reader loop, a single
//! writer task, and cleanup when the client goes away.
//!
//! The reader decodes frames and hands each request to the router, which
//! returns at once (the request waits in its session or on a task of its
//! own), so an `XQuit` is served while another request of the same client
//! is in flight; at most
//! [`MAX_REQUESTS_IN_FLIGHT`](crate::budget::MAX_REQUESTS_IN_FLIGHT) are in
//! flight at once.
//! Every outbound frame — responses and events pushed by session actors —
//! goes through the client's outlet ([`super::outlet`]): queued for the
//! writer, or a response written at once when nothing is queued, so the
//! order the frames were handed over in is kept.
//!
//! What a client costs the daemon is bounded in bytes and in time:
//! - its requests while served and its responses and copies waiting to be
//!   written count against one [`ClientBudget`] of `client_queue_bytes`, which
//!   also draws on its user's `user_queue_bytes`; over either, the reader
//!   takes no further large request (it still notices the
//!   client hanging up and then cancels its work at once);
//! - a frame's buffer grows as its bytes arrive, and a frame begun must be
//!   complete within `client_stall_timeout`;
//! - a client that reads nothing for `client_stall_timeout` while responses
//!   wait for it is disconnected, its connections closed as if it had died;
//! - `max_clients` and `max_clients_per_user` limit how many are connected.

use super::outlet::Outlet;
use super::responder::Hold;
use super::router::Router;
use super::stream_reads::StreamReads;
use crate::budget::{charge_of, ClientBudget, RequestSlot, SMALL_REQUEST_BYTES};
use crate::logging::ERROR_TARGET;
use crate::platform::{peer_hung_up, peer_of};
use crate::seats::{Seat, SeatLimits};
use crate::session::messages::Close;
use crate::state::DaemonState;
use interprocess::local_socket::tokio::Stream;
use smtp32_protocol::codec::{append_frame, CodecError, FrameDecoder};
use smtp32_protocol::{ClientFrame, DaemonFrame, Welcome, PROTOCOL_VERSION};
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// Frames queued for one client before producers wait (responses) or drop (debug copies).
pub const OUTBOUND_QUEUE_FRAMES: usize = 1024;
/// Queued frames are gathered into one write up to this many bytes.
const WRITE_BATCH_BYTES: usize = 64 * 1024;
/// The write buffer is freed after a frame larger than this.
const KEPT_WRITE_BUFFER_BYTES: usize = 1 << 20;
/// Time a new client has to send its `Hello`.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a reader that waits for room checks whether its client hung up.
const HANGUP_CHECK: Duration = Duration::from_millis(100);
/// The reader's buffer shrinks back after a frame larger than this.
const KEPT_FRAME_BUFFER_BYTES: usize = 64 * 1024;

/// Serves one client until it disconnects, breaks the protocol, stalls or the daemon stops.
pub async fn serve(stream: Stream, state: Arc<DaemonState>) {
    let id = state.next_client_id();
    let peer = peer_of(&stream);
    debug!(client = id.0, pid = ?peer.pid, uid = ?peer.uid, "client connected");
    let settings = state.settings();
    let stall = Duration::from_secs(settings.client_stall_timeout.into());
    let stream = Rc::new(stream);
    let (out, rx) = mpsc::channel(OUTBOUND_QUEUE_FRAMES);
    let done = CancellationToken::new();
    // Fires when the client stalls, and when the daemon stops: the reader
    // then waits on one token, not two, every time it is polled.
    let stop = state.lifecycle.stop_token();
    let stalled = stop.child_token();
    let limits = SeatLimits {
        total: settings.max_clients,
        per_user: settings.max_clients_per_user,
        user_bytes: settings.user_queue_bytes as usize,
    };
    let seat = state.seats.take(peer.limited_uid(), limits);
    let user_budget = seat.as_ref().ok().and_then(Seat::user_budget);
    let budget = Arc::new(ClientBudget::new(
        settings.client_queue_bytes as usize,
        user_budget,
    ));
    let outlet = Rc::new(Outlet::new(
        stream.clone(),
        out.clone(),
        budget.clone(),
        stall,
        stalled.clone(),
    ));
    let writer = actix_rt::spawn(Writer(outlet.clone()).run(rx, done.clone()));

    // One read brings a frame's prefix and body, and often the frames after it.
    let mut frames = Frames {
        stream: StreamReads(&stream),
        decoder: FrameDecoder::new(settings.max_frame_bytes).keeping(KEPT_FRAME_BUFFER_BYTES),
        stall,
        budget: &budget,
    };
    let welcome = match seat {
        Ok(_) => handshake(&mut frames, &state).await,
        Err(ref reason) => {
            warn!(target: ERROR_TARGET, uid = ?peer.uid, "client refused: {reason}");
            Err(DaemonFrame::Refused {
                protocol_version: PROTOCOL_VERSION,
                reason: reason.clone(),
            })
        }
    };
    match welcome {
        Ok(welcome) => {
            let _ = out.send(DaemonFrame::Welcome(welcome)).await;
            let router = Rc::new(Router::new(
                state.clone(),
                id,
                peer,
                out.clone(),
                budget.clone(),
            ));
            let _written_at_once = outlet.register(id);
            tokio::select! {
                _ = read_loop(&mut frames, router, &out) => {}
                _ = stalled.cancelled() => if !stop.is_cancelled() {
                    let secs = stall.as_secs();
                    warn!(target: ERROR_TARGET, client = id.0, uid = ?peer.uid,
                        "client read nothing for {secs} s while responses waited: disconnected");
                }
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
    drop(seat);
    debug!(client = id.0, "client disconnected");
}

/// Reads the `Hello`; returns the `Welcome` to send, or the frame that refuses.
async fn handshake(frames: &mut Frames<'_>, state: &DaemonState) -> Result<Welcome, DaemonFrame> {
    let refuse = |reason: String| DaemonFrame::Refused {
        protocol_version: PROTOCOL_VERSION,
        reason,
    };
    // The `Hello`, read without a budget.
    let hello = frames.decoder.next_frame_async(&mut frames.stream);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, hello).await {
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
        Ok(Ok(ClientFrame::Request { .. })) => Err(DaemonFrame::ProtocolError {
            reason: "the first frame must be Hello".into(),
        }),
        Ok(Err(e)) => Err(DaemonFrame::ProtocolError {
            reason: format!("bad handshake frame: {e}"),
        }),
    }
}

/// What the reader reads with: the stream, the decoder its bytes go into,
/// how long a frame begun may take and the client's budget.
struct Frames<'a> {
    stream: StreamReads<'a>,
    decoder: FrameDecoder,
    stall: Duration,
    budget: &'a Arc<ClientBudget>,
}

/// Why the reader stopped reading.
enum Stop {
    /// The client closed or cut the stream, or hung up while the reader waited.
    Gone,
    /// It broke the protocol (answered with `ProtocolError`).
    Broken(CodecError),
    /// A frame it began did not arrive in full within the stall timeout.
    Stalled,
}

impl Frames<'_> {
    /// The next request frame, its body's bytes charged to the budget (the
    /// caller releases them once the request is served). Waits, without a
    /// time limit, for a frame to begin and for room in the budget; a frame
    /// begun must then arrive within the stall timeout. Frames already read
    /// (one read often brings several) are taken without a wait or a timer.
    async fn next(&mut self) -> Result<(ClientFrame, usize), Stop> {
        while self.decoder.buffered() == 0 {
            self.read().await?;
        }
        // Set at the first wait for the rest of the frame.
        let mut deadline = None;
        let len = loop {
            match self.decoder.announced() {
                Ok(Some(len)) => break len,
                Ok(None) => self.read_by(&mut deadline).await?,
                Err(e) => return Err(Stop::Broken(e)),
            }
        };
        if len <= SMALL_REQUEST_BYTES {
            self.budget.charge(len);
        } else {
            // Backpressure: no more of the body is read until it has room.
            let room = self.budget.charge_when_room(len);
            if until_hangup(room, self.stream.stream()).await.is_none() {
                return Err(Stop::Gone);
            }
            // The wait for room is the daemon's, not the client's.
            deadline = None;
        }
        let frame = loop {
            match self.decoder.parse_client_frame() {
                Ok(Some(frame)) => break Ok(frame),
                Ok(None) => {
                    if let Err(stop) = self.read_by(&mut deadline).await {
                        break Err(stop);
                    }
                }
                Err(e) => break Err(Stop::Broken(e)),
            }
        };
        match frame {
            Ok(frame) => Ok((frame, len)),
            Err(stop) => {
                self.budget.release(len);
                Err(stop)
            }
        }
    }

    /// One read; the client closing or cutting the stream is `Gone`.
    async fn read(&mut self) -> Result<(), Stop> {
        match self.decoder.read_from_async(&mut self.stream).await {
            Ok(_) => Ok(()),
            Err(_) => Err(Stop::Gone),
        }
    }

    /// One read that must come by `deadline` (set to the stall timeout from
    /// now when it is not set yet).
    async fn read_by(&mut self, deadline: &mut Option<Instant>) -> Result<(), Stop> {
        let by = *deadline.get_or_insert_with(|| Instant::now() + self.stall);
        match tokio::time::timeout_at(by, self.read()).await {
            Ok(read) => read,
            Err(_) => Err(Stop::Stalled),
        }
    }
}

async fn read_loop(frames: &mut Frames<'_>, router: Rc<Router>, out: &mpsc::Sender<DaemonFrame>) {
    let budget = frames.budget.clone();
    loop {
        let (frame, charged) = match frames.next().await {
            Ok(next) => next,
            Err(Stop::Gone) => return,
            Err(Stop::Broken(e)) => return protocol_error(out, e).await,
            Err(Stop::Stalled) => {
                let secs = frames.stall.as_secs();
                warn!(target: ERROR_TARGET, "client began a frame and did not finish it within {secs} s: disconnected");
                return;
            }
        };
        let (id, request) = match frame {
            ClientFrame::Request { id, request } => (id, request),
            ClientFrame::Hello(_) => {
                budget.release(charged);
                let _ = out
                    .send(DaemonFrame::ProtocolError {
                        reason: "Hello sent twice".into(),
                    })
                    .await;
                return;
            }
        };
        let Some(slot) = request_slot(&budget, frames.stream.stream()).await else {
            budget.release(charged);
            return;
        };
        router.dispatch(id, request, Hold::with_slot(slot, charged));
    }
}

/// A slot for one more request in flight: at once when one is free (the
/// common case, with no wait set up), else when one frees; `None` when the
/// client hung up meanwhile.
async fn request_slot(budget: &Arc<ClientBudget>, stream: &Stream) -> Option<RequestSlot> {
    match budget.try_request_slot() {
        Some(slot) => Some(slot),
        None => until_hangup(budget.request_slot(), stream).await,
    }
}

/// Runs `wait` (a wait for room: request slots, budget bytes). While it waits
/// the reader reads nothing (backpressure), so it would not see the client
/// hang up until room frees, which may be a whole timeout away: it looks for
/// the hang-up itself meanwhile, so a dead client's work is cancelled at once
/// (`None`).
async fn until_hangup<T>(wait: impl Future<Output = T>, stream: &Stream) -> Option<T> {
    tokio::pin!(wait);
    loop {
        tokio::select! {
            // `wait` first: when there is room at once (the common case) no
            // timer is set.
            biased;
            done = &mut wait => return Some(done),
            _ = tokio::time::sleep(HANGUP_CHECK) => {
                if peer_hung_up(stream) {
                    return None;
                }
            }
        }
    }
}

async fn protocol_error(out: &mpsc::Sender<DaemonFrame>, e: CodecError) {
    warn!(target: ERROR_TARGET, "client broke the protocol: {e}");
    let _ = out
        .send(DaemonFrame::ProtocolError {
            reason: e.to_string(),
        })
        .await;
}

/// The client's writer task, writing through its outlet.
struct Writer(Rc<Outlet>);

impl Writer {
    /// Writes queued frames in order, as many as are queued (up to
    /// [`WRITE_BATCH_BYTES`]) in one write; once `done` fires it flushes what is
    /// already queued and returns. A write that makes no progress for the
    /// stall timeout ends the client (the outlet's `stalled`).
    async fn run(self, mut rx: mpsc::Receiver<DaemonFrame>, done: CancellationToken) {
        let outlet = &self.0;
        let mut out = Vec::new();
        // Made once: a new one per frame registered with the token each time.
        let done = done.cancelled();
        tokio::pin!(done);
        loop {
            let frame = tokio::select! {
                biased;
                frame = rx.recv() => match frame {
                    Some(frame) => frame,
                    None => return,
                },
                _ = &mut done => break,
            };
            out.clear();
            // Bytes these frames hold against the budget, given back once written.
            let mut charged = charge_of(&frame);
            // A frame that cannot be encoded ends the stream (as a failed write
            // does): dropping it would leave its caller waiting for ever.
            if append_frame(&frame, &mut out).is_err() {
                return;
            }
            while out.len() < WRITE_BATCH_BYTES {
                match rx.try_recv() {
                    Ok(frame) => {
                        charged += charge_of(&frame);
                        if append_frame(&frame, &mut out).is_err() {
                            return;
                        }
                    }
                    Err(_) => break,
                }
            }
            if !outlet.write(&out).await {
                return;
            }
            outlet.budget().release(charged);
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
        let _ = outlet.write(&out).await;
    }
}
