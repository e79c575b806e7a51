//! Sync scenarios across real processes: laptops (real store files) syncing with the real
//! `pluto-server` binary over loopback, through faults — the server killed mid-push, a laptop
//! killed mid-pull, a batch pushed twice, a reply lost after the server committed, the network
//! cut mid-page — and 200 laptops at once. Each ends converged, nothing lost or duplicated.
//!
//! Runs without libtest's harness: the same binary is also the laptop that gets killed
//! (selected by an environment variable).

#[path = "pg.rs"]
mod pg;

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pluto_domain::samples::SampleCampaign;
use pluto_domain::{AnomalyKind, CampaignId, CampaignState, Event, EventType, UserId};
use pluto_protocol::PushOutcome;
use pluto_store::{Draft, ListQuery, SortOrder, Store};
use pluto_sync::{sync_once, SyncClient, SyncError};

use crate::pg::PgSchema;

const CHILD_ENV: &str = "PLUTO_SCENARIO_LAPTOP";

/// A scenario gets a temporary folder and makes fresh server storage with `fresh`.
type Scenario = fn(&Path, &dyn Fn(&Path) -> Backend);

/// Where a server keeps its log: an SQLite file, or a PostgreSQL schema of its own.
#[derive(Clone)]
enum Backend {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Backend {
    /// The storage flags of `pluto-server serve` and `token create`.
    fn flags(&self) -> Vec<std::ffi::OsString> {
        match self {
            Backend::Sqlite(file) => vec!["--data".into(), file.into()],
            Backend::Postgres(url) => vec!["--database-url".into(), url.into()],
        }
    }
}

/// A real `pluto-server` process and its storage (kept across restarts).
struct Server {
    backend: Backend,
    child: Option<Child>,
    url: String,
}

impl Server {
    fn start(backend: &Backend) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pluto-server"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(backend.flags())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start pluto-server");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_owned();
        Server { backend: backend.clone(), child: Some(child), url }
    }

    /// An administrator's token (these laptops record whole campaigns, every site's steps).
    fn token(&self, device: &pluto_domain::DeviceId) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_pluto-server"))
            .args(["token", "create", "--device", device.as_str(), "--site", "MBA", "--role", "admin"])
            .args(self.backend.flags())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_owned()
    }

    /// SIGKILL: no chance to finish anything.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    fn restart(&mut self) {
        self.kill();
        *self = Server::start(&self.backend.clone());
    }

    fn client(&self, token: &str) -> SyncClient {
        SyncClient::new(&self.url, token).unwrap()
    }

    /// A backup of the server's database while it serves, as the server README says to take
    /// one: `sqlite3 … .backup` of the file, `pg_dump` of the schema.
    fn backup(&self, dir: &Path) -> PathBuf {
        let file = dir.join("server-backup");
        let status = match &self.backend {
            Backend::Sqlite(db) => Command::new("sqlite3")
                .arg(db)
                .arg(format!(".backup '{}'", file.display()))
                .status()
                .expect("sqlite3 (the SQLite command-line shell) is needed for this test"),
            Backend::Postgres(url) => Command::new("pg_dump")
                .args(["--dbname", url, "--schema", &pg_schema(url), "--file"])
                .arg(&file)
                .status()
                .expect("pg_dump is needed for this test"),
        };
        assert!(status.success(), "backup failed: {status}");
        file
    }

    /// Stops the server, restores its database from `backup` as the server README says, and
    /// starts it again.
    fn restore(&mut self, backup: &Path) {
        self.kill();
        match &self.backend {
            Backend::Sqlite(db) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut name = db.clone().into_os_string();
                    name.push(suffix);
                    let _ = std::fs::remove_file(name);
                }
                std::fs::copy(backup, db).unwrap();
            }
            Backend::Postgres(url) => {
                let status = Command::new("psql")
                    .env("PGOPTIONS", "--client-min-messages=warning")
                    .args([
                        "--quiet",
                        "--dbname",
                        url,
                        "-v",
                        "ON_ERROR_STOP=1",
                        "--output",
                        "/dev/null",
                        "-c",
                    ])
                    .arg(format!("DROP SCHEMA {} CASCADE", pg_schema(url)))
                    .arg("--file")
                    .arg(backup)
                    .status()
                    .expect("psql is needed for this test");
                assert!(status.success(), "restore failed: {status}");
            }
        }
        *self = Server::start(&self.backend.clone());
    }

    /// `pluto-server devices --behind --json`: the devices whose entries the server misses.
    fn devices_behind(&self) -> Vec<serde_json::Value> {
        let out = Command::new(env!("CARGO_BIN_EXE_pluto-server"))
            .args(["devices", "--behind", "--json"])
            .args(self.backend.flags())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// Every event in the server's log, by pulling it all.
    fn log(&self, token: &str) -> Vec<Event> {
        let client = self.client(token);
        let mut after = 0;
        let mut events = Vec::new();
        loop {
            let page = client.pull(after, 1000, 0).unwrap();
            let positions: Vec<i64> = page.events.iter().map(|e| e.position).collect();
            assert!(
                positions.windows(2).all(|w| w[0] < w[1]) && positions.first().is_none_or(|p| *p > after)
            );
            events.extend(page.events.iter().map(|e| Event::from_json(e.event.get()).unwrap()));
            if !page.has_more {
                return events;
            }
            after = page.next_after;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A laptop: its own store file and its device token.
struct Laptop {
    store: Store,
    path: PathBuf,
    token: String,
    user: UserId,
}

impl Laptop {
    fn new(dir: &Path, name: &str, server: &Server) -> Laptop {
        let path = dir.join(format!("{name}.sqlite3"));
        let store = Store::open(&path).unwrap();
        let token = server.token(store.device_id());
        Laptop { store, path, token, user: UserId::parse(&format!("usr_{name}")).unwrap() }
    }

    fn sync(&mut self, server: &Server) -> Result<pluto_sync::SyncReport, SyncError> {
        sync_once(&mut self.store, &server.client(&self.token))
    }

    fn create(&mut self, n: u32) -> CampaignId {
        let data = SampleCampaign::numbered(n).payload(EventType::CampaignCreated).unwrap();
        self.store
            .record(Draft::new(None, EventType::CampaignCreated, data, self.user.clone()))
            .unwrap()
            .state
            .id
    }

    /// Records the campaign's next step with sample `n`'s data.
    fn next_step(&mut self, campaign: &CampaignId, n: u32) {
        let state = self.store.campaign(campaign).unwrap().unwrap();
        let t = state.next_event_type().unwrap();
        let data = SampleCampaign::numbered(n).payload(t).unwrap();
        self.store.record(Draft::new(Some(campaign.clone()), t, data, self.user.clone())).unwrap();
    }

    /// Whole campaigns, `count` of them from `first`, recorded as this laptop's own events in one
    /// transaction (thousands of single durable entries would only slow the test down).
    fn record_campaigns(&mut self, first: u32, count: u32) -> usize {
        let mut seq = self.store.sync_state().unwrap().highest_local_seq;
        let mut events = Vec::new();
        for n in first..first + count {
            let campaign = CampaignId::generate();
            let sample = SampleCampaign::numbered(n);
            for t in EventType::STEPS {
                seq += 1;
                let now = pluto_domain::Timestamp::now();
                events.push(Event {
                    id: pluto_domain::EventId::generate(now.system_time()),
                    stream_type: "campaign".into(),
                    stream_id: campaign.clone(),
                    event_type: t,
                    schema_version: t.schema_version(),
                    data: sample.payload(t).unwrap(),
                    user_id: self.user.clone(),
                    device_id: self.store.device_id().clone(),
                    device_seq: seq,
                    created_at: now,
                });
            }
        }
        self.store.apply_remote(&events).unwrap();
        events.len()
    }

    fn events(&self) -> BTreeSet<String> {
        let mut out = Vec::new();
        self.store.export(&mut out).unwrap();
        String::from_utf8(out).unwrap().lines().map(str::to_owned).collect()
    }

    fn states(&self) -> Vec<CampaignState> {
        let page =
            self.store.list(&ListQuery { limit: 100_000, sort: SortOrder::Created, ..ListQuery::default() });
        page.unwrap()
            .rows
            .iter()
            .map(|r| self.store.campaign(&CampaignId::parse(&r.id).unwrap()).unwrap().unwrap())
            .collect()
    }
}

fn assert_converged(laptops: &[&Laptop], server: &Server) {
    let reference = laptops[0];
    let server_log: Vec<Event> = server.log(&reference.token);
    let ids: BTreeSet<&str> = server_log.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), server_log.len(), "the server holds every event once");
    for laptop in laptops {
        let (mine, theirs) = (laptop.events(), reference.events());
        let only = |a: &BTreeSet<String>, b: &BTreeSet<String>| -> Vec<String> {
            a.difference(b).map(|e| e.chars().take(120).collect()).take(3).collect()
        };
        assert!(
            mine == theirs,
            "same events everywhere: {} only on {}, {} only on {}: {:?} / {:?}",
            mine.difference(&theirs).count(),
            laptop.path.display(),
            theirs.difference(&mine).count(),
            reference.path.display(),
            only(&mine, &theirs),
            only(&theirs, &mine)
        );
        assert_eq!(laptop.states(), reference.states(), "same projections everywhere");
        assert!(laptop.store.verify().unwrap().is_empty());
        assert_eq!(laptop.events().len(), server_log.len(), "nothing missing, nothing extra");
        let state = laptop.store.sync_state().unwrap();
        assert_eq!(state.pending, 0);
        assert_eq!(state.server_contiguous_up_to, Some(state.highest_local_seq));
    }
}

fn three_laptops_converge_in_every_order(dir: &Path, fresh: &dyn Fn(&Path) -> Backend) {
    let orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    for (k, order) in orders.iter().enumerate() {
        let dir = dir.join(format!("order{k}"));
        std::fs::create_dir_all(&dir).unwrap();
        let server = Server::start(&fresh(&dir));
        let mut laptops: Vec<Laptop> =
            ["ann", "bob", "cat"].iter().map(|n| Laptop::new(&dir, n, &server)).collect();
        let shared = laptops[0].create(1);
        let other = laptops[0].create(2);
        for l in &mut laptops {
            l.sync(&server).unwrap();
        }
        // Offline: Ann and Bob both record the inbound shipment of the shared campaign; Bob also
        // works on the other one; Cat starts a campaign of her own and corrects its creation.
        laptops[0].next_step(&shared, 1);
        laptops[1].next_step(&shared, 3);
        laptops[1].next_step(&other, 2);
        laptops[1].next_step(&other, 2);
        let own = laptops[2].create(5);
        let created = laptops[2].store.history(&own).unwrap()[0].id.clone();
        let code = SampleCampaign::numbered(5).code;
        let fix = serde_json::json!({
            "correctsEventId": created, "correctsEventType": "CampaignCreated", "reason": "wrong code",
            "changes": {"legoCampaignCode": {"was": code, "now": "LEGO-FIXED"}}
        });
        let user = laptops[2].user.clone();
        laptops[2].store.record(Draft::new(Some(own.clone()), EventType::EventCorrected, fix, user)).unwrap();
        for &i in order {
            laptops[i].sync(&server).unwrap();
        }
        for l in &mut laptops {
            l.sync(&server).unwrap();
        }
        let refs: Vec<&Laptop> = laptops.iter().collect();
        assert_converged(&refs, &server);
        let state = laptops[2].store.campaign(&shared).unwrap().unwrap();
        assert_eq!(state.event_count, 3, "both inbound shipments are kept");
        assert_eq!(state.anomalies.len(), 1);
        assert_eq!(state.anomalies[0].kind, AnomalyKind::DuplicateStep);
        let corrected = laptops[0].store.campaign(&own).unwrap().unwrap();
        assert_eq!(corrected.lego_campaign_code.as_deref(), Some("LEGO-FIXED"));
    }
}

fn server_killed_mid_push_and_restarted(dir: &Path, fresh: &dyn Fn(&Path) -> Backend) {
    let mut server = Server::start(&fresh(dir));
    let mut ann = Laptop::new(dir, "ann", &server);
    let recorded = ann.record_campaigns(0, 300);
    let client = server.client(&ann.token);
    let pusher = std::thread::spawn({
        let path = ann.path.clone();
        move || sync_once(&mut Store::open(&path).unwrap(), &client)
    });
    // Wait until part of the backlog is on the server, then kill it mid-stream.
    let started = Instant::now();
    while ann.store.sync_state().unwrap().pending as usize == recorded
        && started.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(2));
    }
    server.kill();
    let result = pusher.join().unwrap();
    assert!(result.as_ref().is_err_and(SyncError::is_offline), "{result:?}");
    let pending = ann.store.sync_state().unwrap().pending as usize;
    assert!(pending > 0 && pending < recorded, "killed mid-push: {pending} of {recorded} waiting");
    server.restart();
    ann.sync(&server).unwrap();
    let log = server.log(&ann.token);
    assert_eq!(log.len(), recorded);
    assert_converged(&[&ann], &server);
}

