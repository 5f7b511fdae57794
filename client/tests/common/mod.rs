//! A scripted stand-in for smtp32d: speaks the real wire protocol on a
//! private socket and answers each request through a test-supplied script.
//! It lets the client's routing, callbacks and failure paths be tested
//! without the daemon; the real daemon is exercised by the workspace `tests/`.

#![allow(dead_code)]

use interprocess::local_socket::prelude::*;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, Stream};
use smtp32_protocol::codec::{read_frame, write_frame, MAX_MAX_FRAME_BYTES};
use smtp32_protocol::*;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

/// What the script wants after handling a request.
pub enum Next {
    /// Keep serving.
    Continue,
    /// Close the stream (the daemon "dies").
    Close,
}

/// The daemon side of one client stream.
pub struct Peer {
    stream: Stream,
    scratch: Vec<u8>,
}

impl Peer {
    pub fn send(&mut self, frame: DaemonFrame) {
        let mut w = &self.stream;
        write_frame(&mut w, &frame, &mut self.scratch).expect("fake daemon write");
    }
    pub fn respond(&mut self, id: RequestId, response: Response) {
        self.send(DaemonFrame::Response { id, response });
    }
    pub fn event(&mut self, event: Event) {
        self.send(DaemonFrame::Event(event));
    }
    pub fn traffic(&mut self, handle: Handle, direction: Direction, bytes: &[u8]) {
        self.event(Event::Traffic {
            handle,
            direction,
            bytes: bytes.to_vec(),
        });
    }
}

/// A fake daemon serving one client.
pub struct FakeDaemon {
    pub path: PathBuf,
    _dir: tempfile::TempDir,
    /// Every request received, in order.
    pub requests: mpsc::Receiver<Request>,
}

pub fn h(raw: u32) -> Handle {
    Handle::new(raw).unwrap()
}

pub fn reply(code: u16, text: &str) -> Reply {
    Reply {
        code,
        lines: [text.to_owned()].into(),
    }
}

/// Starts a fake daemon; `hello` decides the handshake answer (None: Welcome).
pub fn start_with(
    max_frame_bytes: u32,
    refuse: Option<&'static str>,
    mut script: impl FnMut(&mut Peer, RequestId, Request) -> Next + Send + 'static,
) -> FakeDaemon {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fake.sock");
    let listener = ListenerOptions::new()
        .name(path.clone().to_fs_name::<GenericFilePath>().unwrap())
        .create_sync()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let stream = listener.accept().unwrap();
        let mut peer = Peer {
            stream,
            scratch: Vec::new(),
        };
        let mut rscratch = Vec::new();
        let mut r = &peer.stream;
        let hello: ClientFrame = read_frame(&mut r, MAX_MAX_FRAME_BYTES, &mut rscratch).unwrap();
        assert!(matches!(
            hello,
            ClientFrame::Hello(Hello {
                protocol_version: PROTOCOL_VERSION,
                ..
            })
        ));
        if let Some(reason) = refuse {
            peer.send(DaemonFrame::Refused {
                protocol_version: PROTOCOL_VERSION,
                reason: reason.into(),
            });
            return;
        }
        peer.send(DaemonFrame::Welcome(Welcome {
            protocol_version: PROTOCOL_VERSION,
            daemon_version: "fake".into(),
            max_frame_bytes,
        }));
        loop {
            let mut r = &peer.stream;
            let frame: ClientFrame = match read_frame(&mut r, MAX_MAX_FRAME_BYTES, &mut rscratch) {
                Ok(f) => f,
                Err(_) => return,
            };
            let ClientFrame::Request { id, request } = frame else {
                panic!("second Hello")
            };
            let _ = tx.send(request.clone());
            if let Next::Close = script(&mut peer, id, request) {
                return;
            }
        }
    });
    FakeDaemon {
        path,
        _dir: dir,
        requests: rx,
    }
}

/// A fake daemon with the default frame limit that accepts the handshake.
pub fn start(
    script: impl FnMut(&mut Peer, RequestId, Request) -> Next + Send + 'static,
) -> FakeDaemon {
    start_with(codec::DEFAULT_MAX_FRAME_BYTES, None, script)
}

/// Runs `f` on a thread and fails the test if it takes longer than `secs`.
pub fn watchdog<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("worker ended without a result"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test timed out after {secs} s (watchdog)"),
    }
}
