//! What the registry's event types share: reading their names, describing their fields, and
//! what a build that knows a type less well may fold of it.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::field::FieldError;
use crate::registry::CampaignStatus;
use crate::registry::EventType;
use crate::time::parse_date;

/// What the fold may do with an event of a known type that a newer Pluto wrote (a newer schema
/// version, or fields this build does not know).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewerRule {
    /// Fold it by the fields this build knows: a newer version only adds fields and never
    /// changes the meaning of an existing one.
    FoldKnownFields,
    /// Leave it out of the fold until this build is updated.
    Skip,
}

impl EventType {
    /// The step events, index = rank of the status each one reaches.
    pub const STEPS: [EventType; CampaignStatus::ALL.len()] = {
        let mut steps = [Self::Newer; CampaignStatus::ALL.len()];
        let mut i = 0;
        while i < steps.len() {
            steps[i] = CampaignStatus::ALL[i].reached_by();
            i += 1;
        }
        steps
    };

    /// What an event of this type records, in words (`Granulation`, `Correction`).
    pub fn label(self) -> &'static str {
        match (self, self.target_status()) {
            (Self::Newer, _) => "Recorded by a newer Pluto Tracker",
            (_, Some(status)) => status.step_label(),
            (Self::EventCorrected, None) => "Correction",
            (Self::EntryVoided, None) => "Void",
            (Self::AnomalyReviewed, None) => "Anomaly review",
            (_, None) => self.as_str(),
        }
    }

    /// Whether events of this type act on another event of their campaign (corrections and
    /// voids), so that they are applied to their target before the fold rather than folded.
    pub fn acts_on_others(self) -> bool {
        matches!(self, Self::EventCorrected | Self::EntryVoided)
    }

    /// Whether this type resolves other entries rather than recording a step or fact of its
    /// own (corrections, voids, reviews). Site policies never list these: a correction or void
    /// is allowed where the type it changes is, a review everywhere.
    pub fn is_resolution(self) -> bool {
        self.acts_on_others() || self == Self::AnomalyReviewed
    }

    /// The payload field naming the event an event of this type acts on or reviews
    /// (`correctsEventId`).
    pub fn target_field(self) -> Option<&'static str> {
        match self {
            Self::EventCorrected => Some("correctsEventId"),
            Self::EntryVoided => Some("voidsEventId"),
            Self::AnomalyReviewed => Some("eventId"),
            _ => None,
        }
    }

    /// The payload field naming the type of the event an event of this type acts on
    /// (`correctsEventType`), for the site policy, which judges a correction or void by the type
    /// it changes.
    pub fn target_type_field(self) -> Option<&'static str> {
        match self {
            Self::EventCorrected => Some("correctsEventType"),
            Self::EntryVoided => Some("voidsEventType"),
            _ => None,
        }
    }

    /// The types and payload schema versions this build reads fully, as `Name@version` joined
    /// by commas: what the store remembers to notice that an update learned new ones.
    pub fn registry_fingerprint() -> String {
        let known: Vec<String> = Self::ALL.iter().map(|t| format!("{t}@{}", t.schema_version())).collect();
        known.join(",")
    }

    /// Parses the spec's name; the error lists the valid names.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        Self::ALL.iter().copied().find(|t| t.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|t| t.as_str()).collect();
            FieldError::new(
                "eventType",
                format!("unknown event type {s:?}; expected one of {}", names.join(", ")),
            )
        })
    }

    /// The spec of one field of this type's payload.
    pub fn field(self, name: &str) -> Option<&'static FieldSpec> {
        self.fields().iter().find(|f| f.name == name)
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Self::parse(&name).map_err(|e| serde::de::Error::custom(e.message))
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a field holds, which decides how it is entered and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum FieldKind {
    /// Free text; required text must not be blank.
    Text,
    /// A weight in kilograms: a finite number greater than 0.
    Weight,
    /// A duration in hours: a finite number greater than 0.
    Hours,
    /// An ISO calendar date, `YYYY-MM-DD`.
    Date,
    /// A count of units: a whole number greater than 0.
    Quantity,
    /// `PI` or `PCR`.
    Material,
    /// An event id (`evt_…`).
    EventRef,
    /// An event type name.
    EventTypeName,
    /// A correction's map of field → `{was, now}`.
    Changes,
}

