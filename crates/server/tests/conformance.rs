//! The storage conformance suite: every case is one generic function over a [`Backend`], run
//! once on SQLite and once on PostgreSQL (see the macro at the end), so both backends keep the
//! same contract.

use std::collections::HashSet;
use std::time::Duration;

use pluto_domain::{DeviceId, Event, Timestamp};
use pluto_protocol::PushOutcome;
use pluto_server::auth;
use pluto_server::storage::{PushClaim, PushOutput, Pusher, Role, Storage, StorageError, StoreOutcome};
use serde_json::json;

use crate::util::service;

use crate::util::to_json;

use crate::util::Backend;

use crate::util::Laptop;

use crate::util::PostgresBackend;

use crate::util::SqliteBackend;

/// Who pushes in the storage cases.
fn pusher() -> Pusher {
    Pusher { token_id: "tok_01M8D4FB0YQT5Q0EH8W9ASNV9G".into(), site: "MBA".into() }
}

/// Stores `events` of `device` directly, as a push of exactly those events.
async fn push_events(
    storage: &impl Storage,
    device: &DeviceId,
    events: &[Event],
    at: Timestamp,
) -> Result<PushOutput, StorageError> {
    storage.push(device, &pusher(), events, PushClaim::of(events), at).await
}

async fn push_pull_round_trip(backend: &impl Backend) {
    let storage = backend.storage();
    let laptop = Laptop::new(1);
    let events = laptop.events(1..=3);
    let received_at = Timestamp::now();
    let output = push_events(storage, &laptop.device, &events, received_at).await.unwrap();
    assert_eq!(
        output.outcomes,
        vec![StoreOutcome::Stored(1), StoreOutcome::Stored(2), StoreOutcome::Stored(3)]
    );

    let page = storage.pull(0, 100).await.unwrap();
    assert!(!page.has_more);
    let pulled: Vec<_> = page.events.iter().map(|e| e.decode().unwrap().event).collect();
    assert_eq!(pulled, events, "events come back exactly as pushed");
    assert_eq!(page.events.iter().map(|e| e.position).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert!(page.events.iter().all(|e| e.received_at == received_at));
    assert_eq!(storage.head().await.unwrap(), 3);
    assert!(storage.pull(3, 100).await.unwrap().events.is_empty());
}

/// `POST /v1/attest` on each backend: the log compared with what an export says it holds.
async fn the_log_is_compared_with_an_audit_exports_events(backend: &impl Backend) {
    use pluto_domain::canonical::canonical_sha256;
    use pluto_protocol::{AttestQuery, AttestRequest, Verdict, MAX_ATTEST_EVENTS};
    use pluto_server::service::ServiceError;
    let storage = backend.storage();
    let laptop = Laptop::new(9);
    let events = laptop.events(1..=3);
    push_events(storage, &laptop.device, &events, Timestamp::now()).await.unwrap();
    let service = service(storage.clone()).await;
    // The laptop's bytes, with keys in another order: the canonical hash is the same.
    let hash = |e: &pluto_domain::Event| {
        let mut keys: Vec<(String, serde_json::Value)> =
            to_json(e).as_object().unwrap().clone().into_iter().collect();
        keys.reverse();
        let text = format!(
            "{{{}}}",
            keys.iter().map(|(k, v)| format!("{}:{v}", json!(k))).collect::<Vec<_>>().join(",")
        );
        canonical_sha256(text.as_bytes()).unwrap()
    };
    let ask = |id: &pluto_domain::Event, position: i64, sha256: String| AttestQuery {
        id: id.id.to_string(),
        position,
        sha256,
    };
    let request = AttestRequest {
        events: vec![
            ask(&events[0], 1, hash(&events[0])),
            ask(&events[1], 2, hash(&events[2])),
            ask(&events[0], 3, hash(&events[0])),
            ask(&events[2], 99, hash(&events[2])),
        ],
    };
    let answer = service.attest(&request).await.unwrap();
    assert_eq!(answer.head, 3);
    let verdicts: Vec<Verdict> = answer.events.iter().map(|a| a.verdict).collect();
    assert_eq!(verdicts, [Verdict::Same, Verdict::Different, Verdict::OtherEvent, Verdict::Absent]);
    assert_eq!(answer.events[2].server_id.as_deref(), Some(events[2].id.as_str()));

    let too_many =
        AttestRequest { events: vec![ask(&events[0], 1, hash(&events[0])); MAX_ATTEST_EVENTS + 1] };
    assert!(matches!(service.attest(&too_many).await, Err(ServiceError::TooLarge(_))));
    let bad = AttestRequest { events: vec![ask(&events[0], 1, "abc".into())] };
    let error = service.attest(&bad).await.unwrap_err();
    assert!(error.to_string().starts_with("events[0].sha256: expected 64 hexadecimal digits"), "{error}");
}

async fn pushing_the_same_batch_twice_is_idempotent(backend: &impl Backend) {
    let storage = backend.storage();
    let laptop = Laptop::new(2);
    let events = laptop.events(1..=4);
    let first = push_events(storage, &laptop.device, &events, Timestamp::now()).await.unwrap();
    let second = push_events(storage, &laptop.device, &events, Timestamp::now()).await.unwrap();
    let positions = |outcomes: &[StoreOutcome]| -> Vec<i64> {
        outcomes
            .iter()
            .map(|o| match o {
                StoreOutcome::Stored(p) | StoreOutcome::Duplicate(p) | StoreOutcome::Conflict(p) => *p,
                StoreOutcome::SeqTaken(other) => panic!("sequence number taken by {other}"),
                StoreOutcome::Refused(error) => panic!("refused: {error}"),
            })
            .collect()
    };
    assert!(second.outcomes.iter().all(|o| matches!(o, StoreOutcome::Duplicate(_))), "{second:?}");
    assert_eq!(positions(&first.outcomes), positions(&second.outcomes));
    assert_eq!(second.device, first.device, "a duplicate changes no count");
    assert_eq!(second.device.event_count, 4);
    assert_eq!(storage.head().await.unwrap(), 4);

    // The same id twice within one batch is stored once.
    let again = laptop.event(5);
    let output =
        push_events(storage, &laptop.device, &[again.clone(), again], Timestamp::now()).await.unwrap();
    assert_eq!(output.outcomes, vec![StoreOutcome::Stored(5), StoreOutcome::Duplicate(5)]);
}

async fn the_same_id_with_other_content_is_a_conflict_and_changes_nothing(backend: &impl Backend) {
    let storage = backend.storage();
    let laptop = Laptop::new(3);
    let original = laptop.event(1);
    push_events(storage, &laptop.device, std::slice::from_ref(&original), Timestamp::now()).await.unwrap();

    let mut changed = original.clone();
    changed.data["legoCampaignCode"] = json!("LEGO-TAMPERED");
    let output =
        push_events(storage, &laptop.device, &[changed, laptop.event(2)], Timestamp::now()).await.unwrap();
    assert_eq!(output.outcomes, vec![StoreOutcome::Conflict(1), StoreOutcome::Stored(2)]);

    let page = storage.pull(0, 10).await.unwrap();
    assert_eq!(page.events[0].decode().unwrap().event, original, "the stored event is unchanged");
    assert_eq!(output.device.event_count, 2);
}

async fn invalid_events_are_refused_with_the_field_named_and_good_ones_stored(backend: &impl Backend) {
    let service = service(backend.storage().clone()).await;
    let laptop = Laptop::new(4);
    let token =
        auth::issue(service.storage(), laptop.device.clone(), "MBA", Role::Admin, None).await.unwrap().record;

    let mut unknown_type = to_json(&laptop.event(2));
    unknown_type["eventType"] = json!("CampaignTeleported");
    let mut bad_payload = to_json(&laptop.event(3));
    bad_payload["data"] = json!({"legoCampaignCode": "LEGO-1", "materialType": "WOOD"});
    bad_payload["eventType"] = json!("CampaignCreated");
    let mut missing_field = to_json(&laptop.event(4));
    missing_field.as_object_mut().unwrap().remove("createdAt");
    let batch = [
        to_json(&laptop.event(1)),
        unknown_type,
        bad_payload,
        json!("not an event"),
        missing_field,
        to_json(&laptop.event(6)),
    ];
    let batch: Vec<_> =
        batch.iter().map(|v| serde_json::value::RawValue::from_string(v.to_string()).unwrap()).collect();
    let response = service.push(&token, &batch).await.unwrap();
    let outcomes: Vec<PushOutcome> = response.results.iter().map(|r| r.outcome).collect();
    use PushOutcome::{Refused, Stored};
    assert_eq!(outcomes, vec![Stored, Refused, Refused, Refused, Refused, Stored]);
    let fields: Vec<Option<&str>> =
        response.results.iter().map(|r| r.error.as_ref().map(|e| e.field.as_str())).collect();
    assert_eq!(
        fields,
        vec![None, Some("eventType"), Some("data.materialType"), Some("event"), Some("event"), None]
    );
    assert!(
        response.results[4].error.as_ref().unwrap().message.contains("createdAt"),
        "{:?}",
        response.results[4]
    );
    assert!(response.results[1].id.is_some(), "a refused event is reported under its id");
    assert_eq!((response.results[0].position, response.results[5].position), (Some(1), Some(2)));
    assert_eq!(service.storage().head().await.unwrap(), 2);
}

async fn positions_strictly_increase_without_gaps(backend: &impl Backend) {
    let storage = backend.storage();
    let (a, b) = (Laptop::new(5), Laptop::new(6));
    let mut expected = 0;
    for round in 0..5u64 {
        for laptop in [&a, &b] {
            let seqs = round * 3 + 1..=round * 3 + 3;
            let output =
                push_events(storage, &laptop.device, &laptop.events(seqs), Timestamp::now()).await.unwrap();
            for outcome in output.outcomes {
                expected += 1;
                assert_eq!(outcome, StoreOutcome::Stored(expected));
            }
        }
    }
    let page = storage.pull(0, 1000).await.unwrap();
    let positions: Vec<i64> = page.events.iter().map(|e| e.position).collect();
    assert_eq!(positions, (1..=expected).collect::<Vec<_>>());
}

async fn pulls_are_paged(backend: &impl Backend) {
    let service = service(backend.storage().clone()).await;
    let laptop = Laptop::new(7);
    push_events(backend.storage(), &laptop.device, &laptop.events(1..=10), Timestamp::now()).await.unwrap();
    let token =
        auth::issue(backend.storage(), laptop.device.clone(), "MBA", Role::Site, None).await.unwrap().record;

    let mut after = 0;
    let mut pages = Vec::new();
    loop {
        let page = service.pull(&token, after, 4, Duration::ZERO).await.unwrap();
        pages.push(page.events.iter().map(|e| e.position).collect::<Vec<_>>());
        assert_eq!(page.next_after, page.events.last().unwrap().position);
        after = page.next_after;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(pages, vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8], vec![9, 10]]);
    // What is served passes the stored envelopes through, yet reads as the protocol's page.
    let served = serde_json::to_string(&service.pull(&token, 0, 4, Duration::ZERO).await.unwrap()).unwrap();
    let read: pluto_protocol::PullResponse = serde_json::from_str(&served).unwrap();
    let stored: Vec<_> =
        backend.storage().pull(0, 4).await.unwrap().events.iter().map(|e| e.decode().unwrap()).collect();
    assert_eq!((read.events, read.next_after, read.has_more), (stored, 4, true));
    let empty = service.pull(&token, 10, 4, Duration::ZERO).await.unwrap();
    assert_eq!((empty.events.len(), empty.next_after, empty.has_more), (0, 10, false));
    let exact = service.pull(&token, 6, 4, Duration::ZERO).await.unwrap();
    assert!(!exact.has_more, "a page that ends at the head has nothing more");
}

