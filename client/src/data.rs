//! Message data: how big a `DataChunk` may be, and the pull loop behind
//! `smtp_data` that asks a callback for bytes and ships them in chunks.
//!
//! The loop is independent of the transport so that it can be tested alone.

use crate::error::{Error, Result};
use smtp32_protocol::codec::FRAME_OVERHEAD_BYTES;

/// The most bytes a data callback is offered at once (the manual's buffer).
pub const CALLBACK_BUFFER_BYTES: usize = 64 * 1024;

/// Data is collected up to this much before a `DataChunk` goes out (fewer
/// round trips than one per callback, bounded memory).
const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// A data callback is never offered less room than this (or the whole batch,
/// when a batch is smaller): a batch with less left is sent first, so that a
/// callback that writes a line at a time always has room for one.
pub const MIN_CALLBACK_BUFFER_BYTES: usize = 4 * 1024;

/// What a data callback did with the buffer it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataStep {
    /// It copied this many bytes (at most the buffer's length) to the start
    /// of the buffer; `Bytes(0)` ends the message like `End`.
    Bytes(usize),
    /// The message is complete.
    End,
    /// Abandon the message: the connection is reset and the handle is gone.
    Abort,
}

/// How the pull loop ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PumpEnd {
    /// The callback ended the message; everything was handed to `send`.
    End,
    /// The callback asked to abort.
    Abort,
    /// The callback claimed more bytes than the buffer holds.
    Overrun { claimed: usize, room: usize },
}

/// The largest message slice one `DataChunk` frame may carry under the
/// daemon's `max_frame_bytes`.
pub(crate) fn chunk_limit(max_frame_bytes: u32) -> usize {
    (max_frame_bytes.saturating_sub(FRAME_OVERHEAD_BYTES) as usize).max(1)
}

/// Calls `fill` with windows of at most [`CALLBACK_BUFFER_BYTES`] and at
/// least [`MIN_CALLBACK_BUFFER_BYTES`] (or the whole batch when `chunk` is
/// smaller), and hands batches of at most `chunk` bytes to `send`, until
/// `fill` ends or aborts, `send` fails, or `stop()` says the handle was
/// cancelled meanwhile.
pub(crate) fn pump(
    chunk: usize,
    mut fill: impl FnMut(&mut [u8]) -> DataStep,
    mut send: impl FnMut(&[u8]) -> Result<()>,
    stop: impl Fn() -> Option<Error>,
) -> Result<PumpEnd> {
    let cap = chunk.clamp(1, MAX_BATCH_BYTES);
    let least = cap.min(MIN_CALLBACK_BUFFER_BYTES);
    let mut buf = vec![0u8; cap];
    let mut filled = 0;
    loop {
        if let Some(e) = stop() {
            return Err(e);
        }
        if cap - filled < least {
            send(&buf[..filled])?;
            filled = 0;
        }
        let room = (cap - filled).min(CALLBACK_BUFFER_BYTES);
        match fill(&mut buf[filled..filled + room]) {
            DataStep::Abort => return Ok(PumpEnd::Abort),
            DataStep::Bytes(n) if n > room => return Ok(PumpEnd::Overrun { claimed: n, room }),
            DataStep::Bytes(0) | DataStep::End => {
                if filled > 0 {
                    send(&buf[..filled])?;
                }
                return Ok(PumpEnd::End);
            }
            DataStep::Bytes(n) => filled += n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_limit_leaves_frame_overhead() {
        assert_eq!(chunk_limit(4 * 1024 * 1024), 4 * 1024 * 1024 - 64);
        assert_eq!(chunk_limit(10), 1);
    }

    /// Feeds `msg` through the pump in callback-sized pieces.
    fn run(msg: &[u8], chunk: usize) -> (PumpEnd, Vec<Vec<u8>>) {
        let mut pos = 0;
        let mut sent = Vec::new();
        let end = pump(
            chunk,
            |buf| {
                let n = buf.len().min(msg.len() - pos).min(1000);
                buf[..n].copy_from_slice(&msg[pos..pos + n]);
                pos += n;
                DataStep::Bytes(n)
            },
            |c| {
                sent.push(c.to_vec());
                Ok(())
            },
            || None,
        )
        .unwrap();
        (end, sent)
    }

    #[test]
    fn batches_respect_the_chunk_limit_and_keep_the_bytes() {
        let msg: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let (end, sent) = run(&msg, 4096);
        assert_eq!(end, PumpEnd::End);
        assert!(sent.iter().all(|c| !c.is_empty() && c.len() <= 4096));
        assert_eq!(sent.concat(), msg);
        assert_eq!(run(b"", 4096).1.len(), 0);
    }

    #[test]
    fn the_callback_is_always_offered_at_least_4_kib() {
        // Lines of 1000 bytes never fill a 1 MiB batch exactly: the batch is
        // sent early instead of offering the callback the 576 bytes left.
        let mut offered = Vec::new();
        let mut total = 0;
        let end = pump(
            MAX_BATCH_BYTES,
            |buf| {
                offered.push(buf.len());
                if total >= 3 * MAX_BATCH_BYTES {
                    return DataStep::End;
                }
                total += 1000;
                DataStep::Bytes(1000)
            },
            |_| Ok(()),
            || None,
        )
        .unwrap();
        assert_eq!(end, PumpEnd::End);
        let smallest = offered.iter().min();
        assert!(
            offered.iter().all(|&n| n >= MIN_CALLBACK_BUFFER_BYTES),
            "{smallest:?}"
        );
        // A batch smaller than 4 KiB is offered whole.
        let (_, sent) = run(&[7u8; 10_000], 100);
        assert!(sent.iter().all(|c| c.len() <= 100));
    }

    #[test]
    fn abort_overrun_and_stop_end_the_loop() {
        let nothing = |_: &[u8]| Ok(());
        assert_eq!(
            pump(100, |_| DataStep::Abort, nothing, || None).unwrap(),
            PumpEnd::Abort
        );
        assert_eq!(
            pump(100, |_| DataStep::Bytes(101), nothing, || None).unwrap(),
            PumpEnd::Overrun {
                claimed: 101,
                room: 100
            }
        );
        let stopped = pump(
            100,
            |_| DataStep::Bytes(1),
            nothing,
            || Some(Error::new(smtp32_protocol::ReturnCode::Aborted, "x")),
        );
        assert!(stopped.unwrap_err().is_aborted());
    }
}
