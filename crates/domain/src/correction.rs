//! Corrections and voids: how `EventCorrected` events turn recorded payloads into effective
//! ones and `EntryVoided` events withdraw entries, and the strict rules a new correction or void
//! must pass on this laptop.
//!
//! Corrections are applied in the campaign's canonical order. Each one is checked against the value it claims to
//! replace (`was`); a mismatch that arrived through sync (two people corrected the same field
//! offline) is applied anyway, so every replica agrees, and reported as an anomaly.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::anomaly::Anomaly;

use crate::anomaly::AnomalyKind;
use crate::event::Event;
use crate::field::{describe, FieldError};
use crate::ids::{EventId, UserId};
use crate::refusal::Refusal;
use crate::registry::fields::FieldKind;
use crate::registry::payload::{EntryVoid, EventCorrection, Reading};
use crate::registry::upcast::upcast;
use crate::registry::{EventType, Payload};
use crate::time::{IsoDate, Timestamp};

/// Recorded payloads with every correction applied.
#[derive(Debug, Default)]
pub struct Effective {
    corrected: HashMap<EventId, Value>,
    /// Anomalies found while applying corrections, attributed to the correction event.
    pub anomalies: Vec<Anomaly>,
    /// Corrections and voids a newer Pluto recorded that this build cannot apply (of a type or
    /// field it does not know): kept, left out of the fold, and counted as entries an update
    /// will show.
    newer: std::collections::HashSet<EventId>,
    /// The voided events, each with the first void that withdrew it.
    voided: HashMap<EventId, Voided>,
    /// The corrections applied to each corrected event, in the order they were recorded.
    applied: HashMap<EventId, Vec<Applied>>,
}

/// A correction that changed an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The `EventCorrected` event.
    pub id: EventId,
    /// When it was recorded.
    pub at: Timestamp,
    /// Why.
    pub reason: String,
    /// The day the event stated before, when the correction changed it.
    pub moved_from: Option<IsoDate>,
}

/// Whether `correction` changes a date field of `target`, so that it may move the day its step
/// took place.
fn changes_a_date(target: EventType, correction: &EventCorrection) -> bool {
    correction.changes.keys().any(|name| target.field(name).is_some_and(|f| f.kind == FieldKind::Date))
}

/// Why and by whom an entry was voided.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Voided {
    /// The `EntryVoided` event.
    pub void_id: EventId,
    /// Why.
    pub reason: String,
    /// When the void was recorded.
    pub voided_at: Timestamp,
    /// Who recorded it.
    pub voided_by: UserId,
    /// Their name ([`UserId::display_name`]).
    pub voided_by_name: String,
}

