//! A campaign's full record as people read it: its state, the twelve stages, every event with
//! the corrections that apply to it, the mass balance, what to record next, and the
//! chain-of-custody export. The desktop app shows it; nothing here is stored.

use serde::Serialize;
use serde_json::Value;

use pluto_domain::correction::Effective;

use pluto_domain::anomaly::Anomaly;
use pluto_domain::correction::Voided;
use pluto_domain::event::Event;
use pluto_domain::flows::StepDay;
use pluto_domain::fold::{check_step, fold, VoidTrials};
use pluto_domain::ids::{EventId, UserId};
use pluto_domain::metrics::MassBalance;
use pluto_domain::policy::SitePolicy;
use pluto_domain::registry::fields::FieldSpec;
use pluto_domain::registry::payload::Reading;
use pluto_domain::registry::{CampaignStatus, EventType, Payload};
use pluto_domain::state::CampaignState;
use pluto_domain::time::Timestamp;

/// One of the twelve stages, as the stepper shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    /// The status this stage reaches.
    pub status: CampaignStatus,
    /// Its label (`Granulation`).
    pub label: String,
    /// The event that records it.
    pub event_type: EventType,
    /// When it was recorded, if it was.
    pub recorded_at: Option<Timestamp>,
    /// The day it took place, if it was recorded: the date its entry states, else the day it
    /// was recorded.
    pub day: Option<StepDay>,
    /// Whether it is the campaign's current status.
    pub current: bool,
}

/// A field change a correction made to an event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct AppliedChange {
    /// The `EventCorrected` event.
    pub correction_id: EventId,
    /// The corrected field.
    pub field: String,
    /// Its value before the correction, as the corrector saw it.
    pub was: Value,
    /// Its value after.
    pub now: Value,
    /// Why.
    pub reason: String,
    /// When the correction was recorded.
    pub recorded_at: Timestamp,
    /// Who recorded it.
    pub recorded_by: UserId,
    /// Their name, as the id keeps it ([`UserId::display_name`]).
    pub recorded_by_name: String,
}

/// One event of the history, with its effective values.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct RecordEntry {
    /// The event as recorded (its original values).
    pub event: Event,
    /// What it records, in words (`Granulation`, `Correction`).
    pub label: String,
    /// Its payload with every correction applied.
    pub effective: Value,
    /// The corrections of this event, oldest first.
    pub corrections: Vec<AppliedChange>,
    /// The fields of its type, in form order, for display and for picking what to correct.
    pub fields: Vec<FieldSpec>,
    /// For a correction this build reads: what it corrects and how.
    pub correction: Option<CorrectionNote>,
    /// The site whose device token pushed it, as the sync server attests it (unlike `userId`,
    /// which the recording laptop states); `None` until the event came back from the server.
    pub site: Option<String>,
    /// Who recorded it, by name as the user id keeps it ([`UserId::display_name`]).
    pub recorded_by_name: String,
    /// When a void withdrew this entry: who, when and why. The fold leaves it out.
    pub voided: Option<Voided>,
    /// For a void: what it withdraws and why.
    pub void: Option<VoidNote>,
    /// For a review: which anomaly it accepts and the reviewer's note.
    pub review: Option<ReviewNote>,
    /// Whether it acts on other entries (a correction, void or review,
    /// [`EventType::is_resolution`]) or was recorded by a newer Pluto: neither is corrected or
    /// voided itself.
    pub resolution_or_newer: bool,
    /// Why this laptop would refuse to void it now, in words (the site policy, a step that later
    /// steps follow); `None` when it may be voided, or is not an entry that is voided (a
    /// correction, a void, a review, the campaign's creation, an entry voided already).
    pub void_refused: Option<String>,
    /// Why this laptop would refuse to correct it now (the site policy), in words.
    pub correct_refused: Option<String>,
}

/// What a void withdraws, as the history shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct VoidNote {
    /// The voided event.
    pub voids_event_id: EventId,
    /// What it records (`Granulation`).
    pub voids_label: String,
    /// Why.
    pub reason: String,
}

/// What a review accepts, as the history shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ReviewNote {
    /// The event the reviewed anomaly is about.
    pub event_id: EventId,
    /// What that event records (`Granulation`).
    pub entry_label: String,
    /// The anomaly's kind, as the review names it.
    pub anomaly_kind: String,
    /// The reviewer's note.
    pub note: String,
}

