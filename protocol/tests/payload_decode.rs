//! Message bytes are decoded by one copy out of the frame: no zeroed buffer
//! of the payload's size is made first (bincode does, for a field read as an
//! owned byte buffer). The allocator here counts zeroed allocations.

use smtp32_protocol::codec::{decode_body, encode_frame};
use smtp32_protocol::{ClientFrame, Handle, Request, RequestId, Submission};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting zeroed allocations of 64 KiB or more.
struct CountingZeroed;

static LARGE_ZEROED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on unchanged to the system allocator, which
// upholds GlobalAlloc's contract; the counter has no effect on memory.
unsafe impl GlobalAlloc for CountingZeroed {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout, as the caller gave it.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= 64 * 1024 {
            LARGE_ZEROED.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: the caller's layout, as the caller gave it.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator (that is, System) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingZeroed = CountingZeroed;

#[test]
fn a_data_chunk_is_decoded_without_a_zeroed_buffer() {
    let bytes: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let frame = ClientFrame::Request {
        id: RequestId(7),
        request: Request::DataChunk {
            handle: Handle::new(3).expect("a handle"),
            bytes: bytes.clone().into(),
        },
    };
    let mut wire = Vec::new();
    encode_frame(&frame, &mut wire).expect("encodes");
    let before = LARGE_ZEROED.load(Ordering::SeqCst);
    let decoded: ClientFrame = decode_body(&wire[4..]).expect("decodes");
    assert_eq!(
        LARGE_ZEROED.load(Ordering::SeqCst),
        before,
        "a zeroed buffer was made"
    );
    match decoded {
        ClientFrame::Request {
            request: Request::DataChunk { bytes: got, .. },
            ..
        } => assert!(got == bytes, "the bytes came through changed"),
        other => panic!("decoded as {other:?}"),
    }
}

#[test]
fn payloads_still_round_trip_through_json() {
    let submission = Submission {
        from: "a@example.org".into(),
        rcpts: vec!["b@example.org".into()],
        notify: String::new(),
        ret: String::new(),
        envid: String::new(),
        data: b"Subject: hi\r\n\r\nbody\r\n".to_vec(),
    };
    let json = serde_json::to_string(&submission).expect("to JSON");
    let back: Submission = serde_json::from_str(&json).expect("from JSON");
    assert_eq!(back, submission);
}
