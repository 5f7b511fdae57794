//! SOCKS cases a real proxy cannot be made to produce on cue: a SOCKS4-only
//! proxy (for the v5 → v4 fallback), exact request bytes (SOCKS4a, the
//! offered SOCKS5 methods), each refusal code. The real proxies (microsocks,
//! Dante, OpenSSH) are exercised in `tests/tests/socks.rs`.

use super::*;
use crate::smtp::tap::Recorder;
use crate::smtp::{Route, SmtpClient};
use smtp32_protocol::{
    Direction, Secret, SocksEndpoint, SocksMethods, SocksUser, DEFAULT_SOCKS_PORT,
};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One step of a scripted proxy connection.
enum Step {
    /// Write these bytes.
    Say(Vec<u8>),
    /// Read exactly these bytes.
    Expect(Vec<u8>),
}
use Step::{Expect, Say};

fn say(bytes: &[u8]) -> Step {
    Say(bytes.to_vec())
}

fn expect(bytes: &[u8]) -> Step {
    Expect(bytes.to_vec())
}

/// Fails the test instead of hanging it.
async fn watchdog<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("watchdog: test hung")
}

/// A proxy on 127.0.0.1 that serves one connection per script, in order;
/// each connection is closed when its script ends.
async fn proxy(connections: Vec<Vec<Step>>) -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    let server = tokio::spawn(async move {
        for script in connections {
            let (mut conn, _) = listener.accept().await.expect("accept");
            for step in script {
                match step {
                    Say(bytes) => conn.write_all(&bytes).await.expect("proxy write"),
                    Expect(want) => {
                        let mut got = vec![0; want.len()];
                        conn.read_exact(&mut got).await.expect("proxy read");
                        assert_eq!(
                            got.escape_ascii().to_string(),
                            want.escape_ascii().to_string()
                        );
                    }
                }
            }
        }
    });
    (port, server)
}

fn route(proxy_port: u16, versions: SocksVersions, methods: &str, destination: &str) -> SocksRoute {
    SocksRoute {
        proxy: SocksEndpoint::new(SocksHost::parse("127.0.0.1").unwrap(), proxy_port).unwrap(),
        versions,
        methods: SocksMethods::parse(methods).unwrap(),
        destination: SocksEndpoint::new(SocksHost::parse(destination).unwrap(), 25).unwrap(),
        username: None,
        password: None,
    }
}

fn with_credentials(mut r: SocksRoute, user: &str, password: &str) -> SocksRoute {
    r.username = Some(SocksUser::new(user).unwrap());
    r.password = Some(Secret::new(password).unwrap());
    r
}

/// SOCKS5 CONNECT request for `mail.example:25`.
const V5_CONNECT_DOMAIN: &[u8] = b"\x05\x01\x00\x03\x0cmail.example\x00\x19";
/// SOCKS5 success with bound address 0.0.0.0:0.
const V5_OK: &[u8] = b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00";
/// SOCKS4 request granted.
const V4_OK: &[u8] = b"\x00\x5a\x00\x00\x00\x00\x00\x00";

/// After the proxy handshake: the SMTP server's part, spoken by the proxy script.
fn smtp_greeting() -> Vec<Step> {
    vec![
        say(b"220 mx ESMTP\r\n"),
        expect(b"EHLO me.example\r\n"),
        say(b"250 mx\r\n"),
    ]
}

fn then_smtp(mut steps: Vec<Step>) -> Vec<Step> {
    steps.extend(smtp_greeting());
    steps
}

async fn proxy_error(route: SocksRoute) -> (ProxyStage, String) {
    match open(&route).await {
        Err(SmtpError::Proxy { stage, reason }) => (stage, reason),
        Err(other) => panic!("expected a proxy error, got {other:?}"),
        Ok(_) => panic!("expected a proxy error, got a stream"),
    }
}

#[tokio::test]
async fn socks5_without_authentication_carries_the_smtp_dialogue() {
    watchdog(async {
        let (port, server) = proxy(vec![then_smtp(vec![
            expect(b"\x05\x01\x00"),
            say(b"\x05\x00"),
            expect(V5_CONNECT_DOMAIN),
            say(V5_OK),
        ])])
        .await;
        let tap = Arc::new(Recorder::default());
        let r = Route::Socks(Box::new(route(
            port,
            SocksVersions::V5,
            "0",
            "mail.example",
        )));
        let (_client, ehlo) = SmtpClient::connect(&r, "me.example", tap.clone())
            .await
            .expect("connect");
        assert_eq!(ehlo.code, 250);
        // The tap sees the SMTP dialogue from its first byte, never the proxy handshake.
        let seen = tap.take();
        assert_eq!(
            seen.first().map(|(d, b)| (*d, b.as_slice())),
            Some((Direction::FromServer, &b"220 mx ESMTP\r\n"[..]))
        );
        server.await.expect("proxy script");
    })
    .await;
}

