//! A second client process for the isolation and connection cache tests.
//!
//! - `smtp32-test-helper use-handle SOCKET HANDLE`: tries NOOP on another process's handle,
//!   once over a raw IPC connection and once through the C ABI (`smtp_noop`, with
//!   `SMTP32_SOCKET=SOCKET`), and prints `RAW <response>` and `FFI <return code>`.
//! - `smtp32-test-helper hold SOCKET HOST`: opens three connections to HOST through the Rust
//!   client (idle after EHLO; after MAIL and RCPT; inside DATA), prints `READY h1 h2 h3`, then
//!   blocks on stdin until it is killed.
//! - `smtp32-test-helper send SOCKET HOST`: one message to HOST (helo, MAIL, RCPT, DATA,
//!   `smtp_quit`), as a program of its own user would; prints `SENT code` with the final
//!   dot's reply code.

use smtp32_protocol::{Command, Handle, Request};
use smtp32_tests::raw::RawClient;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("use-handle") if args.len() == 4 => {
            use_handle(Path::new(&args[2]), args[3].parse().expect("handle"))
        }
        Some("hold") if args.len() == 4 => hold(Path::new(&args[2]), &args[3]),
        Some("send") if args.len() == 4 => send(Path::new(&args[2]), &args[3]),
        _ => {
            eprintln!("usage: smtp32-test-helper use-handle SOCKET HANDLE | hold SOCKET HOST | send SOCKET HOST");
            std::process::exit(2);
        }
    }
}

fn use_handle(socket: &Path, raw_handle: u32) {
    let handle = Handle::new(raw_handle).expect("non-zero handle");
    let mut raw = RawClient::connect_hello(socket);
    let response = raw.request(
        Request::Command {
            handle,
            command: Command::Noop,
        },
        Duration::from_secs(10),
    );
    println!("RAW {response:?}");
    std::env::set_var("SMTP32_SOCKET", socket);
    let code = smtp32::ffi::smtp_noop(raw_handle);
    println!("FFI {code}");
}

fn hold(socket: &Path, host: &str) {
    let client = smtp32::Client::connect(socket).expect("connect to the daemon");
    let local = smtp32_tests::session::LOCAL;
    let idle = client.helo(host, local, None).expect("helo 1");
    let envelope = client.helo(host, local, None).expect("helo 2");
    envelope.mail("a@a.test").expect("mail 2");
    envelope.rcpt("b@b.test").expect("rcpt 2");
    let in_data = client.helo(host, local, None).expect("helo 3");
    in_data.mail("a@a.test").expect("mail 3");
    in_data.rcpt("b@b.test").expect("rcpt 3");
    in_data
        .data_buf(b"Subject: half a message\r\n\r\nand then the client dies")
        .expect("data_buf 3");
    println!(
        "READY {} {} {}",
        idle.handle(),
        envelope.handle(),
        in_data.handle()
    );
    std::io::stdout().flush().unwrap();
    // Hold everything open until killed.
    let mut buf = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut buf);
}

fn send(socket: &Path, host: &str) {
    let client = smtp32::Client::connect(socket).expect("connect to the daemon");
    let conn = client
        .helo(host, smtp32_tests::session::LOCAL, None)
        .expect("helo");
    let chunks: [&[u8]; 1] = [b"Subject: from the helper\r\n\r\nhello\r\n"];
    let reply = smtp32_tests::session::send_message(&conn, "a@a.test", &["b@b.test"], &chunks);
    conn.quit().expect("quit");
    println!("SENT {}", reply.code);
}
