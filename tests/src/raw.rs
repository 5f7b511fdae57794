//! A raw IPC client that speaks frames directly, for tests that break the protocol on purpose
//! or need a second client that knows nothing but a handle number.
//!
//! It uses the protocol crate's one codec; only [`RawClient::send_bytes`] writes bytes that are
//! not a valid frame.

use smtp32_protocol::codec::{read_frame, write_frame, CodecError};
use smtp32_protocol::{
    ClientFrame, DaemonFrame, Hello, Request, RequestId, Response, PROTOCOL_VERSION,
};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// The largest frame the raw client accepts from the daemon.
const MAX_IN: u32 = 64 * 1024 * 1024;

/// One raw connection to the daemon's socket.
pub struct RawClient {
    stream: UnixStream,
    scratch: Vec<u8>,
    next_id: u64,
}

impl RawClient {
    /// Connects without sending anything.
    pub fn connect(path: &Path) -> RawClient {
        let stream =
            UnixStream::connect(path).unwrap_or_else(|e| panic!("connect {}: {e}", path.display()));
        RawClient {
            stream,
            scratch: Vec::new(),
            next_id: 1,
        }
    }

    /// Connects and completes the handshake; panics unless the daemon answers `Welcome`.
    pub fn connect_hello(path: &Path) -> RawClient {
        let mut c = RawClient::connect(path);
        match c.hello(PROTOCOL_VERSION) {
            DaemonFrame::Welcome(_) => c,
            other => panic!("handshake refused: {other:?}"),
        }
    }

    /// Connects, shakes hands, pings and asks for the status, returning the daemon's PID, or why
    /// a step failed (for readiness polls).
    pub fn try_ready(path: &Path, timeout: Duration) -> Result<u32, String> {
        let stream = UnixStream::connect(path).map_err(|e| format!("connect: {e}"))?;
        let mut c = RawClient {
            stream,
            scratch: Vec::new(),
            next_id: 1,
        };
        let hello = Hello {
            protocol_version: PROTOCOL_VERSION,
            client_name: "smtp32-tests readiness".into(),
        };
        write_frame(&mut c.stream, &ClientFrame::Hello(hello), &mut c.scratch)
            .map_err(|e| format!("hello: {e}"))?;
        match c.recv(timeout) {
            Ok(DaemonFrame::Welcome(_)) => {}
            other => return Err(format!("handshake: {other:?}")),
        }
        let payload = b"ready?".to_vec();
        let ping = ClientFrame::Request {
            id: RequestId(0),
            request: Request::Ping {
                payload: payload.clone(),
            },
        };
        write_frame(&mut c.stream, &ping, &mut c.scratch).map_err(|e| format!("ping: {e}"))?;
        match c.recv(timeout) {
            Ok(DaemonFrame::Response {
                id: RequestId(0),
                response: Response::Pong { payload: p },
            }) if p == payload => {}
            other => return Err(format!("ping answered {other:?}")),
        }
        let status = ClientFrame::Request {
            id: RequestId(1),
            request: Request::Status,
        };
        write_frame(&mut c.stream, &status, &mut c.scratch).map_err(|e| format!("status: {e}"))?;
        match c.recv(timeout) {
            Ok(DaemonFrame::Response {
                id: RequestId(1),
                response: Response::Status(s),
            }) => Ok(s.pid),
            other => Err(format!("status answered {other:?}")),
        }
    }

    /// Sends `Hello` with `version` and returns the daemon's answer.
    pub fn hello(&mut self, version: u32) -> DaemonFrame {
        let hello = Hello {
            protocol_version: version,
            client_name: "smtp32-tests raw client".into(),
        };
        self.send(&ClientFrame::Hello(hello));
        self.recv(Duration::from_secs(10)).expect("answer to Hello")
    }

    /// Writes a frame.
    pub fn send(&mut self, frame: &ClientFrame) {
        write_frame(&mut self.stream, frame, &mut self.scratch).expect("write frame");
    }

    /// Writes bytes as they are (garbage, truncated frames); errors are returned, since the
    /// daemon may already have hung up.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Reads the next frame, waiting at most `timeout`.
    pub fn recv(&mut self, timeout: Duration) -> Result<DaemonFrame, CodecError> {
        self.stream
            .set_read_timeout(Some(timeout))
            .expect("set_read_timeout");
        read_frame(&mut self.stream, MAX_IN, &mut self.scratch)
    }

    /// Sends a request and returns its response, skipping events; panics after `timeout`.
    pub fn request(&mut self, request: Request, timeout: Duration) -> Response {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.send(&ClientFrame::Request { id, request });
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
            match self.recv(left) {
                Ok(DaemonFrame::Response { id: got, response }) if got == id => return response,
                Ok(DaemonFrame::Event(_)) => {}
                Ok(other) => {
                    panic!("unexpected frame while waiting for response {id:?}: {other:?}")
                }
                Err(e) => panic!("no response to request {id:?} within {timeout:?}: {e}"),
            }
        }
    }

    /// Waits until the daemon closes the stream, returning the frames it sent before closing.
    /// Panics if it is still open after `timeout`.
    pub fn expect_closed(&mut self, timeout: Duration) -> Vec<DaemonFrame> {
        let deadline = Instant::now() + timeout;
        let mut frames = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("daemon did not close the stream within {timeout:?}; it sent {frames:?}");
            }
            match self.recv(left) {
                Ok(f) => frames.push(f),
                Err(e) if e.is_disconnect() => return frames,
                Err(CodecError::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    panic!("daemon did not close the stream within {timeout:?}; it sent {frames:?}")
                }
                Err(e) => {
                    panic!("reading from the daemon failed oddly: {e}; frames so far {frames:?}")
                }
            }
        }
    }

    /// The underlying stream (e.g. to shut down one direction).
    pub fn stream(&self) -> &UnixStream {
        &self.stream
    }
}
