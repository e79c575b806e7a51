//! The words, order and tones the desktop app shows for statuses and materials, sent to the UI
//! once so that it keeps no copy of the domain's vocabulary.

use serde::Serialize;

use crate::ids::{CampaignId, DeviceId, EventId};
use crate::registry::fields::MaterialType;
use crate::registry::status::Tone;
use crate::registry::{CampaignStatus, EventType};

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

/// The words of `text` that only a developer reads: ids (`evt_…`, `cmp_…`, `dev_…`, `usr_…`),
/// event type names (`GranulationCompleted`), field names (`netWeightKg`) and stored codes
/// (`granulation_complete`, `skipped_steps`). What the window, the documents and the messages show a coordinator holds
/// none of them unless asked for (a "Details" disclosure); tests check what is shown with it.
/// File paths and addresses (anything with a slash) are the machine's names, not the code's, and
/// are left out.
pub fn developer_words(text: &str) -> Vec<&str> {
    let id_prefixes = [CampaignId::PREFIX, EventId::PREFIX, DeviceId::PREFIX, "usr_"];
    text.split_whitespace()
        .filter(|chunk| !chunk.contains(['/', '\\']))
        .flat_map(|chunk| chunk.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|word| {
            let id = id_prefixes.iter().any(|p| word.len() > p.len() && word.starts_with(p));
            let code = word.contains('_')
                && word.starts_with(|c: char| c.is_ascii_lowercase())
                && !word.ends_with('_')
                && word.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            let field = word.starts_with(|c: char| c.is_ascii_lowercase())
                && word.contains(|c: char| c.is_ascii_uppercase())
                && word.chars().all(|c| c.is_ascii_alphanumeric());
            id || code || field || EventType::ALL.iter().any(|t| t.as_str() == *word)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn developer_words_are_ids_type_names_and_codes() {
        let event = EventId::generate(std::time::SystemTime::now());
        let text = format!(
            "Granulation of 3 Dec by Ana Jensen ({event}); GranulationCompleted, skipped_steps and \
             granulation_complete; usr_ana.jensen; netWeightKg; a 4 060,2 kg net weight, well_ no: _x; \
             saved to /tmp/tmpwmgtAR/custody_LEGO.pdf or C:\\Users\\ana\\pluto_db at http://127.0.0.1/v1/x_y"
        );
        let found = developer_words(&text);
        assert_eq!(
            found,
            [
                event.as_str(),
                "GranulationCompleted",
                "skipped_steps",
                "granulation_complete",
                "usr_ana",
                "netWeightKg"
            ]
        );
        assert!(developer_words("Granulation complete · Skipped steps · Metal Removal, 12 %").is_empty());
    }
}
