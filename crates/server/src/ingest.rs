//! Checking pushed events one by one, with the same rules as the desktop applies to events
//! from elsewhere ([`Event::check`]: envelope and payload, not the progression, because facts
//! recorded offline are accepted and surface as anomalies), and putting them in canonical form.
//!
//! Each event is judged on its own, so one malformed event in a batch refuses only itself.

use std::cell::RefCell;
use std::time::Duration;

use pluto_domain::bounds;

use pluto_domain::bounds::MAX_AHEAD;
use pluto_domain::{describe, Event, EventId, EventType, FieldError, Timestamp};
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A pushed event after checking.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// Its id, when that much could be read (refusals are reported under it).
    pub id: Option<EventId>,
    /// The `deviceSeq` it claims, when that much could be read, refused or not.
    pub seq: Option<u64>,
    /// The canonical event, or why it is refused (naming the field).
    pub verdict: Result<Event, FieldError>,
}

/// Checks one pushed event, received at `now`, and returns it in canonical form: the payload
/// re-serialized from its parsed value (`10000` becomes `10000.0` in a weight), so that the same
/// fact pushed twice compares equal whatever JSON spelling the laptop used.
pub fn check(raw: &Value, now: Timestamp) -> Checked {
    let id = raw.get("id").and_then(Value::as_str).and_then(|s| EventId::parse(s).ok());
    let seq = raw.get("deviceSeq").and_then(Value::as_u64);
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
        bounds::check_times(&event, now, MAX_AHEAD)?;
        let payload = event.check()?;
        Ok(Event { data: event.canonical_data(&payload), ..event })
    });
    Checked { id, seq, verdict }
}

/// The id of the event a correction, void or review names (`None` for other events); read from
/// a checked event, whose payload is valid.
pub fn named_event(event: &Event) -> Option<String> {
    let field = event.event_type.target_field()?;
    event.data.get(field).and_then(Value::as_str).map(str::to_owned)
}

/// The type of the event a correction corrects or a void voids (`None` for other events); read
/// from a checked event, whose payload is valid.
pub fn acted_on_type(event: &Event) -> Option<EventType> {
    let field = event.event_type.target_type_field()?;
    event.data.get(field).and_then(Value::as_str).and_then(|name| EventType::parse(name).ok())
}

