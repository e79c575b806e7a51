//! The store against real SQLite files in a temporary folder.

use serde_json::{json, Value};

use super::*;
use pluto_domain::event::Event;
use pluto_domain::ids::UserId;
use pluto_domain::registry::{EventType, Payload};
use pluto_domain::samples::SampleCampaign;
use pluto_domain::state::CampaignState;
use pluto_domain::time::Timestamp;

fn user() -> UserId {
    UserId::parse("usr_alex").unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
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

fn count(store: &Store, sql: &str) -> i64 {
    store.connection().query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Everything a refused entry must leave alone.
fn snapshot(store: &Store) -> (i64, String) {
    let events = count(store, "SELECT COUNT(*) FROM events");
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

#[test]
fn events_cannot_be_updated_or_deleted_in_sql() {
    let mut f = fixture();
    campaign(&mut f.store, 1, 3);
    let conn = f.store.connection();
    let before = snapshot(&f.store);
    for sql in [
        "UPDATE events SET data = '{}'",
        "UPDATE events SET created_at = '2000-01-01T00:00:00.000Z'",
        "UPDATE events SET id = id || 'x'",
        "UPDATE events SET raw = '{}'",
        "DELETE FROM events",
    ] {
        let err = conn.execute(sql, []).unwrap_err();
        assert!(err.to_string().contains("events are append-only"), "{sql}: {err}");
    }
    assert_eq!(snapshot(&f.store), before);
    // The sync column may be set once, and is final afterwards.
    conn.execute("UPDATE events SET server_position = seq", []).unwrap();
    let err = conn.execute("UPDATE events SET server_position = seq + 1", []).unwrap_err();
    assert!(err.to_string().contains("server position is final"), "{err}");
}

#[test]
fn lifecycle_is_recorded_with_gapless_device_sequence() {
    let mut f = fixture();
    let id = campaign(&mut f.store, 2, 12);
    let state = f.store.campaign(&id).unwrap().unwrap();
    assert_eq!(state.status, pluto_domain::registry::CampaignStatus::Completed);
    assert_eq!(state.next_expected_step, None);
    let history = f.store.history(&id).unwrap();
    let seqs: Vec<u64> = history.iter().map(|e| e.device_seq).collect();
    assert_eq!(seqs, (1..=12).collect::<Vec<_>>());
    assert!(history.iter().all(|e| &e.device_id == f.store.device_id() && e.user_id == user()));
    assert!(history.windows(2).all(|w| w[0].id < w[1].id));
    assert!(f.store.verify().unwrap().is_empty());
}

#[test]
fn refused_entries_change_nothing() {
    let mut f = fixture();
    let id = campaign(&mut f.store, 3, 2);
    let before = snapshot(&f.store);
    let attempts = [
        (
            EventType::GranulationCompleted,
            json!({"ticketNumber": "T", "startingWeightKg": 10, "outputWeightKg": 11}),
        ),
        (
            EventType::ExtrusionCompleted,
            SampleCampaign::numbered(3).payload(EventType::ExtrusionCompleted).unwrap(),
        ),
        (
            EventType::CampaignCreated,
            SampleCampaign::numbered(3).payload(EventType::CampaignCreated).unwrap(),
        ),
        (EventType::InboundShipmentRecorded, json!({"nonsense": true})),
    ];
    for (t, data) in attempts {
        let err = f.store.record(Draft::new(Some(id.clone()), t, data, user())).unwrap_err();
        assert!(err.is_refusal(), "{err}");
    }
    let unknown = CampaignId::generate();
    let err = f
        .store
        .record(Draft::new(Some(unknown), EventType::InboundShipmentRecorded, json!({}), user()))
        .unwrap_err();
    assert!(err.is_refusal());
    assert_eq!(snapshot(&f.store), before);
    // The device sequence has no gap after refusals.
    let next = f
        .store
        .record(Draft::new(
            Some(id),
            EventType::GranulationCompleted,
            SampleCampaign::numbered(3).payload(EventType::GranulationCompleted).unwrap(),
            user(),
        ))
        .unwrap();
    assert_eq!(next.event.device_seq, 3);
}

#[test]
fn an_entry_larger_than_any_server_takes_is_refused_at_entry() {
    let mut f = fixture();
    let id = campaign(&mut f.store, 4, 2);
    let before = snapshot(&f.store);
    // Each text is within its 10,000 characters, but four of them in four-byte characters make
    // an event no server or laptop takes (128 KiB): refused here, not after weeks in the outbox.
    let full = "\u{1F4E6}".repeat(pluto_domain::registry::payload::MAX_TEXT_CHARS);
    let mut data = SampleCampaign::numbered(4).payload(EventType::GranulationCompleted).unwrap();
    for field in ["ticketNumber", "polymerComposition", "wasteCode", "notes"] {
        data[field] = json!(full);
    }
    let err =
        f.store.record(Draft::new(Some(id), EventType::GranulationCompleted, data, user())).unwrap_err();
    assert!(err.is_refusal(), "{err}");
    let message = err.to_string();
    assert!(message.contains("data") && message.contains("131072 bytes"), "{message}");
    assert_eq!(snapshot(&f.store), before);
}

#[test]
fn expected_version_detects_a_concurrent_writer() {
    let mut f = fixture();
    let id = campaign(&mut f.store, 4, 2);
    let mut other = Store::open(&f.path).unwrap();
    let data = SampleCampaign::numbered(4).payload(EventType::GranulationCompleted).unwrap();
    let mut draft = Draft::new(Some(id.clone()), EventType::GranulationCompleted, data, user());
    draft.expected_version = Some(2);
    other.record(draft.clone()).unwrap();
    let err = f.store.record(draft).unwrap_err();
    assert!(matches!(err, StoreError::Conflict { expected: 2, actual: 3, .. }), "{err}");
    assert!(err.to_string().contains("reload it and try again"));
}

#[test]
fn recording_the_same_event_twice_is_a_no_op() {
    let mut f = fixture();
    let id = campaign(&mut f.store, 5, 2);
    let data = SampleCampaign::numbered(5).payload(EventType::GranulationCompleted).unwrap();
    let mut draft = Draft::new(Some(id.clone()), EventType::GranulationCompleted, data, user());
    draft.event_id = Some(EventId::generate(std::time::SystemTime::now()));
    let first = f.store.record(draft.clone()).unwrap();
    let again = f.store.record(draft.clone()).unwrap();
    assert!(first.new && !again.new);
    assert_eq!(first.event, again.event);
    assert_eq!(f.store.history(&id).unwrap().len(), 3);
    draft.data["ticketNumber"] = json!("OTHER");
    let err = f.store.record(draft).unwrap_err();
    assert!(matches!(err, StoreError::IdReused { .. }), "{err}");
}

#[test]
fn corrections_are_strict_on_this_laptop() {
    let mut f = fixture();
    let id = campaign(&mut f.store, 6, 3);
    let history = f.store.history(&id).unwrap();
    let inbound = &history[1];
    let net = inbound.data["netWeightKg"].clone();
    let correct = |field: &str, was: Value, now: Value| {
        json!({
            "correctsEventId": inbound.id, "correctsEventType": "InboundShipmentRecorded",
            "reason": "scale calibration", "changes": { field: {"was": was, "now": now} }
        })
    };
    let gross = inbound.data["grossWeightKg"].clone();
    let cases = [
        (correct("netWeightKg", json!(1), json!(5)), "changes.netWeightKg.was"),
        (correct("netWeightKg", net.clone(), net.clone()), "changes.netWeightKg.now"),
        (
            correct("netWeightKg", net.clone(), json!(gross.as_f64().unwrap() + 1.0)),
            "changes.netWeightKg.now",
        ),
        // Shipped after it arrived: the corrected entry breaks its own rule.
        (correct("shipDate", inbound.data["shipDate"].clone(), json!("2026-12-01")), "changes"),
        // A day still to come is no day something happened.
        (correct("shipDate", inbound.data["shipDate"].clone(), json!("2030-01-01")), "changes.shipDate.now"),
    ];
    let before = snapshot(&f.store);
    for (data, field) in cases {
        let err = f
            .store
            .record(Draft::new(Some(id.clone()), EventType::EventCorrected, data, user()))
            .unwrap_err();
        match err {
            StoreError::Refused(r) => assert_eq!(r.field(), Some(field), "{r}"),
            other => panic!("{other}"),
        }
    }
    assert_eq!(snapshot(&f.store), before);
    let fixed = f
        .store
        .record(Draft::new(
            Some(id.clone()),
            EventType::EventCorrected,
            correct("netWeightKg", net.clone(), json!(net.as_f64().unwrap() - 10.0)),
            user(),
        ))
        .unwrap();
    let full = f.store.campaign(&id).unwrap().unwrap();
    assert_eq!(fixed.state, full.clone().into_projection());
    assert_eq!(fixed.state.current_weight_kg, Some(full.steps.granulation.unwrap().data.output_weight_kg));
    assert_eq!(fixed.state.inbound_net_weight_kg, Some(net.as_f64().unwrap() - 10.0));
    assert!(f.store.verify().unwrap().is_empty());
}

#[test]
fn a_newer_schema_is_refused_and_an_older_one_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite3");
    rusqlite::Connection::open(&path).unwrap().execute_batch("CREATE TABLE unrelated (x)").unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(count(&store, "PRAGMA user_version"), i64::from(schema::STORE_SCHEMA_VERSION));
    drop(store);
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let err = Store::open(&path).err().unwrap();
    assert!(matches!(err, StoreError::SchemaTooNew { found: 99, .. }));
    assert!(err.to_string().contains("update Pluto to open it"), "{err}");
    assert!(matches!(Store::open_existing(&dir.path().join("missing")), Err(StoreError::NotInitialized(_))));
}

#[test]
fn a_version_3_store_keeps_every_projection_field_through_the_migration() {
    let mut current = fixture();
    crate::training::fill_training(&mut current.store, &user()).unwrap();
    let states = all_states(&current.store);
    assert!(states.iter().any(|s| !s.anomalies.is_empty()) && states.iter().any(|s| s.correction_count > 0));
    assert!(states.iter().any(|s| s.manufacturing_end_date.is_some()));

    // The same log and projections as schema version 3 stored them: list columns plus the
    // state as JSON.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v3.sqlite3");
    let old = rusqlite::Connection::open(&path).unwrap();
    for sql in &schema::MIGRATIONS[..3] {
        old.execute_batch(sql).unwrap();
    }
    old.pragma_update(None, "user_version", 3).unwrap();
    old.execute("ATTACH ?1 AS current", [current.path.to_str().unwrap()]).unwrap();
    old.execute_batch(
        "INSERT INTO meta SELECT * FROM current.meta WHERE key <> 'search_index';
         INSERT INTO events SELECT seq, id, stream_type, stream_id, event_type, schema_version, data, user_id,
           device_id, device_seq, created_at, server_position FROM current.events;
         INSERT INTO campaign_status_counts SELECT * FROM current.campaign_status_counts;",
    )
    .unwrap();
    for state in &states {
        old.execute(
            "INSERT INTO campaign_projections SELECT id, lego_campaign_code, material_type, description, status,
               current_step, next_expected_step, current_weight_kg, inbound_net_weight_kg, echa_approved,
               created_at, completed_at, last_event_type, last_event_at, updated_at, event_count,
               anomaly_count, ?2
             FROM current.campaign_projections WHERE id = ?1",
            rusqlite::params![state.id.as_str(), serde_json::to_string(state).unwrap()],
        )
        .unwrap();
    }
    drop(old);

    let migrated = Store::open(&path).unwrap();
    assert_eq!(count(&migrated, "PRAGMA user_version"), i64::from(schema::STORE_SCHEMA_VERSION));
    assert_eq!(all_states(&migrated), states);
    assert!(migrated.verify().unwrap().is_empty());
    assert_eq!(snapshot(&migrated), snapshot(&current.store));
}

#[test]
fn the_device_id_is_kept_across_openings() {
    let f = fixture();
    let id = f.store.device_id().clone();
    let again = Store::open(&f.path).unwrap();
    assert_eq!(again.device_id(), &id);
    let pragmas: (String, i64) = (
        again.connection().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap(),
        again.connection().query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap(),
    );
    assert_eq!(pragmas, ("wal".into(), 2), "WAL with synchronous=FULL");
}

/// The app and `pluto` opening a new database at the same moment: both open it, and both
/// stamp entries with the one device id.
#[test]
fn a_new_database_opened_by_many_at_once_opens_for_all_with_one_device_id() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pluto.sqlite3");
        let start = std::sync::Barrier::new(8);
        let ids: Vec<_> = std::thread::scope(|scope| {
            let openers: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        Store::open(&path).map(|s| s.device_id().clone())
                    })
                })
                .collect();
            openers.into_iter().map(|o| o.join().unwrap().unwrap()).collect()
        });
        assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    }
}

