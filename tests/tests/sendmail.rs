//! `smtp32-sendmail` end to end: the real binary, a message on its stdin, the real daemon
//! (through its queue, unless the test turns it off) relaying to aiosmtpd, which requires AUTH
//! and records who authenticated. Checked: `-t` with folded To/Cc/Bcc (display names, comments,
//! a group), the envelope and the byte-exact arrival with Bcc removed; `-f`, `-F` (a From
//! added), `$NAME`, a Message-ID added, argument recipients; the lone-dot rule and `-i`; a
//! message larger than one request frame; the password in no log; a wrong relay password
//! deferring the message (queue) or exit 77 (no queue); a relay behind STARTTLS (required) and
//! AUTH at Exim without the queue, with a refused recipient reported on stderr; and the exit
//! codes: no recipients 65, no relay configured 78, daemon down 69, every recipient refused 67,
//! bad flag or a control character in `$NAME` 64. The queue itself: `tests/queue.rs`.

use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::message::expected_on_arrival;
use smtp32_tests::sendmail::{default_sender, relay_config, sendmail};
use smtp32_tests::{Aiosmtpd, TestDaemon, Watchdog};
use std::time::Duration;
use tempfile::TempDir;

const T: Duration = Duration::from_secs(20);
const USER: &str = "relay-user";
const PASSWORD: &str = "Pw-relay-7f3e9c";

/// A daemon whose relay is `server`, logging every call to `smtp32d.dbg` in `dir`, with
/// `password` (in a file in `dir`) for AUTH.
fn relay_daemon(server: &Aiosmtpd, dir: &TempDir, password: &str, extra: &str) -> TestDaemon {
    relay_daemon_with(server, dir, password, extra, DaemonOptions::default())
}

/// [`relay_daemon`] with more options (environment variables) in `opts`.
fn relay_daemon_with(
    server: &Aiosmtpd,
    dir: &TempDir,
    password: &str,
    extra: &str,
    opts: DaemonOptions,
) -> TestDaemon {
    let password_file = dir.path().join("relay-password");
    std::fs::write(&password_file, format!("{password}\n")).expect("write the password file");
    let debug_log = dir.path().join("smtp32d.dbg");
    let config = format!(
        "debug_level = 2\ndebug_log = {:?}\n{extra}\n{}",
        debug_log.display().to_string(),
        relay_config(&server.host(), USER, &password_file)
    );
    TestDaemon::start_with(opts.config(&config))
}

fn tempdir() -> TempDir {
    tempfile::Builder::new()
        .prefix("sendmail-test-")
        .tempdir()
        .expect("tempdir")
}

#[test]
fn dash_t_delivers_through_a_relay_with_auth() {
    let _wd = Watchdog::test("dash_t_delivers_through_a_relay_with_auth");
    let server = Aiosmtpd::start_with_auth(USER, PASSWORD);
    let dir = tempdir();
    let d = relay_daemon(&server, &dir, PASSWORD, "");
    let bcc = "Bcc: hidden@example.test,\r\n\tEve <eve@example.test>\r\n";
    let message = format!(
        "From: Alice Example <alice@example.test>\r\n\
         To: \"Doe, Jane\" <jane@example.test>,\r\n  bob@example.test (Bob)\r\n\
         Cc: Team: carol@example.test, Dan <dan@example.test>;\r\n\
         {bcc}\
         Subject: relay test\r\n\
         Date: Sat, 28 Nov 2026 13:28:29 +0000\r\n\
         Message-ID: <t1@example.test>\r\n\
         \r\n\
         Body line with LF only\n\
         .a line with a leading dot\r\n\
         Bcc: this is body text and stays\r\n"
    );
    let out = sendmail(d.socket_path(), &["-t"], message.as_bytes());
    out.expect_code(0, "sendmail -t");
    let got = server.wait_for_messages(1, T).remove(0);
    assert_eq!(got.from, default_sender(), "no -f: login name @ host name");
    assert_eq!(
        got.to,
        [
            "jane@example.test",
            "bob@example.test",
            "carol@example.test",
            "dan@example.test",
            "hidden@example.test",
            "eve@example.test"
        ],
        "every To, Cc and Bcc address, in order"
    );
    assert_eq!(
        got.auth_login.as_deref(),
        Some(USER),
        "the daemon authenticated with its relay.user"
    );
    let want = expected_on_arrival(message.replace(bcc, "").as_bytes());
    assert_eq!(
        String::from_utf8_lossy(&got.bytes),
        String::from_utf8_lossy(&want),
        "Bcc removed, the rest as sent"
    );
    assert_eq!(server.message_count(), 1);
    // The password reached the relay and nothing else: not the daemon's stderr, not its call log.
    let log = std::fs::read_to_string(dir.path().join("smtp32d.dbg")).expect("debug log");
    assert!(log.contains("OpenRelay"), "the call is logged:\n{log}");
    for (what, text) in [
        ("debug log", log),
        ("daemon stderr", d.stderr()),
        ("sendmail stderr", out.stderr.clone()),
    ] {
        assert!(
            !text.contains(PASSWORD),
            "the password is in the {what}:\n{text}"
        );
    }
}

