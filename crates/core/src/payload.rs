//! The 13 event types and their payloads, exactly as the spec writes them (camelCase JSON,
//! optional fields optional), with the rules every payload must pass wherever it comes from.
//!
//! Parsing names the refused field: unknown fields, missing fields, wrong types and broken rules
//! all come back as a [`FieldError`] whose `field` is the JSON path (`netWeightKg`,
//! `changes.outputWeightKg.now`) and whose message says what was expected.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::EventId;
use crate::status::CampaignStatus;

/// Longest text accepted in any field: generous for notes, small enough to keep a row sane.
pub const MAX_TEXT_CHARS: usize = 10_000;

/// A refused field: which one, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{field}: {message}")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct FieldError {
    /// JSON path of the field (`grossWeightKg`, `changes.netWeightKg.now`, or `data`).
    pub field: String,
    /// What was wrong and what is expected.
    pub message: String,
}

impl FieldError {
    /// A refusal of `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

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

/// `CampaignCreated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CampaignCreated {
    /// LEGO's reference code.
    pub lego_campaign_code: String,
    /// PI or PCR.
    pub material_type: MaterialType,
    /// Optional description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `InboundShipmentRecorded`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InboundShipment {
    /// Total weight including packaging.
    pub gross_weight_kg: f64,
    /// Weight of material only.
    pub net_weight_kg: f64,
    /// Estimated ABS content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_abs_kg: Option<f64>,
    /// Shipping company.
    pub carrier: String,
    /// Tracking number.
    pub tracking_ref: String,
    /// Day it shipped.
    pub ship_date: IsoDate,
    /// Day it arrived at MBA.
    pub arrival_date: IsoDate,
}

macro_rules! processing_step {
    ($(#[$doc:meta])* $name:ident { $($(#[$fattr:meta])* $extra:ident : $ty:ty,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            /// MBA process ticket id.
            pub ticket_number: String,
            /// Input weight.
            pub starting_weight_kg: f64,
            /// Output weight after the process.
            pub output_weight_kg: f64,
            /// Duration of the process.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub process_hours: Option<f64>,
            /// Material composition analysis.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub polymer_composition: Option<String>,
            /// Waste classification code.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub waste_code: Option<String>,
            /// Additional notes.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub notes: Option<String>,
            $($(#[$fattr])* pub $extra: $ty,)*
        }

        impl $name {
            fn validate_common(&self) -> Result<(), FieldError> {
                required_text("ticketNumber", &self.ticket_number)?;
                weight("startingWeightKg", self.starting_weight_kg)?;
                weight("outputWeightKg", self.output_weight_kg)?;
                if self.output_weight_kg > self.starting_weight_kg {
                    return Err(FieldError::new(
                        "outputWeightKg",
                        format!(
                            "must not exceed startingWeightKg ({} kg): a process cannot add material, got {} kg",
                            self.starting_weight_kg, self.output_weight_kg
                        ),
                    ));
                }
                if let Some(hours) = self.process_hours {
                    positive("processHours", hours, FieldKind::Hours)?;
                }
                optional_text("polymerComposition", &self.polymer_composition)?;
                optional_text("wasteCode", &self.waste_code)?;
                optional_text("notes", &self.notes)
            }
        }
    };
}

processing_step!(
    /// `GranulationCompleted`.
    Granulation {
        /// Notes on contamination found.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contamination_notes: Option<String>,
    }
);
processing_step!(
    /// `MetalRemovalCompleted`.
    MetalRemoval {}
);
processing_step!(
    /// `PolymerPurificationCompleted`.
    PolymerPurification {
        /// Analysis of the waste removed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        waste_composition: Option<String>,
    }
);
processing_step!(
    /// `ExtrusionCompleted`.
    Extrusion {
        /// Batch id for traceability.
        batch_number: String,
    }
);

/// `ECHAApprovalRecorded`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EchaApproval {
    /// Person or organisation approving.
    pub approved_by: String,
    /// Day of approval.
    pub approval_date: IsoDate,
    /// Additional approval details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// `TransferToRGERecorded`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransferToRge {
    /// Shipping tracking number.
    pub tracking_ref: String,
    /// Shipping company.
    pub carrier: String,
    /// Day it shipped.
    pub ship_date: IsoDate,
    /// Day RGE received it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_date: Option<IsoDate>,
    /// Weight received at RGE, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_weight_kg: Option<f64>,
}

/// `ManufacturingStarted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManufacturingStart {
    /// Purchase order number.
    pub po_number: String,
    /// Ordered quantity.
    pub po_quantity: u32,
    /// Day manufacturing started.
    pub start_date: IsoDate,
}

