//! Custody PDF: what `pluto report custody` does for a campaign of 100 events (its history read,
//! folded into the full record with the sites attested, the fingerprint of its audit export, and
//! the PDF laid out), against a bare read of the campaign's 100 rows on the same file with the
//! same pragmas. The issue asks under 500 ms.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use pluto_domain::{Timestamp, UserId};
use pluto_reports::pdf::{custody_record, Locale, Stamp};
use pluto_reports::record::CampaignRecord;
use pluto_store::Store;

use crate::app::grow;

use crate::app::EVENTS;
use crate::baseline;
use crate::report::{millis, percentile, Figure};

/// The bound.
const TARGET: Duration = Duration::from_millis(500);

/// Makes the PDF of each of `campaigns` campaigns of `EVENTS` events.
pub fn run(dir: &Path, campaigns: u32) -> Result<Figure> {
    let path = dir.join("pdf.sqlite3");
    let mut store = Store::open(&path)?;
    let user = UserId::parse("usr_søren.müller").context("bench user id")?;
    let ids = (0..campaigns).map(|n| grow(&mut store, &user, n, EVENTS)).collect::<Result<Vec<_>>>()?;
    let raw = baseline::open(&path)?;
    let key = pluto_reports::audit::audit_key(&mut store)?;
    let public_key = key.public_key();
    let (mut pluto, mut bare) = (Vec::new(), Vec::new());
    let mut pages = 0;
    for id in &ids {
        let start = Instant::now();
        let events = store.history(id)?;
        let mut record = CampaignRecord::of(&events, None, Timestamp::now()).context("a record")?;
        record.attest_sites(&store.server_sites(id)?);
        let fingerprint = pluto_reports::audit::custody_fingerprint(&store, &key, id)?;
        let stamp = Stamp {
            locale: Locale::Da,
            tz: &chrono::Local,
            training: false,
            made_at: Timestamp::now(),
            made_by: user.display_name(),
            public_key: public_key.clone(),
        };
        let pdf = custody_record(&record, &stamp, &fingerprint);
        pluto.push(start.elapsed());
        pages = pdf.windows(b"/Type /Page\n".len()).filter(|w| w == b"/Type /Page\n").count().max(pages);
        ensure!(pdf.starts_with(b"%PDF-"), "not a PDF");

        let start = Instant::now();
        let mut stmt = raw.prepare_cached("SELECT id, data FROM events WHERE stream_id = ?1 ORDER BY id")?;
        let read =
            stmt.query_map([id.as_str()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?.count();
        bare.push(start.elapsed());
        ensure!(read == EVENTS, "the baseline read {read} rows of campaign {id}, expected {EVENTS}");
    }
    pluto.sort();
    bare.sort();
    let (p50, p99) = (percentile(&pluto, 0.5), percentile(&pluto, 0.99));
    let b50 = percentile(&bare, 0.5);
    Ok(Figure {
        name: "custody PDF (`pluto report custody`)".into(),
        work: format!("{campaigns} campaigns of {EVENTS} events each"),
        pluto: format!("p50 {} / p99 {}", millis(p50), millis(p99)),
        baseline: format!("p50 {} (bare read of the 100 rows)", millis(b50)),
        ratio: Some(b50.as_secs_f64() / p50.as_secs_f64()),
        target: format!("< {} ms (p99)", TARGET.as_millis()),
        met: p99 < TARGET,
        pluto_count: pluto.len() as u64,
        baseline_count: bare.len() as u64,
    })
}