/// The schema a test's PostgreSQL URL selects (its application name is the schema's name).
fn pg_schema(url: &str) -> String {
    url.rsplit_once("application_name=").expect("a test schema's URL").1.to_owned()
}

/// issue 30: the server's database is restored from a backup taken earlier, after which it had
/// confirmed entries of two laptops, and a third laptop's entries take the positions the lost
/// ones had. The server names the laptop that holds entries it lost once it says what it holds;
/// each laptop notices at its next sync and sends its lost entries again, without anyone doing
/// anything; every entry any laptop saw confirmed is on the server again, once, and every
/// laptop ends with the same entries and the same projections.
fn server_restored_from_a_backup(dir: &Path, fresh: &dyn Fn(&Path) -> Backend) {
    let mut server = Server::start(&fresh(dir));
    let mut ann = Laptop::new(dir, "ann", &server);
    let mut bob = Laptop::new(dir, "bob", &server);
    ann.record_campaigns(0, 3);
    ann.sync(&server).unwrap();
    let shared = bob.create(7);
    bob.sync(&server).unwrap();
    ann.sync(&server).unwrap();
    let backup = server.backup(dir);

    // After the backup, both record and the server confirms everything.
    let lost_of_ann = ann.record_campaigns(10, 2) as u64;
    bob.next_step(&shared, 7);
    bob.next_step(&shared, 7);
    ann.next_step(&shared, 8);
    ann.sync(&server).unwrap();
    bob.sync(&server).unwrap();
    ann.sync(&server).unwrap();
    let confirmed: BTreeSet<String> = ann.events().union(&bob.events()).cloned().collect();
    for laptop in [&ann, &bob] {
        let state = laptop.store.sync_state().unwrap();
        assert_eq!((state.pending, state.server_contiguous_up_to), (0, Some(state.highest_local_seq)));
    }

    server.restore(&backup);
    // A new laptop records first: its entries take the positions the lost ones had.
    let mut cat = Laptop::new(dir, "cat", &server);
    cat.create(30);
    cat.sync(&server).unwrap();

    // Once Bob's laptop says what it holds, the server names it as behind, by how much.
    let holds = bob.store.highest_local_seq().unwrap();
    server.client(&bob.token).own_status(bob.store.device_id(), holds).unwrap();
    let behind = server.devices_behind();
    assert_eq!(behind.len(), 1, "{behind:?}");
    assert_eq!(behind[0]["deviceId"], bob.store.device_id().as_str());
    assert_eq!(behind[0]["missing"], 2, "{behind:?}");

    // Ann's next sync notices, and sends her lost entries again.
    let report = ann.sync(&server).unwrap();
    let rewind = report.rewind.clone().expect("the restore is noticed");
    assert_eq!(rewind.own, lost_of_ann + 1, "{rewind:?}");
    assert_eq!(rewind.others, 2, "{rewind:?}");
    assert_eq!(report.pushed as u64, rewind.own);
    assert_eq!(ann.store.sync_state().unwrap().last_rewind, Some(rewind));
    let second = bob.sync(&server).unwrap();
    assert_eq!(second.rewind.map(|r| (r.own, r.others)), Some((2, lost_of_ann + 1)));
    for laptop in [&mut cat, &mut ann, &mut bob] {
        laptop.sync(&server).unwrap();
    }
    cat.sync(&server).unwrap();
    assert_converged(&[&ann, &bob, &cat], &server);
    let on_server: BTreeSet<String> = ann.events();
    assert!(confirmed.is_subset(&on_server), "every entry confirmed before the restore is back");
    assert!(server.devices_behind().is_empty());
    // Nothing to do at the next sync: the log is the one the laptops hold.
    assert_eq!(ann.sync(&server).unwrap().rewind, None);
}

