//! The reports over real stores: audit exports, the campaign list workbook, the period balance,
//! and the printable record of campaigns whose mistakes were resolved by voids and reviews.

use pluto_domain::event::Event;
use pluto_domain::ids::{CampaignId, DeviceId, EventId, UserId};
use pluto_domain::registry::EventType;
use pluto_domain::samples::SampleCampaign;
use pluto_domain::state::CampaignState;
use pluto_domain::time::Timestamp;
use pluto_reports::{audit, period};
use pluto_store::{Draft, ListQuery, Recorded, Seen, Selection, SortOrder, Store, StoreError};
use serde_json::json;

fn user() -> UserId {
    UserId::parse("usr_alex").unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    store: Store,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pluto.sqlite3");
    let store = Store::open(&path).unwrap();
    Fixture { _dir: dir, path, store }
}

/// Creates sample campaign `n` and records its steps up to `steps` (1 = created only).
fn campaign(store: &mut Store, n: u32, steps: usize) -> CampaignId {
    let sample = SampleCampaign::numbered(n);
    let mut id = None;
    for t in &EventType::STEPS[..steps] {
        let draft = Draft::new(id.clone(), *t, sample.payload(*t).unwrap(), user());
        id = Some(store.record(draft).unwrap().state.id);
    }
    id.unwrap()
}

/// Everything a refused entry must leave alone.
fn snapshot(store: &Store) -> (i64, String) {
    let events: i64 = store.connection().query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).unwrap();
    let mut stmt = store.connection().prepare("SELECT * FROM campaign_projections ORDER BY id").unwrap();
    let columns = stmt.column_count();
    let rows = stmt
        .query_map([], |r| {
            (0..columns).map(|i| r.get::<_, rusqlite::types::Value>(i)).collect::<Result<Vec<_>, _>>()
        })
        .unwrap();
    let projections = rows.map(|row| format!("{:?}", row.unwrap())).collect::<Vec<_>>().join("|");
    (events, projections)
}

fn all_states(store: &Store) -> Vec<CampaignState> {
    let page =
        store.list(&ListQuery { limit: 10_000, sort: SortOrder::Created, ..ListQuery::default() }).unwrap();
    page.rows.iter().map(|r| store.projection(&CampaignId::parse(&r.id).unwrap()).unwrap().unwrap()).collect()
}

/// The record and its CSV name the site the server attests for each entry.
#[test]
fn the_record_shows_the_site_the_server_attests() {
    let mut a = fixture();
    let id = campaign(&mut a.store, 2, 3);
    let page: Vec<pluto_protocol::PulledEvent> = a
        .store
        .unsynced(10)
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, e)| pluto_protocol::PulledEvent {
            position: i as i64 + 1,
            received_at: None,
            admin: false,
            site: Some(["LEGO", "MBA", "MBA"][i].into()),
            event: serde_json::value::to_raw_value(e).unwrap(),
        })
        .collect();
    let mut b = fixture();
    b.store.apply_pulled(&page, 3).unwrap();
    let sites = b.store.server_sites(&id).unwrap();
    let history = b.store.history(&id).unwrap();
    let mut record = pluto_reports::record::CampaignRecord::of(&history, None, Timestamp::now()).unwrap();
    record.attest_sites(&sites);
    assert_eq!(record.events[0].site.as_deref(), Some("LEGO"));
    let csv = record.custody_csv(pluto_reports::record::CsvSeparator::Comma, &chrono::Utc, false);
    assert!(String::from_utf8(csv).unwrap().lines().nth(1).unwrap().contains(",LEGO,"));
}