impl Effective {
    /// Applies the voids and then the corrections among `events` (one stream, in canonical order) to
    /// their targets. A voided correction corrects nothing.
    pub fn resolve(events: &[&Event]) -> Effective {
        let mut out = Effective::default();
        if !events.iter().any(|e| e.event_type.acts_on_others()) {
            return out;
        }
        let by_id: HashMap<&EventId, &Event> = events.iter().map(|e| (&e.id, *e)).collect();
        for event in events.iter().filter(|e| e.event_type == EventType::EntryVoided) {
            out.void(event, &by_id);
        }
        for event in events.iter().filter(|e| e.event_type == EventType::EventCorrected) {
            if out.voided.contains_key(&event.id) {
                continue;
            }
            let anomaly = |kind, message: String| Anomaly {
                event_id: event.id.clone(),
                event_type: event.event_type,
                kind,
                message,
                review: None,
                resolved: false,
            };
            let correction =
                match Payload::read(event.event_type, event.schema_version, &event.data, event.created_at) {
                    Reading::Full(Payload::EventCorrected(c))
                    | Reading::Partial(Payload::EventCorrected(c)) => c,
                    Reading::Full(_) | Reading::Partial(_) => {
                        unreachable!("an EventCorrected payload parses as a correction")
                    }
                    Reading::Newer => {
                        out.newer.insert(event.id.clone());
                        continue;
                    }
                    Reading::Invalid(e) => {
                        out.anomalies.push(anomaly(
                            AnomalyKind::InvalidPayload,
                            format!("unreadable correction: {e}"),
                        ));
                        continue;
                    }
                };
            let target_id = &correction.corrects_event_id;
            if let Some(earlier) = by_id.get(target_id).filter(|t| t.event_type == EventType::EventCorrected)
            {
                out.anomalies.push(anomaly(
                    AnomalyKind::CorrectionOfCorrection,
                    format!(
                        "corrects {}, which is itself a correction; it has no effect",
                        entry_words(earlier)
                    ),
                ));
                continue;
            }
            let target = match named_target(&by_id, target_id, correction.corrects_event_type, "corrects") {
                Ok(target) => target,
                Err((unknown, message)) => {
                    let kind = if unknown {
                        AnomalyKind::CorrectionOfUnknownEvent
                    } else {
                        AnomalyKind::CorrectionTypeMismatch
                    };
                    out.anomalies.push(anomaly(kind, message));
                    continue;
                }
            };
            let mut candidate = out.payload(target).into_owned();
            for (field, change) in &correction.changes {
                let before = field_value(&candidate, field);
                if !json_eq(&before, &change.was) {
                    out.anomalies.push(anomaly(
                        AnomalyKind::CorrectionConflict,
                        format!(
                            "expected the {} of {} to be {} but it was {} (corrected by someone else meanwhile?); applied anyway, it is now {}",
                            field_words(target, field),
                            entry_words(target),
                            describe(&change.was),
                            describe(&before),
                            describe(&change.now)
                        ),
                    ));
                }
                set_field(&mut candidate, field, &change.now);
            }
            match Payload::read(target.event_type, target.schema_version, &candidate, target.created_at) {
                Reading::Full(p) | Reading::Partial(p) => {
                    let moved_from = if changes_a_date(target.event_type, &correction) {
                        let before = out.payload(target);
                        match Payload::read(
                            target.event_type,
                            target.schema_version,
                            &before,
                            target.created_at,
                        ) {
                            Reading::Full(b) | Reading::Partial(b) => {
                                b.happened_on().filter(|&day| Some(day) != p.happened_on())
                            }
                            Reading::Newer | Reading::Invalid(_) => None,
                        }
                    } else {
                        None
                    };
                    out.corrected.insert(target_id.clone(), candidate);
                    out.applied.entry(target_id.clone()).or_default().push(Applied {
                        id: event.id.clone(),
                        at: event.created_at,
                        reason: correction.reason.clone(),
                        moved_from,
                    });
                }
                Reading::Newer => {
                    out.newer.insert(event.id.clone());
                }
                Reading::Invalid(e) => out.anomalies.push(anomaly(
                    AnomalyKind::CorrectionInvalid,
                    format!(
                        "would make {} invalid ({}: {}); it has no effect",
                        entry_words(target),
                        field_words(target, &e.field),
                        e.message
                    ),
                )),
            }
        }
        out
    }

    /// Applies one `EntryVoided` event: its target leaves the fold, unless the void cannot apply
    /// (an anomaly says why). The first void of an event counts; a later one changes nothing.
    fn void(&mut self, event: &Event, by_id: &HashMap<&EventId, &Event>) {
        let anomaly = |kind, message: String| Anomaly {
            event_id: event.id.clone(),
            event_type: event.event_type,
            kind,
            message,
            review: None,
            resolved: false,
        };
        let void = match Payload::read(event.event_type, event.schema_version, &event.data, event.created_at)
        {
            Reading::Full(Payload::EntryVoided(v)) | Reading::Partial(Payload::EntryVoided(v)) => v,
            Reading::Full(_) | Reading::Partial(_) => unreachable!("an EntryVoided payload parses as a void"),
            Reading::Newer => {
                self.newer.insert(event.id.clone());
                return;
            }
            Reading::Invalid(e) => {
                self.anomalies.push(anomaly(AnomalyKind::InvalidPayload, format!("unreadable void: {e}")));
                return;
            }
        };
        let target_id = &void.voids_event_id;
        if let Err((unknown, message)) = named_target(by_id, target_id, void.voids_event_type, "voids") {
            let kind = if unknown { AnomalyKind::VoidOfUnknownEvent } else { AnomalyKind::VoidTypeMismatch };
            self.anomalies.push(anomaly(kind, message));
            return;
        }
        self.voided.entry(target_id.clone()).or_insert_with(|| Voided {
            void_id: event.id.clone(),
            reason: void.reason,
            voided_at: event.created_at,
            voided_by: event.user_id.clone(),
            voided_by_name: event.user_id.display_name(),
        });
    }

