//! The event registry: every event type is declared once, here, and everything that lists or
//! dispatches on event types is derived from these declarations: [`EventType`] and its name,
//! schema version, upcasters, fields and example; [`CampaignStatus`] with its labels and tones;
//! the [`Payload`] enum with its parsing and validation dispatch; and the step slots of
//! [`Steps`].
//!
//! An entry names the type's payload struct (which declares its fields and rules by
//! implementing [`PayloadType`]), its current schema version and the upcasters from older ones,
//! what a build that knows it less well may fold of a newer version ([`NewerRule`]), the sites
//! that record it by the default site policy, the status it reaches if it is a step (with the
//! status's stored name, labels and tone), how many days a campaign may wait for it before home
//! counts it as stalled, the slot that keeps its details in a full fold, and a valid example
//! payload. `docs/domain.md` has the
//! recipe for adding a type.

pub mod fields;
pub mod flow;
pub mod payload;
#[cfg(feature = "sample-type")]
pub mod sample;
pub mod status;
pub mod step;
pub mod upcast;

use serde::Serialize;
use serde_json::{json, Value};

use crate::field::FieldError;
use crate::time::{IsoDate, Timestamp};
use fields::{FieldSpec, NewerRule};
use payload::{
    AnomalyReview, CampaignCompletion, CampaignCreated, EchaApproval, EntryVoid, EventCorrection, Extrusion,
    Granulation, InboundShipment, ManufacturingCompletion, ManufacturingStart, MetalRemoval, PayloadType,
    PolymerPurification, ReturnToLego, TransferToRge,
};
use status::Tone;
use step::{Meta, StepRecord};
use upcast::Upcaster;

/// The most event types one build can register; [`EventType::ALL`] is built in a fixed array of
/// this size because test-only entries are switched on and off by `cfg`.
const MAX_TYPES: usize = 64;

