//! What an SMTP connection is doing, readable at any moment without asking
//! its actor: state, operation in flight, byte counts, last reply code and
//! the recent traffic window.
//!
//! The session actor writes it as its dialogue moves on; its traffic tap
//! feeds the bytes from inside the operation's future; the registry keeps
//! an `Arc` of it for the admin listing, so `smtp32ctl connections` never
//! waits behind an actor. Everything sits behind one short-held mutex.

mod traffic_log;

use crate::peer::Peer;
use crate::stats::Totals;
use smtp32_protocol::{
    ConnectionDetail, ConnectionInfo, ConnectionState, Direction, Handle, InFlight,
};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use traffic_log::TrafficLog;

/// What an operation in flight does, as `smtp32ctl` shows it. Counts stay
/// numbers until someone looks (a `format!` per message was an allocation
/// per request); no larger than the `Cow<str>` it replaced, as every
/// connection's record holds one (W5 counts them).
#[derive(Debug)]
pub enum Doing {
    /// A fixed name: `NOOP`, `connect`, `STARTTLS`.
    Named(&'static str),
    /// A name made at run time (the verb of an `smtp_direct` line).
    Text(Box<str>),
    /// A chunk of a message's data, in bytes.
    Chunk(usize),
    /// A whole message (`sendmsg`).
    Send { rcpts: u32, bytes: usize },
    /// The envelope of a streamed message of `size` bytes.
    Envelope { rcpts: u32, size: u64 },
    /// The envelope of a streamed message of unknown size.
    EnvelopeUnsized { rcpts: u32 },
    /// A batch of messages (`send_many`).
    Batch { messages: u32, bytes: usize },
}

/// A count for [`Doing`], which keeps it in 32 bits (saturating: it is only shown).
pub fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl From<&'static str> for Doing {
    fn from(name: &'static str) -> Doing {
        Doing::Named(name)
    }
}

impl std::fmt::Display for Doing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Doing::Named(name) => f.write_str(name),
            Doing::Text(name) => f.write_str(name),
            Doing::Chunk(bytes) => write!(f, "DATA chunk ({bytes} bytes)"),
            Doing::Send { rcpts, bytes } => {
                write!(f, "SENDMSG ({rcpts} recipients, {bytes} bytes)")
            }
            Doing::Envelope { rcpts, size } => {
                write!(f, "SENDMSG envelope ({rcpts} recipients, {size} bytes)")
            }
            Doing::EnvelopeUnsized { rcpts } => {
                write!(f, "SENDMSG envelope ({rcpts} recipients, size unknown)")
            }
            Doing::Batch { messages, bytes } => {
                write!(f, "SENDBATCH ({messages} messages, {bytes} bytes)")
            }
        }
    }
}

/// The live record of one connection.
#[derive(Debug)]
pub struct Activity {
    handle: Handle,
    owner: Peer,
    // Boxed strs, not Strings: a record per connection, 16 bytes less each
    // (W5 counts them).
    server: Box<str>,
    local: Box<str>,
    opened: Instant,
    totals: Arc<Totals>,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: ConnectionState,
    /// What is in flight and since when.
    in_flight: Option<(Doing, Instant)>,
    last_traffic: Instant,
    bytes_in: u64,
    bytes_out: u64,
    timeout_secs: u16,
    debug: bool,
    log: TrafficLog,
    tls: Option<String>,
}

