//! Databases written by earlier versions open with this code: every fixture in `tests/fixtures`
//! (one per schema version a build has written) is migrated on a copy, and then every event is
//! still there, every projection equals the fold of its events, and `verify` finds no drift.
//!
//! With each release, add a database written by it (`pluto init`, a few campaigns with a
//! correction) as `schema-vN.sqlite3`. The fixtures of versions 1 and 6 to 11 were written by the
//! `pluto` built at the last commit with that many migrations: three campaigns (one through the
//! transfer to RGE, one with a corrected inbound weight, one with an entry voided and recorded
//! again from version 9 on) and, imported from another laptop, an ECHA approval, a transfer and a
//! manufacturing start recorded before the second campaign's granulation arrived. No build ever
//! wrote version 2 (version 3 came with it). The fixture of version 13 holds three campaigns
//! recorded with `pluto record` and the spec's example payloads (through manufacturing start,
//! through extrusion, through metal removal). The fixtures of versions 14 and 15 are the same store
//! opened (migrated, every campaign folded again) and backed up (`pluto backup`) by the build of
//! that version; `pluto-registry-check` reads the newest with a step inserted into the progression.

use std::path::Path;

use pluto_domain::{fold, AnomalyKind, CampaignId, CampaignStatus};
use pluto_store::{ListQuery, Store};

fn open_copy(fixture: &Path, dir: &Path) -> Store {
    let copy = dir.join(fixture.file_name().unwrap());
    std::fs::copy(fixture, &copy).unwrap();
    Store::open(&copy).unwrap_or_else(|e| panic!("{} does not open: {e}", fixture.display()))
}

/// Reads a fixture as it is, without writing a byte beside it (no `-wal` or `-shm` file).
fn read_fixture(fixture: &Path) -> rusqlite::Connection {
    let uri = format!("file:{}?immutable=1", fixture.display());
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
    rusqlite::Connection::open_with_flags(uri, flags).unwrap()
}

#[test]
fn every_fixture_opens_migrated_with_every_event_and_projection_intact() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut seen = 0;
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "sqlite3") {
            continue;
        }
        seen += 1;
        let dir = tempfile::tempdir().unwrap();
        let before: i64 =
            read_fixture(&path).query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).unwrap();
        let store = open_copy(&path, dir.path());
        let after: i64 =
            store.connection().query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).unwrap();
        assert_eq!(after, before, "{}: events lost or added by the migration", path.display());
        assert!(store.verify().unwrap().is_empty(), "{}: projections drift after migrating", path.display());
        let page = store.list(&ListQuery { limit: 500, ..Default::default() }).unwrap();
        for row in &page.rows {
            let id = CampaignId::parse(&row.id).unwrap();
            let folded = fold(&store.history(&id).unwrap()).unwrap().into_projection();
            assert_eq!(store.projection(&id).unwrap().unwrap(), folded, "{}: {id}", path.display());
        }
    }
    assert!(seen > 0, "no fixture in {}", fixtures.display());
}

/// issue 26: a store written by a build that folded in id order is folded again in the
/// canonical order when it is first opened. The imported entries that arrived ahead of the
/// second campaign's processing steps no longer move it to "manufacturing started", with its
/// own granulation read as late: they wait for the missing steps.
#[test]
fn an_older_store_is_folded_again_in_the_canonical_order() {
    for version in [1, 6, 7, 8, 9, 10, 11] {
        let dir = tempfile::tempdir().unwrap();
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/schema-v{version}.sqlite3"));
        let before: String = read_fixture(&fixture)
            .query_row(
                "SELECT status FROM campaign_projections WHERE lego_campaign_code LIKE 'LEGO-FX-%-2'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(before, "manufacturing_started", "v{version} as its own build showed it");
        let store = open_copy(&fixture, dir.path());
        let page = store.list(&ListQuery { search: Some("-2".into()), ..Default::default() }).unwrap();
        let row = page
            .rows
            .iter()
            .find(|r| r.lego_campaign_code.as_deref().is_some_and(|c| c.ends_with("-2")))
            .unwrap();
        let state = store.campaign(&CampaignId::parse(&row.id).unwrap()).unwrap().unwrap();
        assert_eq!(state.status, CampaignStatus::GranulationComplete, "v{version}");
        assert_eq!(state.inbound_net_weight_kg, Some(4950.0), "v{version}: the correction still applies");
        let kinds: Vec<_> = state.anomalies.iter().map(|a| (a.kind, a.resolved)).collect();
        assert_eq!(
            kinds,
            [(AnomalyKind::SkippedSteps, false); 3],
            "v{version}: the approval, the transfer and the start wait for the missing steps"
        );
        assert!(store.verify().unwrap().is_empty(), "v{version}");
    }
}

#[test]
fn the_schema_3_fixture_reads_as_it_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_copy(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema-v3.sqlite3"),
        dir.path(),
    );
    let page = store.list(&ListQuery::default()).unwrap();
    assert_eq!(page.total, 2);
    let fx1 = page.rows.iter().find(|r| r.lego_campaign_code.as_deref() == Some("LEGO-2026-FX1")).unwrap();
    let state = store.campaign(&CampaignId::parse(&fx1.id).unwrap()).unwrap().unwrap();
    assert_eq!(state.status, CampaignStatus::GranulationComplete);
    assert_eq!(state.inbound_net_weight_kg, Some(9990.0), "the correction still applies");
    assert_eq!((state.event_count, state.correction_count), (4, 1));
}

/// Schema 5 keeps what a newer Pluto wrote as it was received: this fixture holds an event of a
/// type this build does not know (`SampleRetained`) and a correction of it.
#[test]
fn the_schema_5_fixture_keeps_a_newer_plutos_entries_as_received() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_copy(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema-v5.sqlite3"),
        dir.path(),
    );
    let id = CampaignId::parse("cmp_01M8T3S1M5SEERWVD3PADWMP98").unwrap();
    assert_eq!(store.projection(&id).unwrap().unwrap().newer_entries, 2);
    let mut export = Vec::new();
    store.export(&mut export).unwrap();
    let export = String::from_utf8(export).unwrap();
    assert!(export.lines().any(|l| l.starts_with(r#"{"id":"evt_01KBFX5V00000000000000000A","streamType":"campaign","#)
        && l.contains(r#""eventType":"SampleRetained","schemaVersion":2,"data":{"sampleId":"S-17","retainedBy":"Ana Jensen"}"#)));
}
