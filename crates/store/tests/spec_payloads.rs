//! Every payload of the original design, as `docs/events.md` writes it, is recorded as it is
//! written: the golden test of the payload contract.

use std::path::Path;

use pluto_domain::{CampaignId, CampaignStatus, EventType, UserId};
use pluto_store::{Draft, Store};
use serde_json::Value;

/// The blocks of the section "The original design's payloads": each type with its payload.
fn spec_payloads() -> Vec<(EventType, Value)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/events.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let section = text.split("\n## The original design's payloads\n").nth(1).expect("the section is there");
    let section = section.split("\n## ").next().unwrap();
    let mut blocks = Vec::new();
    for part in section.split("\n### ").skip(1) {
        let name = part.lines().next().unwrap().trim().trim_matches('`');
        let event_type = EventType::parse(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let json =
            part.split("```json\n").nth(1).and_then(|b| b.split("\n```").next()).expect("a json block");
        let data: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{name}: {e}"));
        blocks.push((event_type, data));
    }
    blocks
}

#[test]
fn every_payload_of_the_original_design_is_recorded_as_written() {
    let blocks = spec_payloads();
    let types: Vec<EventType> = blocks.iter().map(|(t, _)| *t).collect();
    for step in EventType::STEPS {
        assert!(types.contains(&step), "docs/events.md has no example of {step}");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("laptop.sqlite3")).unwrap();
    let user = UserId::parse("usr_alex").unwrap();
    let mut campaign: Option<CampaignId> = None;
    let mut recorded = Vec::new();
    for (event_type, mut data) in blocks {
        // A correction names an entry above by its id, which only exists once recorded.
        if let Some(target) = data.get("correctsEventType").and_then(Value::as_str) {
            let target = EventType::parse(target).unwrap();
            let (id, _) =
                recorded.iter().rev().find(|(_, t)| *t == target).expect("the corrected entry is above");
            data["correctsEventId"] = Value::String(String::clone(id));
        }
        let entry = store
            .record(Draft::new(campaign.clone(), event_type, data.clone(), user.clone()))
            .unwrap_or_else(|e| panic!("{event_type} {data}: {e}"));
        campaign = Some(entry.event.stream_id.clone());
        recorded.push((entry.event.id.to_string(), event_type));
    }
    let state = store.campaign(&campaign.unwrap()).unwrap().unwrap();
    assert_eq!(state.status, CampaignStatus::Completed);
    assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
    assert_eq!(state.inbound_net_weight_kg, Some(10000.0), "the design's corrected net weight");
    let granulation = state.steps.granulation.as_ref().unwrap();
    assert_eq!(granulation.data.output_weight_kg, 9800.0);
    let completion = state.steps.completion.as_ref().unwrap();
    assert_eq!(completion.data.completion_date.0, chrono::Local::now().date_naive(), "closed today");
    assert!(store.verify().unwrap().is_empty());
}

/// The table of `docs/events.md` lists every registered type once, in the registry's order, with
/// the sites that record it, the status it reaches, the days it is due in and its payload's
/// fields; the README counts them right.
#[test]
fn the_documented_event_types_are_the_registered_ones() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("docs/events.md")).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.starts_with("| ") && l.chars().nth(2).is_some_and(|c| c.is_ascii_digit()))
        .map(|l| l.split(" | ").map(str::trim).collect())
        .collect();
    let documented: Vec<&str> = rows.iter().map(|r| r[1].trim_matches('`')).collect();
    let registered: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(documented, registered, "docs/events.md's table, against the registry");
    for (row, t) in rows.iter().zip(EventType::ALL) {
        if !t.default_sites().is_empty() {
            assert_eq!(row[3], t.default_sites().join(", "), "{t}'s sites");
        }
        if let Some(status) = t.target_status() {
            assert_eq!(row[4], format!("`{}`", status.as_str()), "{t}'s status");
        }
        let due = t.default_due_days().map_or("—".to_owned(), |d| d.to_string());
        assert_eq!(row[5], due, "{t}'s days due");
        for field in t.fields() {
            let named = row[6].contains(&format!("`{}`", field.name))
                || (row[6].contains("processing fields") && text.contains(&format!("`{}`", field.name)));
            assert!(named, "docs/events.md does not name {t}'s field {}", field.name);
        }
    }
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let count = format!("{} types", EventType::ALL.len());
    assert!(readme.contains(&count), "the README should say {count}");
    assert!(
        !readme.contains("13 event types") && !readme.contains("(13 types"),
        "the README counts an older registry"
    );
}
