//! `smtp32ctl`: inspect and control a running smtp32d.
//!
//! Exit codes, for scripts: 0 success; 1 the daemon refused (no such
//! connection or queued message, or not yours; not permitted; a bad configuration on reload);
//! 64 (EX_USAGE) bad command line; 69 (EX_UNAVAILABLE) the daemon cannot be
//! reached or is shutting down; 70 (EX_SOFTWARE) anything else.

mod json;
mod queue;
mod text;

use clap::{Parser, Subcommand};
use smtp32::{Client, Error, Handle, ReturnCode};
use std::path::PathBuf;
use std::process::ExitCode;

/// Inspect and control the smtp32d daemon.
///
/// A user sees the SMTP connections of their own programs; root, the
/// daemon's user and members of its admin_group see and act on all of them.
#[derive(Parser, Debug)]
#[command(name = "smtp32ctl", version, about, long_about)]
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
    /// The daemon's version, uptime, configuration file, clients,
    /// connections by state and totals since start.
    Status {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// One row per SMTP connection you may see: handle, owner, server,
    /// state, operation in flight, age, idle time, bytes, TLS, last reply.
    Connections {
        /// Print a JSON array of objects instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One connection in detail, with its recent traffic (AUTH secrets
    /// redacted, message content summarised).
    Show {
        /// The connection's handle, as `connections` lists it.
        #[arg(value_parser = parse_handle)]
        handle: Handle,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Close a connection at once, as smtp_xquit does: the owner's call in
    /// flight fails with SMTP_ABORTED and the handle becomes invalid.
    Close {
        /// The connection's handle, as `connections` lists it.
        #[arg(value_parser = parse_handle)]
        handle: Handle,
    },
    /// The mail queue of smtp32-sendmail: one row per message you submitted
    /// (all of them for an admin): id, uid, size, age, attempts, next try,
    /// sender, recipients left, and the last error.
    Queue {
        /// Print a JSON array of objects instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Try queued messages now: the one with ID, or all you may see.
    Flush {
        /// The message's queue id, as `queue` lists it.
        id: Option<String>,
    },
    /// Remove a queued message without delivering it (yours; any for an admin).
    Delete {
        /// The message's queue id, as `queue` lists it.
        id: String,
    },
    /// The daemon's metrics in the OpenMetrics text format, as its metrics
    /// listener serves them to Prometheus: connections by state, operations
    /// by verb and result, latency histograms, bytes, cache and queue.
    Metrics,
    /// Make the daemon reload its configuration, as SIGHUP does (admins only).
    Reload,
    /// Make the daemon shut down, as SIGTERM does: work in flight may finish
    /// within shutdown_grace seconds, new work is refused (admins only).
    Shutdown,
}

const EX_REFUSED: u8 = 1;
const EX_USAGE: u8 = 64;
const EX_UNAVAILABLE: u8 = 69;
const EX_SOFTWARE: u8 = 70;

fn parse_handle(text: &str) -> Result<Handle, String> {
    text.trim()
        .parse::<u32>()
        .ok()
        .and_then(Handle::new)
        .ok_or_else(|| format!("`{text}` is not a handle (a number from 1 to 4294967295)"))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(EX_USAGE) } else { ExitCode::SUCCESS };
        }
    };
    let socket = cli.socket.unwrap_or_else(smtp32::client_socket_path);
    let client = match Client::connect(&socket) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let result = match cli.command {
        Cmd::Ping => client.ping(b"smtp32ctl").map(|rtt| {
            let ms = rtt.as_secs_f64() * 1e3;
            format!("smtp32d {} at {}: round trip {ms:.3} ms\n", client.daemon_version(), socket.display())
        }),
        Cmd::Status { json } => client.status().map(|s| if json { json::status(&s) } else { text::status(&s) }),
        Cmd::Connections { json } => {
            client.connections().map(|rows| if json { json::connections(&rows) } else { text::connections(&rows) })
        }
        Cmd::Show { handle, json } => {
            client.show_connection(handle).map(|d| if json { json::detail(&d) } else { text::detail(&d) })
        }
        Cmd::Close { handle } => client.close_connection(handle).map(|()| format!("closed {handle}\n")),
        Cmd::Queue { json } => {
            client.queue_entries().map(|rows| if json { json::queue(&rows) } else { queue::text(&rows) })
        }
        Cmd::Flush { id } => client.flush_queue(id.as_deref()).map(|()| "flushed\n".to_string()),
        Cmd::Delete { id } => client.delete_queued(&id).map(|()| format!("deleted {id}\n")),
        Cmd::Metrics => client.metrics(),
        Cmd::Reload => client.reload_daemon().map(|()| "configuration reloaded\n".to_string()),
        Cmd::Shutdown => client.shutdown_daemon().map(|()| "shutting down\n".to_string()),
    };
    match result {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn fail(e: &Error) -> ExitCode {
    eprintln!("smtp32ctl: {e}");
    ExitCode::from(exit_code(e.code()))
}

/// The exit code for a failed call.
fn exit_code(code: ReturnCode) -> u8 {
    match code {
        ReturnCode::CannotInitialize => EX_UNAVAILABLE,
        ReturnCode::InvalidHandle | ReturnCode::Failure | ReturnCode::InvalidArgument => EX_REFUSED,
        _ => EX_SOFTWARE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn handles_and_exit_codes() {
        assert_eq!(parse_handle("17").map(Handle::get), Ok(17));
        assert!(parse_handle("0").is_err() && parse_handle("x").is_err() && parse_handle("-1").is_err());
        assert_eq!(exit_code(ReturnCode::InvalidHandle), 1);
        assert_eq!(exit_code(ReturnCode::CannotInitialize), 69);
        let e = Cli::try_parse_from(["smtp32ctl", "show"]).unwrap_err();
        assert!(e.use_stderr());
        let e = Cli::try_parse_from(["smtp32ctl", "--help"]).unwrap_err();
        assert!(!e.use_stderr());
    }
}