/// What a correction changes, as the history shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct CorrectionNote {
    /// The corrected event.
    pub corrects_event_id: EventId,
    /// What the corrected event records (`Inbound Shipment`), or its id when this campaign does
    /// not hold it.
    pub corrects_label: String,
    /// Why.
    pub reason: String,
    /// Each changed field, in name order.
    pub changes: Vec<ChangeNote>,
}

/// One field a correction changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ChangeNote {
    /// The field's name.
    pub field: String,
    /// The field's spec in the corrected event's type, for its label and how to show a value.
    pub spec: Option<FieldSpec>,
    /// Its value before, as the corrector saw it.
    pub was: Value,
    /// Its value after.
    pub now: Value,
}

/// What the campaign expects next.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct NextStep {
    /// The event type to record.
    pub event_type: EventType,
    /// Its label.
    pub label: String,
    /// Its fields, in form order.
    pub fields: Vec<FieldSpec>,
    /// A rule the coordinator should know about before recording (the ECHA gate).
    pub note: Option<String>,
}

/// Whether a step may be recorded on the campaign now, asked before anything is typed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct StepCheck {
    /// The step's event type.
    pub event_type: EventType,
    /// Why this laptop would refuse it now, in words; `None` when it may be recorded.
    pub refused: Option<String>,
}

/// An anomaly with what the coordinator can do about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct AnomalyNote {
    /// The anomaly.
    pub anomaly: Anomaly,
    /// What it means in practice and how to resolve it.
    pub remedy: String,
    /// Who reviewed it, by name; `None` while it waits for review.
    pub reviewed_by_name: Option<String>,
    /// The site whose token pushed the review, as the sync server attests it (unlike the name,
    /// which the reviewing laptop states); `None` until the review came back from the server.
    pub reviewed_at_site: Option<String>,
}

/// Everything about one campaign, as recorded (up to an instant, for "as of").
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct CampaignRecord {
    /// The folded state.
    pub state: CampaignState,
    /// The twelve stages.
    pub stages: Vec<Stage>,
    /// Every event in recording order, corrections included.
    pub events: Vec<RecordEntry>,
    /// Weights, yields, losses and durations.
    pub mass_balance: MassBalance,
    /// The campaign's anomalies with their remedies.
    pub anomalies: Vec<AnomalyNote>,
    /// The step expected next; `None` once completed (or while viewing the past).
    pub next_step: Option<NextStep>,
    /// Every step after creation, with why it would be refused now (empty while viewing the
    /// past, where nothing is recorded).
    pub step_checks: Vec<StepCheck>,
    /// The instant this record is as of; `None` for now.
    pub as_of: Option<Timestamp>,
    /// When some of its entries were recorded by a newer Pluto: that they are kept, and that
    /// updating shows them.
    pub newer_note: Option<String>,
}

/// Words on the ECHA gate, shown where it blocks.
pub const ECHA_GATE_NOTE: &str = "ECHA testing must approve the material before it may move to RGE: \
     record ECHA's approval first; the transfer to RGE is refused until then.";

/// Words for a campaign holding entries this build does not fully show, or `None`.
pub fn newer_entries_note(newer_entries: u32) -> Option<String> {
    match newer_entries {
        0 => None,
        1 => Some(NEWER_ENTRY_NOTE.to_owned()),
        n => Some(format!(
            "{n} entries of this campaign were recorded by a newer version of Pluto Tracker. They are kept \
             safely; update Pluto Tracker to see them in full."
        )),
    }
}

const NEWER_ENTRY_NOTE: &str =
    "One entry of this campaign was recorded by a newer version of Pluto Tracker. \
     It is kept safely; update Pluto Tracker to see it in full.";

