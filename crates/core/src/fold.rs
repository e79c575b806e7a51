//! The fold: a campaign's current state as a pure, total, deterministic function of its events.
//!
//! Events are applied in event-id order with corrections already applied to their targets
//! ([`Effective`]). The fold never fails: an event that breaks the progression is kept and
//! described as an [`Anomaly`] on the campaign. [`check_next`] holds the strict rules for new
//! local entries; the fold applies the same rules leniently, so what the strict check refuses is
//! exactly what the fold would report.

use serde::{Deserialize, Serialize};

use crate::correction::Effective;
use crate::error::Refusal;
use crate::event::Event;
use crate::ids::{CampaignId, DeviceId, EventId, UserId};
use crate::payload::{
    CampaignCompletion, EchaApproval, EventType, Extrusion, FieldError, Granulation, InboundShipment,
    IsoDate, ManufacturingCompletion, ManufacturingStart, MaterialType, MetalRemoval, Payload,
    PolymerPurification, Reading, ReturnToLego, TransferToRge,
};
use crate::status::CampaignStatus;
use crate::time::Timestamp;

/// One recorded step as it stands now (corrections applied), with who recorded it and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord<P> {
    /// The event that recorded the step.
    pub event_id: EventId,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// Who recorded it.
    pub recorded_by: UserId,
    /// On which device.
    pub device_id: DeviceId,
    /// Whether a correction changed any of its fields.
    pub corrected: bool,
    /// The effective payload.
    pub data: P,
}

/// Every step's details, `None` until recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[allow(missing_docs)]
pub struct Steps {
    pub inbound_shipment: Option<StepRecord<InboundShipment>>,
    pub granulation: Option<StepRecord<Granulation>>,
    pub metal_removal: Option<StepRecord<MetalRemoval>>,
    pub polymer_purification: Option<StepRecord<PolymerPurification>>,
    pub extrusion: Option<StepRecord<Extrusion>>,
    pub echa_approval: Option<StepRecord<EchaApproval>>,
    pub transfer_to_rge: Option<StepRecord<TransferToRge>>,
    pub manufacturing_start: Option<StepRecord<ManufacturingStart>>,
    pub manufacturing_completion: Option<StepRecord<ManufacturingCompletion>>,
    pub return_to_lego: Option<StepRecord<ReturnToLego>>,
    pub completion: Option<StepRecord<CampaignCompletion>>,
}

impl Steps {
    /// When the step reached by `event_type` was recorded, if it was.
    pub fn recorded_at(&self, event_type: EventType) -> Option<Timestamp> {
        fn at<P>(s: &Option<StepRecord<P>>) -> Option<Timestamp> {
            s.as_ref().map(|r| r.recorded_at)
        }
        match event_type {
            EventType::InboundShipmentRecorded => at(&self.inbound_shipment),
            EventType::GranulationCompleted => at(&self.granulation),
            EventType::MetalRemovalCompleted => at(&self.metal_removal),
            EventType::PolymerPurificationCompleted => at(&self.polymer_purification),
            EventType::ExtrusionCompleted => at(&self.extrusion),
            EventType::EchaApprovalRecorded => at(&self.echa_approval),
            EventType::TransferToRgeRecorded => at(&self.transfer_to_rge),
            EventType::ManufacturingStarted => at(&self.manufacturing_start),
            EventType::ManufacturingCompleted => at(&self.manufacturing_completion),
            EventType::ReturnToLegoRecorded => at(&self.return_to_lego),
            EventType::CampaignCompleted => at(&self.completion),
            EventType::CampaignCreated | EventType::EventCorrected | EventType::Newer => None,
        }
    }

