//! issue 26, attacked as a holder of one valid RGE token would, against a real server on
//! loopback (SQLite and PostgreSQL) and real laptops syncing with it. Each case is named after
//! the attack and checks what an honest laptop shows afterwards (weights, statuses, anomalies to
//! review) and that its sync still completes.

use std::path::PathBuf;

use pluto_domain::samples::SampleCampaign;
use pluto_domain::{
    AnomalyKind, CampaignId, CampaignState, CampaignStatus, Event, EventId, EventType, Timestamp, UserId,
};
use pluto_protocol::PushOutcome;
use pluto_server::config::ServiceOptions;
use pluto_server::storage::{Role, Storage};
use pluto_store::{Draft, Seen, Store};
use pluto_sync::{sync_once, SyncClient};
use serde_json::{json, Value};

use crate::util::expect_error;

use crate::util::push_body;

use crate::util::to_json;

use crate::util::Backend;

use crate::util::Laptop;

use crate::util::TestServer;

/// A site's laptop: its database and its token.
struct Site {
    db: PathBuf,
    token: String,
    user: UserId,
}

/// The chain's honest laptops around one server, and a campaign's sample payloads.
struct Chain<S> {
    server: TestServer<S>,
    _dir: tempfile::TempDir,
    lego: Site,
    mba: Site,
    echa: Site,
    rge: Site,
    sample: SampleCampaign,
}

impl<S: Storage + Clone> Chain<S> {
    async fn start(storage: S) -> Self {
        Self::start_with(storage, ServiceOptions::default()).await
    }

    async fn start_with(storage: S, options: ServiceOptions) -> Self {
        let server = TestServer::start(storage, options).await;
        let dir = tempfile::tempdir().expect("temporary folder");
        let mut sites = Vec::new();
        for (name, user) in
            [("LEGO", "usr_lotte"), ("MBA", "usr_mads"), ("ECHA", "usr_eva"), ("RGE", "usr_rasmus")]
        {
            let db = dir.path().join(format!("{name}.sqlite3"));
            let device = Store::open(&db).expect("laptop store").device_id().clone();
            let token = server.site_token(&device, name, Role::Site).await;
            sites.push(Site { db, token, user: UserId::parse(user).expect("user id") });
        }
        let mut sites = sites.into_iter();
        let mut next = || sites.next().expect("four sites");
        let (lego, mba, echa, rge) = (next(), next(), next(), next());
        Self { server, _dir: dir, lego, mba, echa, rge, sample: SampleCampaign::numbered(1) }
    }

    /// One full sync of `site`, which must complete.
    async fn sync(&self, site: &Site) {
        let (db, base, token) = (site.db.clone(), self.server.base.clone(), site.token.clone());
        tokio::task::spawn_blocking(move || {
            let mut store = Store::open(&db).expect("laptop store");
            let client = SyncClient::new(&base, &token).expect("client");
            sync_once(&mut store, &client).expect("the sync completes")
        })
        .await
        .expect("sync task");
    }

    /// `site` records `event_type` with the sample payload, strictly, after a sync.
    async fn record(&self, site: &Site, campaign: Option<&CampaignId>, event_type: EventType) -> Event {
        self.sync(site).await;
        let data = self.sample.payload(event_type).expect("sample payload");
        let draft = Draft::new(campaign.cloned(), event_type, data, site.user.clone());
        let recorded = Store::open(&site.db).expect("store").record(draft).expect("recorded");
        self.sync(site).await;
        recorded.event
    }

    /// LEGO creates the campaign.
    async fn create(&self) -> Event {
        self.record(&self.lego, None, EventType::CampaignCreated).await
    }

    /// MBA's five steps, then ECHA's approval, then MBA's transfer.
    async fn process_and_approve(&self, campaign: &CampaignId) {
        for t in [
            EventType::InboundShipmentRecorded,
            EventType::GranulationCompleted,
            EventType::MetalRemovalCompleted,
            EventType::PolymerPurificationCompleted,
            EventType::ExtrusionCompleted,
        ] {
            self.record(&self.mba, Some(campaign), t).await;
        }
        self.record(&self.echa, Some(campaign), EventType::EchaApprovalRecorded).await;
    }

