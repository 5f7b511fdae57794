//! A C program written only from the SMTP-32 manual's function descriptions (`tests/c/manual.c`)
//! calls every function of the manual's function summary against real servers through the real
//! daemon: Exim (VRFY, EXPN of the alias, HELP, the refused RFC 821 verbs, two messages),
//! smtp-sink (a plain one, one slow to answer NOOP and RSET, one slow to answer EHLO) and
//! microsocks (SOCKS5 with a password) for `smtp_fw_helo`.
//!
//! It is compiled as the manual's users would, `cc -std=c99 -Wall -Werror -pthread`, against
//! `client/include/smtp32.h`, and linked with `libsmtp32.so` (rpath). The program checks each
//! return code itself; this test asserts it exited 0, that every function of the manual's summary
//! and every `smtp_opts` option was checked, and what reached the servers.

use smtp32_tests::c_program::{compile, run, Link};
use smtp32_tests::paths::crate_dir;
use smtp32_tests::peers::exim::Exim;
use smtp32_tests::peers::socks::Microsocks;
use smtp32_tests::{SmtpSink, TestDaemon, Watchdog};
use std::time::Duration;

const FLAGS: [&str; 6] = ["-std=c99", "-Wall", "-Werror", "-pthread", "-g", "-O1"];
const SOCKS_USER: &str = "manual-user";
const SOCKS_PASSWORD: &str = "manual-Pa55";

