//! The async client's daemon connection: the calls pipelined on it, and the
//! reader task that routes the daemon's answers to them.
//!
//! A call encodes its request, registers a oneshot channel under the
//! request id and writes the frame (or queues it, see `writer.rs`), all
//! without awaiting; then it awaits its response. The reader task decodes the daemon's
//! stream with the codec's [`FrameDecoder`] and routes each frame (responses
//! by request id, events by handle) with the blocking client's routing. So
//! a thousand calls in flight cost a thousand map entries, no thread each.
//!
//! Cancel on drop: a call's future dropped before its response came sends
//! `XQuit` for its handle (written or queued at once, no await needed), so the daemon
//! stops the operation; the handle is then aborted. An `Open` dropped before
//! its `Opened` came is closed with `XQuit` when that arrives (for a
//! synchronous open, once the connect has ended: the handle is not known
//! before).

use super::writer::FrameWriter;
use crate::callbacks::HandleEntry;
use crate::error::{Error, Result};
use crate::request_frame::RequestFrame;
use crate::routing::{route_frame, Routing, Waiter};
use crate::sync::lock;
use smtp32_protocol::codec::FrameDecoder;
use smtp32_protocol::{DaemonFrame, Handle, Request, RequestId, Response, ReturnCode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::oneshot;

/// Where requests go: encoded and written (or queued) by the caller.
#[derive(Clone)]
pub(crate) struct Outbox(Arc<OutboxInner>);

struct OutboxInner {
    writer: FrameWriter,
    next_id: AtomicU64,
    max_frame_bytes: u32,
}

impl Outbox {
    /// Encodes `request` under `id` and writes it (see `writer.rs`).
    fn send(&self, id: u64, request: RequestFrame<'_>) -> Result<()> {
        let mut head = Vec::new();
        let payload = request.encode(RequestId(id), self.0.max_frame_bytes, &mut head)?;
        self.0
            .writer
            .send(&head, payload)
            .map_err(Error::cannot_initialize)
    }

    fn next_id(&self) -> u64 {
        self.0.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Queues `XQuit` for `handle`; nobody waits for its answer.
    pub(crate) fn xquit(&self, handle: Handle) {
        let _ = self.send(self.next_id(), Request::XQuit { handle }.into());
    }
}

/// Where one async call's response lands.
pub(crate) struct ResponseSlot {
    tx: Mutex<Option<oneshot::Sender<Response>>>,
    /// For an `Open`: closes the handle it brings if its caller is gone.
    orphan_closer: Option<Outbox>,
}

impl Waiter for ResponseSlot {
    fn fill(&self, response: Response) -> bool {
        let Some(tx) = lock(&self.tx).take() else {
            return false;
        };
        match tx.send(response) {
            Ok(()) => true,
            Err(Response::Opened { handle }) => {
                if let Some(outbox) = &self.orphan_closer {
                    outbox.xquit(handle);
                }
                false
            }
            Err(_) => false,
        }
    }

    fn kill(&self) {
        lock(&self.tx).take();
    }
}

/// One IPC connection to the daemon, shared by an [`AsyncClient`](super::AsyncClient)'s clones
/// and its connections. The tasks end when the last of them is dropped.
pub(crate) struct Link {
    outbox: Outbox,
    routing: Arc<Routing<ResponseSlot>>,
}

/// What a call is about, for cancelling it when its future is dropped.
pub(crate) enum Target<'a> {
    /// Not a handle's operation (ping, status, admin).
    Daemon,
    /// An `Open`: the entry moves to the handle the response brings.
    Opening(Arc<HandleEntry>),
    /// An operation on a handle: dropped, it is cancelled with `XQuit`.
    Handle(Handle, &'a Arc<HandleEntry>),
}

impl Link {
    /// Starts the writer and reader tasks on the current runtime. `decoder`
    /// holds whatever the handshake read past the `Welcome`.
    pub(crate) fn start(
        reader: OwnedReadHalf,
        writer: OwnedWriteHalf,
        decoder: FrameDecoder,
        max_frame_bytes: u32,
    ) -> Link {
        let routing = Arc::new(Routing::default());
        let writer = FrameWriter::start(writer, routing.clone());
        tokio::spawn(read_loop(reader, decoder, routing.clone()));
        let outbox = Outbox(Arc::new(OutboxInner {
            writer,
            next_id: AtomicU64::new(1),
            max_frame_bytes,
        }));
        Link { outbox, routing }
    }

    /// The reason the connection died, if it did.
    pub(crate) fn dead_reason(&self) -> Option<String> {
        self.routing.dead_reason()
    }

    pub(crate) fn routing(&self) -> &Routing<ResponseSlot> {
        &self.routing
    }

    /// Sends one request and awaits its response; `Response::Failed` comes
    /// back as `Err`. Dropping the future cancels as the module docs say.
    pub(crate) async fn call(
        &self,
        request: impl Into<RequestFrame<'_>>,
        target: Target<'_>,
    ) -> Result<Response> {
        let id = self.outbox.next_id();
        let (tx, rx) = oneshot::channel();
        let (opening, cancel) = match target {
            Target::Daemon => (None, None),
            Target::Opening(entry) => (Some(entry), None),
            Target::Handle(handle, entry) => (None, Some((handle, entry))),
        };
        let orphan_closer = opening.is_some().then(|| self.outbox.clone());
        let slot = Arc::new(ResponseSlot {
            tx: Mutex::new(Some(tx)),
            orphan_closer,
        });
        self.routing.register(id, slot, opening)?;
        if let Err(e) = self.outbox.send(id, request.into()) {
            self.routing.unregister(id);
            return Err(e);
        }
        let mut guard = CancelOnDrop {
            link: self,
            id,
            handle: cancel,
        };
        let response = rx.await;
        guard.handle = None;
        match response {
            Ok(Response::Failed(f)) => Err(f.into()),
            Ok(response) => Ok(response),
            Err(_) => Err(self.lost()),
        }
    }

    /// The error for a call that lost the daemon connection.
    pub(crate) fn lost(&self) -> Error {
        Error::cannot_initialize(
            self.dead_reason()
                .unwrap_or_else(|| "daemon connection lost".into()),
        )
    }
}

/// Cancels a handle's operation whose future was dropped before its response.
struct CancelOnDrop<'a> {
    link: &'a Link,
    id: u64,
    /// `None` once the response came (or for calls that are no operation).
    handle: Option<(Handle, &'a Arc<HandleEntry>)>,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        let Some((handle, entry)) = self.handle.take() else {
            return;
        };
        entry.mark_aborted();
        self.link.routing.unregister(self.id);
        self.link.outbox.xquit(handle);
        self.link.routing.forget(handle);
    }
}

/// The error for a call on a handle that an earlier dropped call aborted.
pub(crate) fn aborted() -> Error {
    Error::new(
        ReturnCode::Aborted,
        "the handle was aborted: a call on it was cancelled (its future dropped)",
    )
}

/// Decodes the daemon's stream and routes every frame until it ends.
async fn read_loop(
    mut reader: OwnedReadHalf,
    mut decoder: FrameDecoder,
    routing: Arc<Routing<ResponseSlot>>,
) {
    let reason = loop {
        match decoder
            .next_frame_async::<_, DaemonFrame>(&mut reader)
            .await
        {
            Ok(frame) => {
                if let Err(reason) = route_frame(&routing, frame) {
                    break reason;
                }
            }
            Err(e) => break e.to_string(),
        }
    };
    routing.kill(&format!("daemon connection lost: {reason}"));
}