/// An audit export of chosen campaigns holds exactly their events in log order, verifies as
/// exported, names the installation's key (the same at every export), and imports like a
/// plain export.
#[test]
fn an_audit_export_of_chosen_campaigns_verifies_and_imports() {
    let mut a = fixture();
    let first = campaign(&mut a.store, 21, 5);
    let _other = campaign(&mut a.store, 22, 3);
    let third = campaign(&mut a.store, 23, 4);
    let selection =
        Selection { campaigns: Some(vec![first.to_string(), third.to_string()]), ..Default::default() };
    let mut out = Vec::new();
    let key = audit::audit_key(&mut a.store).unwrap();
    let manifest = audit::export(&a.store, &key, &selection, &mut out).unwrap();
    assert_eq!(manifest.events.len(), 9);
    assert!(manifest.events.windows(2).all(|w| w[0].seq < w[1].seq), "log order");
    assert_eq!(manifest.public_key, audit::audit_key(&mut a.store).unwrap().public_key());
    assert_eq!(manifest.device_id, a.store.device_id().as_str());

    let verification = pluto_reports::audit::verify(out.as_slice()).unwrap();
    assert!(verification.is_intact(), "{:?}", verification.findings);
    assert_eq!(verification.manifest, manifest);
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(!text.contains("\"training\""), "a real export's manifest reads as earlier builds wrote it");

    // An export of practice data says so inside what the signature covers.
    let practice = Selection { training: true, ..selection.clone() };
    let mut training = Vec::new();
    audit::export(&a.store, &key, &practice, &mut training).unwrap();
    let verification = pluto_reports::audit::verify(training.as_slice()).unwrap();
    assert!(verification.is_intact(), "{:?}", verification.findings);
    assert!(verification.manifest.selection.to_string().contains("TRAINING"));
    let forged = String::from_utf8(training).unwrap().replace("\"training\":true", "\"training\":false");
    assert!(
        !pluto_reports::audit::verify(forged.as_bytes()).unwrap().is_intact(),
        "the mark cannot be removed unseen"
    );

    let mut b = fixture();
    assert_eq!(b.store.import(out.as_slice()).unwrap().inserted, 9);
    assert_eq!(all_states(&b.store).len(), 2);

    // As many campaigns as a year's report stands on: more than SQLite takes as parameters.
    let many = Selection {
        campaigns: Some(
            (0..40_000)
                .map(|_| CampaignId::generate().to_string())
                .chain([first.to_string(), third.to_string()])
                .collect(),
        ),
        ..Default::default()
    };
    assert_eq!(audit::export(&a.store, &key, &many, std::io::sink()).unwrap().events, manifest.events);

    // A period: nothing was recorded before the first event, everything before the far future.
    let period = |from: &str, to: &str| Selection {
        from: Some(from.into()),
        to: Some(to.into()),
        ..Default::default()
    };
    let none = audit::export(
        &a.store,
        &key,
        &period("2000-01-01T00:00:00.000Z", "2000-02-01T00:00:00.000Z"),
        std::io::sink(),
    );
    assert!(none.unwrap().events.is_empty());
    let all = audit::export(
        &a.store,
        &key,
        &period("2000-01-01T00:00:00.000Z", "2999-01-01T00:00:00.000Z"),
        std::io::sink(),
    );
    assert_eq!(all.unwrap().events.len(), 12);
}

/// The list's workbook holds every campaign the filter matches, not only the page on screen,
/// and states the filter it was made with.
#[test]
fn the_campaign_list_workbook_holds_every_match_with_the_filter_written_above() {
    use calamine::{Data, Reader, Xlsx};
    let mut f = fixture();
    for n in 0..60 {
        campaign(&mut f.store, n, 1 + (n as usize % 3));
    }
    let query = ListQuery {
        status: Some(pluto_domain::registry::CampaignStatus::GranulationComplete),
        limit: 10,
        offset: 10,
        ..ListQuery::default()
    };
    let rows = f.store.list_every(&query).unwrap();
    assert_eq!(rows.len(), 20, "page size and offset do not limit the file");
    let bytes = pluto_reports::xlsx::campaign_list(&rows, &query, false).unwrap();
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range("Campaigns").unwrap();
    let table: Vec<Vec<Data>> = sheet.rows().map(<[Data]>::to_vec).collect();
    assert_eq!(table[1][1], Data::String("Granulation complete".into()), "the filter is stated");
    let header = table.iter().position(|r| r[0] == Data::String("Code".into())).unwrap();
    let body = &table[header + 1..];
    assert_eq!(body.len(), 20);
    for (row, summary) in body.iter().zip(&rows) {
        assert_eq!(row[0], Data::String(summary.lego_campaign_code.clone().unwrap()));
        assert_eq!(row[3], Data::String("Granulation complete".into()));
        assert_eq!(row[6], Data::Float(summary.current_weight_kg.unwrap()), "weights are numbers");
        assert_eq!(row[7], Data::Bool(false));
        assert!(matches!(row[8], Data::DateTime(_)), "last activity is a date: {:?}", row[8]);
        assert_eq!(row[9], Data::Float(f64::from(summary.event_count)));
        assert_eq!(row[12], Data::String(summary.id.clone()));
    }
}

