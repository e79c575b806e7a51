//! The payload of every event type, exactly as the spec writes it (camelCase JSON, optional
//! fields optional), with its fields and the rules it must pass wherever it comes from.
//!
//! Parsing names the refused field: unknown fields, missing fields, wrong types and broken rules
//! all come back as a [`FieldError`] whose `field` is the JSON path (`netWeightKg`,
//! `changes.outputWeightKg.now`) and whose message says what was expected.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::field::{describe, FieldError};
use crate::ids::EventId;
use crate::registry::fields::{unknown_field_error, FieldKind, FieldSpec, MaterialType, NewerRule};
use crate::registry::flow::Flow;
use crate::registry::upcast::{upcast, Recording};
use crate::registry::{EventType, Payload};
use crate::time::Timestamp;
use crate::time::{parse_date, IsoDate};

/// Longest text accepted in any field: generous for notes, small enough to keep a row sane.
pub const MAX_TEXT_CHARS: usize = 10_000;

/// What every payload struct declares about itself: its fields and the rules it must pass.
pub trait PayloadType: Serialize + DeserializeOwned {
    /// Its fields, in the spec's order.
    const FIELDS: &'static [FieldSpec];

    /// The field its flow's weight taken in comes from (`startingWeightKg`), where a refusal of
    /// that weight is shown; `None` for entries that take no weight in.
    const WEIGHT_IN: Option<&'static str> = None;

    /// Checks the rules that need no other event: non-blank required text, positive finite
    /// weights, net ≤ gross, output ≤ starting, date order within the payload, positive
    /// quantities.
    fn validate(&self) -> Result<(), FieldError>;

    /// The day the step took place, as the entry states it (arrival, completion, approval,
    /// shipment, start, end); `None` for entries that carry no such date (the campaign's
    /// creation), whose day is the day they were recorded.
    fn happened_on(&self) -> Option<IsoDate> {
        None
    }

    /// What the entry moves, for the period mass balance (see [`crate::flows`]); nothing for
    /// entries that weigh or count nothing.
    fn flow(&self) -> Flow {
        Flow::default()
    }
}

/// A field of a payload, for [`PayloadType::FIELDS`].
pub(crate) const fn f(name: &'static str, kind: FieldKind, required: bool, label: &'static str) -> FieldSpec {
    FieldSpec { name, kind, required, label, long: false }
}

/// A field of free text over several lines.
const fn long(name: &'static str, label: &'static str) -> FieldSpec {
    FieldSpec { name, kind: FieldKind::Text, required: false, label, long: true }
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

impl PayloadType for CampaignCreated {
    const FIELDS: &'static [FieldSpec] = &[
        f("legoCampaignCode", FieldKind::Text, true, "LEGO campaign code"),
        f("materialType", FieldKind::Material, true, "Material type"),
        long("description", "Description"),
    ];

    fn validate(&self) -> Result<(), FieldError> {
        required_text("legoCampaignCode", &self.lego_campaign_code)?;
        optional_text("description", &self.description)
    }
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

impl PayloadType for InboundShipment {
    const FIELDS: &'static [FieldSpec] = &[
        f("grossWeightKg", FieldKind::Weight, true, "Gross weight"),
        f("netWeightKg", FieldKind::Weight, true, "Net weight"),
        f("estimatedAbsKg", FieldKind::Weight, false, "Estimated ABS"),
        f("carrier", FieldKind::Text, true, "Carrier"),
        f("trackingRef", FieldKind::Text, true, "Tracking reference"),
        f("shipDate", FieldKind::Date, true, "Ship date"),
        f("arrivalDate", FieldKind::Date, true, "Arrival date"),
    ];

    fn happened_on(&self) -> Option<IsoDate> {
        Some(self.arrival_date)
    }

    fn flow(&self) -> Flow {
        Flow { kg_out: Some(self.net_weight_kg), ..Flow::default() }
    }

    fn validate(&self) -> Result<(), FieldError> {
        weight("grossWeightKg", self.gross_weight_kg)?;
        weight("netWeightKg", self.net_weight_kg)?;
        if self.net_weight_kg > self.gross_weight_kg {
            return Err(FieldError::new(
                "netWeightKg",
                format!(
                    "must not exceed the gross weight ({} kg), got {} kg",
                    self.gross_weight_kg, self.net_weight_kg
                ),
            ));
        }
        if let Some(abs) = self.estimated_abs_kg {
            weight("estimatedAbsKg", abs)?;
            if abs > self.net_weight_kg {
                return Err(FieldError::new(
                    "estimatedAbsKg",
                    format!("must not exceed the net weight ({} kg), got {abs} kg", self.net_weight_kg),
                ));
            }
        }
        required_text("carrier", &self.carrier)?;
        required_text("trackingRef", &self.tracking_ref)?;
        not_before("arrivalDate", self.arrival_date, "the ship date", self.ship_date)
    }
}

