//! The `[relay]` table: the smarthost that `smtp32-sendmail` sends through
//! (`Request::OpenRelay`), and the AUTH credentials that only the daemon
//! holds.
//!
//! The password is an [`AuthSecret`] from the moment it is read, so neither
//! `--check-config`, a log line nor an error message can print it. It comes
//! from `relay.password` or, better, from `relay.password_file` (read at
//! start and at every reload; a relative path is looked up in systemd's
//! `$CREDENTIALS_DIRECTORY`, where `LoadCredential=` puts it).

mod aliases;

pub use aliases::Aliases;

use super::{ConfigError, TlsPolicy};
use crate::smtp::{check_local_name, validate_arg, Target, TlsMode};
use serde::{Deserialize, Deserializer};
use smtp32_protocol::AuthSecret;
use std::path::{Path, PathBuf};

/// The `[relay]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelaySettings {
    /// The smarthost, as a host string (`smtps://host`,
    /// `smtp://host:587?tls=required`, `host:port`); empty: no relay.
    #[serde(default)]
    pub host: String,
    /// The EHLO name; empty: the machine's host name.
    #[serde(default)]
    pub local: String,
    /// The AUTH user; empty: no AUTH.
    #[serde(default)]
    pub user: String,
    /// The AUTH password (from the file or from `password_file`).
    #[serde(default, deserialize_with = "secret_or_empty")]
    pub password: Option<AuthSecret>,
    /// A file holding the password (one line); relative: in `$CREDENTIALS_DIRECTORY`.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Messages from `smtp32-sendmail` go through the daemon's queue
    /// (`[queue]`); false: they are sent at once, and a failure is the
    /// caller's to handle.
    #[serde(default = "yes")]
    pub queue: bool,
    /// Force this envelope sender on every message (as msmtp's `from`); empty: as given.
    #[serde(default)]
    pub from: String,
    /// The domain for this host's addresses: `name@<this host's name>` (what
    /// smtp32-sendmail makes of a bare name) becomes `name@maildomain` in the
    /// envelope and the From, Sender, Reply-To, To and Cc fields; empty: unchanged.
    #[serde(default)]
    pub maildomain: String,
    /// An aliases file for this host's recipients (see [`Aliases`]); empty: none.
    #[serde(default)]
    pub aliases: Option<PathBuf>,
    /// The table read from `aliases` at start and on every reload.
    #[serde(skip)]
    pub alias_table: Aliases,
}

fn yes() -> bool {
    true
}

impl RelaySettings {
    /// The EHLO name to use: `local`, else the machine's host name (else `localhost`).
    pub fn ehlo_name(&self) -> String {
        if !self.local.is_empty() {
            return self.local.clone();
        }
        crate::platform::machine_hostname()
            .filter(|h| check_local_name(h).is_ok())
            .unwrap_or_else(|| "localhost".into())
    }

    /// The user and password for AUTH, when a user is configured (validated at load).
    pub fn credentials(&self) -> Option<(&str, &AuthSecret)> {
        let password = self.password.as_ref()?;
        (!self.user.is_empty()).then_some((self.user.as_str(), password))
    }

    /// Reads the files the table names: the password and the aliases.
    pub(super) fn load_files(&mut self) -> Result<(), ConfigError> {
        self.load_password_file()?;
        if let Some(path) = self.aliases.as_ref().filter(|p| !p.as_os_str().is_empty()) {
            self.alias_table = Aliases::load(path).map_err(|why| ConfigError::Invalid {
                key: "relay.aliases",
                value: path.display().to_string(),
                why,
            })?;
        }
        Ok(())
    }

