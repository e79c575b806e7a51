//! Strict local entry: validate against the campaign's current state, insert the event and update
//! the projection, all in one immediate transaction.

use rusqlite::TransactionBehavior;
use serde_json::Value;

use super::rows::{
    event_by_id, insert_event, insert_statement, stream_events, OrderMark, ProjectionRows, RowText,
};
use super::search::{values_of, SearchRows};
use super::{Result, Store, StoreError};
use pluto_domain::anomaly::AnomalyKind;
use pluto_domain::correction::{build_correction, check_correction, check_void, no_entry_to_void};
use pluto_domain::event::{Event, STREAM_TYPE_CAMPAIGN};
use pluto_domain::field::FieldError;
use pluto_domain::fold::{
    can_continue, check_next, check_no_new_anomaly, check_review, continue_projection, fold_projection,
};
use pluto_domain::ids::{CampaignId, EventId, UserId};
use pluto_domain::refusal::Refusal;
use pluto_domain::registry::fields::unknown_field_error;
use pluto_domain::registry::{EventType, Payload};
use pluto_domain::state::CampaignState;
use pluto_domain::time::Timestamp;

/// An entry to record on this laptop.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The campaign; `None` with `CampaignCreated` makes a new one.
    pub campaign_id: Option<CampaignId>,
    /// Which type of the registry.
    pub event_type: EventType,
    /// The payload, as the spec writes it.
    pub data: Value,
    /// Who records it.
    pub user_id: UserId,
    /// The campaign version (its event count) the entry was made against; a different current
    /// version refuses the entry with [`StoreError::Conflict`].
    pub expected_version: Option<u32>,
    /// A caller-chosen event id, so a retried entry is recorded once: recording the same draft
    /// with the same id again returns the first recording.
    pub event_id: Option<EventId>,
}

impl Draft {
    /// A draft of `event_type` on `campaign_id` with no version check and a fresh id.
    pub fn new(campaign_id: Option<CampaignId>, event_type: EventType, data: Value, user_id: UserId) -> Self {
        Draft { campaign_id, event_type, data, user_id, expected_version: None, event_id: None }
    }
}

/// What the person correcting or voiding an entry saw, so that a change someone else made
/// meanwhile is never overwritten unseen.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen<'a> {
    /// The campaign's version (its event count) when it was read: any other entry since refuses.
    pub version: Option<u32>,
    /// The entry's values as they were shown (its effective payload): a correction is refused
    /// if a field it changes holds another value now, a void if any field does.
    pub entry: Option<&'a Value>,
}

/// A recorded event and the campaign's projection after it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The event as stored.
    pub event: Event,
    /// The campaign's projection after the event (without step details: see [`Store::campaign`]).
    pub state: CampaignState,
    /// `false` when the same event had already been recorded (an idempotent retry).
    pub new: bool,
}

impl Store {
    /// Corrects fields of the event `target` of campaign `campaign`, each new value given as a
    /// person typed it (a form field, a command-line `FIELD=VALUE`) and read as that field's
    /// kind. `was` is the field's current effective value, refused as
    /// [`StoreError::ChangedMeanwhile`] when it is not what the person `seen`; the correction then
    /// goes through the same strict rules as any entry. Refusals name the field
    /// (`changes.netWeightKg.now`).
    pub fn correct(
        &mut self,
        campaign: &CampaignId,
        target: &EventId,
        changes: &[(String, String)],
        reason: &str,
        user_id: UserId,
        seen: Seen<'_>,
    ) -> Result<Recorded> {
        let history = self.history(campaign)?;
        let events: Vec<&Event> = history.iter().collect();
        let target_type = events.iter().find(|e| &e.id == target).map(|e| e.event_type);
        if let Some(shown) = seen.entry {
            let fields: Vec<&str> = changes.iter().map(|(field, _)| field.as_str()).collect();
            changed_meanwhile(&events, target, shown, Some(&fields))?;
        }
        let mut values = Vec::with_capacity(changes.len());
        for (field, text) in changes {
            let value = match target_type.map(|t| (t, t.field(field))) {
                Some((_, Some(spec))) => spec.kind.parse_input(spec.required, text).map_err(|message| {
                    Refusal::Field(FieldError::new(format!("changes.{field}.now"), message))
                })?,
                Some((t, None)) => {
                    return Err(
                        Refusal::Field(unknown_field_error(t, &format!("changes.{field}"), field)).into()
                    )
                }
                // No such event: `build_correction` says so, naming it.
                None => Value::String(text.clone()),
            };
            values.push((field.clone(), value));
        }
        let data = build_correction(&events, target, &values, reason)?;
        let mut draft = Draft::new(Some(campaign.clone()), EventType::EventCorrected, data, user_id);
        draft.expected_version = seen.version;
        self.record(draft)
    }

