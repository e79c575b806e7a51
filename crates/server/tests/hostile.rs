//! issue 26: a laptop against a hostile server. A fake server on loopback answers a real laptop
//! (its store and sync client) with each lie a server impersonated, misconfigured or restored
//! from another's backup could tell. Each time the laptop ends the sync with a clear error or
//! keeps the lie aside, its database verifies, and nothing it had recorded changes.

use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use pluto_domain::samples::SampleCampaign;
use pluto_domain::{CampaignId, CampaignStatus, EventId, EventType, Timestamp, UserId};
use pluto_store::{Draft, Store};
use pluto_sync::{sync_once, SyncClient, SyncError};
use serde_json::{json, Value};

/// A fake log: each event with the site the server attests for it.
type Log = [(Value, &'static str)];

/// What the fake server answers: its head, the pages of its log, and how it answers a push.
#[derive(Clone)]
struct Script {
    head: i64,
    /// The whole log it claims, by position (1, 2, …), each with the site it attests.
    log: Vec<(Value, &'static str)>,
    /// Answers a page after `after` in its own way, instead of serving `log`.
    page: Option<fn(i64, &Log) -> Value>,
    /// Answers a push of `events` (by default: each stored at the next position, never served).
    push: Option<fn(&[Value], i64) -> Value>,
    /// The events pushed to it.
    pushed: Arc<Mutex<Vec<Value>>>,
    /// The log identity its health answer claims.
    log_id: Option<&'static str>,
    /// Its verdict on the entry a laptop holds at a position (by default: `same` wherever
    /// its log holds one).
    verdict: Option<fn(i64) -> &'static str>,
    /// When it says it received the entry it holds at a position (by default: when its pages
    /// said).
    received: Option<fn(i64) -> &'static str>,
}

impl Script {
    fn serving(log: Vec<(Value, &'static str)>) -> Self {
        Script {
            head: log.len() as i64,
            log,
            page: None,
            push: None,
            pushed: Arc::default(),
            log_id: None,
            verdict: None,
            received: None,
        }
    }
}

/// Serves `script` on a free loopback port; returns its base URL.
async fn fake(script: Script) -> String {
    #[derive(serde::Deserialize)]
    struct After {
        after: Option<i64>,
    }
    async fn health(State(s): State<Script>) -> Json<Value> {
        let types: Vec<String> = EventType::registry_fingerprint().split(',').map(str::to_owned).collect();
        Json(
            json!({"status": "ok", "backend": "sqlite", "version": "9.9.9", "head": s.head, "eventTypes": types, "logId": s.log_id}),
        )
    }
    async fn attest(State(s): State<Script>, Json(body): Json<Value>) -> Json<Value> {
        let answers: Vec<Value> = body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| {
                let position = q["position"].as_i64().unwrap();
                let verdict = match s.verdict {
                    Some(verdict) => verdict(position),
                    None if position <= s.log.len() as i64 => "same",
                    None => "absent",
                };
                // Where it holds the entry, it says it received it when its pages said.
                let received = (verdict == "same")
                    .then(|| s.received.map_or("2026-12-01T10:00:00.000Z", |received| received(position)));
                json!({"id": q["id"], "position": position, "verdict": verdict, "receivedAt": received})
            })
            .collect();
        Json(json!({"head": s.head, "events": answers}))
    }
    async fn policy() -> Json<Value> {
        let sites = pluto_domain::SitePolicy::default_for("LEGO").sites;
        Json(json!({"site": "LEGO", "admin": false, "mayRecord": sites["LEGO"], "sites": sites}))
    }
    async fn pull(State(s): State<Script>, Query(q): Query<After>) -> Json<Value> {
        let after = q.after.unwrap_or(0);
        if let Some(page) = s.page {
            return Json(page(after, &s.log));
        }
        let events: Vec<Value> = s
            .log
            .iter()
            .enumerate()
            .skip(after as usize)
            .map(|(i, (event, site))| json!({"position": i + 1, "receivedAt": "2026-12-01T10:00:00.000Z", "site": site, "event": event}))
            .collect();
        let next = events.last().map_or(after, |e| e["position"].as_i64().unwrap());
        Json(json!({"events": events, "nextAfter": next, "hasMore": false}))
    }
    async fn push(State(s): State<Script>, Json(body): Json<Value>) -> Json<Value> {
        let events = body["events"].as_array().cloned().unwrap_or_default();
        s.pushed.lock().unwrap().extend(events.iter().cloned());
        if let Some(answer) = s.push {
            return Json(answer(&events, s.head));
        }
        let results: Vec<Value> = events
            .iter()
            .enumerate()
            .map(|(i, e)| json!({"id": e["id"], "outcome": "stored", "position": s.head + 1 + i as i64}))
            .collect();
        let device =
            events.first().map_or(json!("dev_01M8D4FB0YQT5Q0EH8W9ASNV9E"), |e| e["deviceId"].clone());
        let n = events.len();
        Json(
            json!({"results": results, "device": {"deviceId": device, "contiguousUpTo": n, "highestSeq": n, "eventCount": n}}),
        )
    }
    let app = Router::new()
        .route("/v1/health", get(health))
        .route("/v1/policy", get(policy))
        .route("/v1/events", get(pull).post(push))
        .route("/v1/attest", axum::routing::post(attest))
        .with_state(script);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// A laptop with a campaign of its own, recorded and (as far as it knows) nowhere else.
struct Laptop {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    campaign: CampaignId,
}

impl Laptop {
    fn new() -> Laptop {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("laptop.sqlite3");
        let mut store = Store::open(&db).unwrap();
        let sample = SampleCampaign::numbered(3);
        let user = UserId::parse("usr_lotte").unwrap();
        let created = Draft::new(
            None,
            EventType::CampaignCreated,
            sample.payload(EventType::CampaignCreated).unwrap(),
            user.clone(),
        );
        let campaign = store.record(created).unwrap().state.id;
        let t = EventType::InboundShipmentRecorded;
        store.record(Draft::new(Some(campaign.clone()), t, sample.payload(t).unwrap(), user)).unwrap();
        Laptop { _dir: dir, db, campaign }
    }

    fn store(&self) -> Store {
        Store::open(&self.db).unwrap()
    }

    /// Every event it holds, as exported.
    fn export(&self) -> String {
        let mut out = Vec::new();
        self.store().export(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// One sync with the fake server at `base`.
    async fn sync(&self, base: &str) -> Result<pluto_sync::SyncReport, SyncError> {
        let (db, base) = (self.db.clone(), base.to_owned());
        tokio::task::spawn_blocking(move || {
            let mut store = Store::open(&db).unwrap();
            sync_once(&mut store, &SyncClient::new(&base, "plt_test").unwrap())
        })
        .await
        .unwrap()
    }

    /// The laptop's database verifies, and its own entries are as they were.
    fn still_intact(&self, before: &str) {
        let store = self.store();
        assert!(store.verify().unwrap().is_empty(), "the laptop's projections equal a replay");
        for line in before.lines() {
            assert!(self.export().contains(line), "an entry recorded here changed or went: {line}");
        }
        let state = store.campaign(&self.campaign).unwrap().unwrap();
        assert_eq!(state.lego_campaign_code.as_deref(), Some(SampleCampaign::numbered(3).code.as_str()));
        assert_eq!(state.status, CampaignStatus::InboundShipmentRecorded);
    }
}

/// An event of another laptop on `campaign`, as a server stores it.
fn event(campaign: &CampaignId, device: &str, seq: u64, event_type: EventType, data: Value) -> Value {
    let now = Timestamp::now();
    json!({
        "id": EventId::generate(now.system_time()), "streamType": "campaign", "streamId": campaign,
        "eventType": event_type, "schemaVersion": event_type.schema_version(), "data": data, "userId": "usr_mallory",
        "deviceId": device, "deviceSeq": seq, "createdAt": now
    })
}

const OTHER: &str = "dev_01M8D4FB0YQT5Q0EH8W9ASNV9E";

/// A fake server renamed a campaign, changed its material, weight and status, and served an
/// event under the laptop's own device id: each kept aside, and the campaign is as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lies_in_the_log_are_kept_aside_and_never_folded() {
    let laptop = Laptop::new();
    let before = laptop.export();
    let own_device = laptop.store().device_id().to_string();
    let c = &laptop.campaign;
    let created: Value = serde_json::from_str(before.lines().next().unwrap()).unwrap();
    let log = vec![
        // Its own two entries, served back as any server does.
        (serde_json::from_str(before.lines().next().unwrap()).unwrap(), "LEGO"),
        (serde_json::from_str(before.lines().nth(1).unwrap()).unwrap(), "MBA"),
        // A second creation of the campaign, "HIJACKED".
        (
            event(
                c,
                OTHER,
                1,
                EventType::CampaignCreated,
                json!({"legoCampaignCode": "HIJACKED", "materialType": "PI"}),
            ),
            "LEGO",
        ),
        // MBA "correcting" the campaign's creation.
        (
            event(
                c,
                OTHER,
                2,
                EventType::EventCorrected,
                json!({
                    "correctsEventId": created["id"], "correctsEventType": "CampaignCreated", "reason": "x",
                    "changes": {"legoCampaignCode": {"was": created["data"]["legoCampaignCode"], "now": "HIJACKED"}}
                }),
            ),
            "MBA",
        ),
        // RGE recording MBA's step.
        (
            event(
                c,
                OTHER,
                3,
                EventType::GranulationCompleted,
                SampleCampaign::numbered(3).payload(EventType::GranulationCompleted).unwrap(),
            ),
            "RGE",
        ),
        // An entry under this laptop's own device id, which it never wrote.
        (
            event(
                c,
                &own_device,
                99,
                EventType::GranulationCompleted,
                SampleCampaign::numbered(3).payload(EventType::GranulationCompleted).unwrap(),
            ),
            "LEGO",
        ),
        // An id from the far future.
        (
            {
                let mut e = event(
                    c,
                    OTHER,
                    4,
                    EventType::GranulationCompleted,
                    SampleCampaign::numbered(3).payload(EventType::GranulationCompleted).unwrap(),
                );
                e["id"] = json!("evt_7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
                e
            },
            "MBA",
        ),
    ];
    let base = fake(Script::serving(log)).await;
    let report = laptop.sync(&base).await.expect("the lies are kept aside, the rest is taken");
    assert_eq!(report.pull_refused, 5, "{report:?}");
    let refusals = laptop.store().pull_refusals().unwrap();
    let fields: Vec<&str> = refusals.iter().map(|r| r.field.as_str()).collect();
    assert_eq!(fields, ["id", "deviceId", "eventType", "eventType", "eventType"], "{refusals:?}");
    assert!(refusals[1].message.contains("this laptop never wrote"), "{}", refusals[1].message);
    laptop.still_intact(&before);
    // And the laptop still records: its device's numbers were not taken.
    let mut store = laptop.store();
    let t = EventType::CampaignCreated;
    let draft = Draft::new(
        None,
        t,
        SampleCampaign::numbered(4).payload(t).unwrap(),
        UserId::parse("usr_lotte").unwrap(),
    );
    assert_eq!(store.record(draft).unwrap().event.device_seq, 3);
}

/// A fake server set the pull cursor to 2^63−1, so that the laptop never pulled again while
/// reporting success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_beyond_the_log_ends_the_sync() {
    let laptop = Laptop::new();
    let before = laptop.export();
    let mut script = Script::serving(Vec::new());
    script.head = 3;
    script.page =
        Some(|after, _| json!({"events": [], "nextAfter": i64::MAX, "hasMore": false, "after": after}));
    let base = fake(script).await;
    let error = laptop.sync(&base).await.unwrap_err();
    assert!(matches!(error, SyncError::Untrustworthy(_)), "{error}");
    assert!(error.to_string().contains("does not continue the log up to #3"), "{error}");
    assert_eq!(laptop.store().sync_state().unwrap().cursor, 0, "the cursor stays where it was");
    laptop.still_intact(&before);
}

/// A fake server kept `hasMore: true` with new events until the laptop's database was 1.4 GB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_that_never_ends_ends_the_sync_at_the_head_it_claimed() {
    let laptop = Laptop::new();
    let before = laptop.export();
    let mut script = Script::serving(Vec::new());
    script.head = 10;
    script.page = Some(|after, _| {
        let campaign = CampaignId::generate();
        let events: Vec<Value> = (1..=1000)
            .map(|i| {
                let e = event(&campaign, OTHER, (after + i) as u64, EventType::CampaignCreated, json!({"legoCampaignCode": "JUNK", "materialType": "PI"}));
                json!({"position": after + i, "receivedAt": "2026-12-01T10:00:00.000Z", "site": "LEGO", "event": e})
            })
            .collect();
        json!({"events": events, "nextAfter": after + 1000, "hasMore": true})
    });
    let base = fake(script).await;
    let error = laptop.sync(&base).await.unwrap_err();
    assert!(error.to_string().contains("does not continue the log up to #10"), "{error}");
    assert_eq!(laptop.store().sync_state().unwrap().cursor, 0);
    assert_eq!(laptop.export().lines().count(), 2, "none of the junk was taken");
    laptop.still_intact(&before);
}

/// A fake server answered a page with 65 MiB, and served an event of 160 KB: the answer ends
/// the sync as untrustworthy (not as "offline", which would retry it for ever), and the large
/// event is kept aside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_and_events_larger_than_any_server_sends_are_not_taken() {
    let laptop = Laptop::new();
    let before = laptop.export();
    let mut script = Script::serving(Vec::new());
    script.head = 1;
    script.page =
        Some(|_, _| json!({"events": [], "nextAfter": 1, "hasMore": false, "padding": "x".repeat(65 << 20)}));
    let error = laptop.sync(&fake(script).await).await.unwrap_err();
    assert!(matches!(error, SyncError::Untrustworthy(_)), "{error}");
    assert!(error.to_string().contains("larger than the 64 MiB"), "{error}");
    laptop.still_intact(&before);

    let laptop = Laptop::new();
    let before = laptop.export();
    let campaign = CampaignId::generate();
    // Every text within its 10,000 characters, but four of them in four-byte characters.
    let mut data = SampleCampaign::numbered(8).payload(EventType::GranulationCompleted).unwrap();
    for field in ["ticketNumber", "polymerComposition", "wasteCode", "notes"] {
        data[field] = json!("\u{1F4E6}".repeat(10_000));
    }
    let large = event(&campaign, OTHER, 1, EventType::GranulationCompleted, data);
    let report = laptop.sync(&fake(Script::serving(vec![(large, "LEGO")])).await).await.unwrap();
    assert_eq!(report.pull_refused, 1, "{report:?}");
    let refusals = laptop.store().pull_refusals().unwrap();
    assert_eq!(refusals[0].field, "event", "{refusals:?}");
    assert!(refusals[0].message.contains("at most 131072 bytes"), "{}", refusals[0].message);
    assert!(laptop.store().campaign(&campaign).unwrap().is_none(), "the large event is not folded");
    laptop.still_intact(&before);
}

/// A fake server answered `stored` for an event it never stored, which the laptop then dropped
/// from its queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_the_server_does_not_serve_back_stays_queued() {
    let laptop = Laptop::new();
    let before = laptop.export();
    let mut script = Script::serving(Vec::new());
    script.head = 2;
    // It claims positions 1 and 2 for the laptop's entries, and serves two others there.
    script.page = Some(|after, _| {
        let campaign = CampaignId::generate();
        let events: Vec<Value> = ((after + 1)..=2)
            .map(|p| {
                let e = event(
                    &campaign,
                    OTHER,
                    p as u64,
                    EventType::CampaignCreated,
                    json!({"legoCampaignCode": format!("OTHER-{p}"), "materialType": "PI"}),
                );
                json!({"position": p, "receivedAt": "2026-12-01T10:00:00.000Z", "site": "LEGO", "event": e})
            })
            .collect();
        json!({"events": events, "nextAfter": 2, "hasMore": false})
    });
    script.push = Some(|events, _| {
        let results: Vec<Value> = events
            .iter()
            .enumerate()
            .map(|(i, e)| json!({"id": e["id"], "outcome": "stored", "position": i + 1}))
            .collect();
        json!({"results": results, "device": {"deviceId": events[0]["deviceId"], "contiguousUpTo": 2, "highestSeq": 2, "eventCount": 2}})
    });
    let base = fake(script).await;
    let error = laptop.sync(&base).await.unwrap_err();
    assert!(error.to_string().contains("does not serve them where it said"), "{error}");
    let store = laptop.store();
    assert_eq!(store.unsynced(10).unwrap().len(), 2, "both entries are sent again at the next sync");
    assert_eq!(store.sync_state().unwrap().pending, 2);
    laptop.still_intact(&before);
}

/// `--server 'http://[::1]@host:18090'` and `'http://127.0.0.1:1@host/'` passed the https-only
/// check and sent the token in clear text to `host`.
#[test]
fn an_address_with_a_user_name_sends_nothing() {
    for address in ["http://[::1]@pluto.invalid:18090", "http://127.0.0.1:1@pluto.invalid/"] {
        let error = SyncClient::new(address, "plt_secret").err().expect("refused");
        assert!(matches!(error, SyncError::UserInfo(_)), "{address}: {error}");
        assert!(error.to_string().contains("user name or password"), "{error}");
    }
}

/// A laptop that synced with a server whose log (identified as `log_id`) holds its two entries
/// and four of another laptop, and then recorded a new campaign, not sent yet; and that log.
async fn synced_laptop(log_id: Option<&'static str>) -> (Laptop, Vec<(Value, &'static str)>) {
    let laptop = Laptop::new();
    let own = laptop.export();
    let mut log: Vec<(Value, &'static str)> =
        own.lines().zip(["LEGO", "MBA"]).map(|(l, site)| (serde_json::from_str(l).unwrap(), site)).collect();
    for seq in 1..=4 {
        let data = json!({"legoCampaignCode": format!("OTHER-{seq}"), "materialType": "PI"});
        log.push((event(&CampaignId::generate(), OTHER, seq, EventType::CampaignCreated, data), "LEGO"));
    }
    let mut script = Script::serving(log.clone());
    script.log_id = log_id;
    laptop.sync(&fake(script).await).await.expect("the first server's log is taken");
    assert_eq!(laptop.store().sync_state().unwrap().cursor, 6);
    let t = EventType::CampaignCreated;
    let draft = Draft::new(
        None,
        t,
        SampleCampaign::numbered(4).payload(t).unwrap(),
        UserId::parse("usr_lotte").unwrap(),
    );
    laptop.store().record(draft).unwrap();
    (laptop, log)
}

/// issue 30: each lie a server could tell a laptop about having lost entries. The laptop ends
/// the sync, sends nothing, keeps its cursor and its entries' positions, and loses nothing.
async fn refused_without_a_change(script: Script, laptop: &Laptop, words: &str) {
    let before = laptop.export();
    let pushed = Arc::clone(&script.pushed);
    let error = laptop.sync(&fake(script).await).await.unwrap_err();
    assert!(matches!(error, SyncError::Untrustworthy(_)), "{error}");
    assert!(error.to_string().contains(words), "{error}");
    assert!(pushed.lock().unwrap().is_empty(), "nothing was sent to it");
    let state = laptop.store().sync_state().unwrap();
    assert_eq!((state.cursor, state.pending, state.last_rewind), (6, 1, None));
    assert_eq!(laptop.export(), before, "every entry as it was");
    let positions: Vec<i64> =
        laptop.store().held_between(0, 6, 10).unwrap().iter().map(|h| h.position).collect();
    assert_eq!(positions, [1, 2, 3, 4, 5, 6], "at the positions it had");
    laptop.still_intact(&before);
}

/// Another server (or a new, empty one) answering at the address: another log identity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_log_gets_nothing() {
    let (laptop, log) = synced_laptop(Some("log_first")).await;
    let mut script = Script::serving(log);
    script.log_id = Some("log_other");
    refused_without_a_change(script, &laptop, "another log (log_other)").await;
    let mut empty = Script::serving(Vec::new());
    empty.log_id = Some("log_new");
    refused_without_a_change(empty, &laptop, "another log (log_new)").await;
}

/// The same log claiming to have lost entries, but holding some again after the loss: no
/// restored backup answers so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_that_holds_entries_again_after_losing_some_is_not_believed() {
    let (laptop, log) = synced_laptop(Some("log_first")).await;
    let mut script = Script::serving(log);
    script.log_id = Some("log_first");
    script.verdict = Some(|position| if position < 6 && position % 2 == 1 { "same" } else { "absent" });
    refused_without_a_change(script, &laptop, "after losing entries before it").await;
}

