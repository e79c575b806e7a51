//! A campaign's state as the fold derives it: the projection the store keeps, and every
//! step's details when folded in full.

use serde::{Deserialize, Serialize};

use crate::anomaly::Anomaly;

use crate::anomaly::Review;
use crate::event::Event;
use crate::flows::{Amendment, AmendmentKind, Flows, StepDay};
use crate::ids::{CampaignId, EventId};
use crate::registry::fields::MaterialType;
use crate::registry::step::Meta;
use crate::registry::{CampaignStatus, EventType, Payload, Steps};
use crate::time::{IsoDate, Timestamp};

/// A campaign's current state, derived from its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CampaignState {
    /// The campaign.
    pub id: CampaignId,
    /// LEGO's code; `None` until `CampaignCreated` is known.
    pub lego_campaign_code: Option<String>,
    /// PI or PCR; `None` until `CampaignCreated` is known.
    pub material_type: Option<MaterialType>,
    /// Optional description.
    pub description: Option<String>,
    /// Where the campaign stands.
    pub status: CampaignStatus,
    /// Label of the step last completed.
    pub current_step: String,
    /// Label of the step expected next (the spec's progression); `None` once completed.
    pub next_expected_step: Option<String>,
    /// Weight now, by the spec's rules on corrected values.
    pub current_weight_kg: Option<f64>,
    /// Net weight received at MBA.
    pub inbound_net_weight_kg: Option<f64>,
    /// Whether ECHA approval is recorded.
    pub echa_approved: bool,
    /// When `CampaignCreated` was recorded.
    pub created_at: Option<Timestamp>,
    /// When `CampaignCompleted` was recorded.
    pub completed_at: Option<Timestamp>,
    /// The type of the latest step event (corrections excluded).
    pub last_event_type: Option<EventType>,
    /// When the latest step event was recorded.
    pub last_event_at: Option<Timestamp>,
    /// When the campaign last changed (latest recording instant of any event).
    pub updated_at: Timestamp,
    /// When the current status was reached.
    pub status_since: Timestamp,
    /// Number of events, corrections included.
    pub event_count: u32,
    /// Number of corrections.
    pub correction_count: u32,
    /// The greatest event id folded. It orders nothing: a new entry takes an id after it (while
    /// it is not in the future), so that builds which still fold in id order read it in place.
    pub last_event_id: EventId,
    /// Which steps are recorded: bit [`CampaignStatus::code`] of each step's status (a code,
    /// not a place in the progression, so that a new status never shifts stored bits).
    pub recorded_steps: u32,
    /// Manufacturing start and end dates, for the rule that one does not precede the other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturing_start_date: Option<IsoDate>,
    /// See `manufacturing_start_date`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturing_end_date: Option<IsoDate>,
    /// Every step's details. Not part of the stored projection (the event log holds them):
    /// filled by a fold of the events, empty in a projection read from the store.
    #[serde(skip)]
    pub steps: Steps,
    /// Irregularities, in the canonical order of their entries, reviewed and resolved ones
    /// included.
    pub anomalies: Vec<Anomaly>,
    /// Reviews that match no anomaly of the campaign (yet): an anomaly that arrives later, from
    /// a laptop whose clock ran ahead, is matched then. Kept so that folding on from a stored
    /// projection equals a replay.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_reviews: Vec<Review>,
    /// Events a newer Pluto recorded that this build does not fully show: of a type it does not
    /// know, or with fields it does not know (those are folded by the fields it knows).
    #[serde(default)]
    pub newer_entries: u32,
    /// What the period mass balance needs of the campaign: each step's day and quantities,
    /// and the corrections and voids that changed them.
    #[serde(default, skip_serializing_if = "Flows::is_empty")]
    pub flows: Flows,
}

impl CampaignState {
    /// The state before any event, stamped by the first one.
    pub(crate) fn empty(first: &Event) -> Self {
        let status = CampaignStatus::Created;
        CampaignState {
            id: first.stream_id.clone(),
            lego_campaign_code: None,
            material_type: None,
            description: None,
            status,
            current_step: status.step_label().to_owned(),
            next_expected_step: status.next_expected_step().map(str::to_owned),
            current_weight_kg: None,
            inbound_net_weight_kg: None,
            echa_approved: false,
            created_at: None,
            completed_at: None,
            last_event_type: None,
            last_event_at: None,
            updated_at: first.created_at,
            status_since: first.created_at,
            event_count: 0,
            correction_count: 0,
            last_event_id: first.id.clone(),
            recorded_steps: 0,
            manufacturing_start_date: None,
            manufacturing_end_date: None,
            steps: Steps::default(),
            anomalies: Vec::new(),
            pending_reviews: Vec::new(),
            newer_entries: 0,
            flows: Flows::default(),
        }
    }

