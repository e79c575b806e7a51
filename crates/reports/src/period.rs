//! The period mass balance: what came in, what was lost, what left as parts and what was still
//! in process, over any period, across campaigns, per material and per site.
//!
//! Every step is placed on the day it took place (the date its entry states, else the day it was
//! recorded, and never before the step it follows). A period's figures are the steps placed
//! within it, with every correction and void known today applied: a correction recorded after a
//! period closed restates that period, and the report lists it. Opening and closing quantities
//! in process are the balance of everything placed before the period and up to its end, so for
//! any site, `opening + in − lost − out = closing`, and the periods of a year add up to the
//! year.
//!
//! The store keeps what this needs of each campaign (its [`Flows`]) in its projection, so that a
//! report over 100,000 campaigns reads one row per campaign instead of folding every event
//! ([`report`]).

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use pluto_domain::flows::{Amendment, AmendmentKind, Flows};
use pluto_domain::ids::CampaignId;
use pluto_domain::quantity::serialize_tenths;
use pluto_domain::registry::fields::MaterialType;
use pluto_domain::registry::CampaignStatus;
use pluto_domain::time::{IsoDate, Timestamp};
use pluto_store::{Store, StoreError};

/// A site that holds material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
// The app has a `Site` of its own (where a laptop works, LEGO included); the container's name
// only names the generated TypeScript type, JSON never carries it.
#[serde(rename = "BalanceSite")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Site {
    /// MBA: receives the material, granulates, removes metal, purifies and extrudes it.
    #[serde(rename = "MBA")]
    Mba,
    /// RGE: receives the extruded material and makes parts of it.
    #[serde(rename = "RGE")]
    Rge,
}

impl Site {
    /// `MBA` or `RGE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Site::Mba => "MBA",
            Site::Rge => "RGE",
        }
    }

    /// Reads `MBA` or `RGE` (any case).
    pub fn parse(s: &str) -> Option<Site> {
        match s.to_ascii_uppercase().as_str() {
            "MBA" => Some(Site::Mba),
            "RGE" => Some(Site::Rge),
            _ => None,
        }
    }
}

/// What a line of the report is, and how it enters the balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Measure {
    /// Inbound net weight received at MBA (in).
    ReceivedAtMba,
    /// A processing step's starting weight below the weight before it (lost).
    HandlingLoss(CampaignStatus),
    /// A processing step's starting weight minus its output (lost).
    ProcessLoss(CampaignStatus),
    /// A processing step's output (shown, not in the balance).
    Output(CampaignStatus),
    /// Material shipped from MBA to RGE (out of MBA; within the chain otherwise).
    ShippedToRge,
    /// Material received at RGE (into RGE; within the chain otherwise).
    ReceivedAtRge,
    /// Shipped weight RGE did not receive (lost).
    TransitLoss,
    /// Material made into parts when manufacturing completed (out).
    MadeIntoParts,
    /// Parts ordered (PO quantity), counted when manufacturing started.
    PartsOrdered,
    /// Parts made.
    PartsMade,
    /// Parts returned to LEGO.
    PartsReturned,
}

/// How a measure enters a site's balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Role {
    /// Adds to what is in process.
    In,
    /// Lost: subtracts.
    Lost,
    /// Leaves the site or the chain: subtracts.
    Out,
    /// Shown for information (step outputs, movements within the chain, parts).
    Info,
}

impl Measure {
    /// Words for the report.
    pub fn label(self) -> String {
        match self {
            Measure::ReceivedAtMba => "Received at MBA (inbound net weight)".into(),
            Measure::HandlingLoss(s) => format!("Handling loss before {}", s.step_label()),
            Measure::ProcessLoss(s) => format!("Process loss in {}", s.step_label()),
            Measure::Output(s) => format!("Output of {}", s.step_label()),
            Measure::ShippedToRge => "Shipped to RGE".into(),
            Measure::ReceivedAtRge => "Received at RGE".into(),
            Measure::TransitLoss => "Loss in transit to RGE".into(),
            Measure::MadeIntoParts => "Made into parts".into(),
            Measure::PartsOrdered => "Parts ordered (PO quantity)".into(),
            Measure::PartsMade => "Parts made".into(),
            Measure::PartsReturned => "Parts returned to LEGO".into(),
        }
    }

