//! Replay: a campaign of 1,000 events read from the store and folded into its full state (what
//! `pluto show --as-of`, a correction's check and a refold of one campaign do), against a bare
//! read of the same rows in the same order with each payload parsed into a JSON value. If this
//! stays fast, a campaign needs no snapshots: its state is always its events folded from the
//! first. Also the record the window shows for it (`CampaignRecord::of`: the history with
//! corrections, the mass balance, and which steps and voids would be refused, each void tried
//! by folding the campaign with it).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use pluto_domain::{Timestamp, UserId};
use pluto_reports::record::CampaignRecord;
use pluto_store::Store;

use crate::app::grow;
use crate::baseline;
use crate::baseline::EVENT_COLUMNS;
use crate::report::{millis, percentile, Figure};

/// Events on the replayed campaign: the twelve steps, then corrections.
const EVENTS: usize = 1_000;

/// The bound on one campaign's replay.
const TARGET: Duration = Duration::from_millis(2);

/// Replays one campaign of [`EVENTS`] events `runs` times, alternating with the bare read.
pub fn run(dir: &Path, runs: u64) -> Result<Vec<Figure>> {
    let path = dir.join("replay.sqlite3");
    let mut store = Store::open(&path)?;
    let user = UserId::parse("usr_bench").context("bench user id")?;
    eprintln!("replay: recording {EVENTS} events on one campaign");
    let id = grow(&mut store, &user, 1, EVENTS)?;
    let raw = baseline::open(&path)?;
    // The store's canonical order: the server's positions, then this laptop's own entries.
    let mut bare_read = raw.prepare(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = ?1 \
         ORDER BY server_position IS NULL, server_position, seq"
    ))?;
    let (mut replay, mut fold_only, mut record, mut bare) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut event_count = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let events = store.history(&id)?;
        let folded = Instant::now();
        let state = pluto_domain::fold::fold(&events).context("the campaign folds")?;
        replay.push(start.elapsed());
        fold_only.push(folded.elapsed());
        event_count = state.event_count;
        let start = Instant::now();
        let shown = CampaignRecord::of(&events, None, Timestamp::now()).context("a record")?;
        record.push(start.elapsed());
        if shown.events.len() != EVENTS {
            bail!("the record shows {} entries, expected {EVENTS}", shown.events.len());
        }

        let start = Instant::now();
        let rows = bare_read
            .query_map([id.as_str()], |r| {
                let data: String = r.get(5)?;
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(3)?, data))
            })?
            .map(|row| {
                let (_, _, data) = row?;
                Ok(serde_json::from_str::<serde_json::Value>(&data)?)
            })
            .collect::<Result<Vec<_>>>()?;
        bare.push(start.elapsed());
        if rows.len() != EVENTS {
            bail!("the bare read gave {} rows, expected {EVENTS}", rows.len());
        }
    }
    if event_count as usize != EVENTS {
        bail!("the replay folded {event_count} events, expected {EVENTS}");
    }
    for times in [&mut replay, &mut fold_only, &mut record, &mut bare] {
        times.sort();
    }
    let (b50, b99) = (percentile(&bare, 0.5), percentile(&bare, 0.99));
    let figure = |name: &str, times: &[Duration], compared: bool| {
        let (p50, p99) = (percentile(times, 0.5), percentile(times, 0.99));
        Figure {
            name: name.to_owned(),
            work: format!(
                "{runs} replays of one campaign of {EVENTS} events (12 steps, {} corrections)",
                EVENTS - 12
            ),
            pluto: format!("p50 {} / p99 {}", millis(p50), millis(p99)),
            baseline: format!("p50 {} / p99 {}", millis(b50), millis(b99)),
            ratio: compared.then(|| b50.as_secs_f64() / p50.as_secs_f64()),
            target: format!("p99 < {} ms", TARGET.as_millis()),
            met: p99 < TARGET,
            pluto_count: runs,
            baseline_count: runs,
        }
    };
    Ok(vec![
        figure("replay a campaign: read and fold (`history` + `fold`)", &replay, true),
        figure("replay a campaign: the fold alone, in memory", &fold_only, false),
        figure("the window's record of it (`CampaignRecord::of`, voids tried), in memory", &record, false),
    ])
}