/// The fields every MBA processing step has.
const PROCESSING_FIELDS: [FieldSpec; 8] = [
    f("ticketNumber", FieldKind::Text, true, "MBA process ticket"),
    f("startingWeightKg", FieldKind::Weight, true, "Starting weight"),
    f("outputWeightKg", FieldKind::Weight, true, "Output weight"),
    f("processHours", FieldKind::Hours, false, "Process hours"),
    f("completedOn", FieldKind::Date, true, "Completed on"),
    long("polymerComposition", "Polymer composition"),
    f("wasteCode", FieldKind::Text, false, "Waste code"),
    long("notes", "Notes"),
];

/// [`PROCESSING_FIELDS`] and one more.
const fn processing_and(extra: FieldSpec) -> [FieldSpec; 9] {
    let p = PROCESSING_FIELDS;
    [p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], extra]
}

macro_rules! processing_step {
    (
        $(#[$doc:meta])* $name:ident {
            $($(#[$fattr:meta])* $extra:ident : $ty:ty,)*
        }
        fields: $fields:expr,
        check: |$p:ident| $check:expr
    ) => {
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
            /// Day the step was completed, on the site's calendar (since schema version 2).
            pub completed_on: IsoDate,
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

        impl PayloadType for $name {
            const FIELDS: &'static [FieldSpec] = &$fields;
            const WEIGHT_IN: Option<&'static str> = Some("startingWeightKg");

            fn happened_on(&self) -> Option<IsoDate> {
                Some(self.completed_on)
            }

            fn flow(&self) -> Flow {
                Flow {
                    kg_in: Some(self.starting_weight_kg),
                    kg_out: Some(self.output_weight_kg),
                    hours: self.process_hours,
                    ..Flow::default()
                }
            }

            fn validate(&self) -> Result<(), FieldError> {
                required_text("ticketNumber", &self.ticket_number)?;
                weight("startingWeightKg", self.starting_weight_kg)?;
                weight("outputWeightKg", self.output_weight_kg)?;
                if self.output_weight_kg > self.starting_weight_kg {
                    return Err(FieldError::new(
                        "outputWeightKg",
                        format!(
                            "must not exceed the starting weight ({} kg): a process cannot add material, got {} kg",
                            self.starting_weight_kg, self.output_weight_kg
                        ),
                    ));
                }
                if let Some(hours) = self.process_hours {
                    positive("processHours", hours, FieldKind::Hours)?;
                }
                optional_text("polymerComposition", &self.polymer_composition)?;
                optional_text("wasteCode", &self.waste_code)?;
                optional_text("notes", &self.notes)?;
                let $p = self;
                $check
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
    fields: processing_and(long("contaminationNotes", "Contamination notes")),
    check: |p| optional_text("contaminationNotes", &p.contamination_notes)
);
processing_step!(
    /// `MetalRemovalCompleted`.
    MetalRemoval {}
    fields: PROCESSING_FIELDS,
    check: |_p| Ok(())
);
processing_step!(
    /// `PolymerPurificationCompleted`.
    PolymerPurification {
        /// Analysis of the waste removed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        waste_composition: Option<String>,
    }
    fields: processing_and(long("wasteComposition", "Waste composition")),
    check: |p| optional_text("wasteComposition", &p.waste_composition)
);
processing_step!(
    /// `ExtrusionCompleted`.
    Extrusion {
        /// Batch id for traceability.
        batch_number: String,
    }
    fields: processing_and(f("batchNumber", FieldKind::Text, true, "Batch number")),
    check: |p| required_text("batchNumber", &p.batch_number)
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

impl PayloadType for EchaApproval {
    const FIELDS: &'static [FieldSpec] = &[
        f("approvedBy", FieldKind::Text, true, "Approved by"),
        f("approvalDate", FieldKind::Date, true, "Approval date"),
        long("notes", "Notes"),
    ];

    fn happened_on(&self) -> Option<IsoDate> {
        Some(self.approval_date)
    }

    fn validate(&self) -> Result<(), FieldError> {
        required_text("approvedBy", &self.approved_by)?;
        optional_text("notes", &self.notes)
    }
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

impl PayloadType for TransferToRge {
    const FIELDS: &'static [FieldSpec] = &[
        f("trackingRef", FieldKind::Text, true, "Tracking reference"),
        f("carrier", FieldKind::Text, true, "Carrier"),
        f("shipDate", FieldKind::Date, true, "Ship date"),
        f("receivedDate", FieldKind::Date, false, "Received date"),
        f("receivedWeightKg", FieldKind::Weight, false, "Received weight"),
    ];
    const WEIGHT_IN: Option<&'static str> = Some("receivedWeightKg");

    fn happened_on(&self) -> Option<IsoDate> {
        Some(self.ship_date)
    }

    fn flow(&self) -> Flow {
        Flow { kg_in: self.received_weight_kg, received_on: self.received_date, ..Flow::default() }
    }

    fn validate(&self) -> Result<(), FieldError> {
        required_text("trackingRef", &self.tracking_ref)?;
        required_text("carrier", &self.carrier)?;
        if let Some(received) = self.received_date {
            not_before("receivedDate", received, "the ship date", self.ship_date)?;
        }
        match self.received_weight_kg {
            Some(w) => weight("receivedWeightKg", w),
            None => Ok(()),
        }
    }
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

impl PayloadType for ManufacturingStart {
    const FIELDS: &'static [FieldSpec] = &[
        f("poNumber", FieldKind::Text, true, "PO number"),
        f("poQuantity", FieldKind::Quantity, true, "PO quantity"),
        f("startDate", FieldKind::Date, true, "Start date"),
    ];

    fn happened_on(&self) -> Option<IsoDate> {
        Some(self.start_date)
    }

    fn flow(&self) -> Flow {
        Flow { parts: Some(self.po_quantity), ..Flow::default() }
    }

    fn validate(&self) -> Result<(), FieldError> {
        required_text("poNumber", &self.po_number)?;
        quantity("poQuantity", self.po_quantity)
    }
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

impl PayloadType for ManufacturingCompletion {
    const FIELDS: &'static [FieldSpec] = &[
        f("endDate", FieldKind::Date, true, "End date"),
        f("actualQuantity", FieldKind::Quantity, true, "Actual quantity"),
        long("notes", "Notes"),
    ];

    fn happened_on(&self) -> Option<IsoDate> {
        Some(self.end_date)
    }

    fn flow(&self) -> Flow {
        Flow { parts: Some(self.actual_quantity), ..Flow::default() }
    }

    fn validate(&self) -> Result<(), FieldError> {
        quantity("actualQuantity", self.actual_quantity)?;
        optional_text("notes", &self.notes)
    }
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

impl PayloadType for ReturnToLego {
    const FIELDS: &'static [FieldSpec] = &[
        f("trackingRef", FieldKind::Text, true, "Tracking reference"),
        f("carrier", FieldKind::Text, true, "Carrier"),
        f("shipDate", FieldKind::Date, true, "Ship date"),
        f("receivedDate", FieldKind::Date, false, "Received date"),
        f("quantity", FieldKind::Quantity, true, "Quantity"),
    ];

    fn happened_on(&self) -> Option<IsoDate> {
        Some(self.ship_date)
    }

    fn flow(&self) -> Flow {
        Flow { parts: Some(self.quantity), ..Flow::default() }
    }

    fn validate(&self) -> Result<(), FieldError> {
        required_text("trackingRef", &self.tracking_ref)?;
        required_text("carrier", &self.carrier)?;
        if let Some(received) = self.received_date {
            not_before("receivedDate", received, "the ship date", self.ship_date)?;
        }
        quantity("quantity", self.quantity)
    }
}

/// `CampaignCompleted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CampaignCompletion {
    /// Day the campaign was closed (since schema version 2).
    pub completion_date: IsoDate,
    /// Final notes or summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_notes: Option<String>,
}

impl PayloadType for CampaignCompletion {
    const FIELDS: &'static [FieldSpec] = &[
        f("completionDate", FieldKind::Date, true, "Completion date"),
        long("completionNotes", "Completion notes"),
    ];

    fn happened_on(&self) -> Option<IsoDate> {
        Some(self.completion_date)
    }

    fn validate(&self) -> Result<(), FieldError> {
        optional_text("completionNotes", &self.completion_notes)
    }
}

/// One corrected field: the value the corrector saw/// One corrected field: the value the corrector saw and the value it should have been.
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

impl PayloadType for EventCorrection {
    const FIELDS: &'static [FieldSpec] = &[
        f("correctsEventId", FieldKind::EventRef, true, "Corrected event"),
        f("correctsEventType", FieldKind::EventTypeName, true, "Corrected event type"),
        long("reason", "Reason"),
        f("changes", FieldKind::Changes, true, "Changes"),
    ];

    fn validate(&self) -> Result<(), FieldError> {
        required_text("reason", &self.reason)?;
        if self.changes.is_empty() {
            return Err(FieldError::new("changes", "must name at least one field to correct"));
        }
        if self.corrects_event_type == EventType::EventCorrected {
            return Err(FieldError::new(
                "correctsEventType",
                "a correction cannot be corrected; correct the original event instead",
            ));
        }
        if self.corrects_event_type.is_resolution() {
            return Err(FieldError::new(
                "correctsEventType",
                format!(
                    "a {} cannot be corrected; void it and record it again instead",
                    self.corrects_event_type.label().to_lowercase()
                ),
            ));
        }
        for (name, change) in &self.changes {
            let Some(spec) = self.corrects_event_type.field(name) else {
                return Err(unknown_field_error(self.corrects_event_type, &format!("changes.{name}"), name));
            };
            check_value_shape(spec, &change.now)
                .map_err(|message| FieldError::new(format!("changes.{name}.now"), message))?;
            if let Value::String(was) = &change.was {
                text_length(&format!("changes.{name}.was"), was)?;
            }
        }
        Ok(())
    }
}

/// `EntryVoided`: an earlier entry withdrawn, because it was recorded twice or on the wrong
/// campaign. The fold leaves the voided entry out; the history keeps both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntryVoid {
    /// The voided event.
    pub voids_event_id: EventId,
    /// Its type, restated so a mismatch is caught.
    pub voids_event_type: EventType,
    /// Why the entry is withdrawn.
    pub reason: String,
}

impl PayloadType for EntryVoid {
    const FIELDS: &'static [FieldSpec] = &[
        f("voidsEventId", FieldKind::EventRef, true, "Voided entry"),
        f("voidsEventType", FieldKind::EventTypeName, true, "Voided entry's type"),
        FieldSpec { name: "reason", kind: FieldKind::Text, required: true, label: "Reason", long: true },
    ];

    fn validate(&self) -> Result<(), FieldError> {
        required_text("reason", &self.reason)?;
        if self.voids_event_type == EventType::EntryVoided {
            return Err(FieldError::new(
                "voidsEventType",
                "a void cannot be voided; record the entry again instead",
            ));
        }
        Ok(())
    }
}

