//! The daemon's mail queue end to end, with real servers: messages handed in while the relay is
//! down arrive once when it comes back (smtp-sink on the same port); a relay answering 4xx for
//! a while gets them later; a 5xx gives a DSN that Exim delivers to the sender and that parses
//! as `multipart/report`; `kill -9` of the daemon while it delivers a few hundred messages
//! through a fault-injecting proxy loses none and doubles none beyond the ambiguous dots it
//! logs; another user can neither list,
//! flush nor delete your messages.

use serde_json::Value;
use smtp32::{Submission, Submitted};
use smtp32_tests::ctl::{as_other_user, ctl, ctl_as_other, OTHER_GROUP};
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::message::Xorshift;
use smtp32_tests::paths::venv_python;
use smtp32_tests::peers::chaos_proxy::ChaosProxy;
use smtp32_tests::peers::smtp_sink::SmtpSinkOptions;
use smtp32_tests::process::{free_port, RefusedPort};
use smtp32_tests::sendmail::{queue_config, sendmail, sendmail_as, sendmail_binary};
use smtp32_tests::wait::{poll_until, wait_for};
use smtp32_tests::{Aiosmtpd, SmtpSink, TestDaemon, Watchdog};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const T: Duration = Duration::from_secs(30);

fn tempdir() -> TempDir {
    tempfile::Builder::new()
        .prefix("queue-test-")
        .tempdir()
        .expect("tempdir")
}

fn queue_daemon(relay_host: &str, queue_dir: &Path) -> TestDaemon {
    TestDaemon::start_with(DaemonOptions::default().config(&queue_config(relay_host, queue_dir)))
}

/// `smtp32ctl queue --json` as this user.
fn queue_rows(socket: &Path) -> Vec<Value> {
    let out = ctl(socket, &["queue", "--json"]);
    out.expect_code(0, "smtp32ctl queue --json");
    out.json().as_array().expect("an array").clone()
}

fn message(seq: usize) -> String {
    format!("From: a@example.test\r\nSubject: queued {seq}\r\nX-Seq: {seq}\r\n\r\nbody {seq}\r\n")
}

/// How many times each `X-Seq` value arrived, from the stored messages' bytes.
fn arrivals<'a>(messages: impl IntoIterator<Item = &'a [u8]>) -> BTreeMap<usize, usize> {
    let mut count = BTreeMap::new();
    for bytes in messages {
        let text = String::from_utf8_lossy(bytes);
        let seq = text
            .lines()
            .find_map(|l| l.strip_prefix("X-Seq: "))
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("a message without X-Seq arrived:\n{text}"));
        *count.entry(seq).or_insert(0) += 1;
    }
    count
}

fn sink_on(port: u16, flags: &[&str]) -> SmtpSink {
    SmtpSink::start_with(SmtpSinkOptions {
        flags: flags.iter().map(|f| f.to_string()).collect(),
        dump: true,
        port: Some(port),
    })
}

#[test]
fn messages_queued_while_the_relay_is_down_arrive_once_when_it_comes_back() {
    let _wd =
        Watchdog::test("messages_queued_while_the_relay_is_down_arrive_once_when_it_comes_back");
    let down = RefusedPort::new();
    let qdir = tempdir();
    let d = queue_daemon(&down.host(), qdir.path());
    for seq in 0..5 {
        let out = sendmail(
            d.socket_path(),
            &["-v", "r@example.test"],
            message(seq).as_bytes(),
        );
        out.expect_code(0, "queued while nothing listens on the relay's port");
        assert!(out.stderr.contains("queued as "), "{}", out.stderr);
    }
    // Each message was tried, failed to connect, and waits for its next try.
    wait_for(T, "every message tried once", || {
        let rows = queue_rows(d.socket_path());
        rows.len() == 5 && rows.iter().all(|r| r["attempts"].as_u64() >= Some(1))
    });
    let rows = queue_rows(d.socket_path());
    assert!(
        rows[0]["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{rows:?}"
    );
    let mode = std::fs::metadata(qdir.path())
        .expect("queue dir")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700, "the queue directory is the daemon's alone");

    let sink = sink_on(down.release(), &[]);
    wait_for(T, "the queue to empty", || {
        queue_rows(d.socket_path()).is_empty()
    });
    let dumps = sink.dumps();
    let count = arrivals(dumps.iter().map(Vec::as_slice));
    assert_eq!(
        count,
        (0..5).map(|s| (s, 1)).collect(),
        "every message once"
    );
    let log = d.stderr();
    assert!(
        log.contains("status=deferred") && log.contains("status=sent"),
        "one log line per attempt:\n{log}"
    );
}