impl CampaignRecord {
    /// The record of the campaign whose events (one stream, in canonical order) are `events`, as of
    /// `as_of` when given (events recorded after it are left out). Durations run up to `now`.
    /// `None` when no event is left.
    pub fn of(events: &[Event], as_of: Option<Timestamp>, now: Timestamp) -> Option<CampaignRecord> {
        let events: Vec<&Event> = events.iter().filter(|e| as_of.is_none_or(|t| e.created_at <= t)).collect();
        let state = fold(events.iter().copied())?;
        let effective = Effective::resolve(&events);
        let mut entries: Vec<RecordEntry> = events
            .iter()
            .map(|e| RecordEntry {
                event: (*e).clone(),
                label: e.event_type.label().to_owned(),
                effective: effective.payload(e).into_owned(),
                corrections: Vec::new(),
                fields: e.event_type.fields().to_vec(),
                correction: None,
                site: None,
                recorded_by_name: e.user_id.display_name(),
                voided: effective.voided(e).cloned(),
                resolution_or_newer: e.event_type.is_resolution() || e.event_type == EventType::Newer,
                void: None,
                review: None,
                void_refused: None,
                correct_refused: None,
            })
            .collect();
        let label_of = |entries: &[RecordEntry], id: &EventId| {
            entries.iter().find(|t| &t.event.id == id).map_or_else(|| id.to_string(), |t| t.label.clone())
        };
        for i in 0..entries.len() {
            let event = &entries[i].event;
            match Payload::read(event.event_type, event.schema_version, &event.data, event.created_at) {
                Reading::Full(Payload::EntryVoided(v)) | Reading::Partial(Payload::EntryVoided(v)) => {
                    let voids_label = label_of(&entries, &v.voids_event_id);
                    entries[i].void =
                        Some(VoidNote { voids_event_id: v.voids_event_id, voids_label, reason: v.reason });
                }
                Reading::Full(Payload::AnomalyReviewed(r))
                | Reading::Partial(Payload::AnomalyReviewed(r)) => {
                    let entry_label = label_of(&entries, &r.event_id);
                    entries[i].review = Some(ReviewNote {
                        event_id: r.event_id,
                        entry_label,
                        anomaly_kind: r.anomaly_kind,
                        note: r.note,
                    });
                }
                _ => {}
            }
        }
        for i in 0..entries.len() {
            let event = &entries[i].event;
            let (Reading::Full(Payload::EventCorrected(c)) | Reading::Partial(Payload::EventCorrected(c))) =
                Payload::read(event.event_type, event.schema_version, &event.data, event.created_at)
            else {
                continue;
            };
            let (correction_id, recorded_at, recorded_by) =
                (event.id.clone(), event.created_at, event.user_id.clone());
            let target = entries.iter().position(|t| t.event.id == c.corrects_event_id);
            let note = CorrectionNote {
                corrects_event_id: c.corrects_event_id.clone(),
                corrects_label: target
                    .map_or_else(|| c.corrects_event_id.to_string(), |t| entries[t].label.clone()),
                reason: c.reason.clone(),
                changes: c
                    .changes
                    .iter()
                    .map(|(field, change)| ChangeNote {
                        field: field.clone(),
                        spec: c.corrects_event_type.field(field).copied(),
                        was: change.was.clone(),
                        now: change.now.clone(),
                    })
                    .collect(),
            };
            entries[i].correction = Some(note);
            let Some(target) = target else {
                continue;
            };
            for (field, change) in c.changes {
                entries[target].corrections.push(AppliedChange {
                    correction_id: correction_id.clone(),
                    field,
                    was: change.was,
                    now: change.now,
                    reason: c.reason.clone(),
                    recorded_at,
                    recorded_by_name: recorded_by.display_name(),
                    recorded_by: recorded_by.clone(),
                });
            }
        }
        let stages = CampaignStatus::ALL
            .iter()
            .map(|&status| {
                let event_type = status.reached_by();
                let recorded_at = if event_type == EventType::CampaignCreated {
                    state.created_at
                } else {
                    state.steps.recorded_at(event_type)
                };
                Stage {
                    status,
                    label: status.step_label().to_owned(),
                    event_type,
                    recorded_at,
                    day: recorded_at.map(|at| StepDay::of(state.steps.happened_on(event_type), at)),
                    current: status == state.status,
                }
            })
            .collect();
        let next_step = match as_of {
            Some(_) => None,
            None => state.next_event_type().map(|event_type| NextStep {
                event_type,
                label: event_type.label().to_owned(),
                fields: event_type.fields().to_vec(),
                note: matches!(state.status, CampaignStatus::ExtrusionComplete)
                    .then(|| ECHA_GATE_NOTE.to_owned()),
            }),
        };
        let step_checks = match as_of {
            Some(_) => Vec::new(),
            None => EventType::STEPS[1..]
                .iter()
                .map(|&event_type| StepCheck {
                    event_type,
                    refused: check_step(&state.id, Some(&state), event_type).err().map(|r| r.to_string()),
                })
                .collect(),
        };
        if as_of.is_none() {
            let trials = VoidTrials::new(&events, &state);
            for (entry, event) in entries.iter_mut().zip(&events) {
                if entry.voided.is_none()
                    && !entry.resolution_or_newer
                    && event.event_type != EventType::CampaignCreated
                {
                    entry.void_refused = trials.check(event).err().map(|r| r.to_string());
                }
            }
        }
        let mass_balance = MassBalance::of(&state, as_of.unwrap_or(now));
        let anomalies = state
            .anomalies
            .iter()
            .map(|a| AnomalyNote {
                anomaly: a.clone(),
                remedy: a.kind.remedy().to_owned(),
                reviewed_by_name: a.review.as_ref().map(|r| r.reviewed_by.display_name()),
                reviewed_at_site: None,
            })
            .collect();
        let newer_note = newer_entries_note(state.newer_entries);
        Some(CampaignRecord {
            state,
            stages,
            events: entries,
            mass_balance,
            anomalies,
            next_step,
            step_checks,
            as_of,
            newer_note,
        })
    }

