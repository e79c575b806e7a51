//! Anomalies: what the fold reports instead of failing when events break the progression or
//! a correction cannot apply. They are kept on the campaign and shown, never dropped.

use serde::{Deserialize, Serialize};

use crate::ids::EventId;

use crate::ids::UserId;
use crate::registry::EventType;
use crate::time::Timestamp;

/// What kind of irregularity an anomaly is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum AnomalyKind {
    /// The payload cannot be read as its type; the event has no effect.
    InvalidPayload,
    /// A step recorded before the campaign's `CampaignCreated` (missing or recorded later).
    BeforeCreation,
    /// A step that reached the campaign while earlier steps were missing: it waits for them
    /// and takes effect once they are recorded.
    SkippedSteps,
    /// A transfer to RGE that reached the campaign without ECHA approval: it waits for it.
    EchaGateBypassed,
    /// A step recorded twice; the entry that took the step stands, this one has no effect.
    DuplicateStep,
    /// A step recorded after the campaign was completed; it has no effect.
    AfterCompletion,
    /// Dates that contradict each other across steps (manufacturing ends before it starts).
    InconsistentDates,
    /// A step that took in more weight than the campaign had before it, beyond the tolerance
    /// ([`crate::fold::MASS_TOLERANCE`]): material cannot appear between two steps.
    ImplausibleWeight,
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
    /// A void of an event this campaign does not hold.
    VoidOfUnknownEvent,
    /// A void naming the wrong type for its target.
    VoidTypeMismatch,
}

impl AnomalyKind {
    /// The kind's stored name (`duplicate_step`), as reviews name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidPayload => "invalid_payload",
            Self::BeforeCreation => "before_creation",
            Self::SkippedSteps => "skipped_steps",
            Self::EchaGateBypassed => "echa_gate_bypassed",
            Self::DuplicateStep => "duplicate_step",
            Self::AfterCompletion => "after_completion",
            Self::InconsistentDates => "inconsistent_dates",
            Self::ImplausibleWeight => "implausible_weight",
            Self::CorrectionOfUnknownEvent => "correction_of_unknown_event",
            Self::CorrectionOfCorrection => "correction_of_correction",
            Self::CorrectionTypeMismatch => "correction_type_mismatch",
            Self::CorrectionConflict => "correction_conflict",
            Self::CorrectionInvalid => "correction_invalid",
            Self::VoidOfUnknownEvent => "void_of_unknown_event",
            Self::VoidTypeMismatch => "void_type_mismatch",
        }
    }

    /// Whether it is about an entry that reached the campaign ahead of an earlier step.
    pub fn is_out_of_order(self) -> bool {
        matches!(self, Self::SkippedSteps | Self::EchaGateBypassed)
    }

    /// Whether it is about a correction or void whose target has not arrived (yet).
    pub fn waits_for_target(self) -> bool {
        matches!(self, Self::CorrectionOfUnknownEvent | Self::VoidOfUnknownEvent)
    }

    /// How a coordinator resolves this kind of anomaly.
    pub fn remedy(self) -> &'static str {
        match self {
            Self::InvalidPayload => "The event cannot be read; record the step again correctly and tell support.",
            Self::BeforeCreation => "Sync to fetch the campaign's creation; if it never arrives, ask the site that created it.",
            Self::SkippedSteps => "Record the missing steps; this entry then takes effect.",
            Self::EchaGateBypassed => "Record the ECHA approval (the transfer then takes effect), and check why material moved to RGE without it.",
            Self::DuplicateStep => "Compare both entries; correct the first one if the second holds the right values.",
            Self::AfterCompletion => "The campaign was already completed; correct the completed campaign's events instead.",
            Self::InconsistentDates => "Correct the wrong date so that the steps follow each other.",
            Self::ImplausibleWeight => "Correct whichever weight is wrong: this step's starting weight, or the output of the step before it.",
            Self::CorrectionOfUnknownEvent => "Sync to fetch the corrected event; if it never arrives the correction was made on the wrong campaign.",
            Self::CorrectionOfCorrection => "Correct the original event instead.",
            Self::CorrectionTypeMismatch => "Record the correction again against the right event.",
            Self::CorrectionConflict => "Two corrections of the same field crossed; check the value and correct it once more if needed.",
            Self::CorrectionInvalid => "Record the correction again with values that pass the rules.",
            Self::VoidOfUnknownEvent => "Sync to fetch the voided entry; if it never arrives the void was recorded on the wrong campaign.",
            Self::VoidTypeMismatch => "Void the entry again, from its own line in the history.",
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
    /// Who looked at it and found it needs nothing more; `None` while it waits for review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
    /// Whether what it reports was resolved by later entries (the missing steps were recorded,
    /// so the entry took effect): kept in the record, and nobody needs to review it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resolved: bool,
}

impl Anomaly {
    /// Whether `review` is about this anomaly: the same event and kind.
    pub fn is_reviewed_by(&self, review: &Review) -> bool {
        self.event_id == review.event_id && self.kind.as_str() == review.anomaly_kind
    }

    /// Whether it still asks for someone to look at it: neither resolved nor reviewed.
    pub fn is_open(&self) -> bool {
        !self.resolved && self.review.is_none()
    }

    /// Whether `other` is the same irregularity, reviewed or not.
    pub fn same_as(&self, other: &Anomaly) -> bool {
        self.event_id == other.event_id && self.kind == other.kind && self.message == other.message
    }
}

/// An `AnomalyReviewed` entry as the fold keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Review {
    /// The `AnomalyReviewed` event.
    pub review_id: EventId,
    /// The event the reviewed anomaly is about.
    pub event_id: EventId,
    /// The reviewed anomaly's kind, as the review names it.
    pub anomaly_kind: String,
    /// What the reviewer found.
    pub note: String,
    /// Who reviewed it.
    pub reviewed_by: UserId,
    /// When.
    pub reviewed_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::AnomalyKind;

    #[test]
    fn stored_names_are_the_serialized_names() {
        use AnomalyKind::*;
        let all = [
            InvalidPayload,
            BeforeCreation,
            SkippedSteps,
            EchaGateBypassed,
            DuplicateStep,
            AfterCompletion,
            InconsistentDates,
            ImplausibleWeight,
            CorrectionOfUnknownEvent,
            CorrectionOfCorrection,
            CorrectionTypeMismatch,
            CorrectionConflict,
            CorrectionInvalid,
            VoidOfUnknownEvent,
            VoidTypeMismatch,
        ];
        for kind in all {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str(), "{kind:?}");
        }
    }
}
