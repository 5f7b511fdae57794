//! JSON for `--json`: one object per line of output, fields in a fixed order
//! with the same snake_case names as the wire types. Written by hand so the
//! client library needs no JSON dependency.

use smtp32::{CacheStatus, ConnectionDetail, ConnectionInfo, DaemonStatus, Direction, ReturnCode, StateCounts};
use std::fmt::Write as _;

/// Builds one JSON object.
pub struct Object(String);

impl Object {
    /// `{`.
    pub fn new() -> Object {
        Object(String::from("{"))
    }

    fn key(&mut self, key: &str) -> &mut String {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        let _ = write!(self.0, "{}:", string(key));
        &mut self.0
    }

    /// A field whose value is already JSON.
    pub fn raw(mut self, key: &str, json: impl AsRef<str>) -> Object {
        self.key(key).push_str(json.as_ref());
        self
    }

    /// A number.
    pub fn num(self, key: &str, n: impl std::fmt::Display) -> Object {
        let text = n.to_string();
        self.raw(key, text)
    }

    /// A string.
    pub fn str(self, key: &str, s: &str) -> Object {
        self.raw(key, string(s))
    }

    /// A number or `null`.
    pub fn opt_num<T: std::fmt::Display>(self, key: &str, n: Option<T>) -> Object {
        match n {
            Some(n) => self.num(key, n),
            None => self.raw(key, "null"),
        }
    }

    /// A string or `null`.
    pub fn opt_str(self, key: &str, s: Option<&str>) -> Object {
        match s {
            Some(s) => self.str(key, s),
            None => self.raw(key, "null"),
        }
    }

    /// `true` or `false`.
    pub fn bool(self, key: &str, b: bool) -> Object {
        self.raw(key, if b { "true" } else { "false" })
    }

    /// The finished object.
    pub fn end(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// A JSON string literal for `s`.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn array(items: impl IntoIterator<Item = String>) -> String {
    format!("[{}]", items.into_iter().collect::<Vec<_>>().join(","))
}

/// `smtp32ctl status --json`.
pub fn status(s: &DaemonStatus) -> String {
    Object::new()
        .str("daemon_version", &s.daemon_version)
        .num("protocol_version", s.protocol_version)
        .num("pid", s.pid)
        .num("uptime_secs", s.uptime_secs)
        .opt_str("config_file", s.config_file.as_deref())
        .bool("shutting_down", s.shutting_down)
        .num("clients", s.clients)
        .num("connections", s.connections)
        .raw("by_state", by_state(&s.by_state))
        .num("connections_opened", s.connections_opened)
        .raw("cache", cache(&s.cache))
        .num("messages_accepted", s.messages_accepted)
        .num("bytes_sent", s.bytes_sent)
        .num("bytes_received", s.bytes_received)
        .raw(
            "errors",
            array(s.errors.iter().map(|e| {
                let name = ReturnCode::from_i32(e.code).map(ReturnCode::name).unwrap_or("unknown");
                Object::new().num("code", e.code).str("name", name).num("count", e.count).end()
            })),
        )
        .end()
}

fn cache(c: &CacheStatus) -> String {
    Object::new()
        .num("idle", c.idle)
        .num("hits", c.hits)
        .num("misses", c.misses)
        .num("reconnects", c.reconnects)
        .num("evictions", c.evictions)
        .end()
}

fn by_state(c: &StateCounts) -> String {
    smtp32::ConnectionState::ALL.iter().fold(Object::new(), |o, &s| o.num(&s.name().replace('-', "_"), c.get(s))).end()
}

/// One row of `smtp32ctl connections --json`.
pub fn connection(c: &ConnectionInfo) -> String {
    row(c).end()
}

fn row(c: &ConnectionInfo) -> Object {
    Object::new()
        .num("handle", c.handle)
        .opt_num("owner_pid", c.owner_pid)
        .opt_num("owner_uid", c.owner_uid)
        .str("server", &c.server)
        .str("state", c.state.name())
        .opt_str("operation", c.in_flight.as_ref().map(|f| f.operation.as_str()))
        .opt_num("operation_millis", c.in_flight.as_ref().map(|f| f.millis))
        .num("age_millis", c.age_millis)
        .num("idle_millis", c.idle_millis)
        .num("bytes_in", c.bytes_in)
        .num("bytes_out", c.bytes_out)
        .opt_str("tls", c.tls.as_deref())
        .opt_num("last_reply_code", c.last_reply_code)
}

/// `smtp32ctl connections --json`: an array of rows.
pub fn connections(rows: &[ConnectionInfo]) -> String {
    array(rows.iter().map(connection))
}

/// `smtp32ctl show HANDLE --json`: the row's fields plus the detail.
pub fn detail(d: &ConnectionDetail) -> String {
    row(&d.info)
        .str("local", &d.local)
        .num("timeout_secs", d.timeout_secs)
        .bool("debug", d.debug)
        .num("traffic_dropped", d.traffic_dropped)
        .raw(
            "traffic",
            array(d.traffic.iter().map(|l| {
                let dir = match l.direction {
                    Direction::ToServer => "to_server",
                    Direction::FromServer => "from_server",
                };
                Object::new().num("at_millis", l.at_millis).str("direction", dir).str("text", &l.text).end()
            })),
        )
        .end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(string("a\"b\\c\nd"), r#""a\"b\\c\u000ad""#);
        assert_eq!(Object::new().num("a", 1).opt_str("b", None).bool("c", true).end(), r#"{"a":1,"b":null,"c":true}"#);
    }
}
