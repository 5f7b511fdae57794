//! The human-readable output of `smtp32ctl`: the status block, the
//! connection table and the detail of one connection.

use smtp32::{
    ConnectionDetail, ConnectionInfo, ConnectionState, DaemonStatus, Direction, ReturnCode,
};
use std::fmt::Write as _;

/// `smtp32ctl status`.
pub fn status(s: &DaemonStatus) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| {
        let _ = writeln!(out, "{:<20}{v}", format!("{k}:"));
    };
    line("daemon version", printable(&s.daemon_version));
    line("protocol version", s.protocol_version.to_string());
    line("pid", s.pid.to_string());
    line("uptime", clock(s.uptime_secs));
    line(
        "config file",
        s.config_file
            .as_deref()
            .map(printable)
            .unwrap_or_else(|| "(built-in defaults)".into()),
    );
    if s.shutting_down {
        line("state", "shutting down".into());
    }
    line("clients", s.clients.to_string());
    let states: Vec<String> = ConnectionState::ALL
        .iter()
        .filter(|&&st| st != ConnectionState::Cached && s.by_state.get(st) > 0)
        .map(|&st| format!("{} {}", s.by_state.get(st), st.name()))
        .collect();
    let detail = if states.is_empty() {
        String::new()
    } else {
        format!(" ({})", states.join(", "))
    };
    line("connections", format!("{}{detail}", s.connections));
    line("connections opened", s.connections_opened.to_string());
    let c = &s.cache;
    line(
        "connection cache",
        format!(
            "{} idle, {} hits, {} misses, {} reconnects, {} evictions",
            c.idle, c.hits, c.misses, c.reconnects, c.evictions
        ),
    );
    line("messages accepted", s.messages_accepted.to_string());
    line("bytes sent", s.bytes_sent.to_string());
    line("bytes received", s.bytes_received.to_string());
    let errors: Vec<String> = s
        .errors
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e.count,
                ReturnCode::from_i32(e.code)
                    .map(ReturnCode::name)
                    .unwrap_or("unknown")
            )
        })
        .collect();
    line(
        "errors",
        if errors.is_empty() {
            "none".into()
        } else {
            errors.join(", ")
        },
    );
    out
}

const HEADER: [&str; 12] = [
    "HANDLE",
    "PID",
    "UID",
    "SERVER",
    "STATE",
    "OPERATION",
    "AGE",
    "IDLE",
    "IN",
    "OUT",
    "TLS",
    "REPLY",
];

