use serde_json::json;

use super::*;
use crate::samples::SampleCampaign;

fn refused(event_type: EventType, data: Value) -> FieldError {
    Payload::parse(event_type, &data).expect_err("should be refused")
}

fn sample(event_type: EventType) -> Value {
    SampleCampaign::numbered(7).payload(event_type).unwrap()
}

fn with(event_type: EventType, key: &str, value: Value) -> Value {
    let mut v = sample(event_type);
    v[key] = value;
    v
}

#[test]
fn spec_examples_parse_and_keep_their_shape() {
    let data = json!({
        "grossWeightKg": 10500, "netWeightKg": 10000, "carrier": "DHL",
        "trackingRef": "DHL-123456", "shipDate": "2026-02-01", "arrivalDate": "2026-02-03"
    });
    let payload = Payload::parse(EventType::InboundShipmentRecorded, &data).unwrap();
    let canonical = payload.to_value();
    assert_eq!(canonical["netWeightKg"], json!(10000.0));
    assert!(canonical.get("estimatedAbsKg").is_none(), "absent optional fields stay absent");
    assert_eq!(Payload::parse(EventType::InboundShipmentRecorded, &canonical).unwrap(), payload);
}

#[test]
fn field_tables_list_exactly_the_fields_of_each_payload() {
    for event_type in EventType::STEPS {
        let full = sample(event_type);
        let mut data = full.as_object().unwrap().clone();
        // Fill every optional field the sample leaves out, so serialization shows all keys.
        for spec in event_type.fields() {
            data.entry(spec.name.to_owned()).or_insert_with(|| match spec.kind {
                FieldKind::Text => json!("x"),
                FieldKind::Weight | FieldKind::Hours => json!(1.0),
                FieldKind::Date => json!("2026-12-31"),
                FieldKind::Quantity => json!(1),
                _ => unreachable!(),
            });
        }
        let payload = Payload::parse(event_type, &Value::Object(data.clone())).unwrap();
        let keys: Vec<String> = payload.to_value().as_object().unwrap().keys().cloned().collect();
        let mut names: Vec<String> = event_type.fields().iter().map(|f| f.name.to_owned()).collect();
        names.sort();
        assert_eq!(keys, names, "{event_type}");
        for spec in event_type.fields() {
            let mut without = data.clone();
            without.remove(spec.name);
            let result = Payload::parse(event_type, &Value::Object(without));
            if spec.required {
                let err = result.expect_err(spec.name);
                assert_eq!(err.field, spec.name);
                assert_eq!(err.message, "is required");
            } else {
                assert!(result.is_ok(), "{event_type}.{} is optional", spec.name);
            }
        }
    }
}

#[test]
fn event_type_names_are_the_specs() {
    let names: Vec<String> = EventType::ALL
        .iter()
        .map(|t| serde_json::to_value(t).unwrap().as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "CampaignCreated",
            "InboundShipmentRecorded",
            "GranulationCompleted",
            "MetalRemovalCompleted",
            "PolymerPurificationCompleted",
            "ExtrusionCompleted",
            "ECHAApprovalRecorded",
            "TransferToRGERecorded",
            "ManufacturingStarted",
            "ManufacturingCompleted",
            "ReturnToLEGORecorded",
            "CampaignCompleted",
            "EventCorrected",
            "EntryVoided",
            "AnomalyReviewed",
        ]
    );
    for t in EventType::ALL {
        assert_eq!(EventType::parse(t.as_str()).unwrap(), *t);
    }
    let err = EventType::parse("GranulationDone").unwrap_err();
    assert!(err.message.contains("GranulationCompleted"), "{err}");
}

#[test]
fn unknown_fields_and_wrong_types_are_refused_by_name() {
    let err = refused(
        EventType::GranulationCompleted,
        with(EventType::GranulationCompleted, "colour", json!("red")),
    );
    assert_eq!(err.field, "colour");
    assert!(err.message.contains("GranulationCompleted has no field \"colour\""), "{err}");

    let err = refused(
        EventType::InboundShipmentRecorded,
        with(EventType::InboundShipmentRecorded, "netWeightKg", json!("10000")),
    );
    assert_eq!(err.field, "netWeightKg");
    assert_eq!(err.message, "expected a weight in kg (a number greater than 0), got \"10000\"");

    let err = refused(EventType::CampaignCreated, json!({"legoCampaignCode": "L-1", "materialType": "ABS"}));
    assert_eq!(err.field, "materialType");
    assert!(err.message.contains("PI or PCR"), "{err}");

    let err = refused(EventType::CampaignCompleted, json!(["not", "an", "object"]));
    assert_eq!(err.field, "data");
}

