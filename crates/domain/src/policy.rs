//! The site policy: which site may record which event types. The server enforces it on every
//! push (`GET /v1/policy` tells a laptop its token's share), laptops apply it at entry and to
//! what they pull, so both judge an entry by the same rule ([`SitePolicy::judge`]).

use serde::{Deserialize, Serialize};

use crate::refusal::Refusal;
use crate::registry::EventType;

/// `GET /v1/policy`: which event types the asking token may record, and the whole site table.
/// Type names are sent as text, so that a laptop reads a newer server's policy: names it does
/// not know are kept and never match its own entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SitePolicy {
    /// The site the server knows the token by.
    pub site: String,
    /// Whether the token is an administrator's, allowed every type.
    #[serde(default)]
    pub admin: bool,
    /// The types the token may record (a correction is allowed where its target's type is).
    pub may_record: Vec<String>,
    /// Every site the policy names, with the types it may record.
    #[serde(default)]
    pub sites: std::collections::BTreeMap<String, Vec<String>>,
}

/// The default site policy, the chain's division of work, as the registry declares it
/// ([`EventType::default_sites`]): LEGO creates, approves returns and closes; MBA processes;
/// ECHA approves; RGE manufactures. Sites in the order the registry first names them, each with
/// its types in registry order. The server starts with it unless given a policy file; a laptop
/// that has not yet synced offers its profile's site's steps first by it.
pub fn default_site_policy() -> Vec<(&'static str, Vec<EventType>)> {
    let mut sites: Vec<(&'static str, Vec<EventType>)> = Vec::new();
    for &t in EventType::ALL {
        for &site in t.default_sites() {
            match sites.iter_mut().find(|(name, _)| *name == site) {
                Some((_, types)) => types.push(t),
                None => sites.push((site, vec![t])),
            }
        }
    }
    sites
}

impl SitePolicy {
    /// The site policy's rule, which the server and laptops share: an entry of `event_type` is
    /// allowed at `site` when `allows` holds for the type it records, or for a correction or
    /// void the type it changes (`acts_on`). A review of an anomaly (`acts_on`: the type of the
    /// entry the anomaly is on, or the type that entry changes) is for the site that records that
    /// type, and for the site that creates campaigns (LEGO, by default). `Err` holds the refusal
    /// in words.
    pub fn judge(
        site: &str,
        event_type: EventType,
        acts_on: Option<EventType>,
        allows: impl Fn(EventType) -> bool,
    ) -> Result<(), String> {
        use EventType::{AnomalyReviewed, CampaignCreated, EntryVoided, EventCorrected};
        let verb = match event_type {
            AnomalyReviewed => {
                if acts_on.is_some_and(&allows) || allows(CampaignCreated) {
                    return Ok(());
                }
                let of = acts_on.map_or("an entry of a newer Pluto", EventType::label);
                return Err(format!(
                    "site {site} may not review anomalies of {of}: a review is for the site that records that \
                     step, or the site that creates campaigns"
                ));
            }
            EventCorrected => "correct",
            EntryVoided => "void",
            _ => "record",
        };
        let recorded = acts_on.filter(|_| event_type.acts_on_others()).unwrap_or(event_type);
        if allows(recorded) {
            Ok(())
        } else {
            // The step in the coordinator's words: the message reaches the refused entry's list.
            Err(format!("site {site} may not {verb} {}", recorded.label()))
        }
    }

    /// What [`default_site_policy`] lets `site` record (nothing for a site it does not name;
    /// site names compare without regard to case, as on the server).
    pub fn default_for(site: &str) -> SitePolicy {
        let names = |types: &[EventType]| types.iter().map(|t| t.as_str().to_owned()).collect();
        let table = default_site_policy();
        let may_record = table
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(site))
            .map_or_else(Vec::new, |(_, types)| names(types));
        SitePolicy {
            site: site.to_owned(),
            admin: false,
            may_record,
            sites: table.iter().map(|(name, types)| ((*name).to_owned(), names(types))).collect(),
        }
    }

    /// What the token may record, in words (`Manufacturing Start, Manufacturing Complete`).
    pub fn allowed_in_words(&self) -> String {
        if self.admin {
            return "every step".into();
        }
        if self.may_record.is_empty() {
            return "nothing".into();
        }
        let words: Vec<&str> = self
            .may_record
            .iter()
            .map(|name| match EventType::parse(name) {
                Ok(known) => known.label(),
                Err(_) => name.as_str(),
            })
            .collect();
        words.join(", ")
    }

    /// Whether the token may record an entry of `event_type`; `acts_on` is the changed type for
    /// a correction or void. `Err` holds the refusal in the server's words.
    pub fn check(&self, event_type: EventType, acts_on: Option<EventType>) -> Result<(), String> {
        Self::judge(&self.site, event_type, acts_on, |recorded| {
            self.admin || self.may_record.iter().any(|t| t == recorded.as_str())
        })
    }

    /// [`SitePolicy::check`] as the refusal a laptop shows: the rule broken and what the site may
    /// record instead.
    pub fn refuse(&self, event_type: EventType, acts_on: Option<EventType>) -> Result<(), Refusal> {
        self.check(event_type, acts_on).map_err(|message| Refusal::NotThisSite {
            site: self.site.clone(),
            message,
            allowed: self.allowed_in_words(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registry's sites give the chain's division of work, and every type but those that act
    /// on other entries names a site: a new type without one would be recorded by no site.
    #[test]
    fn the_default_policy_is_the_chains_division_of_work() {
        use EventType::*;
        let table = default_site_policy();
        let names: Vec<&str> = table.iter().map(|(site, _)| *site).collect();
        assert_eq!(names, ["LEGO", "MBA", "ECHA", "RGE"]);
        let of = |site: &str| table.iter().find(|(s, _)| *s == site).unwrap().1.clone();
        assert_eq!(of("ECHA"), [EchaApprovalRecorded]);
        assert_eq!(of("RGE"), [ManufacturingStarted, ManufacturingCompleted, ReturnToLegoRecorded]);
        assert!(of("LEGO").starts_with(&[
            CampaignCreated,
            EchaApprovalRecorded,
            ReturnToLegoRecorded,
            CampaignCompleted
        ]));
        for &t in EventType::ALL {
            assert_eq!(t.default_sites().is_empty(), t.is_resolution(), "{t}");
        }
        for (i, &step) in EventType::STEPS.iter().enumerate() {
            assert_eq!(step.default_due_days().is_some(), i > 0, "{step}: due days");
        }
    }
}
