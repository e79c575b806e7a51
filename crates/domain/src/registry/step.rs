//! A recorded step's details as the full fold keeps them, in the registry's step slots.

use serde::{Deserialize, Serialize};

use crate::ids::DeviceId;

use crate::ids::EventId;

use crate::ids::UserId;
use crate::time::Timestamp;

/// One recorded step as it stands now (corrections applied), with who recorded it and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord<P> {
    /// The event that recorded the step.
    pub event_id: EventId,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// Who recorded it.
    pub recorded_by: UserId,
    /// On which device.
    pub device_id: DeviceId,
    /// Whether a correction changed any of its fields.
    pub corrected: bool,
    /// The effective payload.
    pub data: P,
}

/// Who recorded a step, when, and whether a correction changed it.
pub(crate) struct Meta {
    pub(crate) event_id: EventId,
    pub(crate) recorded_at: Timestamp,
    pub(crate) recorded_by: UserId,
    pub(crate) device_id: DeviceId,
    pub(crate) corrected: bool,
}

impl Meta {
    /// The record of a step with payload `data`.
    pub(crate) fn record<P>(self, data: P) -> StepRecord<P> {
        StepRecord {
            event_id: self.event_id,
            recorded_at: self.recorded_at,
            recorded_by: self.recorded_by,
            device_id: self.device_id,
            corrected: self.corrected,
            data,
        }
    }
}
