//! `smtp32ctl`: asks a running smtp32d whether it is alive and how it is doing.
//!
//! Exit codes: 0 success, 69 (EX_UNAVAILABLE) when the daemon cannot be
//! reached, 70 (EX_SOFTWARE) when it answered with an error.

use clap::{Parser, Subcommand};
use smtp32::{Client, DaemonStatus, Error, ReturnCode};
use std::path::PathBuf;
use std::process::ExitCode;

/// Control and inspect the smtp32d daemon.
#[derive(Parser, Debug)]
#[command(name = "smtp32ctl", version)]
struct Cli {
    /// The daemon's socket. Default: $SMTP32_SOCKET, else
    /// $XDG_RUNTIME_DIR/smtp32d.sock, else /run/smtp32d/smtp32d.sock (root)
    /// or /tmp/smtp32d-$UID/smtp32d.sock.
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,

    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Check that the daemon answers, and print the round-trip time.
    Ping,
    /// Print the daemon's version, uptime, clients and connections.
    Status {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

const EX_UNAVAILABLE: u8 = 69;
const EX_SOFTWARE: u8 = 70;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let socket = cli.socket.unwrap_or_else(smtp32::default_socket_path);
    let client = match Client::connect(&socket) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let result = match cli.command {
        Cmd::Ping => client.ping(b"smtp32ctl").map(|rtt| {
            println!("smtp32d {} at {}: round trip {:.3} ms", client.daemon_version(), socket.display(), rtt.as_secs_f64() * 1e3);
        }),
        Cmd::Status { json } => client.status().map(|s| {
            let s = View::of(&s);
            if json {
                println!("{}", status_json(&s));
            } else {
                print!("{}", status_text(&s));
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &Error) -> ExitCode {
    eprintln!("smtp32ctl: {e}");
    if e.code() == ReturnCode::CannotInitialize {
        ExitCode::from(EX_UNAVAILABLE)
    } else {
        ExitCode::from(EX_SOFTWARE)
    }
}

/// The fields of a [`DaemonStatus`] that are rendered (decoupled from the
/// struct, which gains fields over time).
struct View<'a> {
    daemon_version: &'a str,
    protocol_version: u32,
    pid: u32,
    uptime_secs: u64,
    clients: u32,
    connections: u32,
    connections_opened: u64,
}

impl<'a> View<'a> {
    fn of(s: &'a DaemonStatus) -> Self {
        View {
            daemon_version: &s.daemon_version,
            protocol_version: s.protocol_version,
            pid: s.pid,
            uptime_secs: s.uptime_secs,
            clients: s.clients,
            connections: s.connections,
            connections_opened: s.connections_opened,
        }
    }
}

fn status_text(s: &View<'_>) -> String {
    format!(
        "daemon version:     {}\nprotocol version:   {}\npid:                {}\nuptime:             {}\nclients:            {}\nconnections:        {}\nconnections opened: {}\n",
        s.daemon_version,
        s.protocol_version,
        s.pid,
        uptime(s.uptime_secs),
        s.clients,
        s.connections,
        s.connections_opened
    )
}

fn uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

fn status_json(s: &View<'_>) -> String {
    format!(
        "{{\"daemon_version\":{},\"protocol_version\":{},\"pid\":{},\"uptime_secs\":{},\"clients\":{},\"connections\":{},\"connections_opened\":{}}}",
        json_string(s.daemon_version),
        s.protocol_version,
        s.pid,
        s.uptime_secs,
        s.clients,
        s.connections,
        s.connections_opened
    )
}

/// A JSON string literal for `s`.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn sample() -> View<'static> {
        View {
            daemon_version: "0.1.0 \"x\"",
            protocol_version: 1,
            pid: 42,
            uptime_secs: 90_061,
            clients: 2,
            connections: 3,
            connections_opened: 7,
        }
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn json_is_one_escaped_object() {
        assert_eq!(
            status_json(&sample()),
            r#"{"daemon_version":"0.1.0 \"x\"","protocol_version":1,"pid":42,"uptime_secs":90061,"clients":2,"connections":3,"connections_opened":7}"#
        );
        assert_eq!(json_string("a\nb"), "\"a\\u000ab\"");
    }

    #[test]
    fn text_shows_uptime_readably() {
        assert!(status_text(&sample()).contains("uptime:             1d 01:01:01\n"));
        assert_eq!(uptime(59), "00:00:59");
    }
}
