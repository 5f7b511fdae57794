//! What must hold for any input to the three parsers that read untrusted bytes. Each function
//! panics when a property breaks; the fuzz targets call them with libFuzzer's inputs, and
//! `daemon/tests/fuzz_corpus.rs` calls them (on stable, in every CI run) with the committed
//! corpus and seeded mutations of it. This file is included there by path, so it names only
//! `smtp32d` and `smtp32_protocol`.

use smtp32_protocol::codec::{decode_body, encode_frame, read_frame, CodecError};
use smtp32_protocol::codec::{FrameDecoder, READ_CHUNK_BYTES};
use smtp32_protocol::{ClientFrame, DaemonFrame, MIN_MAX_FRAME_BYTES};
use smtp32d::smtp::reply::{MAX_LINE_BYTES, MAX_REPLY_BYTES, MAX_REPLY_LINES};
use smtp32d::smtp::{read_reply, DataEncoder, NoTap, SmtpError};
use std::future::Future;
use std::task::{Context, Poll, Waker};

/// The frame decoder (`protocol::codec`), as the daemon and the client use it.
///
/// - It never panics and never allocates more than the limit: a length prefix over `max` is
///   `Oversized` before any body is read.
/// - A frame that decodes re-encodes to a body that decodes to the same frame (both
///   directions' frame types), and the re-encoded prefix counts exactly its body.
pub fn frame(data: &[u8]) {
    let max = MIN_MAX_FRAME_BYTES;
    let announced = data
        .get(..4)
        .map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]]));
    let mut scratch = Vec::new();
    match read_frame::<_, ClientFrame>(&mut &data[..], max, &mut scratch) {
        Ok(f) => round_trip(&f),
        Err(CodecError::Oversized { len, .. }) => assert_eq!(Some(len), announced),
        Err(_) => {}
    }
    assert!(
        scratch.len() <= max as usize,
        "decoder buffered {} bytes over a limit of {max}",
        scratch.len()
    );
    if let Some(body) = data.get(4..) {
        if let Ok(f) = decode_body::<DaemonFrame>(body) {
            round_trip(&f);
        }
    }
    incremental(data, max);
}

/// The incremental decoder (`codec::FrameDecoder`, which the daemon and the client read through) against `read_frame`,
/// decoding as the daemon's reader does (`parse_client_frame`: a data chunk of at least one read's
/// room, or a batch larger than that, keeps the decoder's storage).
///
/// - Fed the input in pieces (cut where the input's own bytes say), it yields the same frames
///   in the same order as `read_frame` called until its first error, then the same error
///   (`Closed` only between frames, `Oversized` with the same length).
/// - Its buffer never holds more than twice the bytes fed so far plus one read's room: an
///   announced length allocates nothing.
pub fn incremental(data: &[u8], max: u32) {
    let mut rest = data;
    let mut expected = Vec::new();
    let expected_end = loop {
        match read_frame::<_, ClientFrame>(&mut rest, max, &mut Vec::new()) {
            Ok(f) => expected.push(f),
            Err(e) => break e,
        }
    };
    let mut dec = FrameDecoder::new(max);
    let (mut got, mut at, mut cut) = (Vec::new(), 0, 0);
    let end = loop {
        // The daemon's reader: a large data chunk keeps the decoder's storage.
        match dec.parse_client_frame() {
            Ok(Some(f)) => got.push(f),
            Err(e) => break e,
            Ok(None) if at == data.len() => break dec.end_of_stream(),
            Ok(None) => {
                let piece = 1 + usize::from(data[cut % data.len()] % 13);
                cut += 1;
                let next = (at + piece).min(data.len());
                dec.extend(&data[at..next]);
                at = next;
                let (held, fed) = (dec.capacity(), at);
                assert!(
                    held <= 2 * fed + READ_CHUNK_BYTES,
                    "decoder holds {held} bytes for {fed}"
                );
            }
        }
    };
    assert_eq!(
        got, expected,
        "the incremental decoder and read_frame disagree on the frames"
    );
    let same = match (&end, &expected_end) {
        (CodecError::Oversized { len: a, .. }, CodecError::Oversized { len: b, .. }) => a == b,
        (CodecError::Closed, CodecError::Closed) => true,
        (CodecError::Malformed(_), CodecError::Malformed(_)) => true,
        (CodecError::Io(a), CodecError::Io(b)) => a.kind() == b.kind(),
        _ => false,
    };
    assert!(
        same,
        "the incremental decoder ended with {end:?}, read_frame with {expected_end:?}"
    );
}

fn round_trip<T>(frame: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let mut bytes = Vec::new();
    encode_frame(frame, &mut bytes).expect("a decoded frame encodes");
    let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    assert_eq!(len, bytes.len() - 4, "the prefix counts the body");
    let again: T = decode_body(&bytes[4..]).expect("a re-encoded frame decodes");
    assert_eq!(&again, frame, "decode(encode(frame)) == frame");
}

