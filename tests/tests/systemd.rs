//! The daemon as systemd runs it (issue 14): readiness, the watchdog heartbeat and the outcome
//! of a reload on `$NOTIFY_SOCKET` (a datagram socket of the test's, as systemd's would be),
//! `smtp32ctl reload` (the unit's `ExecReload=`) failing on a bad file, a log on a file that
//! is plain text without colour codes, and, when `JOURNAL_STREAM` names stderr, entries on
//! journald's socket with priorities (the daemon runs in a private mount namespace whose
//! `/run/systemd/journal/socket` is the test's; needs root, as CI runs).

use smtp32_tests::ctl::ctl;
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::paths::daemon_binary;
use smtp32_tests::process::{is_root, ChildGuard};
use smtp32_tests::{TestDaemon, Watchdog};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// The next message on `socket`, as text; panics when none comes within `T`.
fn next(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = socket
        .recv(&mut buf)
        .expect("a notification within the deadline");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// The next message that is not a heartbeat.
fn next_besides_heartbeats(socket: &UnixDatagram) -> String {
    loop {
        let message = next(socket);
        if message != "WATCHDOG=1" {
            return message;
        }
    }
}

#[test]
fn systemd_hears_ready_then_heartbeats_and_a_bad_reload_keeps_the_old_settings_and_says_why() {
    let _w = Watchdog::arm("systemd notifications", T * 3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let notify = UnixDatagram::bind(&path).unwrap();
    notify.set_read_timeout(Some(T)).unwrap();
    let opts = DaemonOptions::default()
        .config("timeout = 30\n")
        .env("NOTIFY_SOCKET", path.to_str().unwrap())
        .env("WATCHDOG_USEC", "200000");
    let d = TestDaemon::start_with(opts);

    assert_eq!(next(&notify), "READY=1");
    // Two heartbeats in a row: the watchdog is fed while the daemon serves.
    assert_eq!(next(&notify), "WATCHDOG=1");
    assert_eq!(next(&notify), "WATCHDOG=1");

    std::fs::write(d.dir().join("smtp32d.toml"), "timeout = \"soon\"\n").unwrap();
    let out = ctl(d.socket_path(), &["reload"]);
    out.expect_code(1, "reload of a bad file");
    assert!(
        out.stderr.contains("timeout"),
        "the reason names the key: {}",
        out.stderr
    );
    let reloading = next_besides_heartbeats(&notify);
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading:?}"
    );
    let outcome = next_besides_heartbeats(&notify);
    assert!(
        outcome.starts_with("READY=1\nSTATUS=reload failed, old configuration kept: "),
        "{outcome:?}"
    );
    d.assert_serving();
    assert_eq!(
        next(&notify),
        "WATCHDOG=1",
        "the heartbeat goes on after a failed reload"
    );

    std::fs::write(d.dir().join("smtp32d.toml"), "timeout = 20\n").unwrap();
    ctl(d.socket_path(), &["reload"]).expect_code(0, "reload of a good file");
    assert!(next_besides_heartbeats(&notify).starts_with("RELOADING=1"));
    assert_eq!(next_besides_heartbeats(&notify), "READY=1\nSTATUS=serving");
}

#[test]
fn a_log_that_is_not_a_terminal_is_plain_text_without_colour_codes() {
    let _w = Watchdog::arm("plain log", T * 2);
    // JOURNAL_STREAM naming some other file: not stderr, so still text.
    let d = TestDaemon::start_with(DaemonOptions::default().env("JOURNAL_STREAM", "1:1"));
    d.assert_serving();
    let log = d.stderr();
    assert!(log.contains("listening"), "{log}");
    assert!(!log.contains('\x1b'), "escape codes in a log file: {log:?}");
}

/// One journal entry: its fields, from journald's native protocol (`KEY=VALUE\n`, or `KEY\n`,
/// a 64-bit little-endian length, the value and `\n`).
type Entry = BTreeMap<String, String>;

