//! The debug traffic callback, byte for byte: a recording relay sits between the daemon and a
//! real server, so the copies the callback got can be compared with what the server really
//! received and really sent. For a whole session (greeting, EHLO, MAIL, RCPT, DATA, a message
//! of many chunks, the dot, QUIT), the ToServer copies concatenated equal the server's input
//! exactly, the FromServer copies its output, and the copies come in conversation order: each
//! command before its reply. The message part also matches what aiosmtpd stored.
//! (`send_path.rs` checks the order of a few landmarks; this checks every byte.)

use smtp32::Direction;
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::message::{expected_on_arrival, first_difference, generated_message};
use smtp32_tests::peers::exim::{Exim, ALIAS, DOMAIN};
use smtp32_tests::recorder::RecordingProxy;
use smtp32_tests::session::{Traffic, LOCAL};
use smtp32_tests::{Aiosmtpd, TestDaemon, Watchdog};
use std::time::Duration;

/// Merges consecutive copies of the same direction: the conversation's turns, in order.
fn turns(traffic: &Traffic) -> Vec<(Direction, Vec<u8>)> {
    let mut out: Vec<(Direction, Vec<u8>)> = Vec::new();
    for (dir, bytes) in traffic.pieces() {
        match out.last_mut() {
            Some((d, b)) if *d == dir => b.extend_from_slice(&bytes),
            _ => out.push((dir, bytes)),
        }
    }
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The daemon's DATA transparency, undone: drops the final `.CRLF` and one leading dot of each
/// line (what a receiving server does).
fn unstuff(wire: &[u8]) -> Vec<u8> {
    let body = wire
        .strip_suffix(b".\r\n")
        .expect("the message ends with the lone dot");
    let mut out = Vec::with_capacity(body.len());
    for line in body.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    out
}

#[test]
fn a_whole_session_is_copied_exactly_and_in_order() {
    let _wd = Watchdog::test("a_whole_session_is_copied_exactly_and_in_order");
    let server = Aiosmtpd::start();
    let proxy = RecordingProxy::start(server.addr());
    // The cache off: this session ends with QUIT on the wire, not parked.
    let d =
        TestDaemon::start_with(DaemonOptions::default().env("SMTP32D_CACHE__IDLE_SECONDS", "0"));
    let traffic = Traffic::new();
    let conn = d
        .client()
        .helo(&proxy.host(), LOCAL, Some(traffic.callback()))
        .expect("helo");

    // Dots at line starts, a bare LF and a bare CR, then enough text for many chunks and reads.
    let mut message = b"Subject: traffic\r\n\r\n.leading dot\nbare lf\rbare cr\r\n..\r\n".to_vec();
    message.extend_from_slice(&generated_message(300_000, 7));
    conn.mail("from@a.test").expect("mail");
    conn.rcpt("to@b.test").expect("rcpt");
    for chunk in message.chunks(4096) {
        conn.data_buf(chunk).expect("data_buf");
    }
    assert_eq!(conn.data_end().expect("data_end").code, 250);
    conn.quit().expect("quit");

    // Every byte, both directions.
    let wire = proxy.connection(0);
    let to_server = traffic.bytes(Direction::ToServer);
    let from_server = traffic.bytes(Direction::FromServer);
    assert!(
        to_server == wire.to_server,
        "ToServer copies vs the server's input: {}",
        first_difference(&to_server, &wire.to_server)
    );
    assert!(
        from_server == wire.from_server,
        "FromServer copies vs the server's output: {}",
        first_difference(&from_server, &wire.from_server)
    );

    // In conversation order: greeting, then each command followed by its reply.
    let turns = turns(&traffic);
    let shape: Vec<(Direction, String)> = turns
        .iter()
        .map(|(d, b)| {
            let t = text(b);
            let head = if *d == Direction::ToServer && t.starts_with("Subject") {
                "<message>".to_string()
            } else {
                t.lines().next().unwrap_or("").to_string()
            };
            (*d, head)
        })
        .collect();
    let expect = [
        (Direction::FromServer, "220"),
        (Direction::ToServer, "EHLO client.smtp32.test"),
        (Direction::FromServer, "250-"),
        (Direction::ToServer, "MAIL FROM:<from@a.test>"),
        (Direction::FromServer, "250"),
        (Direction::ToServer, "RCPT TO:<to@b.test>"),
        (Direction::FromServer, "250"),
        (Direction::ToServer, "DATA"),
        (Direction::FromServer, "354"),
        (Direction::ToServer, "<message>"),
        (Direction::FromServer, "250"),
        (Direction::ToServer, "QUIT"),
        (Direction::FromServer, "221"),
    ];
    assert_eq!(shape.len(), expect.len(), "turns: {shape:?}");
    for ((dir, head), (want_dir, want)) in shape.iter().zip(expect) {
        assert!(
            *dir == want_dir && head.starts_with(want),
            "turn {head:?} ({dir:?}) where {want:?} ({want_dir:?}) belongs; all: {shape:?}"
        );
    }
    // Each command turn is exactly its line (nothing merged, nothing missing).
    for (i, line) in [
        (1, format!("EHLO {LOCAL}\r\n")),
        (3, "MAIL FROM:<from@a.test>\r\n".into()),
        (5, "RCPT TO:<to@b.test>\r\n".into()),
        (7, "DATA\r\n".into()),
        (11, "QUIT\r\n".into()),
    ] {
        assert_eq!(text(&turns[i].1), line);
    }

    // The message turn is the transparent form of what was sent, and what the server stored.
    let stored = server
        .wait_for_messages(1, Duration::from_secs(20))
        .remove(0);
    let want = expected_on_arrival(&message);
    assert!(
        stored.bytes == want,
        "stored: {}",
        first_difference(&stored.bytes, &want)
    );
    let sent = unstuff(&turns[9].1);
    assert!(
        sent == stored.bytes,
        "message copies vs stored: {}",
        first_difference(&sent, &stored.bytes)
    );
    assert!(
        text(&turns[9].1).contains("\r\n..leading dot\r\nbare lf\r\nbare cr\r\n...\r\n"),
        "the copy is dot-stuffed as on the wire"
    );
}

#[test]
fn multi_line_replies_and_a_rejected_command_are_copied_exactly() {
    let _wd = Watchdog::test("multi_line_replies_and_a_rejected_command_are_copied_exactly");
    let mta = Exim::start().unwrap_or_else(|e| panic!("the Exim fixture did not start: {e}"));
    let proxy = RecordingProxy::start(mta.smtp_addr());
    // The cache off: the session ends with QUIT on the wire, not parked.
    let d =
        TestDaemon::start_with(DaemonOptions::default().env("SMTP32D_CACHE__IDLE_SECONDS", "0"));
    let traffic = Traffic::new();
    let conn = d
        .client()
        .helo(&proxy.host(), LOCAL, Some(traffic.callback()))
        .expect("helo");
    conn.expn(&format!("{ALIAS}@{DOMAIN}")).expect("EXPN");
    conn.help(None).expect("HELP");
    assert!(
        conn.vrfy(&format!("nobody@{DOMAIN}")).is_err(),
        "VRFY of an unknown user is refused"
    );
    conn.rset().expect("RSET");
    conn.quit().expect("quit");

    let wire = proxy.connection(0);
    let to_server = traffic.bytes(Direction::ToServer);
    let from_server = traffic.bytes(Direction::FromServer);
    assert_eq!(text(&to_server), text(&wire.to_server));
    assert_eq!(text(&from_server), text(&wire.from_server));
    let commands = format!(
        "EHLO {LOCAL}\r\nEXPN {ALIAS}@{DOMAIN}\r\nHELP\r\nVRFY nobody@{DOMAIN}\r\nRSET\r\nQUIT\r\n"
    );
    assert_eq!(text(&to_server), commands);
    let turns = turns(&traffic);
    let dirs: Vec<Direction> = turns.iter().map(|(d, _)| *d).collect();
    let mut want = vec![Direction::FromServer];
    for _ in 0..6 {
        want.extend([Direction::ToServer, Direction::FromServer]);
    }
    assert_eq!(dirs, want, "greeting, then six command/reply turns");
    assert!(
        text(&turns[4].1).starts_with("250-<alice@"),
        "the whole EXPN reply in one turn: {:?}",
        text(&turns[4].1)
    );
    assert!(
        text(&turns[8].1).starts_with("550"),
        "the VRFY refusal: {:?}",
        text(&turns[8].1)
    );
}