/// The SMTP reply reader (`smtp::reply::read_reply`) on bytes a server sent.
///
/// - It never panics, and over an in-memory reader it never waits.
/// - An accepted reply has a code of 200..=559 (first digit 2-5, second 0-5), 1..=1000 lines,
///   and used at most 64 KiB, no line over 4096 bytes.
/// - Written back in wire form, it reads as the same reply.
pub fn reply(data: &[u8]) {
    let mut input = data;
    let Some(result) = ready(read_reply(&mut input, &NoTap)) else {
        panic!("read_reply waited on an in-memory reader");
    };
    let consumed = data.len() - input.len();
    match result {
        Ok(r) => {
            assert!(
                (200..=559).contains(&r.code) && r.code / 10 % 10 <= 5,
                "code {}",
                r.code
            );
            assert!(
                !r.lines.is_empty() && r.lines.len() <= MAX_REPLY_LINES,
                "{} lines",
                r.lines.len()
            );
            assert!(consumed <= MAX_REPLY_BYTES, "used {consumed} bytes");
            assert!(
                r.lines.iter().all(|l| !l.contains('\0')),
                "accepted a NUL: {r:?}"
            );
            let longest = data[..consumed]
                .split_inclusive(|&b| b == b'\n')
                .map(<[u8]>::len)
                .max()
                .unwrap_or(0);
            assert!(
                longest <= MAX_LINE_BYTES,
                "accepted a line of {longest} bytes"
            );
            // Read back from its wire form, unless that form would break a bound the original
            // kept: 8-bit bytes that are not UTF-8 come back as U+FFFD, three bytes each.
            let wire = format!("{}\r\n", r.to_wire_text());
            let fits = wire.len() <= MAX_REPLY_BYTES
                && wire
                    .split_inclusive('\n')
                    .all(|l| l.len() <= MAX_LINE_BYTES);
            if fits && r.lines.iter().all(|l| !l.contains(['\r', '\n'])) {
                let mut again = wire.as_bytes();
                match ready(read_reply(&mut again, &NoTap)) {
                    Some(Ok(back)) => assert_eq!(back, r, "a reply read back from its wire form"),
                    other => panic!("{wire:?} read back as {other:?}"),
                }
            }
        }
        Err(SmtpError::BadReply(_) | SmtpError::Closed) => {}
        Err(other) => panic!("unexpected error from an in-memory reader: {other:?}"),
    }
}

/// DATA transparency (`smtp::dot_stuff::DataEncoder`). The first byte of the input says how
/// many cut points follow (at most 8); the next bytes are the cut points; the rest is the
/// message, fed to the encoder in the chunks the cuts make.
///
/// - The result does not depend on where the chunks were cut.
/// - Every line on the wire ends in CRLF, no bare CR or LF gets through, no line before the
///   end is a lone `.`, and the wire ends with `.` CRLF.
/// - A receiver that removes the dots gets the message back with every line ending made CRLF
///   and a final CRLF added: unstuff(stuff(x)) == normalise(x).
pub fn dot_stuff(data: &[u8]) {
    let cuts = usize::from(data.first().copied().unwrap_or(0) % 9);
    let (points, message) = match data.get(1..1 + cuts) {
        Some(points) => (points, &data[1 + cuts..]),
        None => (&[][..], data.get(1..).unwrap_or(&[])),
    };
    let mut at: Vec<usize> = points
        .iter()
        .map(|&p| usize::from(p) * message.len() / 256)
        .collect();
    at.sort_unstable();
    let (mut encoder, mut wire, mut from) = (DataEncoder::new(), Vec::new(), 0);
    for cut in at {
        encoder.encode(&message[from..cut], &mut wire);
        from = cut;
    }
    encoder.encode(&message[from..], &mut wire);
    encoder.finish(&mut wire);
    let mut whole = Vec::new();
    let mut one = DataEncoder::new();
    one.encode(message, &mut whole);
    one.finish(&mut whole);
    assert_eq!(wire, whole, "chunking changed the wire bytes");
    assert_eq!(
        unstuff(&wire),
        normalise(message),
        "unstuff(stuff(x)) != normalise(x)"
    );
}

/// A receiver (RFC 5321 §4.5.2): checks the wire's line structure, strips the final `.` line
/// and one leading dot from every line.
pub fn unstuff(wire: &[u8]) -> Vec<u8> {
    let body = wire
        .strip_suffix(b".\r\n")
        .expect("the wire ends with the dot line");
    assert!(
        body.is_empty() || body.ends_with(b"\r\n"),
        "the dot line starts a line"
    );
    let mut out = Vec::with_capacity(body.len());
    for line in body.split_inclusive(|&b| b == b'\n') {
        let text = line.strip_suffix(b"\r\n").expect("every line ends in CRLF");
        assert!(
            !text.contains(&b'\r') && !text.contains(&b'\n'),
            "a bare CR or LF on the wire"
        );
        assert_ne!(text, b".", "a lone dot before the end of the message");
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    out
}

/// The message as it must arrive: CRLF, bare CR and bare LF each become CRLF, and a message
/// that does not end with a line ending gets one.
pub fn normalise(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 2);
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if input.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Polls `f` once; `None` if it is not ready (an in-memory reader must never make it wait).
fn ready<F: Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}