#[test]
fn a_relay_answering_4xx_for_a_while_gets_every_message_later() {
    let _wd = Watchdog::test("a_relay_answering_4xx_for_a_while_gets_every_message_later");
    let port = free_port();
    let qdir = tempdir();
    let mut refusing = sink_on(port, &["-r", "RCPT"]);
    let d = queue_daemon(&format!("127.0.0.1:{port}"), qdir.path());
    for seq in 0..3 {
        sendmail(
            d.socket_path(),
            &["r@example.test"],
            message(seq).as_bytes(),
        )
        .expect_code(0, "queued");
    }
    wait_for(T, "two refused attempts of every message", || {
        let rows = queue_rows(d.socket_path());
        rows.len() == 3
            && rows.iter().all(|r| {
                r["attempts"].as_u64() >= Some(2)
                    && r["last_error"].as_str().is_some_and(|e| e.starts_with('4'))
            })
    });
    assert_eq!(refusing.message_count(), 0);
    refusing.stop();
    let sink = sink_on(port, &[]);
    wait_for(T, "the queue to empty", || {
        queue_rows(d.socket_path()).is_empty()
    });
    let dumps = sink.dumps();
    assert_eq!(
        arrivals(dumps.iter().map(Vec::as_slice)),
        (0..3).map(|s| (s, 1)).collect()
    );
}

#[test]
fn a_refused_recipient_is_bounced_alone_with_a_dsn_that_parses_as_multipart_report() {
    let _wd = Watchdog::test(
        "a_refused_recipient_is_bounced_alone_with_a_dsn_that_parses_as_multipart_report",
    );
    let mta = smtp32_tests::peers::exim::Exim::start()
        .unwrap_or_else(|e| panic!("the Exim fixture did not start: {e}"));
    let dir = tempdir();
    let password_file = dir.path().join("relay-password");
    std::fs::write(&password_file, mta.password()).expect("write the password file");
    let config = format!(
        "[tls]\nca_files = [{:?}]\n\n[relay]\nhost = \"smtp://{}:{}?tls=required\"\nuser = \"{}\"\n\
         password_file = {:?}\n\n[queue]\ndir = {:?}\nretry_first = 1\nretry_max = 1\n",
        mta.ca_cert_path().display().to_string(),
        mta.tls_name(),
        mta.smtp_addr().port(),
        mta.user(),
        password_file.display().to_string(),
        dir.path().join("queue").display().to_string()
    );
    let d = TestDaemon::start_with(DaemonOptions::default().config(&config));
    let (alice, bob, nobody) = (
        mta.address("alice"),
        mta.address("bob"),
        mta.address("nobody"),
    );
    let message = format!("To: {bob}, {nobody}\r\nSubject: half refused\r\n\r\nfor bob\r\n");
    sendmail(d.socket_path(), &["-t", "-f", &alice], message.as_bytes()).expect_code(0, "queued");
    let delivered = mta.wait_for_delivery("bob", 1, T).remove(0);
    assert!(String::from_utf8_lossy(&delivered).contains("Subject: half refused"));
    let dsn = mta.wait_for_delivery("alice", 1, T).remove(0);
    let parsed = parse_dsn(&dsn);
    let lines: Vec<&str> = parsed.lines().collect();
    let shown = String::from_utf8_lossy(&dsn);
    assert_eq!(
        lines.len(),
        3,
        "one recipient group, the refused one's:\n{parsed}\n{shown}"
    );
    assert_eq!(lines[0], "multipart/report delivery-status", "{shown}");
    assert_eq!(
        lines[1], "text/plain,message/delivery-status,text/rfc822-headers",
        "{shown}"
    );
    // Exim's 550 has no enhanced code: the status is the class's, 5.0.0.
    assert_eq!(
        lines[2],
        format!("rfc822; {nobody}|failed|5.0.0"),
        "{shown}"
    );
    assert!(
        String::from_utf8_lossy(&dsn).contains("Subject: half refused"),
        "the original headers are quoted"
    );
    wait_for(T, "the queue to empty", || {
        queue_rows(d.socket_path()).is_empty()
    });
    assert!(d.stderr().contains("status=bounced"), "{}", d.stderr());
}