    /// Where it comes in the chain: by step, and within a step in, lost, out.
    fn chain_order(self) -> (usize, u8) {
        use CampaignStatus as S;
        match self {
            Measure::ReceivedAtMba => (S::InboundShipmentRecorded.rank(), 0),
            Measure::HandlingLoss(s) => (s.rank(), 1),
            Measure::ProcessLoss(s) => (s.rank(), 2),
            Measure::Output(s) => (s.rank(), 3),
            Measure::ShippedToRge => (S::TransferredToRge.rank(), 0),
            Measure::ReceivedAtRge => (S::TransferredToRge.rank(), 1),
            Measure::TransitLoss => (S::TransferredToRge.rank(), 2),
            Measure::PartsOrdered => (S::ManufacturingStarted.rank(), 0),
            Measure::MadeIntoParts => (S::ManufacturingComplete.rank(), 0),
            Measure::PartsMade => (S::ManufacturingComplete.rank(), 1),
            Measure::PartsReturned => (S::ReturnedToLego.rank(), 0),
        }
    }

    /// Whether it counts parts (else kilograms).
    pub fn is_parts(self) -> bool {
        matches!(self, Measure::PartsOrdered | Measure::PartsMade | Measure::PartsReturned)
    }

    /// The site where it happens.
    pub fn site(self) -> Site {
        match self {
            Measure::ReceivedAtMba
            | Measure::HandlingLoss(_)
            | Measure::ProcessLoss(_)
            | Measure::Output(_)
            | Measure::ShippedToRge => Site::Mba,
            Measure::ReceivedAtRge
            | Measure::TransitLoss
            | Measure::MadeIntoParts
            | Measure::PartsOrdered
            | Measure::PartsMade
            | Measure::PartsReturned => Site::Rge,
        }
    }

    /// How it enters the balance of `site` (`None`: the whole chain); `None` when it is not
    /// part of that report.
    pub fn role(self, site: Option<Site>) -> Option<Role> {
        if site.is_some_and(|s| s != self.site()) {
            return None;
        }
        Some(match self {
            Measure::ReceivedAtMba => Role::In,
            Measure::HandlingLoss(_) | Measure::ProcessLoss(_) => Role::Lost,
            // RGE's balance starts from what it received; the chain's counts the transport.
            Measure::TransitLoss if site.is_none() => Role::Lost,
            Measure::ShippedToRge if site == Some(Site::Mba) => Role::Out,
            Measure::ReceivedAtRge if site == Some(Site::Rge) => Role::In,
            Measure::MadeIntoParts => Role::Out,
            Measure::Output(_)
            | Measure::ShippedToRge
            | Measure::ReceivedAtRge
            | Measure::TransitLoss
            | Measure::PartsOrdered
            | Measure::PartsMade
            | Measure::PartsReturned => Role::Info,
        })
    }
}

/// One dated quantity of one campaign.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Movement {
    /// The day it is placed on.
    pub day: IsoDate,
    /// What it is.
    pub measure: Measure,
    /// Kilograms, or parts for [`Measure::is_parts`].
    pub amount: f64,
}