    /// The anomalies nobody has reviewed yet and later entries did not resolve: what the
    /// campaign's badge counts.
    pub fn unreviewed_anomalies(&self) -> usize {
        self.anomalies.iter().filter(|a| a.is_open()).count()
    }

    /// Matches the reviews still pending and then `reviews` (both in canonical order) to the
    /// anomalies they review: the first review of an anomaly counts, a later one of the same
    /// anomaly is dropped, and one that matches no anomaly waits in `pending_reviews`.
    pub(crate) fn apply_reviews(&mut self, reviews: Vec<Review>) {
        if reviews.is_empty() && self.pending_reviews.is_empty() {
            return;
        }
        let mut all = std::mem::take(&mut self.pending_reviews);
        all.extend(reviews);
        let mut ids = std::collections::HashSet::new();
        all.retain(|r| ids.insert(r.review_id.clone()));
        for review in all {
            let mut matching = self.anomalies.iter_mut().filter(|a| a.is_reviewed_by(&review)).peekable();
            if matching.peek().is_none() {
                self.pending_reviews.push(review);
                continue;
            }
            for anomaly in matching.filter(|a| a.review.is_none()) {
                anomaly.review = Some(review.clone());
            }
        }
    }

    /// Whether the step `event_type` records was taken by an entry recorded ahead of its earlier
    /// steps (its out-of-order anomaly resolved when they arrived): an entry recorded in order
    /// may still take it.
    pub fn taken_out_of_order(&self, event_type: EventType) -> bool {
        self.anomalies.iter().any(|a| a.resolved && a.kind.is_out_of_order() && a.event_type == event_type)
    }

    /// Whether `CampaignCreated` has been folded.
    pub fn is_created(&self) -> bool {
        self.created_at.is_some()
    }

    /// The event type expected next.
    pub fn next_event_type(&self) -> Option<EventType> {
        self.status.next_event_type()
    }

    /// Whether the step recorded by `event_type` is recorded.
    pub fn is_recorded(&self, event_type: EventType) -> bool {
        event_type.target_status().is_some_and(|s| self.recorded_steps & (1 << s.code()) != 0)
    }

    /// The state as the store keeps it: without the step details, which the log holds.
    pub fn into_projection(mut self) -> CampaignState {
        self.steps = Steps::default();
        self
    }

    /// Marks a step recorded by `event` and keeps what later rules and the period balance need of
    /// it, and its details when `meta` is given (a full fold, as opposed to a projection).
    pub(crate) fn record_step(&mut self, payload: Payload, event: &Event, meta: Option<Meta>) {
        if let Some(status) = payload.event_type().target_status() {
            self.recorded_steps |= 1 << status.code();
            let day = StepDay::of(payload.happened_on(), event.created_at).date;
            self.flows.record(status, day, payload.flow());
            if event.created_at.site_day() > day {
                self.flows.amend(Amendment {
                    event_id: event.id.clone(),
                    recorded_at: event.created_at,
                    kind: AmendmentKind::RecordedLate,
                    step: status,
                    day,
                    moved_from: None,
                    reason: String::new(),
                });
            }
        }
        match &payload {
            Payload::ManufacturingStarted(p) => self.manufacturing_start_date = Some(p.start_date),
            Payload::ManufacturingCompleted(p) => self.manufacturing_end_date = Some(p.end_date),
            _ => {}
        }
        if let Some(meta) = meta {
            self.steps.fill(payload, meta);
        }
    }

    /// Notes the corrections that changed the entry that recorded `status`.
    pub(crate) fn note_corrections(
        &mut self,
        status: CampaignStatus,
        corrections: &[crate::correction::Applied],
    ) {
        let Some(step) = self.flows.step(status).map(|s| (s.step, s.day)) else { return };
        for c in corrections {
            self.flows.amend(Amendment {
                event_id: c.id.clone(),
                recorded_at: c.at,
                kind: AmendmentKind::Corrected,
                step: step.0,
                day: step.1,
                moved_from: c.moved_from,
                reason: c.reason.clone(),
            });
        }
    }

    /// Moves the campaign to `status`, reached at `at`.
    pub(crate) fn set_status(&mut self, status: CampaignStatus, at: Timestamp) {
        self.status = status;
        self.status_since = at;
        self.current_step = status.step_label().to_owned();
        self.next_expected_step = status.next_expected_step().map(str::to_owned);
    }
}
