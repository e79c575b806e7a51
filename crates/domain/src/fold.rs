//! The fold: a campaign's current state as a pure, total, deterministic function of its events
//! in their canonical order.
//!
//! The canonical order is decided by the store, never by a writer: the sync server's commit
//! order (its positions) first, then the entries this laptop holds that the server has not
//! confirmed yet, in the order they reached this laptop (see `docs/domain.md`). Ids only
//! identify; the time or sequence number an event claims orders nothing. The fold takes the
//! events in that order.
//!
//! Corrections and voids are applied to their targets first ([`Effective`]). Steps then take
//! effect in the progression: each step is taken by its first entry recorded *in order* (every
//! earlier step had an entry before it), or, when none was, by its first entry; an entry whose
//! earlier steps are missing waits and takes effect once they are recorded. So nothing pushed
//! ahead of its time, by any site, moves a campaign, and no entry can make another site's entry
//! count less by the id or time it claims. The fold never fails: an event that breaks the
//! progression is kept and described as an [`Anomaly`]. [`check_next`] holds the strict rules
//! for new local entries; what it refuses is what the fold would report.

use crate::anomaly::Anomaly;

use crate::anomaly::AnomalyKind;

use crate::anomaly::Review;
use crate::state::CampaignState;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::correction::{check_void_in, Effective};
use crate::event::Event;
use crate::field::FieldError;
use crate::flows::{Amendment, AmendmentKind, StepDay};
use crate::ids::{CampaignId, EventId};
use crate::refusal::Refusal;
use crate::registry::payload::{AnomalyReview, EntryVoid, Reading};
use crate::registry::step::Meta;
use crate::registry::{CampaignStatus, EventType, Payload};
use crate::time::{IsoDate, Timestamp};

/// How much more weight a step may take in than the campaign weighed before it (0.5 %, the ISCC
/// tolerance between book and physical quantities): scales differ a little, material does not
/// appear between two steps. Fixed here, so that every laptop and the server judge an entry alike.
pub const MASS_TOLERANCE: f64 = 0.005;

/// Whether `taken_in` kg exceeds `before` kg by more than [`MASS_TOLERANCE`].
fn beyond_tolerance(taken_in: f64, before: f64) -> bool {
    taken_in > before * (1.0 + MASS_TOLERANCE) + 1e-9
}

/// How much a fold keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// Every step's details too.
    Full,
    /// Only what the stored projection holds.
    Projection,
}

/// Folds one campaign's events, given in their canonical order (an id given twice is folded at
/// its first place), into its state. `None` when there are no events.
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

/// Whether [`continue_projection`] may continue `state` with `events` (one stream's, parsed, in
/// their canonical order, all after the events `state` holds): no entry of the campaign waits
/// for an earlier step or arrived ahead of one (a later entry could then take effect, which
/// only a replay sees), each step among them is the next one or one already taken, no void is
/// among them, every correction among them corrects one of them, and no earlier correction
/// still waits for an event it could not find. Otherwise the stream must be replayed.
pub fn can_continue(state: Option<&CampaignState>, events: &[(&Event, Payload)]) -> bool {
    let Some(state) = state else {
        return true;
    };
    let acts_on_one_of_them = |payload: &Payload| match payload {
        Payload::EventCorrected(c) => events.iter().any(|(e, _)| e.id == c.corrects_event_id),
        Payload::EntryVoided(_) => false,
        _ => true,
    };
    let mut reached = state.status.rank();
    let steps_follow = events.iter().all(|(e, _)| match e.event_type.target_status() {
        Some(step) => {
            let follows = step.rank() <= reached + 1;
            reached = reached.max(step.rank());
            follows
        }
        None => true,
    });
    // A state made of newer entries alone was stamped by them; a replay is not.
    state.event_count > 0
        && !state.anomalies.iter().any(|a| a.kind.waits_for_target() || a.kind.is_out_of_order())
        && steps_follow
        && events.iter().all(|(_, payload)| acts_on_one_of_them(payload))
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

/// An entry of a step, as the fold found it at its place in the canonical order.
struct Entry<'e> {
    /// Its place in the canonical order.
    index: usize,
    event: &'e Event,
    /// Its effective payload, until the step is applied.
    payload: Option<Payload>,
    corrected: bool,
    /// The status it reaches.
    step: CampaignStatus,
    /// Whether it came before the campaign's `CampaignCreated`.
    before_creation: bool,
    /// The earlier steps that had no entry before it.
    missing: Vec<CampaignStatus>,
}

