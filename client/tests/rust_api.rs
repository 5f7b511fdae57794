//! The Rust API against a scripted fake daemon: handshake, routing of
//! responses and events, callbacks, cancellation and a vanishing daemon.

mod common;

use common::*;
use smtp32::{Client, DataStep, Direction, ReturnCode};
use smtp32_protocol::{Command, Failure, Request, Response};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

#[test]
fn handshake_and_ping() {
    // (Status is left out: DaemonStatus grows with the admin work.)
    let d = start(|p, id, req| {
        match req {
            Request::Ping { payload } => p.respond(id, Response::Pong { payload }),
            _ => p.respond(id, Response::Failed(Failure::InvalidHandle)),
        }
        Next::Continue
    });
    watchdog(10, move || {
        let c = Client::connect(&d.path).unwrap();
        assert_eq!(c.daemon_version(), "fake");
        c.ping(b"hi").unwrap();
        assert_eq!(c.status().unwrap_err().code(), ReturnCode::InvalidHandle);
    });
}

#[test]
fn refused_handshake_and_missing_socket_cannot_initialize() {
    let d = start_with(1 << 20, Some("go away"), |_, _, _| Next::Continue);
    let e = Client::connect(&d.path).unwrap_err();
    assert_eq!(e.code(), ReturnCode::CannotInitialize);
    assert!(e.message().contains("go away"), "{e}");
    let e = Client::connect("/nonexistent/smtp32d.sock").unwrap_err();
    assert_eq!(e.code(), ReturnCode::CannotInitialize);
}

#[test]
fn traffic_before_opened_and_before_replies_reaches_the_callback_in_order() {
    let d = start(|p, id, req| {
        match req {
            Request::Open { debug: true, .. } => {
                p.traffic(h(7), Direction::FromServer, b"220 hi\r\n");
                p.traffic(h(7), Direction::ToServer, b"EHLO me\r\n");
                p.respond(id, Response::Opened { handle: h(7) });
            }
            Request::Command {
                handle,
                command: Command::Mail { from },
            } => {
                p.traffic(
                    handle,
                    Direction::ToServer,
                    format!("MAIL FROM:<{from}>\r\n").as_bytes(),
                );
                p.traffic(handle, Direction::FromServer, b"550 no\r\n");
                p.respond(id, Response::Failed(Failure::Refused(reply(550, "no"))));
            }
            _ => p.respond(id, Response::Failed(Failure::InvalidArgument("?".into()))),
        }
        Next::Continue
    });
    watchdog(10, move || {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let c = Client::connect(&d.path).unwrap();
        let conn = c
            .helo(
                "mx",
                "me",
                Some(Arc::new(move |h, dir, b: &[u8]| {
                    s2.lock().unwrap().push((h.get(), dir, b.to_vec()))
                })),
            )
            .unwrap();
        assert_eq!(conn.handle().get(), 7);
        assert_eq!(
            seen.lock().unwrap().len(),
            2,
            "greeting traffic delivered before helo returned"
        );
        let e = conn.mail("a@b").unwrap_err();
        assert_eq!(e.code(), ReturnCode::Failure);
        assert!(e.is_permanent() && !e.is_transient());
        assert_eq!(e.reply().unwrap().code, 550);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 4);
        assert_eq!(
            seen[2],
            (7, Direction::ToServer, b"MAIL FROM:<a@b>\r\n".to_vec())
        );
        assert_eq!(seen[3].2, b"550 no\r\n");
    });
}

#[test]
fn xhelo_status_runs_once_and_blocking_calls_in_callbacks_fail_fast() {
    let d = start(|p, id, req| {
        match req {
            Request::Open {
                mode: smtp32_protocol::OpenMode::Async,
                ..
            } => {
                p.respond(id, Response::Opened { handle: h(3) });
                p.event(smtp32_protocol::Event::Connected {
                    handle: h(3),
                    result: Ok(()),
                });
            }
            Request::Command { .. } => p.respond(id, Response::Reply(reply(250, "ok"))),
            _ => p.respond(id, Response::Done),
        }
        Next::Continue
    });
    watchdog(10, move || {
        let c = Client::connect(&d.path).unwrap();
        let (tx, rx) = mpsc::channel();
        let slot: Arc<Mutex<Option<smtp32::Connection>>> = Arc::default();
        let slot2 = slot.clone();
        let conn = c
            .xhelo(
                "mx",
                "me",
                None,
                Box::new(move |h, result| {
                    // A blocking call from the reader thread must not deadlock.
                    let inner = slot2
                        .lock()
                        .unwrap()
                        .clone()
                        .map(|c: smtp32::Connection| c.noop());
                    tx.send((
                        h.get(),
                        result.is_ok(),
                        inner.map(|r| r.unwrap_err().code()),
                    ))
                    .unwrap();
                }),
            )
            .unwrap();
        *slot.lock().unwrap() = Some(conn.clone());
        let (handle, ok, _) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!((handle, ok), (3, true));
        assert!(
            rx.recv_timeout(Duration::from_millis(200)).is_err(),
            "status ran twice"
        );
        assert_eq!(conn.noop().unwrap().code, 250);
    });
}

