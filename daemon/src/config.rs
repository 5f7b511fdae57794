//! The daemon's settings: embedded defaults, then a TOML file, then
//! `SMTP32D_*` environment variables. Every value is range-checked at start;
//! an unknown key or an out-of-range value stops the daemon with a message
//! that names the key.

mod cache;
mod metrics;
mod queue;
mod relay;

pub use cache::CacheSettings;
pub use metrics::MetricsSettings;
pub use queue::QueueSettings;
pub use relay::{Aliases, RelaySettings};
// The SMTP layer owns the `[tls]` table's type; the configuration only reads it.
pub use crate::smtp::tls::{TlsPolicy, TlsSettings};

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;
use smtp32_protocol::codec::MAX_MAX_FRAME_BYTES;
use smtp32_protocol::{MIN_MAX_FRAME_BYTES, TIMEOUT_SECONDS};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The configuration that applies when no file and no variable says otherwise.
/// `smtp32d --print-default-config` prints it; packaging ships it.
pub const DEFAULT_CONFIG: &str = include_str!("default_config.toml");

/// The system-wide file read when `--config` is not given and it exists.
#[cfg(unix)]
pub const SYSTEM_CONFIG_PATH: &str = "/etc/smtp32d/smtp32d.toml";
/// The system-wide file read when `--config` is not given and it exists.
#[cfg(windows)]
pub const SYSTEM_CONFIG_PATH: &str = r"C:\ProgramData\smtp32d\smtp32d.toml";

/// Prefix of the environment variables that override settings (`SMTP32D_TIMEOUT=5`).
pub const ENV_PREFIX: &str = "SMTP32D";

/// The smallest `client_queue_bytes` accepted.
pub const MIN_CLIENT_QUEUE_BYTES: u32 = 64 * 1024;
/// The largest `client_queue_bytes` accepted.
pub const MAX_CLIENT_QUEUE_BYTES: u32 = 1 << 30;

/// The largest `idle_timeout` accepted: one day.
pub const MAX_IDLE_TIMEOUT: u32 = 86_400;

/// Validated daemon settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Socket path; empty means the default rules of `smtp32_protocol::endpoint`.
    #[serde(default)]
    pub socket: Option<PathBuf>,
    /// Default timeout in seconds for new connections (1..=999).
    pub timeout: u16,
    /// 0 no debug log, 1 every error, 2 every call with arguments and result.
    pub debug_level: u8,
    /// Debug log file; empty means `smtp32d.dbg` in the state directory.
    #[serde(default)]
    pub debug_log: Option<PathBuf>,
    /// SMTP connections open at once, all clients together (1..=1_000_000).
    pub max_connections: u32,
    /// SMTP connections open at once per IPC client (1..=max_connections).
    pub max_connections_per_client: u32,
    /// SMTP connections open at once per user, all of the user's clients
    /// together (1..=1_000_000; above `max_connections` it is that); root and
    /// the daemon's user are not limited.
    pub max_connections_per_user: u32,
    /// IPC clients connected at once, all users together (1..=100_000).
    pub max_clients: u32,
    /// IPC clients connected at once per user (1..=100_000; above
    /// `max_clients` it is that); root and the daemon's user are not limited.
    pub max_clients_per_user: u32,
    /// Bytes one IPC client may hold in the daemon: requests being served and
    /// responses and traffic copies waiting for it to read them.
    pub client_queue_bytes: u32,
    /// Bytes all the clients of one user may hold together (root and the
    /// daemon's user are not limited).
    pub user_queue_bytes: u32,
    /// Seconds a client may take to finish a frame it began to send, or to
    /// read responses that wait for it, before it is disconnected (1..=3600).
    pub client_stall_timeout: u32,
    /// Largest frame body accepted from a client, in bytes.
    pub max_frame_bytes: u32,
    /// Members of this group (and root, and the daemon's own user) see and
    /// act on every client's connections through `smtp32ctl`; empty: nobody else.
    #[serde(default)]
    pub admin_group: String,
    /// Seconds a shutdown lets operations and open mail transactions finish
    /// before every connection gets QUIT (0..=3600).
    pub shutdown_grace: u16,
    /// Mode of the socket file the daemon binds: "0600" or "0660" (octal).
    /// Not used when systemd passes the socket.
    pub socket_mode: String,
    /// Group of the socket file the daemon binds; empty: the daemon's group.
    #[serde(default)]
    pub socket_group: String,
    /// Seconds an SMTP connection may sit with no operation before the daemon
    /// closes it (QUIT where it can); 0 = never (0..=86400).
    pub idle_timeout: u32,
    /// TLS for SMTP connections (`[tls]`).
    pub tls: TlsSettings,
    /// SMTP AUTH (`[auth]`).
    pub auth: AuthSettings,
    /// The smarthost of `smtp32-sendmail` (`[relay]`).
    pub relay: RelaySettings,
    /// The mail queue of `smtp32-sendmail` (`[queue]`).
    pub queue: QueueSettings,
    /// Warm SMTP sessions kept between programs (`[cache]`).
    pub cache: CacheSettings,
    /// The metrics listener (`[metrics]`).
    pub metrics: MetricsSettings,
}