macro_rules! event_registry {
    ($(
        $(#[doc = $doc:literal])*
        $(#[cfg($cfg:meta)])?
        $variant:ident = $name:literal {
            payload: $payload:ident,
            version: $version:literal,
            upcasters: [$($upcaster:path),* $(,)?],
            newer: $newer:ident,
            sites: [$($site:literal),* $(,)?],
            $(reaches: $status:ident = $status_name:literal {
                $(cfg: $scfg:meta,)?
                code: $code:literal,
                label: $status_label:literal,
                step: $step_label:literal,
                tone: $tone:ident $(,)?
            },)?
            $(due_days: $due:literal,)?
            $(slot: $slot:ident,)?
            example: $example:tt $(,)?
        }
    )*) => {
        /// The kind of event. Serialized with the spec's names (`ECHAApprovalRecorded`, …); read
        /// only by the names of the registered types (see [`EventType::parse`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        pub enum EventType {
            $($(#[doc = $doc])* $(#[cfg($cfg)])? #[serde(rename = $name)] $variant,)*
            /// A type this build does not know: recorded by a newer Pluto and received through
            /// sync or import. Shown as `Newer` but never read by that name; the stored event
            /// keeps its real name and its JSON as received.
            Newer,
        }

        impl EventType {
            /// Every registered event type, in declaration order (steps in progression order,
            /// then the others).
            pub const ALL: &'static [EventType] = {
                const LIST: ([EventType; MAX_TYPES], usize) = {
                    let mut all = [EventType::Newer; MAX_TYPES];
                    let mut n = 0;
                    $($(#[cfg($cfg)])? {
                        all[n] = EventType::$variant;
                        n += 1;
                    })*
                    (all, n)
                };
                LIST.0.split_at(LIST.1).0
            };

            /// The spec's name of the type.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant => $name,)*
                    Self::Newer => "Newer",
                }
            }

            /// The payload schema version this build writes for this type; events of this type
            /// with a higher version were written by a newer Pluto.
            pub fn schema_version(self) -> u32 {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant => $version,)*
                    Self::Newer => u32::MAX,
                }
            }

            /// The upcasters of this type: the one at index `i` turns a payload of version
            /// `i + 1` into one of version `i + 2`.
            pub fn upcasters(self) -> &'static [Upcaster] {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant => &[$($upcaster),*],)*
                    Self::Newer => &[],
                }
            }

            /// What the fold does with an event of this type written by a newer Pluto.
            pub fn newer_rule(self) -> NewerRule {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant => NewerRule::$newer,)*
                    Self::Newer => NewerRule::Skip,
                }
            }

            /// The sites that record this type by the default site policy, the chain's division
            /// of work ([`crate::policy::default_site_policy`]; a server's policy file may say
            /// otherwise). None for the types that act on other entries (corrections, voids,
            /// reviews), which follow the type they act on.
            pub fn default_sites(self) -> &'static [&'static str] {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant => &[$($site),*],)*
                    Self::Newer => &[],
                }
            }

            /// How many days a campaign may wait for this step before home counts it as
            /// stalled, until a coordinator sets another threshold; `None` for the first step
            /// and for types that are not steps, which nothing waits for.
            pub fn default_due_days(self) -> Option<u32> {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant => None $(.or(Some($due)))?,)*
                    Self::Newer => None,
                }
            }

            /// The fields of this type's payload, in the spec's order.
            pub fn fields(self) -> &'static [FieldSpec] {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant => <$payload as PayloadType>::FIELDS,)*
                    Self::Newer => &[],
                }
            }

            /// A valid example payload of this type, for documentation, forms and tests.
            pub fn example(self) -> Option<Value> {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant => Some(json!($example)),)*
                    Self::Newer => None,
                }
            }

            /// The status this event moves a campaign to; `None` for types that are not steps.
            pub const fn target_status(self) -> Option<CampaignStatus> {
                match self {
                    $($($(#[cfg($scfg)])? Self::$variant => Some(CampaignStatus::$status),)?)*
                    _ => None,
                }
            }
        }

        // Each upcaster chain leads from version 1 to the current version.
        $($(#[cfg($cfg)])? const _: () = {
            let upcasters: &[Upcaster] = &[$($upcaster),*];
            assert!(upcasters.len() + 1 == $version, "a type needs one upcaster per older version");
        };)*

        /// Where a campaign stands: the status its latest step reached. Statuses are totally
        /// ordered by [`CampaignStatus::rank`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        pub enum CampaignStatus {
            $($(
                #[doc = concat!($status_label, ": `", $name, "` recorded.")]
                #[serde(rename = $status_name)]
                $(#[cfg($scfg)])?
                $status,
            )?)*
        }

        impl CampaignStatus {
            /// Every status, in progression order.
            pub const ALL: [CampaignStatus; STATUS_COUNT] = [$($($(#[cfg($scfg)])? CampaignStatus::$status,)?)*];

            /// The stored name (`granulation_complete`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($($(#[cfg($scfg)])? Self::$status => $status_name,)?)*
                }
            }

            /// The status's stable code, in the stored forms that keep statuses as numbers (the
            /// recorded steps' bits, the flows' bytes): declared with the status and never
            /// reused, so a status added anywhere in the progression leaves stored ones reading
            /// the same. Its place in the progression is [`CampaignStatus::rank`].
            pub const fn code(self) -> u8 {
                match self {
                    $($($(#[cfg($scfg)])? Self::$status => $code,)?)*
                }
            }

            /// The status stored as `code`, if this build knows one.
            pub const fn from_code(code: u8) -> Option<Self> {
                match code {
                    $($($(#[cfg($scfg)])? $code => Some(Self::$status),)?)*
                    _ => None,
                }
            }

            /// The label of the step that reaching this status completed (the spec's
            /// `STEP_NAMES`).
            pub fn step_label(self) -> &'static str {
                match self {
                    $($($(#[cfg($scfg)])? Self::$status => $step_label,)?)*
                }
            }

            /// The status's name as lists and filters show it (`Granulation complete`).
            pub fn label(self) -> &'static str {
                match self {
                    $($($(#[cfg($scfg)])? Self::$status => $status_label,)?)*
                }
            }

            /// Which part of the chain a campaign in this status is at.
            pub fn tone(self) -> Tone {
                match self {
                    $($($(#[cfg($scfg)])? Self::$status => Tone::$tone,)?)*
                }
            }

            /// The event type whose recording reaches this status.
            pub const fn reached_by(self) -> EventType {
                match self {
                    $($($(#[cfg($scfg)])? Self::$status => EventType::$variant,)?)*
                }
            }
        }

        /// The number of statuses.
        const STATUS_COUNT: usize = [$($($(#[cfg($scfg)])? stringify!($status),)?)*].len();

        // Codes fit the recorded steps' 32 bits and are never shared (a repeated one also fails
        // to compile as an unreachable pattern in `from_code`).
        const _: () = {
            let codes: &[u8] = &[$($($(#[cfg($scfg)])? $code,)?)*];
            let mut i = 0;
            while i < codes.len() {
                assert!(codes[i] < 32, "a status code is below 32");
                i += 1;
            }
        };

        /// A parsed, typed payload of any registered event type.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum Payload {
            $(
                #[doc = concat!("`", $name, "`.")]
                $(#[cfg($cfg)])?
                $variant($payload),
            )*
        }

        impl Payload {
            /// Deserializes `data` (an object) as a payload of `event_type`, without its rules.
            pub(crate) fn parse_shape_of(event_type: EventType, data: &Value) -> Result<Payload, FieldError> {
                Ok(match event_type {
                    $($(#[cfg($cfg)])? EventType::$variant => Self::$variant(payload::typed(event_type, data)?),)*
                    EventType::Newer => {
                        return Err(FieldError::new(
                            "eventType",
                            "the event's type belongs to a newer Pluto; update Pluto to read it",
                        ))
                    }
                })
            }

            /// The type of this payload.
            pub fn event_type(&self) -> EventType {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant(_) => EventType::$variant,)*
                }
            }

            /// The day the entry states its step took place ([`PayloadType::happened_on`]).
            pub fn happened_on(&self) -> Option<IsoDate> {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant(p) => p.happened_on(),)*
                }
            }

            /// The field the weight it takes in comes from ([`PayloadType::WEIGHT_IN`]).
            pub fn weight_in_field(&self) -> Option<&'static str> {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant(_) => <$payload as PayloadType>::WEIGHT_IN,)*
                }
            }

            /// What the entry moves ([`PayloadType::flow`]).
            pub fn flow(&self) -> flow::Flow {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant(p) => p.flow(),)*
                }
            }

            /// Checks the rules that need no other event (see [`PayloadType::validate`]).
            pub fn validate(&self) -> Result<(), FieldError> {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant(p) => p.validate(),)*
                }
            }
        }

        /// Every step's details, `None` until recorded.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase", default)]
        pub struct Steps {
            $($(
                #[doc = concat!("The `", $name, "` step.")]
                pub $slot: Option<StepRecord<$payload>>,
            )?)*
        }

        impl Steps {
            /// When the step reached by `event_type` was recorded, if it was.
            pub fn recorded_at(&self, event_type: EventType) -> Option<Timestamp> {
                match event_type {
                    $($(EventType::$variant => self.$slot.as_ref().map(|r| r.recorded_at),)?)*
                    _ => None,
                }
            }

            /// The day the step reached by `event_type` took place, as its entry states it
            /// ([`PayloadType::happened_on`]).
            pub fn happened_on(&self, event_type: EventType) -> Option<IsoDate> {
                match event_type {
                    $($(EventType::$variant => self.$slot.as_ref().and_then(|r| r.data.happened_on()),)?)*
                    _ => None,
                }
            }

            /// What the entry that took the step reached by `event_type` moves, if it was taken
            /// ([`PayloadType::flow`]).
            pub fn flow(&self, event_type: EventType) -> Option<flow::Flow> {
                match event_type {
                    $($(EventType::$variant => self.$slot.as_ref().map(|r| r.data.flow()),)?)*
                    _ => None,
                }
            }

            /// Stores a step's record in its slot; types without one keep no details.
            pub(crate) fn fill(&mut self, payload: Payload, meta: Meta) {
                match payload {
                    $($(Payload::$variant(p) => self.$slot = Some(meta.record(p)),)?)*
                    _ => {}
                }
            }
        }
    };
}

event_registry! {
    /// A new campaign is initiated.
    CampaignCreated = "CampaignCreated" {
        payload: CampaignCreated,
        version: 1,
        upcasters: [],
        newer: FoldKnownFields,
        sites: ["LEGO"],
        reaches: Created = "created" { code: 0, label: "Created", step: "Campaign Created", tone: Start },
        example: { "legoCampaignCode": "LEGO-2026-0042", "materialType": "PCR", "description": "Consumer take-back, Billund" },
    }
    /// Material arrives at MBA from LEGO's warehouse.
    InboundShipmentRecorded = "InboundShipmentRecorded" {
        payload: InboundShipment,
        version: 1,
        upcasters: [],
        newer: FoldKnownFields,
        sites: ["MBA"],
        reaches: InboundShipmentRecorded = "inbound_shipment_recorded" {
            code: 1,
            label: "Inbound shipment recorded", step: "Inbound Shipment", tone: Mba,
        },
        due_days: 14,
        slot: inbound_shipment,
        example: {
            "grossWeightKg": 3560.0, "netWeightKg": 3360.2, "estimatedAbsKg": 2800.0, "carrier": "DHL Freight",
            "trackingRef": "DHL-123456", "shipDate": "2026-02-16", "arrivalDate": "2026-02-18",
        },
    }
    /// MBA completed granulation. Version 2 added the day it was completed (`completedOn`), as
    /// for every processing step.
    GranulationCompleted = "GranulationCompleted" {
        payload: Granulation,
        version: 2,
        upcasters: [upcast::completed_on_from_recording],
        newer: FoldKnownFields,
        sites: ["MBA"],
        reaches: GranulationComplete = "granulation_complete" {
            code: 2,
            label: "Granulation complete", step: "Granulation", tone: Mba,
        },
        due_days: 3,
        slot: granulation,
        example: { "ticketNumber": "G-17", "startingWeightKg": 3360.2, "outputWeightKg": 3190.0, "processHours": 6.5, "completedOn": "2026-02-20" },
    }
    /// MBA completed metal removal.
    MetalRemovalCompleted = "MetalRemovalCompleted" {
        payload: MetalRemoval,
        version: 2,
        upcasters: [upcast::completed_on_from_recording],
        newer: FoldKnownFields,
        sites: ["MBA"],
        reaches: MetalRemovalComplete = "metal_removal_complete" {
            code: 3,
            label: "Metal removal complete", step: "Metal Removal", tone: Mba,
        },
        due_days: 3,
        slot: metal_removal,
        example: { "ticketNumber": "M-17", "startingWeightKg": 3180.0, "outputWeightKg": 3150.5, "completedOn": "2026-02-23" },
    }
    /// A sample of the material kept for later testing: registered only with the `sample-type`
    /// feature, for `pluto-registry-check`'s tests, which prove that a step added here alone,
    /// between two of MBA's steps, goes through record, fold, policy, home, the period report,
    /// sync, export and forms.
    #[cfg(feature = "sample-type")]
    SampleRetained = "SampleRetained" {
        payload: SampleRetention,
        version: 1,
        upcasters: [],
        newer: Skip,
        sites: ["MBA"],
        reaches: SampleRetained = "sample_retained" {
            cfg: feature = "sample-type",
            code: 31,
            label: "Sample retained", step: "Sample Retention", tone: Mba,
        },
        due_days: 2,
        example: { "sampleId": "S-17", "retainedBy": "Ana Jensen", "weightKg": 2.5 },
    }
    /// MBA completed polymer purification.
    PolymerPurificationCompleted = "PolymerPurificationCompleted" {
        payload: PolymerPurification,
        version: 2,
        upcasters: [upcast::completed_on_from_recording],
        newer: FoldKnownFields,
        sites: ["MBA"],
        reaches: PolymerPurificationComplete = "polymer_purification_complete" {
            code: 4,
            label: "Purification complete", step: "Polymer Purification", tone: Mba,
        },
        due_days: 3,
        slot: polymer_purification,
        example: { "ticketNumber": "P-17", "startingWeightKg": 3140.0, "outputWeightKg": 2860.0, "completedOn": "2026-02-26" },
    }
    /// MBA completed extrusion.
    ExtrusionCompleted = "ExtrusionCompleted" {
        payload: Extrusion,
        version: 2,
        upcasters: [upcast::completed_on_from_recording],
        newer: FoldKnownFields,
        sites: ["MBA"],
        reaches: ExtrusionComplete = "extrusion_complete" {
            code: 5,
            label: "Extrusion complete (awaiting ECHA)", step: "Extrusion", tone: Gate,
        },
        due_days: 3,
        slot: extrusion,
        example: { "ticketNumber": "E-17", "startingWeightKg": 2850.0, "outputWeightKg": 2700.0, "batchNumber": "B-4", "completedOn": "2026-03-02" },
    }
    /// ECHA testing approved the material.
    EchaApprovalRecorded = "ECHAApprovalRecorded" {
        payload: EchaApproval,
        version: 1,
        upcasters: [],
        newer: FoldKnownFields,
        sites: ["LEGO", "ECHA"],
        reaches: EchaApproved = "echa_approved" { code: 6, label: "ECHA approved", step: "ECHA Approval", tone: Rge },
        due_days: 14,
        slot: echa_approval,
        example: { "approvedBy": "ECHA test lab (J. Madsen)", "approvalDate": "2026-03-09" },
    }
    /// Material shipped from MBA to RGE.
    TransferToRgeRecorded = "TransferToRGERecorded" {
        payload: TransferToRge,
        version: 1,
        upcasters: [],
        newer: FoldKnownFields,
        sites: ["MBA"],
        reaches: TransferredToRge = "transferred_to_rge" {
            code: 7,
            label: "Transferred to RGE", step: "Transfer to RGE", tone: Rge,
        },
        due_days: 7,
        slot: transfer_to_rge,
        example: { "trackingRef": "DSV-778", "carrier": "DSV", "shipDate": "2026-03-11", "receivedWeightKg": 2695.0 },
    }
    /// RGE began manufacturing.
    ManufacturingStarted = "ManufacturingStarted" {
        payload: ManufacturingStart,
        version: 1,
        upcasters: [],
        newer: FoldKnownFields,
        sites: ["RGE"],
        reaches: ManufacturingStarted = "manufacturing_started" {
            code: 8,
            label: "Manufacturing started", step: "Manufacturing Start", tone: Rge,
        },
        due_days: 10,
        slot: manufacturing_start,
        example: { "poNumber": "PO-5521", "poQuantity": 12000, "startDate": "2026-03-16" },
    }
    /// RGE completed manufacturing.
    ManufacturingCompleted = "ManufacturingCompleted" {
        payload: ManufacturingCompletion,
        version: 1,
        upcasters: [],
        newer: FoldKnownFields,
        sites: ["RGE"],
        reaches: ManufacturingComplete = "manufacturing_complete" {
            code: 9,
            label: "Manufacturing complete", step: "Manufacturing Complete", tone: Rge,
        },
        due_days: 21,
        slot: manufacturing_completion,
        example: { "endDate": "2026-03-23", "actualQuantity": 11760 },
    }
    /// Manufactured parts shipped back to LEGO.
    ReturnToLegoRecorded = "ReturnToLEGORecorded" {
        payload: ReturnToLego,
        version: 1,
        upcasters: [],
        newer: FoldKnownFields,
        sites: ["LEGO", "RGE"],
        reaches: ReturnedToLego = "returned_to_lego" { code: 10, label: "Returned to LEGO", step: "Return to LEGO", tone: Done },
        due_days: 7,
        slot: return_to_lego,
        example: { "trackingRef": "DHL-R-991", "carrier": "DHL Freight", "shipDate": "2026-03-25", "quantity": 11760 },
    }
    /// The campaign is closed. Version 2 added the day it was closed (`completionDate`).
    CampaignCompleted = "CampaignCompleted" {
        payload: CampaignCompletion,
        version: 2,
        upcasters: [upcast::completion_date_from_recording],
        newer: FoldKnownFields,
        sites: ["LEGO"],
        reaches: Completed = "completed" { code: 11, label: "Completed", step: "Complete Campaign", tone: Done },
        due_days: 7,
        slot: completion,
        example: { "completionDate": "2026-03-30", "completionNotes": "All parts received at LEGO" },
    }
    /// A correction of an earlier event's fields.
    EventCorrected = "EventCorrected" {
        payload: EventCorrection,
        version: 1,
        upcasters: [],
        newer: FoldKnownFields,
        sites: [],
        example: {
            "correctsEventId": "evt_01HQJK5W3N8XKZ0G2Y5V7R9T1A", "correctsEventType": "InboundShipmentRecorded",
            "reason": "Weighbridge ticket re-read", "changes": { "netWeightKg": { "was": 3360.2, "now": 3306.2 } },
        },
    }
    /// An earlier entry withdrawn (recorded twice, or on the wrong campaign).
    EntryVoided = "EntryVoided" {
        payload: EntryVoid,
        version: 1,
        upcasters: [],
        newer: FoldKnownFields,
        sites: [],
        example: {
            "voidsEventId": "evt_01HQJK5W3N8XKZ0G2Y5V7R9T1A", "voidsEventType": "GranulationCompleted",
            "reason": "Recorded twice from the same ticket",
        },
    }
    /// An anomaly looked at and accepted, with a note.
    AnomalyReviewed = "AnomalyReviewed" {
        payload: AnomalyReview,
        version: 1,
        upcasters: [],
        newer: FoldKnownFields,
        sites: [],
        example: {
            "eventId": "evt_01HQJK5W3N8XKZ0G2Y5V7R9T1A", "anomalyKind": "duplicate_step",
            "note": "Ticket found a day late; details checked against the paper copy",
        },
    }
}

#[cfg(feature = "sample-type")]
use sample::SampleRetention;
