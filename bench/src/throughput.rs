//! W1 (one connection, many 1 KiB messages), W2 (50 connections from
//! several processes), W3 (one 100 MiB message) and W7 (one 50 MiB message
//! through `sendmsg`).
//!
//! Within a round every path runs once, one after the other, so a change in
//! the machine's load touches all of them alike; the table shows the median
//! over rounds and the range.

use crate::least::Least;
use crate::relay::{self, Relay};
use crate::report::{Role, Row, Unit};
use crate::via_daemon::{self, Path};
use crate::worker::Worker;
use crate::{async_row, lettre_row, procs, raw, source, Ctx};
use anyhow::Result;
use raw::Raw;
use smtp32::Client;
use std::sync::Barrier;
use std::time::{Duration, Instant};

const W1_SIZE: usize = 1024;
/// Messages lettre sends without TCP_NODELAY (each waits ~40 ms for a delayed ACK).
const LETTRE_PLAIN_MSGS: usize = 100;

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// W1: one connection, `ctx.w1_msgs` messages of 1 KiB, every path; the
/// one-call sends and the least daemon `ctx.w1_one_call_msgs`.
pub fn w1(ctx: &Ctx) -> Result<Vec<Row>> {
    let n = ctx.size.w1_msgs;
    let one_call = ctx.size.w1_one_call_msgs;
    let msg = raw::message(W1_SIZE);
    let client = Client::connect(ctx.daemon.socket())?;
    let addr = ctx.sink.addr();
    let paths = [Path::PerCall, Path::SendMsg, Path::Batch];
    let (mut src, mut pipe, mut batch, mut lettre, mut lettre_plain) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut asynchronous = vec![];
    let mut ours: Vec<Vec<f64>> = vec![vec![]; paths.len()];
    // The floor of a daemon for each exchange: the raw client through the relay.
    let relay = Relay::start(&ctx.dir.join("relay-w1.sock"), &[addr], relay::SMALL_READS)?;
    let mut relayed: [Vec<f64>; 3] = Default::default();
    // The floor of a one-call send: the least daemon, a request a message or a frame of them.
    let least = Relay::start_least(&ctx.dir.join("least-w1.sock"), &[addr])?;
    let (mut least_each, mut least_batched) = (vec![], vec![]);
    let mut nodelay_set = true;
    for round in 0..ctx.rounds {
        ctx.progress(&format!("W1 round {}/{}", round + 1, ctx.rounds));
        src.push(rate(n, source::run(&ctx.smtp_source, addr, 1, n, W1_SIZE)?));
        let mut r = Raw::connect(addr)?;
        pipe.push(rate(n, r.send_pipelined(&msg, n)?));
        r.quit();
        let mut r = Raw::connect(addr)?;
        batch.push(rate(n, r.send_batched(&msg, n)?));
        r.quit();
        let exchanges: [raw::Exchange; 3] =
            [Raw::send_lockstep, Raw::send_pipelined, Raw::send_batched];
        for (values, send) in relayed.iter_mut().zip(exchanges) {
            let mut r = relay.connect()?;
            values.push(rate(n, send(&mut r, &msg, n)?));
            r.quit();
        }
        let least_conn = || Least::connect(least.path());
        least_each.push(rate(one_call, least_conn()?.send_each(&msg, one_call)?));
        least_batched.push(rate(one_call, least_conn()?.send_batched(&msg, one_call)?));
        let (d, set) = lettre_row::send(addr, &msg, n, true)?;
        nodelay_set &= set;
        lettre.push(rate(n, d));
        if ctx.lettre_plain {
            let m = LETTRE_PLAIN_MSGS.min(n);
            lettre_plain.push(rate(m, lettre_row::send(addr, &msg, m, false)?.0));
        }
        for (i, path) in paths.iter().enumerate().filter(|(_, p)| p.available()) {
            let m = if *path == Path::PerCall { n } else { one_call };
            let conn = via_daemon::open(&client, &ctx.sink_host)?;
            ours[i].push(rate(m, via_daemon::send(&conn, *path, &msg, m)?));
            conn.quit()?;
        }
        asynchronous.push(rate(
            one_call,
            async_row::send(ctx.daemon.socket(), &ctx.sink_host, &msg, one_call)?,
        ));
    }
    relay.finish()?;
    least.finish()?;
    let mut rows = vec![
        Row::new(
            "W1",
            "w1.source",
            "Postfix smtp-source -s 1 -d (no pipelining)",
            Unit::MsgsPerSec,
            Role::Source,
            src,
        ),
        Row::new(
            "W1",
            "w1.raw",
            "direct raw client, batched (content + next envelope in one write)",
            Unit::MsgsPerSec,
            Role::Raw,
            batch,
        ),
        Row::new(
            "W1",
            "w1.raw_pipelined",
            "direct raw client, envelope pipelined",
            Unit::MsgsPerSec,
            Role::Other,
            pipe,
        ),
    ];
    let [lockstep, pipelined, batched] = relayed;
    for (key, how, values) in [
        (
            "w1.relay_lockstep",
            "one round trip a command, as smtp-source and per-call",
            lockstep,
        ),
        ("w1.relay_pipelined", "envelope pipelined", pipelined),
        ("w1.relay", "batched", batched),
    ] {
        rows.push(Row::new(
            "W1",
            key,
            &format!("floor: the raw client through a relay process, {how}"),
            Unit::MsgsPerSec,
            Role::Other,
            values,
        ));
    }
    for (key, how, values) in [
        ("w1.least", "one request a message, as sendmsg", least_each),
        (
            "w1.least_batched",
            "one request a frame of messages, as send_many",
            least_batched,
        ),
    ] {
        rows.push(Row::new(
            "W1",
            key,
            &format!("floor: the least daemon, {how}"),
            Unit::MsgsPerSec,
            Role::Other,
            values,
        ));
    }
    let lettre_label = if nodelay_set {
        "lettre 0.11 SmtpTransport, TCP_NODELAY set"
    } else {
        "lettre 0.11 SmtpTransport (TCP_NODELAY could not be set)"
    };
    rows.push(Row::new(
        "W1",
        "w1.lettre",
        lettre_label,
        Unit::MsgsPerSec,
        Role::Other,
        lettre,
    ));
    if ctx.lettre_plain {
        rows.push(
            Row::new(
                "W1",
                "w1.lettre_plain",
                "lettre 0.11 SmtpTransport as shipped (no TCP_NODELAY)",
                Unit::MsgsPerSec,
                Role::Other,
                lettre_plain,
            )
            .note(format!("{} messages", LETTRE_PLAIN_MSGS.min(n))),
        );
    }
    for (path, values) in paths.iter().zip(ours) {
        rows.push(daemon_row(
            "W1",
            &format!("w1.{}", key(*path)),
            path.label(),
            *path,
            values,
        ));
    }
    let label = "smtp32 async sendmsg (tokio, one thread)";
    rows.push(Row::new(
        "W1",
        "w1.async_sendmsg",
        label,
        Unit::MsgsPerSec,
        Role::Other,
        asynchronous,
    ));
    Ok(rows)
}