/// issue 30: two `pluto-server` processes over one PostgreSQL database, as behind a load
/// balancer: laptops alternate between them at every sync, one instance is killed mid-run and
/// its laptops go on with the other, then it comes back. Positions stay gap-free, every entry is
/// on the server once, and every laptop ends with the same entries and projections.
fn two_instances_over_one_database(dir: &Path, fresh: &dyn Fn(&Path) -> Backend) {
    let backend = fresh(dir);
    let mut servers = [Server::start(&backend), Server::start(&backend)];
    let mut laptops: Vec<Laptop> =
        ["ann", "bob", "cat"].iter().map(|n| Laptop::new(dir, n, &servers[0])).collect();
    let shared = laptops[0].create(1);
    for round in 0..6 {
        if round == 2 {
            servers[0].kill();
        }
        if round == 4 {
            servers[0].restart();
        }
        for (i, laptop) in laptops.iter_mut().enumerate() {
            laptop.record_campaigns(100 * (round as u32 + 1) + i as u32 * 10, 2);
            if laptop.store.campaign(&shared).unwrap().is_some() && round < 3 {
                laptop.next_step(&shared, 1);
            }
            // Alternate, and go to the one alive while the other is down.
            let pick = if (2..4).contains(&round) { 1 } else { (round + i) % 2 };
            laptop.sync(&servers[pick]).unwrap();
        }
    }
    for server in &servers {
        for laptop in &mut laptops {
            laptop.sync(server).unwrap();
        }
    }
    let positions: Vec<i64> = {
        let client = servers[1].client(&laptops[0].token);
        let mut after = 0;
        let mut positions = Vec::new();
        loop {
            let page = client.pull(after, 1000, 0).unwrap();
            positions.extend(page.events.iter().map(|e| e.position));
            if !page.has_more {
                break;
            }
            after = page.next_after;
        }
        positions
    };
    assert!(positions.iter().copied().eq(1..=positions.len() as i64), "positions are gap-free");
    let refs: Vec<&Laptop> = laptops.iter().collect();
    assert_converged(&refs, &servers[0]);
    assert_converged(&refs, &servers[1]);
}

