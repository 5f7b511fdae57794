//! `smtp_fw_helo` from C: a small program written from the manual's `fw_param` description is
//! compiled against `client/include/smtp32.h`, linked with the built `libsmtp32.so`, and run
//! against real proxies (microsocks with a password, Dante over SOCKS4) in front of smtp-sink.
//! It sends one message and exits with the return code of the first call that did not give
//! SMTP_SUCCESS (negated, so 0 is success), which this test compares.

use smtp32_tests::c_program::link_shared;
use smtp32_tests::paths::crate_dir;
use smtp32_tests::peers::socks::{Dante, Microsocks};
use smtp32_tests::{SmtpSink, TestDaemon, Watchdog};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// argv: fw_host fw_port dest_host dest_port socks_ver methods username passwd ("-" = NULL).
const PROGRAM: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "smtp32.h"

static const char *arg(const char *s) { return strcmp(s, "-") == 0 ? NULL : s; }

int main(int argc, char **argv) {
    if (argc != 9) return 100;
    fw_param fw;
    memset(&fw, 0, sizeof fw);
    fw.fw_host = argv[1];
    fw.fw_port = (unsigned short)atoi(argv[2]);
    fw.addr_type = FW_ADDR_IP4;
    fw.dest_host = argv[3];
    fw.dest_port = (unsigned short)atoi(argv[4]);
    fw.socks_ver = atoi(argv[5]);
    fw.methods = arg(argv[6]);
    fw.n_methods = fw.methods ? (unsigned char)strlen(fw.methods) : 0;
    fw.username = arg(argv[7]);
    fw.passwd = arg(argv[8]);

    SMTP_HANDLE conn = 0;
    int rc = smtp_fw_helo("c.smtp32.test", &conn, NULL, 0, &fw);
    if (rc != SMTP_SUCCESS) return -rc;
    if ((rc = smtp_mail(conn, "from@a.test")) != SMTP_SUCCESS) return -rc;
    if ((rc = smtp_rcpt(conn, "to@b.test")) != SMTP_SUCCESS) return -rc;
    const char *msg = "Subject: fw_helo from C\r\n\r\nHello.\r\n";
    if ((rc = smtp_data_buf(conn, msg, (int)strlen(msg))) != SMTP_SUCCESS) return -rc;
    if ((rc = smtp_data_buf(conn, msg, 0)) != SMTP_SUCCESS) return -rc; /* len 0 ends the message */
    if ((rc = smtp_quit(conn)) != SMTP_SUCCESS) return -rc;
    return 0;
}
"#;

fn compile(dir: &Path) -> PathBuf {
    let src = dir.join("fw.c");
    std::fs::write(&src, PROGRAM).expect("write fw.c");
    let exe = dir.join("fw");
    let mut cc = Command::new("cc");
    cc.args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
        .arg("-I")
        .arg(crate_dir().join("../client/include"))
        .arg(&src)
        .arg("-o")
        .arg(&exe);
    link_shared(&mut cc, dir);
    let out = cc.output().expect("run cc (Debian package gcc)");
    assert!(
        out.status.success(),
        "compiling fw.c failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Runs the program; returns the SMTP-32 code of the first call that failed (0 = all succeeded).
fn run(exe: &Path, d: &TestDaemon, args: &[String]) -> i32 {
    let (exe, socket, args) = (
        exe.to_path_buf(),
        d.socket_path().to_path_buf(),
        args.to_vec(),
    );
    let status = smtp32_tests::with_deadline("the C program", Duration::from_secs(60), move || {
        Command::new(exe)
            .args(args)
            .env("SMTP32_SOCKET", socket)
            .status()
            .expect("run fw")
    });
    -status.code().expect("the C program was killed by a signal")
}

#[test]
fn smtp_fw_helo_from_c_through_microsocks_and_dante() {
    let _wd = Watchdog::test("smtp_fw_helo_from_c_through_microsocks_and_dante");
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = compile(dir.path());
    let sink = SmtpSink::start();
    let d = TestDaemon::start();
    let dest_port = sink.addr().port().to_string();
    let args = |port: u16, ver: &str, methods: &str, user: &str, pw: &str| -> Vec<String> {
        let port = port.to_string();
        [
            "127.0.0.1",
            &port,
            "127.0.0.1",
            &dest_port,
            ver,
            methods,
            user,
            pw,
        ]
        .map(String::from)
        .to_vec()
    };

    let micro = Microsocks::with_password("carol", "c-pw");
    assert_eq!(
        run(&exe, &d, &args(micro.port(), "2", "2", "carol", "c-pw")),
        0,
        "SOCKS5 with password"
    );
    assert_eq!(
        run(&exe, &d, &args(micro.port(), "3", "02", "carol", "bad")),
        -1,
        "wrong password: SMTP_FAILURE"
    );
    assert_eq!(
        run(&exe, &d, &args(micro.port(), "2", "1", "-", "-")),
        -16,
        "GSSAPI: SMTP_INVALID_ARGUMENT"
    );

    let dante = Dante::start();
    assert_eq!(
        run(&exe, &d, &args(dante.port(), "1", "-", "-", "-")),
        0,
        "SOCKS4 via Dante"
    );
    assert_eq!(sink.message_count(), 2);
}