fn all_events(store: &Store) -> Vec<Event> {
    let mut out = Vec::new();
    store.export(&mut out).unwrap();
    String::from_utf8(out).unwrap().lines().map(|l| Event::from_json(l).unwrap()).collect()
}

fn all_states(store: &Store) -> Vec<CampaignState> {
    let page =
        store.list(&ListQuery { limit: 10_000, sort: SortOrder::Created, ..ListQuery::default() }).unwrap();
    page.rows.iter().map(|r| store.projection(&CampaignId::parse(&r.id).unwrap()).unwrap().unwrap()).collect()
}

#[test]
fn apply_remote_is_idempotent_and_refuses_reused_ids() {
    let mut a = fixture();
    for n in 0..3 {
        campaign(&mut a.store, n, 4 + n as usize);
    }
    let events = all_events(&a.store);
    let mut b = fixture();
    let first = b.store.apply_remote(&events).unwrap();
    assert_eq!((first.inserted, first.already_present, first.campaigns_touched), (events.len(), 0, 3));
    let again = b.store.apply_remote(&events).unwrap();
    assert_eq!((again.inserted, again.already_present), (0, events.len()));
    assert_eq!(all_states(&a.store), all_states(&b.store));

    let before = snapshot(&b.store);
    let mut tampered = events[1].clone();
    tampered.data["carrier"] = json!("Another carrier");
    let err = b.store.apply_remote(&[events[0].clone(), tampered]).unwrap_err();
    assert!(matches!(&err, StoreError::IdReused { detail, .. } if detail.contains("data")), "{err}");
    let mut invalid = events[2].clone();
    invalid.id = EventId::generate(std::time::SystemTime::now());
    invalid.device_seq = 999;
    invalid.data["outputWeightKg"] = json!(-1);
    let err = b.store.apply_remote(&[invalid]).unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidEvent { error, .. } if error.field == "data.outputWeightKg"),
        "{err}"
    );
    assert_eq!(snapshot(&b.store), before);
}

#[test]
fn rebuild_restores_exactly_and_verify_reports_drift() {
    let mut f = fixture();
    for n in 0..5 {
        campaign(&mut f.store, n, 1 + (n as usize * 3) % 12);
    }
    let before = snapshot(&f.store);
    assert!(f.store.verify().unwrap().is_empty());
    f.store
        .connection()
        .execute_batch(
            "UPDATE campaign_projections SET current_weight_kg = 1
               WHERE id = (SELECT id FROM campaign_projections ORDER BY id LIMIT 1 OFFSET 1);
             UPDATE campaign_projections SET status = 'completed'
               WHERE id = (SELECT id FROM campaign_projections ORDER BY id LIMIT 1 OFFSET 2);
             INSERT INTO campaign_projections SELECT 'cmp_01HQJK5W3N8XKZ0G2Y5V7R9T1A', lego_campaign_code, material_type,
               description, status, current_step, next_expected_step, current_weight_kg, inbound_net_weight_kg,
               echa_approved, created_at, completed_at, last_event_type, last_event_at, updated_at, event_count,
               anomaly_count, status_since, correction_count, last_event_id, recorded_steps,
               manufacturing_start_date, manufacturing_end_date, anomalies, newer_entries, pending_reviews, flows,
               order_position, order_pending
             FROM campaign_projections ORDER BY id LIMIT 1;",
        )
        .unwrap();
    let drift = f.store.verify().unwrap();
    assert_eq!(drift.len(), 4, "weight, status, orphan, counts: {drift:?}");
    assert!(drift.iter().any(|d| d.problem == "projection without events"));
    assert!(drift.iter().any(|d| d.problem.contains("status: stored")), "{drift:?}");
    let indexes = "SELECT group_concat(name) FROM (SELECT name FROM sqlite_schema
                   WHERE type = 'index' AND tbl_name = 'campaign_projections' AND sql IS NOT NULL ORDER BY name)";
    let before_indexes: String = f.store.connection().query_row(indexes, [], |r| r.get(0)).unwrap();
    assert_eq!(f.store.rebuild().unwrap(), 5);
    assert!(f.store.verify().unwrap().is_empty());
    let after_indexes: String = f.store.connection().query_row(indexes, [], |r| r.get(0)).unwrap();
    assert_eq!(after_indexes, before_indexes, "the list indexes are back after the bulk load");
    assert_eq!(
        before_indexes,
        "campaign_projections_by_activity,campaign_projections_by_stage_age,campaign_projections_by_status,\
         campaign_projections_with_anomalies"
    );
    assert_eq!(snapshot(&f.store), before);
}

#[test]
fn export_import_round_trip_is_exact() {
    let mut a = fixture();
    for n in 0..4 {
        campaign(&mut a.store, n, 12);
    }
    let mut exported = Vec::new();
    let n = a.store.export(&mut exported).unwrap();
    assert_eq!(n, 48);
    let mut b = fixture();
    let report = b.store.import(exported.as_slice()).unwrap();
    assert_eq!(report.inserted, 48);
    let mut again = Vec::new();
    b.store.export(&mut again).unwrap();
    assert_eq!(exported, again);
    assert_eq!(all_states(&a.store), all_states(&b.store));
    assert_eq!(b.store.import(exported.as_slice()).unwrap().inserted, 0);
}

