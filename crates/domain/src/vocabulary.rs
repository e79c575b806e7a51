//! The words, order and tones the desktop app shows for statuses and materials, sent to the UI
//! once so that it keeps no copy of the domain's vocabulary.

use serde::Serialize;

use crate::registry::fields::MaterialType;
use crate::registry::status::Tone;
use crate::registry::CampaignStatus;

/// Everything the UI names.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Vocabulary {
    /// Every status, in progression order.
    pub statuses: Vec<StatusTerm>,
    /// Every tone, in the order of the chain.
    pub tones: Vec<ToneTerm>,
    /// Every material.
    pub materials: Vec<MaterialTerm>,
}

/// How a status is shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StatusTerm {
    /// The status.
    pub status: CampaignStatus,
    /// Its name in lists and filters (`Granulation complete`).
    pub label: String,
    /// The step that reaches it (`Granulation`).
    pub step_label: String,
    /// Where in the chain it is.
    pub tone: Tone,
}

/// How a tone is shown besides its colour.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ToneTerm {
    /// The tone.
    pub tone: Tone,
    /// Its symbol.
    pub symbol: String,
    /// What it means.
    pub words: String,
}

/// How a material is shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MaterialTerm {
    /// The material (`PI`).
    pub material: MaterialType,
    /// What it stands for (`Post-Industrial`).
    pub label: String,
}

impl Vocabulary {
    /// The vocabulary of this build.
    pub fn current() -> Vocabulary {
        Vocabulary {
            statuses: CampaignStatus::ALL
                .iter()
                .map(|&status| StatusTerm {
                    status,
                    label: status.label().to_owned(),
                    step_label: status.step_label().to_owned(),
                    tone: status.tone(),
                })
                .collect(),
            tones: Tone::ALL
                .iter()
                .map(|&tone| ToneTerm {
                    tone,
                    symbol: tone.symbol().to_owned(),
                    words: tone.words().to_owned(),
                })
                .collect(),
            materials: MaterialType::ALL
                .iter()
                .map(|&material| MaterialTerm { material, label: material.label().to_owned() })
                .collect(),
        }
    }
}
