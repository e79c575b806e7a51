//! The HTTP API against a real server on loopback (SQLite in a temporary folder): status codes,
//! JSON error bodies, per-event results, clock skew and long-poll.

use std::time::{Duration, Instant};

use pluto_protocol::DeviceStatus;

use pluto_protocol::Health;

use pluto_protocol::PullResponse;

use pluto_protocol::PushOutcome;

use pluto_protocol::PushResponse;

use pluto_protocol::MAX_PUSH_EVENTS;

use pluto_domain::{EventType, Timestamp};
use pluto_protocol::MAX_REQUEST_BYTES;
use pluto_server::config::ServiceOptions;
use pluto_server::storage::Storage;
use serde_json::json;

use crate::util::expect_error;

use crate::util::push_body;

use crate::util::sqlite_server;

use crate::util::to_json;

use crate::util::Laptop;

use crate::util::SqliteBackend;

use crate::util::TestServer;

#[tokio::test]
async fn health_answers_without_a_token() {
    let (server, _db) = sqlite_server().await;
    let response = server.get(None, "/v1/health").await;
    assert_eq!(response.status(), 200);
    let health: Health = response.json().await.unwrap();
    assert_eq!((health.status.as_str(), health.backend.as_str(), health.head), ("ok", "sqlite", 0));
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
    // The event types and versions it reads, so that a laptop can tell when the server is newer.
    assert_eq!(health.event_types.len(), EventType::ALL.len());
    assert!(health.event_types.contains(&"GranulationCompleted@2".to_owned()), "{:?}", health.event_types);
    assert!(health.newer_than_this_build().is_empty());
    let newer = Health {
        event_types: vec![
            "GranulationCompleted@3".into(),
            "SampleRetained@1".into(),
            "CampaignCreated@1".into(),
        ],
        ..health
    };
    assert_eq!(newer.newer_than_this_build(), ["GranulationCompleted@3", "SampleRetained@1"]);
    server.stop().await;
}

#[tokio::test]
async fn requests_without_a_valid_token_are_401() {
    let (server, _db) = sqlite_server().await;
    let laptop = Laptop::new(1);
    let token = server.token(&laptop.device).await;
    let body = push_body(&[laptop.event(1)]);
    let status_path = format!("/v1/devices/{}/status", laptop.device);

    let wrong = "plt_".to_owned() + &"0".repeat(64);
    for secret in [None, Some(wrong.as_str()), Some("not-a-token")] {
        let response = server.push_raw(secret, &body).await;
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        expect_error(response, 401, "unauthorized").await;
        expect_error(server.get(secret, "/v1/events").await, 401, "unauthorized").await;
        expect_error(server.get(secret, &status_path).await, 401, "unauthorized").await;
    }
    let basic = server
        .client
        .get(format!("{}/v1/events", server.base))
        .header("authorization", format!("Basic {token}"));
    expect_error(basic.send().await.unwrap(), 401, "unauthorized").await;

    let id = server.storage.list_tokens().await.unwrap()[0].id.clone();
    assert_eq!(server.push(&token, &[laptop.event(1)]).await.results[0].outcome, PushOutcome::Stored);
    server.storage.revoke_token(&id, Timestamp::now()).await.unwrap();
    let body = expect_error(server.push_raw(Some(&token), &body).await, 401, "unauthorized").await;
    assert!(body.message.contains("revoked"), "{body:?}");
    expect_error(server.get(Some(&token), "/v1/events").await, 401, "unauthorized").await;
    server.stop().await;
}

#[tokio::test]
async fn pushing_another_devices_event_is_403_and_stores_nothing() {
    let (server, _db) = sqlite_server().await;
    let (mine, theirs) = (Laptop::new(1), Laptop::new(2));
    let token = server.token(&mine.device).await;
    let mut malformed = to_json(&theirs.event(2));
    malformed["eventType"] = json!("Nonsense");
    for batch in [
        push_body(&[mine.event(1), theirs.event(1)]),
        json!({ "events": [to_json(&mine.event(1)), malformed] }),
    ] {
        let body = expect_error(server.push_raw(Some(&token), &batch).await, 403, "forbidden").await;
        assert!(body.message.contains(theirs.device.as_str()), "{body:?}");
    }
    let health: Health = server.get(None, "/v1/health").await.json().await.unwrap();
    assert_eq!(health.head, 0, "nothing was stored");
    server.stop().await;
}

