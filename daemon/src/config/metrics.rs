//! The `[metrics]` table: the optional HTTP listener a Prometheus server scrapes (off by
//! default; `smtp32ctl metrics` always works).

use super::ConfigError;
use serde::Deserialize;
use std::net::SocketAddr;

/// The `[metrics]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// `ADDRESS:PORT` to serve `GET /metrics` on, e.g. `127.0.0.1:9632`; empty: no listener.
    #[serde(default)]
    pub listen: String,
}

impl MetricsSettings {
    /// The listener's address, `None` when off; a bad address names the key.
    pub fn address(&self) -> Result<Option<SocketAddr>, ConfigError> {
        if self.listen.trim().is_empty() {
            return Ok(None);
        }
        self.listen
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| ConfigError::Invalid {
                key: "metrics.listen",
                value: self.listen.clone(),
                why: format!("ADDRESS:PORT, e.g. 127.0.0.1:9632 ({e})"),
            })
    }
}
