//! Checking pushed events one by one, with the same rules as the desktop applies to events
//! from elsewhere ([`Event::check`]: envelope and payload, not the progression, because facts
//! recorded offline are accepted and surface as anomalies), and putting them in canonical form.
//!
//! Each event is judged on its own, so one malformed event in a batch refuses only itself.

use std::time::Duration;

use pluto_core::payload::describe;
use pluto_core::{Event, EventId, EventType, FieldError, Timestamp};
use serde_json::value::RawValue;
use serde_json::Value;

/// A pushed event after checking.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// Its id, when that much could be read (refusals are reported under it).
    pub id: Option<EventId>,
    /// The canonical event, or why it is refused (naming the field).
    pub verdict: Result<Event, FieldError>,
}

/// Checks one pushed event and returns it in canonical form: the payload re-serialized from
/// its parsed value (`10000` becomes `10000.0` in a weight), so that the same fact pushed twice
/// compares equal whatever JSON spelling the laptop used.
pub fn check(raw: &Value) -> Checked {
    let id = raw.get("id").and_then(Value::as_str).and_then(|s| EventId::parse(s).ok());
    // Before any other check: serde would also read an event from a list, which carries no
    // `deviceId` for the device check to see.
    if !raw.is_object() {
        return not_an_object(id, &describe(raw));
    }
    let verdict = parse(raw).and_then(|event| {
        if i64::try_from(event.device_seq).is_err() {
            return Err(FieldError::new(
                "deviceSeq",
                format!("expected at most {}, got {}", i64::MAX, event.device_seq),
            ));
        }
        id_time_agrees(&event)?;
        let payload = event.check()?;
        Ok(Event { data: event.canonical_data(&payload), ..event })
    });
    Checked { id, verdict }
}

/// How far an event id's time (the first 48 bits of its ULID) may lie before its `createdAt`.
/// Pluto makes both from one reading of the clock when an entry is recorded; only when another
/// laptop's clock ran ahead does it give a new entry the next id after that laptop's latest one,
/// which lies *after* its `createdAt`. An id well before its `createdAt` was made to sort
/// earlier than it was recorded (the fold orders a campaign's events by id): a backdating.
pub const MAX_ID_BEFORE_CREATED: Duration = Duration::from_secs(60 * 60);

/// Refuses an event whose id's time lies more than [`MAX_ID_BEFORE_CREATED`] before its
/// `createdAt`.
fn id_time_agrees(event: &Event) -> Result<(), FieldError> {
    let id_ms = i64::try_from(event.id.ulid().timestamp_ms()).unwrap_or(i64::MAX);
    let before_ms = event.created_at.millis().saturating_sub(id_ms);
    if before_ms <= 0 || before_ms.unsigned_abs() <= MAX_ID_BEFORE_CREATED.as_millis() as u64 {
        return Ok(());
    }
    Err(FieldError::new(
        "id",
        format!(
            "the id's time ({}) lies {} hours before createdAt ({}); an event's id is made when it is \
             recorded, never more than {} minutes before it",
            Timestamp::from_millis(id_ms),
            before_ms / 3_600_000,
            event.created_at,
            MAX_ID_BEFORE_CREATED.as_secs() / 60
        ),
    ))
}

/// The type of the event a correction corrects or a void voids (`None` for other events); read
/// from a checked event, whose payload is valid.
pub fn acted_on_type(event: &Event) -> Option<EventType> {
    let field = event.event_type.target_type_field()?;
    event.data.get(field).and_then(Value::as_str).and_then(|name| EventType::parse(name).ok())
}

/// The refusal of an event that is not a JSON object (`got` says what it is instead).
fn not_an_object(id: Option<EventId>, got: &str) -> Checked {
    Checked { id, verdict: Err(FieldError::new("event", format!("expected a JSON object, got {got}"))) }
}

/// Reads the envelope, naming the field that is wrong as [`Event::from_json`] does, but from
/// the parsed request: positions in a text the client never sent would only mislead.
fn parse(raw: &Value) -> Result<Event, FieldError> {
    serde_path_to_error::deserialize(raw).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." { "event".to_owned() } else { path };
        FieldError::new(field, error.into_inner().to_string())
    })
}

/// The device a pushed event claims to come from, read before any other check, so that an
/// event of another device refuses the whole request even when it is malformed otherwise. Only
/// that field is read; the rest of the event is skipped without being built in memory.
pub fn claimed_device(raw: &RawValue) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Claim {
        #[serde(rename = "deviceId")]
        device_id: Option<String>,
    }
    serde_json::from_str::<Claim>(raw.get()).ok().and_then(|c| c.device_id)
}

/// The largest event the server reads, in bytes of JSON: far above any real entry (every text
/// field at its 10,000-character limit, a correction of all of them), far below what one
/// request may carry, so that no single event can make the server build a large value.
pub const MAX_EVENT_BYTES: usize = 512 * 1024;