    /// The void that withdrew `event`, if one did.
    pub fn voided(&self, event: &Event) -> Option<&Voided> {
        self.voided.get(&event.id)
    }

    /// The effective payload of `event`: its recorded data, upcast to the current version of
    /// its type, with corrections applied.
    pub fn payload<'a>(&'a self, event: &'a Event) -> Cow<'a, Value> {
        match self.corrected.get(&event.id) {
            Some(corrected) => Cow::Borrowed(corrected),
            None => upcast(event.event_type, event.schema_version, &event.data, event.created_at),
        }
    }

    /// Whether `event` is a correction this build cannot apply because a newer Pluto wrote it.
    pub fn is_newer(&self, event: &Event) -> bool {
        self.newer.contains(&event.id)
    }

    /// The corrections that changed `event`, in the order they were recorded.
    pub fn corrections_of(&self, event: &Event) -> &[Applied] {
        self.applied.get(&event.id).map_or(&[], Vec::as_slice)
    }

    /// Whether any correction changed `event`.
    pub fn is_corrected(&self, event: &Event) -> bool {
        self.corrected.contains_key(&event.id)
    }
}

/// The event `id` that a correction or void (`verb`: "corrects", "voids") names, if it is part
/// of the campaign and of the type the entry claims. Otherwise why it has no effect, and whether
/// that is because the campaign does not hold it (`true`) or because it is of another type.
fn named_target<'e>(
    by_id: &HashMap<&EventId, &'e Event>,
    id: &EventId,
    claimed: EventType,
    verb: &str,
) -> Result<&'e Event, (bool, String)> {
    let Some(target) = by_id.get(id) else {
        return Err((true, format!("{verb} an entry this campaign does not hold (yet); it has no effect")));
    };
    if target.event_type != claimed {
        let message = format!(
            "says the entry it {verb} is a {}, but it is {}; it has no effect",
            claimed.label(),
            entry_words(target)
        );
        return Err((false, message));
    }
    Ok(target)
}

/// An entry as a coordinator tells it apart in an anomaly's words: its step and when it was
/// recorded (`the Granulation recorded 2026-03-01 10:00 UTC`), never its id.
fn entry_words(entry: &Event) -> String {
    format!(
        "the {} recorded {}",
        entry.event_type.label(),
        entry.created_at.datetime().format("%Y-%m-%d %H:%M UTC")
    )
}

/// A field of `entry`'s type by its label, in lower case for the middle of a sentence (`output
/// weight`); a field its type does not have, by its name.
fn field_words(entry: &Event, field: &str) -> String {
    entry.event_type.field(field).map_or_else(|| field.to_owned(), |spec| spec.label.to_lowercase())
}

/// A payload field's value; an absent field reads as `null`.
pub fn field_value(payload: &Value, field: &str) -> Value {
    payload.get(field).cloned().unwrap_or(Value::Null)
}

fn set_field(payload: &mut Value, field: &str, value: &Value) {
    if let Value::Object(map) = payload {
        if value.is_null() {
            map.remove(field);
        } else {
            map.insert(field.to_owned(), value.clone());
        }
    } else {
        let mut map = Map::new();
        map.insert(field.to_owned(), value.clone());
        *payload = Value::Object(map);
    }
}

