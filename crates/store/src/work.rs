//! The home screen's question, "what is waiting for my site?": campaigns per stage, the ones
//! whose next step the site records (stalled first, then the longest waiting), and the ones with
//! anomalies to review. Everything is read from the projections through indexes (migration 7),
//! so the answer takes the same few milliseconds over ten campaigns or a hundred thousand.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::query::{summary, CampaignSummary, SUMMARY_COLUMNS, SUMMARY_COLUMN_COUNT};
use super::{Result, Store};
use crate::meta::{get_meta, set_meta};
use pluto_domain::anomaly::Anomaly;
use pluto_domain::field::FieldError;
use pluto_domain::refusal::Refusal;
use pluto_domain::registry::{CampaignStatus, EventType};
use pluto_domain::time::Timestamp;

const STALL_THRESHOLDS: &str = "stall_thresholds";
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// The longest threshold a coordinator can set, in days.
pub const MAX_STALL_DAYS: u32 = 365;

/// After how many days in a stage a campaign counts as stalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StallThreshold {
    /// The stage (the status a campaign waits in).
    pub status: CampaignStatus,
    /// Days in it before the campaign is stalled.
    pub days: u32,
}

/// The default days before a campaign waiting in `status` is stalled: the registry's due days
/// of the step it waits for ([`EventType::default_due_days`]). `None` for the last status, where
/// nothing waits.
fn default_stall_days(status: CampaignStatus) -> Option<u32> {
    status.next_event_type()?.default_due_days()
}

/// One stage of the home screen's overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StageCount {
    /// The status campaigns wait in.
    pub status: CampaignStatus,
    /// How many campaigns are at it.
    pub count: u64,
    /// How many of them have waited longer than its threshold.
    pub stalled: u64,
    /// Its threshold in days (`None` for the last status).
    pub stalled_after_days: Option<u32>,
    /// Whether the step that follows it is this site's to record.
    pub mine: bool,
}

/// A campaign on the home screen, with how long it has waited.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct WorkItem {
    /// The campaign as the list shows it.
    pub campaign: CampaignSummary,
    /// Whole days since it reached its current status.
    pub days_in_stage: u32,
    /// Whether it has waited longer than the stage's threshold.
    pub stalled: bool,
}

/// What is waiting for a site.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Work {
    /// Every status in order, with its campaigns.
    pub stages: Vec<StageCount>,
    /// The campaigns whose next step the site records: stalled first, then longest waiting.
    pub waiting: Vec<WorkItem>,
    /// How many campaigns wait for the site in all.
    pub waiting_total: u64,
    /// How many of those are stalled.
    pub stalled_total: u64,
    /// Anomalies nobody has reviewed, on the most recently changed campaigns first.
    pub anomalies: Vec<OpenAnomaly>,
    /// How many anomalies wait for review in all.
    pub anomalies_total: u64,
}

/// An anomaly waiting for review, with its campaign: a line of the anomalies list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct OpenAnomaly {
    /// The campaign as the list shows it.
    pub campaign: CampaignSummary,
    /// The anomaly.
    pub anomaly: Anomaly,
    /// What the entry it is about records (`Granulation`).
    pub entry_label: String,
    /// How a coordinator resolves it.
    pub remedy: String,
}

