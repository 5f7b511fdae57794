//! Rows, the markdown table, and the targets of issue 11 checked against them.

use crate::stats::Summary;
use std::fmt::Write as _;

/// What a row's figure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Messages per second (higher is better).
    MsgsPerSec,
    /// MiB per second (higher is better).
    MibPerSec,
    /// Microseconds (lower is better).
    Micros,
    /// KiB (lower is better).
    Kib,
    /// MiB (lower is better).
    Mib,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::MsgsPerSec => "msg/s",
            Unit::MibPerSec => "MiB/s",
            Unit::Micros => "µs",
            Unit::Kib => "KiB",
            Unit::Mib => "MiB",
        }
    }
}

/// A row's part in the ratios of its workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Postfix `smtp-source`: the "× smtp-source" column divides by it.
    Source,
    /// The direct raw client: the "× raw" column divides by it.
    Raw,
    /// Anything else.
    Other,
}

/// One line of the table: a path measured over several rounds.
#[derive(Debug, Clone)]
pub struct Row {
    /// `W1`...`W6`.
    pub workload: &'static str,
    /// Lookup key for the targets, e.g. `w1.sendmsg`.
    pub key: String,
    /// What the row measures, as printed.
    pub label: String,
    /// The figure's unit.
    pub unit: Unit,
    /// Its part in the ratios.
    pub role: Role,
    /// One value per round; empty when the path is not available.
    pub values: Vec<f64>,
    /// Why there are no values, or a remark.
    pub note: Option<String>,
}

impl Row {
    /// A row with its per-round values.
    pub fn new(
        workload: &'static str,
        key: &str,
        label: &str,
        unit: Unit,
        role: Role,
        values: Vec<f64>,
    ) -> Row {
        Row {
            workload,
            key: key.into(),
            label: label.into(),
            unit,
            role,
            values,
            note: None,
        }
    }

    /// Adds a remark.
    pub fn note(mut self, note: impl Into<String>) -> Row {
        self.note = Some(note.into());
        self
    }

    /// The summary of the rounds.
    pub fn summary(&self) -> Option<Summary> {
        Summary::of(&self.values)
    }

    fn median(&self) -> Option<f64> {
        self.summary().map(|s| s.median)
    }
}

fn fmt_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::MsgsPerSec if v >= 100.0 => format!("{v:.0}"),
        Unit::Micros if v >= 100.0 => format!("{v:.0}"),
        _ if v >= 10.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    }
}

/// The ratio of `row` to the reference of `role` in the same workload and unit.
fn ratio(rows: &[Row], row: &Row, role: Role) -> Option<f64> {
    let reference = rows.iter().find(|r| {
        r.workload == row.workload
            && r.role == role
            && r.unit == row.unit
            && same_metric(&r.key, &row.key)
    })?;
    Some(row.median()? / reference.median()?)
}

/// Latency rows pair p50 with p50 and p99 with p99.
fn same_metric(a: &str, b: &str) -> bool {
    let tail = |k: &str| {
        k.rsplit('.')
            .next()
            .filter(|t| *t == "p50" || *t == "p99")
            .map(str::to_owned)
    };
    tail(a) == tail(b)
}

/// The results table in markdown.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("| workload | path | median | min–max | rounds | × smtp-source | × raw |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|\n");
    for row in rows {
        let (median, range, rounds) = match row.summary() {
            Some(s) => (
                format!("{} {}", fmt_value(s.median, row.unit), row.unit.name()),
                format!(
                    "{}–{}",
                    fmt_value(s.min, row.unit),
                    fmt_value(s.max, row.unit)
                ),
                s.rounds.to_string(),
            ),
            None => ("n/a".into(), "".into(), "0".into()),
        };
        let cell = |role| match ratio(rows, row, role) {
            Some(r) if row.role != role => format!("{r:.2}×"),
            _ => String::new(),
        };
        let label = match &row.note {
            Some(n) => format!("{} ({n})", row.label),
            None => row.label.clone(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.workload,
            label,
            median,
            range,
            rounds,
            cell(Role::Source),
            cell(Role::Raw)
        );
    }
    out
}

fn median_of(rows: &[Row], key: &str) -> Option<f64> {
    rows.iter().find(|r| r.key == key)?.median()
}