#[test]
fn blocking_call_from_debug_callback_returns_in_progress() {
    let d = start(|p, id, req| {
        match req {
            Request::Open { .. } => p.respond(id, Response::Opened { handle: h(1) }),
            Request::Command { handle, .. } => {
                p.traffic(handle, Direction::ToServer, b"NOOP\r\n");
                p.respond(id, Response::Reply(reply(250, "ok")));
            }
            _ => p.respond(id, Response::Done),
        }
        Next::Continue
    });
    watchdog(10, move || {
        let c = Client::connect(&d.path).unwrap();
        let slot: Arc<Mutex<Option<smtp32::Connection>>> = Arc::default();
        let codes = Arc::new(Mutex::new(Vec::new()));
        let (s2, c2) = (slot.clone(), codes.clone());
        let conn = c
            .helo(
                "mx",
                "me",
                Some(Arc::new(move |_, _, _: &[u8]| {
                    if let Some(conn) = s2.lock().unwrap().clone() {
                        c2.lock().unwrap().push(conn.rset().unwrap_err().code());
                    }
                })),
            )
            .unwrap();
        *slot.lock().unwrap() = Some(conn.clone());
        conn.noop().unwrap();
        assert_eq!(*codes.lock().unwrap(), vec![ReturnCode::InProgress]);
    });
}

#[test]
fn xquit_from_another_thread_aborts_the_call_in_flight() {
    let stalled = Arc::new(Mutex::new(None));
    let (arrived_tx, arrived) = mpsc::channel();
    let arrived_tx = Mutex::new(arrived_tx);
    let d = start(move |p, id, req| {
        match req {
            Request::Open { .. } => p.respond(id, Response::Opened { handle: h(9) }),
            Request::Command { .. } => {
                *stalled.lock().unwrap() = Some(id);
                let _ = arrived_tx.lock().unwrap().send(());
            }
            Request::XQuit { .. } => {
                if let Some(old) = stalled.lock().unwrap().take() {
                    p.respond(old, Response::Failed(Failure::Aborted));
                }
                p.respond(id, Response::Done);
            }
            _ => p.respond(id, Response::Failed(Failure::InvalidHandle)),
        }
        Next::Continue
    });
    watchdog(10, move || {
        let c = Client::connect(&d.path).unwrap();
        let conn = c.helo("mx", "me", None).unwrap();
        let other = conn.clone();
        let t = std::thread::spawn(move || other.rcpt("x@y"));
        arrived
            .recv_timeout(Duration::from_secs(5))
            .expect("the RCPT reached the daemon");
        assert_eq!(
            conn.noop().unwrap_err().code(),
            ReturnCode::InProgress,
            "second call while busy"
        );
        conn.xquit().unwrap();
        let e = t.join().unwrap().unwrap_err();
        assert!(e.is_aborted(), "{e}");
        assert!(conn.is_closed());
    });
}

#[test]
fn daemon_vanishing_fails_waiters_and_owed_status_callbacks() {
    let d = start(|p, id, req| match req {
        Request::Open {
            mode: smtp32_protocol::OpenMode::Async,
            ..
        } => {
            p.respond(id, Response::Opened { handle: h(4) });
            Next::Continue
        }
        Request::Open { .. } => {
            p.respond(id, Response::Opened { handle: h(5) });
            Next::Continue
        }
        _ => Next::Close,
    });
    watchdog(10, move || {
        let c = Client::connect(&d.path).unwrap();
        let (tx, rx) = mpsc::channel();
        let _pending = c
            .xhelo(
                "mx",
                "me",
                None,
                Box::new(move |_, r| tx.send(r.unwrap_err().code()).unwrap()),
            )
            .unwrap();
        let conn = c.helo("mx", "me", None).unwrap();
        assert_eq!(
            conn.noop().unwrap_err().code(),
            ReturnCode::CannotInitialize
        );
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            ReturnCode::CannotInitialize
        );
        assert!(!c.is_alive());
        assert_eq!(
            c.ping(b"").unwrap_err().code(),
            ReturnCode::CannotInitialize
        );
    });
}

