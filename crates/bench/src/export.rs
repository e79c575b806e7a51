//! Audit export: `pluto_reports::audit::export` of the whole log (every line hashed, the hash chain, the
//! signed manifest) and `audit::verify` of its file, each against `Store::export`, the plain
//! export of the same events to a file in the same folder. The issue asks both at no less than
//! half the plain export's speed. The plain export itself is measured against a raw scan: the
//! same rows read on a bare connection with the store's pragmas, each payload written as a line.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use pluto_reports::audit;
use pluto_store::{Selection, Store};
use rusqlite::Connection;

use crate::gen::RemoteLog;
use crate::report::{per_second, thousands, Figure};
use crate::{baseline, remote};

const SEED: u64 = 0xA0D1_7E59;

/// The bound: at least half the plain export's speed.
const TARGET: f64 = 0.5;

/// Runs of each, alternating; the fastest of each counts (the least disturbed by the machine).
const RUNS: usize = 3;

/// Loads `events` events under `dir`, then times the plain export, the audit export and its
/// verification, alternately.
pub fn run(dir: &Path, events: u64) -> Result<Vec<Figure>> {
    let path = dir.join("export.sqlite3");
    let mut log = RemoteLog::new(SEED, events, u64::MAX);
    let mut store = Store::open(&path)?;
    remote::load(&mut store, &mut log, "export")?;
    let key = pluto_reports::audit::audit_key(&mut store)?;
    let (plain_file, audit_file) = (dir.join("plain.jsonl"), dir.join("audit.jsonl"));
    let raw_file = dir.join("raw.jsonl");
    let raw = baseline::open(&path)?;
    let mut best = [Duration::MAX; 4];
    let mut counts = [0u64; 4];
    for run in 0..RUNS {
        eprintln!("export: run {} of {RUNS}", run + 1);
        let start = Instant::now();
        let mut out = BufWriter::new(File::create(&raw_file)?);
        counts[3] = raw_scan(&raw, &mut out)?;
        out.flush()?;
        drop(out);
        best[3] = best[3].min(start.elapsed());

        let start = Instant::now();
        let mut out = BufWriter::new(File::create(&plain_file)?);
        counts[0] = store.export(&mut out)? as u64;
        out.flush()?;
        drop(out);
        best[0] = best[0].min(start.elapsed());

        let start = Instant::now();
        let mut out = BufWriter::new(File::create(&audit_file)?);
        counts[1] =
            pluto_reports::audit::export(&store, &key, &Selection::default(), &mut out)?.events.len() as u64;
        out.flush()?;
        drop(out);
        best[1] = best[1].min(start.elapsed());

        let start = Instant::now();
        let verification = audit::verify(BufReader::new(File::open(&audit_file)?))?;
        best[2] = best[2].min(start.elapsed());
        ensure!(verification.is_intact(), "the audit export does not verify: {:?}", verification.findings);
        counts[2] = verification.manifest.events.len() as u64;
    }
    ensure!(counts.iter().all(|&c| c == events), "exported {counts:?} of {events} events");
    let speed =
        |d: Duration| format!("{:.2} s ({})", d.as_secs_f64(), per_second(events as f64 / d.as_secs_f64()));
    let figure = |name: &str, pluto: Duration, count: u64| Figure {
        name: name.into(),
        work: format!("{} events, best of {RUNS}", thousands(events)),
        pluto: speed(pluto),
        baseline: format!("{} (`Store::export`)", speed(best[0])),
        ratio: Some(best[0].as_secs_f64() / pluto.as_secs_f64()),
        target: format!("ratio ≥ {TARGET}"),
        met: best[0].as_secs_f64() / pluto.as_secs_f64() >= TARGET,
        pluto_count: count,
        baseline_count: counts[0],
    };
    let plain = Figure {
        name: "plain export (`Store::export`)".into(),
        work: format!("{} events, best of {RUNS}", thousands(events)),
        pluto: speed(best[0]),
        baseline: format!("{} (raw scan)", speed(best[3])),
        ratio: Some(best[3].as_secs_f64() / best[0].as_secs_f64()),
        target: "—".into(),
        met: true,
        pluto_count: counts[0],
        baseline_count: counts[3],
    };
    Ok(vec![
        plain,
        figure("audit export (`pluto_reports::audit::export`)", best[1], counts[1]),
        figure("verify an audit export (`audit::verify`)", best[2], counts[2]),
    ])
}

/// The raw baseline: every event's payload as a line, read in log order on a bare connection.
fn raw_scan(conn: &Connection, out: &mut impl Write) -> Result<u64> {
    let mut stmt = conn.prepare("SELECT data FROM events ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    let mut count = 0;
    while let Some(row) = rows.next()? {
        out.write_all(row.get_ref(0)?.as_bytes()?)?;
        out.write_all(b"\n")?;
        count += 1;
    }
    Ok(count)
}