#[tokio::test]
async fn a_malformed_body_is_400() {
    let (server, _db) = sqlite_server().await;
    let laptop = Laptop::new(1);
    let token = server.token(&laptop.device).await;
    let url = format!("{}/v1/events", server.base);
    for body in ["not json", "{\"events\": [", "[1, 2]", "{\"evts\": []}", "{\"events\": {}}", ""] {
        let response = server.client.post(&url).bearer_auth(&token).body(body).send().await.unwrap();
        let error = expect_error(response, 400, "bad_request").await;
        assert!(error.message.contains("{\"events\": [...]}"), "{body}: {error:?}");
    }
    for query in ["?limit=0", "?after=-1", "?limit=lots", "?wait_seconds=3"] {
        expect_error(server.get(Some(&token), &format!("/v1/events{query}")).await, 400, "bad_request").await;
    }
    expect_error(server.get(Some(&token), "/v1/devices/laptop-7/status").await, 400, "bad_request").await;
    expect_error(server.get(None, "/v2/events").await, 404, "not_found").await;
    let delete = server.client.delete(&url).bearer_auth(&token).send().await.unwrap();
    expect_error(delete, 405, "bad_request").await;
    server.stop().await;
}

#[tokio::test]
async fn oversized_bodies_and_batches_are_413() {
    let (server, _db) = sqlite_server().await;
    let laptop = Laptop::new(1);
    let token = server.token(&laptop.device).await;
    let url = format!("{}/v1/events", server.base);

    let padding = "x".repeat(MAX_REQUEST_BYTES);
    let huge = format!("{{\"events\": [], \"padding\": \"{padding}\"}}");
    let response = server.client.post(&url).bearer_auth(&token).body(huge).send().await.unwrap();
    let error = expect_error(response, 413, "too_large").await;
    assert!(error.message.contains(&MAX_REQUEST_BYTES.to_string()), "{error:?}");

    let events: Vec<_> = (1..=MAX_PUSH_EVENTS as u64 + 1).map(|seq| to_json(&laptop.event(seq))).collect();
    let error =
        expect_error(server.push_raw(Some(&token), &json!({ "events": events })).await, 413, "too_large")
            .await;
    assert!(error.message.contains(&MAX_PUSH_EVENTS.to_string()), "{error:?}");
    // Millions of tiny values in one body: the reading stops at the cap instead of building
    // them all in memory first.
    let tiny = format!("{{\"events\": [0{}]}}", ",0".repeat(3_000_000));
    let response = server.client.post(&url).bearer_auth(&token).body(tiny).send().await.unwrap();
    let error = expect_error(response, 413, "too_large").await;
    assert!(error.message.contains("at most 1000 events"), "{error:?}");

    let events: Vec<_> = laptop.events(1..=MAX_PUSH_EVENTS as u64);
    let response = server.push(&token, &events).await;
    assert!(response.results.iter().all(|r| r.outcome == PushOutcome::Stored), "a full batch is fine");
    assert_eq!(response.device.contiguous_up_to, MAX_PUSH_EVENTS as u64);
    server.stop().await;
}

