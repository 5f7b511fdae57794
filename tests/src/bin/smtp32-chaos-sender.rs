//! One sender process of the chaos test (tests/tests/chaos.rs).
//!
//! `smtp32-chaos-sender SOCKET HOST SEED PROC COUNT OUT`: with its own daemon client, sends the
//! messages `PROC-0` … `PROC-(COUNT-1)` (tests/src/message.rs `chaos_message`) to HOST, one
//! transaction each, and writes one line per message to OUT:
//!
//! - `ID OK` — `data_end` returned success;
//! - `ID FAIL STAGE CODE` — the call at STAGE (`helo`, `mail`, `rcpt`, `data`, `dot`) failed
//!   with the SMTP-32 return code CODE; nothing is retried, the next message goes on a new
//!   connection.
//!
//! Connections are rotated every 10 to 40 messages (QUIT, then a new `helo`) so that faults meet
//! every phase of the run. The timeout is 2 s (OPT_TIMEOUT).

use smtp32::{Connection, ReturnCode};
use smtp32_tests::message::{chaos_message, Xorshift};
use std::io::Write;
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 7 {
        eprintln!("usage: smtp32-chaos-sender SOCKET HOST SEED PROC COUNT OUT");
        std::process::exit(2);
    }
    let (socket, host) = (Path::new(&args[1]), args[2].as_str());
    let seed: u64 = args[3].parse().expect("SEED");
    let proc_no: u64 = args[4].parse().expect("PROC");
    let count: u64 = args[5].parse().expect("COUNT");
    let client = smtp32::Client::connect(socket).expect("connect to the daemon");
    let mut rng = Xorshift::new(seed ^ (proc_no + 1).wrapping_mul(0x2545_F491));
    let mut out = Vec::new();
    let mut conn: Option<Connection> = None;
    let mut left_on_conn = 0;
    for i in 0..count {
        let id = format!("{proc_no}-{i}");
        if left_on_conn == 0 {
            if let Some(c) = conn.take() {
                let _ = c.quit();
            }
            left_on_conn = 10 + rng.below(31);
        }
        left_on_conn -= 1;
        let line = match send(&client, &mut conn, host, &chaos_message(seed, &id)) {
            Ok(()) => format!("{id} OK"),
            Err((stage, code)) => {
                // The connection is lost or out of step: free the handle and start afresh.
                if let Some(c) = conn.take() {
                    let _ = c.quit();
                }
                format!("{id} FAIL {stage} {}", code.name())
            }
        };
        out.push(line);
    }
    if let Some(c) = conn.take() {
        let _ = c.quit();
    }
    let mut text = out.join("\n");
    text.push('\n');
    let mut f = std::fs::File::create(&args[6]).expect("create OUT");
    f.write_all(text.as_bytes()).expect("write OUT");
    f.sync_all().expect("sync OUT");
}

type Failed = (&'static str, ReturnCode);

fn send(
    client: &smtp32::Client,
    conn: &mut Option<Connection>,
    host: &str,
    message: &[u8],
) -> Result<(), Failed> {
    if conn.is_none() {
        let c = client
            .helo(host, smtp32_tests::session::LOCAL, None)
            .map_err(|e| ("helo", e.code()))?;
        c.set_timeout(2).map_err(|e| ("helo", e.code()))?;
        *conn = Some(c);
    }
    let Some(c) = conn.as_ref() else {
        unreachable!()
    };
    c.mail("chaos@sender.test")
        .map_err(|e| ("mail", e.code()))?;
    c.rcpt("sink@receiver.test")
        .map_err(|e| ("rcpt", e.code()))?;
    c.data_buf(message).map_err(|e| ("data", e.code()))?;
    c.data_end().map_err(|e| ("dot", e.code()))?;
    Ok(())
}
