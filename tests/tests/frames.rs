//! Raw socket clients that break the protocol: garbage, oversized length prefixes, truncated
//! frames, requests before the handshake, a wrong protocol version, a second handshake. Each
//! time the daemon answers as PROTOCOL.md says (a `ProtocolError` or `Refused` frame, then it
//! closes that stream), survives, and a client that was already working is unaffected.

use smtp32_protocol::codec::encode_frame;
use smtp32_protocol::{
    ClientFrame, DaemonFrame, Hello, OpenMode, Request, RequestId, Response, PROTOCOL_VERSION,
};
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::raw::RawClient;
use smtp32_tests::session::{send_message, LOCAL};
use smtp32_tests::wait::wait_for;
use smtp32_tests::{SmtpSink, TestDaemon, Watchdog};
use std::net::Shutdown;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// A daemon with a well-behaved client holding an open SMTP connection, to check afterwards
/// that abuse by others left it alone.
struct Bystander {
    sink: SmtpSink,
    daemon: TestDaemon,
    client: smtp32::Client,
    conn: smtp32::Connection,
}

impl Bystander {
    fn start() -> Bystander {
        Self::start_with(DaemonOptions::default())
    }

    fn start_with(opts: DaemonOptions) -> Bystander {
        let sink = SmtpSink::start();
        let daemon = TestDaemon::start_with(opts);
        let client = daemon.client();
        let conn = client.helo(&sink.host(), LOCAL, None).expect("helo");
        Bystander {
            sink,
            daemon,
            client,
            conn,
        }
    }

    /// The daemon serves, the bystander's connection still sends, and only it is left.
    fn check_unaffected(&self) {
        self.daemon.assert_serving();
        let before = self.sink.message_count();
        let reply = send_message(
            &self.conn,
            "bystander@a.test",
            &["b@b.test"],
            &[b"unaffected\r\n"],
        );
        assert_eq!(reply.code, 250);
        assert_eq!(self.sink.message_count(), before + 1);
        wait_for(T, "the abusive clients to be dropped", || {
            let s = self.client.status().expect("status");
            s.clients == 1 && s.connections == 1
        });
    }
}

/// Asserts that the daemon sent a `ProtocolError` (and nothing else) and closed the stream.
fn expect_protocol_error(raw: &mut RawClient, what: &str) {
    let frames = raw.expect_closed(T);
    assert!(
        matches!(frames.as_slice(), [DaemonFrame::ProtocolError { .. }]),
        "{what}: want one ProtocolError frame then close, got {frames:?}"
    );
}

fn frame_bytes(frame: &ClientFrame) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_frame(frame, &mut buf).expect("encode");
    buf
}

#[test]
fn garbage_before_the_handshake() {
    let _wd = Watchdog::test("garbage_before_the_handshake");
    let b = Bystander::start();
    // "GET " read as a length prefix is 542 MB: oversized before anything else.
    let mut raw = RawClient::connect(b.daemon.socket_path());
    raw.send_bytes(b"GET / HTTP/1.1\r\nHost: smtp32\r\n\r\n")
        .unwrap();
    expect_protocol_error(&mut raw, "HTTP request instead of Hello");
    // A small length with a body that is no frame at all.
    let mut raw = RawClient::connect(b.daemon.socket_path());
    raw.send_bytes(&[5, 0, 0, 0, 0xff, 0xfe, 0xfd, 0xfc, 0xfb])
        .unwrap();
    expect_protocol_error(&mut raw, "garbage body instead of Hello");
    b.check_unaffected();
}