/// The `[auth]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Let `smtp_auth` run on a connection without TLS (the secret then
    /// crosses the network readable).
    pub allow_cleartext: bool,
}

/// Why the settings could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The config crate could not read or parse a source (names the key when it can).
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    /// A value is not one of those allowed.
    #[error("configuration: `{key}` = {value:?} is not allowed: {why}")]
    Invalid {
        /// The offending key.
        key: &'static str,
        /// Its value, as given.
        value: String,
        /// What is allowed, in words.
        why: String,
    },
    /// A value is outside its range.
    #[error("configuration: `{key}` = {value} is out of range ({range})")]
    OutOfRange {
        /// The offending key.
        key: &'static str,
        /// Its value, as given.
        value: String,
        /// The allowed range, in words.
        range: String,
    },
}

impl Settings {
    /// Loads the defaults (on Windows with the SMTP-32 registry values
    /// `Timeout` and `DebugLevel` over them), then `file` (or the system file
    /// when present), then the environment, and validates the result.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut builder = Config::builder()
            .add_source(File::from_str(DEFAULT_CONFIG, FileFormat::Toml))
            .add_source(File::from_str(
                &crate::platform::registry_defaults(),
                FileFormat::Toml,
            ));
        match file {
            Some(path) => {
                builder =
                    builder.add_source(File::from(path).format(FileFormat::Toml).required(true))
            }
            None if Path::new(SYSTEM_CONFIG_PATH).exists() => {
                builder = builder.add_source(File::new(SYSTEM_CONFIG_PATH, FileFormat::Toml))
            }
            None => {}
        }
        // prefix_separator must be set explicitly: with only `separator`, the
        // prefix separator silently becomes the same "__".
        builder = builder.add_source(
            Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true),
        );
        let mut settings: Settings = builder.build()?.try_deserialize()?;
        settings.validate()?;
        settings.relay.load_files()?;
        settings
            .relay
            .check(settings.tls.policy, settings.auth.allow_cleartext)?;
        settings.queue.check()?;
        settings.metrics.address()?;
        Ok(settings.normalised())
    }

    /// Empty paths mean "use the default".
    fn normalised(mut self) -> Settings {
        self.socket = self.socket.filter(|p| !p.as_os_str().is_empty());
        self.debug_log = self.debug_log.filter(|p| !p.as_os_str().is_empty());
        self
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let (min, max) = (*TIMEOUT_SECONDS.start(), *TIMEOUT_SECONDS.end());
        check("timeout", self.timeout.into(), min.into(), max.into())?;
        check("debug_level", self.debug_level.into(), 0, 2)?;
        check("max_connections", self.max_connections.into(), 1, 1_000_000)?;
        check(
            "max_connections_per_client",
            self.max_connections_per_client.into(),
            1,
            self.max_connections.into(),
        )?;
        check(
            "max_frame_bytes",
            self.max_frame_bytes.into(),
            MIN_MAX_FRAME_BYTES.into(),
            MAX_MAX_FRAME_BYTES.into(),
        )?;
        // A per-user limit above the total is allowed and means the total.
        check(
            "max_connections_per_user",
            self.max_connections_per_user.into(),
            1,
            1_000_000,
        )?;
        check("max_clients", self.max_clients.into(), 1, 100_000)?;
        check(
            "max_clients_per_user",
            self.max_clients_per_user.into(),
            1,
            100_000,
        )?;
        check(
            "client_queue_bytes",
            self.client_queue_bytes.into(),
            MIN_CLIENT_QUEUE_BYTES.into(),
            MAX_CLIENT_QUEUE_BYTES.into(),
        )?;
        check(
            "user_queue_bytes",
            self.user_queue_bytes.into(),
            MIN_CLIENT_QUEUE_BYTES.into(),
            MAX_CLIENT_QUEUE_BYTES.into(),
        )?;
        check(
            "client_stall_timeout",
            self.client_stall_timeout.into(),
            1,
            3600,
        )?;
        check("shutdown_grace", self.shutdown_grace.into(), 0, 3600)?;
        check(
            "idle_timeout",
            self.idle_timeout.into(),
            0,
            MAX_IDLE_TIMEOUT.into(),
        )?;
        parse_socket_mode(&self.socket_mode)?;
        self.cache.validate()?;
        crate::smtp::tls::check_settings(&self.tls).map_err(|why| ConfigError::Invalid {
            key: "tls.ca_files",
            value: format!("{:?}", self.tls.ca_files),
            why,
        })?;
        for (key, group) in [
            ("admin_group", &self.admin_group),
            ("socket_group", &self.socket_group),
        ] {
            if !group.is_empty() && crate::peer::group_id(group).is_none() {
                let why = "no such group on this system".into();
                return Err(ConfigError::Invalid {
                    key,
                    value: group.clone(),
                    why,
                });
            }
        }
        Ok(())
    }

    /// The socket file's mode bits (validated at load: 0o600 or 0o660).
    pub fn socket_mode_bits(&self) -> u32 {
        parse_socket_mode(&self.socket_mode).unwrap_or(0o600)
    }

    /// The group for the socket file (on Windows: admitted by the pipe's DACL), `None` for none.
    pub fn socket_gid(&self) -> Option<crate::platform::GroupId> {
        Some(&self.socket_group)
            .filter(|g| !g.is_empty())
            .and_then(|g| crate::peer::group_id(g))
    }
}

