//! `SampleRetained`, an event type registered only for tests (this crate's own, and with the
//! `sample-type` feature the `pluto-registry-check` crate's): added through the registry alone
//! (its entry there, its payload type here), it is recorded, folded, synced, exported and
//! described as a form with no other change.

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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::registry::CampaignStatus;

    use crate::registry::EventType;

    use crate::registry::Payload;

    #[test]
    fn the_registry_alone_adds_a_type_to_the_vocabulary_and_the_forms() {
        let t = EventType::parse("SampleRetained").unwrap();
        assert_eq!(serde_json::to_value(t).unwrap(), "SampleRetained");
        assert!(EventType::ALL.contains(&t));
        assert!(!EventType::STEPS.contains(&t), "not a step: the progression is unchanged");
        assert_eq!(CampaignStatus::ALL.len(), 12);
        assert!(EventType::registry_fingerprint().ends_with("SampleRetained@1"));
        let names: Vec<&str> = t.fields().iter().map(|f| f.name).collect();
        assert_eq!(names, ["sampleId", "retainedBy", "weightKg"]);
        let form: BTreeMap<String, String> =
            [("sampleId", "S-17"), ("retainedBy", "Ana Jensen"), ("weightKg", "2.5")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into();
        assert_eq!(Payload::from_form(t, &form).unwrap(), t.example().unwrap());
        let mut bad = form.clone();
        bad.insert("weightKg".into(), "heavy".into());
        let problems = Payload::from_form(t, &bad).unwrap_err();
        assert_eq!(problems[0].field, "weightKg");
    }

    /// The sites an entry declares are the default site policy: MBA may record the type, its
    /// corrections and voids, and no other site may; nothing waits for a type that is no step.
    #[test]
    fn the_registry_alone_gives_a_type_its_sites() {
        use crate::policy::{default_site_policy, SitePolicy};
        let t = EventType::parse("SampleRetained").unwrap();
        let mba = default_site_policy().into_iter().find(|(site, _)| *site == "MBA").unwrap().1;
        assert_eq!(mba.last(), Some(&t));
        assert!(SitePolicy::default_for("MBA").check(t, None).is_ok());
        assert!(SitePolicy::default_for("MBA").check(EventType::EventCorrected, Some(t)).is_ok());
        let refused = SitePolicy::default_for("RGE").check(EventType::EntryVoided, Some(t)).unwrap_err();
        assert_eq!(refused, "site RGE may not void SampleRetained");
        assert_eq!(t.default_due_days(), None);
    }
}
