//! The async client (cargo feature `tokio`, Unix): [`AsyncClient`] and
//! [`AsyncConnection`], the handle API of [`Client`](crate::Client) and
//! [`Connection`](crate::Connection) on tokio's own Unix socket.
//!
//! Every call is a request pipelined on one daemon connection: calls from
//! many tasks (on many handles) are in flight at once, and no call takes a
//! thread (see `asynchronous/link.rs`). The socket is trusted by the same
//! rules as [`Client::connect`](crate::Client::connect): nothing is sent to
//! it before they pass.
//!
//! **Cancel on drop.** Dropping the future of a call in flight on a handle
//! (a `tokio::time::timeout` that fires, a `select!` that picks another
//! branch) sends `XQuit` for the handle: the daemon stops the operation
//! within 100 ms and closes the SMTP connection, and every later call on the
//! handle fails with `Aborted`. So a timeout around a call leaves no command
//! running. Dropping an `helo` before it returned closes the new handle as
//! soon as the daemon reports it, which is when its connect has ended (the
//! handle is not known before); a connect that must be cancellable while it
//! runs is an `xhelo`, cancelled with [`AsyncConnection::xquit`].
//!
//! Callbacks (debug traffic, `xhelo` status) run on the runtime thread that
//! runs the client's reader task; they must return quickly.

mod connection;
mod link;
mod send;
mod writer;

pub use connection::AsyncConnection;

use crate::callbacks::{DebugCallback, HandleEntry, StatusCallback};
use crate::client::{hello, untrusted, welcome, HANDSHAKE_TIMEOUT};
use crate::connection::open_request;
use crate::error::{unexpected, Error, Result};
use link::{Link, Target};
use smtp32_protocol::codec::{encode_frame, FrameDecoder, MAX_MAX_FRAME_BYTES};
use smtp32_protocol::endpoint::client_socket_path;
use smtp32_protocol::endpoint::trust::check_socket_path;
use smtp32_protocol::{
    DaemonFrame, DaemonStatus, OpenMode, Request, Response, ReturnCode, Welcome,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

/// A connection to the smtp32d daemon for async programs. Cheap to clone;
/// all clones (and the [`AsyncConnection`]s made from them) share one
/// daemon connection, closed when the last of them is dropped. Made inside
/// a tokio runtime (it spawns its reader and flush tasks there).
#[derive(Clone)]
pub struct AsyncClient {
    inner: Arc<Inner>,
}

struct Inner {
    link: Link,
    daemon_version: String,
    max_frame_bytes: u32,
    socket_path: PathBuf,
}

impl std::fmt::Debug for AsyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncClient")
            .field("socket", &self.inner.socket_path)
            .field("daemon_version", &self.inner.daemon_version)
            .field("alive", &self.is_alive())
            .finish()
    }
}

