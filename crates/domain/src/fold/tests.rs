//! Given some recorded events, when they are folded, then the campaign reads as a coordinator
//! expects. No database here: the fold is a pure function.

use serde_json::{json, Value};

use super::*;
use crate::correction::check_correction;
use crate::ids::{DeviceId, EventId, UserId};
use crate::metrics::MassBalance;
use crate::registry::fields::MaterialType;
use crate::registry::payload::{Change, EventCorrection};
use crate::samples::SampleCampaign;

/// A campaign's events, built by hand one second apart on one device.
struct Given {
    campaign: CampaignId,
    events: Vec<Event>,
    clock_ms: i64,
    sample: SampleCampaign,
}

impl Given {
    fn new() -> Self {
        Given {
            campaign: CampaignId::generate(),
            events: Vec::new(),
            clock_ms: 1_770_000_000_000,
            sample: SampleCampaign::numbered(42),
        }
    }

    /// A campaign recorded up to and including the step reaching `status`.
    fn at(status: CampaignStatus) -> Self {
        let mut g = Given::new();
        for t in &EventType::STEPS[..=status.rank()] {
            g.step(*t);
        }
        g
    }

    fn record(&mut self, event_type: EventType, data: Value) -> EventId {
        self.clock_ms += 1000;
        let at = Timestamp::from_millis(self.clock_ms);
        let id = EventId::generate(at.system_time());
        self.events.push(Event {
            id: id.clone(),
            stream_type: "campaign".into(),
            stream_id: self.campaign.clone(),
            event_type,
            schema_version: 1,
            data,
            user_id: UserId::parse("usr_alex").unwrap(),
            device_id: DeviceId::parse("dev_01HQJK5W3N8XKZ0G2Y5V7R9T1A").unwrap(),
            device_seq: self.events.len() as u64 + 1,
            created_at: at,
        });
        id
    }

    fn step(&mut self, event_type: EventType) -> EventId {
        let data = self.sample.payload(event_type).unwrap();
        self.record(event_type, data)
    }

    fn correct(&mut self, target: &EventId, field: &str, was: Value, now: Value) -> EventId {
        let target_type = self.events.iter().find(|e| &e.id == target).unwrap().event_type;
        self.record(
            EventType::EventCorrected,
            json!({
                "correctsEventId": target, "correctsEventType": target_type,
                "reason": "Typo", "changes": { field: { "was": was, "now": now } }
            }),
        )
    }

    fn state(&self) -> CampaignState {
        fold(&self.events).expect("events were given")
    }

    fn kinds(&self) -> Vec<AnomalyKind> {
        self.state().anomalies.iter().map(|a| a.kind).collect()
    }

    fn check(&self, event_type: EventType) -> Result<(), Refusal> {
        let data = self.sample.payload(event_type).unwrap();
        check_next(&self.campaign, Some(&self.state()), &Payload::parse(event_type, &data).unwrap())
    }
}

fn inbound(net: f64) -> Value {
    json!({
        "grossWeightKg": 10500, "netWeightKg": net, "carrier": "DHL", "trackingRef": "DHL-123456",
        "shipDate": "2026-02-01", "arrivalDate": "2026-02-03"
    })
}

#[test]
fn spec_worked_example_inbound_weight_typo_corrected() {
    let mut g = Given::at(CampaignStatus::Created);
    let inbound_id = g.record(EventType::InboundShipmentRecorded, inbound(1000.0));
    assert_eq!(g.state().current_weight_kg, Some(1000.0));

    g.correct(&inbound_id, "netWeightKg", json!(1000), json!(10000));

    let state = g.state();
    assert_eq!(state.current_weight_kg, Some(10000.0));
    assert_eq!(state.inbound_net_weight_kg, Some(10000.0));
    assert_eq!(state.status, CampaignStatus::InboundShipmentRecorded, "a correction changes no status");
    assert_eq!(state.correction_count, 1);
    assert!(state.steps.inbound_shipment.as_ref().unwrap().corrected);
    assert!(state.anomalies.is_empty());
    // History keeps both: the original event is untouched, the correction holds was → now.
    assert_eq!(g.events[1].data["netWeightKg"], json!(1000.0));
    assert_eq!(g.events[2].data["changes"]["netWeightKg"], json!({"was": 1000, "now": 10000}));
}