/// `ManufacturingCompleted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManufacturingCompletion {
    /// Day manufacturing ended.
    pub end_date: IsoDate,
    /// Quantity actually produced.
    pub actual_quantity: u32,
    /// Production notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// `ReturnToLEGORecorded`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReturnToLego {
    /// Shipping tracking number.
    pub tracking_ref: String,
    /// Shipping company.
    pub carrier: String,
    /// Day it shipped.
    pub ship_date: IsoDate,
    /// Day LEGO received it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_date: Option<IsoDate>,
    /// Number of units returned.
    pub quantity: u32,
}

/// `CampaignCompleted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CampaignCompletion {
    /// Final notes or summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_notes: Option<String>,
}

/// One corrected field: the value the corrector saw and the value it should have been.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// The field's effective value when the correction was made (`null` for an absent field).
    pub was: Value,
    /// The corrected value (`null` clears an optional field).
    pub now: Value,
}

/// `EventCorrected`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventCorrection {
    /// The event being corrected.
    pub corrects_event_id: EventId,
    /// Its type, restated so a mismatch is caught.
    pub corrects_event_type: EventType,
    /// Why the correction was made.
    pub reason: String,
    /// Field name → was/now.
    pub changes: BTreeMap<String, Change>,
}

/// A parsed, typed payload of any of the 13 event types.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[allow(missing_docs)]
pub enum Payload {
    CampaignCreated(CampaignCreated),
    InboundShipmentRecorded(InboundShipment),
    GranulationCompleted(Granulation),
    MetalRemovalCompleted(MetalRemoval),
    PolymerPurificationCompleted(PolymerPurification),
    ExtrusionCompleted(Extrusion),
    EchaApprovalRecorded(EchaApproval),
    TransferToRgeRecorded(TransferToRge),
    ManufacturingStarted(ManufacturingStart),
    ManufacturingCompleted(ManufacturingCompletion),
    ReturnToLegoRecorded(ReturnToLego),
    CampaignCompleted(CampaignCompletion),
    EventCorrected(EventCorrection),
}

impl Payload {
    /// Parses `data` as a payload of `event_type` and checks every rule that needs no other event.
    pub fn parse(event_type: EventType, data: &Value) -> Result<Payload, FieldError> {
        let payload = Self::parse_shape(event_type, data)?;
        payload.validate()?;
        Ok(payload)
    }

    fn parse_shape(event_type: EventType, data: &Value) -> Result<Payload, FieldError> {
        if !data.is_object() {
            return Err(FieldError::new(
                "data",
                format!("expected a JSON object with the fields of {event_type}, got {}", describe(data)),
            ));
        }
        Ok(match event_type {
            EventType::CampaignCreated => Self::CampaignCreated(typed(event_type, data)?),
            EventType::InboundShipmentRecorded => Self::InboundShipmentRecorded(typed(event_type, data)?),
            EventType::GranulationCompleted => Self::GranulationCompleted(typed(event_type, data)?),
            EventType::MetalRemovalCompleted => Self::MetalRemovalCompleted(typed(event_type, data)?),
            EventType::PolymerPurificationCompleted => {
                Self::PolymerPurificationCompleted(typed(event_type, data)?)
            }
            EventType::ExtrusionCompleted => Self::ExtrusionCompleted(typed(event_type, data)?),
            EventType::EchaApprovalRecorded => Self::EchaApprovalRecorded(typed(event_type, data)?),
            EventType::TransferToRgeRecorded => Self::TransferToRgeRecorded(typed(event_type, data)?),
            EventType::ManufacturingStarted => Self::ManufacturingStarted(typed(event_type, data)?),
            EventType::ManufacturingCompleted => Self::ManufacturingCompleted(typed(event_type, data)?),
            EventType::ReturnToLegoRecorded => Self::ReturnToLegoRecorded(typed(event_type, data)?),
            EventType::CampaignCompleted => Self::CampaignCompleted(typed(event_type, data)?),
            EventType::EventCorrected => Self::EventCorrected(typed(event_type, data)?),
            EventType::Newer => {
                return Err(FieldError::new(
                    "eventType",
                    "the event's type belongs to a newer Pluto; update Pluto to read it",
                ))
            }
        })
    }

