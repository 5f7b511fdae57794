//! Protocol hardening at the edges a hostile local program can reach: CR, LF and NUL in every
//! string argument (refused by the client library, and again by the daemon for clients that
//! skip the library), handles guessed across clients, and the socket file's permissions and
//! owner. Frames that break the protocol are in frames.rs; the C ABI's string arguments in
//! c_injection.rs.

use smtp32::ReturnCode;
use smtp32_protocol::{Command, Failure, Handle, OpenMode, Request, Response};
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::message::Xorshift;
use smtp32_tests::session::{expect_code, LOCAL};
use smtp32_tests::{Script, ScriptedServer, ServerEvent, TestDaemon, Watchdog};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);
const INJECTIONS: [&str; 5] = [
    "a\rb@x.test",
    "a\nb@x.test",
    "a\0b@x.test",
    "a@x.test\r\nRSET",
    "\r\n",
];

/// The server that the injection tests talk to; it must never see an injected line.
fn server() -> ScriptedServer {
    ScriptedServer::start(
        Script::new()
            .raw(b"220 hardening.test\r\n")
            .expect("EHLO")
            .raw(b"250-hardening.test\r\n250 AUTH PLAIN LOGIN\r\n")
            .accept_all(),
    )
}

/// Only the EHLO and the test's own commands reached the server: no line was split.
fn nothing_injected(server: &ScriptedServer) {
    for e in server.events() {
        if let ServerEvent::Received { line, .. } = e {
            assert!(
                !line.contains("RSET") && !line.contains('\0') && !line.starts_with("b@"),
                "an injected line reached the server: {line:?}"
            );
        }
    }
}

#[test]
fn every_string_argument_of_the_rust_api_refuses_cr_lf_and_nul() {
    let _wd = Watchdog::test("every_string_argument_of_the_rust_api_refuses_cr_lf_and_nul");
    let server = server();
    let d = TestDaemon::start();
    let client = d.client();
    let conn = client.helo(&server.host(), LOCAL, None).expect("helo");
    let host = server.host();
    for bad in INJECTIONS {
        let host_bad = format!("{host}{bad}");
        let calls: Vec<(&str, smtp32::Result<()>)> = vec![
            ("helo host", client.helo(&host_bad, LOCAL, None).map(drop)),
            ("helo local", client.helo(&host, bad, None).map(drop)),
            (
                "xhelo host",
                client
                    .xhelo(&host_bad, LOCAL, None, Box::new(|_, _| {}))
                    .map(drop),
            ),
            (
                "xhelo local",
                client
                    .xhelo(&host, bad, None, Box::new(|_, _| {}))
                    .map(drop),
            ),
            ("mail", conn.mail(bad).map(drop)),
            ("send_from", conn.send_from(bad).map(drop)),
            ("soml", conn.soml(bad).map(drop)),
            ("saml", conn.saml(bad).map(drop)),
            ("rcpt", conn.rcpt(bad).map(drop)),
            ("vrfy", conn.vrfy(bad).map(drop)),
            ("expn", conn.expn(bad).map(drop)),
            ("help", conn.help(Some(bad)).map(drop)),
            ("direct", conn.direct(&format!("NOOP {bad}")).map(drop)),
            ("auth user", conn.auth(None, bad, "secret").map(drop)),
            ("auth secret", conn.auth(None, "user", bad).map(drop)),
            ("extension", conn.extension(bad).map(drop)),
            (
                "sendmsg from",
                conn.sendmsg(bad, &["b@x.test"], b"x\r\n").map(drop),
            ),
            (
                "sendmsg rcpt",
                conn.sendmsg("a@x.test", &["b@x.test", bad], b"x\r\n")
                    .map(drop),
            ),
        ];
        for (what, r) in calls {
            expect_code(
                r,
                ReturnCode::InvalidArgument,
                &format!("{what} with {bad:?}"),
            );
        }
    }
    // The connection was never touched: it still works, and nothing injected reached the server.
    assert_eq!(conn.noop().expect("noop after the refusals").code, 250);
    conn.quit().expect("quit");
    nothing_injected(&server);
    assert_eq!(
        client.status().expect("status").connections,
        0,
        "no refused open left a connection behind"
    );
}