    /// Stores a step's record in its slot.
    fn fill(&mut self, payload: Payload, meta: Meta) {
        fn rec<P>(data: P, m: Meta) -> Option<StepRecord<P>> {
            Some(StepRecord {
                event_id: m.event_id,
                recorded_at: m.recorded_at,
                recorded_by: m.recorded_by,
                device_id: m.device_id,
                corrected: m.corrected,
                data,
            })
        }
        match payload {
            Payload::InboundShipmentRecorded(p) => self.inbound_shipment = rec(p, meta),
            Payload::GranulationCompleted(p) => self.granulation = rec(p, meta),
            Payload::MetalRemovalCompleted(p) => self.metal_removal = rec(p, meta),
            Payload::PolymerPurificationCompleted(p) => self.polymer_purification = rec(p, meta),
            Payload::ExtrusionCompleted(p) => self.extrusion = rec(p, meta),
            Payload::EchaApprovalRecorded(p) => self.echa_approval = rec(p, meta),
            Payload::TransferToRgeRecorded(p) => self.transfer_to_rge = rec(p, meta),
            Payload::ManufacturingStarted(p) => self.manufacturing_start = rec(p, meta),
            Payload::ManufacturingCompleted(p) => self.manufacturing_completion = rec(p, meta),
            Payload::ReturnToLegoRecorded(p) => self.return_to_lego = rec(p, meta),
            Payload::CampaignCompleted(p) => self.completion = rec(p, meta),
            Payload::CampaignCreated(_) | Payload::EventCorrected(_) => {}
        }
    }
}

struct Meta {
    event_id: EventId,
    recorded_at: Timestamp,
    recorded_by: UserId,
    device_id: DeviceId,
    corrected: bool,
}

/// What kind of irregularity an anomaly is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum AnomalyKind {
    /// The payload cannot be read as its type; the event has no effect.
    InvalidPayload,
    /// A step recorded before the campaign's `CampaignCreated` (missing or recorded later).
    BeforeCreation,
    /// A step recorded while earlier steps were still missing.
    SkippedSteps,
    /// A transfer to RGE recorded without ECHA approval.
    EchaGateBypassed,
    /// A step recorded twice; the later one has no effect.
    DuplicateStep,
    /// A missing earlier step recorded after later ones; its details are kept, status is not moved back.
    LateStep,
    /// A step recorded after the campaign was completed; it has no effect.
    AfterCompletion,
    /// Dates that contradict each other across steps (manufacturing ends before it starts).
    InconsistentDates,
    /// A correction of an event this campaign does not hold.
    CorrectionOfUnknownEvent,
    /// A correction of a correction.
    CorrectionOfCorrection,
    /// A correction naming the wrong type for its target.
    CorrectionTypeMismatch,
    /// A correction whose `was` did not match (two people corrected one field).
    CorrectionConflict,
    /// A correction that would make its target invalid.
    CorrectionInvalid,
}

impl AnomalyKind {
    /// How a coordinator resolves this kind of anomaly.
    pub fn remedy(self) -> &'static str {
        match self {
            Self::InvalidPayload => "The event cannot be read; record the step again correctly and tell support.",
            Self::BeforeCreation => "Sync to fetch the campaign's creation; if it never arrives, ask the site that created it.",
            Self::SkippedSteps => "Record the missing steps; they will be shown as late but their details are kept.",
            Self::EchaGateBypassed => "Record the ECHA approval, and check why material moved to RGE without it.",
            Self::DuplicateStep => "Compare both entries; correct the first one if the second holds the right values.",
            Self::LateStep => "No action needed if the details are right; the step was entered after later steps.",
            Self::AfterCompletion => "The campaign was already completed; correct the completed campaign's events instead.",
            Self::InconsistentDates => "Correct the wrong date so that the steps follow each other.",
            Self::CorrectionOfUnknownEvent => "Sync to fetch the corrected event; if it never arrives the correction was made on the wrong campaign.",
            Self::CorrectionOfCorrection => "Correct the original event instead.",
            Self::CorrectionTypeMismatch => "Record the correction again against the right event.",
            Self::CorrectionConflict => "Two corrections of the same field crossed; check the value and correct it once more if needed.",
            Self::CorrectionInvalid => "Record the correction again with values that pass the rules.",
        }
    }
}

