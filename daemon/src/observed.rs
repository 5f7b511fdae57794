//! What the daemon counts and times as it happens, for the metrics (see
//! [`crate::metrics`]): requests by verb and result, the latency of each request
//! inside the daemon and of each SMTP reply.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use smtp32_protocol::{Command, Request, Response};
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
        observed.register(&mut r);
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
