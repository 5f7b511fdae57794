//! `--json`: one JSON document per command, written by serde_json from views of the wire types.
//! The views fix the field names and their order (the wire types' snake_case names, with the
//! connection's operation in flight flattened and each error count named), so scripts that read
//! the output do not depend on how the wire types change.

use serde::Serialize;
use smtp32::{
    CacheStatus, ConnectionDetail, ConnectionInfo, ConnectionState, DaemonStatus, Direction,
    QueueEntry, ReturnCode, StateCounts,
};

/// `smtp32ctl status --json`.
#[derive(Serialize)]
struct Status<'a> {
    daemon_version: &'a str,
    protocol_version: u32,
    pid: u32,
    uptime_secs: u64,
    config_file: Option<&'a str>,
    shutting_down: bool,
    clients: u32,
    connections: u32,
    by_state: ByState,
    connections_opened: u64,
    cache: &'a CacheStatus,
    messages_accepted: u64,
    bytes_sent: u64,
    bytes_received: u64,
    errors: Vec<ErrorRow>,
}

/// Connections by state, keyed by the state's name (`in_transaction`, …) in the order of
/// [`ConnectionState::ALL`].
struct ByState(StateCounts);

impl Serialize for ByState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(ConnectionState::ALL.len()))?;
        for &state in ConnectionState::ALL.iter() {
            map.serialize_entry(&state.name().replace('-', "_"), &self.0.get(state))?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct ErrorRow {
    code: i32,
    name: &'static str,
    count: u64,
}

/// One row of `smtp32ctl connections --json`, and the head of `show --json`.
#[derive(Serialize)]
struct Row<'a> {
    handle: u32,
    owner_pid: Option<u32>,
    owner_uid: Option<u32>,
    server: &'a str,
    state: &'static str,
    operation: Option<&'a str>,
    operation_millis: Option<u64>,
    age_millis: u64,
    idle_millis: u64,
    bytes_in: u64,
    bytes_out: u64,
    tls: Option<&'a str>,
    last_reply_code: Option<u16>,
}

/// `smtp32ctl show HANDLE --json`: the row's fields plus the detail.
#[derive(Serialize)]
struct Detail<'a> {
    #[serde(flatten)]
    row: Row<'a>,
    local: &'a str,
    timeout_secs: u16,
    debug: bool,
    traffic_dropped: u64,
    traffic: Vec<Traffic<'a>>,
}

#[derive(Serialize)]
struct Traffic<'a> {
    at_millis: u64,
    direction: &'static str,
    text: &'a str,
}

fn row(c: &ConnectionInfo) -> Row<'_> {
    Row {
        handle: c.handle.get(),
        owner_pid: c.owner_pid,
        owner_uid: c.owner_uid,
        server: &c.server,
        state: c.state.name(),
        operation: c.in_flight.as_ref().map(|f| f.operation.as_str()),
        operation_millis: c.in_flight.as_ref().map(|f| f.millis),
        age_millis: c.age_millis,
        idle_millis: c.idle_millis,
        bytes_in: c.bytes_in,
        bytes_out: c.bytes_out,
        tls: c.tls.as_deref(),
        last_reply_code: c.last_reply_code,
    }
}

/// `value` as one line of JSON. Serialising these views cannot fail (string keys, no maps
/// with other keys); should it ever, the error text is printed instead of a panic.
fn to_line(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")) + "\n"
}

/// `smtp32ctl status --json`.
pub fn status(s: &DaemonStatus) -> String {
    let errors = s
        .errors
        .iter()
        .map(|e| ErrorRow {
            code: e.code,
            name: ReturnCode::from_i32(e.code)
                .map(ReturnCode::name)
                .unwrap_or("unknown"),
            count: e.count,
        })
        .collect();
    to_line(&Status {
        daemon_version: &s.daemon_version,
        protocol_version: s.protocol_version,
        pid: s.pid,
        uptime_secs: s.uptime_secs,
        config_file: s.config_file.as_deref(),
        shutting_down: s.shutting_down,
        clients: s.clients,
        connections: s.connections,
        by_state: ByState(s.by_state),
        connections_opened: s.connections_opened,
        cache: &s.cache,
        messages_accepted: s.messages_accepted,
        bytes_sent: s.bytes_sent,
        bytes_received: s.bytes_received,
        errors,
    })
}

/// `smtp32ctl connections --json`: an array of rows.
pub fn connections(rows: &[ConnectionInfo]) -> String {
    to_line(&rows.iter().map(row).collect::<Vec<_>>())
}

/// `smtp32ctl show HANDLE --json`.
pub fn detail(d: &ConnectionDetail) -> String {
    let traffic = d
        .traffic
        .iter()
        .map(|l| Traffic {
            at_millis: l.at_millis,
            direction: match l.direction {
                Direction::ToServer => "to_server",
                Direction::FromServer => "from_server",
            },
            text: &l.text,
        })
        .collect();
    to_line(&Detail {
        row: row(&d.info),
        local: &d.local,
        timeout_secs: d.timeout_secs,
        debug: d.debug,
        traffic_dropped: d.traffic_dropped,
        traffic,
    })
}

/// `smtp32ctl queue --json`: the wire type's fields as they are.
pub fn queue(rows: &[QueueEntry]) -> String {
    to_line(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_rows_keep_the_wire_names_in_order_and_escape_control_characters() {
        let out = queue(&[crate::queue::tests::row()]);
        let head = "[{\"id\":\"6931A2F0DEADBEEF\",\"uid\":1000,\"from\":\"a@x.test\",\
                    \"rcpts\":[\"b@y.test\",\"c@y.test\"]";
        assert!(out.starts_with(head), "{out}");
        assert!(
            out.contains("\"last_error\":\"451 4.3.0 try\\u001b[31m later\""),
            "{out}"
        );
        assert!(out.ends_with("]\n"), "{out}");
    }

    #[test]
    fn states_are_keyed_by_their_names() {
        let out = serde_json::to_string(&ByState(StateCounts::default())).unwrap();
        assert!(out.starts_with("{\"connecting\":0,"), "{out}");
        assert!(out.contains("\"in_transaction\":0"), "{out}");
    }
}