async fn device_completeness_sees_holes_and_their_filling(backend: &impl Backend) {
    let storage = backend.storage();
    let laptop = Laptop::new(8);
    let events = laptop.events(1..=5);
    let status = |s: &pluto_protocol::DeviceStatus| (s.contiguous_up_to, s.highest_seq, s.event_count);

    let fresh = storage.device_status(&laptop.device).await.unwrap();
    assert_eq!((status(&fresh), fresh.last_received_at), ((0, 0, 0), None));

    let received_at = Timestamp::now();
    // The laptop sent 1 to 4; 3 was refused before it reached the storage.
    let sent = [events[0].clone(), events[1].clone(), events[3].clone()];
    let claim = PushClaim { size: 4, highest_seq: 4, bytes: 0 };
    let output = storage.push(&laptop.device, &pusher(), &sent, claim, received_at).await.unwrap();
    assert_eq!(status(&output.device), (2, 4, 3), "seq 1, 2, 4: complete up to 2");
    assert_eq!(output.device.last_received_at, Some(received_at));
    assert_eq!(storage.device_status(&laptop.device).await.unwrap(), output.device);

    let output = push_events(storage, &laptop.device, &events[2..3], Timestamp::now()).await.unwrap();
    assert_eq!(status(&output.device), (4, 4, 4), "3 arrives: complete up to 4");

    // An interrupted sync resumed with its whole batch again: only 5 is new.
    let output = push_events(storage, &laptop.device, &events, Timestamp::now()).await.unwrap();
    assert_eq!(status(&output.device), (5, 5, 5));
    assert_eq!(storage.device_status(&laptop.device).await.unwrap(), output.device);

    let other = storage.device_status(&DeviceId::generate()).await.unwrap();
    assert_eq!(status(&other), (0, 0, 0), "devices are counted apart");
}