    /// The campaign as `site` shows it after a sync.
    async fn shown(&self, site: &Site, campaign: &CampaignId) -> CampaignState {
        self.sync(site).await;
        let store = Store::open(&site.db).expect("store");
        assert!(store.verify().expect("verify").is_empty(), "the laptop's projections equal a replay");
        store.campaign(campaign).expect("read").expect("the campaign is there")
    }

    /// The weights and the anomalies to review as the honest steps alone leave them.
    fn sample_weight(&self, t: EventType) -> f64 {
        let field = if t == EventType::InboundShipmentRecorded { "netWeightKg" } else { "outputWeightKg" };
        self.sample.payload(t).expect("payload")[field].as_f64().expect("weight")
    }

    /// A hostile laptop with a valid RGE token of its own.
    async fn attacker(&self) -> (Laptop, String) {
        let laptop = Laptop::new(66);
        let token = self.server.site_token(&laptop.device, "RGE", Role::Site).await;
        (laptop, token)
    }
}

/// The anomalies `state` asks someone to review, as (kind, type of the entry).
fn to_review(state: &CampaignState) -> Vec<(AnomalyKind, EventType)> {
    state.anomalies.iter().filter(|a| a.is_open()).map(|a| (a.kind, a.event_type)).collect()
}

/// An RGE `ManufacturingStarted` whose id lies 1 ms after the campaign's creation used to make the
/// campaign's weights "—" on every laptop and every later MBA and ECHA step a "late step".
async fn an_early_manufacturing_start_moves_nothing_and_makes_no_step_late(backend: &impl Backend) {
    let chain = Chain::start(backend.storage().clone()).await;
    let created = chain.create().await;
    let campaign = created.stream_id.clone();
    let (rge, token) = chain.attacker().await;
    let at = Timestamp::from_millis(created.created_at.millis() + 1);
    let mut early = rge.event_in(&campaign, 1, EventType::ManufacturingStarted, at);
    early.id = EventId::from_ulid(ulid::Ulid::from_parts(created.id.ulid().timestamp_ms() + 1, 1));
    assert_eq!(
        chain.server.push(&token, std::slice::from_ref(&early)).await.results[0].outcome,
        PushOutcome::Stored
    );

    chain.process_and_approve(&campaign).await;
    let state = chain.shown(&chain.lego, &campaign).await;
    assert_eq!(state.status, CampaignStatus::EchaApproved);
    assert_eq!(state.current_weight_kg, Some(chain.sample_weight(EventType::ExtrusionCompleted)));
    assert_eq!(state.inbound_net_weight_kg, Some(chain.sample_weight(EventType::InboundShipmentRecorded)));
    assert!(state.echa_approved);
    // Only the early start asks for a review: it waits for the transfer.
    assert_eq!(to_review(&state), [(AnomalyKind::SkippedSteps, EventType::ManufacturingStarted)]);
    assert_eq!(state.anomalies[0].event_id, early.id);
}

/// A backdated RGE `ReturnToLEGORecorded` used to make LEGO's real entry "no effect".
async fn a_backdated_return_never_outranks_lego_s_own(backend: &impl Backend) {
    let chain = Chain::start(backend.storage().clone()).await;
    let created = chain.create().await;
    let campaign = created.stream_id.clone();
    let (rge, token) = chain.attacker().await;
    let mut backdated = rge.event_in(&campaign, 1, EventType::ReturnToLegoRecorded, created.created_at);
    backdated.id = EventId::from_ulid(ulid::Ulid::from_parts(created.id.ulid().timestamp_ms() + 1, 2));
    chain.server.push(&token, std::slice::from_ref(&backdated)).await;

    chain.process_and_approve(&campaign).await;
    chain.record(&chain.mba, Some(&campaign), EventType::TransferToRgeRecorded).await;
    chain.record(&chain.rge, Some(&campaign), EventType::ManufacturingStarted).await;
    chain.record(&chain.rge, Some(&campaign), EventType::ManufacturingCompleted).await;
    // LEGO records the real return, after the early one took the step: it stands.
    let real = chain.record(&chain.lego, Some(&campaign), EventType::ReturnToLegoRecorded).await;
    let state = chain.shown(&chain.rge, &campaign).await;
    assert_eq!(state.status, CampaignStatus::ReturnedToLego);
    let full = Store::open(&chain.rge.db).unwrap().campaign(&campaign).unwrap().unwrap();
    assert_eq!(full.steps.return_to_lego.expect("a return").event_id, real.id, "LEGO's return counts");
    assert_eq!(to_review(&state), [(AnomalyKind::DuplicateStep, EventType::ReturnToLegoRecorded)]);
    assert_eq!(state.anomalies.iter().find(|a| a.is_open()).unwrap().event_id, backdated.id);
}