fn key(path: Path) -> &'static str {
    match path {
        Path::PerCall => "percall",
        Path::SendMsg => "sendmsg",
        Path::Batch => "batch",
    }
}

fn daemon_row(w: &'static str, key: &str, label: &str, path: Path, values: Vec<f64>) -> Row {
    let row = Row::new(w, key, label, Unit::MsgsPerSec, Role::Other, values);
    if path.available() {
        row
    } else {
        row.note("not in this smtp32 yet")
    }
}

/// W2: `ctx.w2_conns` connections, `ctx.w2_msgs` messages in all.
pub fn w2(ctx: &Ctx) -> Result<Vec<Row>> {
    let (conns, total, procs) = (ctx.size.w2_conns, ctx.size.w2_msgs, ctx.size.w2_procs);
    let per_conn = total / conns;
    let total = per_conn * conns;
    let addr = ctx.sink.addr();
    let paths = [Path::PerCall, Path::SendMsg, Path::Batch];
    let (mut src, mut rawv, mut relayed, mut least_each) = (vec![], vec![], vec![], vec![]);
    let mut ours: Vec<Vec<f64>> = vec![vec![]; paths.len()];
    let relay = Relay::start(&ctx.dir.join("relay-w2.sock"), &[addr], relay::SMALL_READS)?;
    let least = Relay::start_least(&ctx.dir.join("least-w2.sock"), &[addr])?;
    for round in 0..ctx.rounds {
        ctx.progress(&format!("W2 round {}/{}", round + 1, ctx.rounds));
        src.push(rate(
            total,
            source::run(&ctx.smtp_source, addr, conns, total, W1_SIZE)?,
        ));
        rawv.push(rate(
            total,
            threads(
                conns,
                per_conn,
                || Raw::connect(addr),
                quitting(Raw::send_batched),
            )?,
        ));
        relayed.push(rate(
            total,
            threads(
                conns,
                per_conn,
                || relay.connect(),
                quitting(Raw::send_pipelined),
            )?,
        ));
        least_each.push(rate(
            total,
            threads(
                conns,
                per_conn,
                || Least::connect(least.path()),
                |mut l: Least, msg: &[u8], n| l.send_each(msg, n).map(drop),
            )?,
        ));
        for (i, path) in paths.iter().enumerate().filter(|(_, p)| p.available()) {
            ours[i].push(rate(
                total,
                via_workers(ctx, *path, procs, conns / procs, per_conn)?,
            ));
        }
    }
    let mut rows = vec![
        Row::new(
            "W2",
            "w2.source",
            &format!("Postfix smtp-source -s {conns} -d"),
            Unit::MsgsPerSec,
            Role::Source,
            src,
        ),
        Row::new(
            "W2",
            "w2.raw",
            &format!("direct raw client, batched, {conns} threads"),
            Unit::MsgsPerSec,
            Role::Raw,
            rawv,
        ),
        Row::new(
            "W2",
            "w2.relay",
            &format!(
                "floor: the raw client through a relay process, envelope pipelined, {conns} threads"
            ),
            Unit::MsgsPerSec,
            Role::Other,
            relayed,
        ),
        Row::new(
            "W2",
            "w2.least",
            &format!("floor: the least daemon, one request a message, as sendmsg, {conns} threads"),
            Unit::MsgsPerSec,
            Role::Other,
            least_each,
        ),
    ];
    relay.finish()?;
    least.finish()?;
    for (path, values) in paths.iter().zip(ours) {
        let label = format!(
            "{}, {procs} processes × {} threads",
            path.label(),
            conns / procs
        );
        rows.push(daemon_row(
            "W2",
            &format!("w2.{}", key(*path)),
            &label,
            *path,
            values,
        ));
    }
    Ok(rows)
}