    /// Reads the payload of an event that may come from another version of Pluto (the tolerant
    /// reader): what this build fully understands is [`Reading::Full`]; what a newer Pluto wrote
    /// (a higher schema version, or fields this build does not know) is read by its known fields
    /// where the type's [`NewerRule`] allows, and is otherwise [`Reading::Newer`]. The common
    /// case costs one strict parse, as [`Payload::parse`] does.
    pub fn read(event_type: EventType, schema_version: u32, data: &Value) -> Reading {
        if event_type == EventType::Newer {
            return Reading::Newer;
        }
        let known_version = schema_version <= event_type.schema_version();
        if known_version {
            match Self::parse(event_type, data) {
                Ok(payload) => return Reading::Full(payload),
                Err(_) if writes_newer_fields(event_type, data) => {}
                Err(error) => return Reading::Invalid(error),
            }
        }
        if event_type.newer_rule() == NewerRule::Skip {
            return Reading::Newer;
        }
        match Self::parse(event_type, &known_fields(event_type, data)) {
            Ok(payload) => Reading::Partial(payload),
            Err(_) if !known_version || corrects_newer(event_type, data) => Reading::Newer,
            Err(error) => Reading::Invalid(error),
        }
    }

    /// Reads a form's text fields (field name → what was typed) as the JSON payload of
    /// `event_type`, each read as its field's kind; empty optional fields are left out. Every
    /// field that cannot be read is named, with what was expected. The payload's own rules are
    /// checked when it is recorded.
    pub fn from_form(
        event_type: EventType,
        form: &BTreeMap<String, String>,
    ) -> Result<Value, Vec<FieldError>> {
        let mut problems: Vec<FieldError> = form
            .keys()
            .filter(|name| event_type.field(name).is_none())
            .map(|name| unknown_field_error(event_type, name, name))
            .collect();
        let mut data = serde_json::Map::new();
        for spec in event_type.fields() {
            let text = form.get(spec.name).map(String::as_str).unwrap_or_default();
            match spec.kind.parse_input(spec.required, text) {
                Ok(Value::Null) => {}
                Ok(value) => {
                    data.insert(spec.name.to_owned(), value);
                }
                Err(message) => problems.push(FieldError::new(spec.name, message)),
            }
        }
        if problems.is_empty() {
            Ok(Value::Object(data))
        } else {
            Err(problems)
        }
    }

    /// The type of this payload.
    pub fn event_type(&self) -> EventType {
        match self {
            Self::CampaignCreated(_) => EventType::CampaignCreated,
            Self::InboundShipmentRecorded(_) => EventType::InboundShipmentRecorded,
            Self::GranulationCompleted(_) => EventType::GranulationCompleted,
            Self::MetalRemovalCompleted(_) => EventType::MetalRemovalCompleted,
            Self::PolymerPurificationCompleted(_) => EventType::PolymerPurificationCompleted,
            Self::ExtrusionCompleted(_) => EventType::ExtrusionCompleted,
            Self::EchaApprovalRecorded(_) => EventType::EchaApprovalRecorded,
            Self::TransferToRgeRecorded(_) => EventType::TransferToRgeRecorded,
            Self::ManufacturingStarted(_) => EventType::ManufacturingStarted,
            Self::ManufacturingCompleted(_) => EventType::ManufacturingCompleted,
            Self::ReturnToLegoRecorded(_) => EventType::ReturnToLegoRecorded,
            Self::CampaignCompleted(_) => EventType::CampaignCompleted,
            Self::EventCorrected(_) => EventType::EventCorrected,
        }
    }