/// An irregularity in a campaign's events. Anomalies are kept and shown, never dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Anomaly {
    /// The event the anomaly is about.
    pub event_id: EventId,
    /// That event's type.
    pub event_type: EventType,
    /// What kind of irregularity.
    pub kind: AnomalyKind,
    /// What happened, in words.
    pub message: String,
}

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
    /// The greatest event id folded: a new event with a greater id can be applied incrementally.
    pub last_event_id: EventId,
    /// Which steps are recorded: bit `rank` of each step's status.
    pub recorded_steps: u16,
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
    /// Irregularities, ordered by event id.
    pub anomalies: Vec<Anomaly>,
    /// Events a newer Pluto recorded that this build does not fully show: of a type it does not
    /// know, or with fields it does not know (those are folded by the fields it knows).
    #[serde(default)]
    pub newer_entries: u32,
}

impl CampaignState {
    fn empty(first: &Event) -> Self {
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
            newer_entries: 0,
        }
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
        event_type.target_status().is_some_and(|s| self.recorded_steps & (1 << s.rank()) != 0)
    }

    /// The state as the store keeps it: without the step details, which the log holds.
    pub fn into_projection(mut self) -> CampaignState {
        self.steps = Steps::default();
        self
    }

    /// Marks a step recorded and keeps what later rules need of it, and its details when `meta`
    /// is given (a full fold, as opposed to a projection).
    fn record_step(&mut self, payload: Payload, meta: Option<Meta>) {
        if let Some(status) = payload.event_type().target_status() {
            self.recorded_steps |= 1 << status.rank();
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

    fn set_status(&mut self, status: CampaignStatus, at: Timestamp) {
        self.status = status;
        self.status_since = at;
        self.current_step = status.step_label().to_owned();
        self.next_expected_step = status.next_expected_step().map(str::to_owned);
    }
}

/// How much a fold keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// Every step's details too.
    Full,
    /// Only what the stored projection holds.
    Projection,
}

/// Folds one campaign's events (any order; duplicates by id are folded once) into its state.
/// `None` when there are no events.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a Event>) -> Option<CampaignState> {
    fold_with(events, Detail::Full)
}

/// [`fold`] without the step details: equal to `fold(events).map(CampaignState::into_projection)`,
/// and cheaper, for the store, which keeps only the projection.
pub fn fold_projection<'a>(events: impl IntoIterator<Item = &'a Event>) -> Option<CampaignState> {
    fold_with(events, Detail::Projection)
}

/// [`fold_projection`] of events some of which come with their payload already parsed (and
/// checked): equal to `fold_projection` of the events alone, and cheaper, because a parsed
/// payload is used as it is wherever no correction changed it. For the store's replays, where a
/// batch's own events are parsed already.
pub fn fold_projection_parsed<'a>(
    events: impl IntoIterator<Item = (&'a Event, Option<Payload>)>,
) -> Option<CampaignState> {
    let (events, parsed) = events.into_iter().unzip();
    fold_parsed(None, events, parsed, Detail::Projection)
}

/// Whether [`continue_projection`] may continue `state` with `events` (one stream's, sorted by
/// id, parsed): every event sorts after the last one folded, every correction among them
/// corrects one of them, and no earlier correction still waits for an event it could not find.
/// Otherwise the stream must be replayed.
pub fn can_continue(state: Option<&CampaignState>, events: &[(&Event, Payload)]) -> bool {
    let Some(state) = state else {
        return true;
    };
    let corrects_one_of_them = |payload: &Payload| match payload {
        Payload::EventCorrected(c) => events.iter().any(|(e, _)| e.id == c.corrects_event_id),
        _ => true,
    };
    // A state made of newer entries alone was stamped by them; a replay is not.
    state.event_count > 0
        && events.first().is_none_or(|(e, _)| e.id > state.last_event_id)
        && !state.anomalies.iter().any(|a| a.kind == AnomalyKind::CorrectionOfUnknownEvent)
        && events.iter().all(|(_, payload)| corrects_one_of_them(payload))
}

