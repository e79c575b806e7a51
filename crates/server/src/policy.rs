//! Site policy: which event types each site may record. The server enforces it on every push
//! and serves it to laptops (`GET /v1/policy`), which refuse at entry what it would refuse.
//!
//! The default is the chain's division of work (LEGO creates, approves returns and closes; MBA
//! processes; ECHA approves; RGE manufactures). An operator replaces it with a policy file given
//! to `serve --policy FILE`, a JSON object of site → event type names, checked at start.

use std::collections::BTreeMap;
use std::path::Path;

use pluto_domain::SitePolicy;

use pluto_domain::policy::default_site_policy;
use pluto_domain::EventType;

use crate::storage::Role;

use crate::storage::TokenRecord;

/// Why a policy file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file cannot be read.
    #[error("cannot read the policy file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a JSON object of site → list of event type names.
    #[error("the policy file {path} is not valid: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, naming the site and the entry.
        message: String,
    },
}

/// Which event types each site may record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Site name → the types its tokens may push, in registry order.
    sites: BTreeMap<String, Vec<EventType>>,
}

impl Default for Policy {
    /// The chain's division of work (see `docs/security.md`).
    fn default() -> Self {
        let sites = default_site_policy().into_iter().map(|(site, types)| (site.to_owned(), types));
        Policy { sites: sites.collect() }
    }
}

