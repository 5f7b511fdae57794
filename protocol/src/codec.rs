//! The one place that turns frames into bytes and back.
//!
//! A frame on the wire is a 4-byte little-endian body length followed by the
//! body: the frame value encoded with bincode 2 (serde mode, standard
//! configuration: little-endian, variable-length integers). The length is
//! checked against the peer's limit before anything is allocated for the body,
//! and the body's buffer then grows only as its bytes arrive: a peer that
//! announces a large frame and sends one byte costs a few bytes, not the
//! announced length. Both directions reuse caller-owned buffers, so the hot
//! path does not allocate per frame. [`FrameDecoder`] (`codec/decoder.rs`) is
//! the incremental form of the same framing, for a reader that takes what a
//! read brings and decodes every whole frame in it. [`encode_data_chunk_head`]
//! (`codec/chunk.rs`) lets a client write a data chunk from its caller's buffer.

use bincode::config::{Configuration, Limit, LittleEndian, Varint};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::{self, Read, Write};
use thiserror::Error;

/// The daemon's default limit on a frame body (`max_frame_bytes`).
pub const DEFAULT_MAX_FRAME_BYTES: u32 = 4 * 1024 * 1024;
/// The smallest `max_frame_bytes` a daemon may be configured with.
pub const MIN_MAX_FRAME_BYTES: u32 = 64 * 1024;
/// The largest `max_frame_bytes` a daemon may be configured with.
pub const MAX_MAX_FRAME_BYTES: u32 = 64 * 1024 * 1024;

/// Bytes of frame overhead a client must leave free when it fills a
/// request up to the limit: a `DataChunk`'s or a one-call send's own fields
/// (enum tags, request id, handle, length prefixes) beside its payload or
/// its messages' [`MessageRef::encoded_len`].
pub const FRAME_OVERHEAD_BYTES: u32 = 64;

mod chunk;
mod decoder;
mod kept_batch;
pub mod payload;
mod send_frames;
pub mod text;
pub use chunk::encode_data_chunk_head;
pub use decoder::{FrameDecoder, READ_CHUNK_BYTES};
pub use send_frames::{encode_send_batch, encode_send_message, MessageRef};

const CONFIG: Configuration<LittleEndian, Varint, Limit<{ MAX_MAX_FRAME_BYTES as usize }>> =
    bincode::config::standard().with_limit::<{ MAX_MAX_FRAME_BYTES as usize }>();

/// Why a frame could not be read or written.
#[derive(Debug, Error)]
pub enum CodecError {
    /// The stream ended cleanly before a new frame began.
    #[error("stream closed")]
    Closed,
    /// Reading or writing the stream failed (a stream cut inside a frame is `UnexpectedEof`).
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The announced body length exceeds the limit; nothing was allocated for it.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    Oversized {
        /// The length the prefix announced.
        len: u32,
        /// The limit in force.
        max: u32,
    },
    /// The body is not a valid frame of the expected type.
    #[error("malformed frame: {0}")]
    Malformed(String),
}

impl CodecError {
    /// True when the peer closed or cut the stream (as opposed to sending garbage).
    pub fn is_disconnect(&self) -> bool {
        match self {
            CodecError::Closed => true,
            CodecError::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::ConnectionAborted
            ),
            _ => false,
        }
    }
}

/// Encodes `frame` with its length prefix into `out`, replacing its contents.
pub fn encode_frame<T: Serialize>(frame: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    out.clear();
    append_frame(frame, out)
}