#[test]
fn garbage_after_the_handshake() {
    let _wd = Watchdog::test("garbage_after_the_handshake");
    let b = Bystander::start();
    let mut raw = b.daemon.raw();
    raw.send_bytes(&[8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
        .unwrap();
    expect_protocol_error(&mut raw, "garbage frame body");
    b.check_unaffected();
}

#[test]
fn a_zero_length_frame() {
    let _wd = Watchdog::test("a_zero_length_frame");
    let b = Bystander::start();
    let mut raw = b.daemon.raw();
    raw.send_bytes(&[0, 0, 0, 0]).unwrap();
    expect_protocol_error(&mut raw, "zero-length frame");
    b.check_unaffected();
}

#[test]
fn an_oversized_length_prefix() {
    let _wd = Watchdog::test("an_oversized_length_prefix");
    let b = Bystander::start();
    let mut raw = b.daemon.raw();
    raw.send_bytes(&u32::MAX.to_le_bytes()).unwrap();
    expect_protocol_error(&mut raw, "length prefix 0xFFFFFFFF after Hello");
    let mut raw = RawClient::connect(b.daemon.socket_path());
    raw.send_bytes(&u32::MAX.to_le_bytes()).unwrap();
    expect_protocol_error(&mut raw, "length prefix 0xFFFFFFFF before Hello");
    b.check_unaffected();
}

#[test]
fn a_frame_over_the_configured_limit() {
    let _wd = Watchdog::test("a_frame_over_the_configured_limit");
    let b = Bystander::start_with(DaemonOptions::default().env("SMTP32D_MAX_FRAME_BYTES", "65536"));
    let mut raw = RawClient::connect(b.daemon.socket_path());
    match raw.hello(PROTOCOL_VERSION) {
        DaemonFrame::Welcome(w) => {
            assert_eq!(w.max_frame_bytes, 65536, "Welcome announces the limit")
        }
        other => panic!("handshake: {other:?}"),
    }
    assert_eq!(b.client.max_frame_bytes(), 65536);
    let handle = b.conn.handle();
    let big = ClientFrame::Request {
        id: RequestId(1),
        request: Request::DataChunk {
            handle,
            bytes: vec![b'x'; 100_000].into(),
        },
    };
    raw.send_bytes(&frame_bytes(&big)).unwrap_or(()); // the daemon may hang up before the whole frame is written
    expect_protocol_error(&mut raw, "a 100 kB frame against a 64 KiB limit");
    // The bystander's own client splits a bigger message to fit the limit.
    b.conn.mail("big@a.test").unwrap();
    b.conn.rcpt("b@b.test").unwrap();
    b.conn
        .data_buf(&vec![b'y'; 300_000])
        .expect("data_buf splits to fit max_frame_bytes");
    assert_eq!(b.conn.data_end().expect("data_end").code, 250);
    b.check_unaffected();
}

#[test]
fn a_truncated_frame_then_close() {
    let _wd = Watchdog::test("a_truncated_frame_then_close");
    let b = Bystander::start();
    let mut raw = b.daemon.raw();
    let whole = frame_bytes(&ClientFrame::Request {
        id: RequestId(1),
        request: Request::Ping {
            payload: vec![7; 100],
        },
    });
    raw.send_bytes(&whole[..whole.len() / 2]).unwrap();
    raw.stream().shutdown(Shutdown::Write).unwrap();
    let frames = raw.expect_closed(T);
    assert!(
        frames
            .iter()
            .all(|f| matches!(f, DaemonFrame::ProtocolError { .. })),
        "only a ProtocolError may answer a cut frame: {frames:?}"
    );
    b.check_unaffected();
}

#[test]
fn a_client_stalled_inside_a_frame_does_not_block_others() {
    let _wd = Watchdog::test("a_client_stalled_inside_a_frame_does_not_block_others");
    let b = Bystander::start();
    let mut raw = b.daemon.raw();
    let whole = frame_bytes(&ClientFrame::Request {
        id: RequestId(1),
        request: Request::Ping {
            payload: vec![7; 100],
        },
    });
    raw.send_bytes(&whole[..10]).unwrap();
    // While that frame is half-sent, everyone else is served.
    let reply = send_message(
        &b.conn,
        "a@a.test",
        &["b@b.test"],
        &[b"while another client stalls\r\n"],
    );
    assert_eq!(reply.code, 250);
    let other = b.daemon.client();
    other.ping(b"still here").expect("ping from a new client");
    // The stalled client can even finish its frame and be answered.
    raw.send_bytes(&whole[10..]).unwrap();
    match raw.recv(T) {
        Ok(DaemonFrame::Response {
            id: RequestId(1),
            response: Response::Pong { payload },
        }) => assert_eq!(payload, vec![7; 100]),
        other => panic!("the completed frame was answered with {other:?}"),
    }
    drop(raw);
    drop(other);
    b.check_unaffected();
}

#[test]
fn a_request_before_the_handshake() {
    let _wd = Watchdog::test("a_request_before_the_handshake");
    let b = Bystander::start();
    let mut raw = RawClient::connect(b.daemon.socket_path());
    raw.send(&ClientFrame::Request {
        id: RequestId(1),
        request: Request::Status,
    });
    expect_protocol_error(&mut raw, "Status before Hello");
    b.check_unaffected();
}

#[test]
fn a_wrong_protocol_version_is_refused() {
    let _wd = Watchdog::test("a_wrong_protocol_version_is_refused");
    let b = Bystander::start();
    for version in [0, PROTOCOL_VERSION + 1, u32::MAX] {
        let mut raw = RawClient::connect(b.daemon.socket_path());
        match raw.hello(version) {
            DaemonFrame::Refused {
                protocol_version,
                reason,
            } => {
                assert_eq!(
                    protocol_version, PROTOCOL_VERSION,
                    "Refused names the daemon's version"
                );
                assert!(!reason.is_empty());
            }
            other => panic!("Hello with version {version} answered {other:?}, want Refused"),
        }
        let rest = raw.expect_closed(T);
        assert!(rest.is_empty(), "nothing may follow Refused: {rest:?}");
    }
    b.check_unaffected();
}

#[test]
fn a_second_handshake() {
    let _wd = Watchdog::test("a_second_handshake");
    let b = Bystander::start();
    let mut raw = b.daemon.raw();
    raw.send(&ClientFrame::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        client_name: "again".into(),
    }));
    expect_protocol_error(&mut raw, "a second Hello");
    b.check_unaffected();
}

