//! The tolerant reader: events that arrive from elsewhere (a sync pull, an imported file), which
//! other versions of Pluto may have written.
//!
//! The fleet always runs several versions at once, so what this build cannot fully read is kept,
//! not refused: an event of an unknown type, of a newer schema version, or with fields this build
//! does not know is stored byte for byte as received, served again unchanged, and folded by the
//! fields this build knows where its type allows ([`crate::registry::Payload::read`]). Only an
//! event that is malformed for every version is refused: not a JSON object, or an envelope whose
//! ids, sequence number or time cannot be read (the envelope is the contract every version
//! keeps), or an event of a type and version this build knows whose payload breaks its rules.

use serde_json::Value;

use crate::event::Event;

use crate::event::STREAM_TYPE_CAMPAIGN;
use crate::field::FieldError;
use crate::ids::{CampaignId, DeviceId, EventId, UserId};
use crate::registry::payload::Reading;
use crate::registry::{EventType, Payload};
use crate::time::Timestamp;

/// An event from elsewhere, read tolerantly.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The event as this build sees it, its `data` as received. Its `event_type` is
    /// [`EventType::Newer`] for a type this build does not know.
    pub event: Event,
    /// The type's name as received.
    pub type_name: String,
    /// The checked payload, when this build reads the event fully.
    pub payload: Option<Payload>,
    /// The envelope exactly as received, when this build does not read it fully: what the store
    /// keeps and serves again.
    pub raw: Option<String>,
}

/// An event refused because no version of Pluto could read it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {error}", id.as_deref().unwrap_or("an event without a readable id"))]
pub struct Malformed {
    /// Its id, when that much was readable.
    pub id: Option<String>,
    /// Which field is wrong and what was expected.
    pub error: FieldError,
}

impl Incoming {
    /// Reads one event's JSON text.
    pub fn read(text: &str) -> Result<Incoming, Malformed> {
        // The common case first, in one pass: an envelope this build writes itself, with a
        // payload it reads fully. Only an object: serde would also read a struct from a list.
        let object = text.trim_start().starts_with('{');
        if let Some(event) = object.then(|| serde_json::from_str::<Event>(text).ok()).flatten() {
            if let Ok(payload) = event.check() {
                return Ok(Self::full(event, payload));
            }
        }
        let value: Value = serde_json::from_str(text).map_err(|e| Malformed {
            id: None,
            error: FieldError::new(
                "event",
                format!("expected a JSON object, got text that is not JSON ({e})"),
            ),
        })?;
        Self::read_tolerantly(&value, text)
    }

    /// Reads what the strict reading in [`Incoming::read`] did not take: `value`, parsed from
    /// `text`, is kept as received unless no version could read it.
    fn read_tolerantly(value: &Value, text: &str) -> Result<Incoming, Malformed> {
        let id = value.get("id").and_then(Value::as_str).map(str::to_owned);
        let malformed = |error: FieldError| Malformed { id: id.clone(), error };
        if !value.is_object() {
            return Err(malformed(FieldError::new(
                "event",
                format!("expected a JSON object, got {}", crate::field::describe(value)),
            )));
        }
        let envelope = Envelope::read(value).map_err(&malformed)?;
        let mut event_type = EventType::parse(&envelope.type_name).unwrap_or(EventType::Newer);
        if envelope.stream_type != STREAM_TYPE_CAMPAIGN {
            event_type = EventType::Newer;
        }
        let data = value.get("data").cloned().unwrap_or(Value::Null);
        let payload = match Payload::read(event_type, envelope.schema_version, &data, envelope.created_at) {
            Reading::Full(payload) => Some(payload),
            Reading::Partial(_) | Reading::Newer => None,
            Reading::Invalid(e) => {
                return Err(malformed(FieldError::new(format!("data.{}", e.field), e.message)));
            }
        };
        let event = Event {
            id: envelope.id,
            stream_type: envelope.stream_type,
            stream_id: envelope.stream_id,
            event_type,
            schema_version: envelope.schema_version,
            data,
            user_id: envelope.user_id,
            device_id: envelope.device_id,
            device_seq: envelope.device_seq,
            created_at: envelope.created_at,
        };
        Ok(Incoming { event, type_name: envelope.type_name, payload, raw: Some(text.to_owned()) })
    }

