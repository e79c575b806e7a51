//! The trust boundary, attacked as a holder of a valid token would: the site policy row by row,
//! corrections across sites, forged creations and ids, provenance, and revocation. Each case
//! runs on SQLite and on PostgreSQL, through a real server on loopback.

use std::time::{Duration, Instant};

use pluto_protocol::PullResponse;

use pluto_protocol::PushOutcome;

use pluto_domain::{EventId, EventType, SitePolicy, Timestamp};
use pluto_server::config::ServiceOptions;
use pluto_server::storage::{Role, Storage};
use serde_json::json;

use crate::util::expect_error;

use crate::util::Backend;

use crate::util::Laptop;

use crate::util::TestServer;

/// The default policy, as `docs/security.md` states it.
const DEFAULT: [(&str, &[EventType]); 4] = {
    use EventType::*;
    [
        ("LEGO", &[CampaignCreated, EchaApprovalRecorded, ReturnToLegoRecorded, CampaignCompleted]),
        (
            "MBA",
            &[
                InboundShipmentRecorded,
                GranulationCompleted,
                MetalRemovalCompleted,
                PolymerPurificationCompleted,
                ExtrusionCompleted,
                TransferToRgeRecorded,
            ],
        ),
        ("ECHA", &[EchaApprovalRecorded]),
        ("RGE", &[ManufacturingStarted, ManufacturingCompleted, ReturnToLegoRecorded]),
    ]
};

/// An instant `minutes` after a fixed morning, long enough ago to raise no clock-skew flag.
fn at(minutes: i64) -> Timestamp {
    Timestamp::from_millis(1_772_000_000_000 + minutes * 60_000)
}

async fn start<B: Backend>(backend: &B) -> TestServer<B::S> {
    TestServer::start(backend.storage().clone(), ServiceOptions::default()).await
}

async fn the_policy_is_enforced_row_by_row_and_refusals_are_never_served(backend: &impl Backend) {
    let server = start(backend).await;
    let mut refused_ids: Vec<EventId> = Vec::new();
    for (n, (site, allowed)) in DEFAULT.iter().enumerate() {
        let laptop = Laptop::new(n as u32);
        let token = server.site_token(&laptop.device, site, Role::Site).await;
        // Every step, in order, on a campaign of this laptop's own.
        let events: Vec<_> = EventType::STEPS
            .iter()
            .enumerate()
            .map(|(i, &t)| laptop.event_at(i as u64 + 1, t, at(i as i64)))
            .collect();
        let response = server.push(&token, &events).await;
        for (event, result) in events.iter().zip(&response.results) {
            if allowed.contains(&event.event_type) {
                assert_eq!(
                    result.outcome,
                    PushOutcome::Stored,
                    "{site} records {}: {result:?}",
                    event.event_type
                );
            } else {
                assert_eq!(
                    result.outcome,
                    PushOutcome::Refused,
                    "{site} may not record {}",
                    event.event_type
                );
                let error = result.error.as_ref().unwrap();
                assert_eq!(
                    (error.field.as_str(), error.message.clone()),
                    ("eventType", format!("site {site} may not record {}", event.event_type.label()))
                );
                refused_ids.push(event.id.clone());
            }
        }
    }
    let stored = EventType::STEPS.len() * DEFAULT.len() - refused_ids.len();
    assert_eq!(stored, 4 + 6 + 1 + 3);
    // What was refused is not stored, so never served; what was stored names its site.
    let reader = Laptop::new(9);
    let token = server.site_token(&reader.device, "LEGO", Role::Site).await;
    let page: PullResponse =
        server.get(Some(&token), "/v1/events?after=0&limit=1000").await.json().await.unwrap();
    assert_eq!(page.events.len(), stored);
    assert!(page.events.iter().all(|e| !refused_ids.contains(&e.event.id)));
    for logged in &page.events {
        let site = logged.site.as_deref().expect("the server attests the site");
        let (_, allowed) = DEFAULT.iter().find(|(s, _)| *s == site).unwrap();
        assert!(allowed.contains(&logged.event.event_type), "{site}: {}", logged.event.event_type);
    }
    // A site the policy does not name records nothing; an administrator records anything.
    let stranger = Laptop::new(10);
    let token = server.site_token(&stranger.device, "Warehouse", Role::Site).await;
    let response = server.push(&token, &[stranger.event_at(1, EventType::CampaignCreated, at(0))]).await;
    assert_eq!(
        response.results[0].error.as_ref().unwrap().message,
        "site Warehouse may not record Campaign Created"
    );
    let admin = Laptop::new(11);
    let token = server.site_token(&admin.device, "Warehouse", Role::Admin).await;
    let response = server.push(&token, &[admin.event_at(1, EventType::GranulationCompleted, at(0))]).await;
    assert_eq!(response.results[0].outcome, PushOutcome::Stored);
}

