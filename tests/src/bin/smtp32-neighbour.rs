//! A hostile neighbour for the trust-boundary tests, run as a second local user.
//!
//! - `smtp32-neighbour plant DIR`: makes DIR (mode 0777) with a listening socket
//!   `smtp32d.sock` in it, prints `READY`, then counts the connections and bytes it receives
//!   until its stdin closes, and prints `CONNECTIONS n BYTES b`.
//! - `smtp32-neighbour open-many SOCKET HOST CLIENTS EACH`: connects CLIENTS clients to the
//!   daemon at SOCKET and opens up to EACH SMTP connections to HOST through each; prints
//!   `OPENED n`, then `REFUSED <why>` for the first refusal (a client or a connection), or
//!   `REFUSED none`, then holds everything open until stdin closes.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("plant") if args.len() == 3 => plant(Path::new(&args[2])),
        Some("open-many") if args.len() == 6 => {
            let count = |i: usize| args[i].parse::<usize>().expect("a count");
            open_many(Path::new(&args[2]), &args[3], count(4), count(5))
        }
        _ => {
            eprintln!("usage: smtp32-neighbour plant DIR | open-many SOCKET HOST CLIENTS EACH");
            std::process::exit(2);
        }
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn wait_for_stdin_to_close() {
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

fn plant(dir: &Path) {
    std::fs::create_dir_all(dir).expect("make the folder");
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).expect("chmod 0777");
    let listener = UnixListener::bind(dir.join("smtp32d.sock")).expect("bind the planted socket");
    std::fs::set_permissions(
        dir.join("smtp32d.sock"),
        std::fs::Permissions::from_mode(0o777),
    )
    .expect("chmod");
    let (connections, bytes) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (c, b) = (connections.clone(), bytes.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            c.fetch_add(1, Ordering::SeqCst);
            let b = b.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut s = stream;
                while let Ok(n @ 1..) = s.read(&mut buf) {
                    b.fetch_add(n, Ordering::SeqCst);
                }
            });
        }
    });
    say("READY");
    wait_for_stdin_to_close();
    say(&format!(
        "CONNECTIONS {} BYTES {}",
        connections.load(Ordering::SeqCst),
        bytes.load(Ordering::SeqCst)
    ));
}

fn open_many(socket: &Path, host: &str, clients: usize, each: usize) {
    let (mut clients_held, mut held) = (Vec::new(), Vec::new());
    let mut refused = None;
    'clients: for _ in 0..clients {
        let client = match smtp32::Client::connect(socket) {
            Ok(c) => c,
            Err(e) => {
                refused = Some(e.to_string());
                break;
            }
        };
        for _ in 0..each {
            match client.helo(host, "neighbour.test", None) {
                Ok(conn) => held.push(conn),
                Err(e) => {
                    refused = Some(e.to_string());
                    break 'clients;
                }
            }
        }
        clients_held.push(client);
    }
    say(&format!("OPENED {}", held.len()));
    say(&format!("REFUSED {}", refused.as_deref().unwrap_or("none")));
    wait_for_stdin_to_close();
}
