//! `pluto sync` and `pluto status` against a real sync server on loopback (started in this
//! process on a real SQLite file): two laptops exchange campaigns through it, a wrong token and
//! an unreachable server are refused with the right exit codes, and nothing local is lost.

use std::path::Path;

use pluto_domain::DeviceId;
use pluto_server::config::ServiceOptions;
use pluto_server::storage::sqlite::SqliteStorage;
use pluto_server::storage::Role;
use pluto_server::{auth, server};
use serde_json::json;

use crate::util::Pluto;

struct Server {
    url: String,
    storage: SqliteStorage,
    runtime: tokio::runtime::Runtime,
    running: Option<server::RunningServer>,
}

impl Server {
    fn start(data: &Path) -> Server {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let (storage, running) = runtime.block_on(async {
            let storage = SqliteStorage::open(data).await.unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let running = server::start(listener, storage.clone(), ServiceOptions::default()).await.unwrap();
            (storage, running)
        });
        let url = format!("http://{}", running.local_addr());
        Server { url, storage, runtime, running: Some(running) }
    }

    /// Stores `envelope` as the next event of the log, as a newer pluto-server would have
    /// stored it: written into the database directly, because this server would refuse it.
    fn store_as_newer_server(&self, data: &Path, envelope: &str) {
        let conn = rusqlite::Connection::open(data).unwrap();
        insert_as_server(&conn, envelope, "2026-03-01T10:00:00.000Z");
    }

    /// Stores `events` as the next events of the log, in one transaction, as the server would
    /// have stored what another laptop pushed (quicker than pushing them, for large pulls).
    fn store_pushed(&self, data: &Path, events: &[pluto_domain::Event]) {
        let mut conn = rusqlite::Connection::open(data).unwrap();
        let tx = conn.transaction().unwrap();
        for event in events {
            insert_as_server(&tx, &serde_json::to_string(event).unwrap(), &event.created_at.to_string());
        }
        tx.commit().unwrap();
    }

    /// An administrator's token: these laptops record every site's steps.
    fn token(&self, device: &str) -> String {
        self.site_token(device, "MBA", Role::Admin)
    }

    fn site_token(&self, device: &str, site: &str, role: Role) -> String {
        let device = DeviceId::parse(device).unwrap();
        self.runtime.block_on(auth::issue(&self.storage, device, site, role, None)).unwrap().secret
    }
}

/// Writes `envelope` into a server's database as the next event of its log, received at `at`.
fn insert_as_server(conn: &rusqlite::Connection, envelope: &str, at: &str) {
    let value: serde_json::Value = serde_json::from_str(envelope).unwrap_or_default();
    let text = |k: &str| value[k].as_str().unwrap_or("?").to_owned();
    let seq = value["deviceSeq"].as_i64().unwrap_or(1_000_000);
    conn.execute(
        "INSERT INTO events (position, id, stream_id, event_type, device_id, device_seq, created_at, received_at, envelope)
         VALUES ((SELECT COALESCE(MAX(position), 0) + 1 FROM events), ?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
        rusqlite::params![text("id"), text("streamId"), text("eventType"), text("deviceId"), seq, at, envelope],
    )
    .unwrap();
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            self.runtime.block_on(running.shutdown()).unwrap();
        }
    }
}

