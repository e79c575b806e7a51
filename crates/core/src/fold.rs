//! The fold: a campaign's current state as a pure, total, deterministic function of its events.
//!
//! Events are applied in event-id order with corrections already applied to their targets
//! ([`Effective`]). The fold never fails: an event that breaks the progression is kept and
//! described as an [`Anomaly`] on the campaign. [`check_next`] holds the strict rules for new
//! local entries; the fold applies the same rules leniently, so what the strict check refuses is
//! exactly what the fold would report.

pub use crate::anomaly::{Anomaly, AnomalyKind, Review};
pub use crate::state::{CampaignState, StepRecord, Steps};

use crate::correction::Effective;
use crate::error::Refusal;
use crate::event::Event;
use crate::ids::CampaignId;
use crate::metrics::StepDay;
use crate::payload::{EventType, FieldError, IsoDate, Payload, Reading};
use crate::period::Amendment;
use crate::state::Meta;
use crate::status::CampaignStatus;
use crate::time::Timestamp;

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
    let acts_on_one_of_them = |payload: &Payload| {
        let target = match payload {
            Payload::EventCorrected(c) => &c.corrects_event_id,
            Payload::EntryVoided(v) => &v.voids_event_id,
            _ => return true,
        };
        events.iter().any(|(e, _)| &e.id == target)
    };
    let waits_for_target = |a: &Anomaly| {
        matches!(a.kind, AnomalyKind::CorrectionOfUnknownEvent | AnomalyKind::VoidOfUnknownEvent)
    };
    // A state made of newer entries alone was stamped by them; a replay is not.
    state.event_count > 0
        && events.first().is_none_or(|(e, _)| e.id > state.last_event_id)
        && !state.anomalies.iter().any(waits_for_target)
        && events.iter().all(|(_, payload)| acts_on_one_of_them(payload))
}

/// Continues the projection `state` of a stream's earlier events with later ones, already
/// parsed and checked, their `data` canonical (as the store reads it back), corrections and
/// voids included: equal to [`fold_projection`] of all of them whenever [`can_continue`] allows it,
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
    let (mut first_newer, mut newer) = (None, 0);
    let mut reviews = Vec::new();
    for (&i, event) in order.iter().zip(sorted) {
        if let Some(void) = effective.voided(event) {
            // Withdrawn: counted as an entry of the campaign, and otherwise left out.
            let st = state.get_or_insert_with(|| CampaignState::empty(event));
            count(st, event);
            if let Some(step) = event.event_type.target_status() {
                let stated = match Payload::read(
                    event.event_type,
                    event.schema_version,
                    &effective.payload(event),
                    event.created_at,
                ) {
                    Reading::Full(p) | Reading::Partial(p) => p.happened_on(),
                    Reading::Newer | Reading::Invalid(_) => None,
                };
                st.flows.amend(Amendment {
                    event_id: void.void_id.clone(),
                    recorded_at: void.voided_at,
                    voided: true,
                    step,
                    day: StepDay::of(stated, event.created_at).date,
                    reason: void.reason.clone(),
                });
            }
            continue;
        }
        let corrected = effective.is_corrected(event);
        let reading =
            (!event.event_type.acts_on_others()).then(|| match parsed.get_mut(i).and_then(Option::take) {
                Some(payload) if !corrected => Reading::Full(payload),
                _ => Payload::read(
                    event.event_type,
                    event.schema_version,
                    &effective.payload(event),
                    event.created_at,
                ),
            });
        if effective.is_newer(event) || matches!(reading, Some(Reading::Newer)) {
            first_newer.get_or_insert(event);
            newer += 1;
            continue;
        }
        if let Some(
            Reading::Full(Payload::AnomalyReviewed(r)) | Reading::Partial(Payload::AnomalyReviewed(r)),
        ) = &reading
        {
            reviews.push(Review {
                review_id: event.id.clone(),
                event_id: r.event_id.clone(),
                anomaly_kind: r.anomaly_kind.clone(),
                note: r.note.clone(),
                reviewed_by: event.user_id.clone(),
                reviewed_at: event.created_at,
            });
        }
        let st = state.get_or_insert_with(|| CampaignState::empty(event));
        let was_recorded = st.is_recorded(event.event_type);
        apply(st, event, reading, corrected, detail);
        // Only the entry that recorded its step moves the balance; a duplicate's corrections do not.
        if corrected && !was_recorded && st.is_recorded(event.event_type) {
            if let Some(status) = event.event_type.target_status() {
                st.note_corrections(status, effective.corrections_of(event));
            }
        }
    }
    // Only events this build cannot fold yet: the campaign exists, with nothing to show.
    let mut state = state.or_else(|| first_newer.map(CampaignState::empty))?;
    state.newer_entries += newer;
    if !effective.anomalies.is_empty() {
        state.anomalies.extend(effective.anomalies);
        state.anomalies.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    }
    state.apply_reviews(reviews);
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
/// event folded so far, is not a correction, void or review, and no correction or void targets
/// it. Equal to [`fold`] of
/// the events plus `event` under those conditions.
pub fn apply_next(state: Option<CampaignState>, event: &Event) -> CampaignState {
    debug_assert!(!event.event_type.is_resolution());
    let mut st = state.unwrap_or_else(|| CampaignState::empty(event));
    let reading = Payload::read(event.event_type, event.schema_version, &event.data, event.created_at);
    apply(&mut st, event, Some(reading), false, Detail::Full);
    // A review that arrived before this event's anomaly applies now.
    st.apply_reviews(Vec::new());
    st
}