#[test]
fn full_lifecycle_to_completed() {
    let mut g = Given::new();
    let expected_next = [
        Some("Inbound Shipment"),
        Some("Granulation"),
        Some("Metal Removal"),
        Some("Polymer Purification"),
        Some("Extrusion"),
        Some("ECHA Approval"),
        Some("Transfer to RGE"),
        Some("Manufacturing Start"),
        Some("Manufacturing Complete"),
        Some("Return to LEGO"),
        Some("Complete Campaign"),
        None,
    ];
    for (t, next) in EventType::STEPS.into_iter().zip(expected_next) {
        if t != EventType::CampaignCreated {
            g.check(t).unwrap_or_else(|e| panic!("{t} should be accepted: {e}"));
        }
        g.step(t);
        let st = g.state();
        assert_eq!(Some(st.status), t.target_status());
        assert_eq!(st.next_expected_step.as_deref(), next, "after {t}");
        assert_eq!(st.last_event_type, Some(t));
    }
    let st = g.state();
    let extrusion_out = st.steps.extrusion.as_ref().unwrap().data.output_weight_kg;
    let received = st.steps.transfer_to_rge.as_ref().unwrap().data.received_weight_kg.unwrap();
    assert!(received < extrusion_out);
    assert_eq!(st.current_weight_kg, Some(received), "RGE's received weight is the current weight");
    assert!(st.echa_approved);
    assert_eq!(st.completed_at, Some(g.events.last().unwrap().created_at));
    assert_eq!(st.current_step, "Complete Campaign");
    assert_eq!(st.event_count, 12);
    assert_eq!(st.lego_campaign_code.as_deref(), Some(g.sample.code.as_str()));
    assert!(st.anomalies.is_empty());
}

#[test]
fn weight_follows_each_processing_step_output() {
    let mut g = Given::at(CampaignStatus::InboundShipmentRecorded);
    for t in [
        EventType::GranulationCompleted,
        EventType::MetalRemovalCompleted,
        EventType::PolymerPurificationCompleted,
        EventType::ExtrusionCompleted,
    ] {
        let data = g.sample.payload(t).unwrap();
        g.step(t);
        assert_eq!(g.state().current_weight_kg, data["outputWeightKg"].as_f64());
    }
    g.step(EventType::EchaApprovalRecorded);
    let before = g.state().current_weight_kg;
    let mut transfer = g.sample.payload(EventType::TransferToRgeRecorded).unwrap();
    transfer.as_object_mut().unwrap().remove("receivedWeightKg");
    g.record(EventType::TransferToRgeRecorded, transfer);
    assert_eq!(g.state().current_weight_kg, before, "no received weight: weight unchanged");
}

#[test]
fn out_of_order_step_is_refused_with_status_and_next_step() {
    let g = Given::at(CampaignStatus::Created);
    let err = g.check(EventType::GranulationCompleted).unwrap_err();
    assert!(matches!(err, Refusal::OutOfOrder { status: CampaignStatus::Created, .. }));
    let text = err.to_string();
    assert_eq!(
        text,
        "Granulation cannot be recorded yet: this campaign is at “Created”, and the next step is Inbound Shipment"
    );
    let again = Given::at(CampaignStatus::GranulationComplete);
    let twice = again.check(EventType::GranulationCompleted).unwrap_err();
    assert!(matches!(twice, Refusal::OutOfOrder { .. }));
    assert!(twice.to_string().starts_with("Granulation is already recorded on this campaign"), "{twice}");
}

#[test]
fn echa_gate_blocks_transfer_until_approval() {
    let g = Given::at(CampaignStatus::ExtrusionComplete);
    let err = g.check(EventType::TransferToRgeRecorded).unwrap_err();
    assert!(matches!(err, Refusal::EchaGate { .. }), "{err}");
    assert!(err.to_string().contains("ECHA testing must approve"), "{err}");
    assert!(err.to_string().contains("the next step is ECHA Approval"), "{err}");

    let approved = Given::at(CampaignStatus::EchaApproved);
    approved.check(EventType::TransferToRgeRecorded).unwrap();
}

