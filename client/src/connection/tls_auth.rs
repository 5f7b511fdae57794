//! TLS, AUTH and the server's EHLO keywords on a [`Connection`].

use super::Connection;
use crate::error::unexpected;
use crate::error::{check_line, Error, Result};
use smtp32_protocol::{AuthMechanism, AuthSecret, Reply, Request, Response};

impl Connection {
    /// `STARTTLS`: upgrades the connection to TLS, verifying the server's
    /// certificate for the host name given to `helo` (against the system's
    /// roots and the daemon's `tls.ca_files`), then says EHLO again; returns
    /// the new EHLO reply. Fails with `TlsFailure` when the server does not
    /// offer STARTTLS or the connection is already encrypted (the connection
    /// is unchanged), or when the handshake or the verification fails (the
    /// connection is then gone); a 4xx/5xx to STARTTLS is `Failure`.
    pub fn starttls(&self) -> Result<Reply> {
        let _busy = self.begin()?;
        match self.request(Request::StartTls {
            handle: self.handle,
        })? {
            Response::Reply(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    /// `AUTH`: authenticates as `user` with `secret` (a password, or the
    /// OAuth2 bearer token for XOAUTH2). `None` picks the best mechanism the
    /// server offers: PLAIN, else LOGIN (XOAUTH2 only when asked for).
    /// Returns the 235. Fails with `TlsFailure` on a connection without TLS
    /// unless the daemon's administrator allows it (`auth.allow_cleartext`),
    /// with `Failure` when the server refuses (535 for bad credentials, in
    /// [`Error::reply`]) or does not offer the mechanism. The secret never
    /// appears in logs or traffic copies.
    pub fn auth(
        &self,
        mechanism: Option<AuthMechanism>,
        user: &str,
        secret: &str,
    ) -> Result<Reply> {
        check_line("user", user)?;
        if user.is_empty() {
            return Err(Error::invalid_argument("the AUTH user is empty"));
        }
        let secret = AuthSecret::new(secret)?;
        let _busy = self.begin()?;
        match self.request(Request::Auth {
            handle: self.handle,
            mechanism,
            user: user.to_owned(),
            secret,
        })? {
            Response::Reply(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    /// The server's EHLO keyword lines, keyword upper-cased and parameters as
    /// sent (`"SIZE 10485760"`), as of the last EHLO (after STARTTLS, the new
    /// one); empty when the server took HELO.
    pub fn extensions(&self) -> Result<Vec<String>> {
        let _busy = self.begin()?;
        match self.request(Request::Extensions {
            handle: self.handle,
        })? {
            Response::Extensions(list) => Ok(list),
            other => Err(unexpected(other)),
        }
    }

    /// The parameters of `keyword` (`""` when it has none, e.g. `PIPELINING`)
    /// if the server offered it, `None` if not; case-insensitive.
    pub fn extension(&self, keyword: &str) -> Result<Option<String>> {
        check_line("keyword", keyword)?;
        Ok(find_extension(self.extensions()?, keyword))
    }
}

/// The parameters of `keyword` among EHLO keyword lines (case-insensitive).
pub(crate) fn find_extension(lines: Vec<String>, keyword: &str) -> Option<String> {
    lines.into_iter().find_map(|line| {
        let (k, params) = line.split_once(' ').unwrap_or((&line, ""));
        k.eq_ignore_ascii_case(keyword).then(|| params.to_owned())
    })
}