#[test]
fn an_abusive_client_that_owned_connections_has_them_freed() {
    let _wd = Watchdog::test("an_abusive_client_that_owned_connections_has_them_freed");
    let b = Bystander::start();
    let mut raw = b.daemon.raw();
    for _ in 0..3 {
        let open = Request::Open {
            host: b.sink.host(),
            local: LOCAL.into(),
            mode: OpenMode::Sync,
            debug: false,
        };
        match raw.request(open, T) {
            Response::Opened { .. } => {}
            other => panic!("Open answered {other:?}"),
        }
    }
    assert_eq!(b.client.status().unwrap().connections, 4);
    raw.send_bytes(&[3, 0, 0, 0, 1, 2, 3]).unwrap();
    expect_protocol_error(&mut raw, "garbage from a client with open connections");
    b.check_unaffected(); // waits until only the bystander's connection is left
}

#[test]
fn many_abusive_clients_in_a_row() {
    let _wd = Watchdog::test("many_abusive_clients_in_a_row");
    let b = Bystander::start();
    for i in 0..50u32 {
        let mut raw = RawClient::connect(b.daemon.socket_path());
        let junk: Vec<u8> = (0..64).map(|k| (i.wrapping_mul(31) + k) as u8).collect();
        let _ = raw.send_bytes(&junk);
        drop(raw);
    }
    b.check_unaffected();
}

#[test]
fn unknown_variant_indices_are_protocol_errors() {
    let _wd = Watchdog::test("unknown_variant_indices_are_protocol_errors");
    let b = Bystander::start();
    // Bodies by hand (PROTOCOL.md): an enum is its variant index as a varint, then its fields.
    // 200 is far past every variant a version-1 daemon knows.
    let with_len = |body: &[u8]| {
        let mut bytes = (body.len() as u32).to_le_bytes().to_vec();
        bytes.extend_from_slice(body);
        bytes
    };
    let cases: [(&str, Vec<u8>, bool); 5] = [
        ("ClientFrame variant 200 before Hello", vec![200], false),
        ("ClientFrame variant 200", vec![200, 1, 2, 3], true),
        ("Request variant 200", vec![1, 7, 200], true),
        // Request::Command { handle 1, Command variant 200 }
        ("Command variant 200", vec![1, 8, 3, 1, 200], true),
        // Request::Open { host "h", local "l", OpenMode variant 9, debug false }
        (
            "OpenMode variant 9",
            vec![1, 9, 2, 1, b'h', 1, b'l', 9, 0],
            true,
        ),
    ];
    for (what, body, after_hello) in cases {
        let mut raw = if after_hello {
            b.daemon.raw()
        } else {
            RawClient::connect(b.daemon.socket_path())
        };
        raw.send_bytes(&with_len(&body)).unwrap();
        expect_protocol_error(&mut raw, what);
    }
    b.check_unaffected();
}