    /// The payload as JSON, in its canonical form (what the store keeps).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("payloads always serialize")
    }

    /// Checks the rules that need no other event: non-blank required text, positive finite
    /// weights, net ≤ gross, output ≤ starting, date order within the payload, positive quantities.
    pub fn validate(&self) -> Result<(), FieldError> {
        match self {
            Self::CampaignCreated(p) => {
                required_text("legoCampaignCode", &p.lego_campaign_code)?;
                optional_text("description", &p.description)
            }
            Self::InboundShipmentRecorded(p) => {
                weight("grossWeightKg", p.gross_weight_kg)?;
                weight("netWeightKg", p.net_weight_kg)?;
                if p.net_weight_kg > p.gross_weight_kg {
                    return Err(FieldError::new(
                        "netWeightKg",
                        format!(
                            "must not exceed grossWeightKg ({} kg), got {} kg",
                            p.gross_weight_kg, p.net_weight_kg
                        ),
                    ));
                }
                if let Some(abs) = p.estimated_abs_kg {
                    weight("estimatedAbsKg", abs)?;
                    if abs > p.net_weight_kg {
                        return Err(FieldError::new(
                            "estimatedAbsKg",
                            format!("must not exceed netWeightKg ({} kg), got {abs} kg", p.net_weight_kg),
                        ));
                    }
                }
                required_text("carrier", &p.carrier)?;
                required_text("trackingRef", &p.tracking_ref)?;
                not_before("arrivalDate", p.arrival_date, "shipDate", p.ship_date)
            }
            Self::GranulationCompleted(p) => {
                p.validate_common()?;
                optional_text("contaminationNotes", &p.contamination_notes)
            }
            Self::MetalRemovalCompleted(p) => p.validate_common(),
            Self::PolymerPurificationCompleted(p) => {
                p.validate_common()?;
                optional_text("wasteComposition", &p.waste_composition)
            }
            Self::ExtrusionCompleted(p) => {
                p.validate_common()?;
                required_text("batchNumber", &p.batch_number)
            }
            Self::EchaApprovalRecorded(p) => {
                required_text("approvedBy", &p.approved_by)?;
                optional_text("notes", &p.notes)
            }
            Self::TransferToRgeRecorded(p) => {
                required_text("trackingRef", &p.tracking_ref)?;
                required_text("carrier", &p.carrier)?;
                if let Some(received) = p.received_date {
                    not_before("receivedDate", received, "shipDate", p.ship_date)?;
                }
                match p.received_weight_kg {
                    Some(w) => weight("receivedWeightKg", w),
                    None => Ok(()),
                }
            }
            Self::ManufacturingStarted(p) => {
                required_text("poNumber", &p.po_number)?;
                quantity("poQuantity", p.po_quantity)
            }
            Self::ManufacturingCompleted(p) => {
                quantity("actualQuantity", p.actual_quantity)?;
                optional_text("notes", &p.notes)
            }
            Self::ReturnToLegoRecorded(p) => {
                required_text("trackingRef", &p.tracking_ref)?;
                required_text("carrier", &p.carrier)?;
                if let Some(received) = p.received_date {
                    not_before("receivedDate", received, "shipDate", p.ship_date)?;
                }
                quantity("quantity", p.quantity)
            }
            Self::CampaignCompleted(p) => optional_text("completionNotes", &p.completion_notes),
            Self::EventCorrected(p) => {
                required_text("reason", &p.reason)?;
                if p.changes.is_empty() {
                    return Err(FieldError::new("changes", "must name at least one field to correct"));
                }
                if p.corrects_event_type == EventType::EventCorrected {
                    return Err(FieldError::new(
                        "correctsEventType",
                        "a correction cannot be corrected; correct the original event instead",
                    ));
                }
                for (name, change) in &p.changes {
                    let Some(spec) = p.corrects_event_type.field(name) else {
                        return Err(unknown_field_error(
                            p.corrects_event_type,
                            &format!("changes.{name}"),
                            name,
                        ));
                    };
                    check_value_shape(spec, &change.now)
                        .map_err(|message| FieldError::new(format!("changes.{name}.now"), message))?;
                }
                Ok(())
            }
        }
    }
}