/// A small seeded generator (SplitMix64): the fleet's faults are the same for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A bad link between the laptops and the server, on loopback: each connection, by the seed,
/// passes, is delayed, loses the server's reply (after the server acted on the request) or gets
/// it cut short. It follows the server to its new address when the server is restarted.
struct Link {
    url: String,
    upstream: Arc<std::sync::Mutex<String>>,
}

impl Link {
    fn start(upstream: &str, seed: u64) -> Link {
        let upstream = Arc::new(std::sync::Mutex::new(upstream.trim_start_matches("http://").to_owned()));
        let target = Arc::clone(&upstream);
        let rng = std::sync::Mutex::new(Rng(seed));
        let url = proxy(
            move || target.lock().unwrap().clone(),
            move |_| {
                let mut rng = rng.lock().unwrap();
                let (fault, at) = (rng.below(20), rng.below(4_000));
                Plan {
                    delay: Duration::from_millis(if fault == 0 { at / 20 } else { 0 }),
                    deliver: match fault {
                        1 => Some(0),
                        2 => Some(at as usize),
                        _ => None,
                    },
                }
            },
        );
        Link { url, upstream }
    }

    fn follow(&self, server: &Server) {
        *self.upstream.lock().unwrap() = server.url.trim_start_matches("http://").to_owned();
    }
}

