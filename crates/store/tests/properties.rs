//! Property tests of the fold and the store:
//! - the fold never panics on arbitrary events and payloads, and the ids events claim order
//!   nothing: only their canonical order does;
//! - continuing a projection with later events, corrections and reviews included, equals a
//!   replay;
//! - strict local entry keeps every stored projection equal to a full replay;
//! - a log delivered in any way a laptop can receive it (imported first in any order, pulled in
//!   pages of any size, its own entries confirmed late) ends in the projections of the server's
//!   order, and the stored ones equal a replay at every step;
//! - a hostile site's entries, with any ids and times, change no figure of the honest sites.

use std::collections::BTreeMap;

use pluto_domain::fold::can_continue;

use pluto_domain::fold::continue_projection;

use pluto_domain::fold::fold_projection;
use pluto_domain::samples::SampleCampaign;
use pluto_domain::{
    fold, CampaignId, CampaignState, CampaignStatus, DeviceId, Event, EventId, EventType, Payload, Timestamp,
    UserId,
};
use pluto_store::{Draft, ListQuery, SortOrder, Store};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Value};
use ulid::Ulid;

const BASE_MS: u64 = 1_770_000_000_000;

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-z0-9 -]{0,12}".prop_map(Value::from),
        Just(json!("2026-02-03")),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z]{1,16}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A payload that is sometimes valid, sometimes a valid one with one field damaged, sometimes noise.
fn arb_payload(event_type: EventType) -> impl Strategy<Value = Value> {
    let sample = SampleCampaign::numbered(3).payload(event_type);
    let names: Vec<&'static str> = event_type.fields().iter().map(|f| f.name).collect();
    (0..3u8, arb_json(), any::<Index>()).prop_map(move |(mode, noise, which)| match (&sample, mode) {
        (Some(valid), 0) => valid.clone(),
        (Some(valid), 1) => {
            let mut v = valid.clone();
            v[names[which.index(names.len())]] = noise;
            v
        }
        _ => noise,
    })
}

/// The anomaly kinds reviews in [`arb_events`] name: the ones its events most often cause.
const REVIEWED_KINDS: [&str; 5] =
    ["duplicate_step", "echa_gate_bypassed", "skipped_steps", "before_creation", "invalid_payload"];

/// Arbitrary events of one campaign: any types, ids from a small pool (so corrections, voids and
/// reviews hit real events, each other, or nothing), arbitrary payloads.
fn arb_events() -> impl Strategy<Value = Vec<Event>> {
    let one = (0..EventType::ALL.len(), 0..40u64, any::<Index>(), any::<Index>(), 0..6u8).prop_flat_map(
        |(t, ms, target, field, mode)| {
            let event_type = EventType::ALL[t];
            (Just((event_type, ms, target, field, mode)), arb_payload(event_type), arb_json())
        },
    );
    prop::collection::vec(one, 1..30).prop_map(|raw| {
        let campaign = CampaignId::from_ulid(Ulid::from_parts(BASE_MS, 1));
        let ids: Vec<EventId> =
            (0..raw.len()).map(|i| EventId::from_ulid(Ulid::from_parts(BASE_MS + raw[i].0 .1, i as u128))).collect();
        let mut events: Vec<Event> = Vec::new();
        for (i, ((event_type, ms, target, field, mode), payload, noise)) in raw.into_iter().enumerate() {
            let target_id = &ids[target.index(ids.len())];
            let target_type = events.iter().find(|e| &e.id == target_id).map_or(EventType::GranulationCompleted, |e| e.event_type);
            let data = match event_type {
                EventType::EventCorrected if mode < 4 => {
                    let names: Vec<&str> = target_type.fields().iter().map(|f| f.name).collect();
                    let name = names[field.index(names.len())];
                    json!({
                        "correctsEventId": target_id, "correctsEventType": target_type, "reason": "prop",
                        "changes": { name: { "was": if mode == 0 { Value::Null } else { noise.clone() }, "now": noise } }
                    })
                }
                EventType::EntryVoided if mode < 4 => {
                    json!({ "voidsEventId": target_id, "voidsEventType": target_type, "reason": "prop" })
                }
                EventType::AnomalyReviewed if mode < 4 => {
                    let kind = REVIEWED_KINDS[field.index(REVIEWED_KINDS.len())];
                    json!({ "eventId": target_id, "anomalyKind": kind, "note": "prop" })
                }
                _ => payload,
            };
            events.push(event(&campaign, ids[i].clone(), event_type, data, BASE_MS + ms, 0, i as u64 + 1));
        }
        events
    })
}