#[test]
fn dash_f_dash_capital_f_and_argument_recipients() {
    let _wd = Watchdog::test("dash_f_dash_capital_f_and_argument_recipients");
    let server = Aiosmtpd::start_with_auth(USER, PASSWORD);
    let dir = tempdir();
    let d = relay_daemon(&server, &dir, PASSWORD, "");

    // No From: -F names the one that is added; -t and an argument recipient (added, as in Postfix).
    let message = "To: one@example.test\r\nSubject: no from\r\nDate: Sat, 28 Nov 2026 13:28:29 +0000\r\nMessage-ID: <t2@example.test>\r\n\r\nhi\r\n";
    let args = [
        "-t",
        "-fsender@example.test",
        "-F",
        "Jane Q. Public",
        "extra@example.test",
    ];
    sendmail(d.socket_path(), &args, message.as_bytes()).expect_code(0, "sendmail -t -f -F rcpt");
    let got = server.wait_for_messages(1, T).remove(0);
    assert_eq!(
        (got.from.as_str(), got.to.as_slice()),
        (
            "sender@example.test",
            &[
                "extra@example.test".to_string(),
                "one@example.test".to_string()
            ][..]
        )
    );
    let want = format!("From: \"Jane Q. Public\" <sender@example.test>\r\n{message}");
    assert_eq!(String::from_utf8_lossy(&got.bytes), want);

    // Without -t the headers name no envelope recipient; -f as a separate word; the message,
    // which has a From, arrives unchanged.
    let message = "From: a@example.test\r\nTo: header-only@example.test\r\nDate: Sat, 28 Nov 2026 13:28:29 +0000\r\nMessage-ID: <t3@example.test>\r\n\r\nx\r\n";
    let args = [
        "-oi",
        "-f",
        "<bounce@example.test>",
        "--",
        "arg1@example.test",
        "arg2@example.test",
    ];
    sendmail(d.socket_path(), &args, message.as_bytes()).expect_code(0, "sendmail -f rcpts");
    let got = server.wait_for_messages(2, T).remove(1);
    assert_eq!(
        (got.from.as_str(), got.to.as_slice()),
        (
            "bounce@example.test",
            &[
                "arg1@example.test".to_string(),
                "arg2@example.test".to_string()
            ][..]
        )
    );
    assert_eq!(got.bytes, message.as_bytes());
}

#[test]
fn a_lone_dot_ends_the_message_unless_dash_i() {
    let _wd = Watchdog::test("a_lone_dot_ends_the_message_unless_dash_i");
    let server = Aiosmtpd::start_with_auth(USER, PASSWORD);
    let dir = tempdir();
    let d = relay_daemon(&server, &dir, PASSWORD, "");
    let head = "From: a@example.test\r\nDate: Sat, 28 Nov 2026 13:28:29 +0000\r\nMessage-ID: <t4@example.test>\r\n\r\nbefore\r\n";
    let message = format!("{head}.\r\nafter\r\n");
    sendmail(d.socket_path(), &["r@example.test"], message.as_bytes()).expect_code(0, "without -i");
    assert_eq!(
        server.wait_for_messages(1, T)[0].bytes,
        head.as_bytes(),
        "the lone dot ended the message"
    );
    sendmail(
        d.socket_path(),
        &["-i", "r@example.test"],
        message.as_bytes(),
    )
    .expect_code(0, "with -i");
    assert_eq!(
        server.wait_for_messages(2, T)[1].bytes,
        message.as_bytes(),
        "with -i the dot is data"
    );
}

