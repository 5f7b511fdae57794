//! What makes two SMTP sessions interchangeable: the [`SessionKey`] an open
//! must match to take an idle session, and the [`AuthProof`] that `smtp_auth`
//! must match to take over its AUTH.
//!
//! Secrets (the AUTH secret, a SOCKS password) enter only as HMAC-SHA256
//! digests under a key drawn at start and never written anywhere, so the
//! cache holds no secret and a digest is worth nothing outside this process.
//! Digests are compared in constant time.

use crate::smtp::{Route, TlsPlan};
use ring::hmac;
use smtp32_protocol::{AuthSecret, Reply};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Digests secrets under a key of this daemon's lifetime.
pub struct SecretDigester {
    key: hmac::Key,
}

impl SecretDigester {
    /// A digester with a fresh random key.
    pub fn new() -> SecretDigester {
        let seed: [u8; 32] = rand::random();
        SecretDigester {
            key: hmac::Key::new(hmac::HMAC_SHA256, &seed),
        }
    }

    /// The digest of `parts`, each length-prefixed so no two lists collide.
    pub fn digest(&self, parts: &[&[u8]]) -> Digest {
        let mut ctx = hmac::Context::with_key(&self.key);
        for part in parts {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        Digest(out)
    }
}

impl Default for SecretDigester {
    fn default() -> Self {
        SecretDigester::new()
    }
}

/// An HMAC-SHA256 digest; equality is constant-time.
#[derive(Clone, Copy)]
pub struct Digest([u8; 32]);

impl PartialEq for Digest {
    fn eq(&self, other: &Digest) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Digest {}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Digest(***)")
    }
}

/// Everything an open fixes about a session before its first command, as
/// two digests (64 bytes per session, nothing in clear): the destination, and
/// the whole key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionKey {
    /// The server as named and its port, or the whole SOCKS route (proxy,
    /// versions, methods, destination, user and password): what
    /// `cache.max_idle_per_destination` counts by.
    destination: Digest,
    /// The destination, the TLS mode, the name the certificate was verified
    /// for, the TLS configuration that verified it (a reload with other CA
    /// files or exceptions builds another), the EHLO name and the owner's uid
    /// (`None` when shared across users).
    whole: Digest,
}

impl SessionKey {
    /// The key of an open along `route` saying EHLO `local` with TLS as `tls`,
    /// for `uid` (`None`: shared by every user).
    pub fn new(
        digester: &SecretDigester,
        route: &Route,
        local: &str,
        tls: &TlsPlan,
        uid: Option<crate::platform::UserId>,
    ) -> SessionKey {
        let destination = match route {
            Route::Direct(endpoint) => digester.digest(&[
                b"direct",
                endpoint.host.as_bytes(),
                &endpoint.port.to_be_bytes(),
            ]),
            Route::Socks(r) => {
                let user = r.username.as_ref().map(|u| u.as_str()).unwrap_or("");
                let password = r.password.as_ref().map(|p| p.expose()).unwrap_or("");
                let text = format!("{route} methods {:?}", r.methods);
                digester.digest(&[
                    b"socks",
                    text.as_bytes(),
                    user.as_bytes(),
                    password.as_bytes(),
                ])
            }
        };
        let mode = format!("{:?}", tls.mode);
        let config = tls.context.as_ref().map_or(0, |c| Arc::as_ptr(c) as usize);
        let owner = uid.map_or(vec![0u8], |u| {
            [&[1u8][..], &crate::platform::user_key(u)].concat()
        });
        let whole = digester.digest(&[
            b"key",
            &destination.0,
            mode.as_bytes(),
            tls.host.to_ascii_lowercase().as_bytes(),
            &config.to_be_bytes(),
            local.to_ascii_lowercase().as_bytes(),
            &owner,
        ]);
        SessionKey { destination, whole }
    }

    /// True when `other` goes to the same destination (whatever the rest).
    pub fn same_destination(&self, other: &SessionKey) -> bool {
        self.destination == other.destination
    }
}

/// Who a session is authenticated as: the user, a digest of the secret, and
/// the server's 235, which a matching `smtp_auth` on the reused session gets.
#[derive(Debug, Clone)]
pub struct AuthProof {
    user: String,
    secret: Digest,
    /// The server's answer to the AUTH that was actually sent.
    pub reply: Reply,
}

impl AuthProof {
    /// The proof of a successful AUTH as `user` with `secret`.
    pub fn new(
        digester: &SecretDigester,
        user: &str,
        secret: &AuthSecret,
        reply: Reply,
    ) -> AuthProof {
        AuthProof {
            user: user.to_owned(),
            secret: secret_digest(digester, user, secret),
            reply,
        }
    }

