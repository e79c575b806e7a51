//! Why a new entry is refused. Every refusal says what was wrong and what is expected instead;
//! [`Refusal::field`] names the field a form should show it beside.

use serde::Serialize;

use crate::field::FieldError;
use crate::ids::CampaignId;
use crate::registry::{CampaignStatus, EventType};

/// A refused entry. Nothing is recorded when an entry is refused.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[serde(tag = "type", content = "data", rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Refusal {
    /// A field's value breaks a rule.
    #[error("{0}")]
    Field(FieldError),
    /// The step is not the one the campaign expects next.
    #[error("{}", out_of_order_words(*event_type, *status, *next_event_type))]
    #[serde(rename_all = "camelCase")]
    OutOfOrder {
        /// The campaign.
        campaign_id: CampaignId,
        /// What was attempted.
        event_type: EventType,
        /// Where the campaign stands.
        status: CampaignStatus,
        /// What it expects next, if anything.
        next_event_type: Option<EventType>,
    },
    /// Material cannot go to RGE before ECHA approval.
    #[error(
        "Transfer to RGE cannot be recorded yet: ECHA testing must approve the material before it moves to RGE; \
         this campaign is at “{}”, and {}",
        status.label(),
        next_step_phrase(*next_event_type)
    )]
    #[serde(rename_all = "camelCase")]
    EchaGate {
        /// The campaign.
        campaign_id: CampaignId,
        /// Where the campaign stands.
        status: CampaignStatus,
        /// What it expects next.
        next_event_type: Option<EventType>,
    },
    /// The campaign is closed.
    #[error(
        "{} cannot be recorded: this campaign is completed; only corrections and voids can be recorded now",
        event_type.label()
    )]
    #[serde(rename_all = "camelCase")]
    Completed {
        /// The campaign.
        campaign_id: CampaignId,
        /// What was attempted.
        event_type: EventType,
    },
    /// `CampaignCreated` on a stream that already has events.
    #[error("campaign {0} already exists; a campaign is created once (correct its code, material or description instead)")]
    AlreadyCreated(CampaignId),
    /// No such campaign in this database.
    #[error("no campaign {0} in this database")]
    UnknownCampaign(CampaignId),
    /// The sync server's site policy does not let this laptop's site record the type (the
    /// server would refuse it with the same words).
    #[error("{message}: the sync server's site policy lets site {site} record {allowed}")]
    #[serde(rename_all = "camelCase")]
    NotThisSite {
        /// The site the server knows this laptop's token by.
        site: String,
        /// The refusal, naming the rule (`site RGE may not record Granulation`).
        message: String,
        /// What the site may record, in words (step labels).
        allowed: String,
    },
    /// The entry would leave the campaign with a new anomaly (caught by replaying it).
    #[error("{message}")]
    #[serde(rename_all = "camelCase")]
    Inconsistent {
        /// The field to show it beside, when one is to blame.
        field: Option<String>,
        /// What is inconsistent.
        message: String,
    },
}

/// "the next step is Inbound Shipment", in words a coordinator uses.
fn next_step_phrase(next: Option<EventType>) -> String {
    match next.and_then(EventType::target_status) {
        Some(status) => format!("the next step is {}", status.step_label()),
        None => "no further step is expected".to_owned(),
    }
}

/// Why a step is not the one a campaign at `status` expects: recorded already, or not yet.
fn out_of_order_words(event_type: EventType, status: CampaignStatus, next: Option<EventType>) -> String {
    let label = event_type.label();
    match event_type.target_status() {
        Some(target) if target.rank() <= status.rank() => format!(
            "{label} is already recorded on this campaign (it is at “{}”); correct or void that entry instead of \
             recording it again",
            status.label()
        ),
        _ => format!(
            "{label} cannot be recorded yet: this campaign is at “{}”, and {}",
            status.label(),
            next_step_phrase(next)
        ),
    }
}

impl Refusal {
    /// The field a form should show this refusal beside, if one is to blame.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Field(e) => Some(&e.field),
            Self::Inconsistent { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

impl From<FieldError> for Refusal {
    fn from(e: FieldError) -> Self {
        Self::Field(e)
    }
}
