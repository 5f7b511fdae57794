//! A client process for the fault tests, to be killed or to outlive its daemon.
//!
//! - `smtp32-fault-helper block SOCKET HOST PHASE`: gets to PHASE with the Rust client, prints
//!   `READY`, then blocks there until it is killed. PHASE is `connect` (a `helo` to a server
//!   that never greets), `idle` (connected, waiting on stdin), `mail` (a MAIL the server never
//!   answers), `data` (16 MiB of DATA to a server that stopped reading) or `noop` (a NOOP the
//!   server never answers).
//! - `smtp32-fault-helper c-abi-restart HOST STALL_HOST` (with `SMTP32_SOCKET` set): through
//!   the C ABI only, opens a handle to HOST (`OPEN h`), starts a MAIL on STALL_HOST that never
//!   gets an answer (`STALLED`) and reports when that call returns (`INFLIGHT code`); after the
//!   line `restarted` on stdin it reports `OLD code` (the old handle before any new helo),
//!   `NEW code handle` (a new `smtp_helo`), `OLDAFTER code` (the old handle after it),
//!   `NEWNOOP code`, `NEWQUIT code`, then `DONE`.
//! - `smtp32-fault-helper connect-as-nobody SOCKET` (as root): drops to uid/gid 65534 and
//!   tries to connect to SOCKET; prints `REFUSED error` or `CONNECTED`.

use smtp32::ffi;
use std::ffi::CString;
use std::io::{BufRead, Read, Write};
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("block") if args.len() == 5 => block(Path::new(&args[2]), &args[3], &args[4]),
        Some("c-abi-restart") if args.len() == 4 => c_abi_restart(&args[2], &args[3]),
        Some("connect-as-nobody") if args.len() == 3 => connect_as_nobody(Path::new(&args[2])),
        _ => {
            eprintln!("usage: smtp32-fault-helper block SOCKET HOST PHASE | c-abi-restart HOST STALL_HOST");
            std::process::exit(2);
        }
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn block(socket: &Path, host: &str, phase: &str) {
    let client = smtp32::Client::connect(socket).expect("connect to the daemon");
    let local = smtp32_tests::session::LOCAL;
    if phase == "connect" {
        say("READY");
        let r = client.helo(host, local, None);
        // Only reached if the daemon answers before the kill.
        say(&format!("RETURNED {r:?}"));
        return wait_for_stdin_end();
    }
    let conn = client.helo(host, local, None).expect("helo");
    let r = match phase {
        "idle" => {
            say("READY");
            return wait_for_stdin_end();
        }
        "mail" => {
            say("READY");
            conn.mail("a@a.test").map(|_| ())
        }
        "noop" => {
            say("READY");
            conn.noop().map(|_| ())
        }
        "data" => {
            conn.mail("a@a.test").expect("mail");
            conn.rcpt("b@b.test").expect("rcpt");
            say("READY");
            conn.data_buf(&vec![b'x'; 16 << 20])
        }
        other => panic!("unknown phase {other:?}"),
    };
    say(&format!("RETURNED {r:?}"));
    wait_for_stdin_end();
}

fn wait_for_stdin_end() {
    let mut buf = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut buf);
}

fn c_abi_restart(host: &str, stall_host: &str) {
    let local = CString::new(smtp32_tests::session::LOCAL).unwrap();
    let open = |host: &str| -> (i32, u32) {
        let host = CString::new(host).unwrap();
        let mut h = 0u32;
        // SAFETY: valid NUL-terminated strings and a writable handle.
        let rc = unsafe { ffi::smtp_helo(host.as_ptr(), local.as_ptr(), &mut h, None, 0) };
        (rc, h)
    };
    let (rc, old) = open(host);
    assert_eq!(rc, 0, "smtp_helo to {host}");
    say(&format!("OPEN {old}"));

    let (rc, stalled) = open(stall_host);
    assert_eq!(rc, 0, "smtp_helo to {stall_host}");
    let inflight = std::thread::spawn(move || {
        let from = CString::new("a@a.test").unwrap();
        say("STALLED");
        // SAFETY: a valid NUL-terminated string.
        let rc = unsafe { ffi::smtp_mail(stalled, from.as_ptr()) };
        say(&format!("INFLIGHT {rc}"));
    });

    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    assert_eq!(
        line.trim(),
        "restarted",
        "the test says when the new daemon serves"
    );
    inflight.join().expect("in-flight call thread");
    say(&format!("OLD {}", ffi::smtp_noop(old)));
    let (rc, new) = open(host);
    say(&format!("NEW {rc} {new}"));
    say(&format!("OLDAFTER {}", ffi::smtp_noop(old)));
    say(&format!("NEWNOOP {}", ffi::smtp_noop(new)));
    say(&format!("NEWQUIT {}", ffi::smtp_quit(new)));
    say("DONE");
}

fn connect_as_nobody(socket: &Path) {
    // SAFETY: plain credential calls in a single-threaded process.
    unsafe {
        assert_eq!(libc::setgroups(0, std::ptr::null()), 0, "setgroups");
        assert_eq!(libc::setgid(65534), 0, "setgid");
        assert_eq!(libc::setuid(65534), 0, "setuid");
    }
    match std::os::unix::net::UnixStream::connect(socket) {
        Ok(_) => say("CONNECTED"),
        Err(e) => say(&format!("REFUSED {e}")),
    }
}