/// `send` as a thread's whole use of a raw connection: the exchange, then QUIT.
fn quitting(send: raw::Exchange) -> impl Fn(Raw, &[u8], usize) -> Result<()> + Sync {
    move |mut r, msg, n| {
        send(&mut r, msg, n)?;
        r.quit();
        Ok(())
    }
}

/// `conns` threads, each with a connection of its own from `connect`, send
/// `per_conn` 1 KiB messages with `send`, started together; the time from
/// the common start to the last thread's end.
fn threads<C>(
    conns: usize,
    per_conn: usize,
    connect: impl Fn() -> Result<C> + Sync,
    send: impl Fn(C, &[u8], usize) -> Result<()> + Sync,
) -> Result<Duration> {
    let msg = raw::message(W1_SIZE);
    let barrier = Barrier::new(conns + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..conns)
            .map(|_| {
                s.spawn(|| -> Result<()> {
                    let c = connect();
                    barrier.wait();
                    send(c?, &msg, per_conn)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("raw sender panicked"))??;
        }
        Ok(start.elapsed())
    })
}

/// `procs` worker processes with `threads` connections each; the time from
/// `go` to the last `done`.
fn via_workers(
    ctx: &Ctx,
    path: Path,
    procs: usize,
    threads: usize,
    per_conn: usize,
) -> Result<Duration> {
    let args = |_: usize| {
        vec![
            "send".to_string(),
            "--socket".into(),
            ctx.daemon.socket().display().to_string(),
            "--host".into(),
            ctx.sink_host.clone(),
            "--conns".into(),
            threads.to_string(),
            "--msgs".into(),
            per_conn.to_string(),
            "--size".into(),
            W1_SIZE.to_string(),
            "--path".into(),
            path.name().into(),
        ]
    };
    let mut workers = (0..procs)
        .map(|i| Worker::spawn(&args(i)))
        .collect::<Result<Vec<_>>>()?;
    for w in &mut workers {
        w.ready()?;
    }
    let start = Instant::now();
    for w in &mut workers {
        w.go()?;
    }
    for w in &mut workers {
        let line = w.line()?;
        anyhow::ensure!(line == "done", "worker said {line:?}");
    }
    let elapsed = start.elapsed();
    for w in workers {
        w.finish()?;
    }
    Ok(elapsed)
}