    fn full(event: Event, payload: Payload) -> Incoming {
        let type_name = event.event_type.as_str().to_owned();
        Incoming { event, type_name, payload: Some(payload), raw: None }
    }
}

/// The envelope fields every version of Pluto writes with the same names and meaning.
struct Envelope {
    id: EventId,
    stream_type: String,
    stream_id: CampaignId,
    type_name: String,
    schema_version: u32,
    user_id: UserId,
    device_id: DeviceId,
    device_seq: u64,
    created_at: Timestamp,
}

impl Envelope {
    fn read(value: &Value) -> Result<Envelope, FieldError> {
        let text = |field: &str, expected: &str| {
            value.get(field).and_then(Value::as_str).ok_or_else(|| {
                let got = value.get(field).map_or("nothing".into(), crate::field::describe);
                FieldError::new(field, format!("expected {expected}, got {got}"))
            })
        };
        fn parsed<T, E: std::fmt::Display>(field: &str, result: Result<T, E>) -> Result<T, FieldError> {
            result.map_err(|e| FieldError::new(field, e.to_string()))
        }
        let whole =
            |field: &str, min: u64, max: u64| {
                value.get(field).and_then(Value::as_u64).filter(|n| (min..=max).contains(n)).ok_or_else(
                    || FieldError::new(field, format!("expected a whole number from {min} to {max}")),
                )
            };
        Ok(Envelope {
            id: parsed("id", EventId::parse(text("id", "an event id (evt_…)")?))?,
            stream_type: text("streamType", "a stream type such as \"campaign\"")?.to_owned(),
            stream_id: parsed("streamId", CampaignId::parse(text("streamId", "a campaign id (cmp_…)")?))?,
            type_name: text("eventType", "an event type name")?.to_owned(),
            schema_version: whole("schemaVersion", 1, u64::from(u32::MAX))? as u32,
            user_id: parsed("userId", UserId::parse(text("userId", "a user id (usr_…)")?))?,
            device_id: parsed("deviceId", DeviceId::parse(text("deviceId", "a device id (dev_…)")?))?,
            device_seq: whole("deviceSeq", 1, i64::MAX as u64)?,
            created_at: parsed("createdAt", Timestamp::parse(text("createdAt", "an RFC 3339 UTC time")?))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn envelope(event_type: &str, version: u32, data: Value) -> Value {
        json!({
            "id": "evt_01M8D4FB0YQT5Q0EH8W9ASNV9C",
            "streamType": "campaign",
            "streamId": "cmp_01M8D4FB0YQT5Q0EH8W9ASNV9D",
            "eventType": event_type,
            "schemaVersion": version,
            "data": data,
            "userId": "usr_ana",
            "deviceId": "dev_01M8D4FB0YQT5Q0EH8W9ASNV9E",
            "deviceSeq": 3,
            "createdAt": "2026-03-01T10:00:00.000Z",
        })
    }

    fn granulation() -> Value {
        json!({"ticketNumber": "G-17", "startingWeightKg": 950, "outputWeightKg": 900, "completedOn": "2026-02-20"})
    }

    fn read(value: &Value) -> Result<Incoming, Malformed> {
        Incoming::read(&value.to_string())
    }

    #[test]
    fn an_event_this_build_writes_is_read_fully() {
        let incoming = read(&envelope("GranulationCompleted", 1, granulation())).unwrap();
        assert!(incoming.raw.is_none());
        assert_eq!(incoming.payload.unwrap().to_value()["outputWeightKg"], json!(900.0), "stored canonical");
    }

    #[test]
    fn an_unknown_type_is_kept_as_received() {
        let text = envelope("MoistureMeasured", 2, json!({"moisturePct": 0.4})).to_string();
        let incoming = Incoming::read(&text).unwrap();
        assert_eq!(incoming.event.event_type, EventType::Newer);
        assert_eq!(incoming.type_name, "MoistureMeasured");
        assert_eq!(incoming.raw.as_deref(), Some(text.as_str()));
        assert_eq!(incoming.payload, None);
    }

    #[test]
    fn a_newer_version_with_an_extra_field_is_kept_and_read_by_its_known_fields() {
        let mut data = granulation();
        data["moistureContentPct"] = json!(0.4);
        let incoming = read(&envelope("GranulationCompleted", 3, data.clone())).unwrap();
        assert_eq!(incoming.event.event_type, EventType::GranulationCompleted);
        assert_eq!(incoming.event.data, data, "kept as received");
        assert!(incoming.raw.is_some());
        assert!(matches!(
            Payload::read(EventType::GranulationCompleted, 3, &data, Timestamp::now()),
            Reading::Partial(_)
        ));
    }

    #[test]
    fn a_newer_version_that_cannot_be_read_by_known_fields_is_kept_but_not_folded() {
        let data = json!({"ticketNumber": "G-17", "startingWeight": {"value": 950, "unit": "kg"}});
        let incoming = read(&envelope("GranulationCompleted", 3, data.clone())).unwrap();
        assert!(incoming.raw.is_some());
        assert_eq!(
            Payload::read(EventType::GranulationCompleted, 3, &data, Timestamp::now()),
            Reading::Newer
        );
    }

    #[test]
    fn a_correction_of_a_newer_type_or_field_reads_as_newer() {
        let of_type = json!({"correctsEventId": "evt_01M8D4FB0YQT5Q0EH8W9ASNV9C", "correctsEventType": "MoistureMeasured",
            "reason": "typo", "changes": {"sampleId": {"was": "S-1", "now": "S-2"}}});
        assert_eq!(Payload::read(EventType::EventCorrected, 1, &of_type, Timestamp::now()), Reading::Newer);
        let of_field = json!({"correctsEventId": "evt_01M8D4FB0YQT5Q0EH8W9ASNV9C", "correctsEventType": "GranulationCompleted",
            "reason": "typo", "changes": {"moistureContentPct": {"was": 0.4, "now": 0.5}}});
        assert_eq!(Payload::read(EventType::EventCorrected, 1, &of_field, Timestamp::now()), Reading::Newer);
        assert!(read(&envelope("EventCorrected", 1, of_field)).unwrap().raw.is_some());
    }

    #[test]
    fn what_no_version_could_read_is_refused_naming_the_field() {
        let cases = [("not json", None, "event"), ("[1, 2]", None, "event"), ("{}", None, "id")];
        // An event written as a list of its values: serde would read that as the struct.
        let event = envelope("GranulationCompleted", 1, granulation());
        let list: Vec<Value> = event.as_object().unwrap().values().cloned().collect();
        assert_eq!(Incoming::read(&Value::Array(list).to_string()).unwrap_err().error.field, "event");
        for (text, id, field) in cases {
            let error = Incoming::read(text).unwrap_err();
            assert_eq!((error.id.as_deref(), error.error.field.as_str()), (id, field), "{text}");
        }
        let mut bad_stream = envelope("GranulationCompleted", 1, granulation());
        bad_stream["streamId"] = json!("LEGO-2026-001");
        let error = read(&bad_stream).unwrap_err();
        assert_eq!(error.id.as_deref(), Some("evt_01M8D4FB0YQT5Q0EH8W9ASNV9C"));
        assert_eq!(error.error.field, "streamId");
        let mut bad_device = envelope("MoistureMeasured", 2, json!({}));
        bad_device["deviceId"] = json!(7);
        assert_eq!(read(&bad_device).unwrap_err().error.field, "deviceId");
    }

    #[test]
    fn a_known_version_that_breaks_its_rules_is_refused() {
        let mut data = granulation();
        data["outputWeightKg"] = json!(-5);
        let error = read(&envelope("GranulationCompleted", 1, data)).unwrap_err();
        assert_eq!(error.error.field, "data.outputWeightKg");
    }
}