#[test]
fn the_daemon_refuses_cr_lf_and_nul_from_a_client_that_skips_the_library() {
    let _wd =
        Watchdog::test("the_daemon_refuses_cr_lf_and_nul_from_a_client_that_skips_the_library");
    let server = server();
    let d = TestDaemon::start();
    let mut raw = d.raw();
    let handle = match raw.request(
        Request::Open {
            host: server.host(),
            local: LOCAL.into(),
            mode: OpenMode::Sync,
            debug: false,
        },
        T,
    ) {
        Response::Opened { handle } => handle,
        other => panic!("open: {other:?}"),
    };
    for bad in INJECTIONS {
        let s = || bad.to_string();
        let requests = vec![
            Request::Open {
                host: format!("{}{bad}", server.host()),
                local: LOCAL.into(),
                mode: OpenMode::Sync,
                debug: false,
            },
            Request::Open {
                host: server.host(),
                local: s(),
                mode: OpenMode::Sync,
                debug: false,
            },
            Request::Open {
                host: server.host(),
                local: s(),
                mode: OpenMode::Async,
                debug: false,
            },
            Request::Command {
                handle,
                command: Command::Mail { from: s() },
            },
            Request::Command {
                handle,
                command: Command::Send { from: s() },
            },
            Request::Command {
                handle,
                command: Command::Soml { from: s() },
            },
            Request::Command {
                handle,
                command: Command::Saml { from: s() },
            },
            Request::Command {
                handle,
                command: Command::Rcpt { to: s() },
            },
            Request::Command {
                handle,
                command: Command::Vrfy { name: s() },
            },
            Request::Command {
                handle,
                command: Command::Expn { name: s() },
            },
            Request::Command {
                handle,
                command: Command::Help { topic: Some(s()) },
            },
            Request::Command {
                handle,
                command: Command::Direct {
                    line: format!("NOOP {bad}"),
                },
            },
            Request::SendMessage {
                handle,
                from: s(),
                rcpts: vec!["b@x.test".into()],
                data: b"x\r\n".to_vec(),
            },
            Request::SendMessage {
                handle,
                from: "a@x.test".into(),
                rcpts: vec![s()],
                data: b"x\r\n".to_vec(),
            },
        ];
        for request in requests {
            let what = format!("{request:?}");
            match raw.request(request, T) {
                Response::Failed(Failure::InvalidArgument(_)) => {}
                other => panic!("{what} answered {other:?}, want Failed(InvalidArgument)"),
            }
        }
    }
    match raw.request(
        Request::Command {
            handle,
            command: Command::Noop,
        },
        T,
    ) {
        Response::Reply(r) => assert_eq!(r.code, 250),
        other => panic!("noop after the refusals: {other:?}"),
    }
    nothing_injected(&server);
}

