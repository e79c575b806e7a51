//! Upcasting as a laptop meets it: older versions read as the current one, never rewritten,
//! and entries typed as the original design writes them recorded as the current version.

use serde_json::json;

use pluto_domain::samples::SampleCampaign;
use pluto_domain::{
    CampaignId, DeviceId, Event, EventId, EventType, Payload, Reading, Timestamp, UserId,
    STREAM_TYPE_CAMPAIGN,
};
use pluto_store::{Draft, Store};

/// A whole lifecycle as a laptop on schema version 1 of `CampaignCompleted` and of the
/// processing steps recorded it.
fn lifecycle_written_by_version_1(closed: Timestamp) -> (CampaignId, Vec<Event>) {
    let id = CampaignId::generate();
    let device = DeviceId::generate();
    let sample = SampleCampaign::numbered(8);
    let events = EventType::STEPS
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let at = Timestamp::from_millis(closed.millis() - (12 - i as i64) * 86_400_000);
            let mut data = sample.payload(t).unwrap();
            let version = if t == EventType::CampaignCompleted {
                data = json!({ "completionNotes": "All parts received at LEGO" });
                1
            } else if data.as_object_mut().unwrap().remove("completedOn").is_some() {
                1
            } else {
                t.schema_version()
            };
            Event {
                id: EventId::generate(at.system_time()),
                stream_type: STREAM_TYPE_CAMPAIGN.to_owned(),
                stream_id: id.clone(),
                event_type: t,
                schema_version: version,
                data,
                user_id: UserId::parse("usr_older").unwrap(),
                device_id: device.clone(),
                device_seq: i as u64 + 1,
                created_at: if t == EventType::CampaignCompleted { closed } else { at },
            }
        })
        .collect();
    (id, events)
}

#[test]
fn a_version_1_completion_reads_as_closed_the_day_it_was_recorded() {
    let closed = Timestamp::parse("2026-04-30T22:15:00.000Z").unwrap();
    let (_, events) = lifecycle_written_by_version_1(closed);
    let completion = events.last().unwrap();
    let payload = completion.check().expect("an older version is accepted");
    let Payload::CampaignCompleted(p) = &payload else { panic!("{payload:?}") };
    assert_eq!(
        p.completion_date.to_string(),
        "2026-05-01",
        "the day of createdAt in the sites' calendar: 00:15 on 1 May in Copenhagen"
    );
    assert_eq!(completion.canonical_data(&payload), completion.data, "stored as written");
    let read = Payload::read(EventType::CampaignCompleted, 1, &completion.data, closed);
    assert_eq!(read, Reading::Full(payload));
    // A date the entry carries is never replaced.
    let mut dated = completion.data.clone();
    dated["completionDate"] = json!("2026-04-28");
    let upcast = pluto_domain::registry::upcast::upcast(EventType::CampaignCompleted, 1, &dated, closed);
    assert_eq!(upcast["completionDate"], "2026-04-28");
}