/// issue 30: a fleet over simulated days, with faults drawn from a seed (`PLUTO_FLEET_SEED`,
/// `PLUTO_FLEET_DAYS`): laptops offline for up to 30 days, killed mid-sync (a process killed,
/// not a flag), syncing through a link that delays, loses and cuts replies; the server killed
/// and restarted, backed up, and restored from an earlier backup. After a last sync of every
/// laptop, the run is checked twice: here (every laptop holds the server's log, the same
/// projections, every projection equal to a replay) and by `scripts/fleet_check.py`, which
/// shares no code with the sync: it reads every laptop's export and the server's log over HTTP
/// and proves that every entry a laptop was told is on the server is there, that none appears
/// twice, and that every laptop holds exactly the server's log.
fn fleet_with_faults(dir: &Path, fresh: &dyn Fn(&Path) -> Backend) {
    let seed =
        std::env::var("PLUTO_FLEET_SEED").map_or(30, |s| s.parse().expect("PLUTO_FLEET_SEED: a number"));
    let days =
        std::env::var("PLUTO_FLEET_DAYS").map_or(30, |s| s.parse().expect("PLUTO_FLEET_DAYS: a number"));
    let mut rng = Rng(seed);
    let mut server = Server::start(&fresh(dir));
    let link = Link::start(&server.url, seed ^ 0x11);
    let mut laptops: Vec<Laptop> = (0..6).map(|i| Laptop::new(dir, &format!("laptop{i}"), &server)).collect();
    let mut offline_until = vec![0u64; laptops.len()];
    // The highest sequence number each device was told is on the server without a gap.
    let mut told: Vec<u64> = vec![0; laptops.len()];
    let mut backup: Option<PathBuf> = None;
    let mut faults = std::collections::BTreeMap::<&str, u32>::new();
    let mut n = 0;
    for day in 0..days {
        match rng.below(12) {
            0 => {
                server.restart();
                *faults.entry("server restarted").or_default() += 1;
            }
            1 => {
                backup = Some(server.backup(dir));
                *faults.entry("server backed up").or_default() += 1;
            }
            2 => {
                if let Some(file) = &backup {
                    server.restore(file);
                    *faults.entry("server restored from its backup").or_default() += 1;
                }
            }
            _ => {}
        }
        link.follow(&server);
        for (i, laptop) in laptops.iter_mut().enumerate() {
            n += 1;
            laptop.record_campaigns(n * 10 + day as u32, 1 + rng.below(2) as u32);
            if offline_until[i] > day {
                continue;
            }
            if rng.below(10) == 0 {
                offline_until[i] = day + 1 + rng.below(30);
                *faults.entry("laptop offline for days").or_default() += 1;
                continue;
            }
            if rng.below(6) == 0 {
                let mut child = Command::new(std::env::current_exe().unwrap())
                    .env(CHILD_ENV, format!("{}\n{}\n{}", laptop.path.display(), link.url, laptop.token))
                    .spawn()
                    .unwrap();
                std::thread::sleep(Duration::from_millis(rng.below(400)));
                child.kill().unwrap();
                child.wait().unwrap();
                laptop.store = Store::open(&laptop.path).unwrap();
                *faults.entry("laptop killed mid-sync").or_default() += 1;
            }
            if let Ok(report) =
                sync_once(&mut laptop.store, &SyncClient::new(&link.url, &laptop.token).unwrap())
            {
                let up_to = report.device.map_or(0, |d| d.contiguous_up_to);
                told[i] = told[i].max(up_to);
                if report.rewind.is_some() {
                    *faults.entry("laptop found the server restored").or_default() += 1;
                }
            }
        }
    }
    println!("fleet seed {seed}, {days} days: {faults:?}");
    // Everyone back, on a good link: each syncs until nothing moves.
    for _ in 0..3 {
        for laptop in &mut laptops {
            laptop.sync(&server).unwrap();
        }
    }
    let refs: Vec<&Laptop> = laptops.iter().collect();
    assert_converged(&refs, &server);

    let exports = dir.join("exports");
    std::fs::create_dir_all(&exports).unwrap();
    let mut told_lines = String::new();
    for (laptop, told) in laptops.iter().zip(&told) {
        let file = exports.join(format!("{}.jsonl", laptop.store.device_id()));
        laptop.store.export(&mut std::fs::File::create(&file).unwrap()).unwrap();
        told_lines.push_str(&format!("{}\t{told}\n", laptop.store.device_id()));
    }
    std::fs::write(dir.join("told.tsv"), told_lines).unwrap();
    let checker = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fleet_check.py");
    let out = Command::new("python3")
        .arg(&checker)
        .args(["--server", &server.url, "--token", &laptops[0].token, "--exports"])
        .arg(&exports)
        .arg("--told")
        .arg(dir.join("told.tsv"))
        .output()
        .expect("python3 runs the independent checker");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "the independent checker failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn laptop(db: &Path, url: &str, token: &str) -> ! {
    let mut store = Store::open(db).unwrap();
    let client = SyncClient::new(url, token).unwrap();
    loop {
        let _ = sync_once(&mut store, &client);
    }
}