impl Entry<'_> {
    fn is_in_order(&self) -> bool {
        self.missing.is_empty()
    }
}

/// Folds `events`, in canonical order, onto `state` (`None`: from the start). `parsed` is empty
/// or holds, for each event, its payload if already parsed. With a state, the events come after
/// every event it holds, and [`can_continue`] allows them.
fn fold_parsed(
    mut state: Option<CampaignState>,
    events: Vec<&Event>,
    mut parsed: Vec<Option<Payload>>,
    detail: Detail,
) -> Option<CampaignState> {
    let mut ids = HashSet::with_capacity(events.len());
    let order: Vec<usize> = (0..events.len()).filter(|&i| ids.insert(&events[i].id)).collect();
    let sorted: Vec<&Event> = order.iter().map(|&i| events[i]).collect();
    let effective = Effective::resolve(&sorted);
    let taken = state.as_ref().map_or(0, |s| s.status.rank());
    let mut created = state.as_ref().is_some_and(CampaignState::is_created);
    // Which steps had an entry so far: those taken before, then as the walk meets them.
    let mut seen = vec![false; CampaignStatus::ALL.len()];
    seen[..=taken].fill(true);
    let mut entries: Vec<Entry> = Vec::new();
    // The campaign's creation, when this fold takes it: the first step of all.
    let mut creation: Option<(usize, &Event)> = None;
    let mut noted: Vec<(usize, Anomaly)> = Vec::new();
    // Events this build leaves out of the fold (of a type it does not know, or corrections it
    // cannot apply) are only counted: the state is what the other events make of it.
    let (mut first_newer, mut newer) = (None, 0);
    let mut reviews = Vec::new();
    for (index, (&i, event)) in order.iter().zip(sorted.iter().copied()).enumerate() {
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
                    kind: AmendmentKind::Voided,
                    step,
                    day: StepDay::of(stated, event.created_at).date,
                    moved_from: None,
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
        count(st, event);
        let payload = match reading {
            // Corrections and voids act through `Effective`; their own anomalies are collected there.
            None => {
                if event.event_type == EventType::EventCorrected {
                    st.correction_count += 1;
                }
                continue;
            }
            Some(Reading::Full(p)) => p,
            Some(Reading::Partial(p)) => {
                st.newer_entries += 1;
                p
            }
            Some(Reading::Newer) => unreachable!("left out above"),
            Some(Reading::Invalid(e)) => {
                let message = format!("unreadable {}: {e}; it has no effect", event.event_type);
                noted.push((index, anomaly(event, AnomalyKind::InvalidPayload, message)));
                continue;
            }
        };
        if let Payload::CampaignCreated(p) = &payload {
            if created {
                let message = "the campaign was already created; this CampaignCreated has no effect";
                noted.push((index, anomaly(event, AnomalyKind::DuplicateStep, message.into())));
            } else {
                st.lego_campaign_code = Some(p.lego_campaign_code.clone());
                st.material_type = Some(p.material_type);
                st.description = p.description.clone();
                st.created_at = Some(event.created_at);
                created = true;
                creation = Some((index, event));
            }
            continue;
        }
        // A type that reaches no status (reviews, and any type declared so in the registry)
        // has nothing more to fold.
        let Some(step) = event.event_type.target_status() else {
            continue;
        };
        let missing =
            CampaignStatus::ALL[1..step.rank()].iter().copied().filter(|s| !seen[s.rank()]).collect();
        seen[step.rank()] = true;
        entries.push(Entry {
            index,
            event,
            payload: Some(payload),
            corrected,
            step,
            before_creation: !created,
            missing,
        });
    }
    // Only events this build cannot fold yet: the campaign exists, with nothing to show.
    let mut state = state.or_else(|| first_newer.map(CampaignState::empty))?;
    state.newer_entries += newer;
    settle(&mut state, entries, creation, taken, &effective, detail, &mut noted);
    let place: HashMap<&EventId, usize> = sorted.iter().enumerate().map(|(i, e)| (&e.id, i)).collect();
    let resolving = effective.anomalies.into_iter();
    noted.extend(resolving.map(|a| (place.get(&a.event_id).copied().unwrap_or(usize::MAX), a)));
    // Anomalies are listed in the canonical order of their entries.
    noted.sort_by_key(|(index, _)| *index);
    state.anomalies.extend(noted.into_iter().map(|(_, a)| a));
    state.apply_reviews(reviews);
    Some(state)
}

