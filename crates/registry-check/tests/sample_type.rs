//! `SampleRetained`, a step added to the registry alone (its entry, between metal removal and
//! purification, and its payload type, registered with the domain's `sample-type` feature): the
//! progression, the fold, the forms, the site policy, home's stall thresholds, the period report,
//! sync and export all follow, with nothing below the registry naming it.

use std::collections::BTreeMap;

use pluto_domain::policy::{default_site_policy, SitePolicy};
use pluto_domain::samples::SampleCampaign;
use pluto_domain::{CampaignId, CampaignStatus, EventType, Payload, Timestamp, UserId};
use pluto_protocol::PulledEvent;
use pluto_reports::period::{report, Period, Scope};
use pluto_store::{Draft, Store};
use serde_json::{json, Value};

fn user() -> UserId {
    UserId::parse("usr_ana").unwrap()
}

/// The test-only step.
fn sample_step() -> EventType {
    EventType::parse("SampleRetained").unwrap()
}

/// A campaign through metal removal at MBA, on a fresh store in `dir`.
fn metal_removed(dir: &std::path::Path) -> (Store, CampaignId) {
    let mut store = Store::open(&dir.join("laptop.sqlite3")).unwrap();
    let sample = SampleCampaign::numbered(5);
    let mut id = None;
    for t in &EventType::STEPS[..4] {
        let draft = Draft::new(id.clone(), *t, sample.payload(*t).unwrap(), user());
        id = Some(store.record(draft).unwrap().event.stream_id);
    }
    (store, id.unwrap())
}

/// The registry alone puts the step in the progression, the vocabulary and the forms.
#[test]
fn the_registry_alone_adds_a_step_to_the_progression_and_the_forms() {
    let t = sample_step();
    assert_eq!(serde_json::to_value(t).unwrap(), "SampleRetained");
    let steps: Vec<&str> = EventType::STEPS.iter().map(|s| s.as_str()).collect();
    assert_eq!(steps[3..6], ["MetalRemovalCompleted", "SampleRetained", "PolymerPurificationCompleted"]);
    assert_eq!(CampaignStatus::ALL.len(), EventType::STEPS.len());
    let status = t.target_status().unwrap();
    assert_eq!((status.as_str(), status.code(), status.label()), ("sample_retained", 31, "Sample retained"));
    assert_eq!(CampaignStatus::from_code(31), Some(status));
    assert_eq!(CampaignStatus::MetalRemovalComplete.next_event_type(), Some(t));
    assert!(EventType::registry_fingerprint().contains("SampleRetained@1"));
    let names: Vec<&str> = t.fields().iter().map(|f| f.name).collect();
    assert_eq!(names, ["sampleId", "retainedBy", "weightKg"]);
    let form: BTreeMap<String, String> =
        [("sampleId", "S-17"), ("retainedBy", "Ana Jensen"), ("weightKg", "2.5")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
    assert_eq!(Payload::from_form(t, &form).unwrap(), t.example().unwrap());
    let mut bad = form.clone();
    bad.insert("weightKg".into(), "heavy".into());
    assert_eq!(Payload::from_form(t, &bad).unwrap_err()[0].field, "weightKg");
}

/// The sites its entry names are the default policy: MBA records the step, its corrections and
/// voids, and no other site does; MBA's laptop offers it among its own steps.
#[test]
fn the_registry_alone_gives_a_step_its_sites() {
    let t = sample_step();
    let mba = default_site_policy().into_iter().find(|(site, _)| *site == "MBA").unwrap().1;
    assert!(mba.contains(&t));
    assert!(SitePolicy::default_for("MBA").check(t, None).is_ok());
    assert!(SitePolicy::default_for("MBA").check(EventType::EventCorrected, Some(t)).is_ok());
    let refused = SitePolicy::default_for("RGE").check(EventType::EntryVoided, Some(t)).unwrap_err();
    assert_eq!(refused, "site RGE may not void Sample Retention");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("laptop.sqlite3")).unwrap();
    assert!(store.step_offer("MBA").unwrap().mine.contains(&t));
    assert!(store.step_offer("RGE").unwrap().others.contains(&t));
}