/// JSON equality where numbers compare by value (`1000` equals `1000.0`).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Checks a new correction against the stream it corrects (`events`, in canonical order, this
/// stream only): the target exists here and is not a correction, its type matches, every `was` equals
/// the current effective value, every `now` differs from it, and the corrected payload passes the
/// same rules as a new one.
pub fn check_correction(events: &[&Event], correction: &EventCorrection) -> Result<(), Refusal> {
    let target_id = &correction.corrects_event_id;
    let Some(target) = events.iter().find(|e| &e.id == target_id) else {
        return Err(FieldError::new(
            "correctsEventId",
            format!("no event {target_id} in this campaign; pick an event from its history"),
        )
        .into());
    };
    if target.event_type == EventType::EventCorrected {
        return Err(FieldError::new(
            "correctsEventId",
            format!("{target_id} is itself a correction; correct the original event instead"),
        )
        .into());
    }
    if target.event_type != correction.corrects_event_type {
        return Err(FieldError::new(
            "correctsEventType",
            format!("{target_id} is a {}, not a {}", target.event_type, correction.corrects_event_type),
        )
        .into());
    }
    let effective = Effective::resolve(events);
    let current = effective.payload(target);
    let mut candidate = current.clone().into_owned();
    for (field, change) in &correction.changes {
        let before = field_value(&current, field);
        if !json_eq(&before, &change.was) {
            return Err(FieldError::new(
                format!("changes.{field}.was"),
                format!(
                    "the current value of {field} is {}, not {}; it may have been corrected since you looked, so reload and try again",
                    describe(&before),
                    describe(&change.was)
                ),
            )
            .into());
        }
        if json_eq(&before, &change.now) {
            return Err(FieldError::new(
                format!("changes.{field}.now"),
                format!("is the same as the current value ({}); nothing to correct", describe(&before)),
            )
            .into());
        }
        set_field(&mut candidate, field, &change.now);
    }
    Payload::parse(target.event_type, &candidate).map_err(|e| {
        if correction.changes.contains_key(&e.field) {
            FieldError::new(format!("changes.{}.now", e.field), e.message)
        } else {
            FieldError::new("changes", format!("the corrected {} would be invalid: {e}", target.event_type))
        }
    })?;
    Ok(())
}

/// Builds the payload of a correction of `target_id` (in the stream `events`, in canonical order):
/// each `(field, now)` gets the field's current effective value as `was`. The result still goes
/// through [`check_correction`] when it is recorded.
pub fn build_correction(
    events: &[&Event],
    target_id: &EventId,
    changes: &[(String, Value)],
    reason: &str,
) -> Result<Value, Refusal> {
    let Some(target) = events.iter().find(|e| &e.id == target_id) else {
        return Err(FieldError::new(
            "correctsEventId",
            format!("no event {target_id} in this campaign; pick an event from its history"),
        )
        .into());
    };
    let effective = Effective::resolve(events);
    let current = effective.payload(target);
    let mut map = Map::new();
    for (field, now) in changes {
        if target.event_type.field(field).is_none() {
            return Err(crate::registry::fields::unknown_field_error(
                target.event_type,
                &format!("changes.{field}"),
                field,
            )
            .into());
        }
        map.insert(field.clone(), serde_json::json!({ "was": field_value(&current, field), "now": now }));
    }
    Ok(serde_json::json!({
        "correctsEventId": target_id,
        "correctsEventType": target.event_type,
        "reason": reason,
        "changes": map,
    }))
}

/// The refusal of a void of `target_id`, which the campaign does not hold.
pub fn no_entry_to_void(target_id: &EventId) -> Refusal {
    FieldError::new(
        "voidsEventId",
        format!("no entry {target_id} in this campaign; void an entry from the campaign's own history"),
    )
    .into()
}

/// Checks a new void against the stream it belongs to (`events`, in canonical order, this
/// stream only): the target is one of its entries, of the type the void names, not the campaign's
/// creation (its fields are corrected instead), and not voided already.
pub fn check_void(events: &[&Event], void: &EntryVoid) -> Result<(), Refusal> {
    check_void_in(events, &Effective::resolve(events), void)
}

/// [`check_void`] with the stream's voids and corrections resolved already (`effective`), for
/// trying several voids on one stream.
pub fn check_void_in(events: &[&Event], effective: &Effective, void: &EntryVoid) -> Result<(), Refusal> {
    let target_id = &void.voids_event_id;
    let Some(target) = events.iter().find(|e| &e.id == target_id) else {
        return Err(no_entry_to_void(target_id));
    };
    if target.event_type != void.voids_event_type {
        return Err(FieldError::new(
            "voidsEventType",
            format!(
                "{target_id} is a {}, not a {}",
                target.event_type.label(),
                void.voids_event_type.label()
            ),
        )
        .into());
    }
    if target.event_type == EventType::CampaignCreated {
        return Err(FieldError::new(
            "voidsEventId",
            "a campaign's creation cannot be voided; correct its code, material or description instead",
        )
        .into());
    }
    if let Some(earlier) = effective.voided(target) {
        return Err(FieldError::new(
            "voidsEventId",
            format!(
                "this {} entry was already voided by {} on {} ({})",
                target.event_type.label(),
                earlier.voided_by.display_name(),
                earlier.voided_at.datetime().format("%Y-%m-%d"),
                earlier.reason
            ),
        )
        .into());
    }
    Ok(())
}
