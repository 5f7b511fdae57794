//! `smtp32-bench`: smtp32 through `smtp32d` side by side with direct SMTP
//! clients, on one Postfix `smtp-sink` that the bench starts itself.
//!
//! Not a test and not run in CI (CI only builds it). One run starts the
//! sink and a daemon on a private socket, runs the selected workloads with
//! every path interleaved within each round, prints a markdown table (with
//! ratios against `smtp-source` and the direct raw client, and the targets
//! of issue 11) and writes it to `bench/results/latest.md`.
//!
//! Layout:
//! - `procs.rs`: sink, daemon, pinning, fd limit, child processes.
//! - `raw.rs`: the direct raw client (the floor) and the bench message.
//! - `relay.rs`: the relay process, the floor of a daemon (W1–W4, W6, W7).
//! - `via_daemon.rs`: the smtp32 send paths.
//! - `async_row.rs`: the async client's `sendmsg` (W1).
//! - `lettre_row.rs`, `source.rs`: lettre and Postfix `smtp-source`.
//! - `throughput.rs` (W1–W3), `latency.rs` (W4, W6), `memory.rs` (W5).
//! - `worker.rs`: the bench re-executed as a worker process.
//! - `report.rs`, `stats.rs`: rows, table, targets; medians and percentiles.

mod async_row;
mod latency;
mod least;
mod lettre_row;
mod memory;
mod procs;
mod raw;
mod relay;
mod report;
mod source;
mod stats;
mod throughput;
mod via_daemon;
mod worker;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use procs::{Daemon, Sink};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Benchmark smtp32 (through smtp32d) against direct SMTP clients on one
/// Postfix smtp-sink. Workloads: W1 one connection, 5,000 messages of 1 KiB
/// (20,000 for the one-call sends and the least daemon);
/// W2 50 connections from 5 processes, 20,000 messages; W3 one 100 MiB
/// message in 1 MiB data_buf calls; W4 NOOP round trip (daemon, direct TCP,
/// Unix ping-pong); W5 daemon RSS per idle connection with 10,000 open; W6
/// NOOP latency with 10,000 connections open from 100 processes; W7 one 50 MiB
/// message through sendmsg (throughput, and the daemon's peak RSS growth).
/// Every workload but W5 also runs the raw client through a relay process
/// (an epoll-driven copier between a Unix socket and TCP): the floor of any
/// daemon in between.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Cli {
    /// Pin the bench, the sink, the daemon and every worker to this CPU.
    #[arg(long, value_name = "CPU")]
    pin: Option<usize>,
    /// A short smoke run: fewer rounds, messages and connections.
    #[arg(long)]
    quick: bool,
    /// Rounds per workload (medians are over rounds; default 5, 2 with --quick).
    #[arg(long)]
    rounds: Option<usize>,
    /// Only these workloads, e.g. `--only w1,w4`.
    #[arg(long, value_delimiter = ',', value_name = "W")]
    only: Vec<String>,
    /// The smtp32d binary. Default: `cargo build --release -p smtp32d`, then target/release/smtp32d.
    #[arg(long, value_name = "PATH")]
    daemon: Option<PathBuf>,
    /// Where to write the markdown table.
    #[arg(long, value_name = "FILE", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results/latest.md"))]
    out: PathBuf,
    /// Also run lettre without TCP_NODELAY (100 messages; ~40 ms each).
    #[arg(long)]
    lettre_plain: bool,
    /// W6: worker processes (the connections are shared among them).
    #[arg(long, value_name = "N")]
    w6_procs: Option<usize>,
    /// W6: milliseconds between two NOOPs of one worker under load.
    #[arg(long, value_name = "MS")]
    w6_interval_ms: Option<u64>,
    #[command(subcommand)]
    worker: Option<WorkerCmd>,
}

#[derive(Subcommand, Debug)]
enum WorkerCmd {
    /// Internal: the bench re-executed as a worker process.
    #[command(hide = true)]
    Worker {
        #[command(subcommand)]
        job: worker::Job,
    },
}

/// Sizes of one run.
#[derive(Debug, Clone)]
pub struct Size {
    w1_msgs: usize,
    /// W1's one-call sends and their floors (the least daemon): four times
    /// as many, so each measures about as long as the paths of a round
    /// trip a command do (5,000 one-call sends took 0.13–0.4 s, short
    /// enough for a VM's hiccups to move a ratio by a tenth).
    w1_one_call_msgs: usize,
    w2_msgs: usize,
    w2_conns: usize,
    w2_procs: usize,
    w3_mib: usize,
    w7_mib: usize,
    w4_samples: usize,
    w5_conns: usize,
    w6_procs: usize,
    w6_conns: usize,
    w6_noops: usize,
    w6_interval_us: u64,
    w6_sinks: usize,
    w5_sinks: usize,
}

impl Size {
    fn full() -> Size {
        Size {
            w1_msgs: 5_000,
            w1_one_call_msgs: 20_000,
            w2_msgs: 20_000,
            w2_conns: 50,
            w2_procs: 5,
            w3_mib: 100,
            w7_mib: 50,
            w4_samples: 20_000,
            w5_conns: 10_000,
            w6_procs: 100,
            w6_conns: 100,
            w6_noops: 100,
            w6_interval_us: 50_000,
            w6_sinks: 50,
            w5_sinks: 8,
        }
    }

    fn quick() -> Size {
        Size {
            w1_msgs: 500,
            w1_one_call_msgs: 2_000,
            w2_msgs: 2_000,
            w2_conns: 10,
            w2_procs: 2,
            w3_mib: 10,
            w7_mib: 10,
            w4_samples: 2_000,
            w5_conns: 1_000,
            w6_procs: 10,
            w6_conns: 100,
            w6_noops: 50,
            w6_interval_us: 50_000,
            w6_sinks: 2,
            w5_sinks: 2,
        }
    }
}