/// `AnomalyReviewed`: someone looked at an anomaly and says why it needs no further action.
/// The anomaly stays in the history; its badge clears.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnomalyReview {
    /// The event the anomaly is about.
    pub event_id: EventId,
    /// The anomaly's kind (`duplicate_step`), as text: a newer Pluto may know kinds this one
    /// does not.
    pub anomaly_kind: String,
    /// What the reviewer found.
    pub note: String,
}

impl PayloadType for AnomalyReview {
    const FIELDS: &'static [FieldSpec] = &[
        f("eventId", FieldKind::EventRef, true, "Entry with the anomaly"),
        f("anomalyKind", FieldKind::Text, true, "Anomaly"),
        FieldSpec { name: "note", kind: FieldKind::Text, required: true, label: "Review note", long: true },
    ];

    fn validate(&self) -> Result<(), FieldError> {
        required_text("anomalyKind", &self.anomaly_kind)?;
        required_text("note", &self.note)
    }
}

impl Payload {
    /// Parses `data` as a payload of `event_type` and checks every rule that needs no other event.
    pub fn parse(event_type: EventType, data: &Value) -> Result<Payload, FieldError> {
        let payload = Self::parse_shape(event_type, data)?;
        payload.validate()?;
        Ok(payload)
    }

    /// Parses an entry being made at `now` as [`Payload::parse`] does, after filling in what the
    /// type's later versions added ([`crate::registry::upcast::upcast_entry`]): an entry typed as any
    /// version of the type writes it is recorded as the current version. Every date it states, or
    /// a correction sets, is a day something happened, so none may lie after today on this
    /// laptop's clock (a year typed wrong would otherwise put the step in a period to come).
    pub fn parse_entry(event_type: EventType, data: &Value, now: Timestamp) -> Result<Payload, FieldError> {
        let data = crate::registry::upcast::upcast_entry(event_type, data, now);
        let payload = Self::parse(event_type, &data)?;
        dates_not_after(event_type, &data, Recording::entry(now).day)?;
        Ok(payload)
    }

