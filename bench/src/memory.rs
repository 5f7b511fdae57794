//! W5: the daemon's resident memory per idle SMTP connection.
//!
//! Each round starts a daemon of its own (memory freed by an earlier round
//! would be reused without growing the RSS, and make the figure look
//! better than it is), opens a few connections to warm it up, reads its
//! VmRSS, opens `w5_conns` more from several threads (one IPC client and
//! one smtp-sink each: a sink slows down with its number of sessions), and
//! reads VmRSS again: the difference over the count is the figure.

use crate::procs::{rss_kib, Daemon, Sink};
use crate::report::{Role, Row, Unit};
use crate::{via_daemon, Ctx};
use anyhow::Result;
use smtp32::{Client, Connection};

const WARM_CONNS: usize = 100;

/// W5 rows: KiB per idle connection, and the daemon's RSS with all of them open.
pub fn w5(ctx: &Ctx) -> Result<Vec<Row>> {
    let n = ctx.size.w5_conns;
    let (mut per_conn, mut total) = (vec![], vec![]);
    for round in 0..ctx.rounds {
        ctx.progress(&format!(
            "W5 round {}/{}: {n} connections",
            round + 1,
            ctx.rounds
        ));
        let dir = tempfile::Builder::new()
            .prefix("w5-")
            .tempdir_in(&ctx.dir)?;
        // One opener thread per sink: one smtp-sink slows down with its number of sessions.
        let threads = ctx.size.w5_sinks;
        let sinks = (0..threads)
            .map(|_| Sink::start(&ctx.sink_program, n / threads + 100))
            .collect::<Result<Vec<_>>>()?;
        let daemon = Daemon::start(&ctx.daemon_binary, dir.path(), n + WARM_CONNS + 16)?;
        let warm_client = Client::connect(daemon.socket())?;
        let warm = (0..WARM_CONNS)
            .map(|_| via_daemon::open(&warm_client, &ctx.sink_host))
            .collect::<Result<Vec<_>>>()?;
        for c in &warm {
            c.noop()?;
        }
        let before = rss_kib(daemon.pid())?;
        let held: Vec<(Client, Vec<Connection>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let share = n / threads + usize::from(t < n % threads);
                    let (daemon, host) = (&daemon, sinks[t].addr().to_string());
                    s.spawn(move || -> Result<(Client, Vec<Connection>)> {
                        let client = Client::connect(daemon.socket())?;
                        let conns = (0..share)
                            .map(|_| via_daemon::open(&client, &host))
                            .collect::<Result<_>>()?;
                        Ok((client, conns))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().map_err(|_| anyhow::anyhow!("opener panicked"))?)
                .collect::<Result<_>>()
        })?;
        let after = rss_kib(daemon.pid())?;
        per_conn.push((after.saturating_sub(before)) as f64 / n as f64);
        total.push(after as f64 / 1024.0);
        drop(held);
        drop(warm);
        drop(sinks);
    }
    Ok(vec![
        Row::new(
            "W5",
            "w5.kib",
            &format!("smtp32d RSS per idle SMTP connection, {n} open"),
            Unit::Kib,
            Role::Other,
            per_conn,
        ),
        Row::new(
            "W5",
            "w5.total",
            &format!("smtp32d RSS with {n} connections open"),
            Unit::Mib,
            Role::Other,
            total,
        ),
    ])
}
