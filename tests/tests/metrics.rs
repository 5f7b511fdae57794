//! The metrics (issue 14): `smtp32ctl metrics` and the `metrics.listen` scrape listener on
//! loopback both give valid OpenMetrics, as Prometheus's own Python client parses it
//! (`prometheus_client.openmetrics.parser`, in the test venv), with the figures of real traffic
//! through smtp-sink: operations by verb and result, the latency histograms, bytes, connections by
//! state. A request the listener does not serve gets 404/405, never the figures.

use serde_json::Value;
use smtp32::ReturnCode;
use smtp32_tests::ctl::ctl;
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::paths::venv_python;
use smtp32_tests::session::{expect_code, send_message, LOCAL};
use smtp32_tests::{SmtpSink, TestDaemon, Watchdog};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// Parses `text` with the OpenMetrics parser of Prometheus's Python client; panics on any error
/// (the parser's message shown). Returns, by family name, its type and its samples:
/// `{family: {"type": …, "samples": [[name, labels, value]]}}`.
fn parse_openmetrics(text: &str) -> Value {
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    out[family.name] = {"type": family.type,
                        "samples": [[s.name, s.labels, s.value] for s in family.samples]}
print(json.dumps(out))
"#;
    let mut child = Command::new(venv_python())
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the test venv's python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "not valid OpenMetrics: {}\n--- text ---\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The value of the sample `name` whose labels include every pair of `labels`.
fn sample(families: &Value, family: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let samples = families[family]["samples"]
        .as_array()
        .unwrap_or_else(|| panic!("no family {family}"));
    samples
        .iter()
        .find(|s| s[0] == name && labels.iter().all(|(k, v)| s[1][*k] == *v))
        .and_then(|s| s[2].as_f64())
        .unwrap_or_else(|| panic!("no sample {name}{labels:?} in {family}: {samples:?}"))
}

/// One HTTP/1.1 request to the listener; the whole answer.
fn http(address: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(T)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn smtp32ctl_and_the_scrape_listener_give_openmetrics_a_real_parser_accepts_with_real_figures() {
    let _w = Watchdog::arm("metrics", T * 3);
    let sink = SmtpSink::start();
    let d = TestDaemon::start_with(
        DaemonOptions::default().config("[metrics]\nlisten = \"127.0.0.1:0\"\n"),
    );
    let client = d.client();
    let conn = client.helo(&sink.host(), LOCAL, None).expect("helo");
    let reply = send_message(
        &conn,
        "a@a.test",
        &["b@b.test"],
        &[b"Subject: m\r\n\r\nhello\r\n"],
    );
    assert_eq!(reply.code, 250);
    expect_code(
        client.helo("127.0.0.1:1", LOCAL, None),
        ReturnCode::HostNotResponding,
        "closed port",
    );

    let text = ctl(d.socket_path(), &["metrics"])
        .expect_code(0, "smtp32ctl metrics")
        .to_string();
    assert!(text.ends_with("# EOF\n"), "{text}");
    let m = parse_openmetrics(&text);
    assert_eq!(m["smtp32_operations"]["type"], "counter");
    assert_eq!(
        sample(
            &m,
            "smtp32_operations",
            "smtp32_operations_total",
            &[("verb", "rcpt"), ("result", "ok")]
        ),
        1.0
    );
    assert_eq!(
        sample(
            &m,
            "smtp32_operations",
            "smtp32_operations_total",
            &[("verb", "data_end"), ("result", "ok")]
        ),
        1.0
    );
    let refused = [("verb", "open"), ("result", "SMTP_HOST_NOT_RESPONDING")];
    assert_eq!(
        sample(&m, "smtp32_operations", "smtp32_operations_total", &refused),
        1.0
    );
    assert_eq!(m["smtp32_smtp_reply_duration_seconds"]["type"], "histogram");
    // EHLO, MAIL, RCPT, DATA and the final dot: five replies to commands (the greeting answers
    // none, so it is not timed).
    let replies = sample(
        &m,
        "smtp32_smtp_reply_duration_seconds",
        "smtp32_smtp_reply_duration_seconds_count",
        &[],
    );
    assert!(replies >= 5.0, "{replies}");
    let ipc = [("verb", "mail")];
    assert_eq!(
        sample(
            &m,
            "smtp32_ipc_request_duration_seconds",
            "smtp32_ipc_request_duration_seconds_count",
            &ipc
        ),
        1.0
    );
    assert_eq!(
        sample(
            &m,
            "smtp32_connections",
            "smtp32_connections",
            &[("state", "ready")]
        ),
        1.0
    );
    assert_eq!(
        sample(
            &m,
            "smtp32_messages_accepted",
            "smtp32_messages_accepted_total",
            &[]
        ),
        1.0
    );
    assert!(
        sample(
            &m,
            "smtp32_smtp_sent_bytes",
            "smtp32_smtp_sent_bytes_total",
            &[]
        ) > 30.0
    );
    assert_eq!(m["smtp32_cache_hits"]["type"], "counter");

    // The listener: the address it bound is in the log (port 0 asked for any free port).
    let log = d.stderr();
    let address = log
        .lines()
        .find(|l| l.contains("metrics listener serving"))
        .and_then(|l| l.split("address=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no listener line in the log:\n{log}"))
        .to_string();
    let answer = http(
        &address,
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: application/openmetrics-text\r\n\r\n",
    );
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.contains("Content-Type: application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    let scraped = parse_openmetrics(body);
    assert_eq!(
        sample(
            &scraped,
            "smtp32_messages_accepted",
            "smtp32_messages_accepted_total",
            &[]
        ),
        1.0
    );
    // `smtp32ctl metrics` itself was counted once by the time of the scrape.
    let asked = [("verb", "metrics"), ("result", "ok")];
    assert_eq!(
        sample(
            &scraped,
            "smtp32_operations",
            "smtp32_operations_total",
            &asked
        ),
        1.0
    );

    assert!(http(&address, "GET /secret HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
    assert!(http(&address, "POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
    conn.quit().expect("quit");
    d.assert_serving();
}

#[test]
fn a_metrics_listen_that_is_no_address_stops_the_start_naming_the_key() {
    let f = TestDaemon::try_start(
        DaemonOptions::default().config("[metrics]\nlisten = \"everywhere\"\n"),
    )
    .err()
    .expect("the start fails");
    assert!(f.stderr.contains("metrics.listen"), "{}", f.stderr);
}
