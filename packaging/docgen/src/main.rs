//! `smtp32-docgen DIR`: writes the man pages (`DIR/man/smtp32d.8`; `DIR/man/smtp32ctl.1` and
//! one page per subcommand, `smtp32ctl-status.1`…, as `smtp32ctl` is for every user; and
//! `smtp32-sendmail.8` copied from `packaging/man/`, whose command line is hand-parsed) and the
//! bash, zsh and fish completions of `smtp32d` and `smtp32ctl` (`DIR/completions/...`) from the
//! clap definitions the programs themselves parse, so the pages never drift from `--help`.
//! `packaging/build-deb.sh` runs it; the package installs what it writes.

use clap::CommandFactory;
use clap_complete::Shell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The hand-written page of `smtp32-sendmail`.
const SENDMAIL_PAGE: &str = include_str!("../../man/smtp32-sendmail.8");

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: smtp32-docgen DIR");
        return ExitCode::from(64);
    };
    match write_all(&dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smtp32-docgen: {}: {e}", dir.display());
            ExitCode::from(73)
        }
    }
}

fn write_all(dir: &Path) -> std::io::Result<()> {
    let man = dir.join("man");
    let completions = dir.join("completions");
    std::fs::create_dir_all(&man)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        std::fs::create_dir_all(completions.join(shell.to_string()))?;
    }
    let daemon = smtp32d::cli::Cli::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(daemon.clone())
        .section("8")
        .render(&mut page)?;
    std::fs::write(man.join("smtp32d.8"), page)?;
    let ctl = smtp32_tools::ctl_cli::Cli::command();
    clap_mangen::generate_to(ctl.clone(), &man)?;
    for mut command in [daemon, ctl] {
        let name = command.get_name().to_string();
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let file = match shell {
                Shell::Zsh => format!("_{name}"),
                Shell::Fish => format!("{name}.fish"),
                _ => name.clone(),
            };
            let mut out = std::fs::File::create(completions.join(shell.to_string()).join(file))?;
            clap_complete::generate(shell, &mut command, name.clone(), &mut out);
        }
    }
    std::fs::write(man.join("smtp32-sendmail.8"), SENDMAIL_PAGE)
}
