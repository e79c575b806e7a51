//! The PDFs read back with `pdftotext` (poppler-utils; the test command installs it): what an
//! auditor reads on paper is what the record holds.

use std::collections::HashMap;
use std::process::Command;

use serde_json::json;

use super::*;
use crate::period::{CampaignRef, Period, PeriodReportBuilder, Scope};
use pluto_domain::event::Event;
use pluto_domain::flows::Flows;
use pluto_domain::ids::{CampaignId, DeviceId, EventId, UserId};
use pluto_domain::registry::fields::MaterialType;
use pluto_domain::registry::flow::Flow;
use pluto_domain::registry::{CampaignStatus, EventType};
use pluto_domain::time::parse_date;

/// The text of `pdf`, as `pdftotext -layout` extracts it.
fn text_of(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out =
        Command::new("pdftotext").args(["-layout", "-enc", "UTF-8"]).arg(&path).arg("-").output().expect(
            "pdftotext (poppler-utils) is needed to read the PDFs back; `scripts/dev test` installs it",
        );
    assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn stamp(locale: Locale, training: bool) -> Stamp<'static, chrono::FixedOffset> {
    static CET: std::sync::LazyLock<chrono::FixedOffset> =
        std::sync::LazyLock::new(|| chrono::FixedOffset::east_opt(3600).unwrap());
    Stamp {
        locale,
        tz: &CET,
        training,
        made_at: Timestamp::parse("2026-04-02T08:30:00.000Z").unwrap(),
        made_by: "Søren Müller".into(),
        public_key: "MCowBQYDK2VwAyEA0123456789abcdefghijk".into(),
    }
}

/// A campaign recorded by Søren at MBA: inbound (then corrected), a granulation recorded twice
/// by mistake and voided, and its repeat, `filler` extra steps' worth of pages of text.
fn record(filler: usize) -> CampaignRecord {
    record_of(&events(filler))
}

/// The record of `events` as the app makes it on 2 April, every entry attested at MBA.
fn record_of(events: &[Event]) -> CampaignRecord {
    let mut record =
        CampaignRecord::of(events, None, Timestamp::parse("2026-04-02T08:30:00.000Z").unwrap()).unwrap();
    let sites: HashMap<EventId, String> = events.iter().map(|e| (e.id.clone(), "MBA".to_owned())).collect();
    record.attest_sites(&sites);
    record
}

/// The events of [`record`].
fn events(filler: usize) -> Vec<Event> {
    let campaign = CampaignId::generate();
    let user = UserId::from_name("Søren Müller").unwrap();
    let mut events = Vec::new();
    let mut at = Timestamp::parse("2026-02-18T09:12:00.000Z").unwrap().millis();
    let mut push = |event_type: EventType, data: serde_json::Value| {
        at += 60_000;
        let created_at = Timestamp::from_millis(at);
        let id = EventId::generate(created_at.system_time());
        events.push(Event {
            id: id.clone(),
            stream_type: "campaign".into(),
            stream_id: campaign.clone(),
            event_type,
            schema_version: event_type.schema_version(),
            data,
            user_id: user.clone(),
            device_id: DeviceId::parse("dev_01HQJK5W3N8XKZ0G2Y5V7R9T1A").unwrap(),
            device_seq: events.len() as u64 + 1,
            created_at,
        });
        id
    };
    push(
        EventType::CampaignCreated,
        json!({ "legoCampaignCode": "LEGO-2026-0042", "materialType": "PCR", "description": "Take-back, Billund" }),
    );
    let inbound = push(
        EventType::InboundShipmentRecorded,
        json!({ "grossWeightKg": 3560.0, "netWeightKg": 3306.2, "carrier": "DHL Freight", "trackingRef": "DHL-123456",
                "shipDate": "2026-02-16", "arrivalDate": "2026-02-18" }),
    );
    push(
        EventType::EventCorrected,
        json!({ "correctsEventId": inbound, "correctsEventType": "InboundShipmentRecorded",
                "reason": "Weighbridge slip read wrong", "changes": { "netWeightKg": { "was": 3306.2, "now": 3360.2 } } }),
    );
    let twice = push(
        EventType::GranulationCompleted,
        json!({ "ticketNumber": "G-17", "startingWeightKg": 3350.0, "outputWeightKg": 3190.0, "completedOn": "2026-02-18" }),
    );
    push(
        EventType::EntryVoided,
        json!({ "voidsEventId": twice, "voidsEventType": "GranulationCompleted", "reason": "Typed on the wrong campaign" }),
    );
    for i in 0..filler.max(1) {
        push(
            EventType::GranulationCompleted,
            json!({ "ticketNumber": format!("G-{}", 18 + i), "startingWeightKg": 3350.0, "outputWeightKg": 3190.0,
                    "completedOn": "2026-02-18", "notes": "Labels and some paper residue removed by hand before the run; ".repeat(3) }),
        );
    }
    events
}