/// issue 30: the log's identity stays with the database (a reopened one, as a restored backup
/// is, has the same), and what laptops say they hold is kept and compared with what is stored.
async fn the_log_keeps_its_identity_and_devices_say_what_they_hold(backend: &impl Backend) {
    let storage = backend.storage();
    let id = storage.log_id().to_owned();
    assert!(id.starts_with("log_") && id.len() > 20, "{id}");
    assert_eq!(backend.reopen().await.unwrap().log_id(), id, "the identity is the database's");

    let (ann, bob) = (Laptop::new(21), Laptop::new(22));
    push_events(storage, &ann.device, &ann.events(1..=3), Timestamp::now()).await.unwrap();
    // Ann says she holds 5: two the server misses. Bob, never seen, says he holds 2.
    let said = Timestamp::now();
    storage.report_holdings(&ann.device, 5, said).await.unwrap();
    storage.report_holdings(&bob.device, 2, said).await.unwrap();
    // Saying it again keeps the first instant.
    storage.report_holdings(&ann.device, 5, Timestamp::from_millis(said.millis() + 60_000)).await.unwrap();
    let devices = storage.devices().await.unwrap();
    let by_device = |d: &DeviceId| devices.iter().find(|r| r.status.device_id == *d).unwrap().clone();
    let (a, b) = (by_device(&ann.device), by_device(&bob.device));
    assert_eq!(
        (a.status.contiguous_up_to, a.reported_seq, a.reported_at, a.missing()),
        (3, Some(5), Some(said), 2)
    );
    assert_eq!((b.status.event_count, b.reported_seq, b.missing()), (0, Some(2), 2));
    // Ann sends them: nothing is missing any more, and the report stays as said.
    push_events(storage, &ann.device, &ann.events(4..=5), Timestamp::now()).await.unwrap();
    let devices = storage.devices().await.unwrap();
    assert_eq!(devices.iter().find(|r| r.status.device_id == ann.device).unwrap().missing(), 0);
    // A hole below the highest received is missing too.
    let carl = Laptop::new(23);
    let events = carl.events(1..=3);
    let claim = PushClaim { size: 3, highest_seq: 3, bytes: 0 };
    storage
        .push(&carl.device, &pusher(), &[events[0].clone(), events[2].clone()], claim, Timestamp::now())
        .await
        .unwrap();
    let devices = storage.devices().await.unwrap();
    assert_eq!(devices.iter().find(|r| r.status.device_id == carl.device).unwrap().missing(), 1);
}