/// The dated quantities of a campaign's steps. Each step is placed no earlier than the step
/// before it, so that material is never lost or shipped before it arrived.
pub fn movements(flows: &Flows) -> Vec<Movement> {
    let mut out = Vec::new();
    let mut day = None::<IsoDate>;
    // The weight of the material after the latest step that weighed it.
    let mut held = None::<f64>;
    let mut push = |day: IsoDate, measure: Measure, amount: f64| {
        if amount != 0.0 {
            out.push(Movement { day, measure, amount });
        }
    };
    for s in &flows.steps {
        let on = day.map_or(s.day, |d| d.max(s.day));
        day = Some(on);
        match s.step {
            CampaignStatus::InboundShipmentRecorded => {
                if let Some(net) = s.kg_out {
                    push(on, Measure::ReceivedAtMba, net);
                    held = Some(net);
                }
            }
            CampaignStatus::TransferredToRge => {
                let Some(shipped) = held else { continue };
                push(on, Measure::ShippedToRge, shipped);
                let arrived = s.received_on.map_or(on, |r| r.max(on));
                let received = s.kg_in.unwrap_or(shipped);
                push(arrived, Measure::ReceivedAtRge, received);
                push(arrived, Measure::TransitLoss, shipped - received);
                held = Some(received);
            }
            CampaignStatus::ManufacturingStarted => {
                push(on, Measure::PartsOrdered, s.parts.map_or(0.0, f64::from));
            }
            CampaignStatus::ManufacturingComplete => {
                push(on, Measure::PartsMade, s.parts.map_or(0.0, f64::from));
                if let Some(kg) = held.take() {
                    push(on, Measure::MadeIntoParts, kg);
                }
            }
            CampaignStatus::ReturnedToLego => {
                push(on, Measure::PartsReturned, s.parts.map_or(0.0, f64::from));
            }
            // Any other step that weighs what it takes in and what it puts out processes the
            // material (MBA's four steps, and any the registry adds); the rest move nothing.
            _ => {
                let (Some(start), Some(output)) = (s.kg_in, s.kg_out) else { continue };
                match held {
                    Some(before) => push(on, Measure::HandlingLoss(s.step), before - start),
                    // Material no inbound entry brought in: it enters here.
                    None => push(on, Measure::ReceivedAtMba, start),
                }
                push(on, Measure::ProcessLoss(s.step), start - output);
                push(on, Measure::Output(s.step), output);
                held = Some(output);
            }
        }
    }
    out
}

/// A period: its first and last day, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Period {
    /// First day.
    pub from: IsoDate,
    /// Last day.
    pub to: IsoDate,
}

/// Why a period cannot be reported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// The last day is before the first.
    #[error("the period ends ({to}) before it starts ({from}); give --to on or after --from")]
    Backwards {
        /// First day given.
        from: IsoDate,
        /// Last day given.
        to: IsoDate,
    },
    /// A quarter that is not `YYYY-Q1` … `YYYY-Q4`.
    #[error("quarter: expected YYYY-Q1 to YYYY-Q4 (e.g. 2026-Q1), got {0:?}")]
    Quarter(String),
}

impl Period {
    /// The period from `from` to `to`, both included.
    pub fn new(from: IsoDate, to: IsoDate) -> Result<Period, PeriodError> {
        if to < from {
            return Err(PeriodError::Backwards { from, to });
        }
        Ok(Period { from, to })
    }

    /// A calendar quarter written `2026-Q1` (or `2026Q1`, any case).
    pub fn quarter(text: &str) -> Result<Period, PeriodError> {
        let bad = || PeriodError::Quarter(text.to_owned());
        let upper = text.trim().to_ascii_uppercase();
        let (year, q) = upper.split_once('Q').ok_or_else(bad)?;
        let year: i32 = year.trim_end_matches('-').parse().map_err(|_| bad())?;
        let q: u32 = q.parse().map_err(|_| bad())?;
        if !(1..=4).contains(&q) {
            return Err(bad());
        }
        let first = NaiveDate::from_ymd_opt(year, 3 * q - 2, 1).ok_or_else(bad)?;
        let next = if q == 4 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(year, 3 * q + 1, 1)
        }
        .ok_or_else(bad)?;
        Ok(Period { from: IsoDate(first), to: IsoDate(next - Duration::days(1)) })
    }

    /// The quarter that holds `day`.
    pub fn quarter_of(day: IsoDate) -> Period {
        let q = (day.0.month() - 1) / 3 + 1;
        Period::quarter(&format!("{}-Q{q}", day.0.year())).expect("a date's quarter exists")
    }

    /// Whether `at` was recorded after the period's last day, in the sites' calendar
    /// ([`pluto_domain::time::SITE_TIME_ZONE`]).
    fn closed_before(&self, at: Timestamp) -> bool {
        at.site_day() > self.to
    }
}

