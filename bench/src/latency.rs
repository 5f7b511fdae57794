//! W4 (NOOP round trips: through the daemon, direct, and a bare Unix-socket
//! ping-pong) and W6 (NOOPs while 10,000 connections are open from 100
//! processes).
//!
//! Each sample is one sequential round trip; every round starts with a
//! warm-up that is not timed. Per round the p50 and p99 are taken; the
//! table shows the median of those over rounds.

use crate::procs::Sink;
use crate::report::{Role, Row, Unit};
use crate::stats::p50_p99;
use crate::via_daemon;
use crate::worker::Worker;
use crate::{raw::Raw, Ctx};
use anyhow::{Context, Result};
use smtp32::Client;
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

const WARM_UP: usize = 2_000;

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Warm-up, then `n` timed calls of `f`; (p50, p99) in µs.
fn sample(n: usize, mut f: impl FnMut() -> Result<Duration>) -> Result<(f64, f64)> {
    for _ in 0..WARM_UP.min(n) {
        f()?;
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(micros(f()?));
    }
    Ok(p50_p99(&mut v))
}

/// Rows `KEY.p50` and `KEY.p99` from per-round pairs.
fn pair(w: &'static str, key: &str, label: &str, role: Role, pairs: &[(f64, f64)]) -> [Row; 2] {
    [
        Row::new(
            w,
            &format!("{key}.p50"),
            &format!("{label}, p50"),
            Unit::Micros,
            role,
            pairs.iter().map(|p| p.0).collect(),
        ),
        Row::new(
            w,
            &format!("{key}.p99"),
            &format!("{label}, p99"),
            Unit::Micros,
            role,
            pairs.iter().map(|p| p.1).collect(),
        ),
    ]
}

/// W4: NOOP through the daemon, NOOP straight to the sink, 64-byte Unix ping-pong.
pub fn w4(ctx: &Ctx) -> Result<Vec<Row>> {
    let n = ctx.size.w4_samples;
    let path = ctx.dir.join("pingpong.sock");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    let mut echo = Worker::spawn(&["echo".into(), path.display().to_string()])?;
    let (mut unix, _) = listener.accept()?;
    let client = Client::connect(ctx.daemon.socket())?;
    let conn = via_daemon::open(&client, &ctx.sink_host)?;
    let mut direct = Raw::connect(ctx.sink.addr())?;
    let (mut u, mut d, mut s, mut p) = (vec![], vec![], vec![], vec![]);
    let mut buf = [7u8; 64];
    for round in 0..ctx.rounds {
        ctx.progress(&format!("W4 round {}/{}", round + 1, ctx.rounds));
        u.push(sample(n, || {
            let start = Instant::now();
            unix.write_all(&buf)?;
            unix.read_exact(&mut buf)?;
            Ok(start.elapsed())
        })?);
        d.push(sample(n, || direct.noop())?);
        s.push(sample(n, || {
            let start = Instant::now();
            conn.noop()?;
            Ok(start.elapsed())
        })?);
        p.push(sample(n, || Ok(client.ping(&[7u8; 16])?))?);
    }
    drop(unix);
    echo.line().ok(); // the echo worker exits when its socket closes
    let _ = echo.finish();
    direct.quit();
    conn.quit()?;
    let mut rows = Vec::new();
    rows.extend(pair(
        "W4",
        "w4.daemon",
        "NOOP through smtp32d",
        Role::Other,
        &s,
    ));
    rows.extend(pair(
        "W4",
        "w4.direct",
        "NOOP direct on TCP (raw client)",
        Role::Raw,
        &d,
    ));
    rows.extend(pair(
        "W4",
        "w4.unix",
        "64-byte Unix-socket ping-pong, two processes",
        Role::Other,
        &u,
    ));
    rows.extend(pair(
        "W4",
        "w4.ping",
        "smtp32 ping through smtp32d (IPC only, no SMTP)",
        Role::Other,
        &p,
    ));
    Ok(rows)
}

