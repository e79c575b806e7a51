//! Apply-remote: `Store::apply_remote` of events from other laptops in batches of 1,000 (checks,
//! idempotency lookups, inserts, projection updates) against a bare batched `INSERT` of the same
//! rows, 1,000 per transaction, with the longest batch (how long an entry made meanwhile can wait
//! for the write lock). Also the loader that fills the stores of the other benchmarks.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use pluto_store::Store;

use crate::baseline;

use crate::baseline::Row;
use crate::gen::RemoteLog;
use crate::report::{per_second, rate, thousands, Figure};

const SEED: u64 = 0xA99E_0D02;

/// Events per `apply_remote` call, as sync delivers them.
pub const BATCH: usize = 1_000;

/// The minimum ratio the issue asks for.
const TARGET: f64 = 0.5;

/// Campaigns active at once on a site's sync: a page of 1,000 events then carries about 20
/// events of each campaign it touches.
pub const SITE_IN_FLIGHT: usize = 50;

/// Campaigns active at once in the stress case: a page touches about 640 campaigns.
pub const STRESS_IN_FLIGHT: usize = 1_000;

/// Applies `events` remote events in both scenarios.
pub fn run(dir: &Path, events: u64) -> Result<Vec<Figure>> {
    Ok(vec![
        run_one(dir, events, SITE_IN_FLIGHT, "a site's sync")?,
        run_one(dir, events, STRESS_IN_FLIGHT, "stress")?,
    ])
}

/// Applies `events` remote events of `in_flight` concurrent campaigns to a new store under
/// `dir`, timing each batch next to the bare insert of the same rows into a new baseline database.
fn run_one(dir: &Path, events: u64, in_flight: usize, scenario: &str) -> Result<Figure> {
    let mut store = Store::open(&dir.join(format!("apply-remote-{in_flight}.sqlite3")))?;
    let mut raw = baseline::create(&dir.join(format!("apply-remote-{in_flight}-baseline.sqlite3")))?;
    let mut log = RemoteLog::with_in_flight(SEED, events, u64::MAX, in_flight);
    let (mut pluto_time, mut raw_time, mut longest) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut inserted, mut rows_inserted) = (0u64, 0u64);
    loop {
        let batch = log.batch(BATCH);
        if batch.is_empty() {
            break;
        }
        let rows: Vec<Row> = batch.iter().map(Row::from).collect();
        let start = Instant::now();
        let report = store.apply_remote(&batch)?;
        let took = start.elapsed();
        pluto_time += took;
        longest = longest.max(took);
        let start = Instant::now();
        baseline::insert_transaction(&mut raw, &rows)?;
        raw_time += start.elapsed();
        inserted += report.inserted as u64;
        rows_inserted += rows.len() as u64;
    }
    let (pluto_rate, raw_rate) = (rate(inserted, pluto_time), rate(rows_inserted, raw_time));
    let ratio = pluto_rate / raw_rate;
    Ok(Figure {
        name: format!("apply-remote (`Store::apply_remote`), {scenario}"),
        work: format!(
            "{} events of {} campaigns, {} active at once, batches of {}",
            thousands(inserted),
            thousands(log.campaigns()),
            thousands(in_flight as u64),
            thousands(BATCH as u64)
        ),
        pluto: format!("{} (longest batch {:.1} ms)", per_second(pluto_rate), longest.as_secs_f64() * 1e3),
        baseline: per_second(raw_rate),
        ratio: Some(ratio),
        target: format!("ratio ≥ {TARGET}"),
        met: ratio >= TARGET,
        pluto_count: inserted,
        baseline_count: rows_inserted,
    })
}

/// Fills `store` with every event of `log` through `apply_remote`, reporting progress on stderr
/// (the load rate there is the same operation as [`run`] measures, on a growing store).
pub fn load(store: &mut Store, log: &mut RemoteLog, label: &str) -> Result<u64> {
    let start = Instant::now();
    let mut loaded = 0u64;
    loop {
        let batch = log.batch(BATCH);
        if batch.is_empty() {
            break;
        }
        loaded += store.apply_remote(&batch)?.inserted as u64;
        if loaded % 100_000 == 0 {
            eprintln!(
                "{label}: loaded {} events of {} campaigns ({})",
                thousands(loaded),
                thousands(log.campaigns()),
                per_second(rate(loaded, start.elapsed()))
            );
        }
    }
    let elapsed = start.elapsed();
    // Row sizes explain much of the write cost: each projection update rewrites the whole row.
    let (payload, projection): (f64, f64) = store.connection().query_row(
        "SELECT (SELECT AVG(LENGTH(data)) FROM events),
                (SELECT 1.0 * SUM(payload) / SUM(ncell) FROM dbstat WHERE name = 'campaign_projections' AND pagetype = 'leaf')",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    eprintln!(
        "{label}: loaded {} events of {} campaigns in {:.1} s; payloads average {payload:.0} bytes, \
         projection rows {projection:.0} bytes",
        thousands(loaded),
        thousands(log.campaigns()),
        elapsed.as_secs_f64()
    );
    Ok(loaded)
}
