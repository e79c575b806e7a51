//! The real `pluto` binary against real database files: output, exit codes, and that refused
//! input never changes the database.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::util::Pluto;

fn sample(event_type: &str) -> String {
    let t = pluto_domain::EventType::parse(event_type).unwrap();
    pluto_domain::samples::SampleCampaign::numbered(1).payload(t).unwrap().to_string()
}

/// The spec's names of every step after `CampaignCreated`, in order.
fn lifecycle() -> impl Iterator<Item = &'static str> {
    pluto_domain::EventType::STEPS[1..].iter().map(|t| t.as_str())
}

fn create(p: &Pluto, code: &str) -> String {
    p.ok(&["campaign", "create", "--code", code, "--material", "PCR", "--description", "Take-back bricks"])
        .trim()
        .to_owned()
}

#[test]
fn init_is_idempotent_and_device_is_stable() {
    let p = Pluto::new();
    let device = p.ok(&["device"]).trim().to_owned();
    assert!(device.starts_with("dev_") && device.len() == 30, "{device}");
    let again = p.json(&["init"]);
    assert_eq!(again["created"], json!(false));
    assert_eq!(again["deviceId"], json!(device));
}

#[test]
fn a_missing_database_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pluto"))
        .args(["--db", dir.path().join("none.sqlite3").to_str().unwrap(), "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `pluto init`"));
}

