//! A fresh laptop's pull: `Store::apply_pulled` of 100,000 events of the server's log in pages of
//! 1,000, each read with the tolerant reader and checked with the server's rules (bounds, the
//! attested site's policy, creations, what corrections name) before it is applied, against a bare
//! batched `INSERT` of the same rows. The laptop holds the server's site policy, as after its first
//! sync, and each event comes with the site the server attests for it.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use pluto_domain::{Event, EventType, SitePolicy};
use pluto_protocol::PulledEvent;
use pluto_store::Store;

use crate::baseline;

use crate::baseline::Row;
use crate::gen::RemoteLog;
use crate::remote::{BATCH, SITE_IN_FLIGHT, STRESS_IN_FLIGHT};
use crate::report::{per_second, rate, thousands, Figure};

const SEED: u64 = 0x9_1_0_1;

/// The minimum ratio the issue asks for.
const TARGET: f64 = 0.5;

/// The site that may record `event` by the default policy: the one that records its type, or
/// for a correction or void the type it changes; reviews come from LEGO, which may review all.
fn site_of(event: &Event) -> &'static str {
    let changed = event
        .event_type
        .target_type_field()
        .and_then(|f| EventType::parse(event.data.get(f)?.as_str()?).ok())
        .unwrap_or(event.event_type);
    changed.default_sites().first().copied().unwrap_or("LEGO")
}

/// A page of `events` as the server serves it, from position `first` on.
fn page(events: &[Event], first: i64) -> Result<Vec<PulledEvent>> {
    events
        .iter()
        .zip(first..)
        .map(|(event, position)| {
            let text =
                serde_json::json!({"position": position, "site": site_of(event), "event": event}).to_string();
            Ok(serde_json::from_str(&text)?)
        })
        .collect()
}

/// Pulls `events` events in both of apply-remote's scenarios.
pub fn run(dir: &Path, events: u64) -> Result<Vec<Figure>> {
    Ok(vec![
        run_one(dir, events, SITE_IN_FLIGHT, "a site's log")?,
        run_one(dir, events, STRESS_IN_FLIGHT, "stress")?,
    ])
}

/// Pulls `events` events of `in_flight` concurrent campaigns into a new laptop under `dir`, page
/// by page, next to the bare insert of the same rows into a new baseline database.
fn run_one(dir: &Path, events: u64, in_flight: usize, scenario: &str) -> Result<Figure> {
    let mut store = Store::open(&dir.join(format!("pull-{in_flight}.sqlite3")))?;
    store.set_site_policy(&SitePolicy::default_for("LEGO"))?;
    let mut raw = baseline::create(&dir.join(format!("pull-{in_flight}-baseline.sqlite3")))?;
    let mut log = RemoteLog::with_in_flight(SEED, events, u64::MAX, in_flight);
    let (mut pluto_time, mut raw_time, mut longest) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut inserted, mut refused, mut rows_inserted, mut cursor) = (0u64, 0u64, 0u64, 0i64);
    loop {
        let batch = log.batch(BATCH);
        if batch.is_empty() {
            break;
        }
        let pulled = page(&batch, cursor + 1)?;
        cursor += batch.len() as i64;
        let rows: Vec<Row> = batch.iter().map(Row::from).collect();
        let start = Instant::now();
        let report = store.apply_pulled(&pulled, cursor)?;
        let took = start.elapsed();
        pluto_time += took;
        longest = longest.max(took);
        let start = Instant::now();
        baseline::insert_transaction(&mut raw, &rows)?;
        raw_time += start.elapsed();
        inserted += report.inserted as u64;
        refused += report.refused as u64;
        rows_inserted += rows.len() as u64;
    }
    anyhow::ensure!(refused == 0, "{refused} pulled events were refused");
    let (pluto_rate, raw_rate) = (rate(inserted, pluto_time), rate(rows_inserted, raw_time));
    let ratio = pluto_rate / raw_rate;
    Ok(Figure {
        name: format!("pull (`Store::apply_pulled`), a fresh laptop, {scenario}"),
        work: format!(
            "{} events of {} campaigns, {} active at once, pages of {}, every event checked",
            thousands(inserted),
            thousands(log.campaigns()),
            thousands(in_flight as u64),
            thousands(BATCH as u64)
        ),
        pluto: format!("{} (longest page {:.1} ms)", per_second(pluto_rate), longest.as_secs_f64() * 1e3),
        baseline: per_second(raw_rate),
        ratio: Some(ratio),
        target: format!("ratio ≥ {TARGET}"),
        met: ratio >= TARGET,
        pluto_count: inserted,
        baseline_count: rows_inserted,
    })
}
