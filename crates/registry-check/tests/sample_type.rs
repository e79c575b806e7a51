//! `SampleRetained`, an event type added to the registry alone (its entry and its payload type,
//! registered with the domain's `sample-type` feature), is recorded, folded, synced, exported
//! and imported by the store like any other: nothing below the registry names a type.

use pluto_domain::samples::SampleCampaign;
use pluto_domain::{CampaignId, CampaignStatus, EventType, UserId};
use pluto_protocol::PulledEvent;
use pluto_store::{Draft, Store};
use serde_json::{json, Value};

fn user() -> UserId {
    UserId::parse("usr_ana").unwrap()
}

/// A campaign granulated at MBA, on a fresh store in `dir`.
fn granulated(dir: &std::path::Path) -> (Store, CampaignId) {
    let mut store = Store::open(&dir.join("laptop.sqlite3")).unwrap();
    let sample = SampleCampaign::numbered(5);
    let mut id = None;
    for t in &EventType::STEPS[..3] {
        let draft = Draft::new(id.clone(), *t, sample.payload(*t).unwrap(), user());
        id = Some(store.record(draft).unwrap().event.stream_id);
    }
    (store, id.unwrap())
}

/// Recorded on one laptop, folded, pushed and pulled by another, exported and imported by a
/// third: the new type needs nothing besides its registry entry and payload type.
#[test]
fn a_registered_type_is_recorded_folded_synced_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let (mut laptop, id) = granulated(dir.path());
    let t = EventType::parse("SampleRetained").unwrap();
    let refused =
        Draft::new(Some(id.clone()), t, json!({"sampleId": " ", "retainedBy": "Ana", "weightKg": 2}), user());
    let err = laptop.record(refused).unwrap_err().to_string();
    assert!(err.contains("sampleId"), "{err}");

    let recorded = laptop.record(Draft::new(Some(id.clone()), t, t.example().unwrap(), user())).unwrap();
    let state = recorded.state;
    assert_eq!(
        (state.status, state.event_count, state.newer_entries),
        (CampaignStatus::GranulationComplete, 4, 0)
    );
    assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
    assert_eq!(state.last_event_type, Some(EventType::GranulationCompleted), "not a step");
    // The next step is still the one after granulation.
    let sample = SampleCampaign::numbered(5);
    let metal = EventType::MetalRemovalCompleted;
    laptop.record(Draft::new(Some(id.clone()), metal, sample.payload(metal).unwrap(), user())).unwrap();
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
            admin: false,
            site: Some("MBA".into()),
            event: serde_json::value::to_raw_value(e).unwrap(),
        })
        .collect();
    let report = other.apply_pulled(&page, 5).unwrap();
    assert_eq!(report.inserted, 5, "{:?}", other.pull_refusals().unwrap());
    assert!(other.pull_refusals().unwrap().is_empty());
    let there = other.campaign(&id).unwrap().unwrap();
    assert_eq!(
        (there.status, there.event_count, there.newer_entries),
        (CampaignStatus::MetalRemovalComplete, 5, 0)
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
    assert_eq!(third.campaign(&id).unwrap().unwrap().event_count, 5);
    assert!(third.verify().unwrap().is_empty());
}