#[test]
fn a_message_larger_than_one_request_frame_is_sent_in_chunks() {
    let _wd = Watchdog::test("a_message_larger_than_one_request_frame_is_sent_in_chunks");
    let server = Aiosmtpd::start_with_auth(USER, PASSWORD);
    let dir = tempdir();
    let d = relay_daemon(&server, &dir, PASSWORD, "max_frame_bytes = 65536");
    let mut message = String::from("From: a@example.test\r\nDate: Sat, 28 Nov 2026 13:28:29 +0000\r\nMessage-ID: <t5@example.test>\r\n\r\n");
    for i in 0..4000 {
        message.push_str(&format!(
            "line {i:05} of a message three times the daemon's frame limit\r\n"
        ));
    }
    assert!(message.len() > 3 * 65536);
    sendmail(d.socket_path(), &["big@example.test"], message.as_bytes())
        .expect_code(0, "a big message");
    let got = server.wait_for_messages(1, T).remove(0);
    assert_eq!(
        (got.to.as_slice(), got.bytes.len()),
        (&["big@example.test".to_string()][..], message.len())
    );
    assert!(
        got.bytes == message.as_bytes(),
        "the big message arrived unchanged"
    );
}

#[test]
fn no_recipients_is_a_data_error() {
    let _wd = Watchdog::test("no_recipients_is_a_data_error");
    // Decided before the daemon is asked: the socket need not exist.
    let dir = tempdir();
    let socket = dir.path().join("no-daemon.sock");
    let out = sendmail(&socket, &[], b"Subject: x\r\n\r\nbody\r\n");
    out.expect_code(65, "no arguments, no -t");
    assert!(out.stderr.contains("no recipients"), "{}", out.stderr);
    let out = sendmail(
        &socket,
        &["-t"],
        b"From: a@example.test\r\nCc: undisclosed-recipients:;\r\n\r\nbody\r\n",
    );
    out.expect_code(65, "-t without recipient headers");
    let out = sendmail(
        &socket,
        &["-t"],
        b"To: this is not an address\r\n\r\nbody\r\n",
    );
    out.expect_code(65, "-t with an unreadable To");
    assert!(out.stderr.contains("To:"), "{}", out.stderr);
}

#[test]
fn no_relay_configured_is_a_config_error() {
    let _wd = Watchdog::test("no_relay_configured_is_a_config_error");
    let d = TestDaemon::start();
    let out = sendmail(
        d.socket_path(),
        &["r@example.test"],
        b"Subject: x\r\n\r\nbody\r\n",
    );
    out.expect_code(78, "the daemon has no [relay] host");
    assert!(out.stderr.contains("relay.host"), "{}", out.stderr);
    d.assert_serving();
}

