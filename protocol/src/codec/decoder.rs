//! Incremental frame decoding: bytes go in as they arrive, whole frames come
//! out. Both ends of the IPC stream read through [`FrameDecoder`]: the
//! daemon's reader of each client, and the client's blocking reader and its
//! async reader task.
//!
//! [`FrameDecoder::check`] looks at what is buffered: a length prefix over the
//! limit (or an empty frame) is an error as soon as its 4 bytes are in, before
//! any room is made for the body ([`FrameDecoder::announced`] tells the
//! length then, so a reader can wait for room before it reads the body);
//! [`FrameDecoder::parse`] decodes and consumes one whole frame. One read may
//! bring several frames (all decoded before the next read). The daemon reads
//! with [`FrameDecoder::parse_client_frame`], which leaves a large data
//! chunk's payload, or a large batch's messages, in the storage it was read
//! into.
//!
//! The buffer grows only as bytes arrive, never to an announced length: by
//! [`READ_CHUNK_BYTES`], or, while a large frame comes in, by as much of it
//! as has come (never past its end). A peer that announces a large frame and
//! sends one byte costs one read's room; a large frame costs a few reads and
//! reallocations, and at most twice the bytes that came. (Growing by one
//! read's room each time made a 4 MiB frame 256 reads and reallocations.) A
//! read takes at most one read's room past the frame coming in.

use super::chunk::data_chunk_head;
use super::kept_batch::{decode_kept_batch, is_send_batch};
use super::{check_len, decode_body, CodecError};
use crate::{ClientFrame, Request};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use std::io::{self, Read};

/// Bytes of room offered to one read (a frame and the frames after it).
pub const READ_CHUNK_BYTES: usize = 16 * 1024;
/// Less room than this left after the buffered bytes makes room for a full read.
const MIN_ROOM_BYTES: usize = READ_CHUNK_BYTES / 4;
/// Room up to this is zeroed before a tokio read (once, as the buffer
/// grows); room beyond, for a large frame, is read into as it is.
#[cfg(feature = "tokio")]
const ZEROED_ROOM_BYTES: usize = 4 * READ_CHUNK_BYTES;
/// An emptied buffer larger than this is given back rather than kept.
const KEPT_BUFFER_BYTES: usize = 1 << 20;
/// A `DataChunk` payload of at least one read's room keeps the storage it
/// was read into (see [`FrameDecoder::parse_client_frame`]); a smaller one
/// is copied, which costs about what new storage for the next read would.
const KEPT_PAYLOAD_BYTES: usize = READ_CHUNK_BYTES;
/// What kept storage may hold beyond its frame's body: the prefix, the head
/// and the room of the reads that brought it. Storage grown for more (for
/// an earlier, larger frame) is not kept: the payload would hold memory its
/// client's budget was not charged for, so it is copied instead.
const KEPT_SLACK_BYTES: usize = 2 * READ_CHUNK_BYTES;

/// Bytes read from a stream and not yet decoded (see the module docs).
#[derive(Debug)]
pub struct FrameDecoder {
    /// Storage; `start..end` holds the undecoded bytes, `end..` is room.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    max: u32,
    /// An emptied buffer larger than this is given back.
    kept: usize,
}

impl FrameDecoder {
    /// A decoder that refuses frame bodies over `max` bytes.
    pub fn new(max: u32) -> FrameDecoder {
        FrameDecoder {
            buf: Vec::new(),
            start: 0,
            end: 0,
            max,
            kept: KEPT_BUFFER_BYTES,
        }
    }

    /// The same decoder, giving back an emptied buffer larger than `bytes`
    /// (a reader that many may hold for long keeps less).
    pub fn keeping(mut self, bytes: usize) -> FrameDecoder {
        self.kept = bytes;
        self
    }

    /// Bytes buffered and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Bytes of storage held (what the buffered bytes cost).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The body length of the next frame once all of it is buffered,
    /// `Ok(None)` while bytes are missing, `Oversized` or `Malformed` as soon
    /// as its length prefix is known to be bad.
    pub fn check(&self) -> Result<Option<usize>, CodecError> {
        let Some(len) = self.announced()? else {
            return Ok(None);
        };
        Ok((self.buffered() - 4 >= len).then_some(len))
    }