/// Home waits for the step by its due days, and the period report balances with it.
#[test]
fn home_and_the_period_report_follow_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let (mut laptop, id) = metal_removed(dir.path());
    let t = sample_step();
    let waiting_in = CampaignStatus::MetalRemovalComplete;
    let threshold = laptop.stall_thresholds().unwrap().into_iter().find(|s| s.status == waiting_in).unwrap();
    assert_eq!(Some(threshold.days), t.default_due_days());
    let offer = laptop.step_offer("MBA").unwrap();
    let in_three_days = Timestamp::from_millis(Timestamp::now().millis() + 3 * 86_400_000);
    let work = laptop.work(&offer.mine, in_three_days, 10).unwrap();
    let stage = work.stages.iter().find(|s| s.status == waiting_in).unwrap();
    assert_eq!((stage.count, stage.stalled, stage.mine), (1, 1, true), "two days due, three waited");
    assert!(work.waiting.iter().any(|w| w.campaign.id == id.as_str() && w.stalled));

    laptop.record(Draft::new(Some(id.clone()), t, t.example().unwrap(), user())).unwrap();
    let sample = SampleCampaign::numbered(5);
    let purification = EventType::PolymerPurificationCompleted;
    laptop
        .record(Draft::new(Some(id.clone()), purification, sample.payload(purification).unwrap(), user()))
        .unwrap();
    let today = pluto_domain::time::IsoDate(chrono::Local::now().date_naive());
    let year = Period::new(pluto_domain::time::IsoDate(today.0 - chrono::Days::new(366)), today).unwrap();
    let balance = report(&laptop, year, Scope::default()).unwrap();
    assert!(balance.imbalance().abs() < 1e-6, "{balance:?}");
    assert_eq!(balance.campaigns.len(), 1);
    assert!(laptop.verify().unwrap().is_empty());
}

/// Recorded in its place on one laptop, folded, pushed and pulled by another, exported and
/// imported by a third: the new step needs nothing besides its registry entry and payload type.
#[test]
fn a_registered_step_is_recorded_folded_synced_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let (mut laptop, id) = metal_removed(dir.path());
    let t = sample_step();
    // Out of its place: the step after it is refused, naming it.
    let sample = SampleCampaign::numbered(5);
    let purification = EventType::PolymerPurificationCompleted;
    let early = Draft::new(Some(id.clone()), purification, sample.payload(purification).unwrap(), user());
    let err = laptop.record(early).unwrap_err().to_string();
    assert!(err.contains("Sample Retention"), "{err}");
    let refused =
        Draft::new(Some(id.clone()), t, json!({"sampleId": " ", "retainedBy": "Ana", "weightKg": 2}), user());
    let err = laptop.record(refused).unwrap_err().to_string();
    assert!(err.contains("sampleId"), "{err}");

    let recorded = laptop.record(Draft::new(Some(id.clone()), t, t.example().unwrap(), user())).unwrap();
    let state = recorded.state;
    assert_eq!((state.status, state.event_count, state.newer_entries), (t.target_status().unwrap(), 5, 0));
    assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
    assert_eq!(state.last_event_type, Some(t));
    assert_eq!(
        state.current_weight_kg,
        sample.payload(EventType::MetalRemovalCompleted).unwrap()["outputWeightKg"].as_f64()
    );
    // Now the step after it.
    laptop
        .record(Draft::new(Some(id.clone()), purification, sample.payload(purification).unwrap(), user()))
        .unwrap();
    assert!(laptop.verify().unwrap().is_empty());

    // Through the wire format of a push and a pull, to a second laptop.
    let mut other = Store::open(&dir.path().join("other.sqlite3")).unwrap();
    let page: Vec<PulledEvent> = laptop
        .unsynced(100)
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, e)| PulledEvent {
            position: i64::try_from(i).unwrap() + 1,
            received_at: None,
            admin: false,
            site: Some("MBA".into()),
            event: serde_json::value::to_raw_value(e).unwrap(),
        })
        .collect();
    let pulled = other.apply_pulled(&page, 6).unwrap();
    assert_eq!(pulled.inserted, 6, "{:?}", other.pull_refusals().unwrap());
    assert!(other.pull_refusals().unwrap().is_empty());
    let there = other.campaign(&id).unwrap().unwrap();
    assert_eq!(
        (there.status, there.event_count, there.newer_entries),
        (CampaignStatus::PolymerPurificationComplete, 6, 0)
    );
    assert_eq!(other.history(&id).unwrap(), laptop.history(&id).unwrap());

    // Export and import.
    let mut file = Vec::new();
    laptop.export(&mut file).unwrap();
    let text = String::from_utf8(file.clone()).unwrap();
    let line = text.lines().find(|l| l.contains("SampleRetained")).unwrap();
    let exported: Value = serde_json::from_str(line).unwrap();
    assert_eq!(exported["data"], t.example().unwrap());
    let mut third = Store::open(&dir.path().join("third.sqlite3")).unwrap();
    third.import(file.as_slice()).unwrap();
    assert_eq!(third.campaign(&id).unwrap().unwrap().event_count, 6);
    assert!(third.verify().unwrap().is_empty());
}