/// Continues the projection `state` of a stream's earlier events with later ones, already
/// parsed and checked, their `data` canonical (as the store reads it back), corrections
/// included: equal to [`fold_projection`] of all of them whenever [`can_continue`] allows it,
/// without reading the earlier events again.
pub fn continue_projection(
    state: Option<CampaignState>,
    events: Vec<(&Event, Payload)>,
) -> Option<CampaignState> {
    debug_assert!(can_continue(state.as_ref(), &events));
    let (events, parsed): (Vec<&Event>, Vec<Payload>) = events.into_iter().unzip();
    fold_parsed(state, events, parsed.into_iter().map(Some).collect(), Detail::Projection)
}

fn fold_with<'a>(events: impl IntoIterator<Item = &'a Event>, detail: Detail) -> Option<CampaignState> {
    fold_parsed(None, events.into_iter().collect(), Vec::new(), detail)
}

/// Folds `events` onto `state` (`None`: from the start). `parsed` is empty or holds, for each
/// event, its payload if already parsed. With a state, the events must be later than every
/// event it holds, and their corrections may correct only each other.
fn fold_parsed(
    mut state: Option<CampaignState>,
    events: Vec<&Event>,
    mut parsed: Vec<Option<Payload>>,
    detail: Detail,
) -> Option<CampaignState> {
    // Sorted by position, so that the payloads stay where they are.
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by(|&a, &b| events[a].id.cmp(&events[b].id));
    order.dedup_by(|a, b| events[*a].id == events[*b].id);
    let sorted: Vec<&Event> = order.iter().map(|&i| events[i]).collect();
    let effective = Effective::resolve(&sorted);
    // Events this build leaves out of the fold (of a type it does not know, or corrections it
    // cannot apply) are only counted: the state is what the other events make of it.
    let mut newer: Option<&Event> = None;
    let mut pending_newer = 0;
    for (&i, event) in order.iter().zip(sorted) {
        let corrected = effective.is_corrected(event);
        let reading = (event.event_type != EventType::EventCorrected).then(|| {
            match parsed.get_mut(i).and_then(Option::take) {
                Some(payload) if !corrected => Reading::Full(payload),
                _ => Payload::read(event.event_type, event.schema_version, effective.payload(event)),
            }
        });
        if effective.is_newer(event) || reading == Some(Reading::Newer) {
            newer = newer.or(Some(event));
            match state.as_mut() {
                Some(st) => st.newer_entries += 1,
                None => pending_newer += 1,
            }
            continue;
        }
        let st = state.get_or_insert_with(|| CampaignState::empty(event));
        st.newer_entries += std::mem::take(&mut pending_newer);
        apply(st, event, reading, corrected, detail);
    }
    if let (None, Some(first)) = (&state, newer) {
        // Only events this build cannot fold yet: the campaign exists, with nothing to show.
        state = Some(CampaignState { newer_entries: pending_newer, ..CampaignState::empty(first) });
    }
    let mut state = state?;
    if !effective.anomalies.is_empty() {
        state.anomalies.extend(effective.anomalies);
        state.anomalies.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    }
    Some(state)
}

/// The state as it was recorded at `instant`: only events recorded at or before it count.
pub fn fold_as_of<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    instant: Timestamp,
) -> Option<CampaignState> {
    fold(events.into_iter().filter(|e| e.created_at <= instant))
}

/// Applies one more event to `state` without replaying: valid only when `event` sorts after every
/// event folded so far, is not a correction, and no correction targets it. Equal to [`fold`] of
/// the events plus `event` under those conditions.
pub fn apply_next(state: Option<CampaignState>, event: &Event) -> CampaignState {
    debug_assert!(event.event_type != EventType::EventCorrected);
    let mut st = state.unwrap_or_else(|| CampaignState::empty(event));
    let reading = Payload::read(event.event_type, event.schema_version, &event.data);
    apply(&mut st, event, Some(reading), false, Detail::Full);
    st
}

