//! W4 (NOOP round trips: through the daemon, direct, through the relay, and
//! a bare Unix-socket ping-pong, blocking and epoll-driven) and W6 (NOOPs
//! while 10,000 connections are open from 100 processes).
//!
//! Each sample is one sequential round trip; every round starts with a
//! warm-up that is not timed. Per round the p50 and p99 are taken; the
//! table shows the median of those over rounds.

use crate::procs::Sink;
use crate::relay::{self, Relay};
use crate::report::{Role, Row, Unit};
use crate::stats::p50_p99;
use crate::via_daemon;
use crate::worker::Worker;
use crate::{raw::Raw, Ctx};
use anyhow::{Context, Result};
use smtp32::Client;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
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

/// An echo worker (epoll-driven with `epoll`) on a socket of its own, and
/// the bench's end of it.
fn echo_worker(ctx: &Ctx, epoll: bool) -> Result<(Worker, UnixStream)> {
    let path = ctx.dir.join(if epoll {
        "pingpong-epoll.sock"
    } else {
        "pingpong.sock"
    });
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    let mut args = vec!["echo".to_string(), path.display().to_string()];
    if epoll {
        args.push("--epoll".into());
    }
    let echo = Worker::spawn(&args)?;
    let (unix, _) = listener.accept()?;
    Ok((echo, unix))
}

/// One 64-byte round trip on `unix`.
fn ping_pong(unix: &mut UnixStream) -> Result<Duration> {
    let mut buf = [7u8; 64];
    let start = Instant::now();
    unix.write_all(&buf)?;
    unix.read_exact(&mut buf)?;
    Ok(start.elapsed())
}

/// Closes the bench's end of an echo worker's socket and waits for it.
fn end_echo((mut echo, unix): (Worker, UnixStream)) {
    drop(unix);
    echo.line().ok(); // the echo worker exits when its socket closes
    let _ = echo.finish();
}