    /// Marks what this laptop may not do on the campaign by the sync server's site policy (as
    /// last fetched), before anything is typed: the steps its site may not record, the entries
    /// it may not correct or void. Nothing while viewing the past, where nothing is recorded.
    pub fn apply_policy(&mut self, policy: &SitePolicy) {
        if self.as_of.is_some() {
            return;
        }
        for check in self.step_checks.iter_mut().filter(|c| c.refused.is_none()) {
            check.refused = policy.refuse(check.event_type, None).err().map(|r| r.to_string());
        }
        for entry in self.events.iter_mut().filter(|e| e.voided.is_none() && !e.resolution_or_newer) {
            let changed = Some(entry.event.event_type);
            entry.correct_refused =
                policy.refuse(EventType::EventCorrected, changed).err().map(|r| r.to_string());
            if entry.event.event_type != EventType::CampaignCreated {
                if let Err(refusal) = policy.refuse(EventType::EntryVoided, changed) {
                    entry.void_refused = Some(refusal.to_string());
                }
            }
        }
    }

    /// Marks each entry with the site the sync server attests for it (see
    /// [`pluto_store::Store::server_sites`]).
    pub fn attest_sites(&mut self, sites: &std::collections::HashMap<EventId, String>) {
        for entry in &mut self.events {
            entry.site = sites.get(&entry.event.id).cloned();
        }
        for note in &mut self.anomalies {
            note.reviewed_at_site =
                note.anomaly.review.as_ref().and_then(|r| sites.get(&r.review_id)).cloned();
        }
    }

    /// The chain-of-custody record as CSV: one row per field of every event (original value,
    /// effective value, and the corrections that changed it), so an auditor can follow who
    /// recorded what, when and on which laptop.
    ///
    /// Written for the spreadsheet that opens it: UTF-8 with a byte-order mark (so that Excel
    /// reads "Søren" as written), the separator given (`;` is what Danish and German Excel
    /// split on, and then numbers take a decimal comma), and times in the zone `tz` in a form
    /// Excel reads as a date, next to their offset and the UTC instant. A file made from the
    /// training database (`training`) says so on its first line, above the header.
    pub fn custody_csv<Tz: chrono::TimeZone>(
        &self,
        separator: CsvSeparator,
        tz: &Tz,
        training: bool,
    ) -> Vec<u8>
    where
        Tz::Offset: std::fmt::Display,
    {
        let mut out = csv::WriterBuilder::new()
            .delimiter(separator.byte())
            // The training line has one column, the rows many.
            .flexible(true)
            .terminator(csv::Terminator::CRLF)
            .from_writer("\u{feff}".as_bytes().to_vec());
        let mut rows: Vec<Vec<String>> = Vec::new();
        if training {
            rows.push(vec![TRAINING_LINE.to_owned()]);
        }
        rows.push(CUSTODY_HEADER.iter().map(|s| (*s).to_owned()).collect());
        let code = self.state.lego_campaign_code.clone().unwrap_or_default();
        for row in self.custody_rows() {
            let e = &row.entry.event;
            let local = e.created_at.datetime().with_timezone(tz);
            rows.push(vec![
                e.stream_id.to_string(),
                code.clone(),
                e.id.to_string(),
                e.event_type.to_string(),
                row.entry.label.clone(),
                local.format("%Y-%m-%d %H:%M:%S").to_string(),
                format!("UTC{}", local.offset()),
                e.created_at.to_string(),
                e.user_id.as_str().to_owned(),
                row.entry.recorded_by_name.clone(),
                e.device_id.to_string(),
                row.entry.site.clone().unwrap_or_default(),
                row.field.clone(),
                cell(row.recorded, separator),
                cell(row.effective, separator),
                row.correction_ids(),
                row.correction_reasons(),
                row.entry.voided.as_ref().map(|v| v.void_id.to_string()).unwrap_or_default(),
                row.entry.voided.as_ref().map(|v| v.reason.clone()).unwrap_or_default(),
            ]);
        }
        for row in rows {
            out.write_record(row.iter().map(|c| defused(c).into_owned()))
                .expect("writing to memory cannot fail");
        }
        out.into_inner().expect("writing to memory cannot fail")
    }
}