    /// Reads `password_file` into `password`, if it is set.
    fn load_password_file(&mut self) -> Result<(), ConfigError> {
        let Some(path) = self
            .password_file
            .as_ref()
            .filter(|p| !p.as_os_str().is_empty())
        else {
            return Ok(());
        };
        let invalid = |why: String| ConfigError::Invalid {
            key: "relay.password_file",
            value: path.display().to_string(),
            why,
        };
        if self.password.is_some() {
            return Err(invalid(
                "set relay.password or relay.password_file, not both".into(),
            ));
        }
        let resolved = resolve_credential(path).map_err(invalid)?;
        let text = std::fs::read_to_string(&resolved)
            .map_err(|e| invalid(format!("cannot read {}: {e}", resolved.display())))?;
        let line = text
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(&text);
        // The error of AuthSecret::new never quotes the secret.
        self.password = Some(AuthSecret::new(line).map_err(|e| invalid(e.to_string()))?);
        Ok(())
    }

    /// Checks the table as a whole: a host string that parses, a usable EHLO
    /// name, a user and a password together, and no AUTH that the daemon
    /// itself would refuse for want of TLS.
    pub(super) fn check(
        &self,
        policy: TlsPolicy,
        allow_cleartext: bool,
    ) -> Result<(), ConfigError> {
        let invalid = |key: &'static str, value: &str, why: String| ConfigError::Invalid {
            key,
            value: value.into(),
            why,
        };
        let has_credentials = !self.user.is_empty() || self.password.is_some();
        if self.host.is_empty() {
            if has_credentials {
                return Err(invalid(
                    "relay.host",
                    "",
                    "relay credentials are set but relay.host is empty".into(),
                ));
            }
            return Ok(());
        }
        let target = Target::parse(&self.host)
            .map_err(|e| invalid("relay.host", &self.host, e.to_string()))?;
        if !self.local.is_empty() {
            check_local_name(&self.local)
                .map_err(|e| invalid("relay.local", &self.local, e.to_string()))?;
        }
        match (self.user.is_empty(), self.password.is_some()) {
            (true, true) => {
                return Err(invalid(
                    "relay.user",
                    "",
                    "a relay password needs relay.user".into(),
                ))
            }
            (false, false) => {
                let why = "relay.user needs relay.password or relay.password_file".into();
                return Err(invalid("relay.password", "", why));
            }
            _ => {}
        }
        for (key, value) in [
            ("relay.from", &self.from),
            ("relay.maildomain", &self.maildomain),
        ] {
            let bad = value.contains(['<', '>', ' ', '\r', '\n', '\0'])
                || (key == "relay.maildomain" && value.contains('@'));
            if bad {
                return Err(invalid(
                    key,
                    value,
                    "give a bare address (from) or domain (maildomain)".into(),
                ));
            }
        }
        if !self.user.is_empty() {
            validate_arg("relay.user", &self.user)
                .map_err(|e| invalid("relay.user", &self.user, e.to_string()))?;
        }
        let mode = target.tls.unwrap_or(policy.into());
        if has_credentials && mode == TlsMode::None && !allow_cleartext {
            let why = "AUTH would be refused on a connection without TLS: use smtps://host or \
                       smtp://host?tls=required (or set auth.allow_cleartext)"
                .into();
            return Err(invalid("relay.host", &self.host, why));
        }
        Ok(())
    }
}

/// `relay.password = ""` means no password; anything else must be a valid secret.
fn secret_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Option<AuthSecret>, D::Error> {
    let text = String::deserialize(d)?;
    if text.is_empty() {
        return Ok(None);
    }
    AuthSecret::new(text)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("relay.password: {e}")))
}

/// An absolute path as is; a relative one inside systemd's `$CREDENTIALS_DIRECTORY`.
fn resolve_credential(path: &Path) -> Result<PathBuf, String> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    match std::env::var_os("CREDENTIALS_DIRECTORY") {
        Some(dir) => Ok(Path::new(&dir).join(path)),
        None => Err(
            "a relative path is looked up in $CREDENTIALS_DIRECTORY (systemd's LoadCredential=), \
                     which is not set: give an absolute path"
                .into(),
        ),
    }
}