    fn parse_shape(event_type: EventType, data: &Value) -> Result<Payload, FieldError> {
        if !data.is_object() {
            return Err(FieldError::new(
                "data",
                format!("expected a JSON object with the fields of {event_type}, got {}", describe(data)),
            ));
        }
        Self::parse_shape_of(event_type, data)
    }

    /// Reads the payload of an event that may come from another version of Pluto (the tolerant
    /// reader): what this build fully understands is [`Reading::Full`]; what a newer Pluto wrote
    /// (a higher schema version, or fields this build does not know) is read by its known fields
    /// where the type's [`NewerRule`] allows, and is otherwise [`Reading::Newer`]. The common
    /// case costs one strict parse, as [`Payload::parse`] does.
    /// Payloads of an older schema version are upcast first (see [`crate::registry::upcast`]);
    /// `recorded_at` is the event's `createdAt`.
    pub fn read(event_type: EventType, schema_version: u32, data: &Value, recorded_at: Timestamp) -> Reading {
        if event_type == EventType::Newer {
            return Reading::Newer;
        }
        let data = upcast(event_type, schema_version, data, recorded_at);
        let data = data.as_ref();
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

    /// The payload as JSON, in its canonical form (what the store keeps).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("payloads always serialize")
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

/// Refuses a date field of `data`, a valid payload of `event_type` (or a change a correction
/// sets), that lies after `today`.
fn dates_not_after(event_type: EventType, data: &Value, today: IsoDate) -> Result<(), FieldError> {
    let check = |path: String, value: Option<&Value>| match value.and_then(Value::as_str).map(parse_date) {
        Some(Ok(day)) if day > today => Err(FieldError::new(
            path,
            format!("must not be after today ({today}), got {day}: an entry records what has happened"),
        )),
        _ => Ok(()),
    };
    let dates = |t: EventType| t.fields().iter().filter(|f| f.kind == FieldKind::Date);
    if event_type == EventType::EventCorrected {
        let target =
            data.get("correctsEventType").and_then(Value::as_str).and_then(|t| EventType::parse(t).ok());
        for spec in target.into_iter().flat_map(dates) {
            let now = data.get("changes").and_then(|c| c.get(spec.name)).and_then(|c| c.get("now"));
            check(format!("changes.{}.now", spec.name), now)?;
        }
        return Ok(());
    }
    for spec in dates(event_type) {
        check(spec.name.to_owned(), data.get(spec.name))?;
    }
    Ok(())
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
        (FieldKind::Text, Value::String(s)) => text_length(spec.name, s).map_err(|e| e.message),
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

/// Deserializes `data` into `T`, turning serde's message into one that names the field.
pub(crate) fn typed<T: DeserializeOwned>(event_type: EventType, data: &Value) -> Result<T, FieldError> {
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

pub(crate) fn required_text(field: &str, value: &str) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(field, "is required and must not be blank"));
    }
    text_length(field, value)
}

fn optional_text(field: &str, value: &Option<String>) -> Result<(), FieldError> {
    value.as_deref().map_or(Ok(()), |v| text_length(field, v))
}

/// The rules every text value follows: at most [`MAX_TEXT_CHARS`] characters, and none that
/// print as nothing yet change what a text is or how it reads: control characters other than
/// tab and line breaks (ten thousand U+0001 are sixty thousand bytes of JSON escapes), and the
/// marks that reverse the direction of the text around them.
pub(crate) fn text_length(field: &str, value: &str) -> Result<(), FieldError> {
    let mut n = 0;
    for c in value.chars() {
        n += 1;
        let hidden = match c {
            '\t' | '\n' | '\r' => None,
            c if c.is_control() => Some("a control character, which prints as nothing"),
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}' => {
                Some("a direction mark, which changes how the text around it reads")
            }
            _ => None,
        };
        if let Some(what) = hidden {
            return Err(FieldError::new(
                field,
                format!(
                    "character {n} is U+{:04X}, {what}; text may hold tabs and line breaks but no other invisible characters",
                    u32::from(c)
                ),
            ));
        }
    }
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

pub(crate) fn weight(field: &str, value: f64) -> Result<(), FieldError> {
    positive(field, value, FieldKind::Weight)
}

fn quantity(field: &str, value: u32) -> Result<(), FieldError> {
    if value == 0 {
        return Err(FieldError::new(field, "expected a whole number greater than 0, got 0"));
    }
    Ok(())
}

/// `field` (`later`) is not before `earlier`, which the message names in words (`other`).
fn not_before(field: &str, later: IsoDate, other: &str, earlier: IsoDate) -> Result<(), FieldError> {
    if later < earlier {
        return Err(FieldError::new(field, format!("must be on or after {other} ({earlier}), got {later}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
