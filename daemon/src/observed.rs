//! What the daemon counts and times as it happens, for the metrics (see
//! [`crate::metrics`]): requests by verb and result, the latency of each request
//! inside the daemon and of each SMTP reply.
//!
//! A request answered `ok` is counted through handles kept per [`Verb`],
//! taken from the families the first time the verb is seen: a lock and a
//! hash of the labels per request cost a twentieth of a NOOP's instructions
//! in the daemon. A failure, rarer, goes through the family.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use smtp32_protocol::{Command, Request, Response};
use std::sync::OnceLock;
use std::time::Duration;

/// A request's verb and its result: `ok`, or the name of the SMTP-32 return code it failed with.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    verb: &'static str,
    result: &'static str,
}

/// A request's verb, as a label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerbLabel {
    verb: &'static str,
}

type Histograms = Family<VerbLabel, Histogram, fn() -> Histogram>;

/// Declares [`Verb`] with each verb's name, from one list.
macro_rules! verbs {
    ($($verb:ident = $name:literal),* $(,)?) => {
        /// What a request is counted under: the SMTP verb for a command, else the request's kind.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Verb { $($verb),* }

        impl Verb {
            /// How many verbs there are.
            const COUNT: usize = [$($name),*].len();

            /// The verb's name in the metrics.
            pub fn name(self) -> &'static str {
                match self { $(Verb::$verb => $name),* }
            }
        }
    };
}

verbs! {
    Mail = "mail", Send = "send", Soml = "soml", Saml = "saml", Rcpt = "rcpt",
    Noop = "noop", Rset = "rset", Vrfy = "vrfy", Expn = "expn", Help = "help",
    Turn = "turn", Direct = "direct", Ping = "ping", Status = "status", Open = "open",
    DataChunk = "data_chunk", DataEnd = "data_end", LastReply = "last_reply",
    SetTimeout = "set_timeout", SetDebug = "set_debug", Quit = "quit", XQuit = "xquit",
    OpenViaSocks = "open_via_socks", ListConnections = "list_connections",
    ShowConnection = "show_connection", CloseConnection = "close_connection",
    Reload = "reload", Shutdown = "shutdown", StartTls = "starttls", Auth = "auth",
    Extensions = "extensions", SendMessage = "send_message", SendBegin = "send_begin",
    OpenRelay = "open_relay", SendBatch = "send_batch", QueueSubmit = "queue_submit",
    QueueList = "queue_list", QueueFlush = "queue_flush", QueueDelete = "queue_delete",
    Metrics = "metrics",
}

/// One verb's `ok` count and latency, shared with the families.
#[derive(Debug)]
struct Answered {
    count: Counter,
    latency: Histogram,
}

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
    answered: [OnceLock<Answered>; Verb::COUNT],
}

impl Default for Observed {
    fn default() -> Observed {
        Observed {
            operations: Family::default(),
            requests: Family::new_with_constructor(request_histogram),
            // SMTP replies: 1 ms to about 65 s.
            replies: Histogram::new(exponential_buckets(0.001, 2.0, 17)),
            answered: [const { OnceLock::new() }; Verb::COUNT],
        }
    }
}

impl Observed {
    /// Puts the three observed families into `r`.
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "operations",
            "Requests answered, by verb and result (ok, or the SMTP-32 return code's name)",
            self.operations.clone(),
        );
        r.register_with_unit(
            "ipc_request_duration",
            "Time from a request read to its response queued, by verb",
            Unit::Seconds,
            self.requests.clone(),
        );
        r.register_with_unit(
            "smtp_reply_duration",
            "Time from a command written to an SMTP server to its reply read",
            Unit::Seconds,
            self.replies.clone(),
        );
    }

    /// Counts one request of `verb` answered by `response` after `took` in the daemon.
    pub fn served(&self, verb: Verb, response: &Response, took: Duration) {
        let took = took.as_secs_f64();
        let Response::Failed(f) = response else {
            let answered = self.answered[verb as usize].get_or_init(|| Answered {
                count: self.count_of(verb, "ok"),
                latency: self.latency_of(verb),
            });
            answered.count.inc();
            answered.latency.observe(took);
            return;
        };
        self.count_of(verb, f.code().name()).inc();
        self.latency_of(verb).observe(took);
    }

    /// The counter of `verb` answered with `result`.
    fn count_of(&self, verb: Verb, result: &'static str) -> Counter {
        let verb = verb.name();
        self.operations
            .get_or_create(&Outcome { verb, result })
            .clone()
    }

    /// The latency histogram of `verb`.
    fn latency_of(&self, verb: Verb) -> Histogram {
        let verb = verb.name();
        self.requests.get_or_create(&VerbLabel { verb }).clone()
    }

    /// Times one SMTP reply: from the command written to the reply read.
    pub fn replied_after(&self, waited: Duration) {
        self.replies.observe(waited.as_secs_f64());
    }
}