async fn events_of_another_device_are_refused_whole(backend: &impl Backend) {
    let storage = backend.storage();
    let (a, b) = (Laptop::new(9), Laptop::new(10));
    let result = push_events(storage, &a.device, &[a.event(1), b.event(1)], Timestamp::now()).await;
    assert!(matches!(result, Err(StorageError::InvalidInput(_))), "{result:?}");
    assert_eq!(storage.head().await.unwrap(), 0, "nothing stored");
}

async fn the_event_table_is_append_only(backend: &impl Backend) {
    let laptop = Laptop::new(11);
    push_events(backend.storage(), &laptop.device, &laptop.events(1..=2), Timestamp::now()).await.unwrap();
    for sql in [
        "UPDATE events SET envelope = '{}' WHERE position = 1",
        "UPDATE events SET device_seq = 9",
        "DELETE FROM events WHERE position = 2",
        "DELETE FROM events",
    ] {
        let error = backend.raw_execute(sql).await.expect_err(sql);
        assert!(error.contains("append-only"), "{sql}: {error}");
    }
    if backend.storage().backend() == "postgres" {
        let error = backend.raw_execute("TRUNCATE events").await.expect_err("TRUNCATE");
        assert!(error.contains("append-only"), "{error}");
    }
    assert_eq!(backend.storage().pull(0, 10).await.unwrap().events.len(), 2);
    backend.raw_execute("INSERT INTO devices (device_id, contiguous_up_to, highest_seq, event_count) VALUES ('x', 0, 0, 0)").await.expect("other tables are writable");
}