#[test]
fn daemon_down_is_unavailable() {
    let _wd = Watchdog::test("daemon_down_is_unavailable");
    let dir = tempdir();
    let out = sendmail(
        &dir.path().join("nobody-listens.sock"),
        &["r@example.test"],
        b"Subject: x\r\n\r\nbody\r\n",
    );
    out.expect_code(69, "no daemon");
    assert!(
        out.stderr.contains("smtp32d cannot be reached"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_wrong_relay_password_defers_the_message_or_without_the_queue_is_no_permission() {
    let _wd = Watchdog::test(
        "a_wrong_relay_password_defers_the_message_or_without_the_queue_is_no_permission",
    );
    let server = Aiosmtpd::start_with_auth(USER, PASSWORD);
    let dir = tempdir();
    // The queue keeps the message and says why it waits.
    let d = relay_daemon(&server, &dir, "not-the-password", "");
    sendmail(
        d.socket_path(),
        &["r@example.test"],
        b"Subject: x\r\n\r\nbody\r\n",
    )
    .expect_code(0, "queued");
    let rows = smtp32_tests::wait::poll_until(T, "a failed attempt", || {
        let rows = smtp32_tests::ctl::ctl(d.socket_path(), &["queue", "--json"]).json();
        let failed = rows[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("535"));
        failed.then_some(rows)
    });
    assert!(!rows.to_string().contains("not-the-password"), "{rows}");
    drop(d);

    // Without the queue: EX_NOPERM at once.
    let opts = DaemonOptions::default().env("SMTP32D_RELAY__QUEUE", "false");
    let d = relay_daemon_with(&server, &dir, "not-the-password", "", opts);
    let out = sendmail(
        d.socket_path(),
        &["r@example.test"],
        b"Subject: x\r\n\r\nbody\r\n",
    );
    out.expect_code(77, "the relay refuses the daemon's credentials (EX_NOPERM)");
    assert!(
        out.stderr.contains("535"),
        "the relay's reply is shown: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("not-the-password"), "{}", out.stderr);
    assert_eq!(server.message_count(), 0);
    // The failed relay connection is gone from the daemon.
    assert!(d.client().status().expect("status").connections == 0);
}

#[test]
fn a_message_without_message_id_gets_one_and_name_gives_the_full_name() {
    let _wd = Watchdog::test("a_message_without_message_id_gets_one_and_name_gives_the_full_name");
    let server = Aiosmtpd::start_with_auth(USER, PASSWORD);
    let dir = tempdir();
    let d = relay_daemon(&server, &dir, PASSWORD, "");
    let cmd = std::process::Command::new(smtp32_tests::sendmail::sendmail_binary());
    let out = smtp32_tests::sendmail::sendmail_as(
        cmd,
        d.socket_path(),
        &["r@example.test"],
        &[("NAME", "Env Name")],
        b"Subject: x\r\n\r\nbody\r\n",
    );
    out.expect_code(0, "queued");
    let got = String::from_utf8_lossy(&server.wait_for_messages(1, T)[0].bytes).into_owned();
    let host = smtp32_tests::sendmail::hostname();
    assert!(
        got.starts_with(&format!("From: Env Name <{}>\r\nDate: ", default_sender())),
        "{got}"
    );
    let id = got
        .lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .unwrap_or_else(|| panic!("no Message-ID:\n{got}"));
    assert!(
        id.starts_with('<') && id.ends_with(&format!("@{host}>")),
        "{id}"
    );
}

#[test]
fn relay_from_maildomain_and_aliases_are_what_the_relay_sees() {
    let _wd = Watchdog::test("relay_from_maildomain_and_aliases_are_what_the_relay_sees");
    let server = Aiosmtpd::start();
    let dir = tempdir();
    let aliases = dir.path().join("aliases");
    std::fs::write(&aliases, "# this host's names\nroot: ops@example.com,\n  dev@example.com\ndefault: all@example.com\n").expect("aliases");
    let config = format!(
        "[relay]\nhost = \"smtp://{}?tls=none\"\nfrom = \"bounces@example.com\"\nmaildomain = \"example.com\"\naliases = {:?}\n\
         \n[queue]\ndir = {:?}\n",
        server.host(),
        aliases.display().to_string(),
        dir.path().join("queue").display().to_string()
    );
    let d = TestDaemon::start_with(DaemonOptions::default().config(&config));
    let message = "To: root\r\nCc: someone@elsewhere.test\r\nSubject: cron\r\n\r\nroot@host stays in the body\r\n";
    sendmail(d.socket_path(), &["-t", "cron"], message.as_bytes()).expect_code(0, "queued");
    let got = server.wait_for_messages(1, T).remove(0);
    assert_eq!(
        got.from, "bounces@example.com",
        "relay.from forces the envelope sender"
    );
    assert_eq!(
        got.to,
        [
            "all@example.com",
            "ops@example.com",
            "dev@example.com",
            "someone@elsewhere.test"
        ],
        "aliases, default included"
    );
    let text = String::from_utf8_lossy(&got.bytes);
    let login = smtp32_tests::sendmail::login_name();
    assert!(
        text.contains(&format!("<{login}@example.com>\r\n"))
            || text.contains(&format!("From: {login}@example.com\r\n")),
        "{text}"
    );
    let host = format!("@{}", smtp32_tests::sendmail::hostname());
    let from_line = text
        .lines()
        .find(|l| l.starts_with("From: "))
        .expect("a From field");
    assert!(
        !from_line.contains(&host),
        "this host's name is gone from the From field: {text}"
    );
}

#[test]
fn dash_bs_speaks_smtp_as_symfony_does_byte_for_byte_and_queues_each_message() {
    let _wd =
        Watchdog::test("dash_bs_speaks_smtp_as_symfony_does_byte_for_byte_and_queues_each_message");
    let server = Aiosmtpd::start();
    let dir = tempdir();
    let config = smtp32_tests::sendmail::queue_config(&server.host(), &dir.path().join("queue"));
    let d = TestDaemon::start_with(DaemonOptions::default().config(&config));
    // Symfony's SendmailTransport in -bs mode: EHLO, then per message MAIL, RCPT..., DATA, the
    // dot-stuffed message, the dot; QUIT at the end.
    let first = "From: App <app@example.test>\r\nTo: a@example.test\r\nSubject: via -bs\r\n\
                 Date: Sat, 28 Nov 2026 13:28:29 +0000\r\nMessage-ID: <bs1@example.test>\r\n\r\n\
                 .leading dot\r\nbody\r\n";
    let dialogue = format!(
        "EHLO [127.0.0.1]\r\nMAIL FROM:<app@example.test>\r\nRCPT TO:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n\
         DATA\r\n{}.\r\nRSET\r\nMAIL FROM:<app@example.test> BODY=8BITMIME\r\nRCPT TO:<c@example.test>\r\n\
         DATA\r\nSubject: second\r\n\r\nx\r\n.\r\nQUIT\r\n",
        first.replace("\r\n.", "\r\n..")
    );
    let out = sendmail(d.socket_path(), &["-bs"], dialogue.as_bytes());
    let said = out.expect_code(0, "sendmail -bs");
    let ids: Vec<&str> = said
        .lines()
        .filter_map(|l| l.strip_prefix("250 2.0.0 Ok: queued as "))
        .collect();
    assert_eq!(ids.len(), 2, "{said}");
    let host = smtp32_tests::sendmail::hostname();
    let data_go = "354 End data with <CR><LF>.<CR><LF>\r\n";
    let want = format!(
        "220 {host} ESMTP smtp32-sendmail\r\n250-{host}\r\n250 8BITMIME\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n\
         {data_go}250 2.0.0 Ok: queued as {}\r\n250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n\
         {data_go}250 2.0.0 Ok: queued as {}\r\n221 2.0.0 Bye\r\n",
        ids[0],
        ids[1]
    );
    assert_eq!(said, want);
    let got = server.wait_for_messages(2, T);
    let first_got = got
        .iter()
        .find(|m| m.to == ["a@example.test", "b@example.test"])
        .expect("the first message");
    assert_eq!(
        (
            first_got.from.as_str(),
            String::from_utf8_lossy(&first_got.bytes)
        ),
        ("app@example.test", first.into())
    );
    let second = got
        .iter()
        .find(|m| m.to == ["c@example.test"])
        .expect("the second message");
    let text = String::from_utf8_lossy(&second.bytes);
    assert!(
        text.starts_with("From: ")
            && text.contains("Message-ID: <")
            && text.ends_with("Subject: second\r\n\r\nx\r\n"),
        "{text}"
    );
}

#[test]
fn dollar_name_with_control_characters_is_refused_as_dash_capital_f_is() {
    let _wd = Watchdog::test("dollar_name_with_control_characters_is_refused_as_dash_capital_f_is");
    // Decided before the daemon is asked: the socket need not exist.
    let dir = tempdir();
    let socket = dir.path().join("no-daemon.sock");
    let cmd = || std::process::Command::new(smtp32_tests::sendmail::sendmail_binary());
    let evil = [("NAME", "Eve\r\nBcc: victim@example.test")];
    let out = smtp32_tests::sendmail::sendmail_as(
        cmd(),
        &socket,
        &["r@example.test"],
        &evil,
        b"Subject: x\r\n\r\nb\r\n",
    );
    out.expect_code(64, "a CR LF in $NAME");
    assert!(
        out.stderr.contains("$NAME") && out.stderr.contains("control"),
        "{}",
        out.stderr
    );
    // -F wins over $NAME, so a bad $NAME does not matter then.
    let out = smtp32_tests::sendmail::sendmail_as(
        cmd(),
        &socket,
        &["-F", "Ok", "r@example.test"],
        &evil,
        b"x\r\n",
    );
    out.expect_code(69, "past the name check, no daemon");
}

#[test]
fn help_and_bad_flags() {
    let _wd = Watchdog::test("help_and_bad_flags");
    let dir = tempdir();
    let socket = dir.path().join("unused.sock");
    let out = sendmail(&socket, &["--help"], b"");
    let help = out.expect_code(0, "--help");
    for needle in [
        "Usage: smtp32-sendmail",
        "-t",
        "-f SENDER",
        "-F FULLNAME",
        "-oi",
        "Exit codes",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
    let out = sendmail(&socket, &["-z"], b"");
    out.expect_code(64, "an unknown flag");
    assert!(out.stderr.contains("unknown option -z"), "{}", out.stderr);
    sendmail(&socket, &["-bx"], b"").expect_code(64, "an unknown mode");
}

#[test]
fn starttls_required_and_auth_at_exim_with_a_refused_recipient() {
    let _wd = Watchdog::test("starttls_required_and_auth_at_exim_with_a_refused_recipient");
    // Without the queue (relay.queue = false): the relay's answers reach the caller at once.
    let mta = smtp32_tests::peers::exim::Exim::start()
        .unwrap_or_else(|e| panic!("the Exim fixture did not start: {e}"));
    let dir = tempdir();
    let password_file = dir.path().join("relay-password");
    std::fs::write(&password_file, mta.password()).expect("write the password file");
    // TLS required (AUTH is offered only after STARTTLS), no cleartext AUTH allowed.
    let config = format!(
        "[tls]\nca_files = [{:?}]\n\n[relay]\nhost = \"smtp://{}:{}?tls=required\"\nuser = \"{}\"\npassword_file = {:?}\nqueue = false\n",
        mta.ca_cert_path().display().to_string(),
        mta.tls_name(),
        mta.smtp_addr().port(),
        mta.user(),
        password_file.display().to_string()
    );
    let d = TestDaemon::start_with(DaemonOptions::default().config(&config));
    let (alice, bob, nobody) = (
        mta.address("alice"),
        mta.address("bob"),
        mta.address("nobody"),
    );
    let message =
        format!("To: {alice}, {nobody}\r\nCc: {bob}\r\nSubject: via exim\r\n\r\nover TLS\r\n");
    let out = sendmail(d.socket_path(), &["-t", "-v"], message.as_bytes());
    out.expect_code(0, "delivered to two of three");
    assert!(
        out.stderr.contains(&format!("<{nobody}>: 550")),
        "the refused recipient is named: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("RCPT TO:<{alice}>: 250")),
        "-v shows each reply: {}",
        out.stderr
    );
    for mailbox in ["alice", "bob"] {
        let got = mta.wait_for_delivery(mailbox, 1, T).remove(0);
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.contains("Subject: via exim") && text.contains("From: "),
            "{text}"
        );
    }

    // Every recipient refused: EX_NOUSER, nothing sent.
    let out = sendmail(
        d.socket_path(),
        &[&nobody, &mta.address("nobody-either")],
        b"Subject: x\r\n\r\nx\r\n",
    );
    out.expect_code(67, "every recipient refused");
    assert!(
        out.stderr.contains("refused every recipient"),
        "{}",
        out.stderr
    );
}
