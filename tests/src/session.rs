//! Conveniences over the Rust client API that many tests share: open a connection, send one
//! message in given chunks, assert an error's return code.

use smtp32::{Connection, Reply, ReturnCode};
use std::fmt::Debug;

/// The name the tests send in EHLO/HELO.
pub const LOCAL: &str = "client.smtp32.test";

/// Sends one whole transaction on `conn`: MAIL, one RCPT per recipient, every chunk through
/// `data_buf`, then `data_end`; returns the server's verdict on the message.
pub fn send_message(conn: &Connection, from: &str, to: &[&str], chunks: &[&[u8]]) -> Reply {
    conn.mail(from).unwrap_or_else(|e| panic!("MAIL FROM:<{from}> failed: {e:?}"));
    for rcpt in to {
        conn.rcpt(rcpt).unwrap_or_else(|e| panic!("RCPT TO:<{rcpt}> failed: {e:?}"));
    }
    for (i, chunk) in chunks.iter().enumerate() {
        conn.data_buf(chunk).unwrap_or_else(|e| panic!("data_buf of chunk {i} ({} bytes) failed: {e:?}", chunk.len()));
    }
    conn.data_end().unwrap_or_else(|e| panic!("data_end failed: {e:?}"))
}

/// Panics unless `result` is an error with return code `code`; returns the error.
#[track_caller]
pub fn expect_code<T: Debug>(result: smtp32::Result<T>, code: ReturnCode, what: &str) -> smtp32::Error {
    match result {
        Ok(v) => panic!("{what}: expected {}, got success: {v:?}", code.name()),
        Err(e) => {
            assert_eq!(e.code(), code, "{what}: expected {}, got {} ({e})", code.name(), e.code().name());
            e
        }
    }
}