/// A payload as this build reads it; see [`Payload::read`].
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// Fully understood and valid.
    Full(Payload),
    /// Written by a newer Pluto; these are the fields this build knows, which it folds.
    Partial(Payload),
    /// Written by a newer Pluto, and not to be folded by this build.
    Newer,
    /// Invalid for the version it claims.
    Invalid(FieldError),
}

/// Whether `data` holds what only a newer Pluto writes: fields its type does not have here, or,
/// in a correction, a corrected type or field this build does not know.
fn writes_newer_fields(event_type: EventType, data: &Value) -> bool {
    let unknown_keys = data.as_object().is_some_and(|map| map.keys().any(|k| event_type.field(k).is_none()));
    unknown_keys || corrects_newer(event_type, data)
}

/// Whether `data`, a correction, corrects a type or a field this build does not know.
fn corrects_newer(event_type: EventType, data: &Value) -> bool {
    if event_type != EventType::EventCorrected {
        return false;
    }
    let Some(map) = data.as_object() else {
        return false;
    };
    let Some(target) = map.get("correctsEventType").and_then(Value::as_str) else {
        return false;
    };
    let Ok(target) = EventType::parse(target) else {
        return true;
    };
    let changes = map.get("changes").and_then(Value::as_object);
    changes.is_some_and(|c| c.keys().any(|k| target.field(k).is_none()))
}

/// `data` with only the fields `event_type` has in this build; a correction also keeps only
/// the changes of fields its target type has here.
fn known_fields(event_type: EventType, data: &Value) -> Value {
    let Some(map) = data.as_object() else {
        return data.clone();
    };
    let mut known: serde_json::Map<String, Value> = map
        .iter()
        .filter(|(k, _)| event_type.field(k).is_some())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if event_type == EventType::EventCorrected {
        let target =
            known.get("correctsEventType").and_then(Value::as_str).and_then(|t| EventType::parse(t).ok());
        if let (Some(target), Some(Value::Object(changes))) = (target, known.get_mut("changes")) {
            changes.retain(|k, _| target.field(k).is_some());
        }
    }
    Value::Object(known)
}

/// Checks that `value` has the JSON shape of `spec` (type and basic range); whole-payload rules
/// are checked when the corrected payload is parsed.
fn check_value_shape(spec: &FieldSpec, value: &Value) -> Result<(), String> {
    let bad = || format!("expected {}, got {}", spec.kind.expected(), describe(value));
    match (spec.kind, value) {
        (_, Value::Null) if !spec.required => Ok(()),
        (_, Value::Null) => Err(format!("{} is required and cannot be cleared", spec.name)),
        (FieldKind::Text, Value::String(_)) => Ok(()),
        (FieldKind::Weight | FieldKind::Hours, Value::Number(n)) => match n.as_f64() {
            Some(x) if x.is_finite() && x > 0.0 => Ok(()),
            _ => Err(bad()),
        },
        (FieldKind::Quantity, Value::Number(n)) => match n.as_u64() {
            Some(q) if q > 0 && q <= u64::from(u32::MAX) => Ok(()),
            _ => Err(bad()),
        },
        (FieldKind::Date, Value::String(s)) => parse_date(s).map(|_| ()).map_err(|_| bad()),
        (FieldKind::Material, Value::String(s)) if s == "PI" || s == "PCR" => Ok(()),
        _ => Err(bad()),
    }
}