fn laptop_killed_mid_pull_and_restarted(dir: &Path, fresh: &dyn Fn(&Path) -> Backend) {
    let server = Server::start(&fresh(dir));
    let mut ann = Laptop::new(dir, "ann", &server);
    ann.record_campaigns(0, 500);
    ann.sync(&server).unwrap();
    let mut bob = Laptop::new(dir, "bob", &server);
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(CHILD_ENV, format!("{}\n{}\n{}", bob.path.display(), server.url, bob.token))
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150 + round * 100));
        child.kill().unwrap();
        child.wait().unwrap();
        let reopened = Store::open(&bob.path).unwrap();
        let integrity: String =
            reopened.connection().query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(integrity, "ok");
        let held = reopened.events_count();
        let cursor = reopened.sync_state().unwrap().cursor;
        assert!(held >= cursor, "the cursor never runs ahead of the events it stands for");
    }
    bob.store = Store::open(&bob.path).unwrap();
    bob.sync(&server).unwrap();
    assert_converged(&[&ann, &bob], &server);
}

fn same_batch_pushed_twice(dir: &Path, fresh: &dyn Fn(&Path) -> Backend) {
    let server = Server::start(&fresh(dir));
    let mut ann = Laptop::new(dir, "ann", &server);
    ann.record_campaigns(0, 3);
    let batch = ann.store.unsynced(100).unwrap();
    let client = server.client(&ann.token);
    let first = client.push(&batch).unwrap();
    let second = client.push(&batch).unwrap();
    assert!(first.results.iter().all(|r| r.outcome == PushOutcome::Stored));
    assert!(second.results.iter().all(|r| r.outcome == PushOutcome::Duplicate));
    let positions =
        |r: &pluto_protocol::PushResponse| r.results.iter().map(|r| r.position).collect::<Vec<_>>();
    assert_eq!(positions(&first), positions(&second));
    assert_eq!(server.log(&ann.token).len(), 36);
    ann.sync(&server).unwrap();
    assert_converged(&[&ann], &server);
}