#[test]
fn transfer_without_approval_from_elsewhere_waits_for_it() {
    let mut g = Given::at(CampaignStatus::ExtrusionComplete);
    let weight = g.state().current_weight_kg;
    g.step(EventType::TransferToRgeRecorded);
    let st = g.state();
    assert_eq!(st.status, CampaignStatus::ExtrusionComplete, "the transfer waits for the approval");
    assert_eq!(st.current_weight_kg, weight);
    assert!(!st.echa_approved);
    assert_eq!(g.kinds(), [AnomalyKind::EchaGateBypassed]);
    assert_eq!(st.unreviewed_anomalies(), 1);
    // The approval recorded late opens the gate: the transfer takes effect, and the anomaly
    // stays in the record, resolved.
    g.step(EventType::EchaApprovalRecorded);
    let st = g.state();
    assert!(st.echa_approved);
    assert_eq!(st.status, CampaignStatus::TransferredToRge);
    assert_eq!(g.kinds(), [AnomalyKind::EchaGateBypassed]);
    assert!(st.anomalies[0].resolved, "{:?}", st.anomalies[0]);
    assert!(
        st.anomalies[0].message.contains("took effect once it was recorded"),
        "{}",
        st.anomalies[0].message
    );
    assert_eq!(st.unreviewed_anomalies(), 0);
}

#[test]
fn nothing_but_corrections_after_completion() {
    let mut g = Given::at(CampaignStatus::Completed);
    for t in [EventType::InboundShipmentRecorded, EventType::CampaignCompleted] {
        assert!(matches!(g.check(t), Err(Refusal::Completed { .. })));
    }
    let weight = g.state().current_weight_kg;
    g.step(EventType::GranulationCompleted);
    assert_eq!(g.kinds(), [AnomalyKind::AfterCompletion]);
    assert_eq!(g.state().current_weight_kg, weight);
    let ret = g.events.iter().find(|e| e.event_type == EventType::ReturnToLegoRecorded).unwrap().id.clone();
    let q = g.sample.payload(EventType::ReturnToLegoRecorded).unwrap()["quantity"].clone();
    g.correct(&ret, "quantity", q, json!(9000));
    assert_eq!(g.state().steps.return_to_lego.as_ref().unwrap().data.quantity, 9000);
}

#[test]
fn duplicate_and_skipped_steps_are_reported_not_dropped() {
    let mut g = Given::at(CampaignStatus::GranulationComplete);
    let first_out = g.state().current_weight_kg;
    g.record(
        EventType::GranulationCompleted,
        json!({"ticketNumber": "T-2", "startingWeightKg": 500, "outputWeightKg": 400}),
    );
    let st = g.state();
    assert_eq!(st.current_weight_kg, first_out, "the first recording stands");
    assert_eq!(st.steps.granulation.as_ref().unwrap().data.ticket_number, g.events[2].data["ticketNumber"]);
    assert_eq!(g.kinds(), [AnomalyKind::DuplicateStep]);
    assert_eq!(st.event_count, 4);

    g.step(EventType::ExtrusionCompleted);
    let st = g.state();
    assert_eq!(st.status, CampaignStatus::GranulationComplete, "the extrusion waits for the steps before it");
    assert_eq!(st.current_weight_kg, first_out);
    let skipped = st.anomalies.last().unwrap();
    assert_eq!(skipped.kind, AnomalyKind::SkippedSteps);
    assert!(skipped.message.contains("Metal Removal, Polymer Purification"), "{}", skipped.message);
    assert!(!skipped.resolved);
    // Recording the missing steps late is what the anomaly asks for: the extrusion then takes
    // effect, and the anomaly resolves.
    g.step(EventType::MetalRemovalCompleted);
    assert_eq!(g.state().status, CampaignStatus::MetalRemovalComplete);
    g.step(EventType::PolymerPurificationCompleted);
    let st = g.state();
    assert_eq!(st.status, CampaignStatus::ExtrusionComplete);
    assert_eq!(
        st.current_weight_kg,
        Some(g.sample.payload(EventType::ExtrusionCompleted).unwrap()["outputWeightKg"].as_f64().unwrap())
    );
    assert_eq!(g.kinds(), [AnomalyKind::DuplicateStep, AnomalyKind::SkippedSteps]);
    assert!(st.anomalies[1].resolved);
    assert_eq!(st.unreviewed_anomalies(), 1, "only the duplicate still asks for a review");
}

