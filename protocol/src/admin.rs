//! What the admin requests (`ListConnections`, `ShowConnection`) report about
//! SMTP connections: the rows of `smtp32ctl connections` and the detail of
//! `smtp32ctl show`.
//!
//! Who sees what is the daemon's business: a client sees the connections of
//! its own uid; root, the daemon's own user and members of the configured
//! `admin_group` see all of them.

use crate::event::Direction;
use crate::ids::Handle;
use serde::{Deserialize, Serialize};

/// Where an SMTP connection stands in its dialogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConnectionState {
    /// Connecting, reading the greeting or saying EHLO/HELO.
    Connecting,
    /// Connected, no mail transaction open.
    Ready,
    /// `MAIL` accepted: recipients and data may follow.
    InTransaction,
    /// `DATA` accepted: message bytes are being sent.
    InData,
    /// QUIT or a close is under way.
    Closing,
    /// The TCP connection is gone (timeout, cancel, I/O error); the handle waits to be freed.
    Lost,
    /// Ended by `smtp_quit` and kept warm in the daemon's connection cache for
    /// the next open with the same key; listed under the handle it last had.
    Cached,
}

impl ConnectionState {
    /// Every state, in declaration order.
    pub const ALL: [ConnectionState; 7] = [
        ConnectionState::Connecting,
        ConnectionState::Ready,
        ConnectionState::InTransaction,
        ConnectionState::InData,
        ConnectionState::Closing,
        ConnectionState::Lost,
        ConnectionState::Cached,
    ];

    /// The lower-case name `smtp32ctl` prints, e.g. `in-transaction`.
    pub fn name(self) -> &'static str {
        match self {
            ConnectionState::Connecting => "connecting",
            ConnectionState::Ready => "ready",
            ConnectionState::InTransaction => "in-transaction",
            ConnectionState::InData => "in-data",
            ConnectionState::Closing => "closing",
            ConnectionState::Lost => "lost",
            ConnectionState::Cached => "cached",
        }
    }
}

/// The operation running on a connection now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    /// What runs, e.g. `connect`, `RCPT`, `DATA chunk`, `end of data`, `QUIT`.
    pub operation: String,
    /// For how long, in milliseconds.
    pub millis: u64,
}

/// One row of the connection listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    /// The connection's handle.
    pub handle: Handle,
    /// Process id of the client that opened it, when the socket told.
    pub owner_pid: Option<u32>,
    /// User id of that client, when the socket told.
    pub owner_uid: Option<u32>,
    /// The SMTP server as `host:port` (`[v6]:port` for IPv6 literals).
    pub server: String,
    /// Where the dialogue stands.
    pub state: ConnectionState,
    /// The operation in flight, if any.
    pub in_flight: Option<InFlight>,
    /// Milliseconds since the connection was opened.
    pub age_millis: u64,
    /// Milliseconds since the last byte crossed the connection, or since it was opened.
    pub idle_millis: u64,
    /// Bytes read from the server.
    pub bytes_in: u64,
    /// Bytes written to the server.
    pub bytes_out: u64,
    /// The TLS version in use (`TLSv1.3`), `None` for plain text.
    pub tls: Option<String>,
    /// The code of the last complete reply from the server.
    pub last_reply_code: Option<u16>,
}

/// One line of recent traffic, as `smtp32ctl show` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficLine {
    /// Milliseconds after the connection was opened.
    pub at_millis: u64,
    /// Which way it went.
    pub direction: Direction,
    /// The line without CRLF, lossily decoded. AUTH arguments and the lines of
    /// an AUTH exchange are `[redacted]`; message content is summarised as
    /// `[message data: N bytes]`; long lines are cut.
    pub text: String,
}

/// One connection in detail: its row plus settings and recent traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionDetail {
    /// The same row `ListConnections` shows.
    pub info: ConnectionInfo,
    /// The name sent in EHLO/HELO.
    pub local: String,
    /// The connection's timeout in seconds.
    pub timeout_secs: u16,
    /// Whether traffic copies go to the owner now.
    pub debug: bool,
    /// The most recent lines, oldest first (a bounded window).
    pub traffic: Vec<TrafficLine>,
    /// Lines that fell out of the window since the connection opened.
    pub traffic_dropped: u64,
}

/// Connections open now, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    /// In [`ConnectionState::Connecting`].
    pub connecting: u32,
    /// In [`ConnectionState::Ready`].
    pub ready: u32,
    /// In [`ConnectionState::InTransaction`].
    pub in_transaction: u32,
    /// In [`ConnectionState::InData`].
    pub in_data: u32,
    /// In [`ConnectionState::Closing`].
    pub closing: u32,
    /// In [`ConnectionState::Lost`].
    pub lost: u32,
    /// In [`ConnectionState::Cached`] (idle in the connection cache).
    pub cached: u32,
}

impl StateCounts {
    /// Counts one more connection in `state`.
    pub fn add(&mut self, state: ConnectionState) {
        let slot = match state {
            ConnectionState::Connecting => &mut self.connecting,
            ConnectionState::Ready => &mut self.ready,
            ConnectionState::InTransaction => &mut self.in_transaction,
            ConnectionState::InData => &mut self.in_data,
            ConnectionState::Closing => &mut self.closing,
            ConnectionState::Lost => &mut self.lost,
            ConnectionState::Cached => &mut self.cached,
        };
        *slot = slot.saturating_add(1);
    }

    /// The count for `state`.
    pub fn get(&self, state: ConnectionState) -> u32 {
        match state {
            ConnectionState::Connecting => self.connecting,
            ConnectionState::Ready => self.ready,
            ConnectionState::InTransaction => self.in_transaction,
            ConnectionState::InData => self.in_data,
            ConnectionState::Closing => self.closing,
            ConnectionState::Lost => self.lost,
            ConnectionState::Cached => self.cached,
        }
    }
}

/// How many requests failed with one SMTP-32 return code since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCount {
    /// The return code's C value, e.g. -4 for `SMTP_TIMED_OUT`.
    pub code: i32,
    /// How many times.
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::body_of as body;

    #[test]
    fn counts_follow_states() {
        let mut c = StateCounts::default();
        for s in ConnectionState::ALL {
            c.add(s);
        }
        c.add(ConnectionState::InData);
        assert!(ConnectionState::ALL
            .iter()
            .all(|&s| c.get(s) == if s == ConnectionState::InData { 2 } else { 1 }));
        assert_eq!(ConnectionState::InTransaction.name(), "in-transaction");
    }

    /// The variant indices PROTOCOL.md gives for the admin additions.
    #[test]
    fn documented_variant_indices() {
        use crate::{Failure, Request, Response};
        let h = Handle::new(5).unwrap();
        assert_eq!(body(&Request::ListConnections), [12]);
        assert_eq!(body(&Request::ShowConnection { handle: h }), [13, 5]);
        assert_eq!(body(&Request::CloseConnection { handle: h }), [14, 5]);
        assert_eq!(body(&Request::Reload), [15]);
        assert_eq!(body(&Request::Shutdown), [16]);
        assert_eq!(body(&Response::Connections(vec![])), [7, 0]);
        assert_eq!(body(&Failure::ShuttingDown), [13]);
        assert_eq!(body(&Failure::NotPermitted("x".into())), [14, 1, b'x']);
        assert_eq!(
            Failure::ShuttingDown.code(),
            crate::ReturnCode::CannotInitialize
        );
        assert_eq!(body(&ErrorCount { code: -4, count: 1 }), [7, 1]);
    }
}