/// A TCP proxy in front of the server that misbehaves once, on the first request it sees
/// starting with `method`: either forwards the request but swallows the reply, or forwards only
/// the first `cut_after` bytes of the reply. Everything else passes through.
struct FaultyProxy {
    url: String,
    tripped: Arc<AtomicUsize>,
}

impl FaultyProxy {
    fn start(upstream: &str, method: &'static str, cut_after: Option<usize>) -> FaultyProxy {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let tripped = Arc::new(AtomicUsize::new(0));
        let flag = tripped.clone();
        let url = proxy(
            move || upstream.clone(),
            move |request| {
                let faulty = request.starts_with(method) && flag.fetch_add(1, Ordering::SeqCst) == 0;
                Plan { delay: Duration::ZERO, deliver: faulty.then_some(cut_after.unwrap_or(0)) }
            },
        );
        FaultyProxy { url, tripped }
    }
}

/// What a proxy does with one request: waits `delay`, forwards it, then gives the client the
/// first `deliver` bytes of the server's reply (all of it when `None`), after the server acted.
struct Plan {
    delay: Duration,
    deliver: Option<usize>,
}

/// A TCP proxy on loopback to the server at `upstream()` (read for each connection), one request
/// per connection, each handled as `plan` says. Returns its URL.
fn proxy(
    upstream: impl Fn() -> String + Send + Sync + 'static,
    plan: impl Fn(&str) -> Plan + Send + Sync + 'static,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (upstream, plan) = (Arc::new(upstream), Arc::new(plan));
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let (upstream, plan) = (Arc::clone(&upstream), Arc::clone(&plan));
            std::thread::spawn(move || {
                let Ok(mut server) = TcpStream::connect(upstream()) else { return };
                // One request per connection: ask the server to close after replying.
                let request = read_request(&mut client);
                let request =
                    String::from_utf8_lossy(&request).replacen("\r\n", "\r\nConnection: close\r\n", 1);
                let Plan { delay, deliver } = plan(&request);
                std::thread::sleep(delay);
                if server.write_all(request.as_bytes()).is_err() {
                    return;
                }
                let mut reply = Vec::new();
                let _ = server.read_to_end(&mut reply);
                let _ = client.write_all(&reply[..deliver.unwrap_or(reply.len()).min(reply.len())]);
                let _ = client.shutdown(Shutdown::Both);
            });
        }
    });
    url
}

/// Reads one HTTP request (headers and a Content-Length body).
fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).unwrap();
        if n == 0 {
            return buf;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap()))
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return buf;
            }
        }
    }
}

fn reply_lost_after_the_server_committed(dir: &Path, fresh: &dyn Fn(&Path) -> Backend) {
    let server = Server::start(&fresh(dir));
    let mut ann = Laptop::new(dir, "ann", &server);
    ann.record_campaigns(0, 5);
    let proxy = FaultyProxy::start(&server.url, "POST", None);
    let lossy = SyncClient::new(&proxy.url, &ann.token).unwrap();
    let result = sync_once(&mut ann.store, &lossy);
    assert!(result.as_ref().is_err_and(SyncError::is_offline), "{result:?}");
    assert_eq!(proxy.tripped.load(Ordering::SeqCst), 1);
    assert_eq!(server.log(&ann.token).len(), 60, "the server committed the batch");
    assert_eq!(ann.store.sync_state().unwrap().pending, 60, "the laptop never heard so");
    let report = sync_once(&mut ann.store, &lossy).unwrap();
    assert_eq!(report.pushed, 60, "pushed again, found as duplicates");
    assert_converged(&[&ann], &server);
}

fn network_cut_mid_page(dir: &Path, fresh: &dyn Fn(&Path) -> Backend) {
    let server = Server::start(&fresh(dir));
    let mut ann = Laptop::new(dir, "ann", &server);
    ann.record_campaigns(0, 100);
    ann.sync(&server).unwrap();
    let mut bob = Laptop::new(dir, "bob", &server);
    let proxy = FaultyProxy::start(&server.url, "GET /v1/events", Some(100_000));
    let cut = SyncClient::new(&proxy.url, &bob.token).unwrap();
    let result = sync_once(&mut bob.store, &cut);
    assert!(result.is_err(), "the page was cut");
    assert!(result.as_ref().unwrap_err().is_retryable());
    assert_eq!(bob.store.sync_state().unwrap().cursor, 0, "nothing of the cut page was applied");
    assert_eq!(bob.events().len(), 0);
    let report = sync_once(&mut bob.store, &cut).unwrap();
    assert_eq!(report.pulled, 1200);
    assert_converged(&[&ann, &bob], &server);
}