async fn a_site_corrects_only_what_it_may_record(backend: &impl Backend) {
    let server = start(backend).await;
    let mba = Laptop::new(1);
    let mba_token = server.site_token(&mba.device, "MBA", Role::Site).await;
    let inbound = mba.event_at(1, EventType::InboundShipmentRecorded, at(0));
    let was = inbound.data["netWeightKg"].clone();
    let own = mba.correction(2, &inbound, "netWeightKg", was.clone(), json!(10.0), at(1));
    let response = server.push(&mba_token, &[inbound.clone(), own]).await;
    assert!(response.results.iter().all(|r| r.outcome == PushOutcome::Stored), "{response:?}");

    // The attack: an RGE laptop "corrects" MBA's inbound net weight.
    let rge = Laptop::new(2);
    let rge_token = server.site_token(&rge.device, "RGE", Role::Site).await;
    let forged = rge.correction(1, &inbound, "netWeightKg", json!(10.0), json!(950.0), at(2));
    let response = server.push(&rge_token, &[forged]).await;
    assert_eq!(response.results[0].outcome, PushOutcome::Refused);
    assert_eq!(
        response.results[0].error.as_ref().unwrap().message,
        "site RGE may not correct Inbound Shipment"
    );
    let head = server.storage.head().await.unwrap();
    assert_eq!(head, 2, "nothing of the forgery is stored");
}

async fn a_campaign_is_created_once_and_nothing_precedes_its_creation(backend: &impl Backend) {
    let server = start(backend).await;
    let lego = Laptop::new(1);
    let token = server.site_token(&lego.device, "LEGO", Role::Admin).await;
    let created = lego.event_at(1, EventType::CampaignCreated, at(60));
    let inbound = lego.event_at(2, EventType::InboundShipmentRecorded, at(61));
    server.push(&token, &[created.clone(), inbound]).await;

    // A second creation.
    let mut forged = lego.event_at(3, EventType::CampaignCreated, at(63));
    forged.data = json!({"legoCampaignCode": "FORGED", "materialType": "PI"});
    // An event whose id sorts before the real creation.
    let early = lego.event_at(4, EventType::GranulationCompleted, at(59));
    // issue 26: an id whose time is 1970 on an event recorded now, an event dated 1970, and the
    // largest id there is (it froze a campaign on every laptop: no id could follow it).
    let mut odd_id = lego.event_at(5, EventType::GranulationCompleted, at(62));
    odd_id.id = EventId::from_ulid(ulid::Ulid::from_parts(1_000, 7));
    let ancient = lego.event_at(6, EventType::GranulationCompleted, Timestamp::from_millis(1_000));
    let mut last_id = lego.event_at(7, EventType::GranulationCompleted, at(64));
    last_id.id = EventId::parse("evt_7ZZZZZZZZZZZZZZZZZZZZZZZZZ").unwrap();
    let response = server.push(&token, &[forged, early, odd_id, ancient, last_id]).await;
    let errors: Vec<(String, String)> = response
        .results
        .iter()
        .map(|r| {
            assert_eq!(r.outcome, PushOutcome::Refused, "{r:?}");
            let e = r.error.clone().unwrap();
            (e.field, e.message)
        })
        .collect();
    assert_eq!(errors[0].0, "eventType");
    assert!(errors[0].1.contains(&format!("was already created by {}", created.id)), "{}", errors[0].1);
    assert_eq!(errors[1].0, "id");
    assert!(errors[1].1.contains("cannot precede its campaign's creation"), "{}", errors[1].1);
    assert_eq!(errors[2].0, "id");
    assert!(errors[2].1.contains("before 2024-01-01"), "{}", errors[2].1);
    assert_eq!(errors[3].0, "createdAt");
    assert!(errors[3].1.contains("before 2024-01-01"), "{}", errors[3].1);
    assert_eq!(errors[4].0, "id");
    assert!(errors[4].1.contains("lies in the future"), "{}", errors[4].1);
    assert_eq!(server.storage.head().await.unwrap(), 2);

    // A creation that arrives after its campaign's first steps is honest (the creator synced
    // late, MBA had the campaign from a file) and is stored.
    let late = Laptop::new(2);
    let token = server.site_token(&late.device, "LEGO", Role::Admin).await;
    let creation = late.event_at(1, EventType::CampaignCreated, at(0));
    let mba = Laptop::new(3);
    let mba_token = server.site_token(&mba.device, "MBA", Role::Site).await;
    let step = mba.event_in(&late.campaign, 1, EventType::InboundShipmentRecorded, at(5));
    assert_eq!(server.push(&mba_token, &[step]).await.results[0].outcome, PushOutcome::Stored);
    assert_eq!(server.push(&token, &[creation]).await.results[0].outcome, PushOutcome::Stored);
}