/// What Python's `email` package reads in a DSN: its type and report type, its parts, and
/// each recipient group's Final-Recipient, Action and Status.
fn parse_dsn(bytes: &[u8]) -> String {
    const SCRIPT: &str = "import sys, email\n\
        from email import policy\n\
        m = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.default)\n\
        print(m.get_content_type(), m.get_param('report-type'))\n\
        print(','.join(p.get_content_type() for p in m.iter_parts()))\n\
        kind = 'message/delivery-status'\n\
        status = [p for p in m.iter_parts() if p.get_content_type() == kind][0]\n\
        for g in status.get_payload()[1:]:\n\
        \x20   print('|'.join([g['Final-Recipient'], g['Action'], g['Status']]))\n";
    let mut cmd = std::process::Command::new(venv_python());
    cmd.arg("-c").arg(SCRIPT);
    let out = smtp32_tests::ctl::run_with_input(cmd, Some(bytes.to_vec()), T);
    out.expect_code(0, "python parses the DSN").to_string()
}

#[test]
fn kill_9_and_network_faults_lose_nothing_and_double_only_ambiguous_dots() {
    let name = "kill_9_and_network_faults_lose_nothing_and_double_only_ambiguous_dots";
    let _wd = Watchdog::arm(name, Duration::from_secs(240));
    const MESSAGES: usize = 1000;
    const KILLS: usize = 10;
    let server = Aiosmtpd::start();
    let qdir = tempdir();

    // Queued while the relay is down, through the client library (the throughput figure).
    let relay_down = RefusedPort::new();
    let mut down = queue_daemon(&relay_down.host(), qdir.path());
    let client = down.client();
    let started = Instant::now();
    for seq in 0..MESSAGES {
        let submission = Submission {
            from: "a@example.test".into(),
            rcpts: vec!["r@example.test".into()],
            notify: String::new(),
            ret: String::new(),
            envid: String::new(),
            data: message(seq).into_bytes(),
        };
        assert!(
            matches!(client.submit(submission), Ok(Submitted::Queued(_))),
            "message {seq} queued"
        );
    }
    let per_second = MESSAGES as f64 / started.elapsed().as_secs_f64();
    drop(client);
    down.kill();

    // Each daemon delivers a random share of what is left through the fault-injecting proxy
    // (cuts, resets, stalls, verdicts dropped after the dot), then dies by SIGKILL.
    let seed = 0x005e_ed13;
    let proxy = ChaosProxy::start(server.addr(), seed);
    let mut rng = Xorshift::new(seed);
    let mut ambiguous = 0;
    for _ in 0..KILLS {
        let mut d = queue_daemon(&proxy.host(), qdir.path());
        let target = (server.message_count() + 10 + rng.below(50) as usize).min(MESSAGES - 1);
        wait_for(T, "some deliveries before the kill", || {
            server.message_count() >= target
        });
        d.kill();
        ambiguous += d.stderr().matches("ambiguous").count();
    }
    let d = queue_daemon(&proxy.host(), qdir.path());
    wait_for(Duration::from_secs(120), "the queue to empty", || {
        queue_rows(d.socket_path()).is_empty()
    });
    ambiguous += d.stderr().matches("ambiguous").count();
    proxy.wait_idle(T);
    let stored: Vec<Vec<u8>> = (1..=server.message_count())
        .map(|i| server.message(i).bytes)
        .collect();
    let count = arrivals(stored.iter().map(Vec::as_slice));
    let lost = (0..MESSAGES).filter(|s| !count.contains_key(s)).count();
    let doubled: usize = count.values().map(|n| n - 1).sum();
    eprintln!(
        "queue crash test: {MESSAGES} messages, {KILLS} kills, {lost} lost, {doubled} doubled, \
         {ambiguous} ambiguous dots logged; proxy: {}; \
         {per_second:.0} messages/s accepted with fsync",
        proxy.stats().summary()
    );
    assert_eq!(lost, 0, "no message lost");
    assert!(
        doubled <= ambiguous,
        "{doubled} doubled but only {ambiguous} ambiguous dots logged"
    );
}

