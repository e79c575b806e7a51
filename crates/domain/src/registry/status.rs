//! The campaign statuses (declared with the step types that reach them in the registry) and the
//! linear progression between them (the spec's `STATUS_PROGRESSION`).

use serde::{Deserialize, Serialize};

use crate::registry::CampaignStatus;
use crate::registry::EventType;

/// Which part of the chain a status (or a weight) belongs to: the UI gives each a colour and a
/// symbol, so that colour is never the only cue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Tone {
    /// Created at LEGO, nothing shipped yet.
    Start,
    /// At MBA.
    Mba,
    /// Waiting for ECHA's approval.
    Gate,
    /// Approved, at RGE.
    Rge,
    /// Back at LEGO.
    Done,
}

impl Tone {
    /// Every tone, in the order of the chain.
    pub const ALL: [Tone; 5] = [Self::Start, Self::Mba, Self::Gate, Self::Rge, Self::Done];

    /// A symbol distinct in shape from the others.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Start => "○",
            Self::Mba => "◆",
            Self::Gate => "▲",
            Self::Rge => "■",
            Self::Done => "✔",
        }
    }

    /// What it means, for the legend and screen readers.
    pub fn words(self) -> &'static str {
        match self {
            Self::Start => "created",
            Self::Mba => "at MBA",
            Self::Gate => "awaiting ECHA",
            Self::Rge => "approved / at RGE",
            Self::Done => "back at LEGO",
        }
    }
}

impl CampaignStatus {
    /// Position in the progression: 0 for `created` … 11 for `completed`. In memory only: the
    /// stored forms keep [`CampaignStatus::code`] or the name.
    pub fn rank(self) -> usize {
        self as usize
    }

    /// The status at `rank`, if there is one.
    pub fn from_rank(rank: usize) -> Option<Self> {
        Self::ALL.get(rank).copied()
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// The spec's `STATUS_PROGRESSION`: the label of the step expected next, `None` once completed.
    pub fn next_expected_step(self) -> Option<&'static str> {
        Self::from_rank(self.rank() + 1).map(Self::step_label)
    }

    /// The event type that moves a campaign out of this status, `None` once completed.
    pub fn next_event_type(self) -> Option<EventType> {
        Self::from_rank(self.rank() + 1).map(Self::reached_by)
    }
}

impl std::fmt::Display for CampaignStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progression_matches_the_spec() {
        let expected = [
            ("created", Some("Inbound Shipment")),
            ("inbound_shipment_recorded", Some("Granulation")),
            ("granulation_complete", Some("Metal Removal")),
            ("metal_removal_complete", Some("Polymer Purification")),
            ("polymer_purification_complete", Some("Extrusion")),
            ("extrusion_complete", Some("ECHA Approval")),
            ("echa_approved", Some("Transfer to RGE")),
            ("transferred_to_rge", Some("Manufacturing Start")),
            ("manufacturing_started", Some("Manufacturing Complete")),
            ("manufacturing_complete", Some("Return to LEGO")),
            ("returned_to_lego", Some("Complete Campaign")),
            ("completed", None),
        ];
        for (status, (name, next)) in CampaignStatus::ALL.into_iter().zip(expected) {
            assert_eq!(status.as_str(), name);
            assert_eq!(serde_json::to_value(status).unwrap(), name);
            assert_eq!(CampaignStatus::parse(name), Some(status));
            assert_eq!(status.next_expected_step(), next);
            assert_eq!(status.reached_by().target_status(), Some(status));
        }
    }

    /// Stores of every shipped version keep these codes in their recorded steps and flows: a
    /// status added to the registry takes a new code wherever it goes in the progression.
    #[test]
    fn shipped_statuses_keep_their_codes() {
        let shipped = [
            ("created", 0),
            ("inbound_shipment_recorded", 1),
            ("granulation_complete", 2),
            ("metal_removal_complete", 3),
            ("polymer_purification_complete", 4),
            ("extrusion_complete", 5),
            ("echa_approved", 6),
            ("transferred_to_rge", 7),
            ("manufacturing_started", 8),
            ("manufacturing_complete", 9),
            ("returned_to_lego", 10),
            ("completed", 11),
        ];
        for (name, code) in shipped {
            let status = CampaignStatus::parse(name).unwrap();
            assert_eq!(status.code(), code, "{name}");
            assert_eq!(CampaignStatus::from_code(code), Some(status));
        }
        let codes: std::collections::HashSet<u8> = CampaignStatus::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes.len(), CampaignStatus::ALL.len(), "no two statuses share a code");
        assert_eq!(CampaignStatus::from_code(31), None);
    }

    #[test]
    fn statuses_are_grouped_by_where_the_material_is() {
        let tones: Vec<Tone> = CampaignStatus::ALL.iter().map(|s| s.tone()).collect();
        use Tone::*;
        assert_eq!(tones, [Start, Mba, Mba, Mba, Mba, Gate, Rge, Rge, Rge, Rge, Done, Done]);
        let symbols: std::collections::HashSet<&str> = Tone::ALL.iter().map(|t| t.symbol()).collect();
        assert_eq!(symbols.len(), Tone::ALL.len(), "every tone has a symbol of its own");
        assert_eq!(CampaignStatus::ExtrusionComplete.label(), "Extrusion complete (awaiting ECHA)");
    }
}