/// Decides which entry takes each step not taken before (`taken`: the rank the state had
/// reached), applies the steps that now follow each other without a gap in the progression's
/// order, and notes in `noted` what every other entry is: waiting for an earlier step, or
/// without effect. `creation` is the campaign's creation with its place, when this fold took it.
fn settle(
    st: &mut CampaignState,
    mut entries: Vec<Entry>,
    creation: Option<(usize, &Event)>,
    taken: usize,
    effective: &Effective,
    detail: Detail,
    noted: &mut Vec<(usize, Anomaly)>,
) {
    // Each step goes to its first entry recorded in order, or, when none was, to its first entry.
    let mut chosen: BTreeMap<usize, usize> = BTreeMap::new();
    for (k, entry) in entries.iter().enumerate() {
        let rank = entry.step.rank();
        if rank <= taken {
            continue;
        }
        match chosen.get(&rank) {
            Some(&c) if entries[c].is_in_order() || !entry.is_in_order() => {}
            _ => {
                chosen.insert(rank, k);
            }
        }
    }
    let mut reached = taken;
    while chosen.contains_key(&(reached + 1)) {
        reached += 1;
    }
    // When the status was reached: the latest recording among the entries that reached it.
    let mut since = (taken > 0).then_some(st.status_since);
    // The step that took effect latest in the canonical order: the campaign's last step.
    let mut latest = creation;
    for rank in taken + 1..=reached {
        let k = chosen[&rank];
        if let Some(implausible) = apply_step(st, &mut entries[k], effective, detail) {
            noted.push((entries[k].index, implausible));
        }
        let (index, event) = (entries[k].index, entries[k].event);
        since = Some(since.map_or(event.created_at, |s| s.max(event.created_at)));
        if latest.is_none_or(|(l, _)| l < index) {
            latest = Some((index, event));
        }
    }
    if let Some((_, event)) = latest {
        st.last_event_type = Some(event.event_type);
        st.last_event_at = Some(event.created_at);
    }
    if let Some(since) = since.filter(|_| reached > taken) {
        st.set_status(CampaignStatus::ALL[reached], since);
    } else if reached == 0 {
        if let Some(created_at) = st.created_at {
            st.status_since = created_at;
        }
    }
    let completed = CampaignStatus::Completed.rank();
    let completed_at_index = if taken == completed {
        Some(0)
    } else {
        chosen.get(&completed).filter(|_| reached == completed).map(|&k| entries[k].index)
    };
    for (k, entry) in entries.iter().enumerate() {
        let event = entry.event;
        if entry.before_creation {
            let message = "recorded before this campaign's CampaignCreated (not received yet, or recorded later on another device)";
            noted.push((entry.index, anomaly(event, AnomalyKind::BeforeCreation, message.into())));
        }
        let label = entry.step.step_label();
        let rank = entry.step.rank();
        match chosen.get(&rank) {
            Some(&c) if c == k => {
                if entry.is_in_order() {
                    continue;
                }
                let gate = entry.step == CampaignStatus::TransferredToRge
                    && entry.missing.contains(&CampaignStatus::EchaApproved);
                let kind = if gate { AnomalyKind::EchaGateBypassed } else { AnomalyKind::SkippedSteps };
                let what = if gate {
                    "material was transferred to RGE without a recorded ECHA approval".to_owned()
                } else {
                    format!("recorded while {} {} missing", words(&entry.missing), were(&entry.missing))
                };
                let taken_effect = rank <= reached;
                let message = if taken_effect {
                    format!("{what}; it took effect once {} recorded", them_were(&entry.missing))
                } else {
                    format!("{what}; it has no effect until {} recorded", them_are(&entry.missing))
                };
                noted
                    .push((entry.index, Anomaly { resolved: taken_effect, ..anomaly(event, kind, message) }));
            }
            chosen_entry => {
                let (kind, message) = if completed_at_index.is_some_and(|c| c < entry.index) {
                    (
                        AnomalyKind::AfterCompletion,
                        "recorded after the campaign was completed; it has no effect".to_owned(),
                    )
                } else if !entry.is_in_order() && chosen_entry.is_some_and(|&c| entries[c].is_in_order()) {
                    let message = format!(
                        "{label} was recorded here before {} {}; the entry recorded in order stands, this one has no effect",
                        words(&entry.missing),
                        them_were(&entry.missing)
                    );
                    (AnomalyKind::DuplicateStep, message)
                } else {
                    (
                        AnomalyKind::DuplicateStep,
                        format!("{label} was already recorded; this entry has no effect"),
                    )
                };
                noted.push((entry.index, anomaly(event, kind, message)));
            }
        }
    }
    let finished = CampaignStatus::ManufacturingComplete.rank();
    if (taken + 1..=reached).contains(&finished) {
        if let (Some(start), Some(end)) = (st.manufacturing_start_date, st.manufacturing_end_date) {
            if let Err(e) = manufacturing_dates(start, end) {
                let entry = &entries[chosen[&finished]];
                noted
                    .push((entry.index, anomaly(entry.event, AnomalyKind::InconsistentDates, e.to_string())));
            }
        }
    }
}