    /// True when `user` and `secret` are the ones this session authenticated
    /// with (the secret compared as a digest, in constant time).
    pub fn matches(&self, digester: &SecretDigester, user: &str, secret: &AuthSecret) -> bool {
        let same_secret = self.secret == secret_digest(digester, user, secret);
        same_secret & (self.user == user)
    }
}

fn secret_digest(digester: &SecretDigester, user: &str, secret: &AuthSecret) -> Digest {
    digester.digest(&[b"auth", user.as_bytes(), secret.expose().as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::{Endpoint, TlsMode};

    fn plan(mode: TlsMode, host: &str) -> TlsPlan {
        TlsPlan {
            mode,
            context: None,
            host: host.into(),
        }
    }

    #[test]
    fn every_component_separates_keys() {
        let d = SecretDigester::new();
        let route = Route::Direct(Endpoint {
            host: "mx.example".into(),
            port: 25,
        });
        let base = SessionKey::new(
            &d,
            &route,
            "me.example",
            &plan(TlsMode::None, "mx.example"),
            Some(crate::platform::test_user(1000)),
        );
        assert_eq!(
            base,
            SessionKey::new(
                &d,
                &route,
                "ME.example",
                &plan(TlsMode::None, "mx.example"),
                Some(crate::platform::test_user(1000))
            )
        );
        let other_port = Route::Direct(Endpoint {
            host: "mx.example".into(),
            port: 587,
        });
        let variants = [
            SessionKey::new(
                &d,
                &other_port,
                "me.example",
                &plan(TlsMode::None, "mx.example"),
                Some(crate::platform::test_user(1000)),
            ),
            SessionKey::new(
                &d,
                &route,
                "you.example",
                &plan(TlsMode::None, "mx.example"),
                Some(crate::platform::test_user(1000)),
            ),
            SessionKey::new(
                &d,
                &route,
                "me.example",
                &plan(TlsMode::Required, "mx.example"),
                Some(crate::platform::test_user(1000)),
            ),
            SessionKey::new(
                &d,
                &route,
                "me.example",
                &plan(TlsMode::None, "other.example"),
                Some(crate::platform::test_user(1000)),
            ),
            SessionKey::new(
                &d,
                &route,
                "me.example",
                &plan(TlsMode::None, "mx.example"),
                Some(crate::platform::test_user(1001)),
            ),
            SessionKey::new(
                &d,
                &route,
                "me.example",
                &plan(TlsMode::None, "mx.example"),
                None,
            ),
        ];
        for v in variants {
            assert_ne!(base, v);
        }
    }

    #[test]
    fn the_socks_proxy_user_and_password_separate_keys() {
        use smtp32_protocol::{
            Secret, SocksEndpoint, SocksHost, SocksMethods, SocksRoute, SocksUser, SocksVersions,
        };
        let d = SecretDigester::new();
        let route = |user: &str, password: &str| {
            Route::Socks(Box::new(SocksRoute {
                proxy: SocksEndpoint::new(SocksHost::parse("127.0.0.1").unwrap(), 1080).unwrap(),
                versions: SocksVersions::V5,
                methods: SocksMethods::parse("2").unwrap(),
                destination: SocksEndpoint::new(SocksHost::parse("mx.example").unwrap(), 25)
                    .unwrap(),
                username: Some(SocksUser::new(user).unwrap()),
                password: Some(Secret::new(password).unwrap()),
            }))
        };
        let tls = plan(TlsMode::None, "mx.example");
        let key = |r: &Route| {
            SessionKey::new(
                &d,
                r,
                "me.example",
                &tls,
                Some(crate::platform::test_user(0)),
            )
        };
        let base = key(&route("alice", "pw1"));
        assert_eq!(base, key(&route("alice", "pw1")));
        assert_ne!(base, key(&route("alice", "pw2")), "another proxy password");
        assert_ne!(base, key(&route("bob", "pw1")), "another proxy user");
        assert!(!base.same_destination(&key(&route("alice", "pw2"))));
    }

    #[test]
    fn an_auth_proof_matches_only_the_same_user_and_secret() {
        let d = SecretDigester::new();
        let secret = AuthSecret::new("s3cret").unwrap();
        let reply = Reply {
            code: 235,
            lines: ["ok"].into(),
        };
        let proof = AuthProof::new(&d, "alice", &secret, reply);
        assert!(proof.matches(&d, "alice", &secret));
        assert!(!proof.matches(&d, "alice", &AuthSecret::new("s3cret2").unwrap()));
        assert!(!proof.matches(&d, "bob", &secret));
        assert!(!format!("{proof:?}").contains("s3cret"));
    }
}