/// What every workload needs.
pub struct Ctx {
    sink: Sink,
    sink_host: String,
    daemon: Daemon,
    daemon_binary: PathBuf,
    smtp_source: PathBuf,
    sink_program: PathBuf,
    dir: PathBuf,
    rounds: usize,
    size: Size,
    lettre_plain: bool,
    started: Instant,
}

impl Ctx {
    fn progress(&self, what: &str) {
        eprintln!("[{:>6.1} s] {what}", self.started.elapsed().as_secs_f64());
    }
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.worker {
        Some(WorkerCmd::Worker { job }) => worker::run(job),
        None => bench(cli),
    };
    if let Err(e) = result {
        eprintln!("smtp32-bench: {e:#}");
        std::process::exit(1);
    }
}

fn bench(cli: Cli) -> Result<()> {
    let nofile = procs::raise_nofile();
    if let Some(cpu) = cli.pin {
        procs::pin_to(cpu)?;
    }
    let mut size = if cli.quick {
        Size::quick()
    } else {
        Size::full()
    };
    if let Some(procs) = cli.w6_procs.filter(|&p| p > 0) {
        let total = size.w6_procs * size.w6_conns;
        size.w6_conns = total.div_ceil(procs);
        size.w6_procs = procs;
        size.w6_sinks = size.w6_sinks.min(procs);
    }
    if let Some(ms) = cli.w6_interval_ms.filter(|&m| m > 0) {
        size.w6_interval_us = ms * 1000;
    }
    let rounds = cli.rounds.unwrap_or(if cli.quick { 2 } else { 5 }).max(1);
    let wanted =
        |w: &str| cli.only.is_empty() || cli.only.iter().any(|o| o.eq_ignore_ascii_case(w));
    if (wanted("w5") && size.w5_conns > 1000 || wanted("w6"))
        && (nofile as usize) < size.w5_conns.max(size.w6_procs * size.w6_conns) + 1000
    {
        bail!("the fd limit is {nofile}; W5/W6 need more (run as root, or raise the hard limit)");
    }
    let daemon_binary = match cli.daemon {
        Some(p) => p,
        None => build_daemon()?,
    };
    let smtp_source = required("/usr/sbin/smtp-source")?;
    let sink_program = required("/usr/sbin/smtp-sink")?;
    let tmp = tempfile::Builder::new().prefix("smtp32-bench-").tempdir()?;
    let max_conns = size.w5_conns.max(size.w6_procs * size.w6_conns) + 1000;
    let sink = Sink::start(&sink_program, 1000)?;
    let daemon = Daemon::start(&daemon_binary, tmp.path(), max_conns)?;
    let ctx = Ctx {
        sink_host: sink.addr().to_string(),
        sink,
        daemon,
        daemon_binary,
        smtp_source,
        sink_program,
        dir: tmp.path().to_path_buf(),
        rounds,
        size,
        lettre_plain: cli.lettre_plain,
        started: Instant::now(),
    };
    let load_before = load_average();
    let mut rows = Vec::new();
    type Workload = fn(&Ctx) -> Result<Vec<report::Row>>;
    let workloads: [(&str, Workload); 7] = [
        ("w1", throughput::w1),
        ("w2", throughput::w2),
        ("w3", throughput::w3),
        ("w4", latency::w4),
        ("w5", memory::w5),
        ("w6", latency::w6),
        ("w7", throughput::w7),
    ];
    for (name, run) in workloads {
        if wanted(name) {
            rows.extend(run(&ctx).with_context(|| format!("workload {}", name.to_uppercase()))?);
        }
    }
    let text = render(&ctx, &cli.pin, &rows, &load_before, cli.quick);
    print!("{text}");
    if let Some(parent) = cli.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::File::create(&cli.out)?.write_all(text.as_bytes())?;
    eprintln!("written to {}", cli.out.display());
    Ok(())
}

fn render(
    ctx: &Ctx,
    pin: &Option<usize>,
    rows: &[report::Row],
    load_before: &str,
    quick: bool,
) -> String {
    let mut text = String::new();
    text.push_str(&format!(
        "Run {} ({:.0} s{}), {} rounds per workload, {}.\n",
        utc_now(),
        ctx.started.elapsed().as_secs_f64(),
        if quick { ", --quick" } else { "" },
        ctx.rounds,
        match pin {
            Some(cpu) => format!("everything pinned to CPU {cpu}"),
            None => "not pinned".into(),
        }
    ));
    text.push_str(&format!(
        "Machine: {} CPUs, {}; load average before {load_before}, after {}.\n\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        cpu_model(),
        load_average()
    ));
    text.push_str(&report::table(rows));
    text.push_str("\nTargets (issue 11, with those of issue 7 it keeps):\n\n");
    text.push_str(&report::targets(rows));
    text
}

fn required(path: &str) -> Result<PathBuf> {
    let p = PathBuf::from(path);
    if !p.exists() {
        bail!("{path} is missing: apt-get install postfix (tests/run-all.sh --deps does it)");
    }
    Ok(p)
}

/// Builds the daemon's release binary (a no-op when it is up to date) and returns its path.
fn build_daemon() -> Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace root")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "smtp32d",
            "--bin",
            "smtp32d",
        ])
        .current_dir(root)
        .status()
        .context("cannot run cargo to build smtp32d (or pass --daemon PATH)")?;
    if !status.success() {
        bail!("cargo build -p smtp32d failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(target.join("release/smtp32d"))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn utc_now() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output();
    out.ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