impl Policy {
    /// Reads and checks a policy file: a JSON object whose keys are site names and whose values
    /// are lists of event type names (corrections, voids and reviews are not listed: a
    /// correction or void is allowed where the type it changes is, a review everywhere).
    pub fn from_file(path: &Path) -> Result<Policy, PolicyError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| PolicyError::Read { path: shown.clone(), source })?;
        Self::from_json(&text).map_err(|message| PolicyError::Invalid { path: shown, message })
    }

    /// Parses a policy from its JSON text; the error names the site and entry that is wrong.
    pub fn from_json(text: &str) -> Result<Policy, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let object = value.as_object().ok_or_else(|| {
            "expected a JSON object of site → list of event types, such as {\"MBA\": [\"GranulationCompleted\"]}"
                .to_owned()
        })?;
        let mut sites: BTreeMap<String, Vec<EventType>> = BTreeMap::new();
        for (site, types) in object {
            let site = site.trim();
            if site.is_empty() {
                return Err("a site name is blank".into());
            }
            if sites.keys().any(|s| s.eq_ignore_ascii_case(site)) {
                return Err(format!("site {site:?} is listed twice (site names ignore case)"));
            }
            let list =
                types.as_array().ok_or_else(|| format!("site {site:?}: expected a list of event types"))?;
            let mut allowed = Vec::new();
            for entry in list {
                let name = entry
                    .as_str()
                    .ok_or_else(|| format!("site {site:?}: {entry} is not an event type name"))?;
                let event_type =
                    EventType::parse(name).map_err(|e| format!("site {site:?}: {}", e.message))?;
                if event_type.is_resolution() {
                    return Err(format!(
                        "site {site:?}: {event_type} is not listed; a site may correct and void the types it \
                         records, and review any anomaly"
                    ));
                }
                if !allowed.contains(&event_type) {
                    allowed.push(event_type);
                }
            }
            allowed.sort();
            sites.insert(site.to_owned(), allowed);
        }
        Ok(Policy { sites })
    }

    /// The types `site` may record (none for a site the policy does not name).
    pub fn types_of(&self, site: &str) -> &[EventType] {
        self.sites.iter().find(|(name, _)| name.eq_ignore_ascii_case(site)).map_or(&[], |(_, t)| t)
    }

    /// Whether `token` may push an event of `event_type`; `acts_on` is the changed event's type
    /// for a correction or void. `Err` holds the refusal in words, naming the rule.
    pub fn check(
        &self,
        token: &TokenRecord,
        event_type: EventType,
        acts_on: Option<EventType>,
    ) -> Result<(), String> {
        SitePolicy::judge(&token.site, event_type, acts_on, |recorded| {
            token.role == Role::Admin || self.types_of(&token.site).contains(&recorded)
        })
    }

    /// What a token may do, as `GET /v1/policy` serves it.
    pub fn for_token(&self, token: &TokenRecord) -> SitePolicy {
        let names = |types: &[EventType]| types.iter().map(|t| t.as_str().to_owned()).collect();
        let all: Vec<EventType> = EventType::ALL.iter().copied().filter(|t| !t.is_resolution()).collect();
        SitePolicy {
            site: token.site.clone(),
            admin: token.role == Role::Admin,
            may_record: match token.role {
                Role::Admin => names(&all),
                Role::Site => names(self.types_of(&token.site)),
            },
            sites: self.sites.iter().map(|(site, types)| (site.clone(), names(types))).collect(),
        }
    }

    /// The policy as a table, one site per line, for the operator.
    pub fn describe(&self) -> String {
        let lines: Vec<String> = self
            .sites
            .iter()
            .map(|(site, types)| {
                let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
                format!("{site}: {}", names.join(", "))
            })
            .collect();
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(site: &str, role: Role) -> TokenRecord {
        TokenRecord {
            id: "tok_01M8D4FB0YQT5Q0EH8W9ASNV9G".into(),
            device_id: pluto_domain::DeviceId::generate(),
            site: site.into(),
            role,
            label: None,
            created_at: pluto_domain::Timestamp::now(),
            revoked_at: None,
        }
    }

    #[test]
    fn the_default_is_the_chains_division_of_work() {
        let policy = Policy::default();
        let rge = token("RGE", Role::Site);
        assert!(policy.check(&rge, EventType::ManufacturingStarted, None).is_ok());
        assert_eq!(
            policy.check(&rge, EventType::GranulationCompleted, None).unwrap_err(),
            "site RGE may not record Granulation"
        );
        assert_eq!(
            policy
                .check(&rge, EventType::EventCorrected, Some(EventType::InboundShipmentRecorded))
                .unwrap_err(),
            "site RGE may not correct Inbound Shipment"
        );
        assert!(policy.check(&rge, EventType::EventCorrected, Some(EventType::ManufacturingStarted)).is_ok());
        assert_eq!(
            policy.check(&rge, EventType::EntryVoided, Some(EventType::GranulationCompleted)).unwrap_err(),
            "site RGE may not void Granulation"
        );
        assert!(policy.check(&rge, EventType::EntryVoided, Some(EventType::ManufacturingStarted)).is_ok());
        let nobody = token("Warehouse", Role::Site);
        // issue 26: a review is for the site that records the step, or the one that creates campaigns.
        let review = |t: &TokenRecord, of| policy.check(t, EventType::AnomalyReviewed, Some(of));
        assert!(review(&nobody, EventType::ManufacturingStarted).is_err());
        assert!(review(&rge, EventType::ManufacturingStarted).is_ok());
        assert_eq!(
            review(&rge, EventType::GranulationCompleted).unwrap_err(),
            "site RGE may not review anomalies of Granulation: a review is for the site that records that step, \
             or the site that creates campaigns"
        );
        assert!(review(&token("LEGO", Role::Site), EventType::GranulationCompleted).is_ok());
        let mba = token("mba", Role::Site);
        assert!(policy.check(&mba, EventType::GranulationCompleted, None).is_ok(), "site names ignore case");
        let unknown = token("Warehouse", Role::Site);
        assert!(policy.check(&unknown, EventType::CampaignCreated, None).is_err());
        let admin = token("Warehouse", Role::Admin);
        assert!(policy.check(&admin, EventType::GranulationCompleted, None).is_ok());
        assert_eq!(policy.for_token(&rge).may_record.len(), 3);
    }

    #[test]
    fn a_policy_file_is_checked_entry_by_entry() {
        let ok =
            Policy::from_json(r#"{"MBA": ["GranulationCompleted", "InboundShipmentRecorded"], "Lab": []}"#)
                .unwrap();
        assert_eq!(ok.types_of("MBA"), [EventType::InboundShipmentRecorded, EventType::GranulationCompleted]);
        assert!(ok.types_of("Lab").is_empty());
        for (text, expected) in [
            ("[]", "expected a JSON object"),
            (r#"{"MBA": "GranulationCompleted"}"#, "site \"MBA\": expected a list"),
            (r#"{"MBA": ["Granulation"]}"#, "site \"MBA\": unknown event type \"Granulation\""),
            (r#"{"MBA": ["EventCorrected"]}"#, "EventCorrected is not listed"),
            (r#"{"MBA": ["EntryVoided"]}"#, "EntryVoided is not listed"),
            (r#"{"MBA": [], "mba": []}"#, "listed twice"),
            ("{", "not JSON"),
        ] {
            let err = Policy::from_json(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