#[test]
fn a_period_report_reads_the_stored_campaigns_and_an_older_store_gets_its_flows_on_opening() {
    use pluto_reports::period::{Period, PeriodReportBuilder, Scope};
    let mut f = fixture();
    pluto_store::training::fill_training(&mut f.store, &user()).unwrap();
    let year = Period::new(
        pluto_domain::time::parse_date("2026-01-01").unwrap(),
        pluto_domain::time::parse_date("2026-12-31").unwrap(),
    )
    .unwrap();
    let report = period::report(&f.store, year, Scope::default()).unwrap();
    // The same as folding every campaign's events.
    let mut expected = PeriodReportBuilder::new(year, Scope::default());
    for state in all_states(&f.store) {
        let events = f.store.history(&state.id).unwrap();
        let reference = pluto_reports::period::CampaignRef {
            id: state.id.clone(),
            code: state.lego_campaign_code.clone(),
            material: state.material_type,
        };
        expected.add(reference, &pluto_domain::fold::fold(&events).unwrap().flows);
    }
    let mut expected = expected.finish();
    // The store reads campaigns in id order; order the fold's the same way to compare.
    let order = |r: &mut pluto_reports::period::PeriodReport| {
        let mut ids: Vec<_> = r.campaigns.iter().map(|c| c.id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(order(&mut expected), report.campaigns.iter().map(|c| c.id.clone()).collect::<Vec<_>>());
    assert_eq!(expected.lines.len(), report.lines.len());
    for (a, b) in expected.lines.iter().zip(&report.lines) {
        assert_eq!((a.measure, a.figure.total), (b.measure, b.figure.total));
    }
    assert!(report.imbalance().abs() < 1e-6, "{}", report.imbalance());
    assert!(report.lines.iter().any(|l| l.measure == pluto_reports::period::Measure::MadeIntoParts));

    // A store from before the balance: no flows yet, marked by migration 10.
    f.store
        .connection()
        .execute_batch(
            "UPDATE campaign_projections SET flows = NULL; INSERT INTO meta VALUES ('flows_pending', '1');",
        )
        .unwrap();
    assert!(!f.store.verify().unwrap().is_empty(), "verify sees the missing flows");
    drop(f.store);
    let store = Store::open(&f.path).unwrap();
    assert!(store.verify().unwrap().is_empty());
    assert_eq!(period::report(&store, year, Scope::default()).unwrap(), report);

    // A store of schema version 10 kept the flows as JSON text: version 11 folds them again.
    store
        .connection()
        .execute_batch(
            "ALTER TABLE campaign_projections DROP COLUMN order_position;
             ALTER TABLE campaign_projections DROP COLUMN order_pending;
             DROP TABLE push_receipts;
             DROP INDEX events_by_stream;
             CREATE INDEX events_by_stream ON events (stream_id, id);
             ALTER TABLE campaign_projections DROP COLUMN flows;
             ALTER TABLE campaign_projections ADD COLUMN flows TEXT;
             UPDATE campaign_projections SET flows = '{\"steps\":[{\"step\":\"created\"}]}';
             DROP TABLE search_index;
             DROP TABLE search_pending;
             CREATE TABLE search_docs (id INTEGER PRIMARY KEY, campaign_id TEXT NOT NULL UNIQUE, refs TEXT NOT NULL) STRICT;
             CREATE VIRTUAL TABLE search_index USING fts5(refs, content = 'search_docs', content_rowid = 'id',
                 tokenize = 'unicode61', detail = none, columnsize = 0);
             PRAGMA user_version = 10;",
        )
        .unwrap();
    drop(store);
    let store = Store::open(&f.path).unwrap();
    assert!(store.verify().unwrap().is_empty());
    assert_eq!(period::report(&store, year, Scope::default()).unwrap(), report);
}

/// Voids and reviews: mistakes resolved as events, never by changing what was recorded.
mod resolving {
    use super::*;
    use pluto_domain::anomaly::AnomalyKind;
    use pluto_domain::registry::CampaignStatus;
    use pluto_reports::record::CampaignRecord;

    /// A copy of the campaign's latest event as another laptop would have recorded it again.
    fn duplicate_of_latest(store: &mut Store, id: &CampaignId) -> Event {
        let original = store.history(id).unwrap().pop().unwrap();
        let at = Timestamp::now();
        let duplicate = Event {
            id: EventId::generate(at.system_time()),
            device_id: DeviceId::generate(),
            device_seq: 1,
            created_at: at,
            ..original
        };
        store.apply_remote(std::slice::from_ref(&duplicate)).unwrap();
        duplicate
    }

    fn record_of(store: &Store, id: &CampaignId) -> CampaignRecord {
        CampaignRecord::of(&store.history(id).unwrap(), None, Timestamp::now()).unwrap()
    }

    /// The projection as stored, and as a rebuild derives it: they must agree.
    fn assert_rebuild_agrees(store: &mut Store, id: &CampaignId) {
        let stored = store.projection(id).unwrap().unwrap();
        assert!(store.verify().unwrap().is_empty(), "verify is clean");
        store.rebuild().unwrap();
        assert_eq!(store.projection(id).unwrap().unwrap(), stored, "incremental equals replay");
    }

    #[test]
    fn a_voided_duplicate_clears_its_anomaly_and_stays_in_the_history() {
        let mut f = fixture();
        let id = campaign(&mut f.store, 1, 2);
        let duplicate = duplicate_of_latest(&mut f.store, &id);
        assert_eq!(f.store.projection(&id).unwrap().unwrap().unreviewed_anomalies(), 1);
        f.store
            .void(
                &id,
                &duplicate.id,
                "Same weighbridge ticket entered on two laptops",
                user(),
                Seen::default(),
            )
            .unwrap();
        let state = f.store.projection(&id).unwrap().unwrap();
        assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
        assert_eq!(state.status, CampaignStatus::InboundShipmentRecorded);
        let record = record_of(&f.store, &id);
        let voided = record.events.iter().find(|e| e.event.id == duplicate.id).unwrap();
        let note = voided.voided.as_ref().expect("marked voided");
        assert_eq!(note.reason, "Same weighbridge ticket entered on two laptops");
        assert_eq!(note.voided_by_name, "Alex");
        let void = record.events.last().unwrap().void.as_ref().expect("the void says what it voids");
        assert_eq!(void.voids_label, "Inbound Shipment");
        assert!(f.store.work(&[], Timestamp::now(), 10).unwrap().anomalies.is_empty());
        assert_rebuild_agrees(&mut f.store, &id);
    }

    #[test]
    fn a_voided_last_step_can_be_recorded_again() {
        let mut f = fixture();
        let id = campaign(&mut f.store, 1, 3);
        let granulation = f.store.history(&id).unwrap().pop().unwrap();
        f.store
            .void(&id, &granulation.id, "Recorded on the wrong campaign", user(), Seen::default())
            .unwrap();
        let state = f.store.projection(&id).unwrap().unwrap();
        assert_eq!(state.status, CampaignStatus::InboundShipmentRecorded);
        assert_eq!(state.next_event_type(), Some(EventType::GranulationCompleted));
        let sample = SampleCampaign::numbered(1);
        let again = Draft::new(
            Some(id.clone()),
            EventType::GranulationCompleted,
            sample.payload(EventType::GranulationCompleted).unwrap(),
            user(),
        );
        let state = f.store.record(again).unwrap().state;
        assert_eq!(state.status, CampaignStatus::GranulationComplete);
        assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
        assert_rebuild_agrees(&mut f.store, &id);
    }

    #[test]
    fn voids_that_would_lose_or_break_something_are_refused_and_change_nothing() {
        let mut f = fixture();
        let id = campaign(&mut f.store, 1, 4);
        let history = f.store.history(&id).unwrap();
        let before = snapshot(&f.store);
        let refusal = |r: Result<Recorded, StoreError>| match r.unwrap_err() {
            StoreError::Refused(refusal) => refusal.to_string(),
            other => panic!("expected a refusal, got {other}"),
        };
        let created = refusal(f.store.void(&id, &history[0].id, "wrong", user(), Seen::default()));
        assert!(created.contains("creation cannot be voided"), "{created}");
        let middle = refusal(f.store.void(&id, &history[2].id, "wrong", user(), Seen::default()));
        assert!(middle.contains("void the later steps first"), "{middle}");
        let blank = refusal(f.store.void(&id, &history[3].id, "  ", user(), Seen::default()));
        assert!(blank.contains("reason"), "{blank}");
        let elsewhere = campaign(&mut f.store, 2, 2);
        let before_other = snapshot(&f.store);
        let wrong_campaign =
            refusal(f.store.void(&elsewhere, &history[3].id, "wrong", user(), Seen::default()));
        assert!(wrong_campaign.contains("no entry"), "{wrong_campaign}");
        assert_eq!(snapshot(&f.store), before_other);
        f.store.void(&id, &history[3].id, "Entered twice", user(), Seen::default()).unwrap();
        let twice = refusal(f.store.void(&id, &history[3].id, "again", user(), Seen::default()));
        assert!(twice.contains("already voided by Alex"), "{twice}");
        assert_ne!(snapshot(&f.store), before, "only the one accepted void was stored");
    }

    #[test]
    fn a_reviewed_anomaly_leaves_the_badge_but_stays_in_the_record() {
        let mut f = fixture();
        let id = campaign(&mut f.store, 1, 2);
        let duplicate = duplicate_of_latest(&mut f.store, &id);
        let refusal = |r: Result<Recorded, StoreError>| r.unwrap_err().to_string();
        let wrong_kind = refusal(f.store.review(&id, &duplicate.id, AnomalyKind::SkippedSteps, "ok", user()));
        assert!(wrong_kind.contains("has no skipped_steps anomaly; it has duplicate_step"), "{wrong_kind}");
        f.store
            .review(
                &id,
                &duplicate.id,
                AnomalyKind::DuplicateStep,
                "Checked: the second entry is a resend",
                user(),
            )
            .unwrap();
        let state = f.store.projection(&id).unwrap().unwrap();
        assert_eq!(state.unreviewed_anomalies(), 0);
        assert_eq!(state.anomalies.len(), 1, "the history keeps it");
        let work = f.store.work(&[], Timestamp::now(), 10).unwrap();
        assert_eq!(work.anomalies_total, 0);
        let record = record_of(&f.store, &id);
        assert_eq!(record.anomalies[0].reviewed_by_name.as_deref(), Some("Alex"));
        let review = record.events.last().unwrap().review.as_ref().unwrap();
        assert_eq!(review.entry_label, "Inbound Shipment");
        let again = refusal(f.store.review(&id, &duplicate.id, AnomalyKind::DuplicateStep, "x", user()));
        assert!(again.contains("already reviewed by Alex"), "{again}");
        assert_rebuild_agrees(&mut f.store, &id);
    }

    #[test]
    fn a_review_that_arrives_before_its_anomaly_waits_for_it() {
        // Laptop B's clock runs behind: its review sorts before the duplicate it reviews.
        let mut f = fixture();
        let id = campaign(&mut f.store, 1, 2);
        let original = f.store.history(&id).unwrap().pop().unwrap();
        let base = original.created_at.millis();
        let device = DeviceId::generate();
        let at = |ms: i64| Timestamp::from_millis(base + ms);
        let duplicate = Event {
            id: EventId::generate(at(60_000).system_time()),
            device_id: device.clone(),
            device_seq: 1,
            created_at: at(60_000),
            ..original.clone()
        };
        let review = Event {
            id: EventId::generate(at(30_000).system_time()),
            event_type: EventType::AnomalyReviewed,
            data: json!({ "eventId": duplicate.id, "anomalyKind": "duplicate_step", "note": "resend" }),
            device_id: device,
            device_seq: 2,
            created_at: at(30_000),
            ..original
        };
        f.store.apply_remote(std::slice::from_ref(&review)).unwrap();
        assert_eq!(f.store.projection(&id).unwrap().unwrap().pending_reviews.len(), 1);
        f.store.apply_remote(&[duplicate]).unwrap();
        let state = f.store.projection(&id).unwrap().unwrap();
        assert_eq!((state.anomalies.len(), state.unreviewed_anomalies()), (1, 0));
        assert!(state.pending_reviews.is_empty());
        assert_rebuild_agrees(&mut f.store, &id);
    }
}

#[test]
fn a_conflict_says_who_recorded_what_meanwhile() {
    let mut f = fixture();
    let id = campaign(&mut f.store, 1, 3);
    let note = f.store.changed_since(&id, 1).unwrap();
    assert!(note.starts_with("Alex recorded Inbound Shipment at "), "{note}");
    assert!(note.contains(", and Alex recorded Granulation at "), "{note}");
    assert!(
        note.ends_with("on this campaign while you were typing; check them, then record again."),
        "{note}"
    );
    let one = f.store.changed_since(&id, 2).unwrap();
    assert!(
        one.starts_with("Alex recorded Granulation at ") && one.ends_with("check it, then record again."),
        "{one}"
    );
}
