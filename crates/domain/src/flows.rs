//! What the period mass balance needs of a campaign ([`Flows`]): the day each step took place
//! and what it moved, and the corrections and voids that changed them. The fold keeps it in the
//! campaign's state; the store keeps it with the projection.

use serde::{Deserialize, Serialize};

use crate::ids::EventId;
use crate::registry::flow::Flow;
use crate::registry::CampaignStatus;
use crate::time::{IsoDate, Timestamp};

/// The day a step took place: the date its entry states (arrival, approval, shipment, start,
/// end, completion), or, for an entry that states none (the processing steps, the creation), the
/// day it was recorded (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StepDay {
    /// The day.
    pub date: IsoDate,
    /// Whether the entry states it; `false`: the day it was recorded.
    pub stated: bool,
}

impl StepDay {
    /// The day of a step whose entry states `happened_on` and was recorded at `recorded_at`.
    pub fn of(happened_on: Option<IsoDate>, recorded_at: Timestamp) -> StepDay {
        match happened_on {
            Some(date) => StepDay { date, stated: true },
            None => StepDay { date: recorded_at.site_day(), stated: false },
        }
    }
}

/// One recorded step as the balance needs it. Kept in the projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct FlowStep {
    /// The status the step reaches.
    pub step: CampaignStatus,
    /// The day it took place: stated by the entry, else the day it was recorded (see [`StepDay`]).
    pub day: IsoDate,
    /// See [`Flow::kg_in`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kg_in: Option<f64>,
    /// See [`Flow::kg_out`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kg_out: Option<f64>,
    /// See [`Flow::parts`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<u32>,
    /// See [`Flow::received_on`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_on: Option<IsoDate>,
}

/// What changed a step after the fact: a correction, a void, or the step's own entry recorded
/// on a later day than the one it states. A period that holds the step (on its day, or on the day
/// a correction moved it from) is restated when this was recorded after the period closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Amendment {
    /// The `EventCorrected` or `EntryVoided` event, or the step's entry when it was recorded late.
    pub event_id: EventId,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// What it did to the step.
    pub kind: AmendmentKind,
    /// The step it changed.
    pub step: CampaignStatus,
    /// The day of that step.
    pub day: IsoDate,
    /// For a correction that changed the step's day: the day it had before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<IsoDate>,
    /// The reason given (none for an entry recorded late).
    pub reason: String,
}

/// What an [`Amendment`] did to its step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum AmendmentKind {
    /// A correction changed its fields.
    Corrected,
    /// A void withdrew it.
    Voided,
    /// Its entry was recorded on a later day (in the sites' calendar) than the day it states.
    RecordedLate,
}

impl AmendmentKind {
    /// What it did, in words after the step's name ("Granulation recorded late").
    pub fn words(self) -> &'static str {
        match self {
            Self::Corrected => "corrected",
            Self::Voided => "voided",
            Self::RecordedLate => "recorded late",
        }
    }
}

/// What the period mass balance needs of a campaign: its steps' days and quantities, and the
/// corrections and voids that changed them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Flows {
    /// The recorded steps, in chain order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<FlowStep>,
    /// Corrections and voids of steps, and steps recorded late, by event id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amendments: Vec<Amendment>,
}

impl Flows {
    /// Whether there is nothing to keep.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.amendments.is_empty()
    }

    /// Adds the step `step`, placed on `day`.
    pub fn record(&mut self, step: CampaignStatus, day: IsoDate, flow: Flow) {
        let at = self.steps.partition_point(|s| s.step.rank() <= step.rank());
        self.steps.insert(
            at,
            FlowStep {
                step,
                day,
                kg_in: flow.kg_in,
                kg_out: flow.kg_out,
                parts: flow.parts,
                received_on: flow.received_on,
            },
        );
    }

    /// The recorded step that reached `status` (a campaign records each status once).
    pub fn step(&self, status: CampaignStatus) -> Option<&FlowStep> {
        self.steps.iter().find(|s| s.step == status)
    }

    /// Notes a correction, void or late entry; kept in event-id order whatever order they are
    /// folded in.
    pub fn amend(&mut self, amendment: Amendment) {
        let at = self.amendments.partition_point(|a| a.event_id < amendment.event_id);
        if self.amendments.get(at).is_none_or(|a| a.event_id != amendment.event_id) {
            self.amendments.insert(at, amendment);
        }
    }
}