impl AsyncClient {
    /// See [`Client::connect`](crate::Client::connect): the same trust
    /// checks (the socket's path and owner before connecting, the daemon's
    /// uid after), then the version handshake.
    pub async fn connect(path: impl AsRef<Path>) -> Result<AsyncClient> {
        let path = path.as_ref().to_path_buf();
        let unreachable = |e: &dyn std::fmt::Display| {
            Error::cannot_initialize(format!("cannot reach smtp32d at {}: {e}", path.display()))
        };
        // Nothing is sent to a socket that another user could have planted.
        let trusted = check_socket_path(&path).map_err(untrusted)?;
        let stream = UnixStream::connect(&path)
            .await
            .map_err(|e| unreachable(&e))?;
        trusted
            .check_daemon(stream.peer_cred().ok().map(|c| c.uid()))
            .map_err(untrusted)?;
        let (reader, writer, decoder, welcome) =
            tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(stream))
                .await
                .map_err(|_| unreachable(&"no answer to the handshake"))?
                .map_err(|e| unreachable(&e))?;
        // Never more than the protocol allows; never more than the daemon said.
        let max_frame_bytes = welcome.max_frame_bytes.min(MAX_MAX_FRAME_BYTES);
        let link = Link::start(reader, writer, decoder, max_frame_bytes);
        let inner = Inner {
            link,
            daemon_version: welcome.daemon_version,
            max_frame_bytes,
            socket_path: path,
        };
        Ok(AsyncClient {
            inner: Arc::new(inner),
        })
    }

    /// See [`Client::connect_default`](crate::Client::connect_default).
    pub async fn connect_default() -> Result<AsyncClient> {
        AsyncClient::connect(client_socket_path()).await
    }

    /// The daemon's package version, from the handshake.
    pub fn daemon_version(&self) -> &str {
        &self.inner.daemon_version
    }

    /// The socket path this client connected to.
    pub fn socket_path(&self) -> &Path {
        &self.inner.socket_path
    }

    /// The largest frame body the daemon accepts.
    pub fn max_frame_bytes(&self) -> u32 {
        self.inner.max_frame_bytes
    }

    /// False once the daemon connection is lost (make a new client).
    pub fn is_alive(&self) -> bool {
        self.inner.link.dead_reason().is_none()
    }

    /// See [`Client::ping`](crate::Client::ping).
    pub async fn ping(&self, payload: &[u8]) -> Result<Duration> {
        let start = Instant::now();
        match self
            .call(Request::Ping {
                payload: payload.to_vec(),
            })
            .await?
        {
            Response::Pong { payload: echo } if echo == payload => Ok(start.elapsed()),
            Response::Pong { .. } => Err(Error::new(
                ReturnCode::Failure,
                "ping payload came back altered",
            )),
            other => Err(unexpected(other)),
        }
    }

    /// See [`Client::status`](crate::Client::status).
    pub async fn status(&self) -> Result<DaemonStatus> {
        match self.call(Request::Status).await? {
            Response::Status(s) => Ok(*s),
            other => Err(unexpected(other)),
        }
    }

    /// See [`Client::helo`](crate::Client::helo).
    pub async fn helo(
        &self,
        host: &str,
        local: &str,
        debug: Option<DebugCallback>,
    ) -> Result<AsyncConnection> {
        self.open(host, local, OpenMode::Sync, debug, None).await
    }

    /// See [`Client::xhelo`](crate::Client::xhelo): `status` runs on the
    /// runtime thread of the reader task.
    pub async fn xhelo(
        &self,
        host: &str,
        local: &str,
        debug: Option<DebugCallback>,
        status: StatusCallback,
    ) -> Result<AsyncConnection> {
        self.open(host, local, OpenMode::Async, debug, Some(status))
            .await
    }

    /// See [`Client::open_relay`](crate::Client::open_relay).
    pub async fn open_relay(&self, debug: Option<DebugCallback>) -> Result<AsyncConnection> {
        let entry = HandleEntry::new(debug, None);
        let request = Request::OpenRelay {
            debug: entry.debug().is_some(),
        };
        self.opened(request, entry).await
    }

    async fn open(
        &self,
        host: &str,
        local: &str,
        mode: OpenMode,
        debug: Option<DebugCallback>,
        status: Option<StatusCallback>,
    ) -> Result<AsyncConnection> {
        let (request, entry) = open_request(host, local, mode, debug, status)?;
        self.opened(request, entry).await
    }

    async fn opened(&self, request: Request, entry: Arc<HandleEntry>) -> Result<AsyncConnection> {
        match self
            .inner
            .link
            .call(request, Target::Opening(entry.clone()))
            .await?
        {
            Response::Opened { handle } => Ok(AsyncConnection::new(self.clone(), handle, entry)),
            other => Err(unexpected(other)),
        }
    }

    async fn call(&self, request: Request) -> Result<Response> {
        self.inner.link.call(request, Target::Daemon).await
    }

    pub(crate) fn link(&self) -> &Link {
        &self.inner.link
    }

    /// The largest message slice sent in one `DataChunk` request.
    pub(crate) fn chunk_limit(&self) -> usize {
        crate::data::chunk_limit(self.inner.max_frame_bytes)
    }
}

type Halves = (
    tokio::net::unix::OwnedReadHalf,
    tokio::net::unix::OwnedWriteHalf,
    FrameDecoder,
    Welcome,
);

/// Sends `Hello` and reads the answer with the codec's decoder, which keeps
/// whatever came after it for the reader task.
async fn handshake(stream: UnixStream) -> std::result::Result<Halves, String> {
    let (mut reader, mut writer) = stream.into_split();
    let mut bytes = Vec::new();
    encode_frame(&hello(), &mut bytes).map_err(|e| e.to_string())?;
    writer.write_all(&bytes).await.map_err(|e| e.to_string())?;
    let mut decoder = FrameDecoder::new(MAX_MAX_FRAME_BYTES);
    let answer: DaemonFrame = loop {
        if let Some(frame) = decoder.parse().map_err(|e| e.to_string())? {
            break frame;
        }
        decoder
            .read_from_async(&mut reader)
            .await
            .map_err(|e| e.to_string())?;
    };
    Ok((reader, writer, decoder, welcome(answer)?))
}
