//! Write budget: what one entry writes, part by part. Each entry of the append workload is
//! recorded alone in the write-ahead log (emptied before it), and the pages of its transaction
//! are attributed to the tables and indexes that own them (SQLite's `dbstat`), and so to the
//! parts of the store declared in `pluto_store::read_models`. The bare insert of the same row
//! into the same schema is measured the same way. Pages, not time: a durable commit's cost grows
//! with the pages it writes (each a 4 KiB frame of the log), and page counts do not drift with
//! the disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use pluto_domain::registry::upcast::Recording;
use pluto_domain::{Timestamp, UserId};
use pluto_store::read_models::{owner, READ_MODELS};
use pluto_store::{Draft, Store};
use rusqlite::Connection;

use crate::baseline::{self, Row};
use crate::gen::Population;
use crate::report::{thousands, Figure};

const SEED: u64 = 0xB0D6_E701;

/// Campaigns being worked on at once, as in the append benchmark.
const IN_FLIGHT: usize = 50;

/// The pages one transaction wrote: the page numbers of the frames in the write-ahead log
/// `wal` (emptied before the transaction), each counted once.
fn pages_written(wal: &Path) -> Result<Vec<u32>> {
    let bytes = std::fs::read(wal).with_context(|| format!("cannot read {}", wal.display()))?;
    if bytes.len() < 32 {
        return Ok(Vec::new());
    }
    let page_size = u32::from_be_bytes(bytes[8..12].try_into()?) as usize;
    let mut pages: Vec<u32> = bytes[32..]
        .chunks(24 + page_size)
        .map(|frame| u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]))
        .collect();
    pages.sort_unstable();
    pages.dedup();
    Ok(pages)
}

/// Empties the write-ahead log, so the next transaction's frames are all it holds.
fn empty_log(conn: &Connection) -> Result<()> {
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    anyhow::ensure!(busy == 0, "the write-ahead log could not be emptied");
    Ok(())
}

/// Which table or index owns each page, read again when a page is new to it.
struct PageOwners {
    owners: HashMap<u32, String>,
}

impl PageOwners {
    fn owner(&mut self, conn: &Connection, page: u32) -> Result<String> {
        if !self.owners.contains_key(&page) {
            let mut stmt = conn.prepare("SELECT pageno, name FROM dbstat")?;
            self.owners = stmt
                .query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
        }
        // Pages no b-tree holds: the file's header page, the free list.
        Ok(self.owners.get(&page).cloned().unwrap_or_else(|| "(file)".into()))
    }
}

fn wal_of(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Records `entries` entries of the append workload, and inserts the same rows bare, each alone
/// in the log, and counts the pages each part of the store wrote.
pub fn run(dir: &Path, entries: u64) -> Result<Vec<Figure>> {
    let db = dir.join("budget.sqlite3");
    let raw_db = dir.join("budget-baseline.sqlite3");
    let mut store = Store::open(&db)?;
    let mut raw = baseline::create(&raw_db)?;
    let user = UserId::parse("usr_bench").context("bench user id")?;
    let mut population = Population::new(SEED, u64::MAX, IN_FLIGHT);
    let (mut owners, mut raw_owners) =
        (PageOwners { owners: HashMap::new() }, PageOwners { owners: HashMap::new() });
    let mut by_part: HashMap<&'static str, u64> = HashMap::new();
    // Each table's and index's own pages, printed as the detail behind the parts.
    let mut by_btree: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    let (mut pluto_pages, mut raw_pages) = (0u64, 0u64);
    for _ in 0..entries {
        // Dated as an entry made now is checked: on this laptop's calendar.
        let (slot, campaign, planned) =
            population.plan(Recording::entry(Timestamp::now()).day.0).context("campaigns never run out")?;
        empty_log(store.connection())?;
        let recorded =
            store.record(Draft::new(campaign, planned.event_type, planned.data.clone(), user.clone()))?;
        for page in pages_written(&wal_of(&db))? {
            let btree = owners.owner(store.connection(), page)?;
            *by_btree.entry(btree.clone()).or_default() += 1;
            let part = owner(&btree).map_or("other (the file's header, free pages)", |m| m.name);
            *by_part.entry(part).or_default() += 1;
            pluto_pages += 1;
        }
        empty_log(&raw)?;
        baseline::insert_transaction(&mut raw, &[Row::from(&recorded.event)])?;
        for page in pages_written(&wal_of(&raw_db))? {
            raw_owners.owner(&raw, page)?;
            raw_pages += 1;
        }
        population.recorded(slot, planned, &recorded.event);
    }
    let per_entry = |pages: u64| pages as f64 / entries as f64;
    for (btree, pages) in &by_btree {
        eprintln!("write budget: {btree}: {:.2} pages per entry", per_entry(*pages));
    }
    let mut figures = vec![Figure {
        name: "write budget: pages one entry writes".into(),
        work: format!("{} entries of the append workload", thousands(entries)),
        pluto: format!("{:.1} pages", per_entry(pluto_pages)),
        baseline: format!("{:.1} pages (the bare insert)", per_entry(raw_pages)),
        ratio: Some(raw_pages as f64 / pluto_pages.max(1) as f64),
        target: "—".into(),
        met: true,
        pluto_count: pluto_pages,
        baseline_count: raw_pages,
    }];
    let parts = READ_MODELS
        .iter()
        .map(|m| (m.name, m.per_entry))
        .chain([("other (the file's header, free pages)", "")]);
    for (name, writes) in parts {
        let pages = by_part.get(name).copied().unwrap_or(0);
        figures.push(Figure {
            name: format!("… {name}"),
            work: writes.into(),
            pluto: format!(
                "{:.2} pages ({:.0} %)",
                per_entry(pages),
                100.0 * pages as f64 / pluto_pages.max(1) as f64
            ),
            baseline: String::new(),
            ratio: None,
            target: String::new(),
            met: true,
            pluto_count: pages,
            baseline_count: 0,
        });
    }
    Ok(figures)
}