/// The verb a request is counted under: the SMTP verb for a command, else the request's kind.
pub fn verb(request: &Request) -> Verb {
    match request {
        Request::Command { command, .. } => match command {
            Command::Mail { .. } => Verb::Mail,
            Command::Send { .. } => Verb::Send,
            Command::Soml { .. } => Verb::Soml,
            Command::Saml { .. } => Verb::Saml,
            Command::Rcpt { .. } => Verb::Rcpt,
            Command::Noop => Verb::Noop,
            Command::Rset => Verb::Rset,
            Command::Vrfy { .. } => Verb::Vrfy,
            Command::Expn { .. } => Verb::Expn,
            Command::Help { .. } => Verb::Help,
            Command::Turn => Verb::Turn,
            Command::Direct { .. } => Verb::Direct,
        },
        Request::Ping { .. } => Verb::Ping,
        Request::Status => Verb::Status,
        Request::Open { .. } => Verb::Open,
        Request::DataChunk { .. } => Verb::DataChunk,
        Request::DataEnd { .. } => Verb::DataEnd,
        Request::LastReply { .. } => Verb::LastReply,
        Request::SetTimeout { .. } => Verb::SetTimeout,
        Request::SetDebug { .. } => Verb::SetDebug,
        Request::Quit { .. } => Verb::Quit,
        Request::XQuit { .. } => Verb::XQuit,
        Request::OpenViaSocks { .. } => Verb::OpenViaSocks,
        Request::ListConnections => Verb::ListConnections,
        Request::ShowConnection { .. } => Verb::ShowConnection,
        Request::CloseConnection { .. } => Verb::CloseConnection,
        Request::Reload => Verb::Reload,
        Request::Shutdown => Verb::Shutdown,
        Request::StartTls { .. } => Verb::StartTls,
        Request::Auth { .. } => Verb::Auth,
        Request::Extensions { .. } => Verb::Extensions,
        Request::SendMessage { .. } => Verb::SendMessage,
        Request::SendBegin { .. } => Verb::SendBegin,
        Request::OpenRelay { .. } => Verb::OpenRelay,
        Request::SendBatch { .. } => Verb::SendBatch,
        Request::QueueSubmit(_) => Verb::QueueSubmit,
        Request::QueueList => Verb::QueueList,
        Request::QueueFlush { .. } => Verb::QueueFlush,
        Request::QueueDelete { .. } => Verb::QueueDelete,
        Request::Metrics => Verb::Metrics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtp32_protocol::Failure;

    #[test]
    fn operations_are_counted_by_verb_and_result() {
        let observed = Observed::default();
        // The second is counted through the handles kept for the verb.
        observed.served(Verb::Rcpt, &Response::Done, Duration::from_millis(2));
        observed.served(Verb::Rcpt, &Response::Done, Duration::from_millis(2));
        observed.served(
            Verb::Rcpt,
            &Response::Failed(Failure::Aborted),
            Duration::from_millis(3),
        );
        let mut r = Registry::with_prefix("smtp32");
        observed.register(&mut r);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &r).unwrap();
        assert!(
            text.contains("smtp32_operations_total{verb=\"rcpt\",result=\"ok\"} 2"),
            "{text}"
        );
        assert!(text.contains("result=\"SMTP_ABORTED\"} 1"), "{text}");
        assert!(
            text.contains("smtp32_ipc_request_duration_seconds_count{verb=\"rcpt\"} 3"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