#[test]
fn a_step_pushed_ahead_of_the_chain_moves_nothing_and_counts_nothing_less() {
    // RGE's token records a manufacturing start right after the campaign's creation.
    let mut g = Given::at(CampaignStatus::Created);
    let early = g.step(EventType::ManufacturingStarted);
    for t in &EventType::STEPS[1..=CampaignStatus::TransferredToRge.rank()] {
        g.step(*t);
    }
    let st = g.state();
    assert_eq!(st.status, CampaignStatus::ManufacturingStarted, "it takes effect once the chain reaches it");
    let honest = Given::at(CampaignStatus::TransferredToRge).state();
    assert_eq!(
        (st.current_weight_kg, st.inbound_net_weight_kg),
        (honest.current_weight_kg, honest.inbound_net_weight_kg)
    );
    // Every step MBA and ECHA recorded took effect in order: none of them is late.
    assert_eq!(g.kinds(), [AnomalyKind::SkippedSteps]);
    assert_eq!(st.anomalies[0].event_id, early);
    assert!(st.anomalies[0].resolved);

    // RGE's own start recorded in order then takes the step; the early one has no effect.
    let in_order = g.step(EventType::ManufacturingStarted);
    let st = g.state();
    assert_eq!(g.state().steps.manufacturing_start.unwrap().event_id, in_order);
    assert_eq!(g.kinds(), [AnomalyKind::DuplicateStep]);
    assert!(
        st.anomalies[0].message.contains("the entry recorded in order stands"),
        "{}",
        st.anomalies[0].message
    );
}

#[test]
fn a_return_recorded_before_manufacturing_never_outranks_lego_s_own() {
    let mut g = Given::at(CampaignStatus::TransferredToRge);
    let early = g.step(EventType::ReturnToLegoRecorded);
    g.step(EventType::ManufacturingStarted);
    g.step(EventType::ManufacturingCompleted);
    let lego = g.step(EventType::ReturnToLegoRecorded);
    let st = g.state();
    assert_eq!(st.status, CampaignStatus::ReturnedToLego);
    assert_eq!(st.steps.return_to_lego.unwrap().event_id, lego, "the return recorded in order stands");
    let early_anomaly = st.anomalies.iter().find(|a| a.event_id == early).unwrap();
    assert_eq!(early_anomaly.kind, AnomalyKind::DuplicateStep);
}

#[test]
fn a_step_taken_ahead_of_its_time_can_be_taken_again_in_order() {
    let mut g = Given::at(CampaignStatus::TransferredToRge);
    let early = g.step(EventType::ReturnToLegoRecorded);
    g.step(EventType::ManufacturingStarted);
    g.step(EventType::ManufacturingCompleted);
    // The early return took effect once manufacturing was complete...
    assert_eq!(g.state().status, CampaignStatus::ReturnedToLego);
    assert_eq!(g.state().steps.return_to_lego.unwrap().event_id, early);
    // ...but LEGO may still record its own, which then stands.
    g.check(EventType::ReturnToLegoRecorded).unwrap();
    let lego = g.step(EventType::ReturnToLegoRecorded);
    assert_eq!(g.state().steps.return_to_lego.unwrap().event_id, lego);
    assert!(matches!(g.check(EventType::ReturnToLegoRecorded), Err(Refusal::OutOfOrder { .. })));
}