#[test]
fn weights_must_be_positive_and_consistent() {
    let t = EventType::InboundShipmentRecorded;
    for bad in [json!(0), json!(-5)] {
        assert_eq!(refused(t, with(t, "grossWeightKg", bad)).field, "grossWeightKg");
    }
    let mut v = sample(t);
    v["netWeightKg"] = json!(2000);
    v["grossWeightKg"] = json!(1900);
    let err = refused(t, v.clone());
    assert_eq!(err.field, "netWeightKg");
    assert_eq!(err.message, "must not exceed the gross weight (1900 kg), got 2000 kg");
    v["grossWeightKg"] = json!(2100);
    v["estimatedAbsKg"] = json!(2050);
    assert_eq!(refused(t, v).field, "estimatedAbsKg");

    let g = EventType::GranulationCompleted;
    let mut v = sample(g);
    v["outputWeightKg"] = json!(v["startingWeightKg"].as_f64().unwrap() + 1.0);
    let err = refused(g, v);
    assert_eq!(err.field, "outputWeightKg");
    assert!(err.message.starts_with("must not exceed the starting weight"), "{err}");
    assert_eq!(refused(g, with(g, "processHours", json!(0))).field, "processHours");

    let tr = EventType::TransferToRgeRecorded;
    assert_eq!(refused(tr, with(tr, "receivedWeightKg", json!(0))).field, "receivedWeightKg");
}

#[test]
fn required_text_must_not_be_blank() {
    for (t, field) in [
        (EventType::CampaignCreated, "legoCampaignCode"),
        (EventType::InboundShipmentRecorded, "carrier"),
        (EventType::ExtrusionCompleted, "batchNumber"),
        (EventType::EchaApprovalRecorded, "approvedBy"),
        (EventType::ManufacturingStarted, "poNumber"),
    ] {
        let err = refused(t, with(t, field, json!("   ")));
        assert_eq!((err.field.as_str(), err.message.as_str()), (field, "is required and must not be blank"));
    }
    let long = "x".repeat(MAX_TEXT_CHARS + 1);
    assert_eq!(
        refused(
            EventType::CampaignCompleted,
            json!({"completionDate": "2026-03-30", "completionNotes": long})
        )
        .field,
        "completionNotes"
    );
}

#[test]
fn dates_are_iso_dates_in_order() {
    let t = EventType::InboundShipmentRecorded;
    for bad in ["2026-2-1", "2026-02-30", "01/02/2026", "2026-02-01T10:00:00Z", ""] {
        let err = refused(t, with(t, "shipDate", json!(bad)));
        assert_eq!(err.field, "shipDate", "{bad}");
        assert!(err.message.contains("YYYY-MM-DD"), "{bad}: {err}");
    }
    let mut v = sample(t);
    v["shipDate"] = json!("2026-02-05");
    v["arrivalDate"] = json!("2026-02-04");
    let err = refused(t, v);
    assert_eq!(err.field, "arrivalDate");
    assert_eq!(err.message, "must be on or after the ship date (2026-02-05), got 2026-02-04");

    for t in [EventType::TransferToRgeRecorded, EventType::ReturnToLegoRecorded] {
        let mut v = sample(t);
        v["receivedDate"] = json!("2020-01-01");
        assert_eq!(refused(t, v).field, "receivedDate");
    }
}

/// A processing step states the day it was completed; one recorded by a build from before the
/// date existed counts on the day it was recorded in the sites' calendar, not UTC's: typed at
/// 00:30 on 1 July in Copenhagen, it belongs to July (and to Q3).
#[test]
fn processing_steps_state_their_day_and_older_ones_count_on_the_sites_day() {
    let typed = Timestamp::parse("2026-06-30T22:30:00Z").unwrap();
    let data = json!({"ticketNumber": "G-17", "startingWeightKg": 950, "outputWeightKg": 900});
    for t in [
        EventType::GranulationCompleted,
        EventType::MetalRemovalCompleted,
        EventType::PolymerPurificationCompleted,
        EventType::ExtrusionCompleted,
    ] {
        let mut data = data.clone();
        if t == EventType::ExtrusionCompleted {
            data["batchNumber"] = json!("B-4");
        }
        let Reading::Full(older) = Payload::read(t, 1, &data, typed) else {
            panic!("{t} version 1 reads fully")
        };
        assert_eq!(older.happened_on().unwrap().to_string(), "2026-07-01", "{t}");
        assert_eq!(
            older.to_value()["completedOn"],
            json!("2026-07-01"),
            "{t}: written as the current version"
        );

        let err = Payload::parse(t, &data).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.message.as_str()),
            ("completedOn", "is required"),
            "{t}: the writer states it"
        );
        data["completedOn"] = json!("2026-06-29");
        let stated = Payload::read(t, 2, &data, typed);
        assert!(
            matches!(&stated, Reading::Full(p) if p.happened_on().unwrap().to_string() == "2026-06-29"),
            "{t}"
        );
        data["completedOn"] = json!("29.06.2026");
        let err = Payload::parse(t, &data).unwrap_err();
        assert_eq!(err.field, "completedOn");
        assert!(err.message.contains("YYYY-MM-DD"), "{err}");
    }
}