    /// The body length the next frame announces, once its length prefix is
    /// buffered (`Ok(None)` before); an error as for [`FrameDecoder::check`].
    pub fn announced(&self) -> Result<Option<usize>, CodecError> {
        match self.buf[self.start..self.end].first_chunk::<4>() {
            Some(prefix) => check_len(*prefix, self.max).map(Some),
            None => Ok(None),
        }
    }

    /// Decodes and consumes the next frame when all of it is buffered
    /// (`Ok(None)` while bytes are missing). A frame that fails to decode is
    /// consumed too; the stream is broken after any error.
    pub fn parse<T: DeserializeOwned>(&mut self) -> Result<Option<T>, CodecError> {
        let Some(len) = self.check()? else {
            return Ok(None);
        };
        self.decode_next(len).map(Some)
    }

    /// Decodes and consumes the next frame, whose `len` body bytes are all
    /// buffered ([`FrameDecoder::check`] said so).
    fn decode_next<T: DeserializeOwned>(&mut self, len: usize) -> Result<T, CodecError> {
        let body = self.start + 4..self.start + 4 + len;
        self.start = body.end;
        let frame = decode_body(&self.buf[body]);
        self.trim();
        frame
    }

    /// [`FrameDecoder::parse`] of a client's frame, but a `DataChunk` with a
    /// payload of at least one read's room ([`READ_CHUNK_BYTES`]) is not
    /// copied out of the frame: the storage it was read into becomes the
    /// payload's (the bytes read after the frame move to new storage),
    /// when that storage is not much larger than the frame. A large
    /// message's chunks then cost no copy in the reader, and no second
    /// frame of memory. A `SendBatch` frame larger than one read's room
    /// keeps its storage the same way, its messages views of it
    /// (`codec/kept_batch.rs`).
    pub fn parse_client_frame(&mut self) -> Result<Option<ClientFrame>, CodecError> {
        let Some(len) = self.check()? else {
            return Ok(None);
        };
        // Only a large frame is looked at: a small one costs nothing more.
        let body = self.start + 4..self.start + 4 + len;
        if len > KEPT_PAYLOAD_BYTES && self.buf.capacity() <= len + KEPT_SLACK_BYTES {
            let chunk = data_chunk_head(&self.buf[body.clone()]);
            let kept = chunk.filter(|c| len - c.2 >= KEPT_PAYLOAD_BYTES);
            if let Some((id, handle, head)) = kept {
                let storage = self.take_storage_through(body.end);
                let bytes = Bytes::from(storage).slice(body.start + head..body.end);
                return Ok(Some(ClientFrame::Request {
                    id,
                    request: Request::DataChunk { handle, bytes },
                }));
            }
            if is_send_batch(&self.buf[body.clone()]) {
                let storage = self.take_storage_through(body.end);
                let frame = decode_kept_batch(&Bytes::from(storage).slice(body));
                return frame.map(Some);
            }
        }
        self.decode_next(len).map(Some)
    }

    /// Hands over the storage up to `end`, the end of the frame being
    /// decoded; what was read after it starts new storage.
    fn take_storage_through(&mut self, end: usize) -> Vec<u8> {
        let mut storage = std::mem::take(&mut self.buf);
        let after = end..self.end;
        self.start = 0;
        self.end = 0;
        self.extend(&storage[after]);
        storage.truncate(end);
        storage
    }

    /// Room to read into, made as the module docs say; bytes not written
    /// before are zeroed first. Record what was read with
    /// [`FrameDecoder::commit`].
    pub fn spare(&mut self) -> &mut [u8] {
        let room = self.make_room();
        self.zeroed(room)
    }

    /// The next `room` bytes after the buffered ones, zeroing those not
    /// written before.
    fn zeroed(&mut self, room: usize) -> &mut [u8] {
        let end = self.end + room;
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        &mut self.buf[self.end..end]
    }

