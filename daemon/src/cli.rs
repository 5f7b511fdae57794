//! The `smtp32d` command line, here (not in `main.rs`) so that the man page and the shell
//! completions are generated from the same definition (`packaging/docgen`).

use clap::Parser;
use std::path::PathBuf;

/// Holds SMTP connections for the programs on this host and serves
/// them the SMTP-32 API over a local socket.
///
/// Settings come from the embedded defaults, then the config file, then
/// SMTP32D_* environment variables (e.g. SMTP32D_TIMEOUT=30). With no file at
/// all the defaults serve.
#[derive(Parser, Debug)]
#[command(name = "smtp32d", version)]
pub struct Cli {
    /// Socket to listen on (overrides $SMTP32_SOCKET and the `socket` setting); on Windows a
    /// named pipe, \\.\pipe\smtp32d by default.
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Configuration file (TOML). Default: /etc/smtp32d/smtp32d.toml when it exists
    /// (Windows: C:\ProgramData\smtp32d\smtp32d.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the default configuration (a commented TOML file) and exit.
    #[arg(long)]
    pub print_default_config: bool,
    /// Load and validate the configuration, print the result and exit.
    #[arg(long)]
    pub check_config: bool,
    /// Windows: register the service "smtp32d" (automatic start, as LocalService), which
    /// runs this program with --service and the --config and --socket given here.
    #[cfg(windows)]
    #[arg(long)]
    pub install_service: bool,
    /// Windows: remove the service "smtp32d" (stop it first: `sc stop smtp32d`).
    #[cfg(windows)]
    #[arg(long)]
    pub uninstall_service: bool,
    /// Windows: run under the service control manager (what the installed service runs).
    #[cfg(windows)]
    #[arg(long, hide = true)]
    pub service: bool,
}
