//! `smtp32ctl`: inspect and control a running smtp32d.
//!
//! Exit codes, for scripts: 0 success; 1 the daemon refused (no such
//! connection or queued message, or not yours; not permitted; a bad configuration on reload);
//! 64 (EX_USAGE) bad command line; 69 (EX_UNAVAILABLE) the daemon cannot be
//! reached or is shutting down; 70 (EX_SOFTWARE) anything else.

mod json;
mod queue;
mod text;

use clap::Parser;
use smtp32::{Client, Error, ReturnCode};
use smtp32_tools::ctl_cli::{Cli, Cmd};
use std::process::ExitCode;

const EX_REFUSED: u8 = 1;
const EX_USAGE: u8 = 64;
const EX_UNAVAILABLE: u8 = 69;
const EX_SOFTWARE: u8 = 70;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EX_USAGE)
            } else {
                ExitCode::SUCCESS
            };
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
            format!(
                "smtp32d {} at {}: round trip {ms:.3} ms\n",
                client.daemon_version(),
                socket.display()
            )
        }),
        Cmd::Status { json } => client.status().map(|s| {
            if json {
                json::status(&s)
            } else {
                text::status(&s)
            }
        }),
        Cmd::Connections { json } => client.connections().map(|rows| {
            if json {
                json::connections(&rows)
            } else {
                text::connections(&rows)
            }
        }),
        Cmd::Show { handle, json } => client.show_connection(handle).map(|d| {
            if json {
                json::detail(&d)
            } else {
                text::detail(&d)
            }
        }),
        Cmd::Close { handle } => client
            .close_connection(handle)
            .map(|()| format!("closed {handle}\n")),
        Cmd::Queue { json } => client.queue_entries().map(|rows| {
            if json {
                json::queue(&rows)
            } else {
                queue::text(&rows)
            }
        }),
        Cmd::Flush { id } => client
            .flush_queue(id.as_deref())
            .map(|()| "flushed\n".to_string()),
        Cmd::Delete { id } => client
            .delete_queued(&id)
            .map(|()| format!("deleted {id}\n")),
        Cmd::Metrics => client.metrics(),
        Cmd::Reload => client
            .reload_daemon()
            .map(|()| "configuration reloaded\n".to_string()),
        Cmd::Shutdown => client
            .shutdown_daemon()
            .map(|()| "shutting down\n".to_string()),
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

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(ReturnCode::InvalidHandle), 1);
        assert_eq!(exit_code(ReturnCode::CannotInitialize), 69);
    }
}
