//! Writing frames to the daemon: at once from the calling task when the
//! socket takes them, else by a flush task.
//!
//! A call writes its frame itself (a non-blocking `try_write`, under the
//! writer's lock) when nothing is queued: a lone request costs no task
//! switch. What the socket does not take is queued, and the flush task writes
//! the queue as the socket drains; frames that calls send meanwhile join the
//! queue, so they go out in order and several per write. Nobody ever awaits
//! inside `send`: a call dropped right after sending leaves a whole frame.

use super::link::ResponseSlot;
use crate::routing::Routing;
use crate::sync::lock;
use std::io::{ErrorKind, IoSlice};
use std::sync::{Arc, Mutex};
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::Notify;

/// The write side of the daemon connection (see the module docs). When it is
/// dropped, the flush task writes what is queued, then closes the write side.
pub(crate) struct FrameWriter {
    shared: Arc<Shared>,
}

struct Shared {
    half: OwnedWriteHalf,
    state: Mutex<State>,
    wake: Notify,
}

#[derive(Default)]
struct State {
    /// Bytes the socket has not taken yet, in order.
    queued: Vec<u8>,
    /// The flush task owns the socket until the queue is empty.
    flushing: bool,
    /// No frame will come any more.
    closed: bool,
    /// Why writing failed; every later send fails with it.
    failed: Option<String>,
}

impl FrameWriter {
    /// Takes the write half and starts the flush task; a write failure kills `routing`.
    pub(crate) fn start(half: OwnedWriteHalf, routing: Arc<Routing<ResponseSlot>>) -> FrameWriter {
        let shared = Arc::new(Shared {
            half,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
        });
        tokio::spawn(flush_loop(shared.clone(), routing));
        FrameWriter { shared }
    }

    /// Writes a frame, `head` then `payload`, now (one `writev`), or queues
    /// what the socket does not take; never waits. `Err` with the reason
    /// once writing has failed.
    pub(crate) fn send(&self, head: &[u8], payload: &[u8]) -> Result<(), String> {
        let mut s = lock(&self.shared.state);
        if let Some(reason) = &s.failed {
            return Err(reason.clone());
        }
        if s.flushing {
            s.queued.extend_from_slice(head);
            s.queued.extend_from_slice(payload);
            return Ok(());
        }
        let parts = [IoSlice::new(head), IoSlice::new(payload)];
        let written = match self.shared.half.try_write_vectored(&parts) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
            Err(e) => {
                let reason = format!("daemon connection lost: {e}");
                s.failed = Some(reason.clone());
                return Err(reason);
            }
        };
        if written < head.len() + payload.len() {
            for part in unwritten(head, payload, written) {
                s.queued.extend_from_slice(part);
            }
            s.flushing = true;
            drop(s);
            self.shared.wake.notify_one();
        }
        Ok(())
    }
}

/// What is left of `head` then `payload` after the socket took their first
/// `written` bytes (at most both lengths together).
fn unwritten<'a>(head: &'a [u8], payload: &'a [u8], written: usize) -> [&'a [u8]; 2] {
    let from_payload = written.saturating_sub(head.len());
    [&head[written.min(head.len())..], &payload[from_payload..]]
}

impl Drop for FrameWriter {
    fn drop(&mut self) {
        lock(&self.shared.state).closed = true;
        self.shared.wake.notify_one();
    }
}

/// Writes the queue whenever a send leaves bytes in it; ends once the
/// writer is dropped and the queue is empty (the write half then closes).
async fn flush_loop(shared: Arc<Shared>, routing: Arc<Routing<ResponseSlot>>) {
    loop {
        let batch = {
            let mut s = lock(&shared.state);
            if s.queued.is_empty() {
                s.flushing = false;
                if s.closed {
                    return;
                }
                None
            } else {
                Some(std::mem::take(&mut s.queued))
            }
        };
        let Some(bytes) = batch else {
            shared.wake.notified().await;
            continue;
        };
        if let Err(e) = write_all(&shared.half, &bytes).await {
            let reason = format!("daemon connection lost: {e}");
            lock(&shared.state).failed = Some(reason.clone());
            routing.kill(&reason);
            return;
        }
    }
}

/// Writes all of `bytes` as the socket becomes writable.
async fn write_all(half: &OwnedWriteHalf, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        half.writable().await?;
        match half.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::unwritten;

    #[test]
    fn what_a_short_write_leaves_is_the_frame_from_there_on() {
        let (head, payload) = (b"head".as_slice(), b"payload".as_slice());
        let frame = [head, payload].concat();
        for written in 0..=frame.len() {
            let rest = unwritten(head, payload, written).concat();
            assert_eq!(rest, &frame[written..], "after {written} bytes");
        }
        assert_eq!(unwritten(b"", payload, 3).concat(), b"load");
        assert_eq!(unwritten(head, b"", 2).concat(), b"ad");
    }
}
