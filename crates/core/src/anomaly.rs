//! Anomalies: what the fold reports instead of failing when events break the progression or
//! a correction cannot apply. They are kept on the campaign and shown, never dropped.

use serde::{Deserialize, Serialize};

use crate::ids::EventId;
use crate::payload::EventType;

/// What kind of irregularity an anomaly is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum AnomalyKind {
    /// The payload cannot be read as its type; the event has no effect.
    InvalidPayload,
    /// A step recorded before the campaign's `CampaignCreated` (missing or recorded later).
    BeforeCreation,
    /// A step recorded while earlier steps were still missing.
    SkippedSteps,
    /// A transfer to RGE recorded without ECHA approval.
    EchaGateBypassed,
    /// A step recorded twice; the later one has no effect.
    DuplicateStep,
    /// A missing earlier step recorded after later ones; its details are kept, status is not moved back.
    LateStep,
    /// A step recorded after the campaign was completed; it has no effect.
    AfterCompletion,
    /// Dates that contradict each other across steps (manufacturing ends before it starts).
    InconsistentDates,
    /// A correction of an event this campaign does not hold.
    CorrectionOfUnknownEvent,
    /// A correction of a correction.
    CorrectionOfCorrection,
    /// A correction naming the wrong type for its target.
    CorrectionTypeMismatch,
    /// A correction whose `was` did not match (two people corrected one field).
    CorrectionConflict,
    /// A correction that would make its target invalid.
    CorrectionInvalid,
}

impl AnomalyKind {
    /// How a coordinator resolves this kind of anomaly.
    pub fn remedy(self) -> &'static str {
        match self {
            Self::InvalidPayload => "The event cannot be read; record the step again correctly and tell support.",
            Self::BeforeCreation => "Sync to fetch the campaign's creation; if it never arrives, ask the site that created it.",
            Self::SkippedSteps => "Record the missing steps; they will be shown as late but their details are kept.",
            Self::EchaGateBypassed => "Record the ECHA approval, and check why material moved to RGE without it.",
            Self::DuplicateStep => "Compare both entries; correct the first one if the second holds the right values.",
            Self::LateStep => "No action needed if the details are right; the step was entered after later steps.",
            Self::AfterCompletion => "The campaign was already completed; correct the completed campaign's events instead.",
            Self::InconsistentDates => "Correct the wrong date so that the steps follow each other.",
            Self::CorrectionOfUnknownEvent => "Sync to fetch the corrected event; if it never arrives the correction was made on the wrong campaign.",
            Self::CorrectionOfCorrection => "Correct the original event instead.",
            Self::CorrectionTypeMismatch => "Record the correction again against the right event.",
            Self::CorrectionConflict => "Two corrections of the same field crossed; check the value and correct it once more if needed.",
            Self::CorrectionInvalid => "Record the correction again with values that pass the rules.",
        }
    }
}

/// An irregularity in a campaign's events. Anomalies are kept and shown, never dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Anomaly {
    /// The event the anomaly is about.
    pub event_id: EventId,
    /// That event's type.
    pub event_type: EventType,
    /// What kind of irregularity.
    pub kind: AnomalyKind,
    /// What happened, in words.
    pub message: String,
}