#[test]
fn two_laptops_exchange_campaigns_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server.sqlite3"));
    let (mba, rge) = (Pluto::at(dir.path(), "mba"), Pluto::at(dir.path(), "rge"));
    let (mba_token, rge_token) = (server.token(&mba.device()), server.token(&rge.device()));

    let id = mba.ok(&["campaign", "create", "--code", "LEGO-SYNC-1", "--material", "PI"]).trim().to_owned();
    let inbound = pluto_domain::samples::SampleCampaign::numbered(1)
        .payload(pluto_domain::EventType::InboundShipmentRecorded)
        .unwrap()
        .to_string();
    mba.ok(&["record", &id, "InboundShipmentRecorded", "--data", &inbound]);
    let status = mba.ok(&["status"]);
    assert!(status.contains("Events waiting to sync   2"), "{status}");
    assert!(status.contains("None of this laptop's 2 events is confirmed on the server yet."), "{status}");

    // The token from a file, out of the process list, saved as Notepad does (a byte-order mark
    // and CRLF).
    let token_file = dir.path().join("mba.token");
    std::fs::write(&token_file, format!("\u{feff}{mba_token}\r\n")).unwrap();
    let out = mba.ok(&["sync", "--server", &server.url, "--token-file", token_file.to_str().unwrap()]);
    assert!(out.contains("Pushed 2 events (0 refused by the server); pulled 0 new events."), "{out}");
    assert!(out.contains("Everything up to #2 from this laptop is on the server."), "{out}");

    let report = rge.json(&["sync", "--server", &server.url, "--token", &rge_token]);
    assert_eq!(report["report"]["pulled"], json!(2));
    assert_eq!(rge.json(&["show", &id])["status"], json!("inbound_shipment_recorded"));
    assert_eq!(rge.ok(&["export", "-"]), mba.ok(&["export", "-"]));
    // issue 26: the history names the site the server attests beside each entry.
    let history = rge.ok(&["history", &id]);
    assert_eq!(history.matches("(confirmed by the server)").count(), 2, "{history}");
    let history = rge.json(&["history", &id]);
    assert!(history[0]["attestedSite"].is_string(), "{history}");

    let status = mba.json(&["status"]);
    assert_eq!(status["state"]["pending"], json!(0));
    assert!(status["state"]["lastSuccessAt"].is_string());
}

/// Each laptop learns from the server what its site may record, and refuses the rest at entry
/// with the server's words; the sites the server attests arrive with the events.
#[test]
fn a_laptop_refuses_at_entry_what_its_site_may_not_record() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server.sqlite3"));
    let (lego, mba, rge) =
        (Pluto::at(dir.path(), "lego"), Pluto::at(dir.path(), "mba"), Pluto::at(dir.path(), "rge"));
    let lego_token = server.site_token(&lego.device(), "LEGO", Role::Site);
    let mba_token = server.site_token(&mba.device(), "MBA", Role::Site);
    let rge_token = server.site_token(&rge.device(), "RGE", Role::Site);
    let sample = pluto_domain::samples::SampleCampaign::numbered(4);
    let payload = |t: pluto_domain::EventType| sample.payload(t).unwrap().to_string();

    let id = lego.ok(&["campaign", "create", "--code", "LEGO-SITE-1", "--material", "PI"]).trim().to_owned();
    lego.ok(&["sync", "--server", &server.url, "--token", &lego_token]);
    mba.ok(&["sync", "--server", &server.url, "--token", &mba_token]);
    mba.record_sample(&id, 4, pluto_domain::EventType::InboundShipmentRecorded);
    mba.ok(&["sync", "--server", &server.url, "--token", &mba_token]);

    rge.ok(&["sync", "--server", &server.url, "--token", &rge_token]);
    let before = rge.ok(&["export", "-"]);
    let out = rge.run(&[
        "record",
        &id,
        "GranulationCompleted",
        "--data",
        &payload(pluto_domain::EventType::GranulationCompleted),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "site RGE may not record Granulation: the sync server's site policy lets site RGE record \
             Manufacturing Start, Manufacturing Complete, Return to LEGO"
        ),
        "{stderr}"
    );
    assert_eq!(rge.ok(&["export", "-"]), before, "nothing recorded");
    // MBA records it, as the policy says.
    mba.record_sample(&id, 4, pluto_domain::EventType::GranulationCompleted);
}