/// The columns of the chain-of-custody record, in the CSV and the workbook alike.
pub const CUSTODY_HEADER: [&str; 19] = [
    "campaign_id",
    "lego_campaign_code",
    "event_id",
    "event_type",
    "step",
    "recorded_at",
    "utc_offset",
    "recorded_at_utc",
    "recorded_by",
    "recorded_by_name",
    "device_id",
    "attested_site",
    "field",
    "recorded_value",
    "effective_value",
    "correction_ids",
    "correction_reasons",
    "voided_by",
    "void_reason",
];

/// The line a file made from the training database starts with.
pub const TRAINING_LINE: &str = "TRAINING: practice data, not a real record";

/// One row of the chain-of-custody record: one field of one entry, as recorded and as it stands
/// after corrections.
pub struct CustodyRow<'a> {
    /// The entry.
    pub entry: &'a RecordEntry,
    /// The field's name.
    pub field: String,
    /// Its value as recorded.
    pub recorded: Option<&'a Value>,
    /// Its value with every correction applied.
    pub effective: Option<&'a Value>,
    /// The corrections that changed it, oldest first.
    pub changes: Vec<&'a AppliedChange>,
}

impl CustodyRow<'_> {
    /// The ids of the corrections that changed the field, space-separated.
    pub fn correction_ids(&self) -> String {
        self.changes.iter().map(|c| c.correction_id.to_string()).collect::<Vec<_>>().join(" ")
    }

    /// Their reasons, `|`-separated.
    pub fn correction_reasons(&self) -> String {
        self.changes.iter().map(|c| c.reason.as_str()).collect::<Vec<_>>().join(" | ")
    }
}

impl CampaignRecord {
    /// The rows of the chain-of-custody record: every field an entry holds (a correction's
    /// changed fields), in recording order; fields empty both as recorded and now are left out.
    pub fn custody_rows(&self) -> impl Iterator<Item = CustodyRow<'_>> {
        self.events.iter().flat_map(|entry| {
            let e = &entry.event;
            let names: Vec<String> = match &e.data {
                Value::Object(map) if e.event_type == EventType::EventCorrected => {
                    map.keys().cloned().collect()
                }
                _ => entry.fields.iter().map(|f| f.name.to_owned()).collect(),
            };
            let present = |v: &&Value| !matches!(v, Value::Null) && v.as_str() != Some("");
            names.into_iter().filter_map(move |field| {
                let recorded = e.data.get(&field).filter(present);
                let effective = entry.effective.get(&field).filter(present);
                if recorded.is_none() && effective.is_none() {
                    return None;
                }
                let changes = entry.corrections.iter().filter(|c| c.field == field).collect();
                Some(CustodyRow { entry, field, recorded, effective, changes })
            })
        })
    }
}

/// The separator of a CSV file, which also decides its decimal mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum CsvSeparator {
    /// `,` with decimal points: English Excel and most tools.
    Comma,
    /// `;` with decimal commas: Danish and German Excel.
    Semicolon,
}

impl CsvSeparator {
    fn byte(self) -> u8 {
        match self {
            CsvSeparator::Comma => b',',
            CsvSeparator::Semicolon => b';',
        }
    }
}

/// A JSON value as a CSV cell: text as is, numbers with the separator's decimal mark, other
/// values as JSON.
fn cell(value: Option<&Value>, separator: CsvSeparator) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) if separator == CsvSeparator::Semicolon => n.to_string().replace('.', ","),
        Some(v) => v.to_string(),
    }
}