/// `smtp32ctl connections`: a table with a header, one row per connection.
pub fn connections(rows: &[ConnectionInfo]) -> String {
    if rows.is_empty() {
        return "no connections\n".into();
    }
    let cells: Vec<[String; 12]> = rows.iter().map(cells).collect();
    let mut widths = HEADER.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let header = HEADER.map(String::from);
    for row in std::iter::once(&header).chain(&cells) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

fn cells(c: &ConnectionInfo) -> [String; 12] {
    let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
    [
        c.handle.to_string(),
        opt(c.owner_pid),
        opt(c.owner_uid),
        printable(&c.server),
        c.state.name().into(),
        c.in_flight
            .as_ref()
            .map(|f| format!("{} {}", printable(&f.operation), millis(f.millis)))
            .unwrap_or_else(|| "-".into()),
        clock(c.age_millis / 1000),
        millis(c.idle_millis),
        c.bytes_in.to_string(),
        c.bytes_out.to_string(),
        c.tls
            .as_deref()
            .map(printable)
            .unwrap_or_else(|| "-".into()),
        c.last_reply_code
            .map(|r| r.to_string())
            .unwrap_or_else(|| "-".into()),
    ]
}

/// `smtp32ctl show HANDLE`.
pub fn detail(d: &ConnectionDetail) -> String {
    let c = &d.info;
    let mut out = String::new();
    let mut line = |k: &str, v: String| {
        let _ = writeln!(out, "{:<14}{v}", format!("{k}:"));
    };
    let owner = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_else(|| "?".into());
    line("handle", c.handle.to_string());
    line(
        "owner",
        format!("pid {}, uid {}", owner(c.owner_pid), owner(c.owner_uid)),
    );
    line("server", printable(&c.server));
    line("local name", printable(&d.local));
    line("state", c.state.name().into());
    line(
        "in flight",
        c.in_flight
            .as_ref()
            .map(|f| format!("{} for {}", printable(&f.operation), millis(f.millis)))
            .unwrap_or_else(|| "-".into()),
    );
    line("age", clock(c.age_millis / 1000));
    line("idle", millis(c.idle_millis));
    line("bytes in/out", format!("{} / {}", c.bytes_in, c.bytes_out));
    line(
        "tls",
        c.tls
            .as_deref()
            .map(printable)
            .unwrap_or_else(|| "none".into()),
    );
    line(
        "last reply",
        c.last_reply_code
            .map(|r| r.to_string())
            .unwrap_or_else(|| "-".into()),
    );
    line("timeout", format!("{} s", d.timeout_secs));
    line("debug copies", if d.debug { "on" } else { "off" }.into());
    let _ = writeln!(
        out,
        "recent traffic ({} lines, {} older dropped):",
        d.traffic.len(),
        d.traffic_dropped
    );
    for l in &d.traffic {
        let dir = match l.direction {
            Direction::ToServer => "C:",
            Direction::FromServer => "S:",
        };
        let _ = writeln!(
            out,
            "  {:>10} {dir} {}",
            format!("+{:.3}", l.at_millis as f64 / 1000.0),
            printable(&l.text)
        );
    }
    out
}

/// Text from users and servers (local names, host strings, traffic) with
/// control characters shown as `\xNN` and bidirectional overrides as
/// `\u{NNNN}`, so that nobody can drive an administrator's terminal or make
/// a line read other than it is.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            c if c.is_control() => format!("\\x{:02x}", c as u32),
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => format!("\\u{{{:04x}}}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// `HH:MM:SS`, with days in front when there are any.
pub fn clock(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// `0.250s`, `12.0s`, `3m05s`.
fn millis(ms: u64) -> String {
    match ms {
        0..=9_999 => format!("{:.3}s", ms as f64 / 1000.0),
        10_000..=59_999 => format!("{:.1}s", ms as f64 / 1000.0),
        _ => format!("{}m{:02}s", ms / 60_000, ms / 1000 % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtp32::{Handle, InFlight};

    pub fn row() -> ConnectionInfo {
        ConnectionInfo {
            handle: Handle::new(42).unwrap(),
            owner_pid: Some(100),
            owner_uid: Some(1000),
            server: "mx.example:25".into(),
            state: ConnectionState::InTransaction,
            in_flight: Some(InFlight {
                operation: "RCPT".into(),
                millis: 250,
            }),
            age_millis: 61_000,
            idle_millis: 12_345,
            bytes_in: 300,
            bytes_out: 120,
            tls: None,
            last_reply_code: Some(250),
        }
    }

    #[test]
    fn table_has_a_header_and_aligned_rows() {
        let t = connections(&[row()]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("HANDLE  PID  UID   SERVER"), "{t}");
        assert!(
            lines[1].contains("in-transaction  RCPT 0.250s  00:01:01  12.3s"),
            "{t}"
        );
        assert_eq!(connections(&[]), "no connections\n");
    }

    #[test]
    fn every_column_from_users_or_servers_is_escaped() {
        let mut r = row();
        r.server = "evil\u{1b}]0;owned\u{7}:25".into();
        r.in_flight = Some(InFlight {
            operation: "RCPT\u{1b}[2J".into(),
            millis: 1,
        });
        r.tls = Some("TLS\u{9b}".into());
        let t = connections(&[r]);
        assert!(!t.chars().any(|c| c.is_control() && c != '\n'), "{t:?}");
        assert!(
            t.contains("evil\\x1b]0;owned\\x07:25") && t.contains("RCPT\\x1b[2J"),
            "{t}"
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(clock(90_061), "1d 01:01:01");
        assert_eq!(millis(125_000), "2m05s");
        assert_eq!(printable("a\u{1b}[2J"), "a\\x1b[2J");
        assert_eq!(printable("x\u{202e}y\u{7f}"), "x\\u{202e}y\\x7f");
    }
}