async fn tokens_are_created_found_listed_and_revoked(backend: &impl Backend) {
    let storage = backend.storage();
    let laptop = Laptop::new(12);
    let issued =
        auth::issue(storage, laptop.device.clone(), " RGE ", Role::Site, Some("Kim's laptop")).await.unwrap();
    assert!(issued.secret.starts_with("plt_") && issued.secret.len() == 4 + 64, "{}", issued.secret);
    assert!(issued.record.id.starts_with("tok_"));
    assert_eq!((issued.record.site.as_str(), issued.record.label.as_deref()), ("RGE", Some("Kim's laptop")));

    let found = storage.find_token(&auth::hash_secret(&issued.secret)).await.unwrap();
    assert_eq!(found.as_ref(), Some(&issued.record));
    assert_eq!(auth::authenticate(storage, &issued.secret).await.unwrap(), Some(issued.record.clone()));
    assert_eq!(auth::authenticate(storage, "plt_0000").await.unwrap(), None);
    assert_eq!(storage.find_token(&issued.secret).await.unwrap(), None, "the secret itself is not stored");

    let second = auth::issue(storage, DeviceId::generate(), "MBA", Role::Site, None).await.unwrap();
    assert_ne!(second.secret, issued.secret);
    let listed: Vec<String> = storage.list_tokens().await.unwrap().into_iter().map(|t| t.id).collect();
    assert_eq!(listed, vec![issued.record.id.clone(), second.record.id.clone()]);

    let at = Timestamp::now();
    let revoked = storage.revoke_token(&issued.record.id, at).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    let later = Timestamp::from_millis(at.millis() + 60_000);
    let again = storage.revoke_token(&issued.record.id, later).await.unwrap().unwrap();
    assert_eq!(again.revoked_at, Some(at), "a second revocation keeps the first instant");
    assert_eq!(auth::authenticate(storage, &issued.secret).await.unwrap(), None);
    assert!(auth::authenticate(storage, &second.secret).await.unwrap().is_some());
    assert_eq!(storage.revoke_token("tok_unknown", at).await.unwrap(), None);
    assert!(matches!(
        auth::issue(storage, laptop.device.clone(), "  ", Role::Site, None).await,
        Err(auth::TokenError::BlankSite)
    ));
}