/// Statuses are stored by their codes, never by their place in the progression: a store written
/// by a build without the step (`crates/store/tests/fixtures/schema-v15.sqlite3`, written by
/// `pluto` built without `sample-type`, at this build's schema version so that opening it folds
/// nothing again) reads the same with the step inserted before
/// purification. Every campaign keeps its status and its recorded steps (the sample step among
/// none of them), and the period report from the stored flows gives the figures that build gave.
#[test]
fn a_step_inserted_before_others_leaves_existing_stores_reading_the_same() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../store/tests/fixtures/schema-v15.sqlite3");
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("written-without-the-step.sqlite3");
    std::fs::copy(&fixture, &copy).unwrap();
    let store = Store::open(&copy).unwrap();
    let page = store.list(&pluto_store::ListQuery { limit: 10, ..Default::default() }).unwrap();
    let statuses: BTreeMap<String, CampaignStatus> =
        page.rows.iter().map(|r| (r.lego_campaign_code.clone().unwrap(), r.status)).collect();
    let through = |last: CampaignStatus| -> Vec<EventType> {
        // The creation is no step of the chain's to record (it marks no bit).
        let normal: Vec<EventType> =
            EventType::STEPS[1..].iter().copied().filter(|&t| t != sample_step()).collect();
        let end = normal.iter().position(|t| t.target_status() == Some(last)).unwrap();
        normal[..=end].to_vec()
    };
    let expected = [
        ("LEGO-FX-13-1", CampaignStatus::ManufacturingStarted),
        ("LEGO-FX-13-2", CampaignStatus::ExtrusionComplete),
        ("LEGO-FX-13-3", CampaignStatus::MetalRemovalComplete),
    ];
    let expected: BTreeMap<String, CampaignStatus> =
        expected.iter().map(|(c, s)| ((*c).to_owned(), *s)).collect();
    assert_eq!(statuses, expected);
    for row in &page.rows {
        let state = store.projection(&CampaignId::parse(&row.id).unwrap()).unwrap().unwrap();
        let recorded: Vec<EventType> =
            EventType::STEPS.iter().copied().filter(|&t| state.is_recorded(t)).collect();
        assert_eq!(recorded, through(row.status), "{:?}", row.lego_campaign_code);
    }
    let year = Period::new(
        pluto_domain::time::IsoDate(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
        pluto_domain::time::IsoDate(chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()),
    )
    .unwrap();
    let balance = report(&store, year, Scope::default()).unwrap();
    let lines: Vec<(String, f64)> =
        balance.lines.iter().map(|l| (l.label.clone(), (l.figure.total * 10.0).round() / 10.0)).collect();
    let as_written = [
        ("Received at MBA (inbound net weight)", 10080.6),
        ("Process loss in Granulation", 510.6),
        ("Output of Granulation", 9570.0),
        ("Handling loss before Metal Removal", 30.0),
        ("Process loss in Metal Removal", 88.5),
        ("Output of Metal Removal", 9451.5),
        ("Handling loss before Polymer Purification", 21.0),
        ("Process loss in Polymer Purification", 560.0),
        ("Output of Polymer Purification", 5720.0),
        ("Handling loss before Extrusion", 20.0),
        ("Process loss in Extrusion", 300.0),
        ("Output of Extrusion", 5400.0),
        ("Shipped to RGE", 2700.0),
        ("Received at RGE", 2695.0),
        ("Loss in transit to RGE", 5.0),
        ("Parts ordered (PO quantity)", 12000.0),
    ];
    assert_eq!(lines, as_written.map(|(l, t)| (l.to_owned(), t)));
    assert!((balance.closing.total - 8545.5).abs() < 1e-6, "{}", balance.closing.total);
}
