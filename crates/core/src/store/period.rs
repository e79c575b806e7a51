//! The period mass balance over the stored campaigns (see [`crate::period`]).

use super::{Result, Store, StoreError};
use crate::audit::Selection;
use crate::ids::CampaignId;
use crate::payload::MaterialType;
use crate::period::{CampaignRef, Period, PeriodReport, PeriodReportBuilder, Scope};

impl Store {
    /// The mass balance of `period` over the campaigns in `scope`, read from the projections
    /// (one row per campaign that has a step).
    pub fn period_report(&self, period: Period, scope: Scope) -> Result<PeriodReport> {
        let corrupt = |column: &str, e: &dyn std::fmt::Display| {
            StoreError::Corrupt(format!("campaign_projections.{column}: {e}"))
        };
        let mut report = PeriodReportBuilder::new(period, scope);
        let mut stmt = self.conn.prepare(
            "SELECT id, lego_campaign_code, material_type, flows FROM campaign_projections
             WHERE flows IS NOT NULL AND (?1 IS NULL OR material_type = ?1) ORDER BY id",
        )?;
        let mut rows = stmt.query([scope.material.map(MaterialType::as_str)])?;
        while let Some(row) = rows.next()? {
            let id = row.get_ref(0)?.as_str().map_err(|e| corrupt("id", &e))?;
            let id = CampaignId::parse(id).map_err(|e| corrupt("id", &e))?;
            let material = match row.get_ref(2)?.as_str_or_null().map_err(|e| corrupt("material_type", &e))? {
                Some(m) => Some(MaterialType::parse(m).ok_or_else(|| corrupt("material_type", &m))?),
                None => None,
            };
            let flows = super::rows::stored_flows(row, 3)?.unwrap_or_default();
            report.add(CampaignRef { id, code: row.get(1)?, material }, &flows);
        }
        Ok(report.finish())
    }
}

impl Store {
    /// The fingerprint of a campaign's events: the head of the hash chain that an audit export of
    /// the campaign (`pluto export --audit --campaign …`) writes in its manifest, so that a
    /// printed record can be matched to a verifiable file.
    pub fn custody_fingerprint(&mut self, campaign: &CampaignId) -> Result<String> {
        let selection = Selection { campaigns: Some(vec![campaign.to_string()]), ..Selection::default() };
        Ok(self.export_audit(&selection, std::io::sink())?.chain)
    }
}