/// An export opened and saved on Windows (Notepad, Excel) comes back with a byte-order mark
/// and CRLF line ends: it imports to the same events, byte for byte.
#[test]
fn an_export_saved_on_windows_imports_the_same_events() {
    let mut a = fixture();
    campaign(&mut a.store, 11, 6);
    let mut exported = Vec::new();
    a.store.export(&mut exported).unwrap();
    let text = String::from_utf8(exported.clone()).unwrap();
    let windows = format!("\u{feff}{}", text.replace('\n', "\r\n"));
    let mut b = fixture();
    assert_eq!(b.store.import(windows.as_bytes()).unwrap().inserted, 6);
    let mut again = Vec::new();
    b.store.export(&mut again).unwrap();
    assert_eq!(exported, again);
}

#[test]
fn a_bad_import_line_is_named_and_changes_nothing() {
    let mut a = fixture();
    campaign(&mut a.store, 9, 5);
    let mut exported = Vec::new();
    a.store.export(&mut exported).unwrap();
    let mut text = String::from_utf8(exported).unwrap();
    text.push_str("{\"id\": \"evt_nope\"}\n");
    let mut b = fixture();
    let before = snapshot(&b.store);
    let err = b.store.import(text.as_bytes()).unwrap_err();
    assert!(err.to_string().starts_with("line 6: "), "{err}");
    assert!(err.to_string().contains("evt_"), "{err}");
    assert!(err.is_refusal());
    assert_eq!(snapshot(&b.store), before);
}

#[test]
fn backup_is_a_complete_copy_and_never_overwrites() {
    let mut f = fixture();
    let id = campaign(&mut f.store, 10, 7);
    let target = f.path.with_file_name("backup.sqlite3");
    f.store.backup(&target).unwrap();
    let copy = Store::open_existing(&target).unwrap();
    assert_eq!(copy.history(&id).unwrap(), f.store.history(&id).unwrap());
    assert_eq!(copy.device_id(), f.store.device_id());
    let err = f.store.backup(&target).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
}

#[test]
fn list_filters_searches_sorts_and_pages() {
    let mut f = fixture();
    let ids: Vec<CampaignId> = (0..30).map(|n| campaign(&mut f.store, n, 1 + (n as usize % 4))).collect();
    let all = f.store.list(&ListQuery { limit: 100, ..ListQuery::default() }).unwrap();
    assert_eq!(all.total, 30);
    assert_eq!(all.rows[0].id, ids[29].to_string(), "most recent activity first");
    assert!(all.rows.windows(2).all(|w| w[0].updated_at >= w[1].updated_at));

    let granulated = ListQuery {
        status: Some(pluto_domain::registry::CampaignStatus::GranulationComplete),
        ..ListQuery::default()
    };
    let page = f.store.list(&granulated).unwrap();
    assert_eq!(page.total, 7);
    assert!(page
        .rows
        .iter()
        .all(|r| r.status == pluto_domain::registry::CampaignStatus::GranulationComplete));

    let code = SampleCampaign::numbered(17).code;
    let found =
        f.store.list(&ListQuery { search: Some(code.to_lowercase()), ..ListQuery::default() }).unwrap();
    assert_eq!(found.rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), [ids[17].to_string()]);
    let none = f.store.list(&ListQuery { search: Some("100%_".into()), ..ListQuery::default() }).unwrap();
    assert_eq!(none.total, 0, "LIKE wildcards in the search are literal");

    let second = f.store.list(&ListQuery { limit: 10, offset: 10, ..ListQuery::default() }).unwrap();
    assert_eq!(second.rows, all.rows[10..20]);
    let by_code =
        f.store.list(&ListQuery { sort: SortOrder::Code, limit: 100, ..ListQuery::default() }).unwrap();
    assert!(by_code.rows.windows(2).all(|w| w[0].lego_campaign_code <= w[1].lego_campaign_code));
}

/// Campaigns active in the same millisecond are listed the newest first under "latest first",
/// with a status filter too, as if the newer had been active later.
#[test]
fn campaigns_active_in_the_same_millisecond_are_listed_newest_first() {
    let mut f = fixture();
    let ids: Vec<String> = (0..4).map(|n| campaign(&mut f.store, n, 3).to_string()).collect();
    f.store
        .connection()
        .execute(
            "UPDATE campaign_projections SET updated_at = (SELECT MIN(updated_at) FROM campaign_projections)",
            [],
        )
        .unwrap();
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    for status in [None, Some(pluto_domain::registry::CampaignStatus::GranulationComplete)] {
        let page = f.store.list(&ListQuery { status, ..ListQuery::default() }).unwrap();
        let listed: Vec<String> = page.rows.into_iter().map(|r| r.id).collect();
        assert_eq!(listed, newest_first, "status {status:?}");
    }
}

#[test]
fn two_connections_can_write_the_same_file() {
    let mut f = fixture();
    let mut other = Store::open(&f.path).unwrap();
    let a = std::thread::spawn(move || (0..20).map(|n| campaign(&mut other, n, 2)).count());
    for n in 20..40 {
        campaign(&mut f.store, n, 2);
    }
    assert_eq!(a.join().unwrap(), 20);
    assert_eq!(count(&f.store, "SELECT COUNT(*) FROM events"), 80);
    assert!(f.store.verify().unwrap().is_empty());
}

mod sync_bookkeeping {
    use super::*;
    use crate::sync::Rejection;
    use pluto_domain::time::Timestamp;
    use pluto_protocol::{DeviceStatus, PulledEvent};

    /// Every event of `store` as JSON, in id order.
    pub(super) fn wire_events(store: &Store) -> Vec<Value> {
        all_events(store).iter().map(|e| serde_json::to_value(e).unwrap()).collect()
    }

    /// A pulled event as the server serves it.
    pub(super) fn pulled(position: i64, event: &Value) -> PulledEvent {
        PulledEvent {
            position,
            received_at: None,
            admin: false,
            site: None,
            event: serde_json::value::RawValue::from_string(event.to_string()).unwrap(),
        }
    }

    fn status(store: &Store, n: u64) -> DeviceStatus {
        DeviceStatus {
            device_id: store.device_id().clone(),
            contiguous_up_to: n,
            highest_seq: n,
            event_count: n,
            last_received_at: None,
        }
    }