impl FieldKind {
    /// A stored value of this kind in words, with its unit (`3291 kg`, `6.5 h`), for messages.
    pub fn display(self, value: &serde_json::Value) -> String {
        let number = |n: f64| if n.fract() == 0.0 { format!("{n:.0}") } else { n.to_string() };
        match (self, value) {
            (_, serde_json::Value::Null) => "(empty)".to_owned(),
            (Self::Weight, serde_json::Value::Number(n)) => {
                format!("{} kg", number(n.as_f64().unwrap_or_default()))
            }
            (Self::Hours, serde_json::Value::Number(n)) => {
                format!("{} h", number(n.as_f64().unwrap_or_default()))
            }
            (_, serde_json::Value::String(s)) => s.clone(),
            (_, other) => other.to_string(),
        }
    }

    /// What a value of this kind looks like, for error messages.
    pub fn expected(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Weight => "a weight in kg (a number greater than 0)",
            Self::Hours => "a number of hours greater than 0",
            Self::Date => "an ISO date (YYYY-MM-DD)",
            Self::Quantity => "a whole number greater than 0",
            Self::Material => "PI or PCR",
            Self::EventRef => "an event id like evt_01HQJK5W3N8XKZ0G2Y5V7R9T1A",
            Self::EventTypeName => "an event type name such as GranulationCompleted",
            Self::Changes => "an object mapping field names to {\"was\": …, \"now\": …}",
        }
    }
}

impl FieldKind {
    /// Reads a value typed by a person (a form field, a command-line `FIELD=VALUE`) as the JSON
    /// this kind stores. Empty text for an optional field means "no value" (`null`).
    pub fn parse_input(self, required: bool, text: &str) -> Result<Value, String> {
        let t = text.trim();
        if t.is_empty() && !required {
            return Ok(Value::Null);
        }
        let bad = || format!("expected {}, got {text:?}", self.expected());
        match self {
            Self::Text => Ok(Value::String(text.to_owned())),
            Self::Weight | Self::Hours => {
                // A decimal comma (as Danish and German laptops write numbers) is read by the
                // window, which knows the locale; here it is ambiguous (4,060 may be thousands).
                let comma = || match t.replace(',', ".").parse::<f64>() {
                    Ok(_) if t.matches(',').count() == 1 => {
                        format!("{}; write decimals with a point: {}", bad(), t.replace(',', "."))
                    }
                    _ => bad(),
                };
                let x: f64 = t.parse().map_err(|_| comma())?;
                serde_json::Number::from_f64(x).map(Value::Number).ok_or_else(bad)
            }
            Self::Quantity => t.parse::<u32>().map(Value::from).map_err(|_| bad()),
            Self::Date => parse_date(t).map(|_| Value::String(t.to_owned())).map_err(|_| bad()),
            Self::Material => match t {
                "PI" | "PCR" => Ok(Value::String(t.to_owned())),
                _ => Err(bad()),
            },
            Self::EventRef | Self::EventTypeName | Self::Changes => Ok(Value::String(text.to_owned())),
        }
    }
}

/// One field of a payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct FieldSpec {
    /// JSON name (`netWeightKg`).
    pub name: &'static str,
    /// What it holds.
    pub kind: FieldKind,
    /// Whether every payload must have it.
    pub required: bool,
    /// Human label for forms and tables.
    pub label: &'static str,
    /// Whether it holds text over several lines (notes, descriptions), entered in a larger box.
    pub long: bool,
}

/// Post-Industrial or Post-Consumer Recycled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum MaterialType {
    /// Post-Industrial.
    #[serde(rename = "PI")]
    Pi,
    /// Post-Consumer Recycled.
    #[serde(rename = "PCR")]
    Pcr,
}

impl MaterialType {
    /// `PI` or `PCR`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pi => "PI",
            Self::Pcr => "PCR",
        }
    }

    /// Every material, in the order forms offer them.
    pub const ALL: [MaterialType; 2] = [Self::Pi, Self::Pcr];

    /// What it stands for (`Post-Industrial`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Pi => "Post-Industrial",
            Self::Pcr => "Post-Consumer Recycled",
        }
    }

    /// Parses `PI` or `PCR`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// The refusal of a field `name` that `event_type` does not have, at `path`, listing its fields.
pub fn unknown_field_error(event_type: EventType, path: &str, name: &str) -> FieldError {
    let names: Vec<&str> = event_type.fields().iter().map(|f| f.name).collect();
    FieldError::new(path, format!("{event_type} has no field {name:?}; its fields are {}", names.join(", ")))
}