#[test]
fn refused_tokens_and_unreachable_servers_keep_local_entries() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server.sqlite3"));
    let (mba, rge) = (Pluto::at(dir.path(), "mba"), Pluto::at(dir.path(), "rge"));
    mba.ok(&["campaign", "create", "--code", "LEGO-SYNC-2", "--material", "PCR"]);
    let before = mba.ok(&["export", "-"]);

    let out = mba.run(&["sync", "--server", &server.url, "--token", "plt_wrong"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not accept this laptop's device token"));

    // Another laptop's token: the server refuses events that are not its device's.
    let out = mba.run(&["sync", "--server", &server.url, "--token", &server.token(&rge.device())]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("probably for another laptop"));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let out = mba.run(&["sync", "--server", &format!("http://{closed}"), "--token", "plt_x"]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Why, in words a coordinator can act on, not the network library's ("os error 111").
    assert!(
        stderr.contains("cannot reach the sync server") && stderr.contains("nothing answers at that address"),
        "{stderr}"
    );
    assert!(!stderr.contains("os error"), "{stderr}");
    let status = mba.ok(&["status"]);
    assert!(status.contains("Events waiting to sync   1"), "{status}");
    assert!(status.contains("Last error               cannot reach the sync server"), "{status}");

    let out = mba.run(&["sync", "--server", "pluto.example.com", "--token", "plt_x"]);
    assert_eq!(out.status.code(), Some(1));
    // Plain http to another machine would send the token in clear text: refused before any
    // connection (a reserved name that resolves nowhere).
    let out = mba.run(&["sync", "--server", "http://pluto.invalid", "--token", "plt_x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("would send this laptop's device token in clear text")
    );
    assert_eq!(mba.ok(&["export", "-"]), before, "nothing local changed");
}

/// issue 30: a new server at the address (another log) gets nothing and the laptop says what to
/// do; `--adopt-server` sends this laptop's entries to it and takes its log from the start.
#[test]
fn a_new_server_is_refused_until_it_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let (mba, rge) = (Pluto::at(dir.path(), "mba"), Pluto::at(dir.path(), "rge"));
    let old = Server::start(&dir.path().join("old.sqlite3"));
    let id = mba.ok(&["campaign", "create", "--code", "LEGO-ADOPT-1", "--material", "PI"]).trim().to_owned();
    mba.ok(&["sync", "--server", &old.url, "--token", &old.token(&mba.device())]);
    rge.ok(&["sync", "--server", &old.url, "--token", &old.token(&rge.device())]);
    drop(old);

    let new = Server::start(&dir.path().join("new.sqlite3"));
    let token = new.token(&mba.device());
    let before = mba.ok(&["export", "-"]);
    let out = mba.run(&["sync", "--server", &new.url, "--token", &token]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("keeps another log") && stderr.contains("--adopt-server"), "{stderr}");
    assert_eq!(mba.ok(&["export", "-"]), before, "nothing local changed");

    let out = mba.ok(&["sync", "--server", &new.url, "--token", &token, "--adopt-server"]);
    assert!(out.contains("Forgot the old server's log (the positions of 1 entry)"), "{out}");
    assert!(out.contains("Pushed 1 events"), "{out}");
    assert_eq!(mba.ok(&["export", "-"]), before);
    // Another laptop that adopts the new server takes the campaign back from it.
    let out = rge.ok(&["sync", "--server", &new.url, "--token", &new.token(&rge.device()), "--adopt-server"]);
    assert!(out.contains("pulled 0 new events"), "already held: {out}");
    assert_eq!(rge.json(&["show", &id])["legoCampaignCode"], json!("LEGO-ADOPT-1"));
    assert_eq!(rge.json(&["status"])["state"]["cursor"], json!(1));
}

/// The background loop keeps retrying while the server is unreachable and syncs as soon as it
/// is back, without anyone touching the laptop; a new local entry is sent within a tick.
#[test]
fn the_background_loop_catches_up_when_the_network_comes_back() {
    use std::sync::atomic::Ordering;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use pluto_sync::runner::run;

    use pluto_sync::runner::Pace;

    use pluto_sync::runner::Signals;
    use pluto_sync::SyncClient;

    let dir = tempfile::tempdir().unwrap();
    let mba = Pluto::at(dir.path(), "mba");
    let id = mba.ok(&["campaign", "create", "--code", "LEGO-LOOP", "--material", "PI"]).trim().to_owned();
    // A port with nothing behind it yet: the "network" is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let data = dir.path().join("server.sqlite3");
    let token = {
        let server = Server::start(&data);
        server.token(&mba.device())
    };
    let client = SyncClient::new(&format!("http://127.0.0.1:{port}"), &token).unwrap();
    let pace = Pace {
        interval: Duration::from_secs(60),
        retry_base: Duration::from_millis(50),
        retry_max: Duration::from_millis(400),
        tick: Duration::from_millis(20),
    };
    // Each pass: whether it synced, and how many events were still waiting after it.
    type Passes = Vec<(bool, u64)>;
    let passes: Arc<Mutex<Passes>> = Arc::default();
    let signals = Arc::new(Signals::default());
    let worker = std::thread::spawn({
        let (db, passes, signals) = (mba.db.clone(), passes.clone(), signals.clone());
        move || {
            run(db, &client, &pace, &signals, |pass| {
                passes.lock().unwrap().push((pass.outcome.is_ok(), pass.state.pending));
            })
        }
    });
    let wait_for = |what: &str, done: &dyn Fn(&Passes) -> bool| {
        let started = Instant::now();
        while !done(&passes.lock().unwrap()) {
            assert!(started.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for("three failed attempts", &|p| p.len() >= 3);
    assert!(passes.lock().unwrap().iter().all(|(ok, pending)| !ok && *pending == 1));

    // The network comes back: the same address now answers.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let running = runtime.block_on(async {
        let storage = SqliteStorage::open(&data).await.unwrap();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        server::start(listener, storage, ServiceOptions::default()).await.unwrap()
    });
    wait_for("a successful sync", &|p| p.last().is_some_and(|(ok, pending)| *ok && *pending == 0));

    // A new entry goes out at once, not at the next interval.
    let inbound = pluto_domain::samples::SampleCampaign::numbered(2)
        .payload(pluto_domain::EventType::InboundShipmentRecorded)
        .unwrap()
        .to_string();
    let seen = passes.lock().unwrap().len();
    mba.ok(&["record", &id, "InboundShipmentRecorded", "--data", &inbound]);
    wait_for("the new entry to be sent", &|p| {
        p.len() > seen && p.last().is_some_and(|(ok, n)| *ok && *n == 0)
    });
    // "Sync now" syncs at once, not at the next interval (a minute here).
    let seen = passes.lock().unwrap().len();
    signals.sync_now.store(true, Ordering::Relaxed);
    wait_for("the sync asked for", &|p| p.len() > seen && p.last().is_some_and(|(ok, _)| *ok));
    signals.stop.store(true, Ordering::Relaxed);
    worker.join().unwrap().unwrap();
    runtime.block_on(running.shutdown()).unwrap();
    assert!(mba.ok(&["status"]).contains("Everything up to #2 from this laptop is on the server."));
}

/// An entry made while a long pull applies is sent as soon as that pass ends, not at the next
/// interval (ten minutes here).
#[test]
fn an_entry_made_during_a_long_pull_is_sent_right_after_it() {
    use std::sync::atomic::Ordering;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use pluto_sync::runner::run;

    use pluto_sync::runner::Pace;

    use pluto_sync::runner::Signals;
    use pluto_sync::SyncClient;

    const EVENTS: usize = 30_000;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server.sqlite3");
    let server = Server::start(&data);
    let mba = Pluto::at(dir.path(), "mba");
    let id = mba.ok(&["campaign", "create", "--code", "LEGO-DURING", "--material", "PI"]).trim().to_owned();
    let since = pluto_domain::Timestamp::from_millis(pluto_domain::Timestamp::now().millis() - 86_400_000);
    server.store_pushed(&data, &pluto_domain::samples::another_laptops_events(EVENTS, since));
    let client = SyncClient::new(&server.url, &server.token(&mba.device())).unwrap();
    let pace = Pace {
        interval: Duration::from_secs(600),
        retry_base: Duration::from_millis(50),
        retry_max: Duration::from_millis(400),
        tick: Duration::from_millis(20),
    };
    // Each pass: whether it synced, and how many of this laptop's events still wait.
    let passes: Arc<Mutex<Vec<(bool, u64)>>> = Arc::default();
    let signals = Arc::new(Signals::default());
    let worker = std::thread::spawn({
        let (db, passes, signals) = (mba.db.clone(), passes.clone(), signals.clone());
        move || {
            run(db, &client, &pace, &signals, |pass| {
                passes.lock().unwrap().push((pass.outcome.is_ok(), pass.state.pending))
            })
        }
    });
    // The first pass sends the campaign, then pulls; an entry is made once the pull is under way.
    let cursor = || -> i64 {
        let conn = rusqlite::Connection::open(&mba.db).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn.query_row(
            "SELECT COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'sync_cursor'), 0)",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let started = Instant::now();
    while cursor() == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "the pull did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    mba.record_sample(&id, 1, pluto_domain::EventType::InboundShipmentRecorded);
    assert!(
        passes.lock().unwrap().is_empty(),
        "the pull of {EVENTS} events ended before the entry was made: the test needs a longer pull"
    );
    let started = Instant::now();
    loop {
        let seen = passes.lock().unwrap().clone();
        if seen.len() >= 2 {
            assert_eq!(seen[0], (true, 1), "the first pass leaves the entry made during it waiting");
            assert_eq!(seen[1], (true, 0), "the next pass, right after it, sends the entry");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "passes so far: {seen:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    signals.stop.store(true, Ordering::Relaxed);
    worker.join().unwrap().unwrap();
    assert!(mba.ok(&["status"]).contains("Everything up to #2 from this laptop is on the server."));
}

/// A fleet of mixed versions: a newer Pluto's events on the server (an event type this build
/// does not know, a known type at schema version 2 with an extra field) and one event no
/// version could read. Laptops on this build sync past them, keep them byte for byte through
/// export, import and backup, say that an update shows them, and stay consistent.
#[test]
fn laptops_sync_past_a_newer_plutos_events_and_keep_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server.sqlite3");
    let server = Server::start(&data);
    let (mba, lego) = (Pluto::at(dir.path(), "mba"), Pluto::at(dir.path(), "lego"));
    let (mba_token, lego_token) = (server.token(&mba.device()), server.token(&lego.device()));
    let sample = pluto_domain::samples::SampleCampaign::numbered(1);
    let payload = |t: pluto_domain::EventType| sample.payload(t).unwrap().to_string();

    let id = mba.ok(&["campaign", "create", "--code", "LEGO-FLEET-1", "--material", "PCR"]).trim().to_owned();
    mba.record_sample(&id, 1, pluto_domain::EventType::InboundShipmentRecorded);
    mba.ok(&["sync", "--server", &server.url, "--token", &mba_token]);

    // What a laptop on a newer Pluto recorded, as its newer server stored it (after the
    // campaign's creation, as its ids say).
    let newer_device = "dev_01M8D4FB0YQT5Q0EH8W9ASNV9E";
    let later = || pluto_domain::EventId::generate(std::time::SystemTime::now()).to_string();
    let mut granulation = json!({
        "id": later(), "streamType": "campaign", "streamId": id,
        "eventType": "GranulationCompleted", "schemaVersion": 2,
        "data": serde_json::from_str::<serde_json::Value>(&payload(pluto_domain::EventType::GranulationCompleted)).unwrap(),
        "userId": "usr_ana", "deviceId": newer_device, "deviceSeq": 1, "createdAt": "2026-03-01T09:00:00.000Z"
    });
    granulation["data"]["moistureContentPct"] = json!(0.4);
    let granulation = granulation.to_string();
    let sample_retained = format!(
        r#"{{"id":"{}","streamType":"campaign","streamId":"{id}","eventType":"SampleRetained","schemaVersion":2,"data":{{"sampleId":"S-17","retainedBy":"Ana Jensen"}},"userId":"usr_ana","deviceId":"{newer_device}","deviceSeq":2,"createdAt":"2026-03-01T09:30:00.000Z"}}"#,
        later()
    );
    let unreadable =
        r#"{"id":"evt_01M8D4FB0YQT5Q0EH8W9ASNV9H","streamType":"campaign","streamId":"LEGO-FLEET-1"}"#;
    for envelope in [&granulation, &sample_retained, unreadable] {
        server.store_as_newer_server(&data, envelope);
    }

    // A laptop that never synced gets everything, the newer events included.
    let out = lego.ok(&["sync", "--server", &server.url, "--token", &lego_token]);
    assert!(out.contains("pulled 4 new events"), "{out}");
    assert!(out.contains("1 pulled events could not be taken"), "{out}");
    let show = lego.ok(&["show", &id]);
    assert!(show.contains("Status              granulation_complete"), "folded by its known fields: {show}");
    assert!(
        show.contains("2 entries of this campaign were recorded by a newer version of Pluto Tracker"),
        "{show}"
    );
    assert!(show.contains("update Pluto Tracker to see them in full"), "{show}");
    assert!(lego
        .ok(&["history", &id])
        .contains("Recorded by a newer Pluto Tracker: update Pluto to see this entry"));
    assert!(lego.ok(&["list"]).contains("holds 2 entries of a newer Pluto"));
    let status = lego.ok(&["status"]);
    assert!(status.contains("Pulled from the server but not taken (1)"), "{status}");
    assert!(status.contains("evt_01M8D4FB0YQT5Q0EH8W9ASNV9H: streamId"), "{status}");
    assert!(status.contains("2 entries here were recorded by a newer Pluto"), "{status}");
    assert!(lego.ok(&["verify"]).contains("OK: every campaign projection equals a fresh fold"));

    // Kept byte for byte: export, import into a third laptop, backup.
    let export = lego.ok(&["export", "-"]);
    for newer in [&granulation, &sample_retained] {
        assert!(
            export.lines().any(|line| line == newer.as_str()),
            "{newer} not kept as received in {export}"
        );
    }
    let file = dir.path().join("fleet.jsonl");
    std::fs::write(&file, &export).unwrap();
    let ece = Pluto::at(dir.path(), "echa");
    ece.ok(&["import", file.to_str().unwrap()]);
    assert_eq!(ece.ok(&["export", "-"]), export);
    assert_eq!(ece.json(&["show", &id])["newerEntries"], json!(2));
    let backup = dir.path().join("backup.sqlite3");
    lego.ok(&["backup", backup.to_str().unwrap()]);
    let restored = Pluto::at(dir.path(), "backup");
    assert_eq!(restored.ok(&["export", "-"]), export);

    // The laptop that recorded before them records after them, and both sync on.
    mba.ok(&["sync", "--server", &server.url, "--token", &mba_token]);
    mba.record_sample(&id, 1, pluto_domain::EventType::MetalRemovalCompleted);
    let out = mba.ok(&["sync", "--server", &server.url, "--token", &mba_token]);
    assert!(out.contains("Pushed 1 events (0 refused by the server)"), "{out}");
    let out = lego.ok(&["sync", "--server", &server.url, "--token", &lego_token]);
    assert!(out.contains("pulled 1 new events"), "{out}");
    assert_eq!(lego.json(&["show", &id])["status"], json!("metal_removal_complete"));
    assert_eq!(lego.ok(&["export", "-"]), mba.ok(&["export", "-"]));
    assert!(mba.ok(&["verify"]).contains("OK: every campaign projection equals a fresh fold"));
}

/// An auditor compares a laptop's audit export with the central log: an honest export agrees;
/// one from a laptop whose database was altered after its events reached the server is intact
/// by its own signature, but the server names the changed event.
#[test]
fn the_server_countersigns_an_audit_export_and_catches_a_rewritten_laptop() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server.sqlite3"));
    let mba = Pluto::at(dir.path(), "mba");
    let token = server.token(&mba.device());
    let auditor = server.site_token("dev_01M8D4FB0YQT5Q0EH8W9ASNV9A", "LEGO", Role::Site);
    let id = mba.ok(&["campaign", "create", "--code", "LEGO-AUDIT-1", "--material", "PCR"]).trim().to_owned();
    mba.record_sample(&id, 1, pluto_domain::EventType::InboundShipmentRecorded);
    mba.ok(&["sync", "--server", &server.url, "--token", &token]);
    mba.ok(&["sync", "--server", &server.url, "--token", &token]);
    mba.record_sample(&id, 1, pluto_domain::EventType::GranulationCompleted);

    let honest = dir.path().join("honest.jsonl");
    mba.ok(&["export", honest.to_str().unwrap(), "--audit", "--campaign", &id]);
    let said =
        mba.ok(&["verify-export", honest.to_str().unwrap(), "--server", &server.url, "--token", &auditor]);
    assert!(said.contains("OK: every event is exactly as exported"), "{said}");
    assert!(said.contains("2 of 2 events the export says are on the server are there as exported"), "{said}");
    assert!(said.contains("1 events were not yet confirmed on the server when exported"), "{said}");

    // Someone rewrites the weight in the laptop's database (past its append-only triggers) and
    // exports again: the laptop's own key signs the altered history.
    let conn = rusqlite::Connection::open(&mba.db).unwrap();
    conn.execute_batch(
        "DROP TRIGGER events_append_only_update;
         UPDATE events SET data = json_set(data, '$.netWeightKg', 1.5) WHERE event_type = 'InboundShipmentRecorded';",
    )
    .unwrap();
    drop(conn);
    let forged = dir.path().join("forged.jsonl");
    mba.ok(&["export", forged.to_str().unwrap(), "--audit", "--campaign", &id]);
    assert!(mba
        .ok(&["verify-export", forged.to_str().unwrap()])
        .contains("OK: every event is exactly as exported"));
    let out =
        mba.run(&["verify-export", forged.to_str().unwrap(), "--server", &server.url, "--token", &auditor]);
    assert_eq!(out.status.code(), Some(1), "the server's disagreement fails the check");
    let said = String::from_utf8(out.stdout).unwrap();
    assert!(said.contains("THE SERVER DISAGREES about 1 event(s):"), "{said}");
    assert!(said.contains("it was changed after it reached the server"), "{said}");
    let inbound = mba.json(&["history", &id])[1]["id"].as_str().unwrap().to_owned();
    assert!(said.contains(&format!("event {inbound} at server position #2")), "{said}");

    let wrong = mba
        .fails(1, &["verify-export", honest.to_str().unwrap(), "--server", &server.url, "--token", "nope"]);
    assert!(wrong.to_lowercase().contains("token"), "{wrong}");
}

/// Against a sync server from before `/v1/attest` (here: an address that answers 404 to
/// everything, as such a server does for that route), the file's own check is still shown, and
/// the command says why the server could not compare.
#[test]
fn an_older_server_that_cannot_compare_leaves_the_files_own_check_shown() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server.sqlite3"));
    let mba = Pluto::at(dir.path(), "mba");
    let token = server.token(&mba.device());
    let id = mba.ok(&["campaign", "create", "--code", "LEGO-AUDIT-2", "--material", "PCR"]).trim().to_owned();
    mba.ok(&["sync", "--server", &server.url, "--token", &token]);
    mba.ok(&["sync", "--server", &server.url, "--token", &token]);
    let file = dir.path().join("audit.jsonl");
    mba.ok(&["export", file.to_str().unwrap(), "--audit", "--campaign", &id]);

    let old = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", old.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in old.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8];
            while !head.ends_with(b"\r\n\r\n")
                && std::io::Read::read(&mut stream, &mut byte).unwrap_or(0) == 1
            {
                head.push(byte[0]);
            }
            let _ = std::io::Write::write_all(
                &mut stream,
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot found",
            );
        }
    });
    let out = mba.run(&["verify-export", file.to_str().unwrap(), "--server", &url, "--token", &token]);
    assert_eq!(out.status.code(), Some(3), "the comparison could not be made");
    let said = String::from_utf8(out.stdout).unwrap();
    assert!(said.contains("OK: every event is exactly as exported"), "the file's own check is shown: {said}");
    let why = String::from_utf8(out.stderr).unwrap();
    assert!(
        why.contains(&format!(
            "the sync server at {url} does not compare audit exports (it is older than this pluto)"
        )),
        "{why}"
    );
    assert!(why.contains("the file was checked on its own (above), not against the server"), "{why}");
}

/// A site whose server's https certificate its own authority issued: without the authority's
/// file the handshake is refused; with `--ca-file` it succeeds (the test server is a bare TLS
/// endpoint, `openssl s_server`, so what follows the handshake is "an unexpected answer").
#[test]
#[cfg_attr(
    windows,
    ignore = "its server is openssl s_server, a program of the Linux host (the TLS code is the same rustls on Windows)"
)]
fn a_site_certificate_authority_is_trusted_only_when_given() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).output().expect("openssl is installed");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &path("ca.key"),
        "-out",
        &path("ca.pem"),
        "-days",
        "2",
        "-subj",
        "/CN=Pluto test site CA",
    ]);
    std::fs::write(path("ext.cnf"), "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n").unwrap();
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &path("server.key"),
        "-out",
        &path("server.csr"),
        "-subj",
        "/CN=localhost",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        &path("server.csr"),
        "-CA",
        &path("ca.pem"),
        "-CAkey",
        &path("ca.key"),
        "-CAcreateserial",
        "-out",
        &path("server.pem"),
        "-days",
        "2",
        "-extfile",
        &path("ext.cnf"),
    ]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut tls = std::process::Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept", &port.to_string()])
        .args(["-cert", &path("server.pem"), "-key", &path("server.key")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "openssl s_server did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let laptop = Pluto::at(dir.path(), "site");
    let url = format!("https://localhost:{port}");

    let out = laptop.run(&["sync", "--server", &url, "--token", "plt_x"]);
    let refused = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(3), "{refused}");
    assert!(
        refused.contains("cannot reach the sync server") && refused.contains("UnknownIssuer"),
        "{refused}"
    );

    let out = laptop.run(&["sync", "--server", &url, "--token", "plt_x", "--ca-file", &path("ca.pem")]);
    let answered = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        answered.contains("unexpected answer from the sync server"),
        "the handshake went through: {answered}"
    );

    let out = laptop.run(&["sync", "--server", &url, "--token", "plt_x", "--ca-file", &path("ext.cnf")]);
    let bad = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        bad.contains("cannot use the certificate authority file") && bad.contains("holds no certificate"),
        "{bad}"
    );
    let _ = tls.kill();
    let _ = tls.wait();
}
