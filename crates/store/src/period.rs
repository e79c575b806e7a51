//! What the period mass balance reads from the store: each campaign's flows, one row per
//! campaign, so that a report over 100,000 campaigns folds no event.

use pluto_domain::flows::Flows;
use pluto_domain::{CampaignId, MaterialType};

use crate::Store;

use crate::StoreError;

/// A campaign's flows, with what a report names it by.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignFlows {
    /// The campaign.
    pub id: CampaignId,
    /// Its LEGO campaign code.
    pub code: Option<String>,
    /// Its material, when its creation is known.
    pub material: Option<MaterialType>,
    /// What its steps moved, and the corrections and voids that changed them.
    pub flows: Flows,
}

impl Store {
    /// Gives `each` the flows of every campaign that has a step (of `material`, or of either),
    /// in campaign id order.
    pub fn each_campaign_flows<E: From<StoreError>>(
        &self,
        material: Option<MaterialType>,
        mut each: impl FnMut(CampaignFlows) -> Result<(), E>,
    ) -> Result<(), E> {
        let corrupt = |column: &str, e: &dyn std::fmt::Display| {
            StoreError::Corrupt(format!("campaign_projections.{column}: {e}"))
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, lego_campaign_code, material_type, flows FROM campaign_projections
                 WHERE flows IS NOT NULL AND (?1 IS NULL OR material_type = ?1) ORDER BY id",
            )
            .map_err(StoreError::from)?;
        let mut rows = stmt.query([material.map(MaterialType::as_str)]).map_err(StoreError::from)?;
        while let Some(row) = rows.next().map_err(StoreError::from)? {
            let id = row.get_ref(0).map_err(StoreError::from)?.as_str().map_err(|e| corrupt("id", &e))?;
            let id = CampaignId::parse(id).map_err(|e| corrupt("id", &e))?;
            let material = row.get_ref(2).map_err(StoreError::from)?;
            let material = match material.as_str_or_null().map_err(|e| corrupt("material_type", &e))? {
                Some(m) => Some(MaterialType::parse(m).ok_or_else(|| corrupt("material_type", &m))?),
                None => None,
            };
            let flows = crate::rows::stored_flows(row, 3)?.unwrap_or_default();
            each(CampaignFlows { id, code: row.get(1).map_err(StoreError::from)?, material, flows })?;
        }
        Ok(())
    }
}