/// Encodes `frame` with its length prefix after what `out` already holds,
/// so several frames can go out in one write. On error `out` is as before.
pub fn append_frame<T: Serialize>(frame: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    let encoded = bincode::serde::encode_into_std_write(frame, out, CONFIG)
        .map_err(|e| CodecError::Malformed(e.to_string()))
        .and_then(|_| {
            u32::try_from(out.len() - start - 4).map_err(|_| CodecError::Oversized {
                len: u32::MAX,
                max: MAX_MAX_FRAME_BYTES,
            })
        });
    match encoded {
        Ok(len) => {
            out[start..start + 4].copy_from_slice(&len.to_le_bytes());
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// The length of `frame` on the wire, prefix included: what [`append_frame`]
/// would add, computed without encoding (a byte payload costs nothing to measure).
pub fn encoded_len<T: Serialize>(frame: &T) -> Result<usize, CodecError> {
    let mut size = bincode::enc::write::SizeWriter::default();
    bincode::serde::encode_into_writer(frame, &mut size, CONFIG)
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    Ok(4 + size.bytes_written)
}

/// Decodes one frame body (without its prefix); every byte must be used.
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    let (value, used) = bincode::serde::decode_from_slice::<T, _>(body, CONFIG)
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    used_whole(body, used)?;
    Ok(value)
}

/// A body decoded from `used` bytes must have no bytes after them.
fn used_whole(body: &[u8], used: usize) -> Result<(), CodecError> {
    match body.len().saturating_sub(used) {
        0 => Ok(()),
        after => Err(CodecError::Malformed(format!(
            "{after} trailing bytes after the frame"
        ))),
    }
}

/// Checks an announced body length against `max`.
fn check_len(prefix: [u8; 4], max: u32) -> Result<usize, CodecError> {
    let len = u32::from_le_bytes(prefix);
    if len > max {
        return Err(CodecError::Oversized { len, max });
    }
    if len == 0 {
        return Err(CodecError::Malformed("empty frame".into()));
    }
    Ok(len as usize)
}

/// Writes one frame, using `scratch` as the encode buffer.
pub fn write_frame<W: Write, T: Serialize>(
    w: &mut W,
    frame: &T,
    scratch: &mut Vec<u8>,
) -> Result<(), CodecError> {
    encode_frame(frame, scratch)?;
    w.write_all(scratch)?;
    w.flush()?;
    Ok(())
}

/// Reads one frame of at most `max` body bytes, using `scratch` for the body.
pub fn read_frame<R: Read, T: DeserializeOwned>(
    r: &mut R,
    max: u32,
    scratch: &mut Vec<u8>,
) -> Result<T, CodecError> {
    let mut prefix = [0u8; 4];
    read_prefix(r, &mut prefix)?;
    let len = check_len(prefix, max)?;
    scratch.clear();
    // Grows with the bytes that arrive (at most doubling), never to the announced length up front.
    let got = r.take(len as u64).read_to_end(scratch)?;
    body_complete(got, len)?;
    decode_body(scratch)
}

/// A body cut short by the end of the stream is `UnexpectedEof`.
fn body_complete(got: usize, len: usize) -> Result<(), CodecError> {
    if got < len {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
    }
    Ok(())
}

/// Reads the 4-byte prefix, telling a clean close (no byte) from a cut one.
fn read_prefix<R: Read>(r: &mut R, prefix: &mut [u8; 4]) -> Result<(), CodecError> {
    let mut got = 0;
    while got < 4 {
        match r.read(&mut prefix[got..]) {
            Ok(0) if got == 0 => return Err(CodecError::Closed),
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The body bytes of `frame` after its length prefix, for the tests that pin
/// the variant indices PROTOCOL.md gives.
#[cfg(test)]
pub(crate) fn body_of(frame: &impl Serialize) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_frame(frame, &mut buf).expect("encode");
    buf.split_off(4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientFrame, Hello, Request, RequestId};

    fn ping() -> ClientFrame {
        ClientFrame::Request {
            id: RequestId(7),
            request: Request::Ping {
                payload: vec![1, 2, 3],
            },
        }
    }

    #[test]
    fn round_trip() {
        let mut buf = Vec::new();
        let mut wire = Vec::new();
        write_frame(&mut wire, &ping(), &mut buf).unwrap();
        let got: ClientFrame = read_frame(&mut wire.as_slice(), 1024, &mut buf).unwrap();
        assert_eq!(got, ping());
    }

    #[test]
    fn appended_frames_read_back_in_order() {
        let mut wire = Vec::new();
        append_frame(&ping(), &mut wire).unwrap();
        append_frame(
            &ClientFrame::Hello(Hello {
                protocol_version: 1,
                client_name: "x".into(),
            }),
            &mut wire,
        )
        .unwrap();
        let mut r = wire.as_slice();
        let mut buf = Vec::new();
        assert_eq!(
            read_frame::<_, ClientFrame>(&mut r, 1024, &mut buf).unwrap(),
            ping()
        );
        assert!(matches!(
            read_frame::<_, ClientFrame>(&mut r, 1024, &mut buf).unwrap(),
            ClientFrame::Hello(_)
        ));
        assert!(r.is_empty());
    }

    #[test]
    fn oversized_is_refused_before_reading_the_body() {
        let mut wire = (u32::MAX).to_le_bytes().to_vec();
        wire.extend_from_slice(b"short");
        let err =
            read_frame::<_, ClientFrame>(&mut wire.as_slice(), 1024, &mut Vec::new()).unwrap_err();
        assert!(matches!(
            err,
            CodecError::Oversized {
                len: u32::MAX,
                max: 1024
            }
        ));
    }

    #[test]
    fn garbage_and_trailing_bytes_are_malformed() {
        let mut wire = 3u32.to_le_bytes().to_vec();
        wire.extend_from_slice(&[0xff, 0xff, 0xff]);
        let err =
            read_frame::<_, ClientFrame>(&mut wire.as_slice(), 1024, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, CodecError::Malformed(_)), "{err}");

        let mut buf = Vec::new();
        encode_frame(
            &ClientFrame::Hello(Hello {
                protocol_version: 1,
                client_name: "x".into(),
            }),
            &mut buf,
        )
        .unwrap();
        buf.push(0);
        let len = (buf.len() - 4) as u32;
        buf[..4].copy_from_slice(&len.to_le_bytes());
        let err =
            read_frame::<_, ClientFrame>(&mut buf.as_slice(), 1024, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, CodecError::Malformed(_)), "{err}");
    }

    #[test]
    fn clean_close_and_cut_prefix_differ() {
        let err =
            read_frame::<_, ClientFrame>(&mut [].as_slice(), 1024, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, CodecError::Closed));
        let err = read_frame::<_, ClientFrame>(&mut [1u8, 0].as_slice(), 1024, &mut Vec::new())
            .unwrap_err();
        assert!(err.is_disconnect() && !matches!(err, CodecError::Closed));
    }
}

#[cfg(test)]
mod golden {
    //! Byte-exact examples quoted in PROTOCOL.md; if one changes, the document must too.
    use super::*;
    use crate::*;

    fn hex(frame: &impl Serialize) -> String {
        let mut buf = Vec::new();
        encode_frame(frame, &mut buf).unwrap();
        buf.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn documented_examples() {
        let hello = ClientFrame::Hello(Hello {
            protocol_version: 1,
            client_name: "c".into(),
        });
        assert_eq!(hex(&hello), "04 00 00 00 00 01 01 63");
        let ping = ClientFrame::Request {
            id: RequestId(300),
            request: Request::Ping {
                payload: vec![0xab],
            },
        };
        assert_eq!(hex(&ping), "07 00 00 00 01 fb 2c 01 00 01 ab");
        let mail = ClientFrame::Request {
            id: RequestId(2),
            request: Request::Command {
                handle: Handle::new(5).unwrap(),
                command: Command::Mail { from: "a@b".into() },
            },
        };
        assert_eq!(hex(&mail), "09 00 00 00 01 02 03 05 00 03 61 40 62");
        let reply = DaemonFrame::Response {
            id: RequestId(2),
            response: Response::Reply(Reply {
                code: 250,
                lines: ["OK"].into(),
            }),
        };
        assert_eq!(hex(&reply), "08 00 00 00 02 02 03 fa 01 02 4f 4b");
        let failed = DaemonFrame::Response {
            id: RequestId(3),
            response: Response::Failed(Failure::TimedOut(20)),
        };
        assert_eq!(hex(&failed), "05 00 00 00 02 03 06 04 14");
    }
}

#[cfg(test)]
mod growth {
    //! A frame's buffer grows with its bytes, not with the length it announces.
    use super::*;
    use crate::{ClientFrame, Request, RequestId};

    #[test]
    fn an_announced_body_that_never_comes_allocates_nothing_like_its_length() {
        let mut wire = (4u32 << 20).to_le_bytes().to_vec();
        wire.push(1);
        let mut buf = Vec::new();
        let err =
            read_frame::<_, ClientFrame>(&mut wire.as_slice(), 8 << 20, &mut buf).unwrap_err();
        assert!(err.is_disconnect(), "{err}");
        assert!(
            buf.capacity() < 64 * 1024,
            "capacity {} for one byte received",
            buf.capacity()
        );
    }

    #[test]
    fn encoded_len_is_what_append_frame_writes() {
        for payload in [vec![], vec![7; 300], vec![1; 70_000]] {
            let frame = ClientFrame::Request {
                id: RequestId(1 << 40),
                request: Request::Ping { payload },
            };
            let mut wire = Vec::new();
            append_frame(&frame, &mut wire).unwrap();
            assert_eq!(encoded_len(&frame).unwrap(), wire.len());
        }
    }
}
