//! The reader thread: the only reader of the daemon stream.
//!
//! It reads frames in order, hands each response to its waiting caller and
//! runs the callbacks of events, all on this one thread, so traffic copies
//! are delivered before the response of the call that caused them. When the
//! stream ends or breaks it marks the connection dead, which fails every
//! waiting call, and exits.

use crate::routing::Routing;
use interprocess::local_socket::Stream;
use smtp32_protocol::codec::{read_frame, MAX_MAX_FRAME_BYTES};
use smtp32_protocol::{DaemonFrame, Event};
use std::cell::Cell;
use std::sync::Arc;

thread_local! {
    static ON_READER: Cell<bool> = const { Cell::new(false) };
}

/// True on a reader thread, i.e. inside a debug or status callback.
pub(crate) fn on_reader_thread() -> bool {
    ON_READER.with(Cell::get)
}

/// Starts the reader thread for `stream`.
pub(crate) fn spawn(stream: Arc<Stream>, routing: Arc<Routing>) -> std::io::Result<()> {
    std::thread::Builder::new().name("smtp32-reader".into()).spawn(move || {
        ON_READER.with(|f| f.set(true));
        let reason = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&stream, &routing)))
            .unwrap_or_else(|_| "smtp32 reader thread panicked".to_owned());
        routing.kill(&format!("daemon connection lost: {reason}"));
    })?;
    Ok(())
}

/// Reads frames until the stream ends; returns why it ended.
fn run(stream: &Stream, routing: &Routing) -> String {
    let mut scratch = Vec::new();
    let mut reader = stream;
    loop {
        let frame: DaemonFrame = match read_frame(&mut reader, MAX_MAX_FRAME_BYTES, &mut scratch) {
            Ok(f) => f,
            Err(e) => return e.to_string(),
        };
        // A 50 MiB message must not keep 50 MiB of scratch alive forever.
        if scratch.capacity() > 1 << 20 {
            scratch = Vec::new();
        }
        match frame {
            DaemonFrame::Response { id, response } => routing.route_response(id.0, response),
            DaemonFrame::Event(Event::Traffic { handle, direction, bytes }) => {
                routing.route_traffic(handle, direction, bytes)
            }
            DaemonFrame::Event(Event::Connected { handle, result }) => {
                routing.route_connected(handle, result)
            }
            DaemonFrame::ProtocolError { reason } => return format!("daemon reported a protocol error: {reason}"),
            DaemonFrame::Welcome(_) | DaemonFrame::Refused { .. } => {
                return "unexpected handshake frame from the daemon".to_owned()
            }
        }
    }
}