/// One event with the largest id there is froze a campaign on every laptop: nobody could record,
/// correct or void on it again. The server refuses it; the campaign goes on.
async fn the_largest_id_freezes_nothing(backend: &impl Backend) {
    let chain = Chain::start(backend.storage().clone()).await;
    let created = chain.create().await;
    let campaign = created.stream_id.clone();
    let (rge, token) = chain.attacker().await;
    let mut last = rge.event_in(&campaign, 1, EventType::ManufacturingStarted, Timestamp::now());
    last.id = EventId::parse("evt_7ZZZZZZZZZZZZZZZZZZZZZZZZZ").unwrap();
    let result = chain.server.push(&token, &[last]).await.results.remove(0);
    assert_eq!(result.outcome, PushOutcome::Refused);
    assert!(result.error.unwrap().message.contains("lies in the future"));

    let inbound = chain.record(&chain.mba, Some(&campaign), EventType::InboundShipmentRecorded).await;
    let mut store = Store::open(&chain.mba.db).unwrap();
    let change = [("carrier".to_owned(), "DSV".to_owned())];
    store.correct(&campaign, &inbound.id, &change, "label", chain.mba.user.clone(), Seen::default()).unwrap();
    store.void(&campaign, &inbound.id, "wrong campaign", chain.mba.user.clone(), Seen::default()).unwrap();
    drop(store);
    chain.sync(&chain.mba).await;
    let state = chain.shown(&chain.lego, &campaign).await;
    assert_eq!((state.status, state.event_count), (CampaignStatus::Created, 4));
    assert!(to_review(&state).is_empty());
}