#[test]
#[cfg_attr(
    windows,
    ignore = "pdftotext is a program of the Linux host; the PDF bytes are the same on Windows"
)]
fn the_custody_record_names_people_and_sites_in_the_readers_language_and_no_ids() {
    let pdf = custody_record(&record(1), &stamp(Locale::Da, false), &"ab12".repeat(16));
    assert!(pdf.starts_with(b"%PDF-"));
    let text = text_of(&pdf);
    let full = "ab12".repeat(16);
    for expected in [
        "Chain-of-custody record: LEGO-2026-0042",
        "Søren Müller, MBA (confirmed by the server)",
        // Danish numbers and dates, local time with its offset.
        "Net weight: 3.360,2 kg",
        "Arrival date: 18.02.2026",
        "18.02.2026 10:14 (UTC+01:00): Inbound Shipment",
        // The correction, was -> now, who and why; the void.
        "Corrected Net weight: 3.306,2 kg -> 3.360,2 kg, by Søren Müller",
        "Reason: Weighbridge slip read wrong",
        "Granulation (VOIDED)",
        "Voids Granulation. Reason: Typed on the wrong campaign",
        "Reason: Typed on the wrong campaign",
        // The mass balance table and the sign-off.
        "Inbound Shipment",
        "Recorded for the site by: name and signature",
        "Checked by (auditor): name and signature",
        "fingerprint ab12ab12ab12ab12 · page 1 of",
        // Printed in full once, with what is signed and how.
        full.as_str(),
        "This PDF carries no digital",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("TRAINING"));
    assert!(!text.contains("netWeightKg"), "a correction is told in words, not as JSON:\n{text}");
    let developer = pluto_domain::vocabulary::developer_words(&text);
    assert!(developer.is_empty(), "no ids, type names or codes: {developer:?} in:\n{text}");

    let english = text_of(&custody_record(&record(1), &stamp(Locale::En, false), "ab12"));
    assert!(english.contains("Net weight: 3,360.2 kg"), "{english}");
    assert!(english.contains("Arrival date: 18 Feb 2026"), "{english}");
}

/// An anomaly's advice is printed while something is to be done; once reviewed, the PDF says
/// who reviewed it, when and why, and gives no advice.
#[test]
#[cfg_attr(
    windows,
    ignore = "pdftotext is a program of the Linux host; the PDF bytes are the same on Windows"
)]
fn a_reviewed_anomaly_prints_its_review_not_its_advice() {
    let mut events = events(2);
    let open = record_of(&events);
    let remedy = open.anomalies[0].remedy.clone();
    let text = text_of(&custody_record(&open, &stamp(Locale::En, false), "ab12"));
    assert!(text.contains("Not reviewed yet"), "{text}");
    assert!(text.contains(&remedy[..20]), "{remedy} in {text}");

    let duplicate = &open.anomalies[0].anomaly;
    let mut review = events.last().unwrap().clone();
    review.id = review.id.successor();
    review.device_seq += 1;
    review.event_type = EventType::AnomalyReviewed;
    review.schema_version = EventType::AnomalyReviewed.schema_version();
    review.data = json!({ "eventId": duplicate.event_id, "anomalyKind": duplicate.kind.as_str(),
                          "note": "Both runs were real: two lots" });
    events.push(review);
    let text = text_of(&custody_record(&record_of(&events), &stamp(Locale::En, false), "ab12"));
    assert!(text.contains("Reviewed by Søren Müller on"), "{text}");
    assert!(text.contains("Both runs were real: two lots"), "{text}");
    assert!(!text.contains("Not reviewed yet") && !text.contains(&remedy[..20]), "no advice left:\n{text}");
}