#[tokio::test]
async fn socks5_password_is_rfc1929_and_never_tapped() {
    watchdog(async {
        let (port, server) = proxy(vec![then_smtp(vec![
            expect(b"\x05\x02\x00\x02"),
            say(b"\x05\x02"),
            expect(b"\x01\x05alice\x07hunter2"),
            say(b"\x01\x00"),
            expect(b"\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x19"),
            say(V5_OK),
        ])])
        .await;
        let tap = Arc::new(Recorder::default());
        let r = with_credentials(
            route(port, SocksVersions::V5, "2", "127.0.0.1"),
            "alice",
            "hunter2",
        );
        SmtpClient::connect(&Route::Socks(Box::new(r)), "me.example", tap.clone())
            .await
            .expect("connect");
        let all: Vec<u8> = tap.take().into_iter().flat_map(|(_, b)| b).collect();
        assert!(!all.windows(7).any(|w| w == b"hunter2"));
        server.await.expect("proxy script");
    })
    .await;
}

#[tokio::test]
async fn wrong_password_is_an_authentication_failure() {
    watchdog(async {
        let (port, server) = proxy(vec![vec![
            expect(b"\x05\x02\x00\x02"),
            say(b"\x05\x02"),
            expect(b"\x01\x05alice\x05wrong"),
            say(b"\x01\x01"),
        ]])
        .await;
        let r = with_credentials(
            route(port, SocksVersions::Both, "02", "mail.example"),
            "alice",
            "wrong",
        );
        let (stage, reason) = proxy_error(r).await;
        assert_eq!(stage, ProxyStage::Authentication);
        assert!(reason.contains("user name or password"), "{reason}");
        assert!(!reason.contains("wrong"), "{reason}");
        server.await.expect("proxy script");
    })
    .await;
}

#[tokio::test]
async fn proxy_requiring_a_password_refuses_method_0() {
    watchdog(async {
        let (port, server) = proxy(vec![vec![expect(b"\x05\x01\x00"), say(b"\x05\xff")]]).await;
        let (stage, reason) =
            proxy_error(route(port, SocksVersions::Both, "0", "mail.example")).await;
        assert_eq!(stage, ProxyStage::Authentication);
        assert!(reason.contains("none of the offered"), "{reason}");
        server.await.expect("proxy script");
    })
    .await;
}

#[tokio::test]
async fn refused_destination_is_a_connect_failure_for_each_code() {
    for (code, words) in [
        (0x01u8, "General"),
        (0x02, "ruleset"),
        (0x04, "Host unreachable"),
        (0x05, "refused"),
    ] {
        watchdog(async {
            let (port, server) = proxy(vec![vec![
                expect(b"\x05\x01\x00"),
                say(b"\x05\x00"),
                expect(V5_CONNECT_DOMAIN),
                say(&[5, code, 0, 1, 0, 0, 0, 0, 0, 0]),
            ]])
            .await;
            let (stage, reason) =
                proxy_error(route(port, SocksVersions::V5, "0", "mail.example")).await;
            assert_eq!(stage, ProxyStage::Connect);
            assert!(reason.contains(words), "{code}: {reason}");
            server.await.expect("proxy script");
        })
        .await;
    }
}

#[tokio::test]
async fn socks4a_sends_the_name_and_user_id() {
    watchdog(async {
        let (port, server) = proxy(vec![then_smtp(vec![
            expect(b"\x04\x01\x00\x19\x00\x00\x00\x01alice\x00localhost\x00"),
            say(V4_OK),
        ])])
        .await;
        let mut r = route(port, SocksVersions::V4, "0", "localhost");
        r.username = Some(SocksUser::new("alice").unwrap());
        SmtpClient::connect(
            &Route::Socks(Box::new(r)),
            "me.example",
            Arc::new(Recorder::default()),
        )
        .await
        .expect("connect");
        server.await.expect("proxy script");
    })
    .await;
}

#[tokio::test]
async fn socks4_rejection_is_a_connect_failure() {
    watchdog(async {
        let (port, server) = proxy(vec![vec![
            expect(b"\x04\x01\x00\x19\x7f\x00\x00\x01\x00"),
            say(b"\x00\x5b\x00\x00\x00\x00\x00\x00"),
        ]])
        .await;
        let (stage, reason) = proxy_error(route(port, SocksVersions::V4, "0", "127.0.0.1")).await;
        assert_eq!(stage, ProxyStage::Connect);
        assert!(reason.contains("SOCKS4"), "{reason}");
        server.await.expect("proxy script");
    })
    .await;
}