/// The targets of issue 11 (and those of issue 7 it keeps), each with the
/// figure reached in this run.
pub fn targets(rows: &[Row]) -> String {
    let m = |k: &str| median_of(rows, k);
    let div = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
    let mut out = String::from("| target | wanted | reached | met |\n|---|---|---|---|\n");
    let mut line = |name: &str,
                    wanted: String,
                    reached: Option<f64>,
                    show: &dyn Fn(f64) -> String,
                    ok: &dyn Fn(f64) -> bool| {
        let (r, met) = match reached {
            Some(v) => (show(v), if ok(v) { "yes" } else { "**no**" }),
            None => ("not measured".into(), "–"),
        };
        let _ = writeln!(out, "| {name} | {wanted} | {r} | {met} |");
    };
    let us = |v: f64| format!("{v:.1} µs");
    let ms = |v: f64| format!("{:.2} ms", v / 1000.0);
    // What a floor (`floor`: a relay, or the least daemon) reached, to print beside a bound.
    let through = |floor: &str, v: Option<f64>, show: &dyn Fn(f64) -> String| {
        v.map_or(String::new(), |v| format!("; through {floor}: {}", show(v)))
    };
    let relay = |v: Option<f64>, show: &dyn Fn(f64) -> String| through("a relay", v, show);
    // W4: daemon NOOP <= direct NOOP + 1.5 x Unix ping-pong, at p50 and at p99.
    for q in ["p50", "p99"] {
        let bound = m(&format!("w4.direct.{q}"))
            .zip(m(&format!("w4.unix.{q}")))
            .map(|(direct, unix)| direct + 1.5 * unix);
        let floor = relay(m(&format!("w4.relay.{q}")), &us);
        line(
            &format!("W4 daemon NOOP {q}"),
            bound.map_or("≤ direct + 1.5 × ping-pong".into(), |b| {
                format!("≤ {b:.1} µs (direct + 1.5 × ping-pong{floor})")
            }),
            m(&format!("w4.daemon.{q}")),
            &us,
            &|v| bound.is_some_and(|b| v <= b),
        );
    }
    let epoll = div(m("w4.unix_epoll.p50"), m("w4.unix.p50")).map_or(String::new(), |v| {
        format!(" (an epoll-driven echo: {v:.2}×)")
    });
    line(
        "W4 IPC-only ping p50",
        format!("≤ 1.3× raw ping-pong{epoll}"),
        div(m("w4.ping.p50"), m("w4.unix.p50")),
        &|v| format!("{v:.2}× raw ping-pong"),
        &|v| v <= 1.3,
    );
    let x = |v: f64| format!("{v:.2}× smtp-source");
    // Per-call's floor is the relay's lockstep exchange; a one-call send's
    // is the least daemon (`least.rs`), which crosses the socket as it does.
    for (name, key, floor_key, floor, bound) in [
        (
            "W1 per-call",
            "w1.percall",
            "w1.relay_lockstep",
            "a relay",
            0.5,
        ),
        (
            "W1 sendmsg",
            "w1.sendmsg",
            "w1.least",
            "the least daemon",
            1.5,
        ),
        (
            "W1 send_many (batched)",
            "w1.batch",
            "w1.least_batched",
            "the least daemon",
            3.5,
        ),
        (
            "W2 sendmsg, 50 connections",
            "w2.sendmsg",
            "w2.least",
            "the least daemon",
            1.5,
        ),
    ] {
        let source = if key.starts_with("w1") {
            "w1.source"
        } else {
            "w2.source"
        };
        let floor = through(floor, div(m(floor_key), m(source)), &x);
        line(
            name,
            format!("≥ {bound}× smtp-source{floor}"),
            div(m(key), m(source)),
            &x,
            &|v| v >= bound,
        );
    }
    line(
        "W3 100 MiB through data_buf",
        "≥ 0.9× raw".into(),
        div(m("w3.smtp32"), m("w3.raw")),
        &|v| format!("{v:.2}× raw"),
        &|v| v >= 0.9,
    );
    line(
        "W5 daemon RSS per idle connection",
        "≤ 4 KiB".into(),
        m("w5.kib"),
        &|v| format!("{v:.2} KiB"),
        &|v| v <= 4.0,
    );
    line(
        "W6 NOOP p99, 10,000 connections open from 100 processes (one prober)",
        "≤ 5 ms".into(),
        m("w6.idle.p99"),
        &ms,
        &|v| v <= 5000.0,
    );
    let paced = m("w6.paced_direct.p99").map(|d| 2.0 * d);
    let burst_floor = m("w6.load_direct.p99").map_or(String::new(), |f| {
        format!("; the same bursts direct on TCP: {}", ms(f))
    }) + &relay(m("w6.load_relay.p99"), &ms);
    line(
        "W6 paced NOOP p99 while the 100 processes send NOOPs",
        paced.map_or("≤ 2 × direct p99 at that pace".into(), |b| {
            format!("≤ {} (2 × direct p99 at that pace{burst_floor})", ms(b))
        }),
        m("w6.load.p99"),
        &ms,
        &|v| paced.is_some_and(|b| v <= b),
    );
    line(
        "W7 50 MiB through sendmsg",
        "≥ 0.9× raw".into(),
        div(m("w7.smtp32"), m("w7.raw")),
        &|v| format!("{v:.2}× raw"),
        &|v| v >= 0.9,
    );
    line(
        "W7 daemon peak RSS growth during it",
        "≤ 8 MiB (2 × max_frame_bytes)".into(),
        m("w7.rss"),
        &|v| format!("{v:.1} MiB"),
        &|v| v <= 8.0,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_pair_with_the_references_of_the_same_workload() {
        let rows = vec![
            Row::new(
                "W1",
                "w1.source",
                "smtp-source",
                Unit::MsgsPerSec,
                Role::Source,
                vec![100.0],
            ),
            Row::new(
                "W1",
                "w1.raw",
                "raw",
                Unit::MsgsPerSec,
                Role::Raw,
                vec![400.0],
            ),
            Row::new(
                "W1",
                "w1.sendmsg",
                "sendmsg",
                Unit::MsgsPerSec,
                Role::Other,
                vec![200.0, 200.0, 300.0],
            ),
            Row::new(
                "W1",
                "w1.batch",
                "batch",
                Unit::MsgsPerSec,
                Role::Other,
                vec![],
            ),
            Row::new(
                "W1",
                "w1.least",
                "least daemon",
                Unit::MsgsPerSec,
                Role::Other,
                vec![250.0],
            ),
        ];
        let t = table(&rows);
        assert!(
            t.contains("| W1 | sendmsg | 200 msg/s | 200–300 | 3 | 2.00× | 0.50× |"),
            "{t}"
        );
        assert!(t.contains("| W1 | batch | n/a |"), "{t}");
        let goals = targets(&rows);
        assert!(
            goals.contains(
                "| W1 sendmsg | ≥ 1.5× smtp-source; through the least daemon: 2.50× smtp-source | 2.00× smtp-source | yes |"
            ),
            "{goals}"
        );
        assert!(
            goals.contains("| W1 send_many (batched) | ≥ 3.5× smtp-source | not measured | – |"),
            "{goals}"
        );
    }

    #[test]
    fn relative_targets_are_bounded_by_their_references_in_the_same_run() {
        let micros =
            |key: &str, v: f64| Row::new("W", key, key, Unit::Micros, Role::Other, vec![v]);
        let rows = vec![
            micros("w4.direct.p50", 10.0),
            micros("w4.unix.p50", 4.0),
            micros("w4.daemon.p50", 16.0),
            micros("w4.ping.p50", 6.0),
            micros("w4.relay.p50", 20.0),
            micros("w4.unix_epoll.p50", 5.0),
            micros("w6.paced_direct.p99", 1000.0),
            micros("w6.load.p99", 2500.0),
        ];
        let goals = targets(&rows);
        for want in [
            "| W4 daemon NOOP p50 | ≤ 16.0 µs (direct + 1.5 × ping-pong; through a relay: 20.0 µs) | 16.0 µs | yes |",
            "| W4 daemon NOOP p99 | ≤ direct + 1.5 × ping-pong | not measured | – |",
            "| W4 IPC-only ping p50 | ≤ 1.3× raw ping-pong (an epoll-driven echo: 1.25×) | 1.50× raw ping-pong | **no** |",
            "| W6 paced NOOP p99 while the 100 processes send NOOPs | ≤ 2.00 ms (2 × direct p99 at that pace) | 2.50 ms | **no** |",
        ] {
            assert!(goals.contains(want), "{want}\n{goals}");
        }
    }
}