/// Which campaigns a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Scope {
    /// Only this material; `None`: both.
    pub material: Option<MaterialType>,
    /// Only this site's balance; `None`: the whole chain.
    pub site: Option<Site>,
}

/// A campaign a report draws on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CampaignRef {
    /// Its id.
    pub id: CampaignId,
    /// LEGO's code, when known.
    pub code: Option<String>,
    /// Its material, when known.
    pub material: Option<MaterialType>,
}

impl CampaignRef {
    /// How a report names it: LEGO's code, or its id while no code is known.
    pub fn name(&self) -> &str {
        self.code.as_deref().unwrap_or(self.id.as_str())
    }
}

/// One campaign's share of a figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Share {
    /// Index into [`PeriodReport::campaigns`].
    pub campaign: u32,
    /// Its amount.
    #[serde(serialize_with = "serialize_tenths")]
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub amount: f64,
}

/// A figure of the report and the campaigns behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Figure {
    /// The sum.
    #[serde(serialize_with = "serialize_tenths")]
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub total: f64,
    /// Each campaign's part, largest first.
    pub campaigns: Vec<Share>,
}

impl Figure {
    fn from_shares(shares: BTreeMap<u32, f64>) -> Figure {
        let mut campaigns: Vec<Share> = shares
            .into_iter()
            .filter(|(_, a)| *a != 0.0)
            .map(|(campaign, amount)| Share { campaign, amount })
            .collect();
        campaigns.sort_by(|a, b| b.amount.abs().total_cmp(&a.amount.abs()).then(a.campaign.cmp(&b.campaign)));
        // Folded from +0.0: an empty `sum` of floats is -0.0, which prints as "-0.0".
        Figure { total: campaigns.iter().fold(0.0, |total, s| total + s.amount), campaigns }
    }
}

/// A line of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Line {
    /// What it measures.
    pub measure: Measure,
    /// In words.
    pub label: String,
    /// How it enters the balance.
    pub role: Role,
    /// Whether it counts parts (else kilograms).
    pub parts: bool,
    /// The figure.
    pub figure: Figure,
}

/// A correction, void or late entry recorded after the period closed that restates it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Restatement {
    /// Index into [`PeriodReport::campaigns`].
    pub campaign: u32,
    /// The step's label.
    pub step: String,
    /// The correction, void or late entry.
    pub amendment: Amendment,
}

impl Restatement {
    /// What happened to the step, in words, with `when` it was recorded and days written by
    /// `date`: "recorded late on 3 Apr 2026 10:15, for 31 Mar 2026", "corrected on … (its day
    /// moved from 31 Mar 2026 to 1 Apr 2026)".
    pub fn change_words(&self, when: &str, date: impl Fn(IsoDate) -> String) -> String {
        let a = &self.amendment;
        let mut words = format!("{} on {when}", a.kind.words());
        if a.kind == AmendmentKind::RecordedLate {
            words.push_str(&format!(", for {}", date(a.day)));
        }
        if let Some(from) = a.moved_from {
            words.push_str(&format!(" (its day moved from {} to {})", date(from), date(a.day)));
        }
        words
    }
}

/// A loss below zero in one campaign's figures of the period: material appeared where the
/// chain's physics rule it out (a step's output above its input, a yield over 100 %; a step
/// taking in more than the one before put out). Entry refuses these now; older entries and
/// entries from elsewhere can still hold them, and the report says so instead of netting them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Implausible {
    /// Index into [`PeriodReport::campaigns`].
    pub campaign: u32,
    /// The figure (`Process loss in Granulation`).
    pub label: String,
    /// Kilograms, below zero.
    #[serde(serialize_with = "serialize_tenths")]
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub kg: f64,
}