/// Applies the entry that takes its step: the campaign's figures follow it.
/// Returns the anomaly of a step that took in more than the campaign weighed before it.
fn apply_step(
    st: &mut CampaignState,
    entry: &mut Entry,
    effective: &Effective,
    detail: Detail,
) -> Option<Anomaly> {
    let event = entry.event;
    let payload = entry.payload.take().expect("each entry is applied once");
    // The campaign weighs what the step put out, or what its receiver weighed in; an entry that
    // puts weight out and takes none in brings the material into the chain.
    let flow = payload.flow();
    let implausible = match (flow.kg_in, st.current_weight_kg) {
        (Some(taken_in), Some(before)) if beyond_tolerance(taken_in, before) => {
            let message = format!(
                "it took in {taken_in} kg, more than the {before} kg the campaign weighed before it (over the {} % \
                 tolerance): material cannot appear between two steps",
                MASS_TOLERANCE * 100.0
            );
            Some(anomaly(event, AnomalyKind::ImplausibleWeight, message))
        }
        _ => None,
    };
    if let Some(weight) = flow.kg_out.or(flow.kg_in) {
        st.current_weight_kg = Some(weight);
    }
    if let (None, Some(weight)) = (flow.kg_in, flow.kg_out) {
        st.inbound_net_weight_kg = Some(weight);
    }
    match payload.event_type() {
        EventType::EchaApprovalRecorded => st.echa_approved = true,
        EventType::CampaignCompleted => st.completed_at = Some(event.created_at),
        _ => {}
    }
    let meta = (detail == Detail::Full).then(|| Meta {
        event_id: event.id.clone(),
        recorded_at: event.created_at,
        recorded_by: event.user_id.clone(),
        device_id: event.device_id.clone(),
        corrected: entry.corrected,
    });
    st.record_step(payload, event, meta);
    if entry.corrected {
        st.note_corrections(entry.step, effective.corrections_of(event));
    }
    implausible
}