#[test]
#[cfg_attr(
    windows,
    ignore = "pdftotext is a program of the Linux host; the PDF bytes are the same on Windows"
)]
fn every_page_of_a_long_record_is_numbered_and_says_training_when_it_is() {
    let pdf = custody_record(&record(60), &stamp(Locale::De, true), "cd34");
    let text = text_of(&pdf);
    let pages: Vec<&str> = text.split('\u{c}').filter(|p| !p.trim().is_empty()).collect();
    assert!(pages.len() >= 3, "{} pages", pages.len());
    for (i, page) in pages.iter().enumerate() {
        assert!(page.contains("TRAINING: practice data, not a real record"), "page {}: {page}", i + 1);
        let footer = format!("page {} of {}", i + 1, pages.len());
        assert!(page.contains(&footer), "page {} lacks {footer:?}: {page}", i + 1);
    }
}

#[test]
#[cfg_attr(
    windows,
    ignore = "pdftotext is a program of the Linux host; the PDF bytes are the same on Windows"
)]
fn the_period_report_shows_the_balance_and_who_made_it() {
    let mut flows = Flows::default();
    let d = |s| parse_date(s).unwrap();
    let kg = |i, o| Flow { kg_in: i, kg_out: o, ..Flow::default() };
    flows.record(CampaignStatus::InboundShipmentRecorded, d("2026-01-10"), kg(None, Some(3360.2)));
    flows.record(CampaignStatus::GranulationComplete, d("2026-01-12"), kg(Some(3350.0), Some(3190.0)));
    let mut b = PeriodReportBuilder::new(Period::quarter("2026-Q1").unwrap(), Scope::default());
    let campaign = CampaignRef {
        id: CampaignId::generate(),
        code: Some("LEGO-2026-0042".into()),
        material: Some(MaterialType::Pcr),
    };
    b.add(campaign, &flows);
    let report = b.finish();
    let text = text_of(&period_report(&report, &stamp(Locale::De, true), &"ef56".repeat(16)));
    for expected in [
        "Period mass balance",
        "01.01.2026 to 31.03.2026",
        "Received at MBA (inbound net weight)",
        "3.360,2 kg",
        "Process loss in Granulation",
        "160,0 kg",
        "In process at the end",
        "3.190,0 kg",
        "02.04.2026 09:30 (UTC+01:00) by Søren Müller",
        "Yields of the steps completed in the period",
        "95,2 %",
        "LEGO-2026-0042: Received at MBA (inbound net weight) 3.360,2 kg",
        "Prepared by: name and signature",
        "TRAINING",
        "fingerprint ef56ef56ef56ef56 · page 1 of 1",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn numbers_and_dates_follow_the_locale() {
    assert_eq!(Locale::Da.number(1234567.891, 1), "1.234.567,9");
    assert_eq!(Locale::En.number(1234567.891, 1), "1,234,567.9");
    assert_eq!(Locale::De.number(-0.04, 1), "0,0");
    assert_eq!(Locale::De.number(-1500.0, 0), "-1.500");
    assert_eq!(Locale::En.number(999.0, 0), "999");
    assert_eq!(Locale::from_tag("da-DK"), Locale::Da);
    assert_eq!(Locale::from_tag("de"), Locale::De);
    assert_eq!(Locale::from_tag("fr-FR"), Locale::En);
    assert_eq!(win_ansi("Søren Müller – 5 €"), b"S\xf8ren M\xfcller \x96 5 \x80");
    assert_eq!(win_ansi("→"), b"?");
}