/// What one processing step made of what it took in over the period: the steps completed within
/// it, by the day their entries state. An auditor compares it with the step's usual yield.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PeriodYield {
    /// The status the step reaches.
    pub step: CampaignStatus,
    /// The step in words (`Granulation`).
    pub label: String,
    /// Kilograms it took in (its starting weights).
    #[serde(serialize_with = "serialize_tenths")]
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub kg_in: f64,
    /// Kilograms it put out.
    #[serde(serialize_with = "serialize_tenths")]
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub kg_out: f64,
    /// Out over in.
    pub ratio: f64,
}

/// The mass balance of a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PeriodReport {
    /// The period.
    pub period: Period,
    /// The campaigns and site covered.
    pub scope: Scope,
    /// Kilograms in process when the period began.
    pub opening: Figure,
    /// The period's figures, in chain order (each step's handling loss, process loss, output).
    pub lines: Vec<Line>,
    /// Kilograms in process when it ended.
    pub closing: Figure,
    /// Corrections, voids and entries recorded after the period closed that change its figures
    /// or its opening (a step on a day within or before it, or moved out of it).
    pub restated: Vec<Restatement>,
    /// The losses below zero the period's figures hold, each by campaign (see [`Implausible`]).
    pub implausible: Vec<Implausible>,
    /// Each processing step's yield over the period, in chain order.
    pub yields: Vec<PeriodYield>,
    /// Every campaign a figure draws on.
    pub campaigns: Vec<CampaignRef>,
}

impl PeriodReport {
    /// The balance's check: opening + in − lost − out − closing, zero up to rounding.
    pub fn imbalance(&self) -> f64 {
        let sum = |role| -> f64 {
            self.lines.iter().filter(|l| l.role == role && !l.parts).map(|l| l.figure.total).sum()
        };
        self.opening.total + sum(Role::In) - sum(Role::Lost) - sum(Role::Out) - self.closing.total
    }

    /// A SHA-256 of the report's figures (its JSON), hex: what its PDF's footer names.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest as _;
        let json = serde_json::to_vec(self).expect("a report serializes");
        pluto_domain::canonical::hex(&sha2::Sha256::digest(json))
    }

    /// The line of `measure`, if the period has one.
    pub fn line(&self, measure: Measure) -> Option<&Line> {
        self.lines.iter().find(|l| l.measure == measure)
    }
}

/// Builds a period report from campaigns one at a time, so that a store can stream its rows.
pub struct PeriodReportBuilder {
    period: Period,
    scope: Scope,
    campaigns: Vec<CampaignRef>,
    opening: BTreeMap<u32, f64>,
    closing: BTreeMap<u32, f64>,
    lines: BTreeMap<Measure, BTreeMap<u32, f64>>,
    restated: Vec<Restatement>,
    implausible: Vec<Implausible>,
}

impl PeriodReportBuilder {
    /// A report of `period` over the campaigns in `scope`.
    pub fn new(period: Period, scope: Scope) -> Self {
        PeriodReportBuilder {
            period,
            scope,
            campaigns: Vec::new(),
            opening: BTreeMap::new(),
            closing: BTreeMap::new(),
            lines: BTreeMap::new(),
            restated: Vec::new(),
            implausible: Vec::new(),
        }
    }

