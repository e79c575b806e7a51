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

use crate::registry::EventType;
use crate::time::{IsoDate, Timestamp};

/// When an entry was recorded, for versions that add what an older entry only implied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recording {
    /// The entry's `createdAt`.
    pub at: Timestamp,
    /// The day it was recorded: for a stored event the day of `createdAt` in the sites'
    /// calendar ([`crate::time::SITE_TIME_ZONE`]), the same on every laptop; for an entry being
    /// made, the day on this laptop's clock, which is the site's.
    pub day: IsoDate,
}

impl Recording {
    /// A stored event recorded at `at`.
    pub fn stored(at: Timestamp) -> Recording {
        Recording { at, day: at.site_day() }
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

/// The processing steps (granulation, metal removal, purification, extrusion) 1 → 2: version 2
/// records the day the step was completed (`completedOn`); a version 1 entry was completed the
/// day it was recorded.
pub fn completed_on_from_recording(data: &mut Map<String, Value>, recorded: Recording) {
    data.entry("completedOn").or_insert_with(|| Value::String(recorded.day.to_string()));
}