/// W4: NOOP through the daemon, straight to the sink and through the
/// relay; 64-byte Unix ping-pong with a blocking and an epoll-driven echo.
pub fn w4(ctx: &Ctx) -> Result<Vec<Row>> {
    let n = ctx.size.w4_samples;
    let mut blocking = echo_worker(ctx, false)?;
    let mut epoll = echo_worker(ctx, true)?;
    let client = Client::connect(ctx.daemon.socket())?;
    let conn = via_daemon::open(&client, &ctx.sink_host)?;
    let mut direct = Raw::connect(ctx.sink.addr())?;
    let relay = Relay::start(
        &ctx.dir.join("relay-w4.sock"),
        &[ctx.sink.addr()],
        relay::SMALL_READS,
    )?;
    let mut relayed = relay.connect()?;
    let (mut u, mut d, mut s, mut p) = (vec![], vec![], vec![], vec![]);
    let (mut ue, mut r) = (vec![], vec![]);
    for round in 0..ctx.rounds {
        ctx.progress(&format!("W4 round {}/{}", round + 1, ctx.rounds));
        u.push(sample(n, || ping_pong(&mut blocking.1))?);
        ue.push(sample(n, || ping_pong(&mut epoll.1))?);
        d.push(sample(n, || direct.noop())?);
        r.push(sample(n, || relayed.noop())?);
        s.push(sample(n, || {
            let start = Instant::now();
            conn.noop()?;
            Ok(start.elapsed())
        })?);
        p.push(sample(n, || Ok(client.ping(&[7u8; 16])?))?);
    }
    end_echo(blocking);
    end_echo(epoll);
    direct.quit();
    relayed.quit();
    relay.finish()?;
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
        "w4.relay",
        "floor: NOOP through a relay process (raw client, Unix socket to TCP)",
        Role::Other,
        &r,
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
        "w4.unix_epoll",
        "the same ping-pong, the echo waiting in epoll (tokio) as a daemon does",
        Role::Other,
        &ue,
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
/// the daemon. As many again send them through the relay (the floor of a
/// daemon, [`crate::relay`]; two processes, half the workers each: see
/// [`W6_RELAYS`]) to sinks of their own: the same bursts through the least
/// any daemon adds.
pub fn w6(ctx: &Ctx) -> Result<Vec<Row>> {
    let (procs, conns, noops) = (ctx.size.w6_procs, ctx.size.w6_conns, ctx.size.w6_noops);
    let interval_us = ctx.size.w6_interval_us;
    ctx.progress(&format!(
        "W6 starting {} smtp-sink processes (two thirds of them for the floors' workers)",
        3 * ctx.size.w6_sinks
    ));
    let start_sinks = || {
        (0..ctx.size.w6_sinks)
            .map(|_| Sink::start(&ctx.sink_program, procs * conns / ctx.size.w6_sinks + 100))
            .collect::<Result<Vec<_>>>()
    };
    let (sinks, direct_sinks, relay_sinks) = (start_sinks()?, start_sinks()?, start_sinks()?);
    let relay_to = relay_sinks.iter().map(Sink::addr).collect::<Vec<_>>();
    let relays = (0..W6_RELAYS)
        .map(|i| {
            Relay::start_on(
                &ctx.dir.join(format!("relay-w6-{i}.sock")),
                &relay_to,
                relay::Serve::Copy(relay::SMALL_READS),
                (relay::default_threads() / W6_RELAYS).max(1),
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let args = |i: usize, how: Holder| {
        let (socket, host) = match how {
            Holder::Daemon => (
                Some(ctx.daemon.socket()),
                sinks[i % sinks.len()].addr().to_string(),
            ),
            Holder::Direct => (
                None,
                direct_sinks[i % direct_sinks.len()].addr().to_string(),
            ),
            // The relay picks the sink.
            Holder::Relay => (Some(relays[i % W6_RELAYS].path()), String::from("-")),
        };
        let mut args = vec!["hold".to_string()];
        if let Some(socket) = socket {
            args.extend(["--socket".into(), socket.display().to_string()]);
        }
        args.extend([
            "--host".into(),
            host,
            "--conns".into(),
            conns.to_string(),
            "--noops".into(),
            noops.to_string(),
            "--interval-us".into(),
            interval_us.to_string(),
        ]);
        match how {
            Holder::Daemon => {}
            Holder::Direct => args.push("--direct".into()),
            Holder::Relay => args.push("--relay".into()),
        }
        args
    };
    ctx.progress(&format!(
        "W6 opening {} connections from {procs} processes (and as many for each floor)",
        procs * conns
    ));
    let opening = Instant::now();
    let mut workers = spawn_holders(procs, |i| args(i, Holder::Daemon))?;
    let open_secs = opening.elapsed().as_secs_f64();
    let mut direct_workers = spawn_holders(procs, |i| args(i, Holder::Direct))?;
    let mut relay_workers = spawn_holders(procs, |i| args(i, Holder::Relay))?;
    let client = Client::connect(ctx.daemon.socket())?;
    let conn = via_daemon::open(&client, &ctx.sink_host)?;
    let (mut idle, mut load, mut paced_direct, mut load_direct) = (vec![], vec![], vec![], vec![]);
    let mut load_relay = vec![];
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
        for w in &mut relay_workers {
            w.go()?;
        }
        load_relay.push(burst_latencies(&mut relay_workers, noops)?);
    }
    direct.quit();
    conn.quit()?;
    for w in workers
        .into_iter()
        .chain(direct_workers)
        .chain(relay_workers)
    {
        w.finish()?;
    }
    for relay in relays {
        relay.finish()?;
    }
    drop((sinks, direct_sinks, relay_sinks));
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
        "floor: the same {procs} processes send the same NOOPs through a relay (two processes of one thread, half the connections each) to sinks as busy (the same bursts)"
    );
    rows.extend(pair(
        "W6",
        "w6.load_relay",
        &label,
        Role::Other,
        &load_relay,
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

/// Relay processes for W6's floor: a relay holds two descriptors a
/// connection, and where the hard limit is 20,000 (as here, where even root
/// may not raise it) one cannot hold 10,000 connections. They share the
/// CPUs' threads between them (one each on 2 CPUs), so that together they
/// have as many as the daemon.
const W6_RELAYS: usize = 2;

/// How a `hold` worker reaches its sinks.
#[derive(Clone, Copy)]
enum Holder {
    /// Through the daemon.
    Daemon,
    /// Direct on TCP.
    Direct,
    /// Through the relay.
    Relay,
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