    /// Adds one campaign (skipped when its material is out of scope).
    pub fn add(&mut self, campaign: CampaignRef, flows: &Flows) {
        if self.scope.material.is_some() && campaign.material != self.scope.material {
            return;
        }
        let index = self.campaigns.len() as u32;
        let (mut before, mut through, mut drawn_on) = (0.0, 0.0, false);
        for m in movements(flows) {
            let Some(role) = m.measure.role(self.scope.site) else { continue };
            if m.day > self.period.to {
                continue;
            }
            let sign = match role {
                Role::In => 1.0,
                Role::Lost | Role::Out => -1.0,
                Role::Info => 0.0,
            };
            through += sign * m.amount;
            if m.day < self.period.from {
                before += sign * m.amount;
                continue;
            }
            *self.lines.entry(m.measure).or_default().entry(index).or_default() += m.amount;
            drawn_on = true;
            if role == Role::Lost && m.amount < -0.05 {
                self.implausible.push(Implausible {
                    campaign: index,
                    label: m.measure.label(),
                    kg: m.amount,
                });
            }
        }
        // Rounding noise of a campaign that is through the chain is not material in process.
        let tidy = |kg: f64| if kg.abs() < 1e-6 { 0.0 } else { kg };
        let (before, through) = (tidy(before), tidy(through));
        if before != 0.0 {
            self.opening.insert(index, before);
        }
        if through != 0.0 {
            self.closing.insert(index, through);
        }
        let mut restated = false;
        for a in &flows.amendments {
            let holds = a.day <= self.period.to || a.moved_from.is_some_and(|from| from <= self.period.to);
            if restates(a.step, self.scope.site) && holds && self.period.closed_before(a.recorded_at) {
                self.restated.push(Restatement {
                    campaign: index,
                    step: a.step.step_label().to_owned(),
                    amendment: a.clone(),
                });
                restated = true;
            }
        }
        if drawn_on || before != 0.0 || through != 0.0 || restated {
            self.campaigns.push(campaign);
        } else {
            self.restated.retain(|r| r.campaign != index);
        }
    }

    /// The report.
    pub fn finish(self) -> PeriodReport {
        let site = self.scope.site;
        let mut measured: Vec<_> = self.lines.into_iter().collect();
        measured.sort_by_key(|(measure, _)| measure.chain_order());
        let lines: Vec<Line> = measured
            .into_iter()
            .filter_map(|(measure, shares)| {
                let role = measure.role(site)?;
                Some(Line {
                    measure,
                    label: measure.label(),
                    role,
                    parts: measure.is_parts(),
                    figure: Figure::from_shares(shares),
                })
            })
            .collect();
        let yields = lines
            .iter()
            .filter_map(|output| {
                let Measure::Output(step) = output.measure else { return None };
                let lost = lines.iter().find(|l| l.measure == Measure::ProcessLoss(step))?.figure.total;
                let kg_out = output.figure.total;
                let kg_in = kg_out + lost;
                (kg_in > 0.0).then(|| PeriodYield {
                    step,
                    label: step.step_label().to_owned(),
                    kg_in,
                    kg_out,
                    ratio: kg_out / kg_in,
                })
            })
            .collect();
        PeriodReport {
            period: self.period,
            scope: self.scope,
            opening: Figure::from_shares(self.opening),
            yields,
            lines,
            closing: Figure::from_shares(self.closing),
            restated: self.restated,
            implausible: self.implausible,
            campaigns: self.campaigns,
        }
    }
}

/// Whether a correction or void of `step` can change the balance of `site` (`None`: the chain).
fn restates(step: CampaignStatus, site: Option<Site>) -> bool {
    use CampaignStatus as S;
    let at_mba = matches!(
        step,
        S::InboundShipmentRecorded
            | S::GranulationComplete
            | S::MetalRemovalComplete
            | S::PolymerPurificationComplete
            | S::ExtrusionComplete
            | S::TransferredToRge
    );
    let at_rge = matches!(step, S::ManufacturingStarted | S::ManufacturingComplete | S::ReturnedToLego);
    match site {
        Some(Site::Mba) => at_mba,
        // What RGE received can come from MBA's weights when the transfer states none.
        Some(Site::Rge) | None => at_mba || at_rge,
    }
}

/// The mass balance of `period` over the stored campaigns in `scope`, read from their
/// projections (one row per campaign that has a step).
pub fn report(store: &Store, period: Period, scope: Scope) -> Result<PeriodReport, StoreError> {
    let mut report = PeriodReportBuilder::new(period, scope);
    store.each_campaign_flows(scope.material, |c| -> Result<(), StoreError> {
        report.add(CampaignRef { id: c.id, code: c.code, material: c.material }, &c.flows);
        Ok(())
    })?;
    Ok(report.finish())
}

#[cfg(test)]
mod tests;
