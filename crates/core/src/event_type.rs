//! The kinds of event: each type's name, fields (kind, label, required), the status it reaches,
//! its payload schema version and what a build that knows it less well may fold of it.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::FieldError;
use crate::status::CampaignStatus;
use crate::time::parse_date;

/// The kind of event. Serialized with the spec's names (`ECHAApprovalRecorded`, …); read only by
/// the names of the 13 types (see [`EventType::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum EventType {
    /// A new campaign is initiated.
    CampaignCreated,
    /// Material arrives at MBA from LEGO's warehouse.
    InboundShipmentRecorded,
    /// MBA completed granulation.
    GranulationCompleted,
    /// MBA completed metal removal.
    MetalRemovalCompleted,
    /// MBA completed polymer purification.
    PolymerPurificationCompleted,
    /// MBA completed extrusion.
    ExtrusionCompleted,
    /// ECHA testing approved the material.
    #[serde(rename = "ECHAApprovalRecorded")]
    EchaApprovalRecorded,
    /// Material shipped from MBA to RGE.
    #[serde(rename = "TransferToRGERecorded")]
    TransferToRgeRecorded,
    /// RGE began manufacturing.
    ManufacturingStarted,
    /// RGE completed manufacturing.
    ManufacturingCompleted,
    /// Manufactured parts shipped back to LEGO.
    #[serde(rename = "ReturnToLEGORecorded")]
    ReturnToLegoRecorded,
    /// The campaign is closed.
    CampaignCompleted,
    /// A correction of an earlier event's fields.
    EventCorrected,
    /// A type this build does not know: recorded by a newer Pluto and received through sync or
    /// import. Shown as `Newer` but never read by that name; the stored event keeps its real
    /// name and its JSON as received.
    Newer,
}

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
    /// The twelve step events, index = rank of the status each one reaches.
    pub const STEPS: [EventType; 12] = [
        Self::CampaignCreated,
        Self::InboundShipmentRecorded,
        Self::GranulationCompleted,
        Self::MetalRemovalCompleted,
        Self::PolymerPurificationCompleted,
        Self::ExtrusionCompleted,
        Self::EchaApprovalRecorded,
        Self::TransferToRgeRecorded,
        Self::ManufacturingStarted,
        Self::ManufacturingCompleted,
        Self::ReturnToLegoRecorded,
        Self::CampaignCompleted,
    ];

    /// Every event type, in progression order, corrections last.
    pub const ALL: [EventType; 13] = {
        let mut all = [Self::EventCorrected; 13];
        let mut i = 0;
        while i < Self::STEPS.len() {
            all[i] = Self::STEPS[i];
            i += 1;
        }
        all
    };

    /// The spec's name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CampaignCreated => "CampaignCreated",
            Self::InboundShipmentRecorded => "InboundShipmentRecorded",
            Self::GranulationCompleted => "GranulationCompleted",
            Self::MetalRemovalCompleted => "MetalRemovalCompleted",
            Self::PolymerPurificationCompleted => "PolymerPurificationCompleted",
            Self::ExtrusionCompleted => "ExtrusionCompleted",
            Self::EchaApprovalRecorded => "ECHAApprovalRecorded",
            Self::TransferToRgeRecorded => "TransferToRGERecorded",
            Self::ManufacturingStarted => "ManufacturingStarted",
            Self::ManufacturingCompleted => "ManufacturingCompleted",
            Self::ReturnToLegoRecorded => "ReturnToLEGORecorded",
            Self::CampaignCompleted => "CampaignCompleted",
            Self::EventCorrected => "EventCorrected",
            Self::Newer => "Newer",
        }
    }

    /// What an event of this type records, in words (`Granulation`, `Correction`).
    pub fn label(self) -> &'static str {
        match (self, self.target_status()) {
            (Self::Newer, _) => "Recorded by a newer Pluto Tracker",
            (_, Some(status)) => status.step_label(),
            (Self::EventCorrected, None) => "Correction",
            (_, None) => self.as_str(),
        }
    }

    /// The payload schema version this build writes for this type; events of this type with a
    /// higher version were written by a newer Pluto.
    pub fn schema_version(self) -> u32 {
        match self {
            Self::Newer => u32::MAX,
            _ => 1,
        }
    }

    /// What the fold does with an event of this type written by a newer Pluto.
    pub fn newer_rule(self) -> NewerRule {
        match self {
            Self::Newer => NewerRule::Skip,
            _ => NewerRule::FoldKnownFields,
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
        Self::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|t| t.as_str()).collect();
            FieldError::new(
                "eventType",
                format!("unknown event type {s:?}; expected one of {}", names.join(", ")),
            )
        })
    }

    /// The status this event moves a campaign to; `None` for corrections.
    pub fn target_status(self) -> Option<CampaignStatus> {
        Self::STEPS.iter().position(|t| *t == self).and_then(CampaignStatus::from_rank)
    }

    /// The fields of this type's payload, in the spec's order.
    pub fn fields(self) -> &'static [FieldSpec] {
        match self {
            Self::CampaignCreated => &fields::CAMPAIGN_CREATED,
            Self::InboundShipmentRecorded => &fields::INBOUND,
            Self::GranulationCompleted => &fields::GRANULATION,
            Self::MetalRemovalCompleted => &fields::PROCESSING,
            Self::PolymerPurificationCompleted => &fields::PURIFICATION,
            Self::ExtrusionCompleted => &fields::EXTRUSION,
            Self::EchaApprovalRecorded => &fields::ECHA,
            Self::TransferToRgeRecorded => &fields::TRANSFER,
            Self::ManufacturingStarted => &fields::MANUFACTURING_START,
            Self::ManufacturingCompleted => &fields::MANUFACTURING_COMPLETION,
            Self::ReturnToLegoRecorded => &fields::RETURN,
            Self::CampaignCompleted => &fields::COMPLETION,
            Self::EventCorrected => &fields::CORRECTION,
            Self::Newer => &[],
        }
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

