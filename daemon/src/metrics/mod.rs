//! The daemon's metrics in the OpenMetrics text format, for `smtp32ctl metrics`
//! (`Request::Metrics`) and the optional scrape listener ([`listener`]).
//!
//! Two kinds of figure: what is observed as it happens (`crate::observed`: requests by
//! verb and result, the latency of each request inside the daemon and of each SMTP reply),
//! kept in `prometheus-client` metrics; and what is read at scrape time ([`render`]: connections by
//! state, clients, messages, bytes, the connection cache, the queue), taken from the same
//! sources as `smtp32ctl status`. Names start with `smtp32_`; every text ends in `# EOF`.

pub mod listener;

use crate::state::DaemonState;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use smtp32_protocol::ConnectionState;

/// A connection state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct State {
    state: &'static str,
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
    state.totals.observed.register(&mut r);

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
