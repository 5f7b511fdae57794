//! The daemon's metrics in the OpenMetrics text format, for `smtp32ctl metrics`
//! (`Request::Metrics`) and the optional scrape listener ([`listener`]).
//!
//! Two kinds of figure: what is observed as it happens ([`Observed`]: requests by verb and
//! result, the latency of each request inside the daemon and of each SMTP reply), kept in
//! `prometheus-client` metrics; and what is read at scrape time ([`render`]: connections by
//! state, clients, messages, bytes, the connection cache, the queue), taken from the same
//! sources as `smtp32ctl status`. Names start with `smtp32_`; every text ends in `# EOF`.

pub mod listener;

use crate::state::DaemonState;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use smtp32_protocol::{Command, ConnectionState, Request, Response};
use std::time::Duration;

/// A request's verb and its result: `ok`, or the name of the SMTP-32 return code it failed with.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    verb: &'static str,
    result: &'static str,
}

/// A request's verb.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Verb {
    verb: &'static str,
}

/// A connection state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct State {
    state: &'static str,
}

type Histograms = Family<Verb, Histogram, fn() -> Histogram>;

/// Request latencies inside the daemon: 100 µs to about 13 s.
fn request_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}

/// What is counted and timed as it happens; shared by the router and the sessions' taps.
#[derive(Debug)]
pub struct Observed {
    operations: Family<Outcome, Counter>,
    requests: Histograms,
    replies: Histogram,
}

impl Default for Observed {
    fn default() -> Observed {
        Observed {
            operations: Family::default(),
            requests: Family::new_with_constructor(request_histogram),
            // SMTP replies: 1 ms to about 65 s.
            replies: Histogram::new(exponential_buckets(0.001, 2.0, 17)),
        }
    }
}

impl Observed {
    /// Counts one request of `verb` answered by `response` after `took` in the daemon.
    pub fn served(&self, verb: &'static str, response: &Response, took: Duration) {
        let result = match response {
            Response::Failed(f) => f.code().name(),
            _ => "ok",
        };
        self.operations
            .get_or_create(&Outcome { verb, result })
            .inc();
        self.requests
            .get_or_create(&Verb { verb })
            .observe(took.as_secs_f64());
    }

    /// Times one SMTP reply: from the command written to the reply read.
    pub fn replied_after(&self, waited: Duration) {
        self.replies.observe(waited.as_secs_f64());
    }
}

/// The verb a request is counted under: the SMTP verb for a command, else the request's name.
pub fn verb(request: &Request) -> &'static str {
    match request {
        Request::Command { command, .. } => match command {
            Command::Mail { .. } => "mail",
            Command::Send { .. } => "send",
            Command::Soml { .. } => "soml",
            Command::Saml { .. } => "saml",
            Command::Rcpt { .. } => "rcpt",
            Command::Noop => "noop",
            Command::Rset => "rset",
            Command::Vrfy { .. } => "vrfy",
            Command::Expn { .. } => "expn",
            Command::Help { .. } => "help",
            Command::Turn => "turn",
            Command::Direct { .. } => "direct",
        },
        Request::Ping { .. } => "ping",
        Request::Status => "status",
        Request::Open { .. } => "open",
        Request::DataChunk { .. } => "data_chunk",
        Request::DataEnd { .. } => "data_end",
        Request::LastReply { .. } => "last_reply",
        Request::SetTimeout { .. } => "set_timeout",
        Request::SetDebug { .. } => "set_debug",
        Request::Quit { .. } => "quit",
        Request::XQuit { .. } => "xquit",
        Request::OpenViaSocks { .. } => "open_via_socks",
        Request::ListConnections => "list_connections",
        Request::ShowConnection { .. } => "show_connection",
        Request::CloseConnection { .. } => "close_connection",
        Request::Reload => "reload",
        Request::Shutdown => "shutdown",
        Request::StartTls { .. } => "starttls",
        Request::Auth { .. } => "auth",
        Request::Extensions { .. } => "extensions",
        Request::SendMessage { .. } => "send_message",
        Request::SendBegin { .. } => "send_begin",
        Request::OpenRelay { .. } => "open_relay",
        Request::SendBatch { .. } => "send_batch",
        Request::QueueSubmit(_) => "queue_submit",
        Request::QueueList => "queue_list",
        Request::QueueFlush { .. } => "queue_flush",
        Request::QueueDelete { .. } => "queue_delete",
        Request::Metrics => "metrics",
    }
}