#[test]
fn whole_lifecycle_from_the_shell() {
    let p = Pluto::new();
    let id = create(&p, "LEGO-2026-0001");
    assert!(id.starts_with("cmp_"), "{id}");
    for t in lifecycle() {
        // The completion as the original design writes it: its notes only.
        let data =
            if t == "CampaignCompleted" { r#"{"completionNotes":"done"}"#.to_owned() } else { sample(t) };
        let event_id = p.ok(&["record", &id, t, "--data", &data]);
        assert!(event_id.trim().starts_with("evt_"));
    }
    let state = p.json(&["show", &id]);
    assert_eq!(state["status"], json!("completed"));
    let today = chrono::Local::now().date_naive().to_string();
    assert_eq!(
        state["steps"]["completion"]["data"],
        json!({"completionDate": today, "completionNotes": "done"})
    );
    assert_eq!(state["nextExpectedStep"], Value::Null);
    assert_eq!(state["legoCampaignCode"], json!("LEGO-2026-0001"));
    assert_eq!(state["eventCount"], json!(12));
    assert!(state["currentWeightKg"].as_f64().unwrap() > 0.0);
    assert_eq!(state["massBalance"]["stepYields"].as_array().unwrap().len(), 4);
    let text = p.ok(&["show", &id]);
    assert!(text.contains("Status              completed"), "{text}");
    assert!(text.contains("Mass balance"), "{text}");
    let history = p.json(&["history", &id]);
    assert_eq!(history.as_array().unwrap().len(), 12);
    assert_eq!(history[0]["eventType"], json!("CampaignCreated"));
    assert_eq!(history[11]["deviceSeq"], json!(12));
}

#[test]
fn refused_input_exits_1_names_the_field_and_changes_nothing() {
    let p = Pluto::new();
    let id = create(&p, "LEGO-2026-0002");
    let before = p.export();
    let stderr = p.fails(
        1,
        &["record", &id, "InboundShipmentRecorded", "--data", r#"{"grossWeightKg": 900, "netWeightKg": 1000, "carrier": "DHL", "trackingRef": "T", "shipDate": "2026-02-01", "arrivalDate": "2026-02-03"}"#],
    );
    assert!(stderr.contains("netWeightKg: must not exceed the gross weight (900 kg)"), "{stderr}");
    let stderr =
        p.fails(1, &["record", &id, "GranulationCompleted", "--data", &sample("GranulationCompleted")]);
    assert!(stderr.contains("this campaign is at “Created”"), "{stderr}");
    assert!(stderr.contains("the next step is Inbound Shipment"), "{stderr}");
    let stderr = p.fails(1, &["record", &id, "InboundShipmentRecorded", "--data", "{not json"]);
    assert!(stderr.contains("data: not valid JSON"), "{stderr}");
    let out = p.run(&[
        "--json",
        "record",
        &id,
        "InboundShipmentRecorded",
        "--data",
        r#"{"grossWeightKg": "heavy"}"#,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["field"], json!("grossWeightKg"));
    assert_eq!(err["error"]["kind"], json!("refused"));
    assert_eq!(p.export(), before);
}

#[test]
fn usage_errors_exit_2() {
    let p = Pluto::new();
    p.fails(2, &["record", "cmp_nope", "InboundShipmentRecorded", "--data", "{}"]);
    p.fails(2, &["record", "cmp_01HQJK5W3N8XKZ0G2Y5V7R9T1A", "Teleported", "--data", "{}"]);
    p.fails(2, &["campaign", "create", "--material", "PI"]);
    p.fails(2, &["list", "--status", "lost"]);
    p.fails(2, &["frobnicate"]);
}

#[test]
fn correct_reads_was_from_current_state_and_chains() {
    let p = Pluto::new();
    let id = create(&p, "LEGO-2026-0003");
    let inbound = r#"{"grossWeightKg": 10500, "netWeightKg": 1000, "carrier": "DHL", "trackingRef": "DHL-123456", "shipDate": "2026-02-01", "arrivalDate": "2026-02-03"}"#;
    let event_id = p.ok(&["record", &id, "InboundShipmentRecorded", "--data", inbound]).trim().to_owned();
    p.ok(&["correct", &id, &event_id, "--set", "netWeightKg=10000", "--reason", "Typo: should be 10000"]);
    let state = p.json(&["show", &id]);
    assert_eq!(state["currentWeightKg"], json!(10000.0));
    p.ok(&[
        "correct",
        &id,
        &event_id,
        "--set",
        "netWeightKg=9990",
        "--set",
        "carrier=DHL Freight",
        "--reason",
        "Weighbridge",
    ]);
    let history = p.json(&["history", &id]);
    assert_eq!(history[1]["data"]["netWeightKg"], json!(1000.0), "the original stays as recorded");
    assert_eq!(history[2]["data"]["changes"]["netWeightKg"], json!({"was": 1000.0, "now": 10000.0}));
    assert_eq!(history[3]["data"]["changes"]["netWeightKg"], json!({"was": 10000.0, "now": 9990.0}));
    assert_eq!(p.json(&["show", &id])["currentWeightKg"], json!(9990.0));
    let text = p.ok(&["history", &id]);
    assert!(text.contains("netWeightKg is now 9990.0 (corrected)"), "{text}");
    assert!(text.contains("· not yet confirmed by the server"), "{text}");

    // issue 26: a correction made against what `show` said, after someone else corrected meanwhile.
    let version = p.json(&["show", &id])["eventCount"].as_u64().unwrap() - 1;
    let stale = version.to_string();
    let args =
        ["correct", &id, &event_id, "--set", "netWeightKg=9900", "--reason", "x", "--expect-version", &stale];
    let stderr = p.fails(1, &args);
    assert!(stderr.contains("recorded Correction") && stderr.contains("while you were typing"), "{stderr}");

    let before = p.export();
    let stderr = p.fails(1, &["correct", &id, &event_id, "--set", "netWeightKg=heavy", "--reason", "x"]);
    assert!(stderr.contains("changes.netWeightKg.now: expected a weight in kg"), "{stderr}");
    let stderr = p.fails(1, &["correct", &id, &event_id, "--set", "colour=red", "--reason", "x"]);
    assert!(stderr.contains("has no field \"colour\""), "{stderr}");
    let stderr = p.fails(1, &["correct", &id, &event_id, "--set", "netWeightKg=20000", "--reason", "x"]);
    assert!(stderr.contains("must not exceed the gross weight"), "{stderr}");
    let stderr = p.fails(1, &["correct", &id, &event_id, "--set", "netWeightKg=100", "--reason", " "]);
    assert!(stderr.contains("reason: is required"), "{stderr}");
    assert_eq!(p.export(), before);
}

#[test]
fn void_then_record_again_and_review_an_anomaly() {
    let p = Pluto::new();
    let id = create(&p, "LEGO-2026-0009");
    for t in lifecycle().take(2) {
        p.ok(&["record", &id, t, "--data", &sample(t)]);
    }
    let granulation = p.json(&["history", &id])[2]["id"].as_str().unwrap().to_owned();
    p.ok(&["void", &id, &granulation, "--reason", "Ticket G-17 belongs to another campaign"]);
    assert_eq!(p.json(&["show", &id])["status"], json!("inbound_shipment_recorded"));
    let text = p.ok(&["history", &id]);
    assert!(text.contains("VOIDED by"), "{text}");
    assert!(text.contains("Ticket G-17 belongs to another campaign"), "{text}");
    p.ok(&["record", &id, "GranulationCompleted", "--data", &sample("GranulationCompleted")]);
    let before = p.export();
    let stderr = p.fails(1, &["void", &id, &granulation, "--reason", "again"]);
    assert!(stderr.contains("already voided"), "{stderr}");
    let stderr = p.fails(1, &["void", &id, &granulation, "--reason", " "]);
    assert!(stderr.contains("reason"), "{stderr}");
    assert_eq!(p.export(), before, "refused voids change nothing");

    // Another laptop recorded the same granulation: a duplicate, kept as an anomaly.
    let last: Value = serde_json::from_str(before.lines().last().unwrap()).unwrap();
    let mut duplicate = last.clone();
    let original_id = last["id"].as_str().unwrap();
    let last_char = if original_id.ends_with('Z') { '0' } else { 'Z' };
    duplicate["id"] = json!(format!("{}{last_char}", &original_id[..original_id.len() - 1]));
    duplicate["deviceId"] = json!("dev_01HQJK5W3N8XKZ0G2Y5V7R9T1A");
    duplicate["deviceSeq"] = json!(1);
    let file = p.file("duplicate.jsonl");
    std::fs::write(&file, format!("{duplicate}\n")).unwrap();
    p.ok(&["import", file.to_str().unwrap()]);
    let open = p.json(&["anomalies"]);
    assert_eq!(open.as_array().unwrap().len(), 1, "{open}");
    assert_eq!(open[0]["anomaly"]["kind"], json!("duplicate_step"));
    let duplicate_id = open[0]["anomaly"]["eventId"].as_str().unwrap().to_owned();
    let stderr = p.fails(2, &["review", &id, &duplicate_id, "duplicate", "--note", "x"]);
    assert!(stderr.contains("is not an anomaly kind"), "{stderr}");
    p.ok(&["review", &id, &duplicate_id, "duplicate_step", "--note", "Same ticket sent twice"]);
    assert_eq!(p.json(&["anomalies"]), json!([]));
    assert!(p.ok(&["anomalies"]).contains("No anomaly waits for review"));
    let text = p.ok(&["show", &id]);
    assert!(
        text.contains("Anomalies (0 to review of 1)") && text.contains("Same ticket sent twice"),
        "{text}"
    );
    assert!(p.ok(&["verify"]).starts_with("OK"));
}

#[test]
fn show_as_of_an_instant() {
    let p = Pluto::new();
    let id = create(&p, "LEGO-2026-0004");
    p.ok(&["record", &id, "InboundShipmentRecorded", "--data", &sample("InboundShipmentRecorded")]);
    let history = p.json(&["history", &id]);
    let created_at = history[0]["createdAt"].as_str().unwrap().to_owned();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let then = p.json(&["show", &id, "--as-of", &created_at]);
    assert_eq!(then["status"], json!("created"));
    assert_eq!(then["asOf"], json!(created_at));
    assert_eq!(p.json(&["show", &id])["status"], json!("inbound_shipment_recorded"));
    p.fails(1, &["show", &id, "--as-of", "2000-01-01T00:00:00Z"]);
    p.fails(2, &["show", &id, "--as-of", "yesterday"]);
}

#[test]
fn list_filters_and_searches() {
    let p = Pluto::new();
    let a = create(&p, "LEGO-ALPHA");
    let b = create(&p, "LEGO-BETA");
    p.ok(&["record", &b, "InboundShipmentRecorded", "--data", &sample("InboundShipmentRecorded")]);
    let all = p.json(&["list"]);
    assert_eq!(all["total"], json!(2));
    assert_eq!(all["rows"][0]["id"], json!(b), "last activity first");
    let inbound = p.json(&["list", "--status", "inbound_shipment_recorded"]);
    assert_eq!(inbound["rows"].as_array().unwrap().len(), 1);
    let found = p.json(&["list", "--search", "alpha"]);
    assert_eq!(found["rows"][0]["id"], json!(a));
    assert_eq!(found["rows"][0]["nextExpectedStep"], json!("Inbound Shipment"));
    let text = p.ok(&["list", "--search", "nothing-like-this"]);
    assert!(text.contains("No campaigns match"), "{text}");
}

#[test]
fn find_names_the_campaign_and_the_entry_that_holds_a_reference() {
    let p = Pluto::new();
    create(&p, "LEGO-ALPHA");
    let b = create(&p, "LEGO-BETA");
    let inbound: serde_json::Value = serde_json::from_str(&sample("InboundShipmentRecorded")).unwrap();
    let tracking = inbound["trackingRef"].as_str().unwrap().to_owned();
    p.ok(&["record", &b, "InboundShipmentRecorded", "--data", &inbound.to_string()]);
    let text = p.ok(&["find", &tracking.to_lowercase()]);
    assert!(text.contains(&b) && text.contains("LEGO-BETA"), "{text}");
    assert!(text.contains(&format!("Inbound Shipment — Tracking reference: {tracking}")), "{text}");
    let found = p.json(&["find", "lego-alpha"]);
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["foundIn"][0]["place"], json!("Campaign Created — LEGO campaign code"));
    let none = p.ok(&["find", "DHL-NOWHERE-0"]);
    assert!(none.contains("No campaign holds"), "{none}");
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let p = Pluto::new();
    create(&p, "LEGO-PIPE");
    // The reading end is gone, as when `pluto list | head -1` has had its line.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = p.command(&["list"]).stdout(writer.try_clone().unwrap()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "{:?}: {stderr}", out.status);
    // An export cut short is not a success: it is reported, and the OS error said once.
    let out = p.command(&["export", "-"]).stdout(writer).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    // "Broken pipe (os error 32)" on Linux, "Pipe closed. (os error 232)" on Windows.
    assert_eq!(stderr.matches("os error").count(), 1, "{stderr}");
    assert!(stderr.starts_with("pluto: cannot write the export"), "{stderr}");
}

/// An auditor's check of an audit export: intact as written; one byte flipped, one line dropped
/// or one line added, and `verify-export` names the event and exits 1.
#[test]
fn an_audit_export_names_every_event_changed_added_or_removed() {
    let p = Pluto::new();
    let id = create(&p, "LEGO-2026-0042");
    for t in lifecycle().take(4) {
        p.ok(&["record", &id, t, "--data", &sample(t)]);
    }
    let other = create(&p, "LEGO-2026-0043");
    let file = p.file("audit.jsonl");
    let path = file.to_str().unwrap();
    let out = p.ok(&["export", path, "--audit", "--campaign", &id]);
    let key = p.ok(&["audit-key"]).trim().to_owned();
    assert!(out.contains("Exported 5 events") && out.contains(&key), "{out}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(&other), "only the chosen campaign");

    let verified = p.ok(&["verify-export", path]);
    assert!(
        verified.contains("OK: every event is exactly as exported") && verified.contains(&key),
        "{verified}"
    );
    let json = p.json(&["verify-export", path]);
    assert_eq!((json["intact"].clone(), json["events"].clone()), (json!(true), json!(5)));

    let lines: Vec<&str> = text.lines().collect();
    let event_id =
        |line: &str| serde_json::from_str::<Value>(line).unwrap()["id"].as_str().unwrap().to_owned();
    let check = |name: &str, tampered: String, expected: &str| {
        let bad = p.file(name);
        std::fs::write(&bad, tampered).unwrap();
        let out = p.run(&["verify-export", bad.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{name}: {stdout}");
        assert!(
            stdout.contains("NOT INTACT") && stdout.contains(expected),
            "{name}: expected {expected:?} in {stdout}"
        );
    };
    // One byte of the third event: who recorded it.
    let third = lines[2];
    let flipped = third.replacen("usr_alex", "usr_alfx", 1);
    assert_ne!(flipped, third);
    check(
        "flipped.jsonl",
        text.replacen(third, &flipped, 1),
        &format!("line 3: event {} was changed", event_id(third)),
    );
    let dropped: String =
        lines.iter().enumerate().filter(|(i, _)| *i != 1).map(|(_, l)| format!("{l}\n")).collect();
    check(
        "dropped.jsonl",
        dropped,
        &format!("event {} (event 2 of the export) was removed", event_id(lines[1])),
    );
    let foreign = p.export().lines().find(|l| l.contains(&other)).unwrap().to_owned();
    check(
        "added.jsonl",
        format!("{foreign}\n{text}"),
        &format!("line 1: event {} was added", event_id(&foreign)),
    );

    // Not an audit export at all.
    let plain = p.file("plain.jsonl");
    p.ok(&["export", plain.to_str().unwrap()]);
    assert!(p.fails(1, &["verify-export", plain.to_str().unwrap()]).contains("not an audit export"));
    // Still an export: it imports like one.
    assert_eq!(Pluto::new().json(&["import", path])["inserted"], json!(5));
}

#[test]
fn export_import_backup_rebuild_verify() {
    let p = Pluto::new();
    let id = create(&p, "LEGO-2026-0005");
    for t in lifecycle().take(5) {
        p.ok(&["record", &id, t, "--data", &sample(t)]);
    }
    let export = p.file("log.jsonl");
    let out = p.json(&["export", export.to_str().unwrap()]);
    assert_eq!(out["exported"], json!(6));
    let other = Pluto::new();
    let report = other.json(&["import", export.to_str().unwrap()]);
    assert_eq!(report["inserted"], json!(6));
    assert_eq!(other.json(&["import", export.to_str().unwrap()])["alreadyPresent"], json!(6));
    assert_eq!(other.export(), std::fs::read_to_string(&export).unwrap());
    assert_eq!(other.json(&["show", &id])["status"], p.json(&["show", &id])["status"]);

    let backup = p.file("backup.sqlite3");
    p.ok(&["backup", backup.to_str().unwrap()]);
    let restored = Command::new(env!("CARGO_BIN_EXE_pluto"))
        .args(["--db", backup.to_str().unwrap(), "export", "-"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(restored.stdout).unwrap(), p.export());
    p.fails(3, &["backup", backup.to_str().unwrap()]);

    assert_eq!(p.json(&["rebuild"])["rebuilt"], json!(1));
    assert!(p.ok(&["verify"]).starts_with("OK"));
    tamper(&p.db);
    let out = p.run(&["verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&id));
    p.ok(&["rebuild"]);
    assert_eq!(p.json(&["verify"])["ok"], json!(true));

    let bad = p.file("bad.jsonl");
    std::fs::write(&bad, "{\"id\": 1}\n").unwrap();
    let stderr = other.fails(1, &["import", bad.to_str().unwrap()]);
    assert!(stderr.contains("line 1"), "{stderr}");
}

fn tamper(db: &Path) {
    // A projection edited behind the store's back, as a buggy tool might.
    let store = pluto_store::Store::open_existing(db).unwrap();
    store.connection().execute_batch("UPDATE campaign_projections SET current_weight_kg = 1").unwrap();
}

#[test]
fn the_period_mass_balance_as_a_table_json_and_an_excel_workbook() {
    let p = Pluto::new();
    let id = create(&p, "LEGO-2026-0001");
    p.ok(&["record", &id, "InboundShipmentRecorded", "--data", &sample("InboundShipmentRecorded")]);
    let mut granulation: serde_json::Value = serde_json::from_str(&sample("GranulationCompleted")).unwrap();
    granulation["completedOn"] = json!("2026-04-02");
    p.ok(&["record", &id, "GranulationCompleted", "--data", &granulation.to_string()]);
    let sample = pluto_domain::samples::SampleCampaign::numbered(1);
    let net = sample.net_weight_kg;
    // The inbound shipment arrived in Q1 (its stated arrival date); granulation was completed in
    // Q2, on the day its entry states.
    let q1 = p.json(&["report", "mass-balance", "--quarter", "2026-Q1"]);
    assert_eq!(q1["lines"][0]["label"], json!("Received at MBA (inbound net weight)"));
    assert_eq!(q1["lines"][0]["figure"]["total"], json!(net));
    assert_eq!(q1["closing"]["total"], json!(net));
    assert_eq!(q1["campaigns"][0]["code"], json!("LEGO-2026-0001"));

    let table =
        p.ok(&["report", "mass-balance", "--from", "2026-04-01", "--to", "2099-12-31", "--campaigns"]);
    assert!(
        table.starts_with(
            "Mass balance 2026-04-01 to 2099-12-31: PI and PCR, whole chain (MBA and RGE); 1 campaign"
        ),
        "{table}"
    );
    assert!(table.contains("  In process at the start"), "{table}");
    assert!(table.contains("- Process loss in Granulation"), "{table}");
    assert!(table.contains("      LEGO-2026-0001"), "{table}");
    assert!(table.contains("Balance check (start + in - lost - out - end): 0.0 kg"), "{table}");
    assert!(table.contains("Yields of the steps completed in the period:\n  Granulation"), "{table}");

    let pi = p.json(&["report", "mass-balance", "--quarter", "2026-Q1", "--material", "pi"]);
    assert_eq!(pi["campaigns"], json!([]));

    let xlsx = p.file("q1.xlsx");
    let xlsx_arg = xlsx.to_str().unwrap();
    let said =
        p.ok(&["report", "mass-balance", "--quarter", "2026-Q1", "--format", "xlsx", "--out", xlsx_arg]);
    assert!(said.contains("Wrote the mass balance of PI and PCR, whole chain to"), "{said}");
    assert!(std::fs::read(&xlsx).unwrap().starts_with(b"PK"), "an xlsx is a zip file");
    let again = p
        .fails(1, &["report", "mass-balance", "--quarter", "2026-Q1", "--format", "xlsx", "--out", xlsx_arg]);
    assert!(again.contains("exists already; choose another name"), "{again}");
    let no_out = p.fails(1, &["report", "mass-balance", "--quarter", "2026-Q1", "--format", "xlsx"]);
    assert!(no_out.contains("an Excel workbook needs --out FILE.xlsx"), "{no_out}");
    let backwards = p.fails(1, &["report", "mass-balance", "--from", "2026-03-01", "--to", "2026-02-01"]);
    assert!(backwards.contains("ends (2026-02-01) before it starts (2026-03-01)"), "{backwards}");
    let quarter = p.fails(2, &["report", "mass-balance", "--quarter", "2026-Q5"]);
    assert!(quarter.contains("expected YYYY-Q1 to YYYY-Q4"), "{quarter}");
    let site = p.fails(2, &["report", "mass-balance", "--quarter", "2026-Q1", "--site", "ECHA"]);
    assert!(site.contains("expected MBA or RGE"), "{site}");
}

/// Workbooks for Excel: the custody record, and every campaign the list's filter matches.
#[test]
fn the_custody_record_and_the_campaign_list_save_as_workbooks() {
    let p = Pluto::new();
    let id = create(&p, "LEGO-2026-0001");
    create(&p, "LEGO-2026-0002");
    p.ok(&["record", &id, "InboundShipmentRecorded", "--data", &sample("InboundShipmentRecorded")]);
    let custody = p.file("custody.xlsx");
    let said = p.ok(&["report", "custody", &id, "--format", "xlsx", "--out", custody.to_str().unwrap()]);
    assert!(said.contains("(2 entries)"), "{said}");
    assert!(std::fs::read(&custody).unwrap().starts_with(b"PK"), "an xlsx is a zip file");

    let list = p.file("campaigns.xlsx");
    let said = p.ok(&["list", "--search", "lego-2026", "--xlsx", list.to_str().unwrap()]);
    assert!(said.contains("Wrote 2 campaigns to"), "{said}");
    assert!(std::fs::read(&list).unwrap().starts_with(b"PK"));
    let again = p.fails(1, &["list", "--xlsx", list.to_str().unwrap()]);
    assert!(again.contains("exists already; choose another name"), "{again}");
    let paged = p.fails(2, &["list", "--limit", "5", "--xlsx", p.file("x.xlsx").to_str().unwrap()]);
    assert!(paged.contains("--limit"), "{paged}");
}

/// The text `pdftotext` reads from a PDF file.
fn pdf_text(path: &Path) -> String {
    let out = Command::new("pdftotext")
        .arg(path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) reads the PDFs back; `scripts/dev test` installs it");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
#[cfg_attr(
    windows,
    ignore = "pdftotext is a program of the Linux host; the PDF bytes are the same on Windows"
)]
fn the_custody_record_as_a_pdf_names_the_fingerprint_of_its_audit_export() {
    let p = Pluto::new();
    let id = create(&p, "LEGO-2026-0001");
    p.ok(&["record", &id, "InboundShipmentRecorded", "--data", &sample("InboundShipmentRecorded")]);
    let pdf = p.file("custody.pdf");
    let said = p.ok(&["report", "custody", &id, "--out", pdf.to_str().unwrap(), "--locale", "da"]);
    assert!(said.contains("(2 entries)"), "{said}");
    let text = pdf_text(&pdf);
    assert!(text.contains("Chain-of-custody record: LEGO-2026-0001"), "{text}");
    let net = pluto_domain::samples::SampleCampaign::numbered(1).net_weight_kg;
    let danish = pluto_reports::pdf::Locale::Da.number(net, 1);
    assert!(text.contains(&format!("Net weight: {danish} kg")), "{danish} in {text}");

    let audit = p.file("audit.jsonl");
    p.ok(&["export", audit.to_str().unwrap(), "--audit", "--campaign", &id]);
    let manifest: Value =
        serde_json::from_str(std::fs::read_to_string(&audit).unwrap().lines().last().unwrap()).unwrap();
    let chain = manifest["plutoAuditManifest"]["chain"].as_str().unwrap();
    assert!(text.contains(&format!("fingerprint {}", &chain[..16])), "{chain} in {text}");

    let csv = p.file("custody.csv");
    p.ok(&["report", "custody", &id, "--format", "csv", "--out", csv.to_str().unwrap(), "--locale", "de"]);
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert!(csv.starts_with("\u{feff}campaign_id;"), "{csv}");
    let again = p.fails(1, &["report", "custody", &id, "--out", pdf.to_str().unwrap()]);
    assert!(again.contains("exists already"), "{again}");
    let locale =
        p.fails(1, &["report", "custody", &id, "--out", p.file("x.pdf").to_str().unwrap(), "--locale", "fr"]);
    assert!(locale.contains("expected da, de or en"), "{locale}");
    let unknown = p.fails(
        1,
        &["report", "custody", "cmp_01HQJK5W3N8XKZ0G2Y5V7R9T1A", "--out", p.file("y.pdf").to_str().unwrap()],
    );
    assert!(unknown.contains("cmp_01HQJK5W3N8XKZ0G2Y5V7R9T1A"), "{unknown}");

    let period = p.file("q1.pdf");
    p.ok(&[
        "report",
        "mass-balance",
        "--quarter",
        "2026-Q1",
        "--format",
        "pdf",
        "--out",
        period.to_str().unwrap(),
        "--locale",
        "en",
    ]);
    let text = pdf_text(&period);
    assert!(text.contains("Period mass balance"), "{text}");
    assert!(text.contains("1 Jan 2026 to 31 Mar 2026"), "{text}");
    let no_out = p.fails(1, &["report", "mass-balance", "--quarter", "2026-Q1", "--format", "pdf"]);
    assert!(no_out.contains("a PDF needs --out FILE.pdf"), "{no_out}");
}