/// Whether [`apply_next`] may be used for `event` on `state`.
pub fn can_apply_next(state: Option<&CampaignState>, event: &Event) -> bool {
    event.event_type != EventType::EventCorrected
        && state.is_none_or(|s| s.event_count > 0 && event.id > s.last_event_id)
}

fn apply(st: &mut CampaignState, event: &Event, reading: Option<Reading>, corrected: bool, detail: Detail) {
    let Some(reading) = reading else {
        // Corrections act through `Effective`; their own anomalies are collected there.
        count(st, event);
        st.correction_count += 1;
        return;
    };
    if reading == Reading::Newer {
        st.newer_entries += 1;
        return;
    }
    count(st, event);
    st.last_event_type = Some(event.event_type);
    st.last_event_at = Some(event.created_at);
    let anomaly = |st: &mut CampaignState, kind: AnomalyKind, message: String| {
        st.anomalies.push(Anomaly {
            event_id: event.id.clone(),
            event_type: event.event_type,
            kind,
            message,
        });
    };
    let payload = match reading {
        Reading::Full(p) => p,
        Reading::Partial(p) => {
            st.newer_entries += 1;
            p
        }
        Reading::Newer => unreachable!("counted above"),
        Reading::Invalid(e) => {
            anomaly(
                st,
                AnomalyKind::InvalidPayload,
                format!("unreadable {}: {e}; it has no effect", event.event_type),
            );
            return;
        }
    };
    if let Payload::CampaignCreated(p) = &payload {
        if st.is_created() {
            anomaly(
                st,
                AnomalyKind::DuplicateStep,
                "the campaign was already created; this CampaignCreated has no effect".into(),
            );
        } else {
            st.lego_campaign_code = Some(p.lego_campaign_code.clone());
            st.material_type = Some(p.material_type);
            st.description = p.description.clone();
            st.created_at = Some(event.created_at);
            if st.event_count == 1 {
                st.status_since = event.created_at;
            }
        }
        return;
    }
    // Every type but the creation reaches a status; one that does not has nothing more to fold.
    let Some(target) = event.event_type.target_status() else {
        return;
    };
    if !st.is_created() {
        anomaly(
            st,
            AnomalyKind::BeforeCreation,
            "recorded before this campaign's CampaignCreated (not received yet, or recorded later on another device)".into(),
        );
    }
    let current = st.status;
    if current == CampaignStatus::Completed {
        anomaly(
            st,
            AnomalyKind::AfterCompletion,
            "recorded after the campaign was completed; it has no effect".into(),
        );
        return;
    }
    let meta = (detail == Detail::Full).then(|| Meta {
        event_id: event.id.clone(),
        recorded_at: event.created_at,
        recorded_by: event.user_id.clone(),
        device_id: event.device_id.clone(),
        corrected,
    });
    if target.rank() <= current.rank() {
        if st.is_recorded(event.event_type) {
            anomaly(
                st,
                AnomalyKind::DuplicateStep,
                format!("{} was already recorded; this entry has no effect", target.step_label()),
            );
        } else {
            anomaly(
                st,
                AnomalyKind::LateStep,
                format!(
                    "{} was recorded after later steps (status was {current}); its details are kept",
                    target.step_label()
                ),
            );
            if event.event_type == EventType::EchaApprovalRecorded {
                st.echa_approved = true;
            }
            st.record_step(payload, meta);
            check_dates(st, event);
        }
        return;
    }
    if target.rank() > current.rank() + 1 {
        let missing: Vec<&str> = CampaignStatus::ALL[current.rank() + 1..target.rank()]
            .iter()
            .filter(|s| !st.is_recorded(s.reached_by()))
            .map(|s| s.step_label())
            .collect();
        let bypassed = !st.echa_approved && target.rank() > CampaignStatus::EchaApproved.rank();
        let (kind, message) = if bypassed && event.event_type == EventType::TransferToRgeRecorded {
            (
                AnomalyKind::EchaGateBypassed,
                "material was transferred to RGE without a recorded ECHA approval".to_owned(),
            )
        } else {
            (
                AnomalyKind::SkippedSteps,
                format!("recorded while status was {current}; missing before it: {}", missing.join(", ")),
            )
        };
        anomaly(st, kind, message);
    }
    match &payload {
        Payload::InboundShipmentRecorded(p) => {
            st.current_weight_kg = Some(p.net_weight_kg);
            st.inbound_net_weight_kg = Some(p.net_weight_kg);
        }
        Payload::GranulationCompleted(p) => st.current_weight_kg = Some(p.output_weight_kg),
        Payload::MetalRemovalCompleted(p) => st.current_weight_kg = Some(p.output_weight_kg),
        Payload::PolymerPurificationCompleted(p) => st.current_weight_kg = Some(p.output_weight_kg),
        Payload::ExtrusionCompleted(p) => st.current_weight_kg = Some(p.output_weight_kg),
        Payload::EchaApprovalRecorded(_) => st.echa_approved = true,
        Payload::TransferToRgeRecorded(p) => {
            if let Some(w) = p.received_weight_kg {
                st.current_weight_kg = Some(w);
            }
        }
        Payload::CampaignCompleted(_) => st.completed_at = Some(event.created_at),
        _ => {}
    }
    st.set_status(target, event.created_at);
    st.record_step(payload, meta);
    check_dates(st, event);
}