async fn migrations_rerun_harmlessly_and_a_newer_schema_is_refused(backend: &impl Backend) {
    let laptop = Laptop::new(13);
    push_events(backend.storage(), &laptop.device, &laptop.events(1..=2), Timestamp::now()).await.unwrap();
    let reopened = backend.reopen().await.expect("reopen");
    assert_eq!(reopened.head().await.unwrap(), 2, "reopening keeps the data");

    backend.set_newer_schema().await;
    match backend.reopen().await {
        Err(error @ StorageError::SchemaTooNew { found: 99, .. }) => {
            assert!(error.to_string().contains("schema version 99"), "{error}");
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

async fn pushes_of_many_devices_stay_apart(backend: &impl Backend) {
    let storage = backend.storage();
    let laptops: Vec<Laptop> = (20..24).map(Laptop::new).collect();
    let mut ids = HashSet::new();
    for laptop in &laptops {
        let events = laptop.events(1..=3);
        ids.extend(events.iter().map(|e| e.id.clone()));
        push_events(storage, &laptop.device, &events, Timestamp::now()).await.unwrap();
    }
    for laptop in &laptops {
        let status = storage.device_status(&laptop.device).await.unwrap();
        assert_eq!((status.contiguous_up_to, status.event_count), (3, 3));
    }
    let pulled: HashSet<_> =
        storage.pull(0, 1000).await.unwrap().events.iter().map(|e| e.decode().unwrap().event.id).collect();
    assert_eq!(pulled, ids);
}

async fn a_device_sequence_number_belongs_to_one_event(backend: &impl Backend) {
    let storage = backend.storage();
    let laptop = Laptop::new(12);
    let first = laptop.event(1);
    push_events(storage, &laptop.device, std::slice::from_ref(&first), Timestamp::now()).await.unwrap();
    // A second event under number 1, and two new events both numbered 2 in one batch.
    let (impostor, twin, other_twin) = (laptop.event(1), laptop.event(2), laptop.event(2));
    let output =
        push_events(storage, &laptop.device, &[impostor.clone(), twin.clone(), other_twin], Timestamp::now())
            .await
            .unwrap();
    assert_eq!(
        output.outcomes,
        vec![
            StoreOutcome::SeqTaken(first.id.clone()),
            StoreOutcome::Stored(2),
            StoreOutcome::SeqTaken(twin.id)
        ]
    );
    assert_eq!((output.device.event_count, output.device.contiguous_up_to), (2, 2));
    assert_eq!(storage.head().await.unwrap(), 2);
    let stored: Vec<_> =
        storage.pull(0, 10).await.unwrap().events.iter().map(|e| e.decode().unwrap().event.id).collect();
    assert!(!stored.contains(&impostor.id), "nothing of a refused event is stored");
}

/// Pushes that arrive together are stored together (group commit) but answered as if each had
/// been stored alone: a repeated batch is all duplicates at the same positions, a later batch
/// that lands first waits in completeness for the earlier one, and the log has every event once.
async fn concurrent_pushes_are_each_answered_as_if_alone(backend: &impl Backend) {
    let storage = backend.storage();
    let laptops: Vec<Laptop> = (40..70).map(Laptop::new).collect();
    let mut pushes = tokio::task::JoinSet::new();
    for laptop in &laptops {
        let first = laptop.events(1..=3);
        for events in [first.clone(), first, laptop.events(4..=6)] {
            let (storage, device) = (storage.clone(), laptop.device.clone());
            pushes.spawn(async move {
                let output = push_events(&storage, &device, &events, Timestamp::now()).await.unwrap();
                (events, output)
            });
        }
    }
    let mut positions = std::collections::HashMap::new();
    while let Some(joined) = pushes.join_next().await {
        let (events, output) = joined.unwrap();
        for (event, outcome) in events.iter().zip(&output.outcomes) {
            let position = match outcome {
                StoreOutcome::Stored(p) | StoreOutcome::Duplicate(p) => *p,
                other => panic!("{}: {other:?}", event.id),
            };
            let first = *positions.entry(event.id.clone()).or_insert(position);
            assert_eq!(first, position, "{} is reported at two positions", event.id);
        }
    }
    for laptop in &laptops {
        let status = storage.device_status(&laptop.device).await.unwrap();
        assert_eq!((status.contiguous_up_to, status.highest_seq, status.event_count), (6, 6, 6));
    }
    let page = storage.pull(0, 1000).await.unwrap();
    let expected = laptops.len() * 6;
    assert_eq!(page.events.len(), expected, "every event once");
    assert_eq!(
        page.events.iter().map(|e| e.position).collect::<Vec<_>>(),
        (1..=expected as i64).collect::<Vec<_>>()
    );
    let stored: HashSet<_> = page.events.iter().map(|e| e.decode().unwrap().event.id).collect();
    assert_eq!(stored.len(), expected);
    assert!(positions.iter().all(|(id, p)| stored.contains(id) && (1..=expected as i64).contains(p)));
}

/// Instantiates every case of the suite for one backend.
macro_rules! conformance_suite {
    ($module:ident, $backend:ty) => {
        mod $module {
            conformance_suite!(@cases $backend;
                push_pull_round_trip,
                pushing_the_same_batch_twice_is_idempotent,
                the_same_id_with_other_content_is_a_conflict_and_changes_nothing,
                invalid_events_are_refused_with_the_field_named_and_good_ones_stored,
                positions_strictly_increase_without_gaps,
                pulls_are_paged,
                device_completeness_sees_holes_and_their_filling,
                events_of_another_device_are_refused_whole,
                the_event_table_is_append_only,
                tokens_are_created_found_listed_and_revoked,
                migrations_rerun_harmlessly_and_a_newer_schema_is_refused,
                pushes_of_many_devices_stay_apart,
                a_device_sequence_number_belongs_to_one_event,
                concurrent_pushes_are_each_answered_as_if_alone,
                the_log_is_compared_with_an_audit_exports_events,
                the_log_keeps_its_identity_and_devices_say_what_they_hold,
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

conformance_suite!(sqlite, super::SqliteBackend);
conformance_suite!(postgres, super::PostgresBackend);