    /// Compacts what is buffered to the front when room runs short, and
    /// grows the storage (see the module docs) when less than
    /// [`MIN_ROOM_BYTES`] is left; returns how much one read may take. A
    /// read stops a little past the frame coming in, so the next frame's
    /// first bytes, moved to the front once this one is decoded, are few.
    /// (`buf.len()` marks the bytes written at least once: room the
    /// blocking [`FrameDecoder::spare`] need not zero again.)
    fn make_room(&mut self) -> usize {
        if self.start > 0 && self.buf.capacity() - self.end < MIN_ROOM_BYTES {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let rest = self.rest_of_frame();
        if self.buf.capacity() - self.end < MIN_ROOM_BYTES {
            let want = self.end + READ_CHUNK_BYTES.max(self.buffered().min(rest));
            self.buf.reserve_exact(want.saturating_sub(self.buf.len()));
        }
        let end = self
            .buf
            .capacity()
            .min(self.end + READ_CHUNK_BYTES.max(rest));
        end - self.end
    }

    /// Bytes of the frame coming in that are not buffered yet (0 before its
    /// length prefix is in).
    fn rest_of_frame(&self) -> usize {
        match self.announced() {
            Ok(Some(len)) => (4 + len).saturating_sub(self.buffered()),
            _ => 0,
        }
    }

    /// Records that `n` bytes were read into [`FrameDecoder::spare`].
    pub fn commit(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// Feeds bytes that were read elsewhere.
    pub fn extend(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = self.spare();
            let n = room.len().min(bytes.len());
            room[..n].copy_from_slice(&bytes[..n]);
            self.commit(n);
            bytes = &bytes[n..];
        }
    }

    /// The error for the end of the stream here: `Closed` between frames,
    /// `UnexpectedEof` inside one.
    pub fn end_of_stream(&self) -> CodecError {
        if self.buffered() == 0 {
            CodecError::Closed
        } else {
            io::Error::from(io::ErrorKind::UnexpectedEof).into()
        }
    }

    /// One read from `r` into the buffer (retrying interruptions); the end of
    /// the stream is [`FrameDecoder::end_of_stream`].
    pub fn read_from<R: Read>(&mut self, r: &mut R) -> Result<usize, CodecError> {
        loop {
            match r.read(self.spare()) {
                Ok(0) => return Err(self.end_of_stream()),
                Ok(n) => {
                    self.commit(n);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reads from `r` until a whole frame is buffered, then decodes it.
    pub fn next_frame<R: Read, T: DeserializeOwned>(&mut self, r: &mut R) -> Result<T, CodecError> {
        loop {
            if let Some(frame) = self.parse()? {
                return Ok(frame);
            }
            self.read_from(r)?;
        }
    }

    /// [`FrameDecoder::read_from`] over a tokio stream. Room past the first
    /// 64 KiB, for a large frame, is not zeroed first (zeroing it cost as
    /// much as copying the frame). Cancel-safe: bytes are recorded only when a read
    /// completes.
    #[cfg(feature = "tokio")]
    pub async fn read_from_async<R>(&mut self, r: &mut R) -> Result<usize, CodecError>
    where
        R: tokio::io::AsyncRead + Unpin,
    {
        use bytes::BufMut;
        use tokio::io::AsyncReadExt;
        let room = self.make_room();
        // Small room is zeroed once and read into again and again: a plain
        // read costs less than one into room not yet written.
        let n = if self.end + room <= self.buf.len().max(ZEROED_ROOM_BYTES) {
            r.read(self.zeroed(room)).await?
        } else {
            self.buf.truncate(self.end);
            r.read_buf(&mut (&mut self.buf).limit(room)).await?
        };
        match n {
            0 => Err(self.end_of_stream()),
            n => {
                self.commit(n);
                Ok(n)
            }
        }
    }

    /// [`FrameDecoder::next_frame`] over a tokio stream. Cancel-safe: a
    /// frame is consumed only when it is returned, bytes only recorded when
    /// a read completes.
    #[cfg(feature = "tokio")]
    pub async fn next_frame_async<R, T>(&mut self, r: &mut R) -> Result<T, CodecError>
    where
        R: tokio::io::AsyncRead + Unpin,
        T: DeserializeOwned,
    {
        loop {
            if let Some(frame) = self.parse()? {
                return Ok(frame);
            }
            self.read_from_async(r).await?;
        }
    }

    /// Starts over at the front once everything was decoded, and gives a
    /// large emptied buffer back.
    fn trim(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.capacity() > self.kept {
                self.buf = Vec::new();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::append_frame;
    use crate::{ClientFrame, Request, RequestId};

    fn ping(id: u64, len: usize) -> ClientFrame {
        ClientFrame::Request {
            id: RequestId(id),
            request: Request::Ping {
                payload: vec![7; len],
            },
        }
    }

    #[test]
    fn frames_fed_a_byte_at_a_time_come_out_whole_and_in_order() {
        let mut wire = Vec::new();
        for id in 1..=3 {
            append_frame(&ping(id, 100 * id as usize), &mut wire).unwrap();
        }
        let mut dec = FrameDecoder::new(1024);
        let mut got = Vec::new();
        for b in &wire {
            dec.extend(std::slice::from_ref(b));
            while let Some(f) = dec.parse::<ClientFrame>().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(
            got,
            (1..=3)
                .map(|id| ping(id, 100 * id as usize))
                .collect::<Vec<_>>()
        );
        assert_eq!(dec.buffered(), 0);
    }

    fn chunk(id: u64, len: usize) -> ClientFrame {
        ClientFrame::Request {
            id: RequestId(id),
            request: Request::DataChunk {
                handle: crate::Handle::new(9).unwrap(),
                bytes: (0..len)
                    .map(|i| (i % 251) as u8)
                    .collect::<Vec<u8>>()
                    .into(),
            },
        }
    }

    /// Every frame comes out of `parse_client_frame` as out of `parse`.
    fn both_ways(wire: &[u8]) -> (Vec<ClientFrame>, Vec<ClientFrame>) {
        let (mut owned, mut kept) = (FrameDecoder::new(1 << 20), FrameDecoder::new(1 << 20));
        owned.extend(wire);
        kept.extend(wire);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        while let Some(f) = owned.parse::<ClientFrame>().unwrap() {
            a.push(f);
        }
        while let Some(f) = kept.parse_client_frame().unwrap() {
            b.push(f);
        }
        assert_eq!(kept.buffered(), 0);
        (a, b)
    }

    fn batch(id: u64, messages: usize) -> ClientFrame {
        let message = crate::BatchMessage {
            from: "a@example.org".into(),
            rcpts: vec!["b@example.org".into()],
            data: vec![b'x'; 1024].into(),
        };
        ClientFrame::Request {
            id: RequestId(id),
            request: Request::SendBatch {
                handle: crate::Handle::new(9).unwrap(),
                messages: vec![message; messages],
            },
        }
    }

    /// `middle`, read between two pings, comes out of `parse_client_frame`
    /// as out of `parse`, and so do the pings.
    fn comes_out_between_pings(middle: ClientFrame) {
        let mut wire = Vec::new();
        append_frame(&ping(1, 10), &mut wire).unwrap();
        append_frame(&middle, &mut wire).unwrap();
        append_frame(&ping(3, 20), &mut wire).unwrap();
        let (owned, kept) = both_ways(&wire);
        assert_eq!(kept, owned, "{middle:?}");
        assert_eq!(kept, [ping(1, 10), middle, ping(3, 20)]);
    }

    /// Where a frame's message text and bytes lie: a chunk's payload; the
    /// sender, first recipient and bytes of a batch's last message.
    fn parts_of(frame: &ClientFrame) -> Vec<*const u8> {
        match frame {
            ClientFrame::Request {
                request: Request::DataChunk { bytes, .. },
                ..
            } => vec![bytes.as_ptr()],
            ClientFrame::Request {
                request: Request::SendBatch { messages, .. },
                ..
            } => messages
                .last()
                .map(|m| vec![m.from.as_ptr(), m.rcpts[0].as_ptr(), m.data.as_ptr()])
                .unwrap_or_default(),
            other => panic!("no message in {other:?}"),
        }
    }

    /// Decodes `frame` (after `before`, when given) with a ping behind it,
    /// and says which of its parts ([`parts_of`]) lie in the storage the
    /// decoder held when the frame came up. The ping read after it comes out.
    fn parts_in_storage(before: Option<&ClientFrame>, frame: &ClientFrame) -> Vec<bool> {
        let mut wire = Vec::new();
        if let Some(b) = before {
            append_frame(b, &mut wire).unwrap();
        }
        append_frame(frame, &mut wire).unwrap();
        append_frame(&ping(3, 20), &mut wire).unwrap();
        let mut dec = FrameDecoder::new(1 << 20);
        dec.extend(&wire);
        if let Some(b) = before {
            assert_eq!(dec.parse_client_frame().unwrap().as_ref(), Some(b));
        }
        let storage = dec.buf.as_ptr_range();
        let got = dec.parse_client_frame().unwrap().expect("the frame");
        assert_eq!(&got, frame);
        assert_eq!(dec.parse_client_frame().unwrap(), Some(ping(3, 20)));
        parts_of(&got).iter().map(|p| storage.contains(p)).collect()
    }

    /// A large chunk keeps the storage it was read into; the frames read
    /// with it, before and after, and small chunks decode as `parse` does.
    #[test]
    fn a_large_chunk_keeps_its_storage_and_the_frames_around_it_come_out() {
        for len in [KEPT_PAYLOAD_BYTES - 1, KEPT_PAYLOAD_BYTES, 300_000] {
            comes_out_between_pings(chunk(2, len));
        }
        assert_eq!(parts_in_storage(None, &chunk(2, 300_000)), [true], "copied");
    }

    /// A batch larger than one read's room keeps the storage it was read
    /// into, its messages' text and bytes views of it; a smaller one and
    /// the frames around it decode as `parse` does.
    #[test]
    fn a_large_batch_keeps_its_storage_and_the_frames_around_it_come_out() {
        for messages in [1, 15, 16, 200] {
            comes_out_between_pings(batch(2, messages));
        }
        assert_eq!(parts_in_storage(None, &batch(2, 200)), [true; 3], "copied");
    }

    /// Storage grown for an earlier, larger frame is not handed to a chunk
    /// or a batch that needs a fraction of it: they are copied.
    #[test]
    fn a_chunk_in_storage_grown_for_more_is_copied() {
        let before = ping(1, 300_000);
        let kept = parts_in_storage(Some(&before), &chunk(2, 20_000));
        assert_eq!(kept, [false], "the storage was kept");
    }

    /// As a chunk ([`a_chunk_in_storage_grown_for_more_is_copied`]).
    #[test]
    fn a_batch_in_storage_grown_for_more_is_copied() {
        let before = ping(1, 300_000);
        let kept = parts_in_storage(Some(&before), &batch(2, 20));
        assert_eq!(kept, [false; 3], "the storage was kept");
    }

    /// A body that only starts like a chunk (bytes after the payload) is
    /// refused as `parse` refuses it.
    #[test]
    fn a_chunk_with_bytes_after_its_payload_is_malformed() {
        let mut wire = Vec::new();
        append_frame(&chunk(2, 100_000), &mut wire).unwrap();
        wire.push(0);
        let len = u32::from_le_bytes(wire[..4].try_into().unwrap()) + 1;
        wire[..4].copy_from_slice(&len.to_le_bytes());
        let mut dec = FrameDecoder::new(1 << 20);
        dec.extend(&wire);
        assert!(matches!(
            dec.parse_client_frame(),
            Err(CodecError::Malformed(_))
        ));
    }

    #[test]
    fn an_oversized_prefix_is_refused_with_four_bytes_in() {
        let mut dec = FrameDecoder::new(1024);
        dec.extend(&1025u32.to_le_bytes());
        assert!(dec.announced().is_err());
        assert!(matches!(
            dec.check(),
            Err(CodecError::Oversized {
                len: 1025,
                max: 1024
            })
        ));
        let mut empty = FrameDecoder::new(1024);
        empty.extend(&0u32.to_le_bytes());
        assert!(matches!(
            empty.parse::<ClientFrame>(),
            Err(CodecError::Malformed(_))
        ));
    }

    #[test]
    fn the_buffer_grows_with_the_bytes_not_the_announced_length() {
        let mut dec = FrameDecoder::new(64 << 20);
        dec.extend(&[0, 0, 0xc0]);
        assert_eq!(dec.announced().unwrap(), None);
        dec.extend(&[0x03]);
        assert_eq!(dec.announced().unwrap(), Some(60 << 20));
        dec.extend(&[1; 100]);
        assert_eq!(dec.check().unwrap(), None);
        assert!(
            dec.capacity() <= 104 + READ_CHUNK_BYTES,
            "capacity {}",
            dec.capacity()
        );
    }

    #[test]
    fn an_emptied_buffer_over_what_is_kept_is_given_back() {
        let mut wire = Vec::new();
        append_frame(&ping(1, 100_000), &mut wire).unwrap();
        let mut dec = FrameDecoder::new(1 << 20).keeping(64 * 1024);
        dec.extend(&wire);
        assert!(dec.capacity() > 64 * 1024);
        assert!(dec.parse::<ClientFrame>().unwrap().is_some());
        assert_eq!(dec.capacity(), 0);
    }

    #[test]
    fn the_end_of_the_stream_is_clean_only_between_frames() {
        let mut dec = FrameDecoder::new(1024);
        let err = dec
            .next_frame::<_, ClientFrame>(&mut [].as_slice())
            .unwrap_err();
        assert!(matches!(err, CodecError::Closed));
        let err = dec
            .next_frame::<_, ClientFrame>(&mut [5u8, 0, 0].as_slice())
            .unwrap_err();
        assert!(
            err.is_disconnect() && !matches!(err, CodecError::Closed),
            "{err}"
        );
    }

    /// A stream that hands over at most `step` bytes a read.
    #[cfg(feature = "tokio")]
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    #[cfg(feature = "tokio")]
    impl tokio::io::AsyncRead for Trickle<'_> {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            let n = self.step.min(self.bytes.len()).min(buf.remaining());
            buf.put_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[cfg(feature = "tokio")]
    #[tokio::test]
    async fn frames_read_from_a_tokio_stream_come_out_whole_and_in_order() {
        let mut wire = Vec::new();
        let sizes = [10, 70_000, 3, 200_000, 5];
        for (id, &len) in sizes.iter().enumerate() {
            append_frame(&ping(id as u64, len), &mut wire).unwrap();
        }
        for step in [1, 7, 4096, 1 << 20] {
            let mut stream = Trickle { bytes: &wire, step };
            let mut dec = FrameDecoder::new(1 << 20).keeping(64 * 1024);
            for (id, &len) in sizes.iter().enumerate() {
                let frame: ClientFrame = dec.next_frame_async(&mut stream).await.unwrap();
                let ClientFrame::Request {
                    id: got,
                    request: Request::Ping { payload },
                } = frame
                else {
                    panic!("not a ping");
                };
                assert_eq!(
                    (got, payload),
                    (RequestId(id as u64), vec![7; len]),
                    "step {step}"
                );
            }
            let end = dec.next_frame_async::<_, ClientFrame>(&mut stream).await;
            assert!(matches!(end, Err(CodecError::Closed)), "step {step}");
        }
    }

    #[cfg(feature = "tokio")]
    #[tokio::test]
    async fn a_tokio_read_grows_the_buffer_with_the_bytes_not_the_announced_length() {
        let mut wire = vec![0, 0, 0xc0, 0x03];
        wire.extend([1; 100]);
        let mut stream = Trickle {
            bytes: &wire,
            step: 1 << 20,
        };
        let mut dec = FrameDecoder::new(64 << 20);
        while dec.read_from_async(&mut stream).await.is_ok() {}
        assert_eq!(dec.buffered(), 104);
        assert!(
            dec.capacity() <= 104 + READ_CHUNK_BYTES,
            "capacity {}",
            dec.capacity()
        );
    }
}