/// The functions `smtp32.h` declares, read from the header itself.
fn header_functions() -> Vec<String> {
    let header = std::fs::read_to_string(crate_dir().join("../client/include/smtp32.h"))
        .expect("read smtp32.h");
    let mut names: Vec<String> = header
        .lines()
        .filter(|l| l.starts_with("int smtp_") || l.starts_with("const char *smtp_"))
        .filter_map(|l| l.split('(').next())
        .filter_map(|l| l.rsplit([' ', '*']).next())
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The manual's function summary (section 1.3).
const MANUAL_SUMMARY: [&str; 22] = [
    "smtp_data",
    "smtp_data_buf",
    "smtp_date",
    "smtp_direct",
    "smtp_expn",
    "smtp_fw_helo",
    "smtp_helo",
    "smtp_help",
    "smtp_mail",
    "smtp_noop",
    "smtp_opts",
    "smtp_quit",
    "smtp_rcpt",
    "smtp_rply",
    "smtp_rset",
    "smtp_saml",
    "smtp_send",
    "smtp_soml",
    "smtp_turn",
    "smtp_vrfy",
    "smtp_xhelo",
    "smtp_xquit",
];

#[test]
fn a_program_written_from_the_manual_uses_every_function() {
    let _wd = Watchdog::arm(
        "a_program_written_from_the_manual_uses_every_function",
        Duration::from_secs(180),
    );
    let functions = header_functions();
    for f in MANUAL_SUMMARY {
        assert!(
            functions.iter().any(|h| h == f),
            "smtp32.h lacks {f} of the manual's function summary: {functions:?}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let exe = compile(dir.path(), "manual.c", &FLAGS, Link::Shared);
    let mta = Exim::start().unwrap_or_else(|e| panic!("the Exim fixture did not start: {e}"));
    let sink = SmtpSink::start();
    let slow = SmtpSink::with_flags(&["-W", "NOOP:2", "-W", "RSET:30"]);
    let stall = SmtpSink::with_flags(&["-W", "EHLO:30"]);
    let socks = Microsocks::with_password(SOCKS_USER, SOCKS_PASSWORD);
    let d = TestDaemon::start();

    let out = run(
        &exe,
        d.socket_path(),
        &[
            &mta.smtp_addr().to_string(),
            &sink.host(),
            &slow.host(),
            &stall.host(),
            &socks.port().to_string(),
            SOCKS_USER,
            SOCKS_PASSWORD,
        ],
        Duration::from_secs(120),
    );
    out.assert_clean("manual.c");

    // Every function of the manual's summary (and smtp_strerror), and every option, has at
    // least one passed check. (Functions the header adds beyond the manual are not the
    // manual's to test.)
    let passed = out.passed();
    for f in MANUAL_SUMMARY.iter().chain(&["smtp_strerror"]) {
        assert!(
            passed
                .iter()
                .any(|p| p.split_whitespace().next() == Some(*f)),
            "no check of {f} passed:\n{}",
            out.stdout
        );
    }
    for opt in [
        "OPT_YIELD_ON",
        "OPT_YIELD_OFF",
        "OPT_SET_PARAM",
        "OPT_GET_PARAM",
        "OPT_DEBUG",
        "OPT_TIMEOUT",
    ] {
        assert!(
            passed
                .iter()
                .any(|p| p.starts_with(&format!("smtp_opts {opt}"))),
            "no check of {opt}:\n{}",
            out.stdout
        );
    }
    for check in [
        "smtp_expn calls proc once per member",
        "smtp_help lists the commands, a line per call",
        "smtp_direct truncates and sets len to the size needed",
        "smtp_opts OPT_YIELD_ON: called every 50 ms on the calling thread",
        "smtp_xquit from another thread",
        "smtp_xhelo status after smtp_xquit",
        "smtp_fw_helo through SOCKS5 with a password",
        "smtp_fw_helo with a wrong password",
    ] {
        assert!(
            passed.contains(&check),
            "check {check:?} missing:\n{}",
            out.stdout
        );
    }
    assert!(
        passed.len() >= 100,
        "only {} checks passed:\n{}",
        passed.len(),
        out.stdout
    );

    // What reached the servers: Exim delivered the smtp_data message to alice and the
    // smtp_data_buf one to bob; the sink got the smtp_xhelo and smtp_fw_helo messages.
    let alice = mta.wait_for_delivery("alice", 1, Duration::from_secs(20));
    let text = String::from_utf8_lossy(&alice[0]);
    assert!(text.contains("Subject: manual smtp_data\n"), "{text}");
    assert!(
        text.contains("\n.a line with a leading dot\n"),
        "the dot line arrived unstuffed: {text}"
    );
    let bob = mta.wait_for_delivery("bob", 1, Duration::from_secs(20));
    assert!(String::from_utf8_lossy(&bob[0]).contains("Subject: manual smtp_data_buf\n"));
    assert_eq!(mta.delivered("carol").len(), 0, "nothing was sent to carol");
    let dumps: Vec<String> = sink
        .dumps()
        .iter()
        .map(|d| String::from_utf8_lossy(d).into_owned())
        .collect();
    assert_eq!(dumps.len(), 2, "{dumps:?}");
    for subject in ["Subject: manual smtp_xhelo", "Subject: manual smtp_fw_helo"] {
        assert!(
            dumps.iter().any(|d| d.contains(subject)),
            "{subject} missing from {dumps:?}"
        );
    }
}

/// The C in README.md (the introduction's example and the function table's one-liners) is
/// right for the API: each one-liner names its row's function, and all of it compiles against
/// smtp32.h with `-Wall -Werror`.
#[test]
fn the_readme_c_examples_compile_against_the_header() {
    let _wd = Watchdog::test("the_readme_c_examples_compile_against_the_header");
    let readme = std::fs::read_to_string(crate_dir().join("../README.md")).expect("read README.md");
    let intro = readme
        .split("```c\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("a ```c block");
    let intro: Vec<&str> = intro
        .lines()
        .filter(|l| !l.starts_with("#include"))
        .collect();

    let mut examples = Vec::new();
    for row in readme.lines().filter(|l| l.starts_with("| `smtp_")) {
        let (first, last) = row
            .trim_end_matches('|')
            .trim_end()
            .rsplit_once(" | ")
            .expect("two columns");
        let example = last
            .split('`')
            .nth(1)
            .unwrap_or_else(|| panic!("no `code` in the example column: {row}"));
        let names: Vec<&str> = first
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|n| n.starts_with("smtp_"))
            .collect();
        assert!(
            names.iter().any(|n| example.contains(&format!("{n}("))),
            "the example {example:?} does not call its row's function {names:?}"
        );
        examples.push(example.to_string());
    }
    for f in MANUAL_SUMMARY.iter().chain(&["smtp_strerror"]) {
        assert!(
            examples.iter().any(|e| e.contains(&format!("{f}("))),
            "the README table has no example for {f}"
        );
    }

    let mut c = String::from(
        "#include \"smtp32.h\"\n#include <stdio.h>\n\
         static int dbg_proc(SMTP_HANDLE h, const char *b, int n, uintptr_t p) { (void)h; (void)b; (void)p; return n; }\n\
         static int on_status(SMTP_HANDLE h, int r, uintptr_t p) { (void)h; (void)p; return r; }\n\
         static int fill_proc(SMTP_HANDLE h, char *b, int n, uintptr_t p) { (void)h; (void)b; (void)n; (void)p; return 0; }\n\
         static int line_proc(SMTP_HANDLE h, const char *l, int n, uintptr_t p) { (void)h; (void)l; (void)p; return n; }\n\
         void intro(void) {\n",
    );
    for line in intro {
        c.push_str(line);
        c.push('\n');
    }
    c.push_str(
        "}\nvoid table(void) {\n    SMTP_HANDLE h = 0; uintptr_t lparam = 0; fw_param fw = {0}; char buf[512];\n    \
         int len = sizeof buf; char text[512]; int code = 0; int rc = 0;\n",
    );
    for e in &examples {
        c.push_str(&format!("    {{ {e}; }}\n"));
    }
    c.push_str("    (void)len; (void)code;\n}\n");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("readme.c");
    std::fs::write(&src, &c).unwrap();
    let out = std::process::Command::new("cc")
        .args(["-std=c99", "-Wall", "-Werror", "-fsyntax-only", "-I"])
        .arg(crate_dir().join("../client/include"))
        .arg(&src)
        .output()
        .expect("run cc");
    assert!(
        out.status.success(),
        "the README's C does not compile:\n{}\n--- the program ---\n{c}",
        String::from_utf8_lossy(&out.stderr)
    );
}
