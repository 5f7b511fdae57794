//! `smtp32-netbench`: one message per new process over a slow link, as cron jobs and PHP
//! requests send mail. A delay proxy adds a fixed round-trip time (default 20 ms) in front of
//! the Exim test fixture (STARTTLS, AUTH PLAIN); every client sends the same 2 KiB message
//! through it, and the wall time from process start to exit is measured, in milliseconds and
//! in round trips: msmtp, Python smtplib, swaks, `smtp32-sendmail` and a C program through
//! `smtp_helo`/`smtp_auth`/`smtp_sendmsg`/`smtp_quit`, each through a daemon with the
//! connection cache off (cold) and on (warm). Then N processes at once, one message each.
//!
//! Not run in CI. It uses the binaries of its own build profile (`cargo build -p smtp32d -p
//! smtp32 -p smtp32-tools -p smtp32-bench`, then `target/<profile>/smtp32-netbench`), Exim as
//! the tests install it (`tests/run-all.sh --deps`), and msmtp and swaks from Debian. The table
//! goes to stdout and to `bench/results/netlat.md`.

mod clients;
mod delay;

use anyhow::{bail, Context, Result};
use clap::Parser;
use clients::{Client, Target};
use smtp32_tests::daemon::DaemonOptions;
use smtp32_tests::paths::built;
use smtp32_tests::peers::exim::{Exim, EximOptions};
use smtp32_tests::TestDaemon;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// One message per process over a link with a fixed round-trip time, STARTTLS and AUTH:
/// msmtp, Python smtplib, swaks, smtp32-sendmail and a C program (cache cold and warm).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Round-trip time the delay proxy adds, in milliseconds.
    #[arg(long, default_value_t = 20)]
    rtt_ms: u64,
    /// Sequential runs per client (after one unmeasured run).
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Processes started at once in the parallel round.
    #[arg(long, default_value_t = 100)]
    parallel: usize,
    /// Where to write the markdown table.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results/netlat.md"))]
    out: PathBuf,
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("smtp32-netbench: {e:#}");
        std::process::exit(1);
    }
}

/// A 2 KiB message with headers.
fn message() -> Vec<u8> {
    let mut m =
        b"From: bench@client.test\r\nTo: alice@example.test\r\nSubject: netbench\r\n\r\n".to_vec();
    while m.len() < 2048 {
        m.extend_from_slice(b"The quick brown fox jumps over the lazy dog, again and again.\r\n");
    }
    m
}