fn counter(n: u64) -> ConstCounter<u64> {
    ConstCounter::new(n)
}

fn gauge(n: u64) -> Gauge {
    let g = Gauge::default();
    g.set(i64::try_from(n).unwrap_or(i64::MAX));
    g
}

/// The exposition of every figure, now.
pub fn render(state: &DaemonState) -> String {
    let mut r = Registry::with_prefix("smtp32");
    let observed = &state.totals.observed;
    r.register(
        "operations",
        "Requests answered, by verb and result (ok, or the SMTP-32 return code's name)",
        observed.operations.clone(),
    );
    r.register_with_unit(
        "ipc_request_duration",
        "Time from a request read to its response queued, by verb",
        Unit::Seconds,
        observed.requests.clone(),
    );
    r.register_with_unit(
        "smtp_reply_duration",
        "Time from a command written to an SMTP server to its reply read",
        Unit::Seconds,
        observed.replies.clone(),
    );

    let by_state = Family::<State, Gauge>::default();
    for s in ConnectionState::ALL {
        by_state.get_or_create(&State { state: s.name() }).set(0);
    }
    for activity in state.registry.all_activities() {
        by_state
            .get_or_create(&State {
                state: activity.state().name(),
            })
            .inc();
    }
    let cache = state.cache.status();
    by_state
        .get_or_create(&State {
            state: ConnectionState::Cached.name(),
        })
        .set(cache.idle.into());
    r.register(
        "connections",
        "SMTP connections by state (cached: idle in the connection cache)",
        by_state,
    );
    r.register(
        "clients",
        "Programs connected to the daemon",
        gauge(state.clients().into()),
    );
    r.register(
        "connections_opened",
        "SMTP connections opened since start",
        counter(state.registry.opened()),
    );
    r.register(
        "messages_accepted",
        "Messages whose final dot a server accepted",
        counter(state.totals.messages_accepted()),
    );
    r.register_with_unit(
        "smtp_sent",
        "Bytes written to SMTP servers",
        Unit::Bytes,
        counter(state.totals.bytes_sent()),
    );
    r.register_with_unit(
        "smtp_received",
        "Bytes read from SMTP servers",
        Unit::Bytes,
        counter(state.totals.bytes_received()),
    );
    r.register(
        "cache_hits",
        "Opens served by a cached session",
        counter(cache.hits),
    );
    r.register(
        "cache_misses",
        "Opens the connection cache could not serve",
        counter(cache.misses),
    );
    r.register(
        "cache_reconnects",
        "Cached sessions found closed, so a new connection was made",
        counter(cache.reconnects),
    );
    r.register(
        "cache_evictions",
        "Cached sessions closed by time, size or reuse limits",
        counter(cache.evictions),
    );
    if let Some(queue) = state.queue.opened() {
        let (messages, bytes) = queue.figures();
        r.register(
            "queue_messages",
            "Messages in the mail queue of smtp32-sendmail",
            gauge(messages),
        );
        r.register_with_unit(
            "queue_size",
            "Bytes of the messages in the mail queue",
            Unit::Bytes,
            gauge(bytes),
        );
    }
    r.register_with_unit(
        "uptime",
        "Time since the daemon started",
        Unit::Seconds,
        gauge(state.uptime_secs()),
    );

    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &r) {
        // Writing into a String cannot fail; should the encoder ever refuse, say so in the text.
        text = format!("# error: {e}\n# EOF\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtp32_protocol::Failure;

    #[test]
    fn operations_are_counted_by_verb_and_result() {
        let observed = Observed::default();
        observed.served("rcpt", &Response::Done, Duration::from_millis(2));
        observed.served(
            "rcpt",
            &Response::Failed(Failure::Aborted),
            Duration::from_millis(3),
        );
        let mut r = Registry::with_prefix("smtp32");
        r.register("operations", "ops", observed.operations.clone());
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &r).unwrap();
        assert!(
            text.contains("smtp32_operations_total{verb=\"rcpt\",result=\"ok\"} 1"),
            "{text}"
        );
        assert!(text.contains("result=\"SMTP_ABORTED\"} 1"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
