//! Append: `Store::record` (validation against the campaign's state, insert, projection update,
//! one durable transaction each) against a bare single-row `INSERT` transaction of the same row.
//!
//! The two sides run in alternating rounds of 100, so that drift in the disk's commit latency,
//! a large part of both, falls on both alike.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use pluto_domain::registry::upcast::Recording;
use pluto_domain::{EventType, Timestamp, UserId};
use pluto_store::{Draft, Store};

use crate::baseline;

use crate::baseline::Row;
use crate::gen::Population;
use crate::report::{per_second, rate, thousands, Figure};

const SEED: u64 = 0xA99E_0D01;

/// Campaigns being worked on at once on one laptop.
const IN_FLIGHT: usize = 50;

/// Appends per round before the baseline takes its turn.
const ROUND: u64 = 100;

/// The minimum ratio the issue asks for.
const TARGET: f64 = 0.7;

/// Records `appends` entries of campaigns moving through their lifecycle (with corrections) in a
/// new store under `dir`, and inserts the same rows into a bare table, one transaction each.
pub fn run(dir: &Path, appends: u64) -> Result<Figure> {
    let mut store = Store::open(&dir.join("append.sqlite3"))?;
    let mut raw = baseline::create(&dir.join("append-baseline.sqlite3"))?;
    let user = UserId::parse("usr_bench").context("bench user id")?;
    let mut population = Population::new(SEED, u64::MAX, IN_FLIGHT);
    let (mut pluto_time, mut raw_time) = (Duration::ZERO, Duration::ZERO);
    let (mut campaigns, mut corrections) = (0u64, 0u64);
    let mut remaining = appends;
    while remaining > 0 {
        let round = remaining.min(ROUND);
        let mut rows = Vec::with_capacity(round as usize);
        for _ in 0..round {
            // Dated as an entry made now is checked: on this laptop's calendar.
            let (slot, campaign, planned) = population
                .plan(Recording::entry(Timestamp::now()).day.0)
                .context("campaigns never run out")?;
            let draft = Draft::new(campaign, planned.event_type, planned.data.clone(), user.clone());
            let start = Instant::now();
            let recorded = store.record(draft)?;
            pluto_time += start.elapsed();
            match recorded.event.event_type {
                EventType::CampaignCreated => campaigns += 1,
                EventType::EventCorrected => corrections += 1,
                _ => {}
            }
            rows.push(Row::from(&recorded.event));
            population.recorded(slot, planned, &recorded.event);
        }
        for row in &rows {
            let start = Instant::now();
            baseline::insert_transaction(&mut raw, std::slice::from_ref(row))?;
            raw_time += start.elapsed();
        }
        remaining -= round;
    }
    let count = |conn: &rusqlite::Connection| -> Result<u64> {
        Ok(u64::try_from(conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0))?)?)
    };
    let (pluto_rate, raw_rate) = (rate(appends, pluto_time), rate(appends, raw_time));
    let ratio = pluto_rate / raw_rate;
    Ok(Figure {
        name: "append (`Store::record`)".into(),
        work: format!(
            "{} appends, {} campaigns, {} corrections",
            thousands(appends),
            thousands(campaigns),
            thousands(corrections)
        ),
        pluto: per_second(pluto_rate),
        baseline: per_second(raw_rate),
        ratio: Some(ratio),
        target: format!("ratio ≥ {TARGET}"),
        met: ratio >= TARGET,
        pluto_count: count(store.connection())?,
        baseline_count: count(&raw)?,
    })
}
