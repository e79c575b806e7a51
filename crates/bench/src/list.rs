//! List: one page of the campaign list (`Store::list`, one status, most recent activity first,
//! 50 rows) over a store of many campaigns, against the same page `SELECT` issued directly on a
//! raw connection to the same file. Pluto's figure also includes the `COUNT(*)` behind the
//! page's total, which the bare page query does not need.
//!
//! Home: the work queue of MBA's laptop (`Store::work`: counts and stalled counts per stage, the
//! longest waiting campaigns of MBA's stages, the anomalies) over the same store, against the
//! bare queries for the stage counts and one page of the longest waiting at one stage.
//!
//! Find: `Store::find` by the tracking reference of a random campaign's inbound shipment (whole,
//! and as typed halfway), against the bare FTS5 query for the same words on the same index.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use pluto_domain::CampaignStatus;
use pluto_store::{ListQuery, SortOrder, Store};
use rusqlite::Connection;

use crate::gen::RemoteLog;
use crate::report::{millis, percentile, thousands, Figure};
use crate::{baseline, remote};

const SEED: u64 = 0xA99E_0D03;

/// Rows per page, as the app shows them.
const PAGE: u32 = 50;

/// The bound on one page, checked against the 99th percentile.
const TARGET: Duration = Duration::from_millis(5);

/// The page query `Store::list` issues for a status filter sorted by last activity.
const PAGE_SQL: &str =
    "SELECT id, lego_campaign_code, material_type, description, status, current_step, next_expected_step,
        current_weight_kg, echa_approved, last_event_type, updated_at, event_count, anomaly_count
 FROM campaign_projections WHERE status = ?1 ORDER BY updated_at DESC, id DESC LIMIT ?2 OFFSET ?3";

/// The columns of a list row, decoded as `Store::list` decodes them.
type SummaryRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<f64>,
    bool,
    Option<String>,
    String,
    u32,
    u32,
);

/// Loads `campaigns` campaigns under `dir`, then times `queries` page queries on the most
/// common status (the slowest to count) and `queries` more taking each status in turn.
pub fn run(dir: &Path, campaigns: u64, queries: u64) -> Result<Vec<Figure>> {
    let path = dir.join("list.sqlite3");
    let mut store = Store::open(&path)?;
    let mut log = RemoteLog::new(SEED, u64::MAX, campaigns);
    remote::load(&mut store, &mut log, "list")?;
    let raw = baseline::open(&path)?;
    let mut present: Vec<(CampaignStatus, u64)> = Vec::new();
    {
        let mut stmt = raw.prepare("SELECT status, COUNT(*) FROM campaign_projections GROUP BY status")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let name: String = row.get(0)?;
            let status = CampaignStatus::parse(&name).with_context(|| format!("unknown status {name}"))?;
            present.push((status, u64::try_from(row.get::<_, i64>(1)?)?));
        }
    }
    present.sort();
    let &(largest, largest_count) =
        present.iter().max_by_key(|(_, n)| *n).context("the list store has no campaigns")?;
    let all: Vec<CampaignStatus> = present.iter().map(|(s, _)| *s).collect();
    let total = thousands(log.campaigns());
    let home = measure_home(&store, &raw, queries)?;
    let events: i64 = raw.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
    let find = measure_find(&store, &raw, queries, false)?;
    let typing = measure_find(&store, &raw, queries, true)?;
    Ok(vec![
        home.figure_with(
            "home: MBA's work queue".into(),
            format!("{queries} home screens, {total} campaigns"),
            HOME_TARGET,
        ),
        find.figure_with(
            "find by a tracking reference".into(),
            format!("{queries} finds, {total} campaigns, {} events", thousands(u64::try_from(events)?)),
            FIND_TARGET,
        ),
        typing.figure_with(
            "find by a tracking reference typed halfway (its last 3 characters not yet)".into(),
            format!("{queries} finds, {total} campaigns"),
            FIND_TARGET,
        ),
        measure(&store, &raw, &[largest], queries)?.figure(
            format!("list page, status {largest}"),
            format!("{queries} pages of {PAGE} of {} matching, {total} campaigns", thousands(largest_count)),
        ),
        measure(&store, &raw, &all, queries)?.figure(
            "list page, each status in turn".into(),
            format!("{queries} pages over {} statuses, {total} campaigns", all.len()),
        ),
    ])
}