    /// Voids the entry `target` of campaign `campaign` with `reason`: the fold leaves it out from
    /// now on, the history keeps it struck through, and its step can be recorded again. Refused
    /// as [`StoreError::ChangedMeanwhile`] when the entry is not as the person `seen` it.
    pub fn void(
        &mut self,
        campaign: &CampaignId,
        target: &EventId,
        reason: &str,
        user_id: UserId,
        seen: Seen<'_>,
    ) -> Result<Recorded> {
        let target_type = event_by_id(&self.conn, target.as_str())?
            .filter(|e| &e.stream_id == campaign)
            .map(|e| e.event_type)
            .ok_or_else(|| no_entry_to_void(target))?;
        if let Some(shown) = seen.entry {
            let history = self.history(campaign)?;
            changed_meanwhile(&history.iter().collect::<Vec<_>>(), target, shown, None)?;
        }
        let data =
            serde_json::json!({ "voidsEventId": target, "voidsEventType": target_type, "reason": reason });
        let mut draft = Draft::new(Some(campaign.clone()), EventType::EntryVoided, data, user_id);
        draft.expected_version = seen.version;
        self.record(draft)
    }

    /// Marks the anomaly of kind `kind` on entry `event` of campaign `campaign` reviewed, with
    /// `note`: its badge clears, the history keeps it.
    pub fn review(
        &mut self,
        campaign: &CampaignId,
        event: &EventId,
        kind: AnomalyKind,
        note: &str,
        user_id: UserId,
    ) -> Result<Recorded> {
        let data = serde_json::json!({ "eventId": event, "anomalyKind": kind.as_str(), "note": note });
        self.record(Draft::new(Some(campaign.clone()), EventType::AnomalyReviewed, data, user_id))
    }