/// The refusal of an event that is not a JSON object (`got` says what it is instead).
fn not_an_object(id: Option<EventId>, got: &str) -> Checked {
    Checked {
        id,
        seq: None,
        verdict: Err(FieldError::new("event", format!("expected a JSON object, got {got}"))),
    }
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

/// Every device a pushed event claims to come from (a repeated key names several), read before
/// any other check, so that an event of another device refuses the whole request even when it
/// is malformed otherwise. Only those fields are read; the rest is skipped, not built in memory.
pub fn claimed_devices(raw: &RawValue) -> Vec<String> {
    struct Claims;
    impl<'de> Visitor<'de> for Claims {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an event")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut devices = Vec::new();
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if key == "deviceId" {
                    if let Value::String(device) = map.next_value()? {
                        devices.push(device);
                    }
                } else {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
            Ok(devices)
        }
    }
    let mut de = serde_json::Deserializer::from_str(raw.get());
    de.deserialize_map(Claims).unwrap_or_default()
}

/// A key that appears twice in one object of a pushed event: readers that keep the first and
/// readers that keep the last would disagree on what the event says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: appears twice in one object; each key may appear once")]
pub struct DuplicateKey {
    /// Where the key is (`deviceId`, `data.netWeightKg`).
    pub path: String,
}

/// [`check`] of an event still in its JSON text, received at `now`: parsed, checked and dropped
/// one at a time, so only the canonical event stays in memory. What is not an object, or is
/// larger than [`pluto_domain::bounds::MAX_EVENT_BYTES`], is refused before it is parsed; a key repeated anywhere in it
/// refuses the whole request.
pub fn check_raw(raw: &RawValue, now: Timestamp) -> Result<Checked, DuplicateKey> {
    let text = raw.get();
    if !text.starts_with('{') {
        let got = if text.starts_with('[') { "a list".to_owned() } else { text.chars().take(60).collect() };
        return Ok(not_an_object(None, &got));
    }
    if let Err(error) = bounds::check_size(text.len()) {
        return Ok(Checked { id: None, seq: None, verdict: Err(error) });
    }
    let repeated = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    match (Unique { path: String::new(), repeated: &repeated }).deserialize(&mut de) {
        Ok(value) => Ok(check(&value, now)),
        Err(_) if repeated.borrow().is_some() => {
            Err(DuplicateKey { path: repeated.take().unwrap_or_default() })
        }
        Err(e) => Ok(Checked {
            id: None,
            seq: None,
            verdict: Err(FieldError::new("event", format!("not JSON: {e}"))),
        }),
    }
}

/// Builds a JSON value as `serde_json` does, and fails at the first key repeated in an object,
/// noting where it is in `repeated`.
struct Unique<'r> {
    path: String,
    repeated: &'r RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for Unique<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Unique {
            path: format!("{}[{}]", self.path, items.len()),
            repeated: self.repeated,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() { key.clone() } else { format!("{}.{key}", self.path) };
            if object.contains_key(&key) {
                *self.repeated.borrow_mut() = Some(path);
                return Err(A::Error::custom("a repeated key"));
            }
            let value = map.next_value_seed(Unique { path, repeated: self.repeated })?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
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
    use pluto_domain::bounds::MAX_EVENT_BYTES;
    use serde_json::json;

    fn now() -> Timestamp {
        Timestamp::parse("2026-03-01T10:00:00.000Z").unwrap()
    }

    fn check_text(text: String) -> Result<Checked, DuplicateKey> {
        check_raw(&RawValue::from_string(text).unwrap(), now())
    }

    #[test]
    fn a_non_object_is_refused_without_an_id() {
        let checked = check(&json!(42), now());
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
        assert!(check(&created(), now()).verdict.is_ok());
        let list: Vec<Value> = created().as_object().unwrap().values().cloned().collect();
        let error = check(&Value::Array(list), now()).verdict.unwrap_err();
        assert_eq!(
            (error.field.as_str(), error.message.as_str()),
            ("event", "expected a JSON object, got a list")
        );
    }

    #[test]
    fn a_list_or_an_oversized_event_is_refused_before_it_is_parsed() {
        let list = check_text(format!("[{}0]", "0,".repeat(1000))).unwrap().verdict.unwrap_err();
        assert_eq!(list.message, "expected a JSON object, got a list");
        let mut big = created();
        big["data"]["description"] = json!("x".repeat(MAX_EVENT_BYTES));
        let error = check_text(big.to_string()).unwrap().verdict.unwrap_err();
        assert!(error.message.starts_with("an event is at most 131072 bytes of JSON"), "{error}");
        assert!(check_text(created().to_string()).unwrap().verdict.is_ok());
    }

    /// issue 26: a repeated key is refused wherever it is, never read one way here and another
    /// way elsewhere.
    #[test]
    fn a_key_repeated_anywhere_refuses_the_event() {
        let text = created().to_string();
        let twice =
            text.replacen("\"deviceId\"", "\"deviceId\":\"dev_01M8D4FB0YQT5Q0EH8W9ASNV9F\",\"deviceId\"", 1);
        assert_eq!(check_text(twice).unwrap_err().path, "deviceId");
        let inner = text.replacen("\"materialType\"", "\"materialType\":\"PCR\",\"materialType\"", 1);
        assert_eq!(check_text(inner).unwrap_err().path, "data.materialType");
        let devices = claimed_devices(
            &RawValue::from_string(text.replacen("\"deviceId\"", "\"deviceId\":\"dev_X\",\"deviceId\"", 1))
                .unwrap(),
        );
        assert_eq!(devices, ["dev_X", "dev_01M8D4FB0YQT5Q0EH8W9ASNV9E"]);
    }

    #[test]
    fn an_id_in_lower_case_is_refused() {
        let mut raw = created();
        raw["id"] = json!("evt_01m8d4fb0yqt5q0eh8w9asnv9c");
        let error = check(&raw, now()).verdict.unwrap_err();
        assert_eq!(error.field, "id");
        assert!(error.message.contains("in capitals"), "{error}");
    }

    #[test]
    fn refusals_name_the_field_without_positions_in_a_text_the_client_never_sent() {
        let error = check(&json!({"id": "evt_01M8D4FB0YQT5Q0EH8W9ASNV9C", "eventType": "Nope"}), now())
            .verdict
            .unwrap_err();
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