impl Activity {
    /// A record for a connection to `server` that starts connecting now.
    pub fn new(
        handle: Handle,
        owner: Peer,
        server: String,
        local: String,
        timeout_secs: u16,
        debug: bool,
        totals: Arc<Totals>,
    ) -> Activity {
        let now = Instant::now();
        Activity {
            handle,
            owner,
            server: server.into_boxed_str(),
            local: local.into_boxed_str(),
            opened: now,
            totals,
            inner: Mutex::new(Inner {
                state: ConnectionState::Connecting,
                in_flight: Some((Doing::Named("connect"), now)),
                last_traffic: now,
                bytes_in: 0,
                bytes_out: 0,
                timeout_secs,
                debug,
                log: TrafficLog::new(),
                tls: None,
            }),
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // Every update is a few plain assignments: a poisoned lock holds consistent data.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connection's handle.
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// The client that opened the connection.
    pub fn owner(&self) -> Peer {
        self.owner
    }

    /// Records how long the server took to reply.
    pub fn replied_after(&self, waited: std::time::Duration) {
        self.totals.observed.replied_after(waited);
    }

    /// Records bytes that crossed the connection at `now`.
    pub fn traffic(&self, direction: Direction, bytes: &[u8], now: Instant) {
        self.count(direction, bytes, now)
            .log
            .record(direction, bytes, now);
    }

    /// [`traffic`](Self::traffic) of one whole line, its LF included.
    pub fn line(&self, direction: Direction, line: &[u8], now: Instant) {
        self.count(direction, line, now)
            .log
            .record_line(direction, line, now);
    }

    /// Counts `bytes` that crossed the connection at `now`; the record, locked.
    fn count(&self, direction: Direction, bytes: &[u8], now: Instant) -> MutexGuard<'_, Inner> {
        match direction {
            Direction::ToServer => self.totals.sent(bytes.len()),
            Direction::FromServer => self.totals.received(bytes.len()),
        }
        let mut inner = self.inner();
        inner.last_traffic = now;
        match direction {
            Direction::ToServer => inner.bytes_out += bytes.len() as u64,
            Direction::FromServer => inner.bytes_in += bytes.len() as u64,
        }
        inner
    }

    /// An operation called `what` starts `now` (the caller's clock read).
    pub fn begin(&self, what: impl Into<Doing>, now: Instant) {
        self.inner().in_flight = Some((what.into(), now));
    }

    /// Gives back the slack of the traffic window (after the connect, when
    /// the connection may sit idle for long).
    pub fn compact(&self) {
        self.inner().log.compact();
    }

    /// The operation in flight ended; the dialogue is now in `state`. (The
    /// last reply code comes from the traffic itself, so a 354 inside a data
    /// step counts too.)
    pub fn end(&self, state: ConnectionState) {
        let mut inner = self.inner();
        inner.in_flight = None;
        inner.state = state;
    }

    /// The dialogue moved to `state` without an operation ending (closing).
    pub fn set_state(&self, state: ConnectionState) {
        self.inner().state = state;
    }

    /// The connection's timeout changed.
    pub fn set_timeout(&self, secs: u16) {
        self.inner().timeout_secs = secs;
    }

    /// TLS came up (version and cipher suite), or `None`: cleartext.
    pub fn set_tls(&self, description: Option<String>) {
        self.inner().tls = description;
    }

    /// Traffic copies to the owner were switched on or off.
    pub fn set_debug(&self, on: bool) {
        self.inner().debug = on;
    }

    /// Where the dialogue stands now.
    pub fn state(&self) -> ConnectionState {
        self.inner().state
    }

    /// True while work is under way that a graceful shutdown waits for: an
    /// operation in flight, a connect, or an open mail transaction.
    pub fn is_busy(&self) -> bool {
        let inner = self.inner();
        inner.in_flight.is_some()
            || matches!(
                inner.state,
                ConnectionState::Connecting
                    | ConnectionState::InTransaction
                    | ConnectionState::InData
            )
    }

    /// True while the connection is inside an AUTH exchange (its traffic says so).
    pub fn in_auth_exchange(&self) -> bool {
        self.inner().log.in_auth_exchange()
    }

    /// The row for `smtp32ctl connections`.
    pub fn info(&self) -> ConnectionInfo {
        let inner = self.inner();
        self.info_of(&inner)
    }

    /// The detail for `smtp32ctl show`.
    pub fn detail(&self) -> ConnectionDetail {
        let inner = self.inner();
        ConnectionDetail {
            info: self.info_of(&inner),
            local: self.local.to_string(),
            timeout_secs: inner.timeout_secs,
            debug: inner.debug,
            traffic: inner.log.lines(self.opened),
            traffic_dropped: inner.log.dropped(),
        }
    }

    fn info_of(&self, inner: &Inner) -> ConnectionInfo {
        let millis = |since: Instant| since.elapsed().as_millis() as u64;
        ConnectionInfo {
            handle: self.handle,
            owner_pid: self.owner.pid,
            owner_uid: self.owner.uid.map(crate::platform::wire_uid),
            server: self.server.to_string(),
            state: inner.state,
            in_flight: inner.in_flight.as_ref().map(|(operation, since)| InFlight {
                operation: operation.to_string(),
                millis: millis(*since),
            }),
            age_millis: millis(self.opened),
            idle_millis: millis(inner.last_traffic),
            bytes_in: inner.bytes_in,
            bytes_out: inner.bytes_out,
            tls: inner.tls.clone(),
            last_reply_code: inner.log.last_reply_code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_in_flight_costs_no_more_than_a_cow_str() {
        assert!(
            std::mem::size_of::<Doing>() <= std::mem::size_of::<std::borrow::Cow<'static, str>>()
        );
        let shown = |d: Doing| d.to_string();
        assert_eq!(shown(Doing::Chunk(7)), "DATA chunk (7 bytes)");
        assert_eq!(
            shown(Doing::Send {
                rcpts: 2,
                bytes: 10
            }),
            "SENDMSG (2 recipients, 10 bytes)"
        );
        assert_eq!(
            shown(Doing::EnvelopeUnsized { rcpts: 1 }),
            "SENDMSG envelope (1 recipients, size unknown)"
        );
    }

    #[test]
    fn follows_a_connection() {
        let totals = Arc::new(Totals::default());
        let peer = Peer {
            pid: Some(7),
            uid: Some(crate::platform::test_user(1000)),
            gid: Some(1000),
        };
        let a = Activity::new(
            Handle::new(9).unwrap(),
            peer,
            "mx:25".into(),
            "me".into(),
            20,
            false,
            totals.clone(),
        );
        assert!(a.is_busy());
        a.traffic(Direction::FromServer, b"220 hi\r\n", Instant::now());
        a.end(ConnectionState::Ready);
        assert!(!a.is_busy());
        a.begin("MAIL", Instant::now());
        a.traffic(Direction::ToServer, b"MAIL FROM:<a@b>\r\n", Instant::now());
        let row = a.info();
        assert_eq!(
            row.in_flight.as_ref().map(|f| f.operation.as_str()),
            Some("MAIL")
        );
        assert_eq!(
            (row.bytes_in, row.bytes_out, row.owner_uid),
            (8, 17, Some(1000))
        );
        a.end(ConnectionState::InTransaction);
        let d = a.detail();
        assert_eq!(d.info.last_reply_code, Some(220));
        assert_eq!(d.traffic.len(), 2);
        assert!(a.is_busy(), "an open transaction is work in progress");
        assert_eq!(totals.bytes_sent(), 17);
    }
}