#[tokio::test]
async fn bad_events_are_refused_one_by_one_and_conflicts_are_reported() {
    let (server, _db) = sqlite_server().await;
    let laptop = Laptop::new(1);
    let token = server.token(&laptop.device).await;
    let first = laptop.event(1);

    let mut unknown_type = to_json(&laptop.event(2));
    unknown_type["eventType"] = json!("CampaignTeleported");
    let mut invalid = to_json(&laptop.event_at(3, EventType::InboundShipmentRecorded, Timestamp::now()));
    invalid["data"]["netWeightKg"] = json!(999_999.0);
    let mut conflicting = to_json(&first);
    conflicting["data"]["legoCampaignCode"] = json!("LEGO-OTHER");
    let batch = json!({ "events": [to_json(&first), unknown_type, invalid, to_json(&first), conflicting, to_json(&laptop.event(4))] });

    let response = server.push_raw(Some(&token), &batch).await;
    assert_eq!(response.status(), 200);
    let body: PushResponse = response.json().await.unwrap();
    let outcomes: Vec<PushOutcome> = body.results.iter().map(|r| r.outcome).collect();
    use PushOutcome::{Conflict, Duplicate, Refused, Stored};
    assert_eq!(outcomes, vec![Stored, Refused, Refused, Duplicate, Conflict, Stored]);
    assert_eq!(body.results[1].error.as_ref().unwrap().field, "eventType");
    assert_eq!(body.results[2].error.as_ref().unwrap().field, "data.netWeightKg");
    assert_eq!(body.results[4].error.as_ref().unwrap().field, "id");
    assert_eq!(body.results[4].id.as_ref(), Some(&first.id));
    assert_eq!(
        body.results.iter().map(|r| r.position).collect::<Vec<_>>(),
        vec![Some(1), None, None, Some(1), None, Some(2)]
    );
    assert_eq!((body.device.contiguous_up_to, body.device.highest_seq), (1, 4));

    let pulled: PullResponse = server.get(Some(&token), "/v1/events").await.json().await.unwrap();
    assert_eq!(pulled.events[0].event, first, "the conflicting push changed nothing");
    server.stop().await;
}