    #[test]
    fn pushed_events_get_positions_once_served_back_and_refused_ones_are_kept_aside() {
        let mut f = fixture();
        campaign(&mut f.store, 1, 4);
        let unsynced = f.store.unsynced(100).unwrap();
        assert_eq!(unsynced.iter().map(|e| e.device_seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(f.store.sync_state().unwrap().pending, 4);

        let accepted: Vec<(EventId, i64)> =
            unsynced[..3].iter().zip(10..).map(|(e, p)| (e.id.clone(), p)).collect();
        let refused = [Rejection {
            event_id: unsynced[3].id.clone(),
            outcome: "refused".into(),
            field: Some("data.carrier".into()),
            message: "is required".into(),
            rejected_at: Timestamp::now(),
        }];
        f.store.record_push(&accepted, &refused, &status(&f.store, 3)).unwrap();
        assert!(f.store.unsynced(100).unwrap().is_empty(), "refused events are not offered again");
        let state = f.store.sync_state().unwrap();
        assert_eq!((state.pending, state.rejected, state.highest_local_seq), (0, 1, 4));
        assert_eq!(state.server_contiguous_up_to, Some(3));
        assert_eq!(f.store.rejections().unwrap()[0].field.as_deref(), Some("data.carrier"));
        // The app lists it by campaign and step, with what to do.
        let listed = f.store.refused_entries().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].campaign_id, unsynced[3].stream_id.as_str());
        assert_eq!(listed[0].campaign_code.as_deref(), Some(SampleCampaign::numbered(1).code.as_str()));
        assert_eq!(listed[0].step, "Metal Removal");
        assert!(listed[0].remedy.contains("correct it in the campaign's history"), "{}", listed[0].remedy);
        assert_eq!(
            f.store.history(&unsynced[0].stream_id).unwrap().len(),
            4,
            "refused events stay in the log"
        );
        // The answer to a push is a receipt: the events count as on the server once a pull
        // serves them back where the server said.
        let position = |store: &Store, id: &EventId| -> Option<i64> {
            store
                .connection()
                .query_row("SELECT server_position FROM events WHERE id = ?1", [id.as_str()], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(position(&f.store, &unsynced[0].id), None);
        let served: Vec<PulledEvent> = unsynced[..3]
            .iter()
            .zip(10..)
            .map(|(e, p)| pulled(p, &serde_json::to_value(e).unwrap()))
            .collect();
        f.store.apply_pulled(&served, 12).unwrap();
        assert_eq!(position(&f.store, &unsynced[0].id), Some(10));
        assert!(f.store.verify().unwrap().is_empty());
        // A position, once set, is final: a second report of another position is ignored.
        f.store.record_push(&[(unsynced[0].id.clone(), 99)], &[], &status(&f.store, 3)).unwrap();
        let position: i64 = f
            .store
            .connection()
            .query_row("SELECT server_position FROM events WHERE id = ?1", [unsynced[0].id.as_str()], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(position, 10);
    }

    /// issue 26: a server that answers "stored" for an event it then does not serve back cannot
    /// make this laptop drop it from its queue.
    #[test]
    fn an_event_the_server_said_it_stored_but_does_not_serve_is_queued_again() {
        let mut f = fixture();
        campaign(&mut f.store, 1, 2);
        let unsynced = f.store.unsynced(100).unwrap();
        let accepted: Vec<(EventId, i64)> =
            unsynced.iter().zip(1..).map(|(e, p)| (e.id.clone(), p)).collect();
        f.store.record_push(&accepted, &[], &status(&f.store, 2)).unwrap();
        assert!(f.store.unsynced(100).unwrap().is_empty(), "not pushed again while the receipt stands");
        // The pull serves the first at position 1, and another laptop's event at position 2.
        let mut other = fixture();
        campaign(&mut other.store, 2, 1);
        let theirs = serde_json::to_value(&other.store.unsynced(1).unwrap()[0]).unwrap();
        f.store
            .apply_pulled(&[pulled(1, &serde_json::to_value(&unsynced[0]).unwrap()), pulled(2, &theirs)], 2)
            .unwrap();
        assert_eq!(f.store.expire_receipts(2).unwrap(), 1);
        let again = f.store.unsynced(100).unwrap();
        assert_eq!(again.iter().map(|e| &e.id).collect::<Vec<_>>(), [&unsynced[1].id]);
        assert_eq!(f.store.sync_state().unwrap().pending, 1);
        assert!(f.store.verify().unwrap().is_empty());
    }

    /// A server older than this laptop refused a completion of a version it did not read;
    /// once its health answer lists that version, the entry is pushed again.
    #[test]
    fn what_an_older_server_refused_as_unknown_is_offered_again_once_it_reads_it() {
        let mut f = fixture();
        campaign(&mut f.store, 1, 12);
        let unsynced = f.store.unsynced(100).unwrap();
        let completion = unsynced.last().unwrap();
        assert_eq!((completion.event_type, completion.schema_version), (EventType::CampaignCompleted, 2));
        let accepted: Vec<(EventId, i64)> =
            unsynced[..11].iter().zip(1..).map(|(e, p)| (e.id.clone(), p)).collect();
        let refusal_with = |event: &Event, field: &str, message: &str| Rejection {
            event_id: event.id.clone(),
            outcome: "refused".into(),
            field: Some(field.into()),
            message: message.into(),
            rejected_at: Timestamp::now(),
        };
        let refusal = |event: &Event, field: &str| {
            let message = "this version of Pluto understands CampaignCompleted schema versions 1 to 1, got 2";
            refusal_with(event, field, message)
        };
        f.store
            .record_push(&accepted, &[refusal(completion, "schemaVersion")], &status(&f.store, 11))
            .unwrap();
        assert!(f.store.unsynced(100).unwrap().is_empty());

        let older = vec!["CampaignCompleted@1".to_owned(), "EventCorrected@1".to_owned()];
        assert_eq!(f.store.retry_refusals_the_server_now_reads(&older).unwrap(), 0);
        assert!(f.store.unsynced(100).unwrap().is_empty(), "still unknown to the server");

        let updated = vec!["CampaignCompleted@2".to_owned()];
        assert_eq!(f.store.retry_refusals_the_server_now_reads(&updated).unwrap(), 1);
        assert_eq!(f.store.unsynced(100).unwrap(), std::slice::from_ref(completion));
        assert_eq!(f.store.sync_state().unwrap().rejected, 0);

        // A refusal for what the entry says is kept: the server reading the type changes nothing.
        f.store
            .record_push(&[], &[refusal(completion, "data.completionNotes")], &status(&f.store, 11))
            .unwrap();
        assert_eq!(f.store.retry_refusals_the_server_now_reads(&updated).unwrap(), 0);
        assert!(f.store.unsynced(100).unwrap().is_empty());

        // A rule applied to a type the server reads (the site policy) is kept too, and says what
        // to do; an unknown type is offered again once the server reads it.
        let policy = refusal_with(completion, "eventType", "site RGE may not record Complete Campaign");
        f.store.record_push(&[], std::slice::from_ref(&policy), &status(&f.store, 11)).unwrap();
        assert_eq!(f.store.retry_refusals_the_server_now_reads(&updated).unwrap(), 0);
        assert!(policy.remedy().contains("ask the site whose step it is"));
        let unknown = refusal_with(
            completion,
            "eventType",
            "unknown event type \"CampaignCompleted\"; expected one of …",
        );
        assert!(unknown.server_did_not_know_it() && unknown.remedy().contains("sent again by itself"));
        f.store.record_push(&[], &[unknown], &status(&f.store, 11)).unwrap();
        assert_eq!(f.store.retry_refusals_the_server_now_reads(&updated).unwrap(), 1);
    }

    /// The site the server attests arrives with each pulled event, own events included, and is
    /// kept once: a later page cannot change it.
    #[test]
    fn the_site_the_server_attests_is_kept_once() {
        let mut a = fixture();
        let id = campaign(&mut a.store, 2, 3);
        let events = wire_events(&a.store);
        let attested = |position: i64, event: &Value, site: &str| PulledEvent {
            site: Some(site.into()),
            ..pulled(position, event)
        };
        let mut b = fixture();
        b.store.apply_pulled(&[attested(1, &events[0], "LEGO"), attested(2, &events[1], "MBA")], 2).unwrap();
        let sites = b.store.server_sites(&id).unwrap();
        assert_eq!(sites.len(), 2);
        assert_eq!(sites.values().filter(|s| *s == "LEGO").count(), 1);
        // Laptop `a` gets its own events back from the server, attested.
        a.store.apply_pulled(&[attested(1, &events[0], "LEGO"), attested(2, &events[1], "MBA")], 2).unwrap();
        assert_eq!(a.store.server_sites(&id).unwrap(), sites);
        // The same events served again with another site change nothing.
        b.store.apply_pulled(&[attested(1, &events[0], "RGE")], 2).unwrap();
        assert_eq!(b.store.server_sites(&id).unwrap(), sites);
        let stored: Result<(), rusqlite::Error> = b
            .store
            .connection()
            .execute("UPDATE events SET server_site = 'RGE' WHERE server_site IS NOT NULL", [])
            .map(drop);
        assert!(stored.unwrap_err().to_string().contains("is final"));
    }

    /// issue 30: the server, restored from a backup, lost its log after position 3. The rewind
    /// keeps every event, resets the later positions (this laptop's own are offered for the next
    /// push, the others' kept), moves the cursor back and leaves projections equal to a replay;
    /// the log served again at new positions is taken as any page is, and the result equals a
    /// laptop that pulled the new log alone. Nothing but a rewind may reset a position.
    #[test]
    fn a_rewind_keeps_every_event_and_offers_the_lost_own_ones_again() {
        use std::collections::BTreeSet;
        let mut a = fixture();
        let shared = campaign(&mut a.store, 2, 3);
        let first = wire_events(&a.store);
        let mut b = fixture();
        let page: Vec<PulledEvent> = first.iter().zip(1..).map(|(e, p)| pulled(p, e)).collect();
        b.store.apply_pulled(&page, 3).unwrap();
        let t = EventType::STEPS[3];
        let step =
            Draft::new(Some(shared.clone()), t, SampleCampaign::numbered(2).payload(t).unwrap(), user());
        b.store.record(step).unwrap();
        campaign(&mut b.store, 3, 1);
        let by_b: Vec<Value> = wire_events(&b.store).into_iter().skip(3).collect();
        campaign(&mut a.store, 5, 1);
        let last_of_a = wire_events(&a.store).pop().unwrap();
        let mut log = page;
        log.extend([pulled(4, &by_b[0]), pulled(5, &by_b[1]), pulled(6, &last_of_a)]);
        a.store.apply_pulled(&log, 6).unwrap();
        let exported = |s: &Store| {
            let mut out = Vec::new();
            s.export(&mut out).unwrap();
            String::from_utf8(out).unwrap().lines().map(str::to_owned).collect::<BTreeSet<_>>()
        };
        let held = exported(&a.store);

        let rewind = a.store.rewind_after(3).unwrap();
        assert_eq!((rewind.after, rewind.cursor_was, rewind.own, rewind.others), (3, 6, 1, 2));
        let state = a.store.sync_state().unwrap();
        assert_eq!((state.cursor, state.pending, state.server_contiguous_up_to), (3, 1, None));
        assert_eq!(state.last_rewind, Some(rewind));
        assert_eq!(a.store.unsynced(10).unwrap()[0].id.as_str(), last_of_a["id"].as_str().unwrap());
        assert_eq!(exported(&a.store), held, "every event kept");
        assert!(a.store.verify().unwrap().is_empty(), "projections equal a replay");
        assert_eq!(a.store.projection(&shared).unwrap().unwrap().event_count, 4, "B's step is kept");
        for update in [
            "UPDATE events SET server_position = NULL WHERE server_position = 1",
            "UPDATE events SET server_position = 9 WHERE server_position = 2",
        ] {
            let error = a.store.connection().execute(update, []).unwrap_err();
            assert!(error.to_string().contains("is final"), "{update}: {error}");
        }

        // The restored server's log after 3: A's entry sent again, then B's, in another order.
        let again = [pulled(4, &last_of_a), pulled(5, &by_b[1]), pulled(6, &by_b[0])];
        a.store.apply_pulled(&again, 6).unwrap();
        assert_eq!(a.store.sync_state().unwrap().pending, 0);
        let mut fresh = fixture();
        let whole: Vec<PulledEvent> = log[..3].iter().cloned().chain(again.iter().cloned()).collect();
        fresh.store.apply_pulled(&whole, 6).unwrap();
        assert_eq!(all_states(&a.store), all_states(&fresh.store), "incremental equals the new log alone");
        assert!(a.store.verify().unwrap().is_empty());
    }

    #[test]
    fn a_pulled_page_and_its_cursor_commit_together() {
        let mut a = fixture();
        campaign(&mut a.store, 2, 6);
        let events = wire_events(&a.store);
        let logged: Vec<PulledEvent> =
            events.iter().zip(1..).map(|(e, position)| pulled(position, e)).collect();
        let mut b = fixture();
        let report = b.store.apply_pulled(&logged[..4], 4).unwrap();
        assert_eq!(report.inserted, 4);
        assert_eq!(b.store.sync_state().unwrap().cursor, 4);
        b.store.apply_pulled(&logged[4..], 6).unwrap();
        b.store.apply_pulled(&logged, 6).unwrap();
        assert_eq!(b.store.sync_state().unwrap().cursor, 6);
        assert_eq!(all_states(&a.store), all_states(&b.store));
        assert_eq!(
            b.store.sync_state().unwrap().pending,
            0,
            "other devices' events are never pushed from here"
        );
    }

    #[test]
    fn an_event_no_version_can_read_is_refused_alone_and_the_page_goes_on() {
        let mut a = fixture();
        let id = campaign(&mut a.store, 2, 4);
        let mut events = wire_events(&a.store);
        events[1]["data"]["netWeightKg"] = json!("heavy");
        let mut page: Vec<PulledEvent> =
            events.iter().zip(1..).map(|(e, position)| pulled(position, e)).collect();
        page.push(PulledEvent {
            position: 5,
            received_at: None,
            admin: false,
            site: None,
            event: serde_json::value::RawValue::from_string("{\"id\": \"evt_nope\"}".into()).unwrap(),
        });
        let mut b = fixture();
        let report = b.store.apply_pulled(&page, 5).unwrap();
        assert_eq!((report.inserted, report.refused), (3, 2));
        let state = b.store.sync_state().unwrap();
        assert_eq!((state.cursor, state.pull_refused), (5, 2), "the cursor moves past what was refused");
        let refusals = b.store.pull_refusals().unwrap();
        assert_eq!(refusals[0].position, 5);
        assert_eq!((refusals[0].event_id.as_deref(), refusals[0].field.as_str()), (Some("evt_nope"), "id"));
        assert_eq!(refusals[1].event_id.as_deref(), Some(events[1]["id"].as_str().unwrap()));
        assert_eq!(refusals[1].field, "data.netWeightKg");
        let campaign = b.store.campaign(&id).unwrap().unwrap();
        assert_eq!(campaign.event_count, 3, "the rest of the page is applied");
        assert!(b.store.verify().unwrap().is_empty());
    }

    #[test]
    fn a_pulled_id_that_holds_other_content_here_is_refused_alone() {
        let mut a = fixture();
        campaign(&mut a.store, 2, 3);
        let events = wire_events(&a.store);
        let mut b = fixture();
        b.store.import(std::io::Cursor::new(format!("{}\n", events[2]))).unwrap();
        let mut forged = events[2].clone();
        forged["data"]["ticketNumber"] = json!("FORGED");
        let page = [pulled(1, &events[0]), pulled(2, &events[1]), pulled(3, &forged)];
        let report = b.store.apply_pulled(&page, 3).unwrap();
        assert_eq!((report.inserted, report.refused), (2, 1));
        let refusal = &b.store.pull_refusals().unwrap()[0];
        assert!(refusal.message.contains("differs in data"), "{}", refusal.message);
        assert_eq!(all_states(&a.store), all_states(&b.store), "what is stored here is kept");
    }
    #[test]
    fn sync_attempts_are_remembered_for_the_status_bar() {
        let mut f = fixture();
        let t1 = Timestamp::from_millis(1_770_000_000_000);
        f.store.record_sync_attempt(t1, None).unwrap();
        let t2 = Timestamp::from_millis(1_770_000_060_000);
        f.store.record_sync_attempt(t2, Some("cannot reach the sync server")).unwrap();
        let state = f.store.sync_state().unwrap();
        assert_eq!(state.last_success_at, Some(t1));
        assert_eq!(state.last_attempt_at, Some(t2));
        assert_eq!(state.last_error.as_deref(), Some("cannot reach the sync server"));
        f.store.record_sync_attempt(t2, None).unwrap();
        assert_eq!(f.store.sync_state().unwrap().last_error, None);
    }
}

mod newer_pluto {
    //! Events a newer Pluto wrote: kept as received, folded by what this build knows, shown.

    use super::sync_bookkeeping::{pulled, wire_events};
    use super::*;

    /// The events of sample campaign 3 up to granulation, as a newer Pluto would serve them:
    /// its granulation with a field this build does not know at schema version 2, and an event
    /// of a type this build does not know between them.
    fn newer_stream(store: &Store) -> (CampaignId, Vec<Value>) {
        let events = wire_events(store);
        let mut granulation = events[2].clone();
        granulation["schemaVersion"] = json!(2);
        granulation["data"]["moistureContentPct"] = json!(0.4);
        let mut sample = events[1].clone();
        sample["id"] = json!(pluto_domain::ids::EventId::generate(std::time::SystemTime::now()).to_string());
        sample["eventType"] = json!("MoistureMeasured");
        sample["schemaVersion"] = json!(2);
        sample["deviceSeq"] = json!(99);
        sample["data"] = json!({"sampleId": "S-17", "retainedBy": "Ana Jensen"});
        let id = CampaignId::parse(events[0]["streamId"].as_str().unwrap()).unwrap();
        (id, vec![events[0].clone(), events[1].clone(), sample, granulation])
    }

    fn newer_fixture() -> (Fixture, CampaignId, Vec<Value>) {
        let mut a = fixture();
        campaign(&mut a.store, 3, 3);
        let (id, events) = newer_stream(&a.store);
        let page: Vec<_> = events.iter().zip(1..).map(|(e, p)| pulled(p, e)).collect();
        let mut b = fixture();
        let report = b.store.apply_pulled(&page, 4).unwrap();
        assert_eq!((report.inserted, report.refused), (4, 0));
        (b, id, events)
    }

    #[test]
    fn are_kept_folded_by_known_fields_and_counted() {
        let (b, id, _) = newer_fixture();
        let state = b.store.campaign(&id).unwrap().unwrap();
        assert_eq!(
            state.status,
            pluto_domain::registry::CampaignStatus::GranulationComplete,
            "folded by its known fields"
        );
        assert_eq!(
            state.current_weight_kg,
            Some(
                SampleCampaign::numbered(3).payload(EventType::GranulationCompleted).unwrap()
                    ["outputWeightKg"]
                    .as_f64()
                    .unwrap()
            )
        );
        assert_eq!(state.newer_entries, 2);
        assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
        assert_eq!(b.store.projection(&id).unwrap().unwrap().newer_entries, 2);
        assert!(b.store.verify().unwrap().is_empty());
        let listed = b.store.list(&crate::query::ListQuery::default()).unwrap();
        assert_eq!(listed.rows[0].newer_entries, 2, "the list marks it");
    }

    #[test]
    fn are_exported_and_imported_byte_for_byte() {
        let (b, _, events) = newer_fixture();
        let mut out = Vec::new();
        b.store.export(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        for newer in &events[2..] {
            let expected = newer.to_string();
            assert!(text.lines().any(|line| line == expected), "{newer} kept as received");
        }
        let mut c = fixture();
        c.store.import(text.as_bytes()).unwrap();
        let mut again = Vec::new();
        c.store.export(&mut again).unwrap();
        assert_eq!(String::from_utf8(again).unwrap(), text);
        assert_eq!(all_states(&b.store), all_states(&c.store));
        // Importing the same file again changes nothing.
        let report = c.store.import(text.as_bytes()).unwrap();
        assert_eq!((report.inserted, report.already_present), (0, 4));
    }

    #[test]
    fn a_later_local_step_continues_past_them() {
        let (mut b, id, _) = newer_fixture();
        let sample = SampleCampaign::numbered(3);
        let draft = Draft::new(
            Some(id.clone()),
            EventType::MetalRemovalCompleted,
            sample.payload(EventType::MetalRemovalCompleted).unwrap(),
            user(),
        );
        let state = b.store.record(draft).unwrap().state;
        assert_eq!(
            (state.status, state.newer_entries),
            (pluto_domain::registry::CampaignStatus::MetalRemovalComplete, 2)
        );
        assert!(b.store.verify().unwrap().is_empty());
    }

    /// An older build kept an event of a type it did not know; a build that knows the type
    /// folds it at its first start, with no rebuild asked for.
    #[test]
    fn the_first_start_of_a_build_that_knows_them_folds_them() {
        let (Fixture { _dir, path, store }, id, _) = newer_fixture();
        drop(store);
        {
            // What an older build, which did not know GranulationCompleted, left: the event kept
            // as received, the campaign folded without it, its own registry remembered.
            let conn = rusqlite::Connection::open(&path).unwrap();
            let events = stream_events_raw(&conn, &id);
            let older: Vec<Event> =
                events.into_iter().filter(|e| e.event_type != EventType::GranulationCompleted).collect();
            let mut state = pluto_domain::fold::fold_projection(&older).unwrap();
            state.newer_entries += 1;
            conn.execute("UPDATE campaign_projections SET status = ?2, current_step = ?3, next_expected_step = ?4, current_weight_kg = ?5, recorded_steps = ?6, newer_entries = ?7 WHERE id = ?1",
                rusqlite::params![id.as_str(), state.status.as_str(), state.current_step, state.next_expected_step, state.current_weight_kg, state.recorded_steps, state.newer_entries]).unwrap();
            conn.execute(
                "UPDATE campaign_status_counts SET n = n - 1 WHERE status = 'granulation_complete'",
                [],
            )
            .unwrap();
            conn.execute("INSERT INTO campaign_status_counts (status, n) VALUES (?1, 1) ON CONFLICT (status) DO UPDATE SET n = n + 1", [state.status.as_str()]).unwrap();
            conn.execute("UPDATE meta SET value = 'an older registry' WHERE key = 'event_registry'", [])
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let state = store.projection(&id).unwrap().unwrap();
        assert_eq!(
            (state.status, state.newer_entries),
            (pluto_domain::registry::CampaignStatus::GranulationComplete, 2)
        );
        assert!(store.verify().unwrap().is_empty());
    }

    fn stream_events_raw(conn: &rusqlite::Connection, id: &CampaignId) -> Vec<Event> {
        super::super::rows::stream_events(conn, id).unwrap()
    }
}

/// issue 26: a correction or void carries what the person saw; a change someone else made
/// meanwhile is never overwritten unseen, and the refusal says who changed what, to what and when.
#[test]
fn a_correction_of_a_value_someone_changed_meanwhile_is_refused_with_who_and_what() {
    let mut f = fixture();
    let id = campaign(&mut f.store, 4, 6);
    let extrusion = f.store.history(&id).unwrap()[5].clone();
    assert_eq!(extrusion.event_type, EventType::ExtrusionCompleted);
    let form = f.store.campaign(&id).unwrap().unwrap().steps.extrusion.unwrap().data;
    let shown = serde_json::to_value(&form).unwrap();
    // Another coordinator corrects the output weight first.
    let other = UserId::parse("usr_mette.holm").unwrap();
    let set = |v: &str| vec![("outputWeightKg".to_owned(), v.to_owned())];
    f.store.correct(&id, &extrusion.id, &set("3291"), "re-weighed", other, Seen::default()).unwrap();
    let before = snapshot(&f.store);
    let seen = Seen { entry: Some(&shown), ..Seen::default() };
    let error = f.store.correct(&id, &extrusion.id, &set("3295"), "typo", user(), seen).unwrap_err();
    let StoreError::ChangedMeanwhile(message) = &error else { panic!("{error}") };
    assert!(
        message.starts_with("Mette Holm corrected Extrusion's output weight to 3291 kg at "),
        "{message}"
    );
    assert!(message.ends_with("while you were typing; check it, then correct again"), "{message}");
    assert!(error.is_refusal());
    assert_eq!(snapshot(&f.store), before, "nothing recorded");
    // A field nobody touched may still be corrected from the same form.
    let ticket = vec![("ticketNumber".to_owned(), "E-99".to_owned())];
    f.store.correct(&id, &extrusion.id, &ticket, "ticket misread", user(), seen).unwrap();
    // A void of an entry that changed since it was shown is refused the same way.
    let error = f.store.void(&id, &extrusion.id, "entered twice", user(), seen).unwrap_err();
    assert!(matches!(error, StoreError::ChangedMeanwhile(_)), "{error}");
    // And with the campaign's version, any entry since refuses.
    let version = Seen { version: Some(1), ..Seen::default() };
    let error = f.store.correct(&id, &extrusion.id, &set("3300"), "typo", user(), version).unwrap_err();
    assert!(matches!(error, StoreError::Conflict { .. }), "{error}");
}

#[test]
fn a_correction_from_typed_text_names_what_it_cannot_read_and_records_nothing() {
    let mut f = fixture();
    let id = campaign(&mut f.store, 4, 2);
    let inbound = f.store.history(&id).unwrap()[1].id.clone();
    let before = snapshot(&f.store);
    let refused = |store: &mut Store, changes: &[(&str, &str)]| {
        let changes: Vec<(String, String)> =
            changes.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        match store.correct(&id, &inbound, &changes, "typo", user(), Seen::default()).unwrap_err() {
            StoreError::Refused(Refusal::Field(e)) => e,
            other => panic!("{other}"),
        }
    };
    let e = refused(&mut f.store, &[("netWeight", "10")]);
    assert_eq!(e.field, "changes.netWeight");
    assert!(e.message.contains("its fields are grossWeightKg, netWeightKg"), "{e}");
    let e = refused(&mut f.store, &[("netWeightKg", "heavy")]);
    assert_eq!(
        (e.field.as_str(), e.message.as_str()),
        ("changes.netWeightKg.now", "expected a weight in kg (a number greater than 0), got \"heavy\"")
    );
    assert_eq!(snapshot(&f.store), before, "nothing recorded");
    let unknown = CampaignId::generate();
    assert!(matches!(
        f.store.correct(&unknown, &inbound, &[], "typo", user(), Seen::default()),
        Err(StoreError::Refused(Refusal::UnknownCampaign(_)))
    ));
    let recorded = f
        .store
        .correct(&id, &inbound, &[("carrier".into(), "DSV".into())], "wrong carrier", user(), Seen::default())
        .unwrap();
    assert_eq!(recorded.event.event_type, EventType::EventCorrected);
    assert_eq!(f.store.campaign(&id).unwrap().unwrap().steps.inbound_shipment.unwrap().data.carrier, "DSV");
}

#[test]
fn a_form_is_read_field_by_field() {
    let form: std::collections::BTreeMap<String, String> = [
        ("ticketNumber", "G-17"),
        ("startingWeightKg", "950"),
        ("outputWeightKg", "nine hundred"),
        ("processHours", ""),
        ("completedOn", "2026-02-20"),
        ("colour", "red"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let problems = Payload::from_form(EventType::GranulationCompleted, &form).unwrap_err();
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["colour", "outputWeightKg"]);
    let mut form = form;
    form.remove("colour");
    form.insert("outputWeightKg".into(), "900".into());
    let data = Payload::from_form(EventType::GranulationCompleted, &form).unwrap();
    assert_eq!(
        data,
        json!({"ticketNumber": "G-17", "startingWeightKg": 950.0, "outputWeightKg": 900.0, "completedOn": "2026-02-20"})
    );
    form.remove("completedOn");
    let problems = Payload::from_form(EventType::GranulationCompleted, &form).unwrap_err();
    assert_eq!(
        (problems[0].field.as_str(), problems[0].message.as_str()),
        ("completedOn", "expected an ISO date (YYYY-MM-DD), got \"\"")
    );
}

/// The records are readable by the coordinator's account only: the database, its journal and a
/// backup are created owner-only.
#[cfg(unix)]
#[test]
fn the_database_and_its_backup_are_created_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mut f = fixture();
    campaign(&mut f.store, 1, 2);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let wal = f.path.with_extension("sqlite3-wal");
    assert_eq!((mode(&f.path), mode(&wal)), (0o600, 0o600));
    let backup = f.path.with_file_name("backup.sqlite3");
    f.store.backup(&backup).unwrap();
    assert_eq!(mode(&backup), 0o600);
}

#[test]
fn the_steps_of_this_laptops_site_are_offered_first() {
    use pluto_domain::policy::SitePolicy;
    use EventType::*;
    let mut f = fixture();
    // Before any sync: the default policy for the profile's site.
    let offer = f.store.step_offer("mba").unwrap();
    assert_eq!(offer.site, "mba");
    assert_eq!(
        offer.mine,
        [
            InboundShipmentRecorded,
            GranulationCompleted,
            MetalRemovalCompleted,
            PolymerPurificationCompleted,
            ExtrusionCompleted,
            TransferToRgeRecorded
        ]
    );
    assert_eq!(
        offer.others,
        [
            EchaApprovalRecorded,
            ManufacturingStarted,
            ManufacturingCompleted,
            ReturnToLegoRecorded,
            CampaignCompleted
        ]
    );
    // A site the default does not name records nothing of its own.
    assert!(f.store.step_offer("Kolding depot").unwrap().mine.is_empty());
    // Once the server's policy is known it decides, whatever the profile says.
    f.store.set_site_policy(&SitePolicy::default_for("RGE")).unwrap();
    let offer = f.store.step_offer("MBA").unwrap();
    assert_eq!(offer.site, "RGE");
    assert_eq!(offer.mine, [ManufacturingStarted, ManufacturingCompleted, ReturnToLegoRecorded]);
    assert_eq!(offer.mine.len() + offer.others.len(), EventType::STEPS.len() - 1);
    let admin = SitePolicy { admin: true, ..SitePolicy::default_for("HQ") };
    f.store.set_site_policy(&admin).unwrap();
    assert!(f.store.step_offer("MBA").unwrap().others.is_empty());
}

/// Sets when campaign `id` reached its status, as if its last step was recorded `days` ago.
fn age(store: &Store, id: &CampaignId, days: i64) {
    let since = Timestamp::from_millis(Timestamp::now().millis() - days * 24 * 3600 * 1000);
    store
        .connection()
        .execute(
            "UPDATE campaign_projections SET status_since = ?1 WHERE id = ?2",
            (since.to_string(), id.as_str()),
        )
        .unwrap();
}

#[test]
fn home_lists_what_waits_for_the_site_stalled_first_then_longest_waiting() {
    use pluto_domain::registry::CampaignStatus;
    let mut f = fixture();
    let mba = f.store.step_offer("MBA").unwrap().mine;
    // 1: created (waits for MBA's inbound, 14 days), 2: received (granulation, 3 days),
    // 3: extruded (waits for ECHA), 4: granulated (metal removal, 3 days).
    let fresh_created = campaign(&mut f.store, 1, 1);
    let received = campaign(&mut f.store, 2, 2);
    let extruded = campaign(&mut f.store, 3, 6);
    let granulated = campaign(&mut f.store, 4, 3);
    age(&f.store, &fresh_created, 10);
    age(&f.store, &received, 2);
    age(&f.store, &extruded, 30);
    age(&f.store, &granulated, 4);

    let work = f.store.work(&mba, Timestamp::now(), 50).unwrap();
    let order: Vec<(&str, u32, bool)> =
        work.waiting.iter().map(|w| (w.campaign.id.as_str(), w.days_in_stage, w.stalled)).collect();
    // Granulated for 4 days is stalled (3-day threshold) and comes first, though the created
    // campaign has waited longer (10 of its 14 days); ECHA's campaign is not MBA's work.
    assert_eq!(
        order,
        [(granulated.as_str(), 4, true), (fresh_created.as_str(), 10, false), (received.as_str(), 2, false)]
    );
    assert_eq!((work.waiting_total, work.stalled_total), (3, 1));
    let stage = |s: CampaignStatus| work.stages.iter().find(|x| x.status == s).unwrap().clone();
    let echa = stage(CampaignStatus::ExtrusionComplete);
    assert_eq!((echa.count, echa.stalled, echa.mine, echa.stalled_after_days), (1, 1, false, Some(14)));
    assert!(stage(CampaignStatus::Created).mine);
    assert_eq!(stage(CampaignStatus::Completed).stalled_after_days, None);
    assert_eq!(work.stages.iter().map(|s| s.count).sum::<u64>(), 4);

    // A coordinator who allows granulation a week: nothing of MBA's is stalled any more.
    f.store
        .set_stall_thresholds(&[StallThreshold { status: CampaignStatus::GranulationComplete, days: 7 }])
        .unwrap();
    let work = f.store.work(&mba, Timestamp::now(), 2).unwrap();
    assert_eq!(work.stalled_total, 0);
    assert_eq!(work.waiting.len(), 2, "the limit holds");
    assert_eq!(work.waiting[0].campaign.id, fresh_created.as_str());
    // The limit cuts the list, not the totals.
    assert_eq!(work.waiting_total, 3);
}

#[test]
fn stall_thresholds_are_checked_and_kept() {
    use pluto_domain::registry::CampaignStatus;
    let mut f = fixture();
    let defaults = f.store.stall_thresholds().unwrap();
    assert_eq!(defaults.len(), CampaignStatus::ALL.len() - 1, "every status but the last");
    let bad = [
        (
            StallThreshold { status: CampaignStatus::GranulationComplete, days: 0 },
            "stallDays.granulation_complete",
        ),
        (
            StallThreshold { status: CampaignStatus::GranulationComplete, days: 366 },
            "stallDays.granulation_complete",
        ),
        (StallThreshold { status: CampaignStatus::Completed, days: 5 }, "stallDays.completed"),
    ];
    for (threshold, field) in bad {
        match f.store.set_stall_thresholds(&[threshold]) {
            Err(StoreError::Refused(pluto_domain::refusal::Refusal::Field(e))) => assert_eq!(e.field, field),
            other => panic!("{threshold:?} should be refused: {other:?}"),
        }
    }
    assert_eq!(f.store.stall_thresholds().unwrap(), defaults, "a refusal saves nothing");
    f.store.set_stall_thresholds(&[StallThreshold { status: CampaignStatus::Created, days: 30 }]).unwrap();
    drop(f.store);
    let store = Store::open(&f.path).unwrap();
    let created = store.stall_thresholds().unwrap().into_iter().find(|t| t.status == CampaignStatus::Created);
    assert_eq!(created.unwrap().days, 30);
}

#[test]
fn home_lists_campaigns_with_anomalies() {
    let mut f = fixture();
    let id = campaign(&mut f.store, 1, 2);
    campaign(&mut f.store, 2, 2);
    // A second inbound shipment arriving from another laptop is kept as an anomaly.
    let original = f.store.history(&id).unwrap().pop().unwrap();
    let at = Timestamp::now();
    let duplicate = Event {
        id: EventId::generate(at.system_time()),
        device_id: DeviceId::generate(),
        device_seq: 1,
        created_at: at,
        ..original
    };
    f.store.apply_remote(&[duplicate]).unwrap();
    let work = f.store.work(&[], Timestamp::now(), 50).unwrap();
    assert_eq!(work.anomalies_total, 1);
    assert_eq!(work.anomalies[0].campaign.id, id.as_str());
    assert!(work.waiting.is_empty(), "a site that records nothing waits for nothing");
}

mod find {
    use super::*;

    /// Every campaign's findable values, however they are split into documents.
    /// The entries the index holds.
    pub(super) fn findable(store: &Store) -> std::collections::BTreeSet<i64> {
        crate::search::indexed_entries(store.connection()).unwrap().into_iter().collect()
    }

    fn found(store: &Store, text: &str) -> Vec<(String, Vec<String>)> {
        store
            .find(text, 20)
            .unwrap()
            .into_iter()
            .map(|f| {
                let code = f.campaign.lego_campaign_code.unwrap_or_default();
                (code, f.found_in.into_iter().map(|m| format!("{}: {}", m.place, m.value)).collect())
            })
            .collect()
    }

    #[test]
    fn any_reference_an_entry_carries_finds_its_campaign_with_where_it_matched() {
        let mut f = fixture();
        campaign(&mut f.store, 1, 12);
        campaign(&mut f.store, 2, 3);
        let one = SampleCampaign::numbered(1);
        let inbound = one.payload(EventType::InboundShipmentRecorded).unwrap();
        let tracking = inbound["trackingRef"].as_str().unwrap().to_owned();
        // The whole reference, as typed or scanned, in other case, or only its number.
        let number = tracking.rsplit('-').next().unwrap().to_owned();
        for text in [tracking.clone(), tracking.to_lowercase(), number] {
            let hits = found(&f.store, &text);
            assert_eq!(hits.len(), 1, "{text}: {hits:?}");
            assert_eq!(hits[0].0, one.code);
            assert!(hits[0].1.iter().any(|m| m.ends_with(&tracking)), "{hits:?}");
        }
        // The campaign code, a ticket, the description's words.
        assert_eq!(found(&f.store, &one.code).len(), 1);
        let ticket = one.payload(EventType::GranulationCompleted).unwrap()["ticketNumber"]
            .as_str()
            .unwrap()
            .to_owned();
        let hits = found(&f.store, &ticket);
        assert_eq!(hits[0].1, [format!("Granulation — MBA process ticket: {ticket}")]);
        // Words in the names of the places do not match every campaign; nothing matches nothing.
        assert!(found(&f.store, "ticket").is_empty());
        assert!(found(&f.store, "  -- ").is_empty());
        assert!(found(&f.store, "\"unbalanced (AND").is_empty(), "search syntax is taken as text");
    }

    #[test]
    fn a_corrected_reference_is_found_by_its_new_value_and_the_index_stays_in_step() {
        let mut f = fixture();
        let id = campaign(&mut f.store, 1, 2);
        let inbound = f.store.history(&id).unwrap().pop().unwrap();
        f.store
            .correct(
                &id,
                &inbound.id,
                &[("trackingRef".into(), "DHL-777001".into())],
                "label misread",
                user(),
                Seen::default(),
            )
            .unwrap();
        let hits = found(&f.store, "DHL-777001");
        assert_eq!(hits[0].1, ["Inbound Shipment — Tracking reference (corrected): DHL-777001"]);
        assert!(f.store.verify().unwrap().is_empty());
        // Rebuilt from the log, the index holds the same; drift in it is reported and repaired.
        let before = findable(&f.store);
        f.store.rebuild_find().unwrap();
        assert_eq!(findable(&f.store), before);
        f.store
            .connection()
            .execute("INSERT INTO search_index (search_index) VALUES ('delete-all')", [])
            .unwrap();
        let drift = f.store.verify().unwrap();
        assert!(drift.iter().any(|d| d.problem.ends_with("is missing from the index")), "{drift:?}");
        f.store.rebuild().unwrap();
        assert!(!f.store.verify().unwrap().is_empty(), "a rebuild of the projections leaves the index");
        f.store.rebuild_find().unwrap();
        assert!(f.store.verify().unwrap().is_empty());
        f.store
            .connection()
            .execute("INSERT INTO search_index (rowid, refs) VALUES (99999, 'x')", [])
            .unwrap();
        let drift = f.store.verify().unwrap();
        assert!(drift.iter().any(|d| d.problem.contains("#99999, which the log does not")), "{drift:?}");
    }

    fn codes(store: &Store, text: &str) -> Vec<String> {
        found(store, text).into_iter().map(|(code, _)| code).collect()
    }

    fn create(store: &mut Store, code: &str, description: &str) -> CampaignId {
        let data = json!({"legoCampaignCode": code, "materialType": "PCR", "description": description});
        store.record(Draft::new(None, EventType::CampaignCreated, data, user())).unwrap().state.id
    }

    /// Entries recorded here wait beside the index and move into it 64 at a time: a find sees
    /// both, the most recent match first, and `verify` finds each entry once.
    #[test]
    fn recent_and_indexed_entries_are_found_alike_newest_first() {
        let mut f = fixture();
        for n in 0..70 {
            create(&mut f.store, &format!("LEGO-BATCH-{n:03}"), "Take-back bricks");
        }
        let pending: i64 =
            f.store.connection().query_row("SELECT COUNT(*) FROM search_pending", [], |r| r.get(0)).unwrap();
        assert_eq!(pending, 70 - 64, "the first 64 moved into the index");
        for code in ["LEGO-BATCH-003", "LEGO-BATCH-068"] {
            assert_eq!(
                found(&f.store, code),
                [(code.to_owned(), vec![format!("Campaign Created — LEGO campaign code: {code}")])]
            );
        }
        let all = f.store.find("take-back", 100).unwrap();
        let codes: Vec<String> = all.iter().map(|c| c.campaign.lego_campaign_code.clone().unwrap()).collect();
        let newest_first: Vec<String> = (0..70).rev().map(|n| format!("LEGO-BATCH-{n:03}")).collect();
        assert_eq!(codes, newest_first);
        assert_eq!(f.store.find("take-back", 5).unwrap().len(), 5, "at most the limit");
        assert!(f.store.verify().unwrap().is_empty());
    }

    /// A code or reference typed out whole (a scanner's) finds its campaign first, before the
    /// more recent ones that hold its last word only as a beginning, and however many of those
    /// there are: Enter in Find opens the first.
    #[test]
    fn a_whole_code_finds_its_campaign_first() {
        let mut f = fixture();
        create(&mut f.store, "LEGO-2026-1", "Take-back bricks");
        for n in 10..100 {
            create(&mut f.store, &format!("LEGO-2026-{n}"), "Take-back bricks");
        }
        assert_eq!(
            found(&f.store, "LEGO-2026-1").first(),
            Some(&(
                "LEGO-2026-1".to_owned(),
                vec!["Campaign Created — LEGO campaign code: LEGO-2026-1".to_owned()]
            )),
            "first, and where it matched once though both passes found it"
        );
        let first = f.store.find("lego 2026 1", 3).unwrap();
        assert_eq!(first[0].campaign.lego_campaign_code.as_deref(), Some("LEGO-2026-1"), "within the limit");
        assert_eq!(first.len(), 3, "then the most recent that start with it");
        assert_eq!(first[1].campaign.lego_campaign_code.as_deref(), Some("LEGO-2026-19"));
    }

    /// Two values of one entry hold the word typed: each is listed once, though both passes
    /// (whole words, then beginnings) find the entry (the window keys the list by them).
    #[test]
    fn where_a_campaign_matched_is_listed_once() {
        let mut f = fixture();
        create(&mut f.store, "LEGO-2026-2", "LEGO take-back");
        let places = found(&f.store, "lego").remove(0).1;
        assert_eq!(
            places,
            [
                "Campaign Created — LEGO campaign code: LEGO-2026-2",
                "Campaign Created — Description: LEGO take-back"
            ]
        );
    }

    /// The index reads each word by its first four characters; an entry is found only when its
    /// own words start with every word typed, however long, and all of them in one entry.
    #[test]
    fn every_word_typed_is_held_by_one_entry() {
        let mut f = fixture();
        create(&mut f.store, "LEGO-S-1", "Schenker pickup");
        create(&mut f.store, "LEGO-S-2", "Schedule change");
        assert_eq!(codes(&f.store, "schenker"), ["LEGO-S-1"]);
        assert_eq!(codes(&f.store, "SCHED"), ["LEGO-S-2"]);
        assert_eq!(codes(&f.store, "sche"), ["LEGO-S-2", "LEGO-S-1"]);
        assert_eq!(codes(&f.store, "schenkers"), Vec::<String>::new());
        // Typed halfway: the last word a beginning.
        assert_eq!(codes(&f.store, "lego-s-1 schen"), ["LEGO-S-1"]);
        // Words of two campaigns, or of two entries, do not make a match together.
        assert!(codes(&f.store, "schenker change").is_empty());
        let id = campaign(&mut f.store, 7, 2);
        let code = f.store.projection(&id).unwrap().unwrap().lego_campaign_code.unwrap();
        let carrier = SampleCampaign::numbered(7).payload(EventType::InboundShipmentRecorded).unwrap()
            ["carrier"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(codes(&f.store, &carrier).len(), 1);
        assert!(
            codes(&f.store, &format!("{code} {carrier}")).is_empty(),
            "the code and the carrier are in two entries"
        );
    }

    #[test]
    fn a_store_from_before_find_is_indexed_when_opened() {
        let mut f = fixture();
        campaign(&mut f.store, 1, 4);
        f.store
            .connection()
            .execute_batch(
                "INSERT INTO search_index (search_index) VALUES ('delete-all');
                 DELETE FROM meta WHERE key = 'search_index';",
            )
            .unwrap();
        drop(f.store);
        let store = Store::open(&f.path).unwrap();
        assert_eq!(found(&store, &SampleCampaign::numbered(1).code).len(), 1);
        assert!(store.verify().unwrap().is_empty());
    }
}

#[test]
fn a_form_starts_from_the_last_output_and_this_laptops_last_carrier_and_waste_code() {
    let mut f = fixture();
    let first = campaign(&mut f.store, 1, 3);
    let second = campaign(&mut f.store, 2, 1);
    let state = f.store.projection(&first).unwrap().unwrap();
    let defaults = f.store.form_defaults(Some(&first), EventType::MetalRemovalCompleted).unwrap();
    assert_eq!(defaults["startingWeightKg"], serde_json::json!(state.current_weight_kg.unwrap()));
    let granulation = SampleCampaign::numbered(1).payload(EventType::GranulationCompleted).unwrap();
    if let Some(code) = granulation.get("wasteCode") {
        assert_eq!(&defaults["wasteCode"], code, "remembered from the last entry that had one");
    }
    // The inbound form of another campaign: the carrier this laptop used last, no weight yet.
    let inbound = SampleCampaign::numbered(1).payload(EventType::InboundShipmentRecorded).unwrap();
    let defaults = f.store.form_defaults(Some(&second), EventType::InboundShipmentRecorded).unwrap();
    assert_eq!(defaults.get("carrier"), inbound.get("carrier"));
    assert!(!defaults.contains_key("startingWeightKg"));
    // A new campaign's form has nothing to carry.
    assert!(f.store.form_defaults(None, EventType::CampaignCreated).unwrap().is_empty());
}

/// Every table and index of the schema belongs to one declared part of the store.
#[test]
fn every_btree_belongs_to_one_declared_read_model() {
    let f = fixture();
    let mut stmt = f
        .store
        .connection()
        .prepare("SELECT name FROM sqlite_schema WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_stat%'")
        .unwrap();
    let names: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    for name in &names {
        let owners =
            crate::read_models::READ_MODELS.iter().filter(|m| m.btrees.contains(&name.as_str())).count();
        assert_eq!(owners, 1, "{name} belongs to {owners} read models in read_models.rs");
    }
    for model in crate::read_models::READ_MODELS {
        for btree in model.btrees {
            assert!(
                names.iter().any(|n| n == btree),
                "{} declares {btree}, which the schema does not have",
                model.name
            );
        }
    }
}
