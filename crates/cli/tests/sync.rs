//! `pluto sync` and `pluto status` against a real sync server on loopback (started in this
//! process on a real SQLite file): two laptops exchange campaigns through it, a wrong token and
//! an unreachable server are refused with the right exit codes, and nothing local is lost.

use std::path::Path;

use pluto_core::DeviceId;
use pluto_server::config::ServiceOptions;
use pluto_server::storage::SqliteStorage;
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

    fn token(&self, device: &str) -> String {
        let device = DeviceId::parse(device).unwrap();
        self.runtime.block_on(auth::issue(&self.storage, device, "MBA", None)).unwrap().secret
    }
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
    let inbound = pluto_core::samples::SampleCampaign::numbered(1)
        .payload(pluto_core::EventType::InboundShipmentRecorded)
        .unwrap()
        .to_string();
    mba.ok(&["record", &id, "InboundShipmentRecorded", "--data", &inbound]);
    let status = mba.ok(&["status"]);
    assert!(status.contains("Events waiting to sync   2"), "{status}");
    assert!(status.contains("None of this laptop's 2 events is confirmed on the server yet."), "{status}");

    let out = mba.ok(&["sync", "--server", &server.url, "--token", &mba_token]);
    assert!(out.contains("Pushed 2 events (0 refused by the server); pulled 0 new events."), "{out}");
    assert!(out.contains("Everything up to #2 from this laptop is on the server."), "{out}");

    let report = rge.json(&["sync", "--server", &server.url, "--token", &rge_token]);
    assert_eq!(report["report"]["pulled"], json!(2));
    assert_eq!(rge.json(&["show", &id])["status"], json!("inbound_shipment_recorded"));
    assert_eq!(rge.ok(&["export", "-"]), mba.ok(&["export", "-"]));

    let status = mba.json(&["status"]);
    assert_eq!(status["state"]["pending"], json!(0));
    assert!(status["state"]["lastSuccessAt"].is_string());
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
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach the sync server"));
    let status = mba.ok(&["status"]);
    assert!(status.contains("Events waiting to sync   1"), "{status}");
    assert!(status.contains("Last error               cannot reach the sync server"), "{status}");

    let out = mba.run(&["sync", "--server", "pluto.example.com", "--token", "plt_x"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(mba.ok(&["export", "-"]), before, "nothing local changed");
}

/// The background loop keeps retrying while the server is unreachable and syncs as soon as it
/// is back, without anyone touching the laptop; a new local entry is sent within a tick.
#[test]
fn the_background_loop_catches_up_when_the_network_comes_back() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use pluto_core::sync::runner::{run, Pace};
    use pluto_core::sync::SyncClient;

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
        interval: Duration::from_millis(300),
        retry_base: Duration::from_millis(50),
        retry_max: Duration::from_millis(400),
        tick: Duration::from_millis(20),
    };
    // Each pass: whether it synced, and how many events were still waiting after it.
    type Passes = Vec<(bool, u64)>;
    let passes: Arc<Mutex<Passes>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let worker = std::thread::spawn({
        let (db, passes, stop) = (mba.db.clone(), passes.clone(), stop.clone());
        move || {
            run(db, &client, &pace, &stop, |pass| {
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
    let inbound = pluto_core::samples::SampleCampaign::numbered(2)
        .payload(pluto_core::EventType::InboundShipmentRecorded)
        .unwrap()
        .to_string();
    let seen = passes.lock().unwrap().len();
    mba.ok(&["record", &id, "InboundShipmentRecorded", "--data", &inbound]);
    wait_for("the new entry to be sent", &|p| {
        p.len() > seen && p.last().is_some_and(|(ok, n)| *ok && *n == 0)
    });
    stop.store(true, Ordering::Relaxed);
    worker.join().unwrap().unwrap();
    runtime.block_on(running.shutdown()).unwrap();
    assert!(mba.ok(&["status"]).contains("Everything up to #2 from this laptop is on the server."));
}
