//! The `smtp32ctl` command line, in the tools' library so that the man page and the shell
//! completions are generated from the same definition (`packaging/docgen`).

use clap::{Parser, Subcommand};
use smtp32::Handle;
use std::path::PathBuf;

/// Inspect and control the smtp32d daemon.
///
/// A user sees the SMTP connections of their own programs; root, the
/// daemon's user and members of its admin_group see and act on all of them.
#[derive(Parser, Debug)]
#[command(name = "smtp32ctl", version)]
pub struct Cli {
    /// The daemon's socket. Default: $SMTP32_SOCKET, else
    /// $XDG_RUNTIME_DIR/smtp32d.sock, else /run/smtp32d/smtp32d.sock (root)
    /// or /tmp/smtp32d-$UID/smtp32d.sock.
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
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

/// A handle as the user typed it.
fn parse_handle(text: &str) -> Result<Handle, String> {
    text.trim()
        .parse::<u32>()
        .ok()
        .and_then(Handle::new)
        .ok_or_else(|| format!("`{text}` is not a handle (a number from 1 to 4294967295)"))
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
    fn handles_and_usage_errors() {
        assert_eq!(parse_handle("17").map(Handle::get), Ok(17));
        assert!(
            parse_handle("0").is_err() && parse_handle("x").is_err() && parse_handle("-1").is_err()
        );
        let e = Cli::try_parse_from(["smtp32ctl", "show"]).unwrap_err();
        assert!(e.use_stderr());
        let e = Cli::try_parse_from(["smtp32ctl", "--help"]).unwrap_err();
        assert!(!e.use_stderr());
    }
}
