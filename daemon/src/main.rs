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
    #[cfg(windows)]
    if cli.service {
        return service_exit(smtp32d::platform::service::run(move || {
            serve(cli, settings)
        }));
    }
    #[cfg(windows)]
    if let Some(code) = install_command(&cli) {
        return code;
    }
    ExitCode::from(serve(cli, settings))
}

/// Runs the daemon with `settings`; the exit status (sysexits.h).
fn serve(cli: Cli, settings: Settings) -> u8 {
    #[cfg(unix)]
    smtp32d::platform::keep_message_buffers(settings.max_frame_bytes);
    let debug_log =
        match smtp32d::logging::init(settings.debug_level, settings.debug_log.as_deref()) {
            Ok(log) => log,
            Err(e) => {
                eprintln!("smtp32d: cannot open the debug log: {e}");
                return 73; // EX_CANTCREAT
            }
        };
    let socket = smtp32d::listener::socket_path(cli.socket.as_deref(), settings.socket.as_deref());
    let reload = smtp32d::Reload {
        config: cli.config,
        debug_log,
    };
    match smtp32d::run(settings, &socket, reload) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("smtp32d: {e}");
            69 // EX_UNAVAILABLE
        }
    }
}

/// `--install-service` and `--uninstall-service` (Windows); `None` when neither is given.
#[cfg(windows)]
fn install_command(cli: &Cli) -> Option<ExitCode> {
    use smtp32d::platform::service;
    let result = if cli.install_service {
        let mut args = Vec::new();
        for (flag, value) in [("--config", &cli.config), ("--socket", &cli.socket)] {
            if let Some(value) = value {
                // The service starts in another folder: make the path absolute.
                let value = std::path::absolute(value).unwrap_or_else(|_| value.clone());
                args.extend([flag.into(), value.into_os_string()]);
            }
        }
        service::install(args)
    } else if cli.uninstall_service {
        service::uninstall()
    } else {
        return None;
    };
    Some(service_exit(result))
}

/// The exit status after a service operation.
#[cfg(windows)]
fn service_exit(result: windows_service::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smtp32d: service: {e}");
            ExitCode::from(69) // EX_UNAVAILABLE
        }
    }
}