#[test]
fn ids_order_nothing() {
    // The same entries with ids that sort the other way round, one of them the largest id there is.
    let g = Given::at(CampaignStatus::ManufacturingComplete);
    let mut renamed = g.events.clone();
    let n = renamed.len();
    for (i, e) in renamed.iter_mut().enumerate() {
        e.id = EventId::from_ulid(ulid::Ulid::from_parts(1_900_000_000_000 - i as u64 * 1000, 1));
    }
    renamed[n - 1].id = EventId::parse("evt_7ZZZZZZZZZZZZZZZZZZZZZZZZZ").unwrap();
    let (a, b) = (g.state(), fold(&renamed).unwrap());
    assert_eq!((a.status, a.current_weight_kg, &a.anomalies), (b.status, b.current_weight_kg, &b.anomalies));
    assert!(b.anomalies.is_empty());
    // And the campaign can still take its next step.
    check_next(
        &g.campaign,
        Some(&b),
        &Payload::parse(
            EventType::ReturnToLegoRecorded,
            &g.sample.payload(EventType::ReturnToLegoRecorded).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
}

#[test]
fn events_before_creation_are_kept() {
    let mut g = Given::new();
    let inbound_id = g.step(EventType::InboundShipmentRecorded);
    g.step(EventType::CampaignCreated);
    let st = g.state();
    assert_eq!(st.status, CampaignStatus::InboundShipmentRecorded);
    assert_eq!(st.lego_campaign_code.as_deref(), Some(g.sample.code.as_str()));
    assert_eq!(st.anomalies.len(), 1);
    assert_eq!((st.anomalies[0].kind, &st.anomalies[0].event_id), (AnomalyKind::BeforeCreation, &inbound_id));
    g.step(EventType::CampaignCreated);
    assert_eq!(g.kinds(), [AnomalyKind::BeforeCreation, AnomalyKind::DuplicateStep]);
}

#[test]
fn corrections_chain_and_are_checked_against_the_effective_value() {
    let mut g = Given::at(CampaignStatus::Created);
    let inbound_id = g.record(EventType::InboundShipmentRecorded, inbound(1000.0));
    g.correct(&inbound_id, "netWeightKg", json!(1000), json!(10000));
    let refs: Vec<&Event> = g.events.iter().collect();
    let stale = EventCorrection {
        corrects_event_id: inbound_id.clone(),
        corrects_event_type: EventType::InboundShipmentRecorded,
        reason: "x".into(),
        changes: [("netWeightKg".to_owned(), Change { was: json!(1000), now: json!(9000) })].into(),
    };
    let err = check_correction(&refs, &stale).unwrap_err();
    assert_eq!(err.field(), Some("changes.netWeightKg.was"));
    assert!(err.to_string().contains("the current value of netWeightKg is 10000, not 1000"), "{err}");

    g.correct(&inbound_id, "netWeightKg", json!(10000), json!(9900));
    assert_eq!(g.state().current_weight_kg, Some(9900.0));
    assert!(g.state().anomalies.is_empty());
}

#[test]
fn crossing_corrections_from_two_laptops_apply_in_id_order_and_are_flagged() {
    let mut g = Given::at(CampaignStatus::Created);
    let inbound_id = g.record(EventType::InboundShipmentRecorded, inbound(1000.0));
    g.correct(&inbound_id, "netWeightKg", json!(1000), json!(10000));
    g.correct(&inbound_id, "netWeightKg", json!(1000), json!(1100));
    let st = g.state();
    assert_eq!(st.current_weight_kg, Some(1100.0), "the later correction wins on every replica");
    assert_eq!(g.kinds(), [AnomalyKind::CorrectionConflict]);
    let message = &st.anomalies[0].message;
    assert!(message.starts_with("expected the net weight of the Inbound Shipment recorded "), "{message}");
    assert!(crate::vocabulary::developer_words(message).is_empty(), "{message}");
}

#[test]
fn invalid_or_misdirected_corrections_have_no_effect_but_are_reported() {
    let mut g = Given::at(CampaignStatus::Created);
    let inbound_id = g.record(EventType::InboundShipmentRecorded, inbound(1000.0));
    // Net above gross: the corrected payload would break a rule.
    g.correct(&inbound_id, "netWeightKg", json!(1000), json!(20000));
    // A correction of a correction, of an unknown event, and with the wrong type.
    let correction_id = g.events.last().unwrap().id.clone();
    g.record(
        EventType::EventCorrected,
        json!({"correctsEventId": correction_id, "correctsEventType": "InboundShipmentRecorded",
               "reason": "x", "changes": {"netWeightKg": {"was": 1000, "now": 900}}}),
    );
    g.record(
        EventType::EventCorrected,
        json!({"correctsEventId": "evt_01HQJK5W3N8XKZ0G2Y5V7R9T1A", "correctsEventType": "InboundShipmentRecorded",
               "reason": "x", "changes": {"netWeightKg": {"was": 1000, "now": 900}}}),
    );
    g.record(
        EventType::EventCorrected,
        json!({"correctsEventId": inbound_id, "correctsEventType": "GranulationCompleted",
               "reason": "x", "changes": {"outputWeightKg": {"was": null, "now": 900}}}),
    );
    assert_eq!(g.state().current_weight_kg, Some(1000.0));
    assert_eq!(
        g.kinds(),
        [
            AnomalyKind::CorrectionInvalid,
            AnomalyKind::CorrectionOfCorrection,
            AnomalyKind::CorrectionOfUnknownEvent,
            AnomalyKind::CorrectionTypeMismatch
        ]
    );
    // Each says what is wrong in a coordinator's words: steps, labels and times, no ids or names
    // from the code.
    let st = g.state();
    for a in &st.anomalies {
        let developer = crate::vocabulary::developer_words(&a.message);
        assert!(developer.is_empty(), "{:?}: {} has {developer:?}", a.kind, a.message);
    }
    assert!(
        st.anomalies[0].message.starts_with("would make the Inbound Shipment recorded "),
        "{}",
        st.anomalies[0].message
    );
    assert!(
        st.anomalies[0].message.contains("(net weight: must not exceed the gross weight"),
        "{}",
        st.anomalies[0].message
    );
    assert!(st.anomalies[3].message.starts_with(
        "says the entry it corrects is a Granulation, but it is the Inbound Shipment recorded "
    ));
}

#[test]
fn any_field_of_any_event_can_be_corrected_including_creation() {
    let mut g = Given::at(CampaignStatus::EchaApproved);
    let created = g.events[0].id.clone();
    g.correct(&created, "legoCampaignCode", json!(g.sample.code), json!("LEGO-FIXED"));
    g.correct(&created, "materialType", json!(g.sample.material.as_str()), json!("PI"));
    let echa = g.events[6].id.clone();
    g.correct(&echa, "notes", g.events[6].data["notes"].clone(), Value::Null);
    let st = g.state();
    assert_eq!(st.lego_campaign_code.as_deref(), Some("LEGO-FIXED"));
    assert_eq!(st.material_type, Some(MaterialType::Pi));
    assert_eq!(st.steps.echa_approval.as_ref().unwrap().data.notes, None);
    assert!(st.anomalies.is_empty(), "{:?}", st.anomalies);
}

#[test]
fn manufacturing_cannot_end_before_it_starts() {
    let mut g = Given::at(CampaignStatus::ManufacturingStarted);
    let start = g.sample.payload(EventType::ManufacturingStarted).unwrap()["startDate"].clone();
    let early = json!({"endDate": "2020-01-01", "actualQuantity": 10});
    let err = check_next(
        &g.campaign,
        Some(&g.state()),
        &Payload::parse(EventType::ManufacturingCompleted, &early).unwrap(),
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("endDate"));
    assert!(err.to_string().contains(start.as_str().unwrap()), "{err}");
    g.record(EventType::ManufacturingCompleted, early);
    assert_eq!(g.kinds(), [AnomalyKind::InconsistentDates]);
}

#[test]
fn an_event_given_twice_folds_once_at_its_first_place() {
    let mut g = Given::at(CampaignStatus::TransferredToRge);
    let target = g.events[3].id.clone();
    let was = g.events[3].data["outputWeightKg"].clone();
    g.correct(&target, "outputWeightKg", was, json!(1.0));
    let expected = g.state();
    let mut twice: Vec<&Event> = g.events.iter().collect();
    twice.push(&g.events[2]);
    twice.push(&g.events[0]);
    assert_eq!(fold(twice).unwrap(), expected);
}

#[test]
fn incremental_application_equals_replay() {
    let g = Given::at(CampaignStatus::Completed);
    let mut state = None;
    for (i, e) in g.events.iter().enumerate() {
        let next = vec![(e, Payload::parse(e.event_type, &e.data).unwrap())];
        assert!(can_continue(state.as_ref(), &next));
        state = continue_projection(state, next);
        assert_eq!(state.as_ref(), fold_projection(&g.events[..=i]).as_ref());
    }
}

#[test]
fn state_as_of_an_instant_shows_what_was_recorded_then() {
    let mut g = Given::at(CampaignStatus::GranulationComplete);
    let inbound_id = g.events[1].id.clone();
    let net = g.events[1].data["netWeightKg"].clone();
    let before_correction = g.events.last().unwrap().created_at;
    g.correct(&inbound_id, "netWeightKg", net.clone(), json!(net.as_f64().unwrap() + 100.0));
    g.step(EventType::MetalRemovalCompleted);

    let then = fold_as_of(&g.events, before_correction).unwrap();
    assert_eq!(then.status, CampaignStatus::GranulationComplete);
    assert_eq!(then.inbound_net_weight_kg, net.as_f64());
    let at_inbound = fold_as_of(&g.events, g.events[1].created_at).unwrap();
    assert_eq!(at_inbound.status, CampaignStatus::InboundShipmentRecorded);
    assert!(fold_as_of(&g.events, Timestamp::from_millis(0)).is_none());
    assert_eq!(g.state().status, CampaignStatus::MetalRemovalComplete);
}

/// A loss is a difference of two weights: 3,360.2 kg in, 3,350 kg taken into granulation is a
/// loss of 10.2 kg, as every output writes it, not the 10.199999999999818 the subtraction gives.
#[test]
fn a_handling_loss_is_written_to_a_tenth_of_a_kilogram() {
    let mut g = Given::at(CampaignStatus::Created);
    g.record(EventType::InboundShipmentRecorded, inbound(3360.2));
    g.record(
        EventType::GranulationCompleted,
        json!({"ticketNumber": "G1", "startingWeightKg": 3350.0, "outputWeightKg": 3190.0}),
    );
    let mb = MassBalance::of(&g.state(), Timestamp::from_millis(g.clock_ms));
    assert_ne!(mb.handling_losses[0].loss_kg, 10.2, "kept exact for sums");
    let json = serde_json::to_value(&mb).unwrap();
    assert_eq!(json["handlingLosses"][0]["lossKg"], json!(10.2));
}

#[test]
fn mass_balance_shows_yields_losses_and_durations() {
    let mut g = Given::at(CampaignStatus::Created);
    g.record(EventType::InboundShipmentRecorded, inbound(10000.0));
    g.record(
        EventType::GranulationCompleted,
        json!({"ticketNumber": "G1", "startingWeightKg": 9900, "outputWeightKg": 9405, "processHours": 6}),
    );
    g.record(
        EventType::MetalRemovalCompleted,
        json!({"ticketNumber": "M1", "startingWeightKg": 9400, "outputWeightKg": 9212}),
    );
    let st = g.state();
    let now = Timestamp::from_millis(g.clock_ms + 60_000);
    let mb = MassBalance::of(&st, now);
    let weights: Vec<f64> = mb.points.iter().map(|p| p.weight_kg).collect();
    assert_eq!(weights, [10000.0, 9405.0, 9212.0]);
    assert_eq!(mb.step_yields.len(), 2);
    assert!((mb.step_yields[0].yield_ratio - 0.95).abs() < 1e-12);
    assert_eq!(mb.step_yields[0].process_hours, Some(6.0));
    assert_eq!(mb.handling_losses[0].loss_kg, 100.0);
    assert_eq!(mb.handling_losses[1].loss_kg, 5.0);
    assert!((mb.overall_yield.unwrap() - 0.9212).abs() < 1e-12);
    assert_eq!(mb.step_durations.len(), 3);
    // The shipment arrived on the day its entry states, not the day it was typed in.
    let arrival = &mb.step_durations[0];
    assert_eq!((arrival.to.date.to_string(), arrival.to.stated), ("2026-02-03".to_owned(), true));
    assert!(!arrival.from.stated, "the creation states no day");
    assert!(mb.step_durations[1].to.stated, "granulation states the day it was completed");
    assert_eq!(arrival.days, (arrival.to.date.0 - arrival.from.date.0).num_days());
    assert_eq!(mb.seconds_in_current_status, 60);
}

#[test]
fn unreadable_payloads_are_anomalies_not_failures() {
    let mut g = Given::at(CampaignStatus::Created);
    g.record(EventType::InboundShipmentRecorded, json!({"netWeightKg": "lots"}));
    g.record(EventType::EventCorrected, json!(42));
    let st = g.state();
    assert_eq!(st.status, CampaignStatus::Created);
    assert_eq!(st.event_count, 3);
    assert_eq!(g.kinds(), [AnomalyKind::InvalidPayload, AnomalyKind::InvalidPayload]);
}

/// Material cannot appear between two steps: a starting weight above the campaign's weight by
/// more than the tolerance is refused at entry with both figures, and, arriving from another
/// laptop, is kept as an anomaly that a correction of the wrong weight resolves.
#[test]
fn a_step_taking_in_more_than_the_campaign_weighed_is_refused_or_an_anomaly() {
    let mut g = Given::at(CampaignStatus::GranulationComplete);
    let before = g.state().current_weight_kg.unwrap();
    let mut granted = g.sample.payload(EventType::MetalRemovalCompleted).unwrap();
    // Within the tolerance (0.5 %): scales differ a little.
    granted["startingWeightKg"] = json!(before * 1.004);
    granted["outputWeightKg"] = json!(before);
    let within = Payload::parse(EventType::MetalRemovalCompleted, &granted).unwrap();
    assert!(check_next(&g.campaign, Some(&g.state()), &within).is_ok());

    let mut heavy = granted.clone();
    heavy["startingWeightKg"] = json!(before * 1.01);
    let refused = check_next(
        &g.campaign,
        Some(&g.state()),
        &Payload::parse(EventType::MetalRemovalCompleted, &heavy).unwrap(),
    )
    .unwrap_err();
    assert_eq!(refused.field(), Some("startingWeightKg"));
    let words = refused.to_string();
    assert!(words.contains(&format!("current weight ({before} kg)")) && words.contains("0.5 %"), "{words}");
    assert!(words.contains(&format!("got {} kg", before * 1.01)), "{words}");

    // The same entry pulled from another laptop takes effect, and says what is wrong.
    let id = g.record(EventType::MetalRemovalCompleted, heavy);
    let st = g.state();
    assert_eq!(st.status, CampaignStatus::MetalRemovalComplete);
    assert_eq!(g.kinds(), [AnomalyKind::ImplausibleWeight]);
    assert!(st.anomalies[0].message.contains("material cannot appear"), "{}", st.anomalies[0].message);
    // Correcting the starting weight resolves it.
    g.correct(&id, "startingWeightKg", json!(before * 1.01), json!(before));
    assert!(g.kinds().is_empty(), "{:?}", g.state().anomalies);
}

/// The transfer's received weight is held to the extrusion's output the same way.
#[test]
fn a_received_weight_above_the_extruded_is_refused_beside_its_field() {
    let g = Given::at(CampaignStatus::EchaApproved);
    let before = g.state().current_weight_kg.unwrap();
    let mut transfer = g.sample.payload(EventType::TransferToRgeRecorded).unwrap();
    transfer["receivedWeightKg"] = json!(before + 100.0);
    let payload = Payload::parse(EventType::TransferToRgeRecorded, &transfer).unwrap();
    let refused = check_next(&g.campaign, Some(&g.state()), &payload).unwrap_err();
    assert_eq!(refused.field(), Some("receivedWeightKg"));
}