async fn an_operator_sees_what_a_token_pushed(backend: &impl Backend) {
    let server = start(backend).await;
    let mba = Laptop::new(1);
    let token = server.site_token(&mba.device, "MBA", Role::Site).await;
    let other = Laptop::new(2);
    let other_token = server.site_token(&other.device, "RGE", Role::Site).await;
    server.push(&token, &[mba.event_at(1, EventType::InboundShipmentRecorded, at(0))]).await;
    server.push(&other_token, &[other.event_at(1, EventType::ManufacturingStarted, at(1))]).await;
    server.push(&token, &[mba.event_at(2, EventType::GranulationCompleted, at(2))]).await;
    let tokens = server.storage.list_tokens().await.unwrap();
    let id = &tokens.iter().find(|t| t.device_id == mba.device).unwrap().id;
    let page = server.storage.pushed_by(id, None, 0, 100).await.unwrap();
    let pushed: Vec<_> = page.events.iter().map(|e| e.decode().unwrap()).collect();
    assert_eq!(pushed.iter().map(|e| e.position).collect::<Vec<_>>(), [1, 3]);
    assert!(pushed.iter().all(|e| e.site.as_deref() == Some("MBA") && e.event.device_id == mba.device));
    let later = server.storage.pushed_by(
        id,
        Some(Timestamp::from_millis(Timestamp::now().millis() + 60_000)),
        0,
        100,
    );
    assert!(later.await.unwrap().events.is_empty(), "--since leaves out what came before");
}

async fn a_revoked_tokens_long_poll_ends(backend: &impl Backend) {
    let server = start(backend).await;
    let laptop = Laptop::new(1);
    let token = server.site_token(&laptop.device, "MBA", Role::Site).await;
    let url = format!("{}/v1/events?after=0&waitSeconds=25", server.base);
    let (client, secret) = (server.client.clone(), token.clone());
    let started = Instant::now();
    let poll = tokio::spawn(async move { client.get(url).bearer_auth(secret).send().await.unwrap() });
    server.until_waiting(1).await;
    let id = server.storage.list_tokens().await.unwrap()[0].id.clone();
    server.storage.revoke_token(&id, Timestamp::now()).await.unwrap();
    let response = poll.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "ended {:?} after it began", started.elapsed());
    let body = expect_error(response, 401, "unauthorized").await;
    assert!(body.message.contains("revoked"), "{}", body.message);
}

async fn each_token_learns_what_it_may_record(backend: &impl Backend) {
    let server = start(backend).await;
    let rge = Laptop::new(1);
    let token = server.site_token(&rge.device, "RGE", Role::Site).await;
    let policy: SitePolicy = server.get(Some(&token), "/v1/policy").await.json().await.unwrap();
    assert_eq!((policy.site.as_str(), policy.admin), ("RGE", false));
    assert_eq!(policy.may_record, ["ManufacturingStarted", "ManufacturingCompleted", "ReturnToLEGORecorded"]);
    assert_eq!(policy.sites.len(), 4);
    assert_eq!(
        policy.check(EventType::GranulationCompleted, None).unwrap_err(),
        "site RGE may not record Granulation"
    );
    let admin = Laptop::new(2);
    let token = server.site_token(&admin.device, "HQ", Role::Admin).await;
    let policy: SitePolicy = server.get(Some(&token), "/v1/policy").await.json().await.unwrap();
    assert!(policy.admin && policy.may_record.len() == 12, "{policy:?}");
    expect_error(server.get(None, "/v1/policy").await, 401, "unauthorized").await;
}

macro_rules! security_suite {
    ($module:ident, $backend:ty) => {
        mod $module {
            security_suite!(@cases $backend;
                the_policy_is_enforced_row_by_row_and_refusals_are_never_served,
                a_site_corrects_only_what_it_may_record,
                a_campaign_is_created_once_and_nothing_precedes_its_creation,
                an_operator_sees_what_a_token_pushed,
                a_revoked_tokens_long_poll_ends,
                each_token_learns_what_it_may_record,
            );
        }
    };
    (@cases $backend:ty; $($case:ident,)*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let backend = <$backend>::new().await;
                super::$case(&backend).await;
            }
        )*
    };
}

security_suite!(sqlite, crate::util::SqliteBackend);
security_suite!(postgres, crate::util::PostgresBackend);

/// A laptop whose clock runs behind another's gives its entry the id after the other's latest
/// one, so the id lies ahead of its `createdAt`: honest, and stored.
#[tokio::test]
async fn an_id_ahead_of_its_created_at_is_honest() {
    let backend = crate::util::SqliteBackend::new().await;
    let server = start(&backend).await;
    let laptop = Laptop::new(1);
    let token = server.site_token(&laptop.device, "MBA", Role::Site).await;
    let mut event = laptop.event_at(1, EventType::InboundShipmentRecorded, at(0));
    event.id = EventId::from_ulid(ulid::Ulid::from_datetime(at(180).system_time()));
    assert_eq!(server.push(&token, &[event]).await.results[0].outcome, PushOutcome::Stored);
}
