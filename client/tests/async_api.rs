//! The async client (feature `tokio`) against the scripted fake daemon.
#![cfg(feature = "tokio")]

mod common;

use common::*;
use smtp32::asynchronous::AsyncClient;
use smtp32_protocol::{Request, Response};

#[tokio::test]
async fn async_calls_reach_the_daemon() {
    let d = start(|p, id, req| {
        match req {
            Request::Ping { payload } => p.respond(id, Response::Pong { payload }),
            Request::Open { .. } => p.respond(id, Response::Opened { handle: h(1) }),
            Request::Command { .. } => p.respond(id, Response::Reply(reply(250, "ok"))),
            _ => p.respond(id, Response::Done),
        }
        Next::Continue
    });
    let c = AsyncClient::connect(d.path.clone()).await.unwrap();
    c.ping(b"x").await.unwrap();
    let conn = c.helo("mx", "me", None).await.unwrap();
    assert_eq!(conn.mail("a@b").await.unwrap().code, 250);
    conn.data_buf(b"hello\n").await.unwrap();
    conn.quit().await.unwrap();
}