/// A cell a spreadsheet would run as a formula gets a leading `'`.
fn defused(cell: &str) -> std::borrow::Cow<'_, str> {
    let number = cell.replace(',', ".").parse::<f64>().is_ok();
    if cell.starts_with(['=', '+', '@']) || (cell.starts_with('-') && !number) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pluto_domain::ids::{CampaignId, DeviceId};
    use pluto_domain::samples::SampleCampaign;
    use serde_json::json;

    fn event(n: u64, campaign: &CampaignId, event_type: EventType, data: Value) -> Event {
        Event {
            id: EventId::from_ulid(ulid::Ulid::from_parts(1_700_000_000_000 + n * 60_000, u128::from(n))),
            stream_type: "campaign".into(),
            stream_id: campaign.clone(),
            event_type,
            schema_version: 1,
            data,
            user_id: UserId::parse("usr_ana").unwrap(),
            device_id: DeviceId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            device_seq: n,
            created_at: Timestamp::from_millis(i64::try_from(1_700_000_000_000 + n * 60_000).unwrap()),
        }
    }

    fn campaign_to(steps: usize) -> Vec<Event> {
        let sample = SampleCampaign::numbered(7);
        let id = CampaignId::from_ulid(ulid::Ulid::from_parts(1, 7));
        EventType::STEPS[..=steps]
            .iter()
            .enumerate()
            .map(|(i, &t)| event(i as u64 + 1, &id, t, sample.payload(t).unwrap()))
            .collect()
    }

    /// Appends a correction of the inbound shipment's (`events[1]`) net weight, 10.5 kg less,
    /// "scale misread"; returns the weight as recorded and as corrected.
    fn correct_net_weight(events: &mut Vec<Event>) -> (Value, f64) {
        let inbound = &events[1];
        let was = inbound.data["netWeightKg"].clone();
        let now = was.as_f64().unwrap() - 10.5;
        let correction = event(
            10,
            &inbound.stream_id,
            EventType::EventCorrected,
            json!({
                "correctsEventId": inbound.id, "correctsEventType": "InboundShipmentRecorded",
                "reason": "scale misread", "changes": {"netWeightKg": {"was": was, "now": now}}
            }),
        );
        events.push(correction);
        (was, now)
    }

    /// What a Danish or German Excel needs: a byte-order mark, `;` between columns, decimal
    /// commas, local times it reads as dates; read back, every column is where it belongs.
    #[test]
    fn the_custody_csv_opens_as_columns_in_danish_and_english_excel() {
        let mut events = campaign_to(1);
        events[1].data["carrier"] = json!("Søren Müller; Vejle");
        events[1].data["netWeightKg"] = json!(3360.2);
        events[1].data["grossWeightKg"] = json!(3400.5);
        let record = CampaignRecord::of(&events, None, Timestamp::now()).unwrap();
        let copenhagen = chrono::FixedOffset::east_opt(3600).unwrap();
        for (separator, byte, weight) in
            [(CsvSeparator::Semicolon, b';', "3360,2"), (CsvSeparator::Comma, b',', "3360.2")]
        {
            let csv = record.custody_csv(separator, &copenhagen, false);
            assert!(csv.starts_with("\u{feff}".as_bytes()), "a byte-order mark first");
            let mut reader = csv::ReaderBuilder::new().delimiter(byte).from_reader(&csv[3..]);
            let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
            let column = |name: &str| header.iter().position(|h| h == name).unwrap();
            let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
            assert!(rows.iter().all(|r| r.len() == header.len()), "every row has every column");
            let field = |name: &str| rows.iter().find(|r| &r[column("field")] == name).unwrap();
            assert_eq!(&field("carrier")[column("recorded_value")], "Søren Müller; Vejle");
            assert_eq!(&field("netWeightKg")[column("recorded_value")], weight);
            let created = &field("netWeightKg");
            let utc = events[1].created_at.datetime();
            assert_eq!(
                &created[column("recorded_at")],
                utc.with_timezone(&copenhagen).format("%Y-%m-%d %H:%M:%S").to_string()
            );
            assert_eq!(&created[column("utc_offset")], "UTC+01:00");
            assert_eq!(&created[column("recorded_at_utc")], events[1].created_at.to_string());
        }
        let training =
            String::from_utf8(record.custody_csv(CsvSeparator::Semicolon, &copenhagen, true)).unwrap();
        let mut lines = training.lines();
        assert_eq!(lines.next(), Some("\u{feff}TRAINING: practice data, not a real record"));
        assert!(lines.next().unwrap().starts_with("campaign_id;"), "the header follows");
    }

    #[test]
    fn a_correction_shows_on_its_target_with_the_original_kept() {
        let mut events = campaign_to(2);
        let (was, now) = correct_net_weight(&mut events);
        let record = CampaignRecord::of(&events, None, Timestamp::now()).unwrap();
        let entry = &record.events[1];
        assert_eq!(entry.event.data["netWeightKg"], was, "the recorded value stays visible");
        assert_eq!(entry.effective["netWeightKg"], json!(now));
        assert_eq!(entry.corrections.len(), 1);
        assert_eq!(entry.corrections[0].reason, "scale misread");
        assert_eq!(record.state.inbound_net_weight_kg, Some(now));
        let csv = String::from_utf8(record.custody_csv(CsvSeparator::Comma, &chrono::Utc, false)).unwrap();
        let row = csv.lines().find(|l| l.contains(",netWeightKg,")).unwrap();
        assert!(row.contains(&format!(",{was},{now},")), "{row}");
        assert!(row.ends_with("scale misread,,"), "{row}");
    }

    /// The workbook holds the CSV's rows with typed cells: Excel sorts weights as numbers and
    /// filters dates as dates, whatever its language. It is for people: its headings are words,
    /// and each row names its field by the label the form shows.
    #[test]
    fn the_custody_workbook_holds_typed_values_with_corrections_beside_them() {
        use calamine::{Data, Reader, Xlsx};
        use pluto_domain::registry::fields::FieldKind;
        let mut events = campaign_to(1);
        events[1].data["carrier"] = json!("=Søren Müller");
        let inbound = events[1].clone();
        let (was, now) = correct_net_weight(&mut events);
        let record = CampaignRecord::of(&events, None, Timestamp::now()).unwrap();
        assert_eq!(record.events[1].effective["netWeightKg"], json!(now));
        let copenhagen = chrono::FixedOffset::east_opt(3600).unwrap();
        let bytes = crate::xlsx::custody_record(&record, &copenhagen, false).unwrap();
        let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        let sheet = book.worksheet_range("Chain of custody").unwrap();
        let rows: Vec<Vec<Data>> = sheet.rows().map(<[Data]>::to_vec).collect();
        let header = rows.iter().position(|r| r[0] == Data::String("Campaign id".into())).unwrap();
        let headings: Vec<String> = rows[header].iter().map(ToString::to_string).collect();
        assert_eq!(headings, crate::xlsx::CUSTODY_HEADINGS);
        let column = |name: &str| rows[header].iter().position(|c| *c == Data::String(name.into())).unwrap();
        let field = |name: &str| {
            rows.iter().find(|r| r[column("Field")] == Data::String(name.into())).unwrap().clone()
        };
        let weight = field("Net weight");
        assert_eq!(weight[column("Value as recorded")], Data::Float(was.as_f64().unwrap()));
        assert_eq!(weight[column("Value now")], Data::Float(now));
        assert_eq!(weight[column("Reasons for the corrections")], Data::String("scale misread".into()));
        assert_eq!(
            field("Carrier")[column("Value as recorded")],
            Data::String("=Søren Müller".into()),
            "text stays text, never a formula"
        );
        let recorded_at = &weight[column("Recorded at")];
        let local = inbound.created_at.datetime().with_timezone(&copenhagen).naive_local();
        assert_eq!(calamine::DataType::as_datetime(recorded_at), Some(local), "{recorded_at:?}");
        assert_eq!(weight[column("UTC offset")], Data::String("UTC+01:00".into()));
        let date_field = inbound.event_type.fields().iter().find(|f| f.kind == FieldKind::Date).unwrap();
        assert!(matches!(field(date_field.label)[column("Value as recorded")], Data::DateTime(_)));

        let training = crate::xlsx::custody_record(&record, &copenhagen, true).unwrap();
        let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(training)).unwrap();
        let title = book.worksheet_range("Chain of custody").unwrap().get_value((0, 0)).cloned();
        assert_eq!(title, Some(Data::String(TRAINING_LINE.into())));
    }

    #[test]
    fn stages_mark_what_is_recorded_and_the_gate_is_explained() {
        let events = campaign_to(5);
        let record = CampaignRecord::of(&events, None, Timestamp::now()).unwrap();
        assert_eq!(record.stages.len(), 12);
        assert!(record.stages[..6].iter().all(|s| s.recorded_at.is_some()));
        assert!(record.stages[6..].iter().all(|s| s.recorded_at.is_none()));
        assert!(record.stages[5].current);
        let next = record.next_step.unwrap();
        assert_eq!(next.event_type, EventType::EchaApprovalRecorded);
        assert!(next.note.unwrap().contains("ECHA"));
        // Before anything is typed: only the expected step may be recorded, the rest say why not.
        let open: Vec<EventType> =
            record.step_checks.iter().filter(|c| c.refused.is_none()).map(|c| c.event_type).collect();
        assert_eq!(open, [EventType::EchaApprovalRecorded]);
        let refused = |t: EventType| {
            record.step_checks.iter().find(|c| c.event_type == t).unwrap().refused.clone().unwrap()
        };
        assert!(refused(EventType::GranulationCompleted).starts_with("Granulation is already recorded"));
        assert!(refused(EventType::TransferToRgeRecorded).contains("ECHA testing must approve"));
        assert!(refused(EventType::ManufacturingStarted).contains("the next step is ECHA Approval"));
        // Stage days: the days the entries state (the inbound shipment's arrival, the day a
        // processing step was completed); the creation's is the day it was recorded.
        assert!(!record.stages[0].day.unwrap().stated);
        assert!(record.stages[1].day.unwrap().stated);
        assert_eq!(
            record.stages[2].day.unwrap(),
            StepDay { date: pluto_domain::time::parse_date("2026-01-16").unwrap(), stated: true }
        );
    }

    #[test]
    fn as_of_leaves_out_later_events_and_offers_no_step() {
        let events = campaign_to(4);
        let record = CampaignRecord::of(&events, Some(events[2].created_at), Timestamp::now()).unwrap();
        assert_eq!(record.events.len(), 3);
        assert_eq!(record.state.status, CampaignStatus::GranulationComplete);
        assert!(record.next_step.is_none());
        assert!(CampaignRecord::of(&events, Some(Timestamp::from_millis(0)), Timestamp::now()).is_none());
    }

    #[test]
    fn csv_cells_that_would_run_as_formulas_are_neutralised() {
        for (cell, written) in [("=1+1", "'=1+1"), ("+x", "'+x"), ("@SUM(A1)", "'@SUM(A1)"), ("-x", "'-x")] {
            assert_eq!(defused(cell), written);
        }
        for number in ["-12.5", "-12,5", "3360,2"] {
            assert_eq!(defused(number), number, "a negative number stays a number");
        }
    }

    /// A void the laptop would refuse is marked before any reason is typed, with the words the
    /// refusal would have: a step that later steps follow, or another site's step by the
    /// server's policy. The latest step, and nothing while viewing the past, is marked.
    #[test]
    fn a_void_or_correction_that_would_be_refused_says_why_before_any_typing() {
        let events = campaign_to(3);
        let mut record = CampaignRecord::of(&events, None, Timestamp::now()).unwrap();
        let refused = |record: &CampaignRecord, i: usize| record.events[i].void_refused.clone();
        let inbound = refused(&record, 1).expect("the inbound shipment has steps after it");
        assert!(inbound.contains("void the later steps first"), "{inbound}");
        assert_eq!(refused(&record, 3), None, "the latest step may be voided");
        assert_eq!(refused(&record, 0), None, "the creation is never offered a void");
        assert!(record.events.iter().all(|e| e.correct_refused.is_none()));

        record.apply_policy(&SitePolicy::default_for("RGE"));
        let metal = refused(&record, 3).unwrap();
        assert!(metal.starts_with("site RGE may not void Metal Removal"), "{metal}");
        let correct = record.events[3].correct_refused.clone().unwrap();
        assert!(correct.starts_with("site RGE may not correct Metal Removal"), "{correct}");
        let purification =
            record.step_checks.iter().find(|c| c.event_type == EventType::PolymerPurificationCompleted);
        let words = purification.and_then(|c| c.refused.clone()).unwrap();
        assert!(words.contains("lets site RGE record Manufacturing Start"), "{words}");

        let mut past = CampaignRecord::of(&events, Some(events[2].created_at), Timestamp::now()).unwrap();
        past.apply_policy(&SitePolicy::default_for("RGE"));
        assert!(past.events.iter().all(|e| e.void_refused.is_none() && e.correct_refused.is_none()));
    }
}