#[test]
fn guessed_handles_are_invalid_for_every_client_but_the_owner() {
    let _wd = Watchdog::test("guessed_handles_are_invalid_for_every_client_but_the_owner");
    let server = ScriptedServer::start(Script::greeted().accept_all());
    let d = TestDaemon::start();
    let owner = d.client();
    let conns: Vec<_> = (0..3)
        .map(|_| owner.helo(&server.host(), LOCAL, None).expect("helo"))
        .collect();
    let real: Vec<Handle> = conns.iter().map(|c| c.handle()).collect();
    let mut thief = d.raw();
    // The thief has a connection of its own, so it is a full client, not a stranger.
    match thief.request(
        Request::Open {
            host: server.host(),
            local: LOCAL.into(),
            mode: OpenMode::Sync,
            debug: false,
        },
        T,
    ) {
        Response::Opened { handle } => assert!(!real.contains(&handle)),
        other => panic!("open: {other:?}"),
    }
    let mut rng = Xorshift::new(0x6e55_ab1e);
    let mut guesses: Vec<Handle> = (0..10_000)
        .filter_map(|_| Handle::new(rng.next_u64() as u32))
        .collect();
    // Small numbers and neighbours of the real handles, as a guesser would try first.
    guesses.extend((1..=256).filter_map(Handle::new));
    for h in &real {
        guesses.extend(
            [h.get().wrapping_sub(1), h.get().wrapping_add(1)]
                .into_iter()
                .filter_map(Handle::new),
        );
    }
    let mut tried = 0;
    for (i, &handle) in guesses
        .iter()
        .chain(real.iter().cycle().take(30))
        .enumerate()
    {
        let request = match i % 6 {
            0 => Request::Command {
                handle,
                command: Command::Noop,
            },
            1 => Request::DataChunk {
                handle,
                bytes: b"stolen".to_vec().into(),
            },
            2 => Request::LastReply { handle },
            3 => Request::Quit { handle },
            4 => Request::XQuit { handle },
            _ => Request::SendMessage {
                handle,
                from: "t@x.test".into(),
                rcpts: vec!["v@x.test".into()],
                data: b"x\r\n".to_vec(),
            },
        };
        match thief.request(request, T) {
            Response::Failed(Failure::InvalidHandle) => tried += 1,
            other => panic!("guess {handle} answered {other:?}"),
        }
    }
    println!("{tried} guessed and stolen handles, every one SMTP_INVALID_HANDLE");
    // The C ABI of this process knows none of them either.
    for h in &real {
        assert_eq!(
            smtp32::ffi::smtp_noop(h.get()),
            ReturnCode::InvalidHandle.as_i32()
        );
    }
    for c in conns {
        assert_eq!(
            c.noop().expect("the owner's handles are untouched").code,
            250
        );
        c.quit().expect("quit");
    }
    expect_code(
        owner.helo("127.0.0.1:1", LOCAL, None),
        ReturnCode::HostNotResponding,
        "the owner is still served",
    );
}

#[test]
fn the_socket_is_private_to_the_daemons_user() {
    let _wd = Watchdog::test("the_socket_is_private_to_the_daemons_user");
    let base = tempfile::tempdir().expect("tempdir");
    // SAFETY: no preconditions.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    for (mode, dir_mode, subdir) in [(None, 0o700, "private"), (Some("0660"), 0o750, "group")] {
        let socket = base.path().join(subdir).join("smtp32d.sock");
        let mut opts = DaemonOptions::default().socket(&socket);
        if let Some(m) = mode {
            opts = opts.env("SMTP32D_SOCKET_MODE", m);
        }
        let d = TestDaemon::start_with(opts);
        let meta = std::fs::metadata(&socket).expect("socket metadata");
        let want = if mode.is_some() { 0o660 } else { 0o600 };
        assert_eq!(
            meta.permissions().mode() & 0o7777,
            want,
            "socket mode ({subdir})"
        );
        assert_eq!(
            (meta.uid(), meta.gid()),
            (uid, gid),
            "socket owner ({subdir})"
        );
        let dir = std::fs::metadata(socket.parent().expect("parent")).expect("dir metadata");
        assert_eq!(
            dir.permissions().mode() & 0o7777,
            dir_mode,
            "the directory the daemon made ({subdir})"
        );
        assert_eq!(dir.uid(), uid, "directory owner ({subdir})");
        d.assert_serving();
    }
    // Another user may not connect. This machine's tests run as root, where the check can be
    // made for real: a process that dropped to `nobody` is refused by the 0600 socket.
    if uid == 0 {
        let d = TestDaemon::start_with(
            DaemonOptions::default().socket(&base.path().join("nobody-test.sock")),
        );
        std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_smtp32-fault-helper"))
            .arg("connect-as-nobody")
            .arg(d.socket_path())
            .output()
            .expect("run the helper");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("REFUSED"),
            "a connect as nobody must be refused: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        d.assert_serving();
    }
}