/// Old events stay as they were stored; the fold, corrections and a later version's
/// entries all see them upcast.
#[test]
fn stored_version_1_events_are_upcast_when_read_never_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("laptop.sqlite3")).unwrap();
    let closed = Timestamp::parse("2026-04-30T10:00:00.000Z").unwrap();
    let (id, events) = lifecycle_written_by_version_1(closed);
    store.apply_remote(&events).unwrap();
    let state = store.campaign(&id).unwrap().unwrap();
    assert_eq!(state.status, pluto_domain::CampaignStatus::Completed);
    assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
    assert_eq!(state.newer_entries, 0, "an older version is read fully");
    let completion = state.steps.completion.as_ref().unwrap();
    assert_eq!(completion.data.completion_date.to_string(), "2026-04-30");
    let granulation = state.steps.granulation.as_ref().unwrap();
    assert_eq!(granulation.data.completed_on.to_string(), "2026-04-20", "completed the day it was recorded");
    let history = store.history(&id).unwrap();
    let stored_granulation =
        history.iter().find(|e| e.event_type == EventType::GranulationCompleted).unwrap();
    assert_eq!(stored_granulation.schema_version, 1);
    assert!(stored_granulation.data.get("completedOn").is_none(), "not rewritten");

    let stored = store.history(&id).unwrap().pop().unwrap();
    assert_eq!((stored.schema_version, &stored.data), (1, &events[11].data), "not rewritten");
    let mut exported = Vec::new();
    store.export(&mut exported).unwrap();
    assert!(String::from_utf8(exported).unwrap().contains(r#""schemaVersion":1,"data":{"completionNotes""#));

    // Correcting the upcast date compares with the upcast value.
    let change = [("completionDate".to_owned(), "2026-04-29".to_owned())];
    let recorded = store.correct(
        &id,
        &stored.id,
        &change,
        "closed the day before",
        UserId::parse("usr_ana").unwrap(),
        pluto_store::Seen::default(),
    );
    let recorded = recorded.unwrap();
    assert_eq!(
        recorded.event.data["changes"]["completionDate"],
        json!({"was": "2026-04-30", "now": "2026-04-29"})
    );
    let state = store.campaign(&id).unwrap().unwrap();
    assert_eq!(state.steps.completion.unwrap().data.completion_date.to_string(), "2026-04-29");
    assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
    assert!(store.verify().unwrap().is_empty());
    assert!(store.rebuild().is_ok());
    assert!(store.verify().unwrap().is_empty());
}

#[test]
fn this_build_writes_the_current_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("laptop.sqlite3")).unwrap();
    let sample = SampleCampaign::numbered(2);
    let mut id = None;
    let mut last = None;
    for &t in &EventType::STEPS {
        let recorded = store.record(Draft::new(
            id.clone(),
            t,
            sample.payload(t).unwrap(),
            UserId::parse("usr_ana").unwrap(),
        ));
        let recorded = recorded.unwrap();
        id = Some(recorded.event.stream_id.clone());
        last = Some(recorded.event);
    }
    let last = last.unwrap();
    assert_eq!((last.event_type, last.schema_version), (EventType::CampaignCompleted, 2));
}

/// The original design's `CampaignCompleted` is `{"completionNotes"?}`: typed so, it is
/// recorded as the current version, closed today on this laptop's clock.
#[test]
fn an_entry_typed_as_the_original_design_writes_it_is_recorded_as_the_current_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("laptop.sqlite3")).unwrap();
    let sample = SampleCampaign::numbered(3);
    let mut id = None;
    for &t in &EventType::STEPS[..EventType::STEPS.len() - 1] {
        let draft = Draft::new(id.clone(), t, sample.payload(t).unwrap(), UserId::parse("usr_ana").unwrap());
        id = Some(store.record(draft).unwrap().event.stream_id);
    }
    let today = chrono::Local::now().date_naive().to_string();
    let spec = json!({ "completionNotes": "done" });
    let recorded = store
        .record(Draft::new(id.clone(), EventType::CampaignCompleted, spec, UserId::parse("usr_ana").unwrap()))
        .unwrap();
    assert_eq!(recorded.event.schema_version, 2);
    assert_eq!(recorded.event.data, json!({ "completionDate": today, "completionNotes": "done" }));
    // A date that is typed is kept; a date typed wrong is still refused by name.
    let dated = json!({"completionDate": "2026-03-30"});
    let entry =
        pluto_domain::registry::upcast::upcast_entry(EventType::CampaignCompleted, &dated, Timestamp::now());
    assert_eq!(entry["completionDate"], "2026-03-30");
    let wrong = json!({ "completionDate": "30.03.2026" });
    let err = Payload::parse_entry(EventType::CampaignCompleted, &wrong, Timestamp::now()).unwrap_err();
    assert_eq!(err.field, "completionDate");
}