fn two_hundred_laptops_at_once(dir: &Path, fresh: &dyn Fn(&Path) -> Backend) {
    const LAPTOPS: usize = 200;
    const THREADS: usize = 25;
    let server = Server::start(&fresh(dir));
    let laptops: Vec<Laptop> = (0..LAPTOPS).map(|i| Laptop::new(dir, &format!("l{i}"), &server)).collect();
    let queue = Arc::new(std::sync::Mutex::new(laptops));
    let done = Arc::new(std::sync::Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (queue, done, url) = (queue.clone(), done.clone(), server.url.clone());
            std::thread::spawn(move || {
                while let Some(mut laptop) = queue.lock().unwrap().pop() {
                    let n = laptop.path.file_stem().unwrap().to_str().unwrap()[1..].parse::<u32>().unwrap();
                    let client = SyncClient::new(&url, &laptop.token).unwrap();
                    let id = laptop.create(n);
                    sync_once(&mut laptop.store, &client).unwrap();
                    for _ in 0..4 {
                        laptop.next_step(&id, n);
                    }
                    sync_once(&mut laptop.store, &client).unwrap();
                    done.lock().unwrap().push(laptop);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut laptops = std::mem::take(&mut *done.lock().unwrap());
    assert_eq!(laptops.len(), LAPTOPS);
    let log = server.log(&laptops[0].token);
    assert_eq!(log.len(), LAPTOPS * 5);
    for l in laptops.iter_mut().take(3) {
        l.sync(&server).unwrap();
    }
    for l in &laptops {
        let status = server.client(&l.token).device_status(l.store.device_id()).unwrap();
        assert_eq!(status.contiguous_up_to, 5);
    }
    let refs: Vec<&Laptop> = laptops.iter().take(3).collect();
    assert_converged(&refs, &server);
}

trait EventsCount {
    fn events_count(&self) -> i64;
}

impl EventsCount for Store {
    fn events_count(&self) -> i64 {
        self.connection().query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).unwrap()
    }
}

fn main() {
    if let Ok(args) = std::env::var(CHILD_ENV) {
        let mut parts = args.lines();
        let (db, url, token) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        laptop(Path::new(db), url, token);
    }
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    const BOTH: &[&str] = &["sqlite", "postgres"];
    // One SQLite file is served by one process: several processes share only PostgreSQL.
    const SHARED: &[&str] = &["postgres"];
    let scenarios: [(&str, Scenario, &[&str]); 10] = [
        ("three_laptops_converge_in_every_order", three_laptops_converge_in_every_order, BOTH),
        ("server_killed_mid_push_and_restarted", server_killed_mid_push_and_restarted, BOTH),
        ("laptop_killed_mid_pull_and_restarted", laptop_killed_mid_pull_and_restarted, BOTH),
        ("same_batch_pushed_twice", same_batch_pushed_twice, BOTH),
        ("reply_lost_after_the_server_committed", reply_lost_after_the_server_committed, BOTH),
        ("network_cut_mid_page", network_cut_mid_page, BOTH),
        ("two_hundred_laptops_at_once", two_hundred_laptops_at_once, BOTH),
        ("server_restored_from_a_backup", server_restored_from_a_backup, BOTH),
        ("two_instances_over_one_database", two_instances_over_one_database, SHARED),
        ("fleet_with_faults", fleet_with_faults, BOTH),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let started = Instant::now();
    let (mut passed, mut failed) = (0, 0);
    for (name, scenario, backends) in scenarios {
        for &backend in backends {
            let name = format!("{name}_on_{backend}");
            if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
                continue;
            }
            let dir = tempfile::tempdir().unwrap();
            // Schemas live until the scenario ends, then are dropped with everything in them.
            let schemas = RefCell::new(Vec::new());
            let servers = Cell::new(0);
            let fresh = |dir: &Path| {
                servers.set(servers.get() + 1);
                if backend == "sqlite" {
                    Backend::Sqlite(dir.join(format!("server-{}.sqlite3", servers.get())))
                } else {
                    let schema = runtime.block_on(PgSchema::create());
                    let url = schema.url.clone();
                    schemas.borrow_mut().push(schema);
                    Backend::Postgres(url)
                }
            };
            let t = Instant::now();
            match std::panic::catch_unwind(AssertUnwindSafe(|| scenario(dir.path(), &fresh))) {
                Ok(()) => {
                    passed += 1;
                    println!("test {name} ... ok ({:.1}s)", t.elapsed().as_secs_f64());
                }
                Err(_) => {
                    failed += 1;
                    println!("test {name} ... FAILED");
                }
            }
        }
    }
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s\n",
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        std::process::exit(101);
    }
}
