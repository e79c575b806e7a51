//! Positions follow commit order: while many laptops push at once, pullers that follow the log
//! with `after = last position seen` see every event exactly once, in order, with no gap. On
//! PostgreSQL a sequence would fail this (a transaction that took a lower number can commit
//! after a reader moved past a higher one); run on both backends.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use pluto_protocol::PullResponse;

use pluto_domain::EventId;
use pluto_protocol::PushOutcome;
use pluto_server::config::ServiceOptions;
use pluto_server::storage::Storage;

use crate::util::Backend;

use crate::util::Laptop;

use crate::util::PostgresBackend;

use crate::util::SqliteBackend;

use crate::util::TestServer;

const PUSHERS: u32 = 8;
const BATCHES: u64 = 15;
const BATCH: u64 = 6;
const PULLERS: usize = 4;
const TOTAL: usize = (PUSHERS as u64 * BATCHES * BATCH) as usize;

async fn every_puller_sees_every_event_once_in_order<S: Storage + Clone>(storage: S) {
    let server = TestServer::start(storage, ServiceOptions::default()).await;
    let laptops: Vec<Laptop> = (0..PUSHERS).map(Laptop::new).collect();
    let mut tokens = Vec::new();
    for laptop in &laptops {
        tokens.push(server.token(&laptop.device).await);
    }
    let deadline = Instant::now() + Duration::from_secs(120);

    let pullers: Vec<_> = (0..PULLERS)
        .map(|n| {
            let (client, base, token) = (server.client.clone(), server.base.clone(), tokens[0].clone());
            tokio::spawn(async move {
                let mut seen: Vec<EventId> = Vec::new();
                let mut after = 0;
                // Small pages of different sizes, so pages end at many different places.
                let limit = 3 + n * 4;
                while seen.len() < TOTAL {
                    assert!(
                        Instant::now() < deadline,
                        "puller {n} saw only {} of {TOTAL} events",
                        seen.len()
                    );
                    let url = format!("{base}/v1/events?after={after}&limit={limit}&waitSeconds=1");
                    let page: PullResponse =
                        client.get(url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
                    for logged in page.events {
                        assert_eq!(
                            logged.position,
                            after + 1,
                            "puller {n}: a gap or a repeat after position {after}"
                        );
                        after = logged.position;
                        seen.push(logged.event.id);
                    }
                    assert_eq!(page.next_after, after);
                }
                seen
            })
        })
        .collect();

    let pushers: Vec<_> = laptops
        .into_iter()
        .zip(tokens)
        .map(|(laptop, token)| {
            let (client, url) = (server.client.clone(), format!("{}/v1/events", server.base));
            tokio::spawn(async move {
                let mut pushed = Vec::new();
                for batch in 0..BATCHES {
                    let events = laptop.events(batch * BATCH + 1..=(batch + 1) * BATCH);
                    let body = crate::util::push_body(&events);
                    let response = client.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
                    assert_eq!(response.status(), 200);
                    let response: pluto_protocol::PushResponse = response.json().await.unwrap();
                    assert!(response.results.iter().all(|r| r.outcome == PushOutcome::Stored));
                    pushed.extend(events.into_iter().map(|e| e.id));
                }
                pushed
            })
        })
        .collect();

    let mut pushed = HashSet::new();
    for pusher in pushers {
        pushed.extend(pusher.await.expect("pusher"));
    }
    assert_eq!(pushed.len(), TOTAL);
    for puller in pullers {
        let seen = puller.await.expect("puller");
        assert_eq!(seen.len(), TOTAL);
        assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), pushed, "every event, exactly once");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_positions_follow_commit_order() {
    let backend = SqliteBackend::new().await;
    every_puller_sees_every_event_once_in_order(backend.storage().clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_positions_follow_commit_order() {
    let backend = PostgresBackend::new().await;
    every_puller_sees_every_event_once_in_order(backend.storage().clone()).await;
}