#[test]
fn data_is_split_to_the_frame_limit_and_abort_sends_xquit() {
    let got = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let g2 = got.clone();
    let d = start_with(64 * 1024, None, move |p, id, req| {
        match req {
            Request::Open { .. } => p.respond(id, Response::Opened { handle: h(2) }),
            Request::DataChunk { bytes, .. } => {
                g2.lock().unwrap().push(bytes.to_vec());
                p.respond(id, Response::Done);
            }
            Request::DataEnd { .. } => p.respond(id, Response::Reply(reply(250, "queued"))),
            Request::XQuit { .. } => p.respond(id, Response::Done),
            _ => p.respond(id, Response::Failed(Failure::InvalidHandle)),
        }
        Next::Continue
    });
    watchdog(10, move || {
        let c = Client::connect(&d.path).unwrap();
        let conn = c.helo("mx", "me", None).unwrap();
        let msg: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        conn.data_buf(&msg).unwrap();
        assert_eq!(conn.data_end().unwrap().code, 250);
        {
            let chunks = got.lock().unwrap();
            assert!(chunks.iter().all(|c| c.len() <= 64 * 1024 - 64));
            assert_eq!(chunks.concat(), msg);
        }
        got.lock().unwrap().clear();

        let mut pos = 0;
        let reply = conn
            .data_from(|buf| {
                let n = buf.len().min(msg.len() - pos);
                buf[..n].copy_from_slice(&msg[pos..pos + n]);
                pos += n;
                DataStep::Bytes(n)
            })
            .unwrap();
        assert_eq!(reply.code, 250);
        assert_eq!(got.lock().unwrap().concat(), msg);

        let calls = AtomicUsize::new(0);
        let e = conn
            .data_from(|_| {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    DataStep::Bytes(10)
                } else {
                    DataStep::Abort
                }
            })
            .unwrap_err();
        assert!(e.is_aborted());
        assert!(conn.is_closed());
        let seen: Vec<Request> = d.requests.try_iter().collect();
        assert!(
            matches!(seen.last(), Some(Request::XQuit { .. })),
            "{seen:?}"
        );
    });
}

#[test]
fn the_yield_hook_runs_while_waiting() {
    let d = start(|p, id, req| {
        match req {
            Request::Open { .. } => p.respond(id, Response::Opened { handle: h(1) }),
            _ => {
                std::thread::sleep(Duration::from_millis(300));
                p.respond(id, Response::Reply(reply(250, "ok")));
            }
        }
        Next::Continue
    });
    watchdog(10, move || {
        let c = Client::connect(&d.path).unwrap();
        let conn = c.helo("mx", "me", None).unwrap();
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        conn.set_yield(Some(Arc::new(move || {
            n2.fetch_add(1, Ordering::SeqCst);
        })));
        conn.noop().unwrap();
        assert!(
            n.load(Ordering::SeqCst) >= 3,
            "yielded {} times",
            n.load(Ordering::SeqCst)
        );
    });
}

#[test]
fn bad_local_input_is_refused_before_sending() {
    let d = start(|p, id, req| {
        match req {
            Request::Open { .. } => p.respond(id, Response::Opened { handle: h(1) }),
            _ => p.respond(id, Response::Done),
        }
        Next::Continue
    });
    watchdog(10, move || {
        let c = Client::connect(&d.path).unwrap();
        assert_eq!(
            c.helo("mx\r\n", "me", None).unwrap_err().code(),
            ReturnCode::InvalidArgument
        );
        let conn = c.helo("mx", "me", None).unwrap();
        assert_eq!(
            conn.mail("a\r\nRCPT TO:<b>").unwrap_err().code(),
            ReturnCode::InvalidArgument
        );
        assert_eq!(
            conn.direct("QUIT").unwrap_err().code(),
            ReturnCode::InvalidArgument
        );
        assert_eq!(
            conn.set_timeout(0).unwrap_err().code(),
            ReturnCode::InvalidArgument
        );
        assert_eq!(
            conn.set_timeout(1000).unwrap_err().code(),
            ReturnCode::InvalidArgument
        );
        conn.set_timeout(999).unwrap();
        let seen: Vec<Request> = d.requests.try_iter().collect();
        assert_eq!(
            seen.len(),
            2,
            "only Open and SetTimeout reached the daemon: {seen:?}"
        );
    });
}

#[test]
fn dropping_the_last_clone_closes_the_daemon_stream() {
    let d = start(|p, id, req| {
        match req {
            Request::Open { .. } => p.respond(id, Response::Opened { handle: h(1) }),
            _ => p.respond(id, Response::Done),
        }
        Next::Continue
    });
    watchdog(10, move || {
        let c = Client::connect(&d.path).unwrap();
        let conn = c
            .helo("mx", "me", Some(Arc::new(|_, _, _: &[u8]| {})))
            .unwrap();
        drop(c);
        conn.set_timeout(5).unwrap();
        drop(conn);
        // The fake daemon's thread ends (dropping its sender) once it reads EOF.
        while d.requests.recv().is_ok() {}
    });
}

#[test]
fn a_request_over_the_frame_limit_is_refused_locally_and_the_client_survives() {
    let d = start_with(64 * 1024, None, |p, id, req| {
        match req {
            Request::Open { .. } => p.respond(id, Response::Opened { handle: h(1) }),
            _ => p.respond(id, Response::Reply(reply(250, "ok"))),
        }
        Next::Continue
    });
    watchdog(10, move || {
        let c = Client::connect(&d.path).unwrap();
        let conn = c.helo("mx", "me", None).unwrap();
        assert_eq!(
            conn.mail(&"a".repeat(70_000)).unwrap_err().code(),
            ReturnCode::InvalidArgument
        );
        assert_eq!(conn.noop().unwrap().code, 250);
    });
}
