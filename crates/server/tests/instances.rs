//! issue 30: several server processes over one PostgreSQL database, as behind a load balancer.
//! Each instance's long-polls wake on any instance's commit (PostgreSQL `LISTEN/NOTIFY`, not
//! the once-a-second reading of the head, which these servers have set to once an hour), and
//! tokens, positions and the log are one.

use std::time::Duration;

use pluto_protocol::PullResponse;
use pluto_server::config::ServiceOptions;

use crate::util::{Backend, Laptop, PostgresBackend, TestServer};

/// Servers that read the head of the log by themselves only once an hour.
fn rarely_rechecking() -> ServiceOptions {
    ServiceOptions { recheck_interval: Duration::from_secs(3600), ..ServiceOptions::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_wakes_on_another_instances_commit() {
    let backend = PostgresBackend::new().await;
    let a = TestServer::start(backend.storage().clone(), rarely_rechecking()).await;
    let b = TestServer::start(backend.reopen().await.unwrap(), rarely_rechecking()).await;
    let laptop = Laptop::new(1);
    // A token issued through one instance is known to the other.
    let token = a.token(&laptop.device).await;
    for round in 0..3u64 {
        let after = round * 2;
        let request = b
            .client
            .get(format!("{}/v1/events?after={after}&waitSeconds=60", b.base))
            .bearer_auth(&token)
            .send();
        let waiting = tokio::spawn(request);
        b.until_waiting(1).await;
        let pushed = a.push(&token, &laptop.events(after + 1..=after + 2)).await;
        let positions: Vec<Option<i64>> = pushed.results.iter().map(|r| r.position).collect();
        assert_eq!(positions, [Some(after as i64 + 1), Some(after as i64 + 2)]);
        // B's long-poll ends on A's commit: were it left to its own hourly reading of the head,
        // it would still wait here (for 60 s), and this would fail after 30 s.
        b.until_waiting(0).await;
        let page: PullResponse = waiting.await.unwrap().unwrap().json().await.unwrap();
        assert_eq!(
            page.events.iter().map(|e| e.position).collect::<Vec<_>>(),
            [after as i64 + 1, after as i64 + 2],
            "B's long-poll is woken by A's commit (B reads the head by itself only hourly)"
        );
    }
    a.stop().await;
    b.stop().await;
}
