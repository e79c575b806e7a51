//! Period report: `pluto_reports::period::report` over every campaign of a 1,000,000-event log (the
//! issue's 100,000 campaigns), against a raw scan of the same projection rows on a bare
//! connection with the store's pragmas (each row's flows read as bytes, not decoded). The issue
//! asks for the report in under 2 s.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use pluto_domain::time::parse_date;
use pluto_reports::period::{Period, Scope};
use pluto_store::Store;

use crate::gen::RemoteLog;
use crate::report::{thousands, Figure};
use crate::{baseline, remote};

const SEED: u64 = 0x9E21_0D5B;

/// The bound, in seconds.
const TARGET_SECONDS: f64 = 2.0;

/// Runs of each, alternating; the fastest of each counts.
const RUNS: usize = 3;

/// Loads `events` events of at most `campaigns` campaigns under `dir`, then times the report of a
/// period holding every step, and the raw scan, alternately.
pub fn run(dir: &Path, events: u64, campaigns: u64) -> Result<Figure> {
    let path = dir.join("period.sqlite3");
    let mut log = RemoteLog::new(SEED, events, campaigns);
    let mut store = Store::open(&path)?;
    remote::load(&mut store, &mut log, "period report")?;
    let loaded = log.campaigns();
    let period = Period::new(parse_date("2000-01-01")?, parse_date("2099-12-31")?)?;
    let raw = baseline::open(&path)?;
    let (mut best, mut best_raw) = (Duration::MAX, Duration::MAX);
    let (mut reported, mut scanned) = (0, 0);
    for run in 0..RUNS {
        eprintln!("period report: run {} of {RUNS}", run + 1);
        let start = Instant::now();
        scanned = raw_scan(&raw)?;
        best_raw = best_raw.min(start.elapsed());

        let start = Instant::now();
        let report = pluto_reports::period::report(&store, period, Scope::default())?;
        best = best.min(start.elapsed());
        ensure!(
            report.imbalance().abs() < 1e-3 * report.closing.total.max(1.0),
            "the report does not balance"
        );
        reported = report.campaigns.len() as u64;
    }
    ensure!(reported == scanned, "the report drew on {reported} campaigns, the scan read {scanned}");
    Ok(Figure {
        name: "period report (`pluto_reports::period::report`)".into(),
        work: format!("{} campaigns, {} events, best of {RUNS}", thousands(loaded), thousands(events)),
        pluto: format!("{:.2} s", best.as_secs_f64()),
        baseline: format!("{:.2} s (raw scan of the projections' flows)", best_raw.as_secs_f64()),
        ratio: Some(best_raw.as_secs_f64() / best.as_secs_f64()),
        target: format!("< {TARGET_SECONDS} s"),
        met: best.as_secs_f64() < TARGET_SECONDS,
        pluto_count: reported,
        baseline_count: scanned,
    })
}

/// The raw baseline: the same rows read in the same order, each flow's bytes touched, not decoded.
fn raw_scan(conn: &rusqlite::Connection) -> Result<u64> {
    let mut stmt = conn.prepare(
        "SELECT id, lego_campaign_code, material_type, flows FROM campaign_projections
         WHERE flows IS NOT NULL ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let (mut count, mut bytes) = (0u64, 0usize);
    while let Some(row) = rows.next()? {
        bytes += row.get_ref(3)?.as_bytes()?.len();
        count += 1;
    }
    ensure!(bytes > 0 || count == 0, "no flows read");
    Ok(count)
}