/// Counts an event this build folds.
fn count(st: &mut CampaignState, event: &Event) {
    st.event_count += 1;
    st.updated_at = st.updated_at.max(event.created_at);
    if event.id > st.last_event_id {
        st.last_event_id = event.id.clone();
    }
}

/// Cross-step date rules; reported on the event that completes the contradiction.
fn check_dates(st: &mut CampaignState, event: &Event) {
    if !matches!(event.event_type, EventType::ManufacturingStarted | EventType::ManufacturingCompleted) {
        return;
    }
    let (Some(start), Some(end)) = (st.manufacturing_start_date, st.manufacturing_end_date) else {
        return;
    };
    if let Err(e) = manufacturing_dates(start, end) {
        st.anomalies.push(Anomaly {
            event_id: event.id.clone(),
            event_type: event.event_type,
            kind: AnomalyKind::InconsistentDates,
            message: e.to_string(),
        });
    }
}

fn manufacturing_dates(start: IsoDate, end: IsoDate) -> Result<(), FieldError> {
    if end < start {
        return Err(FieldError::new(
            "endDate",
            format!("must be on or after the manufacturing start date ({start}), got {end}"),
        ));
    }
    Ok(())
}

/// The strict rules for recording `payload` next on this laptop, given the campaign's current
/// state (`None` for a campaign that does not exist yet). Corrections are checked separately
/// ([`crate::correction::check_correction`]).
pub fn check_next(
    campaign_id: &CampaignId,
    state: Option<&CampaignState>,
    payload: &Payload,
) -> Result<(), Refusal> {
    let event_type = payload.event_type();
    let Some(st) = state else {
        return match event_type {
            EventType::CampaignCreated => Ok(()),
            _ => Err(Refusal::UnknownCampaign(campaign_id.clone())),
        };
    };
    if event_type == EventType::CampaignCreated {
        return Err(Refusal::AlreadyCreated(campaign_id.clone()));
    }
    if event_type == EventType::EventCorrected {
        return Ok(());
    }
    if st.status == CampaignStatus::Completed {
        return Err(Refusal::Completed { campaign_id: campaign_id.clone(), event_type });
    }
    if event_type == EventType::TransferToRgeRecorded && !st.echa_approved {
        return Err(Refusal::EchaGate {
            campaign_id: campaign_id.clone(),
            status: st.status,
            next_event_type: st.next_event_type(),
        });
    }
    if st.next_event_type() != Some(event_type) {
        return Err(Refusal::OutOfOrder {
            campaign_id: campaign_id.clone(),
            event_type,
            status: st.status,
            next_event_type: st.next_event_type(),
        });
    }
    if let (Payload::ManufacturingCompleted(p), Some(start)) = (payload, st.manufacturing_start_date) {
        manufacturing_dates(start, p.end_date)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