/// A calendar date written strictly as `YYYY-MM-DD` (chrono alone also accepts `2026-2-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "specta", derive(specta::Type), specta(transparent))]
pub struct IsoDate(#[cfg_attr(feature = "specta", specta(type = String))] pub NaiveDate);

impl fmt::Display for IsoDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl Serialize for IsoDate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IsoDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_date(&s).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// Parses an ISO calendar date, `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<IsoDate, FieldError> {
    let well_formed = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    well_formed
        .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
        .map(IsoDate)
        .ok_or_else(|| FieldError::new("date", format!("expected an ISO date (YYYY-MM-DD), got {s:?}")))
}

/// Short description of a JSON value for error messages.
pub(crate) fn describe(value: &Value) -> String {
    let text = match value {
        Value::Null => return "null".into(),
        Value::Object(_) => return "an object".into(),
        Value::Array(_) => return "a list".into(),
        other => other.to_string(),
    };
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

/// The refusal of a field `name` that `event_type` does not have, at `path`, listing its fields.
pub fn unknown_field_error(event_type: EventType, path: &str, name: &str) -> FieldError {
    let names: Vec<&str> = event_type.fields().iter().map(|f| f.name).collect();
    FieldError::new(path, format!("{event_type} has no field {name:?}; its fields are {}", names.join(", ")))
}

/// Deserializes `data` into `T`, turning serde's message into one that names the field.
fn typed<T: DeserializeOwned>(event_type: EventType, data: &Value) -> Result<T, FieldError> {
    // Valid payloads are the common case: parse without tracking paths, and only parse again
    // with them when there is an error to explain.
    if let Ok(value) = T::deserialize(data) {
        return Ok(value);
    }
    serde_path_to_error::deserialize(data).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        let quoted = inner.split('`').nth(1).unwrap_or_default().to_owned();
        if inner.starts_with("unknown field") {
            // The path ends with the unknown key itself; what matters is where it sits.
            let parent = path.strip_suffix(quoted.as_str()).unwrap_or(&path).trim_end_matches('.');
            if parent.is_empty() {
                unknown_field_error(event_type, &quoted, &quoted)
            } else {
                FieldError::new(
                    path.clone(),
                    format!("unexpected field {quoted:?}; a change has only \"was\" and \"now\""),
                )
            }
        } else if inner.starts_with("missing field") {
            let prefix = if path == "." { String::new() } else { format!("{path}.") };
            FieldError::new(format!("{prefix}{quoted}"), "is required")
        } else {
            let top = path.split('.').next().unwrap_or_default();
            let expected = event_type.field(top).map_or("a valid value", |spec| spec.kind.expected());
            let got = path
                .split('.')
                .try_fold(data, |v, key| v.get(key))
                .map_or_else(String::new, |v| format!(", got {}", describe(v)));
            FieldError::new(path, format!("expected {expected}{got}"))
        }
    })
}

fn required_text(field: &str, value: &str) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(field, "is required and must not be blank"));
    }
    text_length(field, value)
}

fn optional_text(field: &str, value: &Option<String>) -> Result<(), FieldError> {
    value.as_deref().map_or(Ok(()), |v| text_length(field, v))
}

fn text_length(field: &str, value: &str) -> Result<(), FieldError> {
    let n = value.chars().count();
    if n > MAX_TEXT_CHARS {
        return Err(FieldError::new(field, format!("must be at most {MAX_TEXT_CHARS} characters, got {n}")));
    }
    Ok(())
}

fn positive(field: &str, value: f64, kind: FieldKind) -> Result<(), FieldError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(FieldError::new(field, format!("expected {}, got {value}", kind.expected())))
    }
}

fn weight(field: &str, value: f64) -> Result<(), FieldError> {
    positive(field, value, FieldKind::Weight)
}

fn quantity(field: &str, value: u32) -> Result<(), FieldError> {
    if value == 0 {
        return Err(FieldError::new(field, "expected a whole number greater than 0, got 0"));
    }
    Ok(())
}

fn not_before(field: &str, later: IsoDate, other: &str, earlier: IsoDate) -> Result<(), FieldError> {
    if later < earlier {
        return Err(FieldError::new(field, format!("must be on or after {other} ({earlier}), got {later}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