/// `deviceSeq` 2^63−1 used to brick the pushing laptop (no number could follow it); duplicate
/// `deviceId` keys in one body gave a 500.
async fn a_device_sequence_jump_and_repeated_keys_are_refused(backend: &impl Backend) {
    let chain = Chain::start(backend.storage().clone()).await;
    let created = chain.create().await;
    let (rge, token) = chain.attacker().await;
    let jump =
        rge.event_in(&created.stream_id, i64::MAX as u64, EventType::ManufacturingStarted, Timestamp::now());
    let result = chain.server.push(&token, &[jump]).await.results.remove(0);
    let error = result.error.expect("refused");
    assert_eq!((result.outcome, error.field.as_str()), (PushOutcome::Refused, "deviceSeq"));
    assert!(error.message.starts_with("expected at most 1 "), "{error}");
    // The laptop's own numbers go on from 1.
    let first = rge.event_in(&created.stream_id, 1, EventType::ManufacturingStarted, Timestamp::now());
    assert_eq!(
        chain.server.push(&token, std::slice::from_ref(&first)).await.results[0].outcome,
        PushOutcome::Stored
    );

    let mut text =
        to_json(&rge.event_in(&created.stream_id, 2, EventType::ManufacturingCompleted, Timestamp::now()))
            .to_string();
    text = text.replacen("\"deviceId\"", &format!("\"deviceId\":\"{}\",\"deviceId\"", rge.device), 1);
    // Sent as text: a JSON library would keep only one of the two keys.
    let response = chain
        .server
        .client
        .post(format!("{}/v1/events", chain.server.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(format!("{{\"events\": [{text}]}}"))
        .send()
        .await
        .unwrap();
    let refused = expect_error(response, 400, "bad_request").await;
    assert!(refused.message.contains("events[0].deviceId: appears twice"), "{}", refused.message);
    let head = chain.server.storage.head().await.unwrap();
    assert_eq!(head, 2, "nothing of the body was stored");
    let state = chain.shown(&chain.lego, &created.stream_id).await;
    assert_eq!(state.status, CampaignStatus::Created);
}

/// RGE's token sent `AnomalyReviewed` under LEGO's user id and cleared a campaign's anomalies;
/// corrections and voids naming another type than their target's were stored and served.
async fn reviews_and_references_are_judged_by_the_server(backend: &impl Backend) {
    let chain = Chain::start(backend.storage().clone()).await;
    let created = chain.create().await;
    let campaign = created.stream_id.clone();
    // MBA's inbound shipment arrives twice (two MBA laptops): an anomaly on MBA's entry.
    let inbound = chain.record(&chain.mba, Some(&campaign), EventType::InboundShipmentRecorded).await;
    let other_mba = Laptop::new(77);
    let other_token = chain.server.site_token(&other_mba.device, "MBA", Role::Site).await;
    let twice = other_mba.event_in(&campaign, 1, EventType::InboundShipmentRecorded, Timestamp::now());
    chain.server.push(&other_token, std::slice::from_ref(&twice)).await;
    assert_eq!(to_review(&chain.shown(&chain.lego, &campaign).await).len(), 1);

    let (rge, token) = chain.attacker().await;
    let entry = |seq, event_type, data| Event {
        event_type,
        data,
        ..rge.event_in(&campaign, seq, EventType::ManufacturingStarted, Timestamp::now())
    };
    let mut review = entry(
        1,
        EventType::AnomalyReviewed,
        json!({"eventId": twice.id, "anomalyKind": "duplicate_step", "note": "fine"}),
    );
    review.user_id = chain.lego.user.clone();
    // A correction valid for the type it claims, aimed at an entry of another type.
    let mut correction =
        rge.correction(2, &inbound, "poNumber", json!(null), json!("Forged"), Timestamp::now());
    correction.data["correctsEventType"] = json!("ManufacturingStarted");
    let void = entry(
        3,
        EventType::EntryVoided,
        json!({"voidsEventId": inbound.id, "voidsEventType": "ReturnToLEGORecorded", "reason": "x"}),
    );
    let results = chain.server.push(&token, &[review, correction, void]).await.results;
    let errors: Vec<(PushOutcome, String, String)> = results
        .into_iter()
        .map(|r| {
            let e = r.error.unwrap_or_else(|| panic!("{:?} was stored", r.id));
            (r.outcome, e.field, e.message)
        })
        .collect();
    assert_eq!((errors[0].0, errors[0].1.as_str()), (PushOutcome::Refused, "eventType"));
    assert!(errors[0].2.contains("site RGE may not review anomalies of Inbound Shipment"), "{}", errors[0].2);
    assert_eq!(errors[1].1, "data.correctsEventType");
    assert!(
        errors[1].2.contains("is a InboundShipmentRecorded, not a ManufacturingStarted"),
        "{}",
        errors[1].2
    );
    assert_eq!(errors[2].1, "data.voidsEventType");

    let state = chain.shown(&chain.lego, &campaign).await;
    assert_eq!(to_review(&state).len(), 1, "the anomaly still waits for its review");
    assert_eq!(state.current_weight_kg, Some(chain.sample_weight(EventType::InboundShipmentRecorded)));
    // LEGO may review it; the review shows the site the server attests.
    let mut store = Store::open(&chain.lego.db).unwrap();
    store
        .review(&campaign, &twice.id, AnomalyKind::DuplicateStep, "Checked", chain.lego.user.clone())
        .unwrap();
    drop(store);
    chain.sync(&chain.lego).await;
    let state = chain.shown(&chain.mba, &campaign).await;
    assert!(to_review(&state).is_empty());
    let store = Store::open(&chain.mba.db).unwrap();
    let sites = store.server_sites(&campaign).unwrap();
    let review = store
        .history(&campaign)
        .unwrap()
        .into_iter()
        .find(|e| e.event_type == EventType::AnomalyReviewed)
        .unwrap();
    assert_eq!(sites.get(&review.id).map(String::as_str), Some("LEGO"));
}

/// Text with 10,000 × U+0001 was stored as 60 KB of JSON escapes; 1,224 such events made every
/// page larger than a laptop reads, and every laptop's sync failed from then on.
async fn text_that_cannot_bloat_the_log(backend: &impl Backend) {
    let chain = Chain::start(backend.storage().clone()).await;
    let created = chain.create().await;
    let campaign = created.stream_id.clone();
    let (rge, token) = chain.attacker().await;
    let mut refused = Vec::new();
    for (seq, text) in
        [(1, "\u{1}".repeat(10_000)), (2, "a\u{0}b".to_owned()), (3, "PO-\u{202E}1234".to_owned())]
    {
        let mut start = rge.event_in(&campaign, seq, EventType::ManufacturingStarted, Timestamp::now());
        start.data["poNumber"] = json!(text);
        let result = chain.server.push(&token, &[start]).await.results.remove(0);
        assert_eq!(result.outcome, PushOutcome::Refused);
        refused.push(result.error.unwrap());
    }
    assert!(refused.iter().all(|e| e.field == "data.poNumber"), "{refused:?}");
    assert!(refused[0].message.contains("U+0001, a control character"), "{}", refused[0].message);
    assert!(refused[2].message.contains("U+202E, a direction mark"), "{}", refused[2].message);

    // Large valid events: a page holds at most 4 MiB of them, and a laptop pulls them all.
    let long = "Ø".repeat(9_000);
    let events: Vec<Event> = (4..44)
        .map(|seq| {
            let mut e = rge.event_in(&campaign, seq, EventType::ManufacturingStarted, Timestamp::now());
            e.data["poNumber"] = json!(format!("{long}{seq}"));
            e
        })
        .collect();
    for batch in events.chunks(10) {
        chain.server.push(&token, batch).await;
    }
    let page = chain.server.get(Some(&token), "/v1/events?after=0&limit=1000").await;
    let page: Value = page.json().await.unwrap();
    let bytes = page.to_string().len();
    assert!(
        page["hasMore"] == json!(false) || bytes <= 4 * 1024 * 1024 + 64 * 1024,
        "{bytes} bytes in one page"
    );
    let state = chain.shown(&chain.lego, &campaign).await;
    assert_eq!(state.event_count, 41);
}

/// 8 × 8 MiB valid pushes grew the server by about 200 MiB/s with no quota: a token past its
/// daily quota is told 429 with the reason, nothing of that push is stored, and other tokens go on.
async fn a_token_past_its_daily_quota_is_told_to_wait(backend: &impl Backend) {
    let options = ServiceOptions { daily_push_quota: Some(64 * 1024), ..ServiceOptions::default() };
    let chain = Chain::start_with(backend.storage().clone(), options).await;
    let created = chain.create().await;
    let (rge, token) = chain.attacker().await;
    let long = "x".repeat(9_000);
    let mut seq = 0;
    let refusal = loop {
        seq += 1;
        let mut e = rge.event_in(&created.stream_id, seq, EventType::ManufacturingStarted, Timestamp::now());
        e.data["poNumber"] = json!(format!("{long}{seq}"));
        let response = chain.server.push_raw(Some(&token), &push_body(&[e])).await;
        if response.status() == 429 {
            let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!(retry > 0 && retry <= 86_400, "{retry}");
            break expect_error(response, 429, "quota_exceeded").await;
        }
        assert_eq!(response.status(), 200);
        assert!(seq < 20, "a 64 KiB quota was never reached");
    };
    assert!(
        refusal.message.contains("may push 0 MiB a day") || refusal.message.contains("may push"),
        "{}",
        refusal.message
    );
    assert!(refusal.message.contains("Nothing was stored"), "{}", refusal.message);
    // Other sites are not held up.
    chain.record(&chain.mba, Some(&created.stream_id), EventType::InboundShipmentRecorded).await;
    let state = chain.shown(&chain.lego, &created.stream_id).await;
    assert_eq!(state.status, CampaignStatus::InboundShipmentRecorded);
}

macro_rules! adversarial_suite {
    ($module:ident, $backend:ty) => {
        mod $module {
            adversarial_suite!(@cases $backend;
                an_early_manufacturing_start_moves_nothing_and_makes_no_step_late,
                a_backdated_return_never_outranks_lego_s_own,
                the_largest_id_freezes_nothing,
                a_device_sequence_jump_and_repeated_keys_are_refused,
                reviews_and_references_are_judged_by_the_server,
                text_that_cannot_bloat_the_log,
                a_token_past_its_daily_quota_is_told_to_wait,
            );
        }
    };
    (@cases $backend:ty; $($case:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let backend = <$backend>::new().await;
                super::$case(&backend).await;
            }
        )*
    };
}

adversarial_suite!(sqlite, crate::util::SqliteBackend);
adversarial_suite!(postgres, crate::util::PostgresBackend);
