//! The `smtp32d` binary: flags, configuration, logging, then [`smtp32d::run`].

use clap::Parser;
use smtp32d::cli::Cli;
use smtp32d::config::{Settings, DEFAULT_CONFIG};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.print_default_config {
        print!("{DEFAULT_CONFIG}");
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smtp32d: {e}");
            return ExitCode::from(78); // EX_CONFIG
        }
    };
    if cli.check_config {
        println!("{settings:#?}");
        return ExitCode::SUCCESS;
    }
    let debug_log = match smtp32d::logging::init(settings.debug_level, settings.debug_log.as_deref()) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("smtp32d: cannot open the debug log: {e}");
            return ExitCode::from(73); // EX_CANTCREAT
        }
    };
    let socket = smtp32d::listener::socket_path(cli.socket.as_deref(), settings.socket.as_deref());
    let reload = smtp32d::Reload { config: cli.config, debug_log };
    match smtp32d::run(settings, &socket, reload) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smtp32d: {e}");
            ExitCode::from(69) // EX_UNAVAILABLE
        }
    }
}
