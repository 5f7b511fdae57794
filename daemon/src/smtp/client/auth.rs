//! SMTP AUTH (RFC 4954) with PLAIN (RFC 4616), LOGIN and XOAUTH2.
//!
//! The lines that carry the secret (and LOGIN's user name) are written with
//! a redacted copy for the traffic tap: `AUTH PLAIN ***`, `AUTH XOAUTH2 ***`,
//! and `***` for each LOGIN answer. Only these writes are redacted.

use super::{refuse_negative, SmtpClient};
use crate::smtp::{validate_arg, SmtpError};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use smtp32_protocol::{AuthMechanism, AuthSecret, Reply};

/// The SASL "continue" reply.
const CONTINUE: u16 = 334;

impl SmtpClient {
    /// Authenticates as `user` with `secret` (a password, or the bearer token
    /// for XOAUTH2). `mechanism` `None` picks PLAIN when offered, else LOGIN;
    /// XOAUTH2 is used only when asked for. Refused before anything is sent:
    /// a cleartext connection unless `allow_cleartext` (`TlsUnavailable`), a
    /// mechanism the server does not offer (`Unsupported`). A 4xx/5xx (535
    /// for bad credentials) is `Refused`. Returns the 235.
    pub async fn authenticate(
        &mut self,
        mechanism: Option<AuthMechanism>,
        user: &str,
        secret: &AuthSecret,
        allow_cleartext: bool,
    ) -> Result<Reply, SmtpError> {
        validate_arg("user", user)?;
        if user.is_empty() {
            return Err(SmtpError::InvalidArgument("the AUTH user is empty".into()));
        }
        if !self.is_tls() && !allow_cleartext {
            return Err(SmtpError::TlsUnavailable(
                "AUTH over a cleartext connection is refused: use STARTTLS or smtps:// \
                 (only the daemon's administrator can allow it, with auth.allow_cleartext)"
                    .into(),
            ));
        }
        let reply = match self.choose_mechanism(mechanism)? {
            AuthMechanism::Plain => {
                let token = BASE64.encode(format!("\0{user}\0{}", secret.expose()));
                self.secret_exchange(&format!("AUTH PLAIN {token}"), "AUTH PLAIN ***")
                    .await?
            }
            AuthMechanism::Login => {
                let prompt = self.exchange("AUTH LOGIN").await?;
                if prompt.code != CONTINUE {
                    return Err(unexpected(prompt));
                }
                let prompt = self.secret_exchange(&BASE64.encode(user), "***").await?;
                if prompt.code != CONTINUE {
                    return Err(unexpected(prompt));
                }
                self.secret_exchange(&BASE64.encode(secret.expose()), "***")
                    .await?
            }
            AuthMechanism::XOAuth2 => {
                let token = BASE64.encode(format!(
                    "user={user}\x01auth=Bearer {}\x01\x01",
                    secret.expose()
                ));
                let reply = self
                    .secret_exchange(&format!("AUTH XOAUTH2 {token}"), "AUTH XOAUTH2 ***")
                    .await?;
                // A 334 carries the error details; an empty answer gets the final reply.
                if reply.code == CONTINUE {
                    self.exchange("").await?
                } else {
                    reply
                }
            }
        };
        if reply.code == CONTINUE {
            // The server wants more than the mechanism has: cancel (RFC 4954 §4).
            return Err(unexpected(self.exchange("*").await?));
        }
        refuse_negative(reply)
    }

    /// The mechanism to use, from what the server offers in its `AUTH` keyword.
    fn choose_mechanism(&self, wanted: Option<AuthMechanism>) -> Result<AuthMechanism, SmtpError> {
        let offered: Vec<&str> = match self.extension("AUTH") {
            Some(params) => params.split_ascii_whitespace().collect(),
            None => {
                return Err(SmtpError::Unsupported(
                    "the server does not offer AUTH".into(),
                ))
            }
        };
        let has = |m: AuthMechanism| offered.iter().any(|o| o.eq_ignore_ascii_case(m.name()));
        let chosen = match wanted {
            Some(m) => Some(m).filter(|&m| has(m)),
            None => [AuthMechanism::Plain, AuthMechanism::Login]
                .into_iter()
                .find(|&m| has(m)),
        };
        chosen.ok_or_else(|| {
            let what = wanted.map_or("PLAIN or LOGIN".to_string(), |m| m.to_string());
            SmtpError::Unsupported(format!(
                "the server offers AUTH {}, not {what}",
                offered.join(" ")
            ))
        })
    }

    /// Writes `line` while the tap sees `shown`, then reads the reply.
    async fn secret_exchange(&mut self, line: &str, shown: &str) -> Result<Reply, SmtpError> {
        self.out.clear();
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
        let shown = format!("{shown}\r\n");
        self.in_auth = true;
        let written = self.write_out_shown(Some(shown.as_bytes())).await;
        // The buffer held the secret: clear it before anything else can look.
        self.out.fill(0);
        self.out.clear();
        written?;
        self.read().await
    }
}

/// A reply that does not fit the exchange: a refusal when 4xx/5xx, else a protocol error.
fn unexpected(reply: Reply) -> SmtpError {
    if reply.code >= 400 {
        SmtpError::Refused(reply)
    } else {
        SmtpError::BadReply(format!(
            "unexpected reply during AUTH: {}",
            reply.to_wire_text()
        ))
    }
}