impl Store {
    /// The anomalies nobody has reviewed, across campaigns, the most recently changed campaigns
    /// first: at most `limit`.
    pub fn open_anomalies(&self, limit: u32) -> Result<Vec<OpenAnomaly>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS}, anomalies FROM campaign_projections WHERE anomaly_count > 0
             ORDER BY updated_at DESC, id DESC LIMIT ?1"
        ))?;
        let mut rows = stmt.query([limit])?;
        let mut open = Vec::new();
        while let Some(row) = rows.next()? {
            let campaign = summary(row)?;
            let text: String = row.get(SUMMARY_COLUMN_COUNT)?;
            let anomalies: Vec<Anomaly> = serde_json::from_str(&text)
                .map_err(|e| super::StoreError::Corrupt(format!("anomalies of {}: {e}", campaign.id)))?;
            for anomaly in anomalies.into_iter().filter(Anomaly::is_open) {
                open.push(OpenAnomaly {
                    campaign: campaign.clone(),
                    entry_label: anomaly.event_type.label().to_owned(),
                    remedy: anomaly.kind.remedy().to_owned(),
                    anomaly,
                });
            }
            if open.len() >= limit as usize {
                break;
            }
        }
        open.truncate(limit as usize);
        Ok(open)
    }

    /// The stall thresholds of every status a campaign can wait in: the coordinator's, where set,
    /// else the defaults.
    pub fn stall_thresholds(&self) -> Result<Vec<StallThreshold>> {
        // Stored as status name → days; names this build does not know are ignored.
        let saved: BTreeMap<String, u32> = get_meta(&self.conn, STALL_THRESHOLDS)?
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        Ok(CampaignStatus::ALL
            .iter()
            .filter_map(|&status| {
                let default = default_stall_days(status)?;
                let days = saved.get(status.as_str()).copied().unwrap_or(default);
                Some(StallThreshold { status, days })
            })
            .collect())
    }

    /// Saves stall thresholds (the ones not given keep theirs). Each must be 1 to
    /// [`MAX_STALL_DAYS`] days, for a status a campaign can wait in.
    pub fn set_stall_thresholds(&mut self, thresholds: &[StallThreshold]) -> Result<()> {
        let mut saved: BTreeMap<String, u32> =
            self.stall_thresholds()?.into_iter().map(|t| (t.status.as_str().to_owned(), t.days)).collect();
        for t in thresholds {
            let field = format!("stallDays.{}", t.status.as_str());
            if default_stall_days(t.status).is_none() {
                let message = format!("nothing waits at {}, so it has no threshold", t.status.label());
                return Err(Refusal::Field(FieldError::new(field, message)).into());
            }
            if !(1..=MAX_STALL_DAYS).contains(&t.days) {
                let message =
                    format!("{} days: enter a whole number of days from 1 to {MAX_STALL_DAYS}", t.days);
                return Err(Refusal::Field(FieldError::new(field, message)).into());
            }
            saved.insert(t.status.as_str().to_owned(), t.days);
        }
        let text = serde_json::to_string(&saved).map_err(|e| super::StoreError::Corrupt(e.to_string()))?;
        set_meta(&self.conn, STALL_THRESHOLDS, Some(&text))
    }

    /// What is waiting for a site that records `site_steps`, as of `now`: at most `limit`
    /// campaigns in each list.
    pub fn work(&self, site_steps: &[EventType], now: Timestamp, limit: u32) -> Result<Work> {
        let thresholds: BTreeMap<CampaignStatus, u32> =
            self.stall_thresholds()?.into_iter().map(|t| (t.status, t.days)).collect();
        let cutoff = |status: CampaignStatus| {
            thresholds
                .get(&status)
                .map(|days| Timestamp::from_millis(now.millis() - i64::from(*days) * DAY_MS))
        };
        let mut counts = self.conn.prepare_cached("SELECT status, n FROM campaign_status_counts")?;
        let counts: BTreeMap<String, i64> =
            counts.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
        let mut stalled_count = self.conn.prepare_cached(
            "SELECT COUNT(*) FROM campaign_projections WHERE status = ?1 AND status_since < ?2",
        )?;
        let mut stages = Vec::new();
        for &status in &CampaignStatus::ALL {
            let count = counts.get(status.as_str()).copied().unwrap_or(0);
            let stalled: i64 = match cutoff(status) {
                Some(cutoff) if count > 0 => stalled_count
                    .query_row(rusqlite::params![status.as_str(), cutoff.to_string()], |r| r.get(0))?,
                _ => 0,
            };
            stages.push(StageCount {
                status,
                count: u64::try_from(count).unwrap_or(0),
                stalled: u64::try_from(stalled).unwrap_or(0),
                stalled_after_days: thresholds.get(&status).copied(),
                mine: status.next_event_type().is_some_and(|t| site_steps.contains(&t)),
            });
        }
        let item = |campaign: CampaignSummary| -> WorkItem {
            let since = Timestamp::parse(&campaign.status_since).map_or(now.millis(), |t| t.millis());
            let days_in_stage = u32::try_from((now.millis() - since).max(0) / DAY_MS).unwrap_or(u32::MAX);
            let stalled = cutoff(campaign.status).is_some_and(|c| since < c.millis());
            WorkItem { campaign, days_in_stage, stalled }
        };
        // Each stage's longest waiting come from its own index range; merged, the stalled first.
        let mut oldest = self.conn.prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM campaign_projections WHERE status = ?1
             ORDER BY status_since, id LIMIT ?2"
        ))?;
        let mut waiting = Vec::new();
        for stage in stages.iter().filter(|s| s.mine && s.count > 0) {
            let rows = oldest.query_map(rusqlite::params![stage.status.as_str(), limit], summary)?;
            for row in rows {
                waiting.push(item(row?));
            }
        }
        waiting.sort_by(|a, b| {
            (!a.stalled, &a.campaign.status_since, &a.campaign.id).cmp(&(
                !b.stalled,
                &b.campaign.status_since,
                &b.campaign.id,
            ))
        });
        waiting.truncate(limit as usize);
        let mine = stages.iter().filter(|s| s.mine);
        let (waiting_total, stalled_total) =
            mine.fold((0, 0), |(w, s), stage| (w + stage.count, s + stage.stalled));
        let anomalies = self.open_anomalies(limit)?;
        let anomalies_total: i64 = self
            .conn
            .prepare_cached(
                "SELECT COALESCE(SUM(anomaly_count), 0) FROM campaign_projections WHERE anomaly_count > 0",
            )?
            .query_row([], |r| r.get(0))?;
        Ok(Work {
            stages,
            waiting,
            waiting_total,
            stalled_total,
            anomalies,
            anomalies_total: u64::try_from(anomalies_total).unwrap_or(0),
        })
    }
}
