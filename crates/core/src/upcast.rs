//! Upcasting: reading a payload written under an older schema version of its type as the
//! current version, when it is read, so stored events never need rewriting.
//!
//! Each type's chain is declared in the registry ([`crate::registry`]). An upcaster only adds
//! what its version introduced and leaves a field that is already there alone, so applying a
//! chain twice, or to a payload a correction already completed, changes nothing.
//!
//! The same chains make an entry typed as the original design writes it acceptable as it is
//! typed ([`upcast_entry`]): a field a later version added is optional on input and defaulted,
//! while the writer stores it.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::payload::EventType;
use crate::time::{IsoDate, Timestamp};

/// When an entry was recorded, for versions that add what an older entry only implied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recording {
    /// The entry's `createdAt`.
    pub at: Timestamp,
    /// The day it was recorded: for a stored event the UTC day of `createdAt` (as the builds
    /// that wrote the older version showed it); for an entry being made, the day on this
    /// laptop's clock, which is the site's.
    pub day: IsoDate,
}

impl Recording {
    /// A stored event recorded at `at`.
    pub fn stored(at: Timestamp) -> Recording {
        Recording { at, day: IsoDate(at.datetime().date_naive()) }
    }

    /// An entry being made on this laptop at `now`.
    pub fn entry(now: Timestamp) -> Recording {
        Recording { at: now, day: IsoDate(now.datetime().with_timezone(&chrono::Local).date_naive()) }
    }
}

/// Turns the payload of one schema version into the next.
pub type Upcaster = fn(data: &mut Map<String, Value>, recorded: Recording);

/// `data`, recorded under `schema_version` of `event_type` at `recorded_at`, as the current
/// version of the type. Borrowed when there is nothing to upcast (the current version, a newer
/// one, or data that is not an object).
pub fn upcast(
    event_type: EventType,
    schema_version: u32,
    data: &Value,
    recorded_at: Timestamp,
) -> Cow<'_, Value> {
    let from = usize::try_from(schema_version.max(1) - 1).unwrap_or(usize::MAX);
    run(event_type.upcasters().get(from..).unwrap_or_default(), data, Recording::stored(recorded_at))
}

/// `data` of an entry being made at `now`, typed as any version of `event_type` writes it, as
/// the current version: every upcaster of the type runs, and each leaves a field that is there
/// alone. So the original design's `{"completionNotes": "done"}` is recorded with today's
/// `completionDate`.
pub fn upcast_entry(event_type: EventType, data: &Value, now: Timestamp) -> Cow<'_, Value> {
    run(event_type.upcasters(), data, Recording::entry(now))
}

fn run<'a>(chain: &[Upcaster], data: &'a Value, recorded: Recording) -> Cow<'a, Value> {
    match data {
        Value::Object(map) if !chain.is_empty() => {
            let mut map = map.clone();
            for step in chain {
                step(&mut map, recorded);
            }
            Cow::Owned(Value::Object(map))
        }
        _ => Cow::Borrowed(data),
    }
}

/// `CampaignCompleted` 1 → 2: version 2 records the day the campaign was closed
/// (`completionDate`); a version 1 entry was closed the day it was recorded.
pub fn completion_date_from_recording(data: &mut Map<String, Value>, recorded: Recording) {
    data.entry("completionDate").or_insert_with(|| Value::String(recorded.day.to_string()));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::event::{Event, STREAM_TYPE_CAMPAIGN};
    use crate::payload::{EventType, Payload, Reading};
    use crate::samples::SampleCampaign;
    use crate::store::{Draft, Store};
    use crate::time::Timestamp;
    use crate::{CampaignId, DeviceId, EventId, UserId};

    /// A whole lifecycle as a laptop on schema version 1 of `CampaignCompleted` recorded it.
    fn lifecycle_written_by_version_1(closed: Timestamp) -> (CampaignId, Vec<Event>) {
        let id = CampaignId::generate();
        let device = DeviceId::generate();
        let sample = SampleCampaign::numbered(8);
        let events = EventType::STEPS
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let at = Timestamp::from_millis(closed.millis() - (12 - i as i64) * 86_400_000);
                let (version, data) = if t == EventType::CampaignCompleted {
                    (1, json!({ "completionNotes": "All parts received at LEGO" }))
                } else {
                    (t.schema_version(), sample.payload(t).unwrap())
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
        assert_eq!(p.completion_date.to_string(), "2026-04-30", "the UTC day of createdAt");
        assert_eq!(completion.canonical_data(&payload), completion.data, "stored as written");
        let read = Payload::read(EventType::CampaignCompleted, 1, &completion.data, closed);
        assert_eq!(read, Reading::Full(payload));
        // A date the entry carries is never replaced.
        let mut dated = completion.data.clone();
        dated["completionDate"] = json!("2026-04-28");
        let upcast = super::upcast(EventType::CampaignCompleted, 1, &dated, closed);
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
        assert_eq!(state.status, crate::CampaignStatus::Completed);
        assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
        assert_eq!(state.newer_entries, 0, "an older version is read fully");
        let completion = state.steps.completion.as_ref().unwrap();
        assert_eq!(completion.data.completion_date.to_string(), "2026-04-30");

        let stored = store.history(&id).unwrap().pop().unwrap();
        assert_eq!((stored.schema_version, &stored.data), (1, &events[11].data), "not rewritten");
        let mut exported = Vec::new();
        store.export(&mut exported).unwrap();
        assert!(String::from_utf8(exported)
            .unwrap()
            .contains(r#""schemaVersion":1,"data":{"completionNotes""#));

        // Correcting the upcast date compares with the upcast value.
        let change = [("completionDate".to_owned(), "2026-04-29".to_owned())];
        let recorded = store.correct(
            &id,
            &stored.id,
            &change,
            "closed the day before",
            UserId::parse("usr_ana").unwrap(),
            crate::store::Seen::default(),
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
            let draft =
                Draft::new(id.clone(), t, sample.payload(t).unwrap(), UserId::parse("usr_ana").unwrap());
            id = Some(store.record(draft).unwrap().event.stream_id);
        }
        let today = chrono::Local::now().date_naive().to_string();
        let spec = json!({ "completionNotes": "done" });
        let recorded = store
            .record(Draft::new(
                id.clone(),
                EventType::CampaignCompleted,
                spec,
                UserId::parse("usr_ana").unwrap(),
            ))
            .unwrap();
        assert_eq!(recorded.event.schema_version, 2);
        assert_eq!(recorded.event.data, json!({ "completionDate": today, "completionNotes": "done" }));
        // A date that is typed is kept; a date typed wrong is still refused by name.
        let dated = json!({"completionDate": "2026-03-30"});
        let entry = super::upcast_entry(EventType::CampaignCompleted, &dated, Timestamp::now());
        assert_eq!(entry["completionDate"], "2026-03-30");
        let wrong = json!({ "completionDate": "30.03.2026" });
        let err = Payload::parse_entry(EventType::CampaignCompleted, &wrong, Timestamp::now()).unwrap_err();
        assert_eq!(err.field, "completionDate");
    }
}