/// A SOCKS4-only proxy that hangs up on a SOCKS5 greeting: both version
/// bits fall back to SOCKS4 on a fresh connection; SOCKS5 alone does not.
#[tokio::test]
async fn both_versions_fall_back_to_socks4_when_the_proxy_hangs_up() {
    watchdog(async {
        let (port, server) = proxy(vec![
            vec![expect(b"\x05")],
            then_smtp(vec![
                expect(b"\x04\x01\x00\x19\x00\x00\x00\x01\x00mail.example\x00"),
                say(V4_OK),
            ]),
        ])
        .await;
        let r = Route::Socks(Box::new(route(
            port,
            SocksVersions::Both,
            "0",
            "mail.example",
        )));
        SmtpClient::connect(&r, "me.example", Arc::new(Recorder::default()))
            .await
            .expect("fallback connect");
        server.await.expect("proxy script");

        let (port, server) = proxy(vec![vec![expect(b"\x05")]]).await;
        let (stage, _) = proxy_error(route(port, SocksVersions::V5, "0", "mail.example")).await;
        assert_eq!(stage, ProxyStage::Handshake);
        server.await.expect("proxy script");
    })
    .await;
}

/// A SOCKS4-only proxy that answers a SOCKS5 greeting with a SOCKS4 refusal.
#[tokio::test]
async fn both_versions_fall_back_to_socks4_on_a_socks4_answer() {
    watchdog(async {
        let (port, server) = proxy(vec![
            vec![
                expect(b"\x05\x01\x00"),
                say(b"\x00\x5b\x00\x00\x00\x00\x00\x00"),
            ],
            then_smtp(vec![
                expect(b"\x04\x01\x00\x19\x7f\x00\x00\x01\x00"),
                say(V4_OK),
            ]),
        ])
        .await;
        let r = Route::Socks(Box::new(route(port, SocksVersions::Both, "0", "127.0.0.1")));
        SmtpClient::connect(&r, "me.example", Arc::new(Recorder::default()))
            .await
            .expect("fallback connect");
        server.await.expect("proxy script");
    })
    .await;
}

#[tokio::test]
async fn failed_fallback_names_both_attempts() {
    watchdog(async {
        let (port, server) = proxy(vec![
            vec![expect(b"\x05")],
            vec![
                expect(b"\x04\x01\x00\x19\x7f\x00\x00\x01\x00"),
                say(b"\x00\x5b\x00\x00\x00\x00\x00\x00"),
            ],
        ])
        .await;
        let (stage, reason) = proxy_error(route(port, SocksVersions::Both, "0", "127.0.0.1")).await;
        assert_eq!(stage, ProxyStage::Connect);
        assert!(reason.contains("SOCKS4 after SOCKS5 failed"), "{reason}");
        server.await.expect("proxy script");
    })
    .await;
}

#[tokio::test]
async fn a_socks5_refusal_is_not_retried_as_socks4() {
    watchdog(async {
        // One connection only: a retry would find the listener gone (HostNotResponding).
        let (port, server) = proxy(vec![vec![
            expect(b"\x05\x01\x00"),
            say(b"\x05\x00"),
            expect(V5_CONNECT_DOMAIN),
            say(b"\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00"),
        ]])
        .await;
        let (stage, _) = proxy_error(route(port, SocksVersions::Both, "0", "mail.example")).await;
        assert_eq!(stage, ProxyStage::Connect);
        server.await.expect("proxy script");
    })
    .await;
}

#[tokio::test]
async fn unreachable_proxy_is_host_not_responding() {
    watchdog(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        match open(&route(port, SocksVersions::Both, "0", "mail.example")).await {
            Err(SmtpError::HostNotResponding(why)) => {
                assert!(why.starts_with("SOCKS proxy"), "{why}")
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    })
    .await;
}

#[tokio::test]
async fn unresolvable_proxy_is_unknown_host() {
    watchdog(async {
        let mut r = route(DEFAULT_SOCKS_PORT, SocksVersions::V5, "0", "mail.example");
        r.proxy.host = SocksHost::parse("no-such-proxy.invalid").unwrap();
        match open(&r).await {
            Err(SmtpError::UnknownHost(host)) => assert_eq!(host, "no-such-proxy.invalid"),
            other => panic!("{:?}", other.map(|_| ())),
        }
    })
    .await;
}

#[tokio::test]
async fn bad_routes_are_refused_before_connecting() {
    watchdog(async {
        // Port 1 on loopback: if anything were attempted, the error would be HostNotResponding.
        match open(&route(1, SocksVersions::V5, "1", "mail.example")).await {
            Err(SmtpError::InvalidArgument(why)) => {
                assert!(why.contains("GSSAPI is not supported"), "{why}")
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
        let mut r = route(1, SocksVersions::V4, "0", &"d".repeat(255));
        r.username = Some(SocksUser::new("u".repeat(255)).unwrap());
        match open(&r).await {
            Err(SmtpError::InvalidArgument(why)) => assert!(why.contains("too long"), "{why}"),
            other => panic!("{:?}", other.map(|_| ())),
        }
        match open(&route(1, SocksVersions::V4, "0", "::1")).await {
            Err(SmtpError::InvalidArgument(why)) => assert!(why.contains("IPv6"), "{why}"),
            other => panic!("{:?}", other.map(|_| ())),
        }
    })
    .await;
}