/// W3: one message of `ctx.w3_mib` MiB in 1 MiB pieces.
pub fn w3(ctx: &Ctx) -> Result<Vec<Row>> {
    let mib = ctx.size.w3_mib;
    let chunk = raw::message(1 << 20);
    let chunks: Vec<Vec<u8>> = (0..mib).map(|_| chunk.clone()).collect();
    let client = Client::connect(ctx.daemon.socket())?;
    let relay = large_relay(ctx)?;
    let (mut rawv, mut relayed, mut ours) = (vec![], vec![], vec![]);
    for round in 0..ctx.rounds {
        ctx.progress(&format!("W3 round {}/{}", round + 1, ctx.rounds));
        let mut r = Raw::connect(ctx.sink.addr())?;
        rawv.push(mib as f64 / r.send_large(&chunks)?.as_secs_f64());
        r.quit();
        relayed.push(mib as f64 / relay_large(&relay, &chunks)?.as_secs_f64());
        let conn = via_daemon::open(&client, &ctx.sink_host)?;
        ours.push(mib as f64 / via_daemon::send_large(&conn, &chunks)?.as_secs_f64());
        conn.quit()?;
    }
    relay.finish()?;
    Ok(vec![
        Row::new(
            "W3",
            "w3.raw",
            &format!("direct raw client, {mib} MiB in 1 MiB writes"),
            Unit::MibPerSec,
            Role::Raw,
            rawv,
        ),
        relay_row("W3", "w3.relay", relayed),
        Row::new(
            "W3",
            "w3.smtp32",
            &format!("smtp32 data_buf, {mib} MiB in 1 MiB calls"),
            Unit::MibPerSec,
            Role::Other,
            ours,
        ),
    ])
}

/// W7: one message of `ctx.size.w7_mib` MiB with one recipient through
/// `sendmsg` (streamed: the message is larger than one frame), against the
/// raw client writing it in 1 MiB pieces; and how far the daemon's peak RSS
/// rose during the send (its high-water mark is reset just before).
pub fn w7(ctx: &Ctx) -> Result<Vec<Row>> {
    let mib = ctx.size.w7_mib;
    let msg = raw::message(mib << 20);
    let chunks: Vec<Vec<u8>> = msg.chunks(1 << 20).map(<[u8]>::to_vec).collect();
    let client = Client::connect(ctx.daemon.socket())?;
    let pid = ctx.daemon.pid();
    let relay = large_relay(ctx)?;
    let (mut rawv, mut relayed, mut ours, mut growth) = (vec![], vec![], vec![], vec![]);
    for round in 0..ctx.rounds {
        ctx.progress(&format!("W7 round {}/{}", round + 1, ctx.rounds));
        let mut r = Raw::connect(ctx.sink.addr())?;
        rawv.push(mib as f64 / r.send_large(&chunks)?.as_secs_f64());
        r.quit();
        relayed.push(mib as f64 / relay_large(&relay, &chunks)?.as_secs_f64());
        let conn = via_daemon::open(&client, &ctx.sink_host)?;
        procs::reset_peak_rss(pid)?;
        let before = procs::rss_kib(pid)?;
        let took = via_daemon::send(&conn, Path::SendMsg, &msg, 1)?;
        let peak = procs::peak_rss_kib(pid)?;
        ours.push(mib as f64 / took.as_secs_f64());
        growth.push(peak.saturating_sub(before) as f64 / 1024.0);
        conn.quit()?;
    }
    relay.finish()?;
    Ok(vec![
        Row::new(
            "W7",
            "w7.raw",
            &format!("direct raw client, one {mib} MiB message in 1 MiB writes"),
            Unit::MibPerSec,
            Role::Raw,
            rawv,
        ),
        relay_row("W7", "w7.relay", relayed),
        Row::new(
            "W7",
            "w7.smtp32",
            &format!("smtp32 sendmsg, one {mib} MiB message (streamed)"),
            Unit::MibPerSec,
            Role::Other,
            ours,
        ),
        Row::new(
            "W7",
            "w7.rss",
            "smtp32d peak RSS growth during that sendmsg",
            Unit::Mib,
            Role::Other,
            growth,
        ),
    ])
}

/// A relay to the sink for one large message at a time.
fn large_relay(ctx: &Ctx) -> Result<Relay> {
    Relay::start(
        &ctx.dir.join("relay-large.sock"),
        &[ctx.sink.addr()],
        relay::LARGE_READS,
    )
}

/// The raw client's large message through `relay`.
fn relay_large(relay: &Relay, chunks: &[Vec<u8>]) -> Result<Duration> {
    let mut raw = relay.connect()?;
    let took = raw.send_large(chunks)?;
    raw.quit();
    Ok(took)
}

/// The relay floor's row: the raw client through a relay process.
fn relay_row(w: &'static str, key: &'static str, values: Vec<f64>) -> Row {
    Row::new(
        w,
        key,
        "floor: the raw client through a relay process (Unix socket to TCP, 1 MiB reads)",
        Unit::MibPerSec,
        Role::Other,
        values,
    )
}
