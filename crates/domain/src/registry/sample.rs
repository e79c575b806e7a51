//! `SampleRetained`, a step registered only with the `sample-type` feature, which only the
//! `pluto-registry-check` crate's tests turn on: added through the registry alone (its entry
//! there, between metal removal and purification, and its payload type here), it is recorded,
//! folded, offered, synced, exported and described as a form with no other change.

use serde::{Deserialize, Serialize};

use super::fields::{FieldKind, FieldSpec};
use super::payload::{f, required_text, weight, PayloadType};
use crate::field::FieldError;

/// `SampleRetained`: a sample of the material kept for later testing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SampleRetention {
    /// The sample's label.
    pub sample_id: String,
    /// Who keeps it.
    pub retained_by: String,
    /// Its weight.
    pub weight_kg: f64,
}

impl PayloadType for SampleRetention {
    const FIELDS: &'static [FieldSpec] = &[
        f("sampleId", FieldKind::Text, true, "Sample id"),
        f("retainedBy", FieldKind::Text, true, "Retained by"),
        f("weightKg", FieldKind::Weight, true, "Weight"),
    ];

    fn validate(&self) -> Result<(), FieldError> {
        required_text("sampleId", &self.sample_id)?;
        required_text("retainedBy", &self.retained_by)?;
        weight("weightKg", self.weight_kg)
    }
}