    /// Records one event on this laptop, strictly: payload rules, the sync server's site policy
    /// (as last fetched), the status progression, the ECHA gate and the correction rules. On
    /// refusal nothing is written.
    pub fn record(&mut self, draft: Draft) -> Result<Recorded> {
        let payload =
            Payload::parse_entry(draft.event_type, &draft.data, Timestamp::now()).map_err(Refusal::Field)?;
        if let Some(policy) = crate::meta::site_policy(&self.conn)? {
            let acts_on = match &payload {
                Payload::EventCorrected(c) => Some(c.corrects_event_type),
                Payload::EntryVoided(v) => Some(v.voids_event_type),
                // A review is judged by the entry it is about, or the type that entry changes.
                Payload::AnomalyReviewed(r) => event_by_id(&self.conn, r.event_id.as_str())?.map(|e| {
                    let field = e.event_type.target_type_field();
                    field
                        .and_then(|f| e.data.get(f)?.as_str().and_then(|t| EventType::parse(t).ok()))
                        .unwrap_or(e.event_type)
                }),
                _ => None,
            };
            policy.refuse(draft.event_type, acts_on)?;
        }
        let campaign_id = match (&draft.campaign_id, draft.event_type) {
            (Some(id), _) => id.clone(),
            (None, EventType::CampaignCreated) => CampaignId::generate(),
            (None, _) => {
                return Err(Refusal::Field(pluto_domain::field::FieldError::new(
                    "campaignId",
                    format!("{} needs the campaign it belongs to", draft.event_type),
                ))
                .into())
            }
        };
        let data = payload.to_value();
        // The stored text is the payload's own serialization, as for events from elsewhere.
        let data_text = serde_json::to_string(&payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // The envelope's other fields are bounded (ids, a user id, a time): 512 bytes at most.
        pluto_domain::bounds::check_size(data_text.len() + 512)
            .map_err(|e| Refusal::Field(FieldError::new("data", e.message)))?;
        let device_id = self.device_id.clone();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut projections = ProjectionRows::new(&tx)?;

        if let Some(id) = &draft.event_id {
            if let Some(existing) = event_by_id(&tx, id.as_str())? {
                let same = existing.stream_id == campaign_id
                    && existing.event_type == draft.event_type
                    && existing.data == data
                    && existing.user_id == draft.user_id;
                if !same {
                    return Err(StoreError::IdReused {
                        id: id.clone(),
                        detail: "a retry must repeat the same campaign, type, payload and user".into(),
                    });
                }
                let state = projections
                    .load(&campaign_id)?
                    .ok_or_else(|| StoreError::Corrupt(format!("no projection for {campaign_id}")))?;
                return Ok(Recorded { event: existing, state, new: false });
            }
        }

        let loaded = projections.load_marked(&campaign_id)?;
        let (before, mark) = loaded.map_or((None, OrderMark::default()), |(s, m)| (Some(s), m));
        let version = before.as_ref().map_or(0, |s| s.event_count);
        if let Some(expected) = draft.expected_version {
            if expected != version {
                return Err(StoreError::Conflict { campaign_id, expected, actual: version });
            }
        }
        check_next(&campaign_id, before.as_ref(), &payload)?;
        let history = match &payload {
            Payload::EventCorrected(correction) => {
                let events = stream_events(&tx, &campaign_id)?;
                check_correction(&events.iter().collect::<Vec<_>>(), correction)?;
                Some(events)
            }
            Payload::EntryVoided(void) => {
                let events = stream_events(&tx, &campaign_id)?;
                check_void(&events.iter().collect::<Vec<_>>(), void)?;
                Some(events)
            }
            Payload::AnomalyReviewed(review) => {
                // `check_next` refused a campaign without a state.
                check_review(before.as_ref().expect("an existing campaign"), review)?;
                None
            }
            _ => None,
        };

        let created_at = Timestamp::now();
        let mut id = draft.event_id.clone().unwrap_or_else(|| EventId::generate(created_at.system_time()));
        // The new entry folds after everything it was validated against whatever its id (it
        // is not confirmed yet). A clock behind another device's still gives it the next id
        // after the campaign's latest, so that builds which fold in id order read it in place;
        // but never an id in the future, which no honest clock made.
        let latest = before.as_ref().map(|s| &s.last_event_id).filter(|last| id <= **last);
        if let Some(last) = latest.filter(|last| pluto_domain::bounds::is_plausible_id(last, created_at)) {
            if draft.event_id.is_none() {
                id = last.successor();
            }
        }
        let device_seq: i64 = tx
            .prepare_cached("SELECT COALESCE(MAX(device_seq), 0) + 1 FROM events WHERE device_id = ?1")?
            .query_row([device_id.as_str()], |r| r.get(0))?;
        let event = Event {
            id,
            stream_type: STREAM_TYPE_CAMPAIGN.to_owned(),
            stream_id: campaign_id,
            event_type: draft.event_type,
            schema_version: draft.event_type.schema_version(),
            data,
            user_id: draft.user_id,
            device_id,
            device_seq: device_seq as u64,
            created_at,
        };
        let next = vec![(&event, payload)];
        // The new entry is not confirmed by the server: it folds last.
        let mut mark = mark;
        mark.push(None);
        let state = match history {
            None if can_continue(before.as_ref(), &next) => {
                continue_projection(before.clone(), next).expect("one event")
            }
            history => {
                // A replay: the history a correction was checked against is reused.
                let mut events = match history {
                    Some(events) => events,
                    None => stream_events(&tx, &event.stream_id)?,
                };
                events.push(event.clone());
                fold_projection(&events).expect("at least one event")
            }
        };
        check_no_new_anomaly(before.as_ref(), &state, event.event_type)?;
        let seq = {
            let mut insert = insert_statement(&tx)?;
            let text = RowText {
                event_type: event.event_type.as_str(),
                data: &data_text,
                raw: None,
                position: None,
                site: None,
            };
            insert_event(&tx, &mut insert, &event, text)?
        };
        let Some(seq) = seq else {
            // The id was checked above inside this transaction; another writer cannot have it.
            return Err(StoreError::IdReused { id: event.id, detail: "recorded concurrently".into() });
        };
        projections.save(&state, mark, before.as_ref().map(|s| s.status))?;
        drop(projections);
        SearchRows::new(&tx).add_recorded(seq, &values_of(&event))?;
        tx.commit()?;
        Ok(Recorded { event, state, new: true })
    }
}

/// Refuses a correction or void of `target` (in the stream `events`, canonical order) when the
/// values it has now differ from `shown`, what the person saw, in `fields` (every field when
/// `None`): the message names who corrected which field to what, and when.
fn changed_meanwhile(
    events: &[&Event],
    target: &EventId,
    shown: &Value,
    fields: Option<&[&str]>,
) -> Result<()> {
    let Some(entry) = events.iter().find(|e| &e.id == target) else {
        // No such entry: the usual refusal names it.
        return Ok(());
    };
    let now = pluto_domain::correction::Effective::resolve(events).payload(entry).into_owned();
    let names: Vec<&str> = match fields {
        Some(fields) => fields.to_vec(),
        None => entry.event_type.fields().iter().map(|f| f.name).collect(),
    };
    let differs = |field: &&&str| {
        let at = |v: &Value| pluto_domain::correction::field_value(v, field);
        !pluto_domain::correction::json_eq(&at(shown), &at(&now))
    };
    let Some(field) = names.iter().find(differs) else {
        return Ok(());
    };
    let spec = entry.event_type.field(field);
    let label = spec.map_or(*field, |s| s.label);
    let step = entry.event_type.label();
    let value = pluto_domain::correction::field_value(&now, field);
    let shown_now = spec.map_or_else(|| pluto_domain::field::describe(&value), |s| s.kind.display(&value));
    // The latest correction of that field, in canonical order.
    let by = events.iter().rev().find(|e| {
        e.event_type == EventType::EventCorrected
            && e.data.get("correctsEventId").and_then(Value::as_str) == Some(target.as_str())
            && e.data.get("changes").and_then(|c| c.get(*field)).is_some()
    });
    let message = match by {
        Some(correction) => format!(
            "{} corrected {step}'s {} to {shown_now} {} while you were typing; check it, then correct again",
            correction.user_id.display_name(),
            label.to_lowercase(),
            pluto_domain::time::local_when(correction.created_at),
        ),
        None => format!(
            "{step}'s {} is now {shown_now}, not what the form showed; check it, then correct again",
            label.to_lowercase()
        ),
    };
    Err(StoreError::ChangedMeanwhile(message))
}
