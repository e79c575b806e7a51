//! Rebuild: `Store::rebuild` (every projection folded again from the log, in one transaction)
//! against a bare scan that reads the same rows in the same order and parses their JSON; then
//! `Store::rebuild_find` (every entry indexed for find again) against the same scan.
//!
//! Both run in a child process (this binary, re-executed with the hidden `rebuild-child`
//! subcommand) so that its peak resident memory, read from the kernel, belongs to them alone
//! and not to the parent that generated the events.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use pluto_store::Store;
use rusqlite::Connection;
use serde_json::{json, Value};

use crate::baseline;

use crate::baseline::EVENT_COLUMNS;
use crate::gen::RemoteLog;
use crate::remote;
use crate::report::{megabytes, per_second, thousands, Figure};

const SEED: u64 = 0xA99E_0D04;

/// The minimum ratio the issue asks for.
const TARGET: f64 = 0.6;

/// The memory bound at 1,000,000 events, in bytes (decimal megabytes, the stricter
/// reading).
const MEMORY_TARGET: u64 = 150_000_000;

/// Loads `events` events under `dir`, then has `child_exe` time the scan and the rebuild.
pub fn run(dir: &Path, events: u64, child_exe: &Path) -> Result<Vec<Figure>> {
    let path = dir.join("rebuild.sqlite3");
    let mut log = RemoteLog::new(SEED, events, u64::MAX);
    {
        let mut store = Store::open(&path)?;
        remote::load(&mut store, &mut log, "rebuild")?;
    }
    let output = Command::new(child_exe)
        .arg("rebuild-child")
        .arg("--db")
        .arg(&path)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", child_exe.display()))?;
    if !output.status.success() {
        bail!("the rebuild child failed ({})", output.status);
    }
    let report: Value = serde_json::from_slice(&output.stdout).context("the rebuild child's report")?;
    let field = |name: &str| report[name].as_u64().with_context(|| format!("no {name} in {report}"));
    let (scanned, scan_us, scan_peak) = (field("scanned")?, field("scanMicros")?, field("scanPeakBytes")?);
    let (rebuilt, rebuild_us, peak) =
        (field("rebuilt")?, field("rebuildMicros")?, field("rebuildPeakBytes")?);
    let (findable, find_us) = (field("findable")?, field("findMicros")?);
    let events_per_second = |us: u64| per_second(events as f64 / (us.max(1) as f64 / 1e6));
    let seconds = |us: u64| us as f64 / 1e6;
    let ratio = scan_us as f64 / rebuild_us.max(1) as f64;
    let work = format!("{} events, {} campaigns", thousands(events), thousands(log.campaigns()));
    Ok(vec![
        Figure {
            name: "rebuild (`Store::rebuild`)".into(),
            work: work.clone(),
            pluto: format!("{:.1} s ({})", seconds(rebuild_us), events_per_second(rebuild_us)),
            baseline: format!("{:.1} s ({})", seconds(scan_us), events_per_second(scan_us)),
            ratio: Some(ratio),
            target: format!("ratio ≥ {TARGET}"),
            met: ratio >= TARGET,
            pluto_count: rebuilt,
            baseline_count: scanned,
        },
        Figure {
            name: "rebuild peak memory (VmHWM)".into(),
            work,
            pluto: megabytes(peak),
            baseline: megabytes(scan_peak),
            ratio: None,
            target: format!("< {}", megabytes(MEMORY_TARGET)),
            met: peak < MEMORY_TARGET,
            pluto_count: rebuilt,
            baseline_count: scanned,
        },
        Figure {
            name: "rebuild the find index (`Store::rebuild_find`)".into(),
            work: format!("{} entries with something to find", thousands(findable)),
            pluto: format!("{:.1} s ({})", seconds(find_us), events_per_second(find_us)),
            baseline: format!("{:.1} s ({})", seconds(scan_us), events_per_second(scan_us)),
            ratio: Some(scan_us as f64 / find_us.max(1) as f64),
            target: "— (a repair, run when `verify` reports the index)".into(),
            met: true,
            pluto_count: findable,
            baseline_count: scanned,
        },
    ])
}

/// The child's side: the bare scan first, then the rebuild, each followed by the process's
/// peak resident size so far; prints one JSON object. The scan streams and holds almost
/// nothing, so the second peak is the rebuild's.
pub fn child(db: &Path) -> Result<()> {
    let raw = baseline::open(db)?;
    let start = Instant::now();
    let scanned = scan(&raw)?;
    let scan_time = start.elapsed();
    drop(raw);
    let scan_peak = peak_rss()?;
    let mut store = Store::open_existing(db)?;
    let start = Instant::now();
    let rebuilt = store.rebuild()?;
    let rebuild_time = start.elapsed();
    let rebuild_peak = peak_rss()?;
    let start = Instant::now();
    let findable = store.rebuild_find()?;
    let find_time = start.elapsed();
    println!(
        "{}",
        json!({
            "scanned": scanned,
            "scanMicros": scan_time.as_micros() as u64,
            "scanPeakBytes": scan_peak,
            "rebuilt": rebuilt,
            "rebuildMicros": rebuild_time.as_micros() as u64,
            "rebuildPeakBytes": rebuild_peak,
            "findable": findable,
            "findMicros": find_time.as_micros() as u64,
        })
    );
    Ok(())
}

/// Reads every event in the order the rebuild folds them, decoding every column and parsing
/// the payload as JSON; returns how many.
fn scan(conn: &Connection) -> Result<u64> {
    let mut stmt = conn.prepare(&format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY stream_id, id"))?;
    let mut rows = stmt.query([])?;
    let mut count = 0u64;
    while let Some(row) = rows.next()? {
        for column in [0, 1, 2, 3, 6, 7, 9] {
            let _: String = row.get(column)?;
        }
        let _: (i64, i64) = (row.get(4)?, row.get(8)?);
        let data: String = row.get(5)?;
        let _: Value = serde_json::from_str(&data)?;
        count += 1;
    }
    Ok(count)
}

/// The process's peak resident set size in bytes (`VmHWM` in `/proc/self/status`).
fn peak_rss() -> Result<u64> {
    crate::server::status_bytes("/proc/self/status", "VmHWM")
}