/// The field tables behind [`EventType::fields`].
mod fields {
    use super::FieldKind::*;
    use super::{FieldKind, FieldSpec};

    const fn f(name: &'static str, kind: FieldKind, required: bool, label: &'static str) -> FieldSpec {
        FieldSpec { name, kind, required, label }
    }

    pub const CAMPAIGN_CREATED: [FieldSpec; 3] = [
        f("legoCampaignCode", Text, true, "LEGO campaign code"),
        f("materialType", Material, true, "Material type"),
        f("description", Text, false, "Description"),
    ];
    pub const INBOUND: [FieldSpec; 7] = [
        f("grossWeightKg", Weight, true, "Gross weight (kg)"),
        f("netWeightKg", Weight, true, "Net weight (kg)"),
        f("estimatedAbsKg", Weight, false, "Estimated ABS (kg)"),
        f("carrier", Text, true, "Carrier"),
        f("trackingRef", Text, true, "Tracking reference"),
        f("shipDate", Date, true, "Ship date"),
        f("arrivalDate", Date, true, "Arrival date"),
    ];
    pub const PROCESSING: [FieldSpec; 7] = [
        f("ticketNumber", Text, true, "MBA process ticket"),
        f("startingWeightKg", Weight, true, "Starting weight (kg)"),
        f("outputWeightKg", Weight, true, "Output weight (kg)"),
        f("processHours", Hours, false, "Process hours"),
        f("polymerComposition", Text, false, "Polymer composition"),
        f("wasteCode", Text, false, "Waste code"),
        f("notes", Text, false, "Notes"),
    ];
    const fn with(extra: FieldSpec) -> [FieldSpec; 8] {
        let p = PROCESSING;
        [p[0], p[1], p[2], p[3], p[4], p[5], p[6], extra]
    }
    pub const GRANULATION: [FieldSpec; 8] = with(f("contaminationNotes", Text, false, "Contamination notes"));
    pub const PURIFICATION: [FieldSpec; 8] = with(f("wasteComposition", Text, false, "Waste composition"));
    pub const EXTRUSION: [FieldSpec; 8] = with(f("batchNumber", Text, true, "Batch number"));
    pub const ECHA: [FieldSpec; 3] = [
        f("approvedBy", Text, true, "Approved by"),
        f("approvalDate", Date, true, "Approval date"),
        f("notes", Text, false, "Notes"),
    ];
    pub const TRANSFER: [FieldSpec; 5] = [
        f("trackingRef", Text, true, "Tracking reference"),
        f("carrier", Text, true, "Carrier"),
        f("shipDate", Date, true, "Ship date"),
        f("receivedDate", Date, false, "Received date"),
        f("receivedWeightKg", Weight, false, "Received weight (kg)"),
    ];
    pub const MANUFACTURING_START: [FieldSpec; 3] = [
        f("poNumber", Text, true, "PO number"),
        f("poQuantity", Quantity, true, "PO quantity"),
        f("startDate", Date, true, "Start date"),
    ];
    pub const MANUFACTURING_COMPLETION: [FieldSpec; 3] = [
        f("endDate", Date, true, "End date"),
        f("actualQuantity", Quantity, true, "Actual quantity"),
        f("notes", Text, false, "Notes"),
    ];
    pub const RETURN: [FieldSpec; 5] = [
        f("trackingRef", Text, true, "Tracking reference"),
        f("carrier", Text, true, "Carrier"),
        f("shipDate", Date, true, "Ship date"),
        f("receivedDate", Date, false, "Received date"),
        f("quantity", Quantity, true, "Quantity"),
    ];
    pub const COMPLETION: [FieldSpec; 1] = [f("completionNotes", Text, false, "Completion notes")];
    pub const CORRECTION: [FieldSpec; 4] = [
        f("correctsEventId", EventRef, true, "Corrected event"),
        f("correctsEventType", EventTypeName, true, "Corrected event type"),
        f("reason", Text, true, "Reason"),
        f("changes", Changes, true, "Changes"),
    ];
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
                let x: f64 = t.parse().map_err(|_| bad())?;
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