fn run(cli: Cli) -> Result<()> {
    let rtt = Duration::from_millis(cli.rtt_ms);
    let dir = tempfile::Builder::new()
        .prefix("smtp32-netbench-")
        .tempdir()?;
    let exim = Exim::start_with(EximOptions {
        extra_main: vec![
            "smtp_accept_max = 1000".into(),
            "tls_resumption_hosts = *".into(),
        ],
        ..EximOptions::default()
    })
    .map_err(|e| anyhow::anyhow!("the Exim fixture: {e}"))?;
    let port = delay::start(exim.smtp_addr(), rtt)?;
    let target = Target {
        host: exim.tls_name().to_string(),
        port,
        ca: exim.ca_cert_path().to_path_buf(),
        user: exim.user().to_string(),
        password: exim.password().to_string(),
        from: "bench@client.test".into(),
        to: exim.address("alice"),
        message: dir.path().join("message.eml"),
        msmtp_conf: dir.path().join("msmtprc"),
    };
    std::fs::write(&target.message, message())?;
    std::fs::write(&target.msmtp_conf, clients::msmtp_config(&target))?;
    let mut perms = std::fs::metadata(&target.msmtp_conf)?.permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
    std::fs::set_permissions(&target.msmtp_conf, perms)?;
    let c_program = compile_c(dir.path())?;
    let sendmail = built("smtp32-sendmail");
    let config = |cache: &str| {
        format!(
            "[tls]\nca_files = [{:?}]\n[relay]\nhost = \"smtp://{}:{}?tls=required\"\nuser = {:?}\n\
             password = {:?}\n[cache]\n{cache}",
            target.ca.display().to_string(),
            target.host,
            port,
            target.user,
            target.password
        )
    };
    let cold =
        TestDaemon::start_with(DaemonOptions::default().config(&config("idle_seconds = 0\n")));
    let warm_cache = "idle_seconds = 60\nmax_idle = 1000\nmax_idle_per_destination = 1000\n";
    let warm = TestDaemon::start_with(DaemonOptions::default().config(&config(warm_cache)));

    let rows: Vec<(&str, Client)> = vec![
        ("msmtp", Client::Msmtp),
        ("Python smtplib", Client::Python),
        ("swaks", Client::Swaks),
        (
            "smtp32-sendmail, cache cold",
            Client::Sendmail {
                binary: &sendmail,
                socket: cold.socket_path(),
            },
        ),
        (
            "smtp32-sendmail, cache warm",
            Client::Sendmail {
                binary: &sendmail,
                socket: warm.socket_path(),
            },
        ),
        (
            "C program, cache cold",
            Client::CProgram {
                binary: &c_program,
                socket: cold.socket_path(),
            },
        ),
        (
            "C program, cache warm",
            Client::CProgram {
                binary: &c_program,
                socket: warm.socket_path(),
            },
        ),
    ];
    let started = chrono_free_now();
    let mut table = format!(
        "## One message per process over a {} ms link (STARTTLS + AUTH PLAIN, Exim)\n\n\
         Run {started}; {} runs per client after one unmeasured run; message 2 KiB; wall time \
         from process start to exit. Debug build of the daemon unless noted.\n\n\
         | client | median ms | min ms | max ms | median round trips |\n|---|---|---|---|---|\n",
        cli.rtt_ms, cli.runs
    );
    for (name, client) in &rows {
        eprintln!("{name} ...");
        one_run(client, &target).with_context(|| format!("{name}: the unmeasured run"))?;
        let mut times = Vec::with_capacity(cli.runs);
        for _ in 0..cli.runs {
            times.push(one_run(client, &target).with_context(|| name.to_string())?);
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let median = times[times.len() / 2];
        let _ = writeln!(
            table,
            "| {name} | {:.1} | {:.1} | {:.1} | {:.2} |",
            ms(median),
            ms(times[0]),
            ms(times[times.len() - 1]),
            ms(median) / cli.rtt_ms as f64
        );
    }
    let _ = write!(
        table,
        "\n## {} processes at once, one message each, twice\n\n\
         The first burst finds at most one warm session; the second finds those the first \
         parked (`max_idle_per_destination = 1000` here; the default is 10).\n\n\
         | client | first burst ms | second burst ms | failed |\n|---|---|---|---|\n",
        cli.parallel
    );
    for (name, client) in rows
        .iter()
        .filter(|(n, _)| !n.contains("cold") && !n.contains("swaks"))
    {
        eprintln!("{name}, {} at once, twice ...", cli.parallel);
        let (first, failed_first) = parallel(client, &target, cli.parallel)?;
        let (second, failed_second) = parallel(client, &target, cli.parallel)?;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let failed = failed_first + failed_second;
        let _ = writeln!(
            table,
            "| {name} | {:.1} | {:.1} | {failed} |",
            ms(first),
            ms(second)
        );
    }
    println!("{table}");
    if let Some(parent) = cli.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&cli.out, &table).with_context(|| format!("write {}", cli.out.display()))?;
    Ok(())
}

/// Runs `client` once; its wall time, or why it failed.
fn one_run(client: &Client, target: &Target) -> Result<Duration> {
    let started = Instant::now();
    let out = client
        .command(target)
        .output()
        .context("start the client")?;
    let took = started.elapsed();
    if !out.status.success() {
        bail!(
            "exit {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(took)
}

/// Starts `n` processes of `client` at once; the time until the last exits, and how many failed.
fn parallel(client: &Client, target: &Target, n: usize) -> Result<(Duration, usize)> {
    let started = Instant::now();
    let children: Vec<_> = (0..n)
        .map(|_| client.command(target).spawn())
        .collect::<Result<_, _>>()?;
    let mut failed = 0;
    for child in children {
        if !child
            .wait_with_output()
            .map(|o| o.status.success())
            .unwrap_or(false)
        {
            failed += 1;
        }
    }
    Ok((started.elapsed(), failed))
}

/// Compiles `bench/c/netlat_send.c` against the built `libsmtp32.so`.
fn compile_c(dir: &Path) -> Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let so = built("libsmtp32.so");
    let libdir = so.parent().context("the library's folder")?;
    let exe = dir.join("netlat_send");
    let status = Command::new("cc")
        .args(["-O2", "-I"])
        .arg(root.join("client/include"))
        .arg(root.join("bench/c/netlat_send.c"))
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(libdir)
        .arg("-lsmtp32")
        .arg(format!("-Wl,-rpath,{}", libdir.display()))
        .status()
        .context("run cc")?;
    if !status.success() {
        bail!("cc failed: {status}");
    }
    Ok(exe)
}

/// The time of the run for the table, from `date` (no date crate needed for one line).
fn chrono_free_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
