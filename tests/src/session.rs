//! Conveniences over the Rust client API that many tests share: open a connection, send one
//! message in given chunks, assert an error's return code.

use smtp32::{Connection, Reply, ReturnCode};
use std::fmt::Debug;

/// The name the tests send in EHLO/HELO.
pub const LOCAL: &str = "client.smtp32.test";

/// Sends one whole transaction on `conn`: MAIL, one RCPT per recipient, every chunk through
/// `data_buf`, then `data_end`; returns the server's verdict on the message.
pub fn send_message(conn: &Connection, from: &str, to: &[&str], chunks: &[&[u8]]) -> Reply {
    conn.mail(from)
        .unwrap_or_else(|e| panic!("MAIL FROM:<{from}> failed: {e:?}"));
    for rcpt in to {
        conn.rcpt(rcpt)
            .unwrap_or_else(|e| panic!("RCPT TO:<{rcpt}> failed: {e:?}"));
    }
    for (i, chunk) in chunks.iter().enumerate() {
        conn.data_buf(chunk).unwrap_or_else(|e| {
            panic!(
                "data_buf of chunk {i} ({} bytes) failed: {e:?}",
                chunk.len()
            )
        });
    }
    conn.data_end()
        .unwrap_or_else(|e| panic!("data_end failed: {e:?}"))
}

/// Panics unless `result` is an error with return code `code`; returns the error.
#[track_caller]
pub fn expect_code<T: Debug>(
    result: smtp32::Result<T>,
    code: ReturnCode,
    what: &str,
) -> smtp32::Error {
    match result {
        Ok(v) => panic!("{what}: expected {}, got success: {v:?}", code.name()),
        Err(e) => {
            assert_eq!(
                e.code(),
                code,
                "{what}: expected {}, got {} ({e})",
                code.name(),
                e.code().name()
            );
            e
        }
    }
}

/// One copy the debug traffic callback was given: its direction and bytes.
pub type TrafficPiece = (smtp32::Direction, Vec<u8>);

/// Collects what a debug traffic callback is given, in order, for tests to inspect.
#[derive(Clone, Default)]
pub struct Traffic {
    pieces: std::sync::Arc<std::sync::Mutex<Vec<TrafficPiece>>>,
}

impl Traffic {
    /// An empty record.
    pub fn new() -> Traffic {
        Traffic::default()
    }

    /// A debug callback that appends to this record.
    pub fn callback(&self) -> smtp32::DebugCallback {
        let pieces = self.pieces.clone();
        std::sync::Arc::new(move |_, dir, bytes: &[u8]| {
            pieces.lock().unwrap().push((dir, bytes.to_vec()))
        })
    }

    /// Every copy so far, in the order the callback got them.
    pub fn pieces(&self) -> Vec<TrafficPiece> {
        self.pieces.lock().unwrap().clone()
    }

    /// The concatenated bytes of one direction.
    pub fn bytes(&self, dir: smtp32::Direction) -> Vec<u8> {
        self.pieces()
            .into_iter()
            .filter(|(d, _)| *d == dir)
            .flat_map(|(_, b)| b)
            .collect()
    }

    /// What was sent to the server, as text.
    pub fn sent(&self) -> String {
        String::from_utf8_lossy(&self.bytes(smtp32::Direction::ToServer)).into_owned()
    }

    /// Forgets everything recorded so far.
    pub fn clear(&self) {
        self.pieces.lock().unwrap().clear();
    }
}