/// W6: `w6_procs` worker processes hold `w6_conns` connections each, spread
/// over `w6_sinks` smtp-sink processes (one smtp-sink's cost per command
/// grows with its number of sessions: ~0.9 ms a NOOP with 5,000 idle ones).
/// The bench times NOOPs on a connection of its own while they sit idle;
/// then every worker sends NOOPs at a steady rate over its connections, all
/// at once, and times each, while the bench times a direct NOOP on TCP at
/// the same pace: a NOOP after a pause pays for waking sleeping threads (and
/// on a VM, idle vCPUs), which that reference shows apart from the daemon.
/// The workers start together at `go`, so their NOOPs come in bursts, one
/// from each worker every interval: the same number of workers then send the
/// same NOOPs on TCP directly, to sinks of their own as busy as the
/// daemon's (a sink's cost grows with its sessions): the same bursts without
/// the daemon, which is the floor for that load.
pub fn w6(ctx: &Ctx) -> Result<Vec<Row>> {
    let (procs, conns, noops) = (ctx.size.w6_procs, ctx.size.w6_conns, ctx.size.w6_noops);
    let interval_us = ctx.size.w6_interval_us;
    ctx.progress(&format!(
        "W6 starting {} smtp-sink processes (half of them for the floor's direct workers)",
        2 * ctx.size.w6_sinks
    ));
    let start_sinks = || {
        (0..ctx.size.w6_sinks)
            .map(|_| Sink::start(&ctx.sink_program, procs * conns / ctx.size.w6_sinks + 100))
            .collect::<Result<Vec<_>>>()
    };
    let (sinks, direct_sinks) = (start_sinks()?, start_sinks()?);
    let args = |i: usize, direct: bool| {
        let sinks = if direct { &direct_sinks } else { &sinks };
        let mut args = vec![
            "hold".to_string(),
            "--socket".into(),
            ctx.daemon.socket().display().to_string(),
            "--host".into(),
            sinks[i % sinks.len()].addr().to_string(),
            "--conns".into(),
            conns.to_string(),
            "--noops".into(),
            noops.to_string(),
            "--interval-us".into(),
            interval_us.to_string(),
        ];
        if direct {
            args.push("--direct".into());
        }
        args
    };
    ctx.progress(&format!(
        "W6 opening {} connections from {procs} processes",
        procs * conns
    ));
    let opening = Instant::now();
    let mut workers = spawn_holders(procs, |i| args(i, false))?;
    let open_secs = opening.elapsed().as_secs_f64();
    let mut direct_workers = spawn_holders(procs, |i| args(i, true))?;
    let client = Client::connect(ctx.daemon.socket())?;
    let conn = via_daemon::open(&client, &ctx.sink_host)?;
    let (mut idle, mut load, mut paced_direct, mut load_direct) = (vec![], vec![], vec![], vec![]);
    // The reference talks to a sink as busy as the workers' ones.
    let mut direct = Raw::connect(sinks[0].addr())?;
    for round in 0..ctx.rounds {
        ctx.progress(&format!("W6 round {}/{}", round + 1, ctx.rounds));
        idle.push(sample(ctx.size.w4_samples, || {
            let start = Instant::now();
            conn.noop()?;
            Ok(start.elapsed())
        })?);
        for w in &mut workers {
            w.go()?;
        }
        let mut reference = std::thread::scope(|s| {
            let paced = s.spawn(|| -> Result<Vec<f64>> {
                let interval = Duration::from_micros(interval_us);
                let mut due = Instant::now();
                let mut lat = Vec::with_capacity(noops);
                for _ in 0..noops {
                    due += interval;
                    lat.push(micros(direct.noop()?));
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
                Ok(lat)
            });
            load.push(burst_latencies(&mut workers, noops)?);
            paced
                .join()
                .map_err(|_| anyhow::anyhow!("paced NOOP thread panicked"))?
        })?;
        paced_direct.push(p50_p99(&mut reference));
        for w in &mut direct_workers {
            w.go()?;
        }
        load_direct.push(burst_latencies(&mut direct_workers, noops)?);
    }
    direct.quit();
    conn.quit()?;
    for w in workers.into_iter().chain(direct_workers) {
        w.finish()?;
    }
    drop((sinks, direct_sinks));
    let total = procs * conns;
    let rate = procs as f64 * 1e6 / interval_us as f64;
    let mut rows = Vec::new();
    let label = format!("NOOP, one prober, {total} idle connections open");
    rows.extend(pair("W6", "w6.idle", &label, Role::Other, &idle));
    let label = format!(
        "NOOP while {procs} processes send {rate:.0} NOOP/s over their {total} connections"
    );
    let [p50, p99] = pair("W6", "w6.load", &label, Role::Other, &load);
    rows.push(p50);
    rows.push(p99.note(format!(
        "{total} connections to {} smtp-sinks, opened in {open_secs:.1} s",
        ctx.size.w6_sinks
    )));
    let label = format!(
        "floor: the same {procs} processes send the same NOOPs direct on TCP to sinks as busy (the same bursts)"
    );
    rows.extend(pair(
        "W6",
        "w6.load_direct",
        &label,
        Role::Other,
        &load_direct,
    ));
    let label = format!(
        "reference: NOOP direct on TCP to a W6 sink, one every {} ms, during the same load",
        interval_us / 1000
    );
    rows.extend(pair(
        "W6",
        "w6.paced_direct",
        &label,
        Role::Other,
        &paced_direct,
    ));
    Ok(rows)
}

/// Starts `procs` `hold` workers with `args(i)` and waits until each has
/// opened its connections.
fn spawn_holders(procs: usize, args: impl Fn(usize) -> Vec<String>) -> Result<Vec<Worker>> {
    let mut workers = (0..procs)
        .map(|i| Worker::spawn(&args(i)))
        .collect::<Result<Vec<_>>>()?;
    for w in &mut workers {
        w.ready()
            .context("W6 worker did not open its connections")?;
    }
    Ok(workers)
}

/// Reads every worker's latencies of the round just started: their p50 and p99.
fn burst_latencies(workers: &mut [Worker], noops: usize) -> Result<(f64, f64)> {
    let mut all = Vec::with_capacity(workers.len() * noops);
    for w in workers {
        let line = w.line()?;
        let values = line
            .strip_prefix("lat ")
            .context("W6 worker sent no latencies")?;
        for v in values.split_whitespace() {
            all.push(v.parse::<f64>()?);
        }
    }
    Ok(p50_p99(&mut all))
}