#[test]
fn another_user_can_neither_list_flush_nor_delete_your_queued_messages() {
    let _wd = Watchdog::test("another_user_can_neither_list_flush_nor_delete_your_queued_messages");
    let dir = tempdir();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).expect("chmod");
    let socket = dir.path().join("smtp32d.sock");
    let relay_down = RefusedPort::new();
    let config = format!(
        "socket_mode = \"0660\"\nsocket_group = \"{OTHER_GROUP}\"\n{}",
        queue_config(&relay_down.host(), &dir.path().join("queue"))
    );
    let d = TestDaemon::start_with(DaemonOptions::default().socket(&socket).config(&config));
    let out = sendmail(&socket, &["-v", "r@example.test"], message(1).as_bytes());
    let mine = out
        .stderr
        .trim()
        .rsplit(' ')
        .next()
        .expect("the queue id")
        .to_string();
    let theirs_out = sendmail_as(
        as_other_user(&sendmail_binary()),
        &socket,
        &["r@example.test"],
        &[],
        message(2).as_bytes(),
    );
    theirs_out.expect_code(0, "the other user queues a message too");

    let listed = ctl_as_other(&socket, &["queue", "--json"]);
    let rows = listed.json();
    let rows = rows.as_array().expect("array");
    assert_eq!(
        rows.len(),
        1,
        "the other user sees their own message only: {rows:?}"
    );
    assert_ne!(rows[0]["id"].as_str(), Some(mine.as_str()));
    let theirs = rows[0]["id"].as_str().expect("id").to_string();
    ctl_as_other(&socket, &["flush", &mine]).expect_code(1, "flush of another user's message");
    ctl_as_other(&socket, &["delete", &mine]).expect_code(1, "delete of another user's message");
    assert_eq!(
        queue_rows(&socket).len(),
        2,
        "root, an admin, sees both, and nothing was deleted"
    );
    ctl_as_other(&socket, &["delete", &theirs]).expect_code(0, "the other user deletes their own");
    let ids: Vec<String> = queue_rows(&socket)
        .iter()
        .map(|r| r["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(ids, [mine.as_str()]);
    ctl(&socket, &["delete", &mine]).expect_code(0, "an admin deletes any");
    let mailq = sendmail(&socket, &["-bp"], b"");
    assert_eq!(mailq.expect_code(0, "-bp"), "Mail queue is empty\n");
    d.assert_serving();
}

/// A tmpfs mounted for one test, unmounted on drop (the test runs as root, as CI does).
struct SmallFilesystem(std::path::PathBuf);

impl SmallFilesystem {
    fn mount(dir: &Path, size: &str) -> SmallFilesystem {
        let status = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mount a {size} tmpfs on {} (the test needs root): {status}",
            dir.display()
        );
        SmallFilesystem(dir.to_path_buf())
    }
}

