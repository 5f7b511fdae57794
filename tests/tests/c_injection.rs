//! CR and LF in every string argument of every C function are `SMTP_INVALID_ARGUMENT`, and
//! nothing reaches the server. (A C string cannot hold a NUL: it ends there; NUL injection is
//! covered for the Rust API and the wire in hardening.rs.) Its own test binary, with one test,
//! because the C ABI's one global client finds the daemon through `SMTP32_SOCKET`, which must be
//! set before any other thread exists.

use smtp32::ffi::{self, fw_param, FW_ADDR_DNS, FW_VERSION5};
use smtp32::ReturnCode;
use smtp32_tests::session::LOCAL;
use smtp32_tests::{Script, ScriptedServer, ServerEvent, TestDaemon, Watchdog};
use std::ffi::{c_char, CString};

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

#[test]
fn every_string_argument_of_the_c_abi_refuses_cr_and_lf() {
    let d = TestDaemon::start();
    // Before any thread of this test binary but the main one and the daemon fixture's exist.
    std::env::set_var("SMTP32_SOCKET", d.socket_path());
    let _wd = Watchdog::test("every_string_argument_of_the_c_abi_refuses_cr_and_lf");
    let server = ScriptedServer::start(
        Script::new()
            .raw(b"220 c-injection.test\r\n")
            .expect("EHLO")
            .raw(b"250-c-injection.test\r\n250 AUTH PLAIN LOGIN\r\n")
            .accept_all(),
    );
    let (host, local) = (c(&server.host()), c(LOCAL));
    let mut h = 0u32;
    // SAFETY: valid strings and a writable handle.
    let opened = unsafe { ffi::smtp_helo(host.as_ptr(), local.as_ptr(), &mut h, None, 0) };
    assert_eq!(opened, 0, "smtp_helo");
    let invalid = ReturnCode::InvalidArgument.as_i32();
    let mut checked = 0;
    for bad in ["a\rb@x.test", "a\nb@x.test", "a@x.test\r\nRSET", "\r\n"] {
        let b = c(bad);
        let host_bad = c(&format!("{}{bad}", server.host()));
        let line_bad = c(&format!("NOOP {bad}"));
        let mut out = 0u32;
        let mut buf = [0 as c_char; 256];
        let mut len: i32 = buf.len() as i32;
        let rcpts_bad = [b.as_ptr()];
        let good_rcpt = c("b@x.test");
        let rcpts_mixed = [good_rcpt.as_ptr(), b.as_ptr()];
        let mut codes = [0i32; 2];
        let from = c("a@x.test");
        let msg = b"x\r\n";
        let (fw_host, dest) = (c("127.0.0.1"), c("mail.example"));
        let fw = |fw_host: &CString, dest: &CString| {
            // SAFETY: all-zero is a valid fw_param (NULL pointers, zero numbers).
            let mut p: fw_param = unsafe { std::mem::zeroed() };
            p.methods = c"0".as_ptr();
            p.n_methods = 1;
            p.addr_type = FW_ADDR_DNS;
            p.domain_name = dest.as_ptr();
            p.fw_host = fw_host.as_ptr();
            p.fw_port = 1;
            p.dest_port = 25;
            p.socks_ver = FW_VERSION5;
            p
        };
        // SAFETY: every pointer is a valid string or buffer for the call.
        let results: Vec<(&str, i32)> = unsafe {
            vec![
                (
                    "smtp_helo host",
                    ffi::smtp_helo(host_bad.as_ptr(), local.as_ptr(), &mut out, None, 0),
                ),
                (
                    "smtp_helo local",
                    ffi::smtp_helo(host.as_ptr(), b.as_ptr(), &mut out, None, 0),
                ),
                (
                    "smtp_xhelo host",
                    ffi::smtp_xhelo(host_bad.as_ptr(), local.as_ptr(), &mut out, None, None, 0),
                ),
                (
                    "smtp_xhelo local",
                    ffi::smtp_xhelo(host.as_ptr(), b.as_ptr(), &mut out, None, None, 0),
                ),
                (
                    "smtp_fw_helo local",
                    ffi::smtp_fw_helo(b.as_ptr(), &mut out, None, 0, &fw(&fw_host, &dest)),
                ),
                (
                    "smtp_fw_helo fw_host",
                    ffi::smtp_fw_helo(local.as_ptr(), &mut out, None, 0, &fw(&b, &dest)),
                ),
                (
                    "smtp_fw_helo domain_name",
                    ffi::smtp_fw_helo(local.as_ptr(), &mut out, None, 0, &fw(&fw_host, &b)),
                ),
                ("smtp_mail", ffi::smtp_mail(h, b.as_ptr())),
                ("smtp_send", ffi::smtp_send(h, b.as_ptr())),
                ("smtp_soml", ffi::smtp_soml(h, b.as_ptr())),
                ("smtp_saml", ffi::smtp_saml(h, b.as_ptr())),
                ("smtp_rcpt", ffi::smtp_rcpt(h, b.as_ptr())),
                ("smtp_vrfy", ffi::smtp_vrfy(h, b.as_ptr())),
                ("smtp_expn", ffi::smtp_expn(h, b.as_ptr(), None)),
                ("smtp_help", ffi::smtp_help(h, b.as_ptr(), None)),
                (
                    "smtp_direct",
                    ffi::smtp_direct(h, line_bad.as_ptr(), buf.as_mut_ptr(), &mut len),
                ),
                (
                    "smtp_auth mechanism",
                    ffi::smtp_auth(h, b.as_ptr(), c"user".as_ptr(), c"secret".as_ptr()),
                ),
                (
                    "smtp_auth user",
                    ffi::smtp_auth(h, std::ptr::null(), b.as_ptr(), c"secret".as_ptr()),
                ),
                (
                    "smtp_auth secret",
                    ffi::smtp_auth(h, std::ptr::null(), c"user".as_ptr(), b.as_ptr()),
                ),
                (
                    "smtp_ext keyword",
                    ffi::smtp_ext(h, b.as_ptr(), buf.as_mut_ptr(), buf.len() as i32),
                ),
                (
                    "smtp_sendmsg from",
                    ffi::smtp_sendmsg(
                        h,
                        b.as_ptr(),
                        [good_rcpt.as_ptr()].as_ptr(),
                        1,
                        msg.as_ptr().cast(),
                        msg.len(),
                        codes.as_mut_ptr(),
                    ),
                ),
                (
                    "smtp_sendmsg rcpt",
                    ffi::smtp_sendmsg(
                        h,
                        from.as_ptr(),
                        rcpts_bad.as_ptr(),
                        1,
                        msg.as_ptr().cast(),
                        msg.len(),
                        codes.as_mut_ptr(),
                    ),
                ),
                (
                    "smtp_sendmsg second rcpt",
                    ffi::smtp_sendmsg(
                        h,
                        from.as_ptr(),
                        rcpts_mixed.as_ptr(),
                        2,
                        msg.as_ptr().cast(),
                        msg.len(),
                        codes.as_mut_ptr(),
                    ),
                ),
            ]
        };
        for (what, code) in results {
            assert_eq!(code, invalid, "{what} with {bad:?} returned {code}");
            checked += 1;
        }
    }
    println!(
        "{checked} C calls with CR or LF in a string argument, every one SMTP_INVALID_ARGUMENT"
    );
    // The handle is untouched and no injected line reached the server.
    assert_eq!(ffi::smtp_noop(h), 0, "smtp_noop after the refusals");
    assert_eq!(ffi::smtp_quit(h), 0, "smtp_quit");
    for e in server.events() {
        if let ServerEvent::Received { line, .. } = e {
            assert!(
                !line.contains("RSET") && !line.starts_with("b@"),
                "an injected line reached the server: {line:?}"
            );
        }
    }
}