fn event(
    campaign: &CampaignId,
    id: EventId,
    event_type: EventType,
    data: Value,
    ms: u64,
    device: u128,
    seq: u64,
) -> Event {
    Event {
        id,
        stream_type: "campaign".into(),
        stream_id: campaign.clone(),
        event_type,
        schema_version: 1,
        data,
        user_id: UserId::parse("usr_prop").unwrap(),
        device_id: DeviceId::from_ulid(Ulid::from_parts(BASE_MS, device + 1)),
        device_seq: seq,
        created_at: Timestamp::from_millis(ms as i64),
    }
}

/// Events a newer Pluto wrote, for the campaign of [`arb_events`]: of a type this build does not
/// know, of a known type at a newer schema version that cannot be read by its known fields, or
/// corrections of a type or field this build does not know, aimed at the same id pool.
fn arb_newer() -> impl Strategy<Value = Vec<Event>> {
    let one = (0..3u8, 0..40u64, 0..30u128, arb_json());
    prop::collection::vec(one, 0..8).prop_map(|raw| {
        let campaign = CampaignId::from_ulid(Ulid::from_parts(BASE_MS, 1));
        raw.into_iter()
            .enumerate()
            .map(|(j, (kind, ms, target, noise))| {
                let id = EventId::from_ulid(Ulid::from_parts(BASE_MS + ms, 1_000 + j as u128));
                let (event_type, version, data) = match kind {
                    0 => (EventType::Newer, 2, json!({ "sampleId": noise })),
                    1 => (
                        EventType::GranulationCompleted,
                        EventType::GranulationCompleted.schema_version() + 1,
                        json!({ "ticketNumber": "G-1", "startingWeight": noise }),
                    ),
                    _ => (
                        EventType::EventCorrected,
                        1,
                        json!({
                            "correctsEventId": EventId::from_ulid(Ulid::from_parts(BASE_MS + ms, target)),
                            "correctsEventType": "SampleRetained", "reason": "newer",
                            "changes": { "sampleId": { "was": null, "now": noise } }
                        }),
                    ),
                };
                Event {
                    schema_version: version,
                    ..event(&campaign, id, event_type, data, BASE_MS + ms, 9, j as u64 + 1)
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Design invariant 9: events a newer Pluto wrote, interleaved anywhere, leave the fold of
    /// the events this build knows exactly as it is, and are counted for the "update" notice.
    #[test]
    fn newer_events_interleaved_leave_the_fold_of_known_events_alone(
        events in arb_events(),
        newer in arb_newer(),
        seed in any::<u64>(),
    ) {
        let known = fold(&events).expect("non-empty");
        let mut all: Vec<Event> = events.clone();
        let mut rng = seed;
        for e in &newer {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            all.insert((rng >> 33) as usize % (all.len() + 1), e.clone());
        }
        let with = fold(&all).expect("non-empty");
        prop_assert_eq!(with.newer_entries as usize, known.newer_entries as usize + newer.len());
        prop_assert_eq!(CampaignState { newer_entries: known.newer_entries, ..with }, known);
    }

    /// Design invariants 4 and 5: total, and decided by the canonical order alone. The same
    /// events under other ids (any ids, references kept) fold to the same campaign.
    #[test]
    fn fold_is_total_and_ids_order_nothing(events in arb_events(), seed in any::<u64>()) {
        let state = fold(&events).expect("non-empty");
        prop_assert_eq!(state.event_count as usize, events.iter().map(|e| &e.id).collect::<std::collections::BTreeSet<_>>().len());
        prop_assert_eq!(fold_projection(&events), Some(state.clone().into_projection()));
        let mut rng = seed;
        let mut renamed: BTreeMap<String, String> = BTreeMap::new();
        for e in &events {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let other = EventId::from_ulid(Ulid::from_parts(BASE_MS + (rng >> 40), u128::from(rng)));
            renamed.entry(e.id.to_string()).or_insert_with(|| other.to_string());
        }
        let rename = |v: &Value| -> Value {
            let mut text = v.to_string();
            for (from, to) in &renamed {
                text = text.replace(from.as_str(), to.as_str());
            }
            serde_json::from_str(&text).unwrap()
        };
        let other: Vec<Event> = events
            .iter()
            .map(|e| Event { id: EventId::parse(&renamed[e.id.as_str()]).unwrap(), data: rename(&e.data), ..e.clone() })
            .collect();
        let again = fold(&other).expect("non-empty");
        let figures = |s: &CampaignState| {
            (s.status, s.current_weight_kg, s.inbound_net_weight_kg, s.echa_approved, s.event_count, s.correction_count,
             s.newer_entries, s.anomalies.iter().map(|a| (a.kind, a.resolved, a.review.is_some())).collect::<Vec<_>>())
        };
        prop_assert_eq!(figures(&again), figures(&state));
    }

    /// The store's continuation of a stored projection with a batch of later events
    /// (corrections included), wherever it is allowed, equals the replay of all of them.
    #[test]
    fn continuing_a_projection_equals_a_replay(events in arb_events()) {
        let mut ids = std::collections::HashSet::new();
        let distinct: Vec<Event> = events.into_iter().filter(|e| ids.insert(e.id.clone())).collect();
        for split in 0..=distinct.len() {
            let (earlier, later) = distinct.split_at(split);
            let Ok(parsed) = later.iter().map(|e| Payload::parse(e.event_type, &e.data)).collect::<Result<Vec<_>, _>>() else {
                continue;
            };
            let canonical: Vec<Event> =
                later.iter().zip(&parsed).map(|(e, p)| Event { data: p.to_value(), ..e.clone() }).collect();
            let batch: Vec<(&Event, Payload)> = canonical.iter().zip(parsed).collect();
            let stored = fold_projection(earlier);
            if can_continue(stored.as_ref(), &batch) {
                let replay = fold_projection(earlier.iter().chain(&canonical));
                prop_assert_eq!(continue_projection(stored, batch), replay);
            }
        }
    }
}

/// What a coordinator might try on one of a few campaigns.
#[derive(Debug, Clone)]
enum Action {
    /// Record the step the campaign expects next.
    NextStep,
    /// Record any step (usually out of order and refused).
    Step(EventType),
    /// Correct a field of an earlier event with a nearby value.
    Correct { target: Index, field: Index, factor: f64 },
    /// Void an earlier entry (refused for the creation, or where it would break the order).
    Void { target: Index },
}

fn arb_action() -> impl Strategy<Value = (usize, Action)> {
    let action = prop_oneof![
        6 => Just(Action::NextStep),
        1 => (0..12usize).prop_map(|i| Action::Step(EventType::STEPS[i])),
        3 => (any::<Index>(), any::<Index>(), 0.5f64..1.2).prop_map(|(target, field, factor)| Action::Correct { target, field, factor }),
        2 => any::<Index>().prop_map(|target| Action::Void { target }),
    ];
    (0..3usize, action)
}

fn states(store: &Store) -> Vec<CampaignState> {
    let page =
        store.list(&ListQuery { limit: 10_000, sort: SortOrder::Created, ..ListQuery::default() }).unwrap();
    page.rows.iter().map(|r| store.projection(&CampaignId::parse(&r.id).unwrap()).unwrap().unwrap()).collect()
}

/// The entries find holds (by event id, whatever their place in this laptop's log): each is
/// indexed with the words of its own values, so the same entries make the same index.
fn documents(store: &Store) -> std::collections::BTreeSet<String> {
    let mut stmt = store
        .connection()
        .prepare(
            "SELECT e.id FROM search_index s JOIN events e ON e.seq = s.rowid
             UNION ALL SELECT e.id FROM search_pending p JOIN events e ON e.seq = p.seq",
        )
        .unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

fn correction_value(spec: &pluto_domain::FieldSpec, current: &Value, factor: f64) -> Value {
    match (spec.kind, current) {
        (pluto_domain::FieldKind::Weight | pluto_domain::FieldKind::Hours, Value::Number(n)) => {
            json!(((n.as_f64().unwrap() * factor) * 10.0).round() / 10.0)
        }
        (pluto_domain::FieldKind::Quantity, Value::Number(n)) => {
            json!((n.as_u64().unwrap() as f64 * factor) as u64)
        }
        (pluto_domain::FieldKind::Date, _) => json!("2026-06-15"),
        (pluto_domain::FieldKind::Material, _) => json!(if factor > 0.85 { "PI" } else { "PCR" }),
        _ => json!(format!("corrected {factor:.3}")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Strict local entry: each append updates the projection incrementally (or replays for a
    /// correction or void); at every point the stored projections equal a full replay, and a refused
    /// entry leaves the file as it was.
    #[test]
    fn strict_entry_keeps_projections_equal_to_replay(actions in prop::collection::vec(arb_action(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("p.sqlite3")).unwrap();
        let user = UserId::parse("usr_prop").unwrap();
        let mut campaigns: Vec<CampaignId> = Vec::new();
        for n in 0..3u32 {
            let sample = SampleCampaign::numbered(n);
            let draft = Draft::new(None, EventType::CampaignCreated, sample.payload(EventType::CampaignCreated).unwrap(), user.clone());
            campaigns.push(store.record(draft).unwrap().state.id);
        }
        for (which, action) in actions {
            let id = campaigns[which].clone();
            let state = store.campaign(&id).unwrap().unwrap();
            let sample = SampleCampaign::numbered(which as u32);
            let draft = match action {
                Action::NextStep => match state.next_event_type() {
                    Some(t) => Draft::new(Some(id.clone()), t, sample.payload(t).unwrap(), user.clone()),
                    None => continue,
                },
                Action::Step(t) => Draft::new(Some(id.clone()), t, sample.payload(t).unwrap(), user.clone()),
                Action::Correct { target, field, factor } => {
                    let history = store.history(&id).unwrap();
                    let steps: Vec<&Event> = history.iter().filter(|e| !e.event_type.is_resolution()).collect();
                    let target = steps[target.index(steps.len())];
                    let spec = &target.event_type.fields()[field.index(target.event_type.fields().len())];
                    let refs: Vec<&Event> = history.iter().collect();
                    let current = pluto_domain::correction::Effective::resolve(&refs).payload(target).get(spec.name).cloned().unwrap_or(Value::Null);
                    let now = correction_value(spec, &current, factor);
                    let data = pluto_domain::correction::build_correction(&refs, &target.id, &[(spec.name.to_owned(), now)], "property test").unwrap();
                    Draft::new(Some(id.clone()), EventType::EventCorrected, data, user.clone())
                }
                Action::Void { target } => {
                    let history = store.history(&id).unwrap();
                    let target = &history[target.index(history.len())];
                    let data = json!({ "voidsEventId": target.id, "voidsEventType": target.event_type, "reason": "property test" });
                    Draft::new(Some(id.clone()), EventType::EntryVoided, data, user.clone())
                }
            };
            let before_events = store.history(&id).unwrap();
            match store.record(draft) {
                Ok(recorded) => {
                    prop_assert!(recorded.state.anomalies.is_empty(), "strict entry made an anomaly: {:?}", recorded.state.anomalies);
                    prop_assert_eq!(Some(recorded.state), fold(&store.history(&id).unwrap()).map(CampaignState::into_projection));
                    prop_assert_eq!(store.projection(&id).unwrap(), fold(&store.history(&id).unwrap()).map(CampaignState::into_projection));
                }
                Err(err) => {
                    prop_assert!(err.is_refusal(), "{}", err);
                    prop_assert_eq!(store.history(&id).unwrap(), before_events.clone());
                    prop_assert_eq!(store.projection(&id).unwrap(), fold(&before_events).map(CampaignState::into_projection));
                }
            }
        }
        prop_assert!(store.verify().unwrap().is_empty());
        let before = (states(&store), documents(&store));
        prop_assert_eq!(store.rebuild().unwrap(), 3);
        prop_assert_eq!((states(&store), documents(&store)), before);
    }
}

/// Events of up to four campaigns recorded on three laptops with disagreeing clocks: steps may
/// be duplicated, skipped, or land before the campaign's creation; corrections may cross.
fn arb_offline_log() -> impl Strategy<Value = Vec<Event>> {
    let one = (0..4u128, 0..3u128, 0..12usize, 0..10_000u64, 0..5u8, any::<Index>(), 0.6f64..1.0);
    prop::collection::vec(one, 1..60).prop_map(|raw| {
        let mut events: Vec<Event> = Vec::new();
        let mut seqs: BTreeMap<u128, u64> = BTreeMap::new();
        for (i, (campaign, device, step, ms, kind, target, factor)) in raw.into_iter().enumerate() {
            let campaign_id = CampaignId::from_ulid(Ulid::from_parts(BASE_MS, campaign + 1));
            let id = EventId::from_ulid(Ulid::from_parts(BASE_MS + ms, (i as u128) << 8 | device));
            let sample = SampleCampaign::numbered(campaign as u32);
            let same_campaign: Vec<&Event> = events
                .iter()
                .filter(|e| e.stream_id == campaign_id && e.event_type == EventType::InboundShipmentRecorded)
                .collect();
            let (event_type, data) = if kind == 0 && !same_campaign.is_empty() {
                let target = same_campaign[target.index(same_campaign.len())];
                let net = target.data["netWeightKg"].as_f64().unwrap();
                (EventType::EventCorrected, json!({
                    "correctsEventId": target.id, "correctsEventType": "InboundShipmentRecorded", "reason": "offline fix",
                    "changes": { "netWeightKg": { "was": net, "now": (net * factor).round() } }
                }))
            } else {
                let t = EventType::STEPS[step];
                (t, sample.payload(t).unwrap())
            };
            let seq = seqs.entry(device).or_insert(0);
            *seq += 1;
            events.push(event(&campaign_id, id, event_type, data, BASE_MS + ms, device, *seq));
        }
        events
    })
}

/// The pulled page of `events` at positions `first..`, as the server serves it.
fn page(events: &[(i64, Event)]) -> Vec<pluto_protocol::PulledEvent> {
    events
        .iter()
        .map(|(position, e)| pluto_protocol::PulledEvent {
            position: *position,
            received_at: None,
            admin: false,
            site: None,
            event: serde_json::value::RawValue::from_string(serde_json::to_string(e).unwrap()).unwrap(),
        })
        .collect()
}

/// What an honest server keeps of `log`, pushed in its order: a campaign's creation once, and
/// nothing whose id sorts before its campaign's stored creation.
fn as_a_server_keeps_it(log: Vec<Event>) -> Vec<Event> {
    let mut created: BTreeMap<CampaignId, EventId> = BTreeMap::new();
    log.into_iter()
        .filter(|e| match created.get(&e.stream_id) {
            Some(_) if e.event_type == EventType::CampaignCreated => false,
            Some(creation) => e.id >= *creation,
            None => {
                if e.event_type == EventType::CampaignCreated {
                    created.insert(e.stream_id.clone(), e.id.clone());
                }
                true
            }
        })
        .collect()
}

/// Each campaign's projection folded from `log` in the server's order.
fn expected_states(log: &[Event]) -> Vec<CampaignState> {
    let mut by_campaign: BTreeMap<CampaignId, Vec<&Event>> = BTreeMap::new();
    for e in log {
        by_campaign.entry(e.stream_id.clone()).or_default().push(e);
    }
    let mut states: Vec<CampaignState> =
        by_campaign.values().map(|es| fold(es.iter().copied()).unwrap().into_projection()).collect();
    states.sort_by(|a, b| b.id.cmp(&a.id));
    states
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Design invariant 4 through the store: the server's log (its order is the canonical
    /// one), received the ways a laptop receives it: some of it imported first from a file in
    /// any order (unconfirmed, as a laptop's own entries are until served back), then pulled in
    /// pages of any size, with redeliveries. It ends in the projections of the server's order,
    /// and at every step the stored projections equal a replay of what the laptop holds.
    #[test]
    fn any_delivery_gives_the_projections_of_the_servers_order(
        log in arb_offline_log().prop_map(as_a_server_keeps_it),
        order in Just(()).prop_perturb(|_, mut rng| rng.next_u64()),
        imported in 0..60usize,
        batch in 1..20usize,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut early: Vec<Event> = log.iter().take(imported).cloned().collect();
        let mut rng = order;
        for i in (1..early.len()).rev() {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            early.swap(i, (rng >> 33) as usize % (i + 1));
        }
        let positioned: Vec<(i64, Event)> = log.iter().cloned().enumerate().map(|(i, e)| (i as i64 + 1, e)).collect();
        let mut direct = Store::open(&dir.path().join("a.sqlite3")).unwrap();
        let mut laptop = Store::open(&dir.path().join("b.sqlite3")).unwrap();
        direct.apply_pulled(&page(&positioned), positioned.len() as i64).unwrap();
        for chunk in early.chunks(batch) {
            laptop.apply_remote(chunk).unwrap();
            prop_assert!(laptop.verify().unwrap().is_empty());
        }
        for chunk in positioned.chunks(batch) {
            let report = laptop.apply_pulled(&page(chunk), chunk.last().unwrap().0).unwrap();
            prop_assert_eq!(report.refused, 0);
            prop_assert!(laptop.verify().unwrap().is_empty());
        }
        // Redelivery of everything changes nothing.
        let again = laptop.apply_pulled(&page(&positioned), positioned.len() as i64).unwrap();
        prop_assert_eq!(again.inserted, 0);
        let expected = expected_states(&log);
        prop_assert_eq!(states(&direct), expected.clone());
        prop_assert_eq!(states(&laptop), expected);
        // Find's index too: the same documents whatever the order (verify compares them with
        // the events).
        prop_assert_eq!(documents(&laptop), documents(&direct));
        prop_assert!(laptop.verify().unwrap().is_empty());
    }
}

/// A hostile RGE laptop's entries: manufacturing and returns at any moment, and corrections and
/// voids (claiming a type RGE may change) of any entry, each with any id and recording time.
fn arb_hostile() -> impl Strategy<Value = Vec<Event>> {
    let one = (0..5u8, any::<u64>(), any::<u64>(), any::<Index>(), arb_json());
    prop::collection::vec(one, 0..12).prop_map(|raw| {
        let campaign = CampaignId::from_ulid(Ulid::from_parts(BASE_MS, 1));
        let sample = SampleCampaign::numbered(1);
        raw.into_iter()
            .enumerate()
            .map(|(j, (kind, id_ms, at_ms, target, noise))| {
                let target = EventId::from_ulid(Ulid::from_parts(BASE_MS + 1000 * (target.index(14) as u64 + 1), target.index(14) as u128 + 1));
                let (event_type, data) = match kind {
                    0 => (EventType::ManufacturingStarted, sample.payload(EventType::ManufacturingStarted).unwrap()),
                    1 => (EventType::ManufacturingCompleted, sample.payload(EventType::ManufacturingCompleted).unwrap()),
                    2 => (EventType::ReturnToLegoRecorded, sample.payload(EventType::ReturnToLegoRecorded).unwrap()),
                    3 => (EventType::EventCorrected, json!({
                        "correctsEventId": target, "correctsEventType": "ManufacturingStarted", "reason": "hostile",
                        "changes": { "poNumber": { "was": null, "now": noise.to_string() } }
                    })),
                    _ => (EventType::EntryVoided, json!({
                        "voidsEventId": target, "voidsEventType": "ReturnToLEGORecorded", "reason": "hostile"
                    })),
                };
                let id = EventId::from_ulid(Ulid::from_parts(id_ms >> 16, u128::from(id_ms)));
                event(&campaign, id, event_type, data, at_ms >> 20, 7, j as u64 + 1)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// issue 26: whatever ids and times a hostile RGE token gives its entries, and wherever the
    /// server commits them among the honest sites' entries, the honest sites' figures stay as they
    /// are: every weight, the ECHA approval, and the anomalies on their own entries.
    #[test]
    fn a_hostile_site_changes_no_figure_of_the_honest_sites(
        hostile in arb_hostile(),
        places in prop::collection::vec(any::<Index>(), 12),
    ) {
        let campaign = CampaignId::from_ulid(Ulid::from_parts(BASE_MS, 1));
        let sample = SampleCampaign::numbered(1);
        let honest: Vec<Event> = EventType::STEPS[..=CampaignStatus::TransferredToRge.rank()]
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let id = EventId::from_ulid(Ulid::from_parts(BASE_MS + 1000 * (i as u64 + 1), i as u128 + 1));
                event(&campaign, id, *t, sample.payload(*t).unwrap(), BASE_MS + 1000 * (i as u64 + 1), 0, i as u64 + 1)
            })
            .collect();
        let mut log = honest.clone();
        for (e, place) in hostile.iter().zip(places.iter().cycle()) {
            log.insert(place.index(log.len() + 1), e.clone());
        }
        let (alone, with) = (fold(&honest).unwrap(), fold(&log).unwrap());
        prop_assert_eq!(with.current_weight_kg, alone.current_weight_kg);
        prop_assert_eq!(with.inbound_net_weight_kg, alone.inbound_net_weight_kg);
        prop_assert_eq!(with.echa_approved, alone.echa_approved);
        prop_assert!(with.status.rank() >= alone.status.rank(), "{:?} fell behind {:?}", with.status, alone.status);
        let mba_flows = |s: &CampaignState| s.flows.steps.iter().filter(|f| f.step.rank() <= CampaignStatus::TransferredToRge.rank()).cloned().collect::<Vec<_>>();
        prop_assert_eq!(mba_flows(&with), mba_flows(&alone));
        let on_honest = |s: &CampaignState| s.anomalies.iter().filter(|a| honest.iter().any(|h| h.id == a.event_id)).cloned().collect::<Vec<_>>();
        prop_assert_eq!(on_honest(&with), on_honest(&alone));
    }
}