fn parse_entry(mut bytes: &[u8]) -> Entry {
    let mut fields = Entry::new();
    while !bytes.is_empty() {
        let end = bytes
            .iter()
            .position(|&b| b == b'\n' || b == b'=')
            .expect("a field name");
        let key = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let (value, rest) = if bytes[end] == b'=' {
            let after = &bytes[end + 1..];
            let stop = after
                .iter()
                .position(|&b| b == b'\n')
                .expect("a field's end");
            (&after[..stop], &after[stop + 1..])
        } else {
            let after = &bytes[end + 1..];
            let len = u64::from_le_bytes(after[..8].try_into().unwrap()) as usize;
            (&after[8..8 + len], &after[8 + len + 1..])
        };
        fields.insert(key, String::from_utf8_lossy(value).into_owned());
        bytes = rest;
    }
    fields
}

/// The next journal entry on `socket` whose MESSAGE contains `text`; every entry read is kept
/// in `seen`.
fn entry_with(socket: &UnixDatagram, text: &str, seen: &mut Vec<Entry>) -> Entry {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = socket
            .recv(&mut buf)
            .expect("a journal entry within the deadline");
        if n == 0 {
            // tracing-journald's probe of the socket when the daemon starts.
            continue;
        }
        let entry = parse_entry(&buf[..n]);
        seen.push(entry.clone());
        if entry.get("MESSAGE").is_some_and(|m| m.contains(text)) {
            return entry;
        }
    }
}

#[test]
fn under_systemd_the_log_goes_to_the_journal_with_priorities_so_p_err_shows_only_errors() {
    let _w = Watchdog::arm("journald", T * 3);
    assert!(
        is_root(),
        "a private mount namespace needs root (CI runs as root)"
    );
    let dir = tempfile::tempdir().unwrap();
    let journal_dir = dir.path().join("journal");
    std::fs::create_dir(&journal_dir).unwrap();
    let journal = UnixDatagram::bind(journal_dir.join("socket")).unwrap();
    journal.set_read_timeout(Some(T)).unwrap();
    let config = dir.path().join("smtp32d.toml");
    std::fs::write(&config, "timeout = 30\n").unwrap();
    let stderr_path = dir.path().join("stderr");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let meta = stderr.metadata().unwrap();
    let socket = dir.path().join("smtp32d.sock");
    // systemd's view: stderr is the journal stream JOURNAL_STREAM names.
    let script = format!(
        "mount -t tmpfs none /run && mkdir -p /run/systemd/journal && \
         mount --bind {} /run/systemd/journal && exec {} --socket {} --config {}",
        journal_dir.display(),
        daemon_binary().display(),
        socket.display(),
        config.display()
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .env("STATE_DIRECTORY", dir.path().join("state"))
        .env_remove("SMTP32_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    let mut daemon = ChildGuard::spawn("smtp32d with a journal", &mut cmd);

    let mut seen = Vec::new();
    let listening = entry_with(&journal, "listening", &mut seen);
    assert_eq!(
        listening["PRIORITY"], "5",
        "info is notice (5): {listening:?}"
    );
    assert_eq!(listening["SYSLOG_IDENTIFIER"], "smtp32d", "{listening:?}");

    std::fs::write(&config, "timeout = \"soon\"\n").unwrap();
    daemon.signal(libc::SIGHUP);
    let kept = entry_with(&journal, "keeping the old configuration", &mut seen);
    assert_eq!(kept["PRIORITY"], "3", "an error is err (3): {kept:?}");
    // `journalctl -p err` shows priorities 0..=3: nothing else the daemon said is among them.
    let errors: Vec<&Entry> = seen
        .iter()
        .filter(|e| e.get("PRIORITY").is_none_or(|p| p.as_str() <= "3"))
        .collect();
    assert_eq!(errors, [&kept], "only the error is at err: {seen:?}");

    daemon.signal(libc::SIGTERM);
    let exit = daemon.wait_exit(T).expect("the daemon exits after SIGTERM");
    assert_eq!(exit.code(), Some(0), "{exit:?}");
    let text = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(
        text.is_empty(),
        "with the journal, nothing goes to stderr as text: {text}"
    );
}