#[tokio::test]
async fn clock_skew_is_flagged_only_for_events_ahead_of_the_server() {
    let backend = SqliteBackend::new().await;
    let options = ServiceOptions { max_clock_skew: Duration::from_secs(120), ..ServiceOptions::default() };
    let server = TestServer::start(crate::util::Backend::storage(&backend).clone(), options).await;
    let laptop = Laptop::new(1);
    let token = server.token(&laptop.device).await;
    let now = Timestamp::now().millis();
    let at = |offset_ms: i64| Timestamp::from_millis(now + offset_ms);
    let events = [
        laptop.event_at(1, EventType::CampaignCreated, at(-90 * 86_400_000)),
        laptop.event_at(2, EventType::InboundShipmentRecorded, at(60_000)),
        laptop.event_at(3, EventType::GranulationCompleted, at(10 * 60_000)),
    ];
    let response = server.push(&token, &events).await;
    let skew = response.results[2].clock_skew_ms.expect("ten minutes ahead is flagged");
    assert!((9 * 60_000..=10 * 60_000).contains(&skew), "{skew}");
    assert_eq!(response.results[1].clock_skew_ms, None, "within the threshold");
    assert_eq!(response.results[0].clock_skew_ms, None, "recorded long ago offline: normal");
    assert!(
        response.results.iter().all(|r| r.outcome == PushOutcome::Stored),
        "skewed events are still stored"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_long_poll_returns_as_soon_as_an_event_is_pushed() {
    let (server, _db) = sqlite_server().await;
    let laptop = Laptop::new(1);
    let token = server.token(&laptop.device).await;
    let first = server.push(&token, &[laptop.event(1)]).await;
    assert_eq!(first.results[0].position, Some(1));

    let start = Instant::now();
    let waiting = {
        let (client, url, token) = (
            server.client.clone(),
            format!("{}/v1/events?after=1&waitSeconds=30", server.base),
            token.clone(),
        );
        tokio::spawn(async move {
            client.get(url).bearer_auth(token).send().await.unwrap().json::<PullResponse>().await.unwrap()
        })
    };
    server.until_waiting(1).await;
    assert!(!waiting.is_finished(), "an empty pull waits");
    let event = laptop.event(2);
    server.push(&token, std::slice::from_ref(&event)).await;
    let page =
        tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("woken by the push").unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(page.events.len(), 1);
    assert_eq!((page.events[0].position, &page.events[0].event), (2, &event));
    assert_eq!(page.next_after, 2);
    server.stop().await;
}

#[tokio::test]
async fn a_long_poll_returns_empty_when_the_wait_ends() {
    let (server, _db) = sqlite_server().await;
    let laptop = Laptop::new(1);
    let token = server.token(&laptop.device).await;
    let start = Instant::now();
    let page: PullResponse =
        server.get(Some(&token), "/v1/events?after=0&waitSeconds=1").await.json().await.unwrap();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(950) && waited < Duration::from_secs(5), "{waited:?}");
    assert_eq!((page.events.len(), page.next_after, page.has_more), (0, 0, false));
    server.stop().await;
}

#[tokio::test]
async fn a_long_poll_ends_at_shutdown() {
    let (server, _db) = sqlite_server().await;
    let laptop = Laptop::new(1);
    let token = server.token(&laptop.device).await;
    let waiting = {
        let request =
            server.client.get(format!("{}/v1/events?waitSeconds=60", server.base)).bearer_auth(&token);
        tokio::spawn(async move { request.send().await.unwrap().json::<PullResponse>().await.unwrap() })
    };
    server.until_waiting(1).await;
    let start = Instant::now();
    server.stop().await;
    let page = waiting.await.unwrap();
    assert!(page.events.is_empty());
    assert!(start.elapsed() < Duration::from_secs(5), "shutdown does not wait for long-polls");
}

#[tokio::test]
async fn device_status_reports_completeness() {
    let (server, _db) = sqlite_server().await;
    let laptop = Laptop::new(1);
    let token = server.token(&laptop.device).await;
    let mut events = laptop.events(1..=4);
    // The third is refused: a hole in what the server holds.
    events[2].data = serde_json::json!({});
    let response = server.push(&token, &events).await;
    assert_eq!(response.results[2].outcome, PushOutcome::Refused);
    assert_eq!((response.device.contiguous_up_to, response.device.highest_seq), (2, 4));

    let path = format!("/v1/devices/{}/status", laptop.device);
    let status: DeviceStatus = server.get(Some(&token), &path).await.json().await.unwrap();
    assert_eq!(status, response.device);

    let other = Laptop::new(2);
    let status: DeviceStatus =
        server.get(Some(&token), &format!("/v1/devices/{}/status", other.device)).await.json().await.unwrap();
    assert_eq!((status.contiguous_up_to, status.highest_seq, status.event_count), (0, 0, 0));

    // issue 30: the laptop says it holds 6; another device's token cannot say it for it; a
    // header that is no number is refused, naming it.
    let holds = |token: &str, device: &pluto_domain::DeviceId, value: &str| {
        let request = server.client.get(format!("{}/v1/devices/{device}/status", server.base));
        request.bearer_auth(token.to_owned()).header(pluto_protocol::HOLDS_HEADER, value.to_owned()).send()
    };
    assert_eq!(holds(&token, &laptop.device, "6").await.unwrap().status(), 200);
    let other_token = server.token(&other.device).await;
    assert_eq!(holds(&other_token, &laptop.device, "60").await.unwrap().status(), 200);
    assert_eq!(holds(&other_token, &other.device, "0").await.unwrap().status(), 200);
    let error = expect_error(holds(&token, &laptop.device, "six").await.unwrap(), 400, "bad_request").await;
    assert!(error.message.contains("pluto-holds"), "{}", error.message);
    let devices = server.storage.devices().await.unwrap();
    assert_eq!(devices.len(), 1, "a device that said it holds nothing is not listed: {devices:?}");
    assert_eq!((devices[0].reported_seq, devices[0].missing()), (Some(6), 3), "3, 5 and 6 are missing");
    server.stop().await;
}

#[tokio::test]
async fn pull_limits_are_capped() {
    let (server, _db) = sqlite_server().await;
    let laptop = Laptop::new(1);
    let token = server.token(&laptop.device).await;
    server.push(&token, &laptop.events(1..=3)).await;
    let page: PullResponse =
        server.get(Some(&token), "/v1/events?after=0&limit=100000").await.json().await.unwrap();
    assert_eq!((page.events.len(), page.next_after, page.has_more), (3, 3, false));
    let page: PullResponse =
        server.get(Some(&token), "/v1/events?after=1&limit=1").await.json().await.unwrap();
    assert_eq!((page.events.len(), page.next_after, page.has_more), (1, 2, true));
    let start = Instant::now();
    let page: PullResponse =
        server.get(Some(&token), "/v1/events?after=0&waitSeconds=4000000000").await.json().await.unwrap();
    assert_eq!(page.events.len(), 3);
    assert!(start.elapsed() < Duration::from_secs(2), "a non-empty page never waits");
    server.stop().await;
}

/// The download links name the server's configured public address, whatever the request says.
#[tokio::test]
async fn the_public_url_names_the_downloads() {
    let backend = SqliteBackend::new().await;
    let dir = tempfile::tempdir().unwrap();
    let releases = pluto_server::releases::Releases::new(dir.path().join("releases"));
    let artifact = dir.path().join("pluto-tracker_0.2.0_amd64.AppImage.tar.gz");
    std::fs::write(&artifact, b"bytes").unwrap();
    releases.publish("0.2.0", "notes", "linux-x86_64", &artifact, "c2ln").unwrap();
    let options = ServiceOptions {
        releases: releases.dir().to_owned(),
        public_url: Some("https://pluto.example.com".into()),
        ..ServiceOptions::default()
    };
    let server = TestServer::start(crate::util::Backend::storage(&backend).clone(), options).await;
    let manifest: serde_json::Value =
        server.get(None, "/v1/updates/linux/x86_64/0.1.0").await.json().await.unwrap();
    assert_eq!(
        manifest["url"],
        "https://pluto.example.com/v1/releases/0.2.0/pluto-tracker_0.2.0_amd64.AppImage.tar.gz"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_updater_is_offered_only_a_newer_signed_release_and_can_download_it() {
    let backend = SqliteBackend::new().await;
    let dir = tempfile::tempdir().unwrap();
    let releases = pluto_server::releases::Releases::new(dir.path().join("releases"));
    let artifact = dir.path().join("pluto-tracker_0.2.0_amd64.AppImage.tar.gz");
    std::fs::write(&artifact, b"the new version's bytes").unwrap();
    releases
        .publish("0.2.0", "Sync settings in the window", "linux-x86_64", &artifact, "dW50cnVzdGVk")
        .unwrap();
    let options = ServiceOptions { releases: releases.dir().to_owned(), ..ServiceOptions::default() };
    let server = TestServer::start(crate::util::Backend::storage(&backend).clone(), options).await;

    let offered = server.get(None, "/v1/updates/linux/x86_64/0.1.0").await;
    assert_eq!(offered.status(), 200);
    let manifest: serde_json::Value = offered.json().await.unwrap();
    assert_eq!(manifest["version"], "0.2.0");
    assert_eq!(manifest["notes"], "Sync settings in the window");
    assert_eq!(manifest["signature"], "dW50cnVzdGVk");
    let url = manifest["url"].as_str().unwrap();
    assert!(url.starts_with(&server.base), "{url}");
    let download = server.client.get(url).send().await.unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap().as_ref(), b"the new version's bytes");

    for (path, why) in [
        ("/v1/updates/linux/x86_64/0.2.0", "the same version"),
        ("/v1/updates/linux/x86_64/0.3.0", "a downgrade"),
        ("/v1/updates/windows/x86_64/0.1.0", "another platform"),
    ] {
        assert_eq!(server.get(None, path).await.status(), 204, "{why} is not offered");
    }
    // Forged host headers do not move the download link elsewhere.
    let forged = server
        .client
        .get(format!("{}/v1/updates/linux/x86_64/0.1.0", server.base))
        .header("Host", "evil.example")
        .header("X-Forwarded-Host", "evil.example")
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap();
    let manifest: serde_json::Value = forged.json().await.unwrap();
    assert!(manifest["url"].as_str().unwrap().starts_with(&server.base), "{manifest}");
    let bad = server.get(None, "/v1/updates/linux/x86_64/latest").await;
    assert_eq!(bad.status(), 400);
    let body: serde_json::Value = bad.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().starts_with("version:"), "{body}");
    assert_eq!(server.get(None, "/v1/releases/0.2.0/release.json").await.status(), 404);
    assert_eq!(server.get(None, "/v1/releases/0.2.0/..%2F..%2Fsecret").await.status(), 404);

    // A .deb install asks with its kind and gets the .deb; the others keep the AppImage.
    let deb = dir.path().join("pluto-tracker_0.2.0_amd64.deb");
    std::fs::write(&deb, b"the new version as a .deb").unwrap();
    releases.publish("0.2.0", "Sync settings in the window", "linux-x86_64-deb", &deb, "ZGVi").unwrap();
    let url = |body: serde_json::Value| body["url"].as_str().unwrap().to_owned();
    let for_deb = server.get(None, "/v1/updates/linux/x86_64/0.1.0?bundle_type=deb").await;
    assert!(url(for_deb.json().await.unwrap()).ends_with("/pluto-tracker_0.2.0_amd64.deb"));
    let for_image = server.get(None, "/v1/updates/linux/x86_64/0.1.0?bundle_type=appimage").await;
    assert!(url(for_image.json().await.unwrap()).ends_with(".AppImage.tar.gz"));
    let unbundled = server.get(None, "/v1/updates/linux/x86_64/0.1.0?bundle_type=unknown").await;
    assert!(url(unbundled.json().await.unwrap()).ends_with(".AppImage.tar.gz"));
    assert_eq!(server.get(None, "/v1/updates/linux/x86_64-deb/0.1.0").await.status(), 400);
    server.stop().await;
}

/// An event written as a list of its values (which serde would read as the struct, with no
/// `deviceId` for the device check), and a lower-case copy of a stored id (another spelling of
/// the same ULID): each is refused on its own, nothing more is stored, nothing answers 500.
#[tokio::test]
async fn an_event_as_a_list_and_a_lower_case_id_are_refused_alone() {
    let (server, _db) = sqlite_server().await;
    let (mine, theirs) = (Laptop::new(1), Laptop::new(2));
    let token = server.token(&mine.device).await;
    assert_eq!(server.push(&token, &[mine.event(1)]).await.results[0].outcome, PushOutcome::Stored);

    let listed: Vec<serde_json::Value> =
        to_json(&theirs.event(1)).as_object().unwrap().values().cloned().collect();
    let mut lower = to_json(&mine.event(1));
    lower["id"] = json!(lower["id"].as_str().unwrap().to_lowercase());
    let body = json!({ "events": [listed, lower] });
    let response = server.push_raw(Some(&token), &body).await;
    assert_eq!(response.status(), 200);
    let answer: PushResponse = response.json().await.unwrap();
    let outcomes: Vec<(PushOutcome, String)> = answer
        .results
        .iter()
        .map(|r| (r.outcome, r.error.as_ref().map(|e| e.field.clone()).unwrap_or_default()))
        .collect();
    assert_eq!(
        outcomes,
        [(PushOutcome::Refused, "event".to_owned()), (PushOutcome::Refused, "id".to_owned())]
    );
    let health: Health = server.get(None, "/v1/health").await.json().await.unwrap();
    assert_eq!(health.head, 1, "only the first event is stored");
    server.stop().await;
}

/// The server's database and its journal are readable by the server's account only.
#[cfg(unix)]
#[tokio::test]
async fn the_servers_database_is_created_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.sqlite3");
    let storage = pluto_server::storage::sqlite::SqliteStorage::open(&path).await.unwrap();
    storage.head().await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&path), mode(&path.with_extension("sqlite3-wal"))), (0o600, 0o600));
}