impl Drop for SmallFilesystem {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_refuses_with_75_and_keeps_what_was_queued() {
    let _wd = Watchdog::test("a_full_disk_refuses_with_75_and_keeps_what_was_queued");
    let dir = tempdir();
    let _fs = SmallFilesystem::mount(dir.path(), "512k");
    let relay_down = RefusedPort::new();
    let d = queue_daemon(&relay_down.host(), &dir.path().join("queue"));
    let filler = "x".repeat(40 * 1024);
    let mut queued = 0;
    let refused = loop {
        assert!(queued < 40, "512 KiB took {queued} messages of 40 KiB");
        let out = sendmail(
            d.socket_path(),
            &["r@example.test"],
            format!("{}{filler}\r\n", message(queued)).as_bytes(),
        );
        if out.code == 0 {
            queued += 1;
            continue;
        }
        break out;
    };
    refused.expect_code(75, "the queue cannot store the message");
    assert!(
        refused.stderr.contains("No space left"),
        "{}",
        refused.stderr
    );
    assert!(queued >= 3, "only {queued} messages fitted");
    let rows = queue_rows(d.socket_path());
    assert_eq!(
        rows.len(),
        queued,
        "every message queued before the disk filled is still there"
    );
    assert!(
        std::fs::read_dir(dir.path().join("queue/tmp"))
            .expect("tmp")
            .next()
            .is_none(),
        "no half-written file left"
    );
    // Room again: the next message is taken.
    ctl(
        d.socket_path(),
        &["delete", rows[0]["id"].as_str().expect("id")],
    )
    .expect_code(0, "delete one");
    sendmail(d.socket_path(), &["r@example.test"], message(99).as_bytes())
        .expect_code(0, "queued once there is room");
    d.assert_serving();
}

#[test]
fn dsn_flags_reach_a_relay_that_offers_dsn_and_are_left_out_otherwise() {
    let _wd = Watchdog::test("dsn_flags_reach_a_relay_that_offers_dsn_and_are_left_out_otherwise");
    let flags = [
        "-N",
        "failure,delay",
        "-R",
        "hdrs",
        "-V",
        "env+1",
        "r@example.test",
    ];
    for (sink_flags, offered) in [(&[][..], true), (&["-N"][..], false)] {
        let sink = SmtpSink::with_flags(sink_flags);
        let qdir = tempdir();
        let d = queue_daemon(&sink.host(), qdir.path());
        sendmail(d.socket_path(), &flags, message(1).as_bytes()).expect_code(0, "queued");
        // The sink writes its dump file as the transaction goes: wait for the message's last line.
        let dump = poll_until(T, "the delivery", || {
            let dumps = sink.dumps();
            let text = dumps
                .first()
                .map(|d| String::from_utf8_lossy(d).into_owned())?;
            text.contains("body 1").then_some(text)
        });
        let mail = dump
            .lines()
            .find(|l| l.starts_with("X-Mail-Args: "))
            .expect("X-Mail-Args");
        let rcpt = dump
            .lines()
            .find(|l| l.starts_with("X-Rcpt-Args: "))
            .expect("X-Rcpt-Args");
        if offered {
            assert!(mail.ends_with(" RET=HDRS ENVID=env+2B1"), "{mail}");
            assert!(
                rcpt.ends_with("<r@example.test> NOTIFY=FAILURE,DELAY"),
                "{rcpt}"
            );
        } else {
            assert!(
                !mail.contains("RET=") && !rcpt.contains("NOTIFY="),
                "{mail} / {rcpt}"
            );
            assert!(d.stderr().contains("does not offer DSN"), "{}", d.stderr());
        }
    }
}

#[test]
fn a_message_deferred_past_max_age_is_bounced_and_a_bounce_is_never_bounced() {
    let _wd =
        Watchdog::test("a_message_deferred_past_max_age_is_bounced_and_a_bounce_is_never_bounced");
    let qdir = tempdir();
    let relay_down = RefusedPort::new();
    let config = format!(
        "{}max_age = 1\n",
        queue_config(&relay_down.host(), qdir.path())
    );
    let d = TestDaemon::start_with(DaemonOptions::default().config(&config));
    sendmail(
        d.socket_path(),
        &["-f", "sender@example.test", "r@example.test"],
        message(1).as_bytes(),
    )
    .expect_code(0, "queued");
    // The relay never answers: after max_age the message gives way to its DSN, from <> to the
    // sender...
    let dsn = poll_until(T, "the bounce in place of the message", || {
        let rows = queue_rows(d.socket_path());
        (rows.len() == 1 && rows[0]["from"] == "").then(|| rows[0].clone())
    });
    assert_eq!(
        dsn["rcpts"],
        serde_json::json!(["sender@example.test"]),
        "{dsn}"
    );
    // ...which, undeliverable past max_age too, is dropped with a log line, not bounced to <>.
    wait_for(T, "the bounce to expire", || {
        queue_rows(d.socket_path()).is_empty()
    });
    let log = d.stderr();
    assert!(
        log.contains("status=bounced (") && log.contains("sender non-delivery notification"),
        "{log}"
    );
    assert!(log.contains("its sender is <>: no bounce"), "{log}");
}