/// The bound on the home screen, checked against the 99th percentile.
const HOME_TARGET: Duration = Duration::from_millis(50);

/// Campaigns per list on the home screen, as the app asks.
const HOME_ROWS: u32 = 8;

/// Times `Store::work` for MBA's steps against the bare stage counts plus one page of the longest
/// waiting campaigns at MBA's busiest stage.
fn measure_home(store: &Store, raw: &Connection, queries: u64) -> Result<Samples> {
    let mba = store.step_offer("MBA")?.mine;
    let now = pluto_domain::Timestamp::now();
    let mut counts = raw.prepare("SELECT status, n FROM campaign_status_counts")?;
    let mut oldest = raw.prepare(
        "SELECT id, lego_campaign_code, status, status_since FROM campaign_projections
         WHERE status = ?1 ORDER BY status_since, id LIMIT ?2",
    )?;
    let busiest: String = raw.query_row(
        "SELECT status FROM campaign_status_counts WHERE status IN ('created', 'inbound_received') ORDER BY n DESC LIMIT 1",
        [],
        |r| r.get(0),
    )?;
    let pluto_home = || -> Result<(u64, Duration)> {
        let start = Instant::now();
        let work = store.work(&mba, now, HOME_ROWS)?;
        Ok((work.waiting.len() as u64, start.elapsed()))
    };
    let mut raw_home = || -> Result<(u64, Duration)> {
        let start = Instant::now();
        let stages = counts
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        std::hint::black_box(stages);
        let rows = oldest
            .query_map(rusqlite::params![busiest, HOME_ROWS], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((rows.len() as u64, start.elapsed()))
    };
    pluto_home()?;
    raw_home()?;
    let rounds = vec![(); queries as usize];
    alternate(&rounds, |()| pluto_home(), |()| raw_home())
}

/// The bound on find, checked against the 99th percentile.
const FIND_TARGET: Duration = Duration::from_millis(5);

/// Times `Store::find` for random campaigns' inbound tracking references (whole, or with their
/// last three characters not typed yet when `typing`) against the bare FTS5 query `Store::find`
/// issues for them (without reading the campaigns' rows and entries to show where each matched
/// and to keep only the entries that hold every word).
fn measure_find(store: &Store, raw: &Connection, queries: u64, typing: bool) -> Result<Samples> {
    let refs: Vec<String> = raw
        .prepare(
            "SELECT data ->> 'trackingRef' FROM events WHERE event_type = 'InboundShipmentRecorded'
             ORDER BY random() LIMIT ?1",
        )?
        .query_map([i64::try_from(queries)?], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    let refs: Vec<String> = if typing {
        refs.iter().map(|r| r.chars().take(r.chars().count().saturating_sub(3)).collect()).collect()
    } else {
        refs
    };
    let mut bare = raw.prepare(
        "SELECT e.stream_id FROM search_index JOIN events e ON e.seq = search_index.rowid
         WHERE search_index MATCH ?1 ORDER BY search_index.rowid DESC LIMIT 20",
    )?;
    let pluto_find = |text: &str| -> Result<(u64, Duration)> {
        let start = Instant::now();
        let found = store.find(text, 20)?;
        Ok((found.len() as u64, start.elapsed()))
    };
    let mut raw_find = |text: &str| -> Result<(u64, Duration)> {
        let start = Instant::now();
        let query = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| format!("\"{}\"*", w.to_lowercase().chars().take(4).collect::<String>()))
            .collect::<Vec<_>>()
            .join(" AND ");
        let rows =
            bare.query_map([query], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((rows.len() as u64, start.elapsed()))
    };
    let first = refs.first().context("the list store has no inbound shipments")?;
    pluto_find(first)?;
    raw_find(first)?;
    let texts: Vec<&String> = refs.iter().cycle().take(queries as usize).collect();
    alternate(&texts, |text| pluto_find(text), |text| raw_find(text))
}

/// Latencies of both sides and the rows they returned.
struct Samples {
    pluto: Vec<Duration>,
    raw: Vec<Duration>,
    pluto_rows: u64,
    raw_rows: u64,
}

fn measure(store: &Store, raw: &Connection, statuses: &[CampaignStatus], queries: u64) -> Result<Samples> {
    let pluto_page = |status: CampaignStatus| -> Result<(u64, Duration)> {
        let query = ListQuery {
            status: Some(status),
            sort: SortOrder::LastActivity,
            limit: PAGE,
            ..ListQuery::default()
        };
        let start = Instant::now();
        let page = store.list(&query)?;
        Ok((page.rows.len() as u64, start.elapsed()))
    };
    // Prepared once and rebound, the cheapest way to issue the query repeatedly.
    let mut stmt = raw.prepare(PAGE_SQL)?;
    let mut raw_page = |status: CampaignStatus| -> Result<(u64, Duration)> {
        let start = Instant::now();
        let rows = stmt
            .query_map(rusqlite::params![status.as_str(), PAGE, 0], |r| SummaryRow::try_from(r))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((rows.len() as u64, start.elapsed()))
    };
    // Untimed first pass: prepares the statements and brings the pages into the cache.
    for &status in statuses {
        pluto_page(status)?;
        raw_page(status)?;
    }
    let rounds: Vec<CampaignStatus> = statuses.iter().copied().cycle().take(queries as usize).collect();
    alternate(&rounds, |&status| pluto_page(status), |&status| raw_page(status))
}

/// Times both sides once per input, alternating which goes first so that neither always finds
/// the other's cache state; each side returns the rows it read and how long it took.
fn alternate<T>(
    inputs: &[T],
    mut pluto: impl FnMut(&T) -> Result<(u64, Duration)>,
    mut raw: impl FnMut(&T) -> Result<(u64, Duration)>,
) -> Result<Samples> {
    let mut samples = Samples { pluto: Vec::new(), raw: Vec::new(), pluto_rows: 0, raw_rows: 0 };
    for (i, input) in inputs.iter().enumerate() {
        let (p, r) = if i % 2 == 0 {
            let p = pluto(input)?;
            (p, raw(input)?)
        } else {
            let r = raw(input)?;
            (pluto(input)?, r)
        };
        samples.pluto_rows += p.0;
        samples.pluto.push(p.1);
        samples.raw_rows += r.0;
        samples.raw.push(r.1);
    }
    Ok(samples)
}

impl Samples {
    fn figure(self, name: String, work: String) -> Figure {
        self.figure_with(name, work, TARGET)
    }

    fn figure_with(mut self, name: String, work: String, target: Duration) -> Figure {
        self.pluto.sort();
        self.raw.sort();
        let (p50, p99) = (percentile(&self.pluto, 0.5), percentile(&self.pluto, 0.99));
        let (r50, r99) = (percentile(&self.raw, 0.5), percentile(&self.raw, 0.99));
        Figure {
            name,
            work,
            pluto: format!("median {}, p99 {}", millis(p50), millis(p99)),
            baseline: format!("median {}, p99 {}", millis(r50), millis(r99)),
            ratio: Some(r50.as_secs_f64() / p50.as_secs_f64().max(f64::MIN_POSITIVE)),
            target: format!("p99 < {} ms", target.as_millis()),
            met: p99 < target,
            pluto_count: self.pluto_rows,
            baseline_count: self.raw_rows,
        }
    }
}