/// An entry records what has happened: no date it states, and none a correction sets, lies after
/// today (a year typed wrong would put the step into a period to come). Entries from elsewhere
/// are read as they are.
#[test]
fn an_entry_dated_after_today_is_refused_by_its_field() {
    let now = Timestamp::parse("2026-06-15T12:00:00Z").unwrap();
    let t = EventType::GranulationCompleted;
    let today = with(t, "completedOn", json!("2026-06-15"));
    assert!(Payload::parse_entry(t, &today, now).is_ok(), "today is fine");
    let err = Payload::parse_entry(t, &with(t, "completedOn", json!("2062-06-15")), now).unwrap_err();
    assert_eq!(err.field, "completedOn");
    assert_eq!(
        err.message,
        "must not be after today (2026-06-15), got 2062-06-15: an entry records what has happened"
    );
    let shipment = EventType::InboundShipmentRecorded;
    let err =
        Payload::parse_entry(shipment, &with(shipment, "arrivalDate", json!("2026-06-16")), now).unwrap_err();
    assert_eq!(err.field, "arrivalDate");

    let correction = json!({ "correctsEventId": "evt_01HQJK5W3N8XKZ0G2Y5V7R9T1A", "correctsEventType": "GranulationCompleted",
        "reason": "wrong year", "changes": { "completedOn": { "was": "2026-06-01", "now": "2027-06-01" } } });
    let err = Payload::parse_entry(EventType::EventCorrected, &correction, now).unwrap_err();
    assert_eq!(err.field, "changes.completedOn.now");
    let far = with(t, "completedOn", json!("2062-06-15"));
    assert!(matches!(Payload::read(t, 2, &far, now), Reading::Full(_)), "read as it is");
}

#[test]
fn quantities_are_positive_whole_numbers() {
    let t = EventType::ManufacturingStarted;
    for bad in [json!(0), json!(-3), json!(2.5), json!("100")] {
        let err = refused(t, with(t, "poQuantity", bad.clone()));
        assert_eq!(err.field, "poQuantity", "{bad}");
        assert!(err.message.contains("whole number greater than 0"), "{bad}: {err}");
    }
    assert_eq!(
        refused(EventType::ReturnToLegoRecorded, with(EventType::ReturnToLegoRecorded, "quantity", json!(0)))
            .field,
        "quantity"
    );
}

#[test]
fn corrections_are_checked_for_shape() {
    let t = EventType::EventCorrected;
    let good = json!({
        "correctsEventId": "evt_01HQJK5W3N8XKZ0G2Y5V7R9T1A",
        "correctsEventType": "InboundShipmentRecorded",
        "reason": "Typo in weight entry",
        "changes": {"netWeightKg": {"was": 1000, "now": 10000}}
    });
    Payload::parse(t, &good).unwrap();
    let mut v = good.clone();
    v["changes"] = json!({});
    assert_eq!(refused(t, v).field, "changes");
    let mut v = good.clone();
    v["reason"] = json!("");
    assert_eq!(refused(t, v).field, "reason");
    let mut v = good.clone();
    v["changes"] = json!({"colour": {"was": null, "now": "red"}});
    let err = refused(t, v);
    assert_eq!(err.field, "changes.colour");
    let mut v = good.clone();
    v["changes"]["netWeightKg"]["now"] = json!(-1);
    assert_eq!(refused(t, v).field, "changes.netWeightKg.now");
    let mut v = good.clone();
    v["changes"]["netWeightKg"]["now"] = Value::Null;
    let err = refused(t, v);
    assert!(err.message.contains("cannot be cleared"), "{err}");
    let mut v = good.clone();
    v["correctsEventType"] = json!("EventCorrected");
    assert_eq!(refused(t, v).field, "correctsEventType");
    let mut v = good;
    v["correctsEventId"] = json!("evt_1");
    let err = refused(t, v);
    assert_eq!(err.field, "correctsEventId");
}

#[test]
fn typed_input_is_read_by_field_kind() {
    assert_eq!(FieldKind::Weight.parse_input(true, " 9800.5 ").unwrap(), json!(9800.5));
    assert!(FieldKind::Weight.parse_input(true, "9,800").is_err());
    // A decimal comma typed at the command line is refused with the way to write it.
    let comma = FieldKind::Weight.parse_input(true, "4060,2").unwrap_err();
    assert!(comma.ends_with(r#"got "4060,2"; write decimals with a point: 4060.2"#), "{comma}");
    assert!(!FieldKind::Weight.parse_input(true, "4,060,2").unwrap_err().contains("point"));
    assert_eq!(FieldKind::Quantity.parse_input(true, "120").unwrap(), json!(120));
    assert!(FieldKind::Quantity.parse_input(true, "1.5").is_err());
    assert_eq!(FieldKind::Date.parse_input(true, "2026-02-03").unwrap(), json!("2026-02-03"));
    assert!(FieldKind::Date.parse_input(true, "3/2/2026").is_err());
    assert_eq!(FieldKind::Text.parse_input(false, "").unwrap(), Value::Null);
    assert_eq!(FieldKind::Text.parse_input(true, "007").unwrap(), json!("007"));
}