/// An anomaly about `event`, not resolved.
fn anomaly(event: &Event, kind: AnomalyKind, message: String) -> Anomaly {
    Anomaly {
        event_id: event.id.clone(),
        event_type: event.event_type,
        kind,
        message,
        review: None,
        resolved: false,
    }
}

/// The steps' names in words: `Granulation, Metal Removal`.
fn words(steps: &[CampaignStatus]) -> String {
    steps.iter().map(|s| s.step_label()).collect::<Vec<_>>().join(", ")
}

fn were(steps: &[CampaignStatus]) -> &'static str {
    if steps.len() == 1 {
        "was"
    } else {
        "were"
    }
}

fn them_were(steps: &[CampaignStatus]) -> &'static str {
    if steps.len() == 1 {
        "it was"
    } else {
        "they were"
    }
}

fn them_are(steps: &[CampaignStatus]) -> &'static str {
    if steps.len() == 1 {
        "it is"
    } else {
        "they are"
    }
}

/// The state as it was recorded at `instant`: only events recorded at or before it count, in
/// their canonical order.
pub fn fold_as_of<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    instant: Timestamp,
) -> Option<CampaignState> {
    fold(events.into_iter().filter(|e| e.created_at <= instant))
}

/// Counts an event this build folds.
fn count(st: &mut CampaignState, event: &Event) {
    st.event_count += 1;
    st.updated_at = st.updated_at.max(event.created_at);
    if event.id > st.last_event_id {
        st.last_event_id = event.id.clone();
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

/// Checks a new review against the campaign's current state: it names an anomaly the campaign
/// shows and nobody has reviewed yet.
pub fn check_review(state: &CampaignState, review: &AnomalyReview) -> Result<(), Refusal> {
    let of_event: Vec<&Anomaly> = state.anomalies.iter().filter(|a| a.event_id == review.event_id).collect();
    if of_event.is_empty() {
        return Err(FieldError::new(
            "eventId",
            format!("this campaign shows no anomaly on entry {}; nothing to review", review.event_id),
        )
        .into());
    }
    let Some(anomaly) = of_event.iter().find(|a| a.kind.as_str() == review.anomaly_kind) else {
        let kinds: Vec<&str> = of_event.iter().map(|a| a.kind.as_str()).collect();
        return Err(FieldError::new(
            "anomalyKind",
            format!(
                "entry {} has no {} anomaly; it has {}",
                review.event_id,
                review.anomaly_kind,
                kinds.join(", ")
            ),
        )
        .into());
    };
    if anomaly.resolved {
        return Err(FieldError::new(
            "eventId",
            "this anomaly was resolved when the missing steps were recorded; nothing to review",
        )
        .into());
    }
    if let Some(earlier) = &anomaly.review {
        return Err(FieldError::new(
            "eventId",
            format!(
                "this anomaly was already reviewed by {} on {}: {}",
                earlier.reviewed_by.display_name(),
                earlier.reviewed_at.datetime().format("%Y-%m-%d"),
                earlier.note
            ),
        )
        .into());
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
    if let (Some(taken_in), Some(before)) = (payload.flow().kg_in, state.and_then(|st| st.current_weight_kg))
    {
        if beyond_tolerance(taken_in, before) {
            return Err(FieldError::new(
                payload.weight_in_field().unwrap_or("data"),
                format!(
                    "must not exceed the campaign's current weight ({before} kg) by more than {} %, got {taken_in} kg: \
                     weigh again, or first correct the output of the step before it",
                    MASS_TOLERANCE * 100.0
                ),
            )
            .into());
        }
    }
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
    // A step taken by an entry recorded ahead of its time may be taken again in order: the new
    // entry then stands, and the early one has no effect.
    if st.next_event_type() != Some(event_type) && !st.taken_out_of_order(event_type) {
        return Err(Refusal::OutOfOrder {
            campaign_id: campaign_id.clone(),
            event_type,
            status: st.status,
            next_event_type: st.next_event_type(),
        });
    }
    Ok(())
}

/// Why strict entry refuses an entry whose fold leaves `after` with an anomaly the campaign did
/// not have (`before`), or `Ok` when it adds none. The explicit checks ([`check_next`], the
/// correction and void rules) say why in detail; this catches any rule they do not cover (a
/// corrected date that now contradicts another step, a void that leaves later steps waiting).
/// An entry that takes a step from one recorded ahead of its time leaves that one without
/// effect: its new anomaly says so, and is no reason to refuse.
pub fn check_no_new_anomaly(
    before: Option<&CampaignState>,
    after: &CampaignState,
    event_type: EventType,
) -> Result<(), Refusal> {
    let known = before.map_or(&[][..], |s| &s.anomalies[..]);
    let superseded: Vec<&EventId> = known
        .iter()
        .filter(|k| k.resolved && k.kind.is_out_of_order() && k.event_type == event_type)
        .map(|k| &k.event_id)
        .collect();
    let arisen = after.anomalies.iter().filter(|a| !a.resolved && !superseded.contains(&&a.event_id));
    let Some(new) = arisen.into_iter().find(|a| !known.iter().any(|k| k.same_as(a))) else {
        return Ok(());
    };
    let message = if event_type == EventType::EntryVoided {
        format!(
            "voiding this entry would leave the campaign out of order ({}: {}); void the later steps first",
            new.event_type.label(),
            new.message
        )
    } else {
        new.message.clone()
    };
    Err(Refusal::Inconsistent { field: None, message })
}

/// Whether entries of one campaign may be voided now, by the rules a laptop applies to a void at
/// entry: [`check_void`](crate::correction::check_void), then no new anomaly once the void is
/// folded in (voiding a step that later steps follow leaves them waiting). What the app asks
/// before a reason is typed, so that a void it would refuse is not offered. The campaign's events
/// are read once for every void tried.
pub struct VoidTrials<'e> {
    events: &'e [&'e Event],
    state: &'e CampaignState,
    effective: Effective,
    parsed: Vec<Option<Payload>>,
}

impl<'e> VoidTrials<'e> {
    /// Trials on the campaign whose events (one stream, canonical order) are `events` and whose
    /// state is `state`.
    pub fn new(events: &'e [&'e Event], state: &'e CampaignState) -> Self {
        let parsed = events
            .iter()
            .map(|e| match Payload::read(e.event_type, e.schema_version, &e.data, e.created_at) {
                Reading::Full(payload) => Some(payload),
                _ => None,
            })
            .collect();
        VoidTrials { events, state, effective: Effective::resolve(events), parsed }
    }

    /// Whether `target`, one of the campaign's entries, may be voided now.
    pub fn check(&self, target: &Event) -> Result<(), Refusal> {
        let void = EntryVoid {
            voids_event_id: target.id.clone(),
            voids_event_type: target.event_type,
            reason: "whether it may be voided".to_owned(),
        };
        check_void_in(self.events, &self.effective, &void)?;
        let Some(last) = self.events.last() else {
            return Ok(());
        };
        let trial = Event {
            id: last.id.successor(),
            event_type: EventType::EntryVoided,
            schema_version: EventType::EntryVoided.schema_version(),
            data: Payload::EntryVoided(void).to_value(),
            device_seq: last.device_seq + 1,
            ..(*last).clone()
        };
        let known = self.events.iter().copied().zip(self.parsed.iter().cloned());
        match fold_projection_parsed(known.chain([(&trial, None)])) {
            Some(after) => check_no_new_anomaly(Some(self.state), &after, EventType::EntryVoided),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