/// [`check`] of an event still in its JSON text: parsed, checked and dropped one at a time, so
/// only the canonical event stays in memory. What is not an object, or is larger than
/// [`MAX_EVENT_BYTES`], is refused before it is parsed.
pub fn check_raw(raw: &RawValue) -> Checked {
    let text = raw.get();
    if !text.starts_with('{') {
        let got = if text.starts_with('[') { "a list".to_owned() } else { text.chars().take(60).collect() };
        return not_an_object(None, &got);
    }
    if text.len() > MAX_EVENT_BYTES {
        let error = FieldError::new(
            "event",
            format!("an event is at most {MAX_EVENT_BYTES} bytes of JSON, this one has {}", text.len()),
        );
        return Checked { id: None, verdict: Err(error) };
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value) => check(&value),
        Err(e) => Checked { id: None, verdict: Err(FieldError::new("event", format!("not JSON: {e}"))) },
    }
}

/// How far `created_at` lies ahead of `received_at`, in milliseconds, when that exceeds
/// `threshold`. Events recorded long ago (offline) lie behind and are never flagged.
pub fn clock_skew_ms(created_at: Timestamp, received_at: Timestamp, threshold: Duration) -> Option<i64> {
    let ahead = created_at.millis().saturating_sub(received_at.millis());
    let threshold = i64::try_from(threshold.as_millis()).unwrap_or(i64::MAX);
    (ahead > threshold).then_some(ahead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_non_object_is_refused_without_an_id() {
        let checked = check(&json!(42));
        assert_eq!(checked.id, None);
        assert_eq!(checked.verdict.unwrap_err().field, "event");
    }

    fn created() -> Value {
        json!({
            "id": "evt_01KJMDEB80QT5Q0EH8W9ASNV9C", "streamType": "campaign",
            "streamId": "cmp_01M8D4FB0YQT5Q0EH8W9ASNV9D", "eventType": "CampaignCreated", "schemaVersion": 1,
            "data": {"legoCampaignCode": "LEGO-1", "materialType": "PI"}, "userId": "usr_ana",
            "deviceId": "dev_01M8D4FB0YQT5Q0EH8W9ASNV9E", "deviceSeq": 1, "createdAt": "2026-03-01T10:00:00.000Z"
        })
    }

    #[test]
    fn an_event_written_as_a_list_is_refused_before_anything_else() {
        assert!(check(&created()).verdict.is_ok());
        let list: Vec<Value> = created().as_object().unwrap().values().cloned().collect();
        let error = check(&Value::Array(list)).verdict.unwrap_err();
        assert_eq!(
            (error.field.as_str(), error.message.as_str()),
            ("event", "expected a JSON object, got a list")
        );
    }

    #[test]
    fn a_list_or_an_oversized_event_is_refused_before_it_is_parsed() {
        let raw = |text: String| RawValue::from_string(text).unwrap();
        let list = check_raw(&raw(format!("[{}0]", "0,".repeat(1000)))).verdict.unwrap_err();
        assert_eq!(list.message, "expected a JSON object, got a list");
        let mut big = created();
        big["data"]["description"] = json!("x".repeat(MAX_EVENT_BYTES));
        let error = check_raw(&raw(big.to_string())).verdict.unwrap_err();
        assert!(error.message.starts_with("an event is at most 524288 bytes of JSON"), "{error}");
        assert!(check_raw(&raw(created().to_string())).verdict.is_ok());
    }

    #[test]
    fn an_id_in_lower_case_is_refused() {
        let mut raw = created();
        raw["id"] = json!("evt_01m8d4fb0yqt5q0eh8w9asnv9c");
        let error = check(&raw).verdict.unwrap_err();
        assert_eq!(error.field, "id");
        assert!(error.message.contains("in capitals"), "{error}");
    }

    #[test]
    fn refusals_name_the_field_without_positions_in_a_text_the_client_never_sent() {
        let error =
            check(&json!({"id": "evt_01M8D4FB0YQT5Q0EH8W9ASNV9C", "eventType": "Nope"})).verdict.unwrap_err();
        assert_eq!(error.field, "eventType");
        assert!(
            error.message.starts_with("unknown event type \"Nope\"; expected one of CampaignCreated")
                && !error.message.contains("line"),
            "{error}"
        );
    }

    #[test]
    fn only_events_ahead_of_the_server_beyond_the_threshold_are_flagged() {
        let now = Timestamp::from_millis(1_800_000_000_000);
        let five_minutes = Duration::from_secs(300);
        let at = |offset_ms: i64| Timestamp::from_millis(now.millis() + offset_ms);
        assert_eq!(clock_skew_ms(at(300_000), now, five_minutes), None);
        assert_eq!(clock_skew_ms(at(300_001), now, five_minutes), Some(300_001));
        assert_eq!(clock_skew_ms(at(-30 * 86_400_000), now, five_minutes), None);
    }
}
