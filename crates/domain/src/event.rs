//! The event envelope: one immutable fact about one campaign, stamped with who recorded it, on
//! which device, at which position of that device's own sequence, and when.
//!
//! The envelope's JSON (camelCase) is the wire and file contract shared by export/import and sync.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::CampaignId;

use crate::ids::DeviceId;

use crate::ids::EventId;

use crate::field::FieldError;
use crate::ids::UserId;
use crate::registry::upcast::upcast;
use crate::registry::{EventType, Payload};
use crate::time::Timestamp;

/// The only stream type so far: every event belongs to a campaign.
pub const STREAM_TYPE_CAMPAIGN: &str = "campaign";

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Event {
    /// `evt_<ULID>`: identifies the event; it orders nothing (see [`mod@crate::fold`]).
    pub id: EventId,
    /// Always `campaign` for now.
    pub stream_type: String,
    /// The campaign this event belongs to.
    pub stream_id: CampaignId,
    /// Which of the registered types.
    pub event_type: EventType,
    /// Payload schema version.
    pub schema_version: u32,
    /// The payload, as the spec writes it.
    pub data: Value,
    /// Who recorded it.
    pub user_id: UserId,
    /// Which installation recorded it.
    pub device_id: DeviceId,
    /// Position in the recording device's own sequence: 1, 2, 3, … without gaps.
    pub device_seq: u64,
    /// When it was recorded (the device's clock, UTC, milliseconds).
    pub created_at: Timestamp,
}

impl Event {
    /// Checks everything about an event that does not depend on other events: the envelope and
    /// the payload rules (on the payload upcast to the current version). Used for events that arrive from elsewhere (sync, import), where the
    /// progression is not enforced because offline facts are accepted and reported as anomalies.
    pub fn check(&self) -> Result<Payload, FieldError> {
        if self.stream_type != STREAM_TYPE_CAMPAIGN {
            return Err(FieldError::new(
                "streamType",
                format!("expected \"{STREAM_TYPE_CAMPAIGN}\", got {:?}", self.stream_type),
            ));
        }
        let known = self.event_type.schema_version();
        if self.schema_version == 0 || self.schema_version > known {
            return Err(FieldError::new(
                "schemaVersion",
                format!(
                    "this version of Pluto understands {} schema versions 1 to {known}, got {}; update Pluto to read it",
                    self.event_type, self.schema_version
                ),
            ));
        }
        if self.device_seq == 0 {
            return Err(FieldError::new("deviceSeq", "expected a whole number from 1, got 0"));
        }
        let data = upcast(self.event_type, self.schema_version, &self.data, self.created_at);
        Payload::parse(self.event_type, &data)
            .map_err(|e| FieldError::new(format!("data.{}", e.field), e.message))
    }

    /// The payload JSON to store and compare for this event, whose payload parsed as `payload`:
    /// the payload re-serialized (`10000` becomes `10000.0` in a weight), so that the same fact
    /// compares equal whatever JSON spelling its writer used; but as written for an event of an
    /// older schema version, which stays in its own version and is only upcast when read.
    pub fn canonical_data(&self, payload: &Payload) -> Value {
        if self.is_current_version() {
            payload.to_value()
        } else {
            self.data.clone()
        }
    }

    /// [`Event::canonical_data`] as JSON text, written without building the value first.
    pub fn canonical_text(&self, payload: &Payload) -> String {
        if self.is_current_version() {
            serde_json::to_string(payload).expect("payloads always serialize")
        } else {
            self.data.to_string()
        }
    }

    /// Whether the event is of the schema version this build writes for its type.
    fn is_current_version(&self) -> bool {
        self.schema_version == self.event_type.schema_version()
    }

    /// Parses an event from JSON text, naming the field that is wrong.
    pub fn from_json(text: &str) -> Result<Event, FieldError> {
        let mut de = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut de).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let field = if path == "." { "event".to_owned() } else { path };
            FieldError::new(field, inner.to_string())
        })
    }
}