/// Reads `socket_mode` as octal; only owner-only and owner+group read/write are allowed.
fn parse_socket_mode(text: &str) -> Result<u32, ConfigError> {
    let invalid = || ConfigError::Invalid {
        key: "socket_mode",
        value: text.to_string(),
        why: "use \"0600\" (owner only) or \"0660\" (owner and group); others may never connect"
            .into(),
    };
    let digits = text.trim().trim_start_matches("0o");
    match u32::from_str_radix(digits, 8) {
        Ok(mode @ (0o600 | 0o660)) => Ok(mode),
        _ => Err(invalid()),
    }
}

/// The configuration file `Settings::load(flag)` reads, if any.
pub fn file_in_use(flag: Option<&Path>) -> Option<PathBuf> {
    match flag {
        Some(path) => Some(path.to_path_buf()),
        None => Some(PathBuf::from(SYSTEM_CONFIG_PATH)).filter(|p| p.exists()),
    }
}

fn check(key: &'static str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            key,
            value: value.to_string(),
            range: format!("{min}..={max}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn load_text(text: &str) -> Result<Settings, ConfigError> {
        let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        Settings::load(Some(f.path()))
    }

    #[test]
    fn defaults_serve_without_a_file() {
        let s = load_text("").unwrap();
        assert_eq!(s.timeout, 20);
        assert_eq!(s.debug_level, 0);
        assert_eq!(s.socket, None);
        assert_eq!(s.max_frame_bytes, smtp32_protocol::DEFAULT_MAX_FRAME_BYTES);
    }

    #[test]
    fn out_of_range_names_the_key() {
        let e = load_text("timeout = 0").unwrap_err().to_string();
        assert!(e.contains("`timeout`"), "{e}");
        let e = load_text("debug_level = 3").unwrap_err().to_string();
        assert!(e.contains("`debug_level`"), "{e}");
        let e = load_text("max_connections = 10\nmax_connections_per_client = 11")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_connections_per_client"), "{e}");
    }

    #[test]
    fn unknown_key_is_refused_by_name() {
        let e = load_text("tiemout = 5").unwrap_err().to_string();
        assert!(e.contains("tiemout"), "{e}");
    }

    /// packaging/smtp32d.toml is what `smtp32d --print-default-config` prints, so the
    /// shipped file cannot drift from the defaults.
    #[test]
    fn packaged_config_is_the_embedded_default() {
        let packaged = include_str!("../../packaging/smtp32d.toml");
        assert!(
            packaged == DEFAULT_CONFIG,
            "packaging/smtp32d.toml differs from the embedded defaults; regenerate it with\n  \
             cargo run -q -p smtp32d -- --print-default-config > packaging/smtp32d.toml"
        );
        load_text(packaged).expect("the packaged file loads");
    }

    #[test]
    fn lifecycle_and_socket_keys() {
        let s = load_text("").unwrap();
        assert_eq!(
            (
                s.shutdown_grace,
                s.socket_mode_bits(),
                s.admin_group.as_str()
            ),
            (30, 0o600, "")
        );
        assert_eq!(
            load_text("socket_mode = \"0660\"")
                .unwrap()
                .socket_mode_bits(),
            0o660
        );
        for bad in [
            "socket_mode = \"0666\"",
            "socket_mode = \"0644\"",
            "socket_mode = \"rw\"",
        ] {
            let e = load_text(bad).unwrap_err().to_string();
            assert!(e.contains("`socket_mode`"), "{e}");
        }
        let e = load_text("shutdown_grace = 3601").unwrap_err().to_string();
        assert!(e.contains("`shutdown_grace`"), "{e}");
        let e = load_text("admin_group = \"no-such-group-smtp32\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`admin_group`"), "{e}");
        #[cfg(unix)]
        assert_eq!(
            load_text("socket_group = \"root\"").unwrap().socket_gid(),
            Some(0)
        );
    }

    #[test]
    fn cache_table_defaults_and_ranges() {
        let s = load_text("").unwrap();
        let c = s.cache;
        assert_eq!(
            (
                c.idle_seconds,
                c.max_idle,
                c.max_idle_per_destination,
                c.max_reuse
            ),
            (5, 100, 10, 100)
        );
        assert!(c.enabled() && !c.share_across_users);
        assert!(!load_text("[cache]\nidle_seconds = 0")
            .unwrap()
            .cache
            .enabled());
        for (bad, key) in [
            ("[cache]\nidle_seconds = 3601", "`cache.idle_seconds`"),
            (
                "[cache]\nmax_idle = 5\nmax_idle_per_destination = 6",
                "`cache.max_idle_per_destination`",
            ),
            ("[cache]\nmax_reuse = 0", "`cache.max_reuse`"),
        ] {
            let e = load_text(bad).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
    }

    #[test]
    fn tls_and_auth_tables() {
        let s = load_text("").unwrap();
        assert_eq!(
            (s.tls.policy, s.auth.allow_cleartext),
            (TlsPolicy::None, false)
        );
        let s = load_text("[tls]\npolicy = \"required\"\n[auth]\nallow_cleartext = true").unwrap();
        assert_eq!(
            (s.tls.policy, s.auth.allow_cleartext),
            (TlsPolicy::Required, true)
        );
        let e = load_text("[tls]\npolicy = \"sometimes\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("policy"), "{e}");
        let e = load_text("[tls]\nca_files = [\"/nonexistent/ca.pem\"]")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("tls.ca_files") && e.contains("/nonexistent/ca.pem"),
            "{e}"
        );
        let e = load_text("[tls]\nca_files = [\"/etc/hostname\"]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no PEM certificate"), "{e}");
    }

    #[test]
    fn relay_table() {
        let s = load_text("").unwrap();
        assert_eq!((s.relay.host.as_str(), s.relay.credentials()), ("", None));
        assert!(!s.relay.ehlo_name().is_empty());
        let mut pw = tempfile::NamedTempFile::new().unwrap();
        pw.write_all(b"s3cr3t-relay\n").unwrap();
        let text = format!(
            "[relay]\nhost = \"smtps://relay.example\"\nlocal = \"me.example\"\nuser = \"app\"\npassword_file = {:?}",
            pw.path()
        );
        let s = load_text(&text).unwrap();
        let (user, secret) = s.relay.credentials().expect("credentials");
        assert_eq!(
            (user, secret.expose(), s.relay.ehlo_name().as_str()),
            ("app", "s3cr3t-relay", "me.example")
        );
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("s3cr3t-relay") && shown.contains("***"),
            "{shown}"
        );
        let s = load_text("[relay]\nhost = \"smtp://h:2525\"\nuser = \"u\"\npassword = \"p\"\n[auth]\nallow_cleartext = true").unwrap();
        assert_eq!(
            s.relay.credentials().map(|(u, p)| (u, p.expose())),
            Some(("u", "p"))
        );
    }

    #[test]
    fn relay_mistakes_name_the_key_and_never_the_password() {
        let cases = [
            ("host = \"smtp://h?tls=maybe\"", "`relay.host`"),
            ("host = \"h\"\nlocal = \"two words\"", "`relay.local`"),
            ("host = \"smtps://h\"\nuser = \"u\"", "`relay.password`"),
            ("host = \"smtps://h\"\npassword = \"hunter2\"", "`relay.user`"),
            ("user = \"u\"\npassword = \"hunter2\"", "`relay.host`"),
            ("host = \"smtp://h:587\"\nuser = \"u\"\npassword = \"hunter2\"", "without TLS"),
            ("host = \"smtps://h\"\nuser = \"u\"\npassword = \"hunter2\"\npassword_file = \"/etc/hostname\"", "not both"),
            // Not an absolute path on Windows, so refused before any read there.
            ("host = \"smtps://h\"\nuser = \"u\"\npassword_file = \"/nonexistent/pw\"",
                if cfg!(unix) { "cannot read" } else { "`relay.password_file`" }),
        ];
        for (table, needle) in cases {
            let e = load_text(&format!("[relay]\n{table}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{table}: {e}");
            assert!(!e.contains("hunter2"), "{table}: {e}");
        }
    }

    #[test]
    fn idle_timeout_defaults_to_five_minutes_and_zero_means_never() {
        assert_eq!(load_text("").unwrap().idle_timeout, 300);
        assert_eq!(load_text("idle_timeout = 0").unwrap().idle_timeout, 0);
        let e = load_text("idle_timeout = 86401").unwrap_err().to_string();
        assert!(e.contains("`idle_timeout`"), "{e}");
    }

    #[test]
    fn client_limits_have_defaults_that_keep_one_user_from_taking_everything() {
        let s = load_text("").unwrap();
        assert!(s.max_clients_per_user < s.max_clients);
        assert!(s.max_connections_per_user < s.max_connections);
        assert_eq!(
            (
                s.client_queue_bytes,
                s.user_queue_bytes,
                s.client_stall_timeout
            ),
            (8 << 20, 32 << 20, 60)
        );
        let e = load_text("max_clients_per_user = 0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`max_clients_per_user`"), "{e}");
        let e = load_text("client_stall_timeout = 0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`client_stall_timeout`"), "{e}");
    }

    #[test]
    fn file_values_apply() {
        let s = load_text("timeout = 7\nsocket = \"/tmp/x.sock\"").unwrap();
        assert_eq!(s.timeout, 7);
        assert_eq!(s.socket, Some(PathBuf::from("/tmp/x.sock")));
    }
}