/// The same log holding an entry with content other than it served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_changed_on_the_server_is_not_believed() {
    let (laptop, log) = synced_laptop(Some("log_first")).await;
    let mut script = Script::serving(log);
    script.log_id = Some("log_first");
    script.verdict = Some(|_| "different");
    refused_without_a_change(script, &laptop, "with other content than it served before").await;
}

/// A server with none of what the laptop pulled and no log identity to say it is the same
/// (older than log identities): not taken for a restored one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_holding_none_of_it_without_an_identity_gets_nothing() {
    let (laptop, log) = synced_laptop(None).await;
    let mut script = Script::serving(log);
    script.verdict = Some(|_| "otherEvent");
    refused_without_a_change(script, &laptop, "holds none of the entries this laptop pulled").await;
}

/// A restored server where the lost entries, pushed again, landed by chance where they were:
/// the same entries at the same positions, received later. The laptop does not take the entry
/// it pulled last for the same one: it finds where the server's log still holds what it pulled
/// (received before), rewinds there, sends its new entry and takes the rest back as held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_pushed_again_to_where_they_were_are_not_taken_for_kept_ones() {
    let (laptop, log) = synced_laptop(Some("log_first")).await;
    let before = laptop.export();
    let mut script = Script::serving(log);
    script.log_id = Some("log_first");
    script.received =
        Some(|position| if position <= 3 { "2026-12-01T10:00:00.000Z" } else { "2026-12-05T08:00:00.000Z" });
    let pushed = Arc::clone(&script.pushed);
    let report = laptop.sync(&fake(script).await).await.expect("the laptop recovers");
    let rewind = report.rewind.expect("the restore is noticed");
    assert_eq!((rewind.after, rewind.cursor_was, rewind.own, rewind.others), (3, 6, 0, 3));
    assert_eq!(pushed.lock().unwrap().len(), 1, "its new entry is sent");
    let state = laptop.store().sync_state().unwrap();
    assert_eq!((state.cursor, state.last_rewind.map(|r| r.after)), (6, Some(3)));
    laptop.still_intact(&before);
}
