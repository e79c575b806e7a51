//! The operator's `/metrics` page: what the server did since it started, in the Prometheus text
//! format, for an administrator's token only, on both backends; checked with Prometheus's own
//! `promtool check metrics`.

use serde_json::json;

use pluto_server::storage::{Role, Storage};

use crate::util::{expect_error, push_body, Backend, Laptop, PostgresBackend, SqliteBackend, TestServer};

/// The page as `token` reads it, expecting 200 and Prometheus's content type.
async fn scrape<S: Storage + Clone>(server: &TestServer<S>, token: &str) -> String {
    let response = server.get(Some(token), "/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    response.text().await.unwrap()
}

/// The value of the sample named exactly `sample` (with its labels).
fn value(page: &str, sample: &str) -> f64 {
    page.lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {sample} in:\n{page}"))
}

/// Prometheus's own checker accepts the page (lint problems included).
fn promtool_accepts(page: &str) {
    use std::io::Write as _;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (apt install prometheus; scripts/dev test installs it)");
    child.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics: {said}\n{page}");
}

/// Drives `server` through pushes, a refusal, a pull and a stray path, checks what the page
/// counts, and returns the page.
async fn counts_what_the_server_did<S: Storage + Clone>(server: TestServer<S>, backend: &str) -> String {
    let laptop = Laptop::new(5);
    let admin = server.token(&laptop.device).await;
    let site = server.site_token(&laptop.device, "MBA", Role::Site).await;

    // Only an administrator reads it: the counters say what every site did.
    expect_error(server.get(None, "/metrics").await, 401, "unauthorized").await;
    let refused = expect_error(server.get(Some(&site), "/metrics").await, 403, "forbidden").await;
    assert!(refused.message.contains("administrator's token"), "{}", refused.message);

    let events = laptop.events(1..=3);
    server.push(&admin, &events).await;
    server.push(&admin, &events).await;
    let mut bad = laptop.event(4);
    bad.data["outputWeightKg"] = json!("lots");
    let response = server.push_raw(Some(&admin), &push_body(&[bad])).await;
    assert_eq!(response.status(), 200);
    let pulled = server.get(Some(&site), "/v1/events?after=0&limit=100").await;
    assert_eq!(pulled.status(), 200);
    // A path no route has is one label, whatever the path.
    assert_eq!(server.get(Some(&site), "/v1/evil/../../etc/passwd").await.status(), 404);

    let page = scrape(&server, &admin).await;
    assert_eq!(value(&page, "pluto_log_events"), 3.0, "{backend}");
    assert!(value(&page, "pluto_database_bytes") > 0.0, "{backend}");
    assert_eq!(value(&page, "pluto_pushed_events_total{outcome=\"stored\"}"), 3.0);
    assert_eq!(value(&page, "pluto_pushed_events_total{outcome=\"duplicate\"}"), 3.0);
    assert_eq!(value(&page, "pluto_pushed_events_total{outcome=\"refused\"}"), 1.0);
    assert_eq!(value(&page, "pluto_push_refusals_total{field=\"data\"}"), 1.0);
    assert_eq!(value(&page, "pluto_pulled_events_total"), 3.0);
    assert_eq!(
        value(&page, "pluto_http_requests_total{method=\"POST\",route=\"/v1/events\",status=\"200\"}"),
        3.0
    );
    assert_eq!(
        value(&page, "pluto_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"403\"}"),
        1.0
    );
    assert_eq!(value(&page, "pluto_http_requests_total{method=\"GET\",route=\"other\",status=\"404\"}"), 1.0);
    assert!(!page.contains("passwd"), "no label comes from what a client sent");
    assert_eq!(value(&page, "pluto_http_request_duration_seconds_count{route=\"/v1/events\"}"), 4.0);
    assert!(value(&page, "pluto_connections_total") >= 1.0);
    assert_eq!(value(&page, "pluto_long_polls_waiting"), 0.0);
    server.stop().await;
    page
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_count_what_the_server_did_for_an_administrator_only_on_sqlite() {
    let backend = SqliteBackend::new().await;
    let server = TestServer::start(backend.storage().clone(), Default::default()).await;
    counts_what_the_server_did(server, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(windows, ignore = "promtool is a program of the Linux host; the page is the same on Windows")]
async fn the_metrics_page_is_what_prometheus_reads() {
    let backend = SqliteBackend::new().await;
    let server = TestServer::start(backend.storage().clone(), Default::default()).await;
    promtool_accepts(&counts_what_the_server_did(server, "sqlite").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_count_what_the_server_did_for_an_administrator_only_on_postgres() {
    let backend = PostgresBackend::new().await;
    let server = TestServer::start(backend.storage().clone(), Default::default()).await;
    counts_what_the_server_did(server, "postgres").await;
}