/// Whether [`apply_next`] may be used for `event` on `state`.
pub fn can_apply_next(state: Option<&CampaignState>, event: &Event) -> bool {
    !event.event_type.is_resolution() && state.is_none_or(|s| s.event_count > 0 && event.id > s.last_event_id)
}

fn apply(st: &mut CampaignState, event: &Event, reading: Option<Reading>, corrected: bool, detail: Detail) {
    let Some(reading) = reading else {
        // Corrections and voids act through `Effective`; their own anomalies are collected there.
        count(st, event);
        if event.event_type == EventType::EventCorrected {
            st.correction_count += 1;
        }
        return;
    };
    if reading == Reading::Newer {
        st.newer_entries += 1;
        return;
    }
    count(st, event);
    if event.event_type.target_status().is_some() {
        st.last_event_type = Some(event.event_type);
        st.last_event_at = Some(event.created_at);
    }
    let anomaly = |st: &mut CampaignState, kind: AnomalyKind, message: String| {
        st.anomalies.push(Anomaly {
            event_id: event.id.clone(),
            event_type: event.event_type,
            kind,
            message,
            review: None,
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
    // A type that reaches no status (corrections, applied above, and any type declared so in
    // the registry) has nothing more to fold.
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
            st.record_step(payload, event, meta);
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
        Payload::ManufacturingStarted(_)
        | Payload::ManufacturingCompleted(_)
        | Payload::ReturnToLegoRecorded(_) => {}
        // Folded above: they reach no status, or the first one.
        Payload::CampaignCreated(_)
        | Payload::EventCorrected(_)
        | Payload::EntryVoided(_)
        | Payload::AnomalyReviewed(_) => {}
        // Kept in the history; it changes no figure of the projection.
        #[cfg(test)]
        Payload::SampleRetained(_) => {}
    }
    st.set_status(target, event.created_at);
    st.record_step(payload, event, meta);
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
            review: None,
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
    check_step(campaign_id, state, payload.event_type())?;
    if let (Payload::ManufacturingCompleted(p), Some(start)) =
        (payload, state.and_then(|st| st.manufacturing_start_date))
    {
        manufacturing_dates(start, p.end_date)?;
    }
    Ok(())
}

/// The rules of [`check_next`] that need no payload: whether an entry of `event_type` may be
/// recorded next at all (the progression, the ECHA gate, completion). What the app asks before
/// anything is typed, to mark the steps that would be refused.
pub fn check_step(
    campaign_id: &CampaignId,
    state: Option<&CampaignState>,
    event_type: EventType,
) -> Result<(), Refusal> {
    let Some(st) = state else {
        return match event_type {
            EventType::CampaignCreated => Ok(()),
            _ => Err(Refusal::UnknownCampaign(campaign_id.clone())),
        };
    };
    if event_type == EventType::CampaignCreated {
        return Err(Refusal::AlreadyCreated(campaign_id.clone()));
    }
    // Corrections (checked separately) and types that are not steps may follow any step.
    if event_type.target_status().is_none() {
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
    Ok(())
}

#[cfg(test)]
mod tests;
