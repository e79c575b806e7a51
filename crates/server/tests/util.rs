//! Test helpers: laptops that make valid events, a PostgreSQL schema per test, the two storage
//! backends behind one harness, and a server started in-process on a free loopback port.

use std::time::Duration;

use pluto_domain::samples::SampleCampaign;
use pluto_domain::{CampaignId, DeviceId, Event, EventId, EventType, Payload, Timestamp, UserId};
use pluto_protocol::{ErrorBody, PushResponse};
use pluto_server::auth;
use pluto_server::config::ServiceOptions;
use pluto_server::server::{self, RunningServer};
use pluto_server::service::SyncService;
use pluto_server::storage::postgres::PostgresStorage;
use pluto_server::storage::sqlite::SqliteStorage;
use pluto_server::storage::{Role, Storage, StorageError};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::pg::pg_connect;

use crate::pg::PgSchema;

/// A laptop recording campaigns one after the other (a new one every twelve steps): valid
/// events with its device id and consecutive seqs.
#[derive(Debug, Clone)]
pub struct Laptop {
    /// Its device id.
    pub device: DeviceId,
    user: UserId,
    /// The campaign its events belong to unless told otherwise.
    pub campaign: CampaignId,
    sample: SampleCampaign,
}

impl Laptop {
    /// Laptop number `n` (its sample campaign's numbers derive from `n`).
    pub fn new(n: u32) -> Self {
        Self {
            device: DeviceId::generate(),
            user: UserId::parse(&format!("usr_tester{n}")).expect("valid user id"),
            campaign: CampaignId::generate(),
            sample: SampleCampaign::numbered(n),
        }
    }

    /// A new event (new id) with `deviceSeq` = `seq`: the campaigns' steps in turn, canonical,
    /// recorded in the past (no clock skew).
    pub fn event(&self, seq: u64) -> Event {
        let steps = EventType::STEPS.len() as u64;
        let event_type = EventType::STEPS[((seq - 1) % steps) as usize];
        let created_at = Timestamp::from_millis(1_770_000_000_000 + seq as i64 * 60_000);
        // Another high bit pattern per campaign: laptops made together have consecutive ids.
        let cycle = u128::from((seq - 1) / steps);
        let campaign = CampaignId::from_ulid(ulid::Ulid(self.campaign.ulid().0 ^ (cycle << 64)));
        self.event_in(&campaign, seq, event_type, created_at)
    }

    /// A correction of `target` (one of the laptop's events) with `deviceSeq` = `seq`,
    /// recorded at `created_at`, changing `field` from `was` to `now`.
    pub fn correction(
        &self,
        seq: u64,
        target: &Event,
        field: &str,
        was: Value,
        now: Value,
        created_at: Timestamp,
    ) -> Event {
        Event {
            id: EventId::from_ulid(ulid::Ulid::from_datetime(created_at.system_time())),
            stream_type: "campaign".into(),
            stream_id: target.stream_id.clone(),
            event_type: EventType::EventCorrected,
            schema_version: 1,
            data: json!({
                "correctsEventId": target.id, "correctsEventType": target.event_type, "reason": "re-weighed",
                "changes": { field: { "was": was, "now": now } },
            }),
            user_id: self.user.clone(),
            device_id: self.device.clone(),
            device_seq: seq,
            created_at,
        }
    }

    /// A new event of `event_type` in the laptop's first campaign with `deviceSeq` = `seq`,
    /// recorded at `created_at`.
    pub fn event_at(&self, seq: u64, event_type: EventType, created_at: Timestamp) -> Event {
        self.event_in(&self.campaign.clone(), seq, event_type, created_at)
    }

    /// A new event of `event_type` in `campaign`; its id is made at `created_at`, as Pluto makes
    /// it.
    pub fn event_in(
        &self,
        campaign: &CampaignId,
        seq: u64,
        event_type: EventType,
        created_at: Timestamp,
    ) -> Event {
        let data = self.sample.payload(event_type).expect("a step has a sample payload");
        let data = Payload::parse(event_type, &data).expect("sample payloads are valid").to_value();
        Event {
            id: EventId::from_ulid(ulid::Ulid::from_datetime(created_at.system_time())),
            stream_type: "campaign".into(),
            stream_id: campaign.clone(),
            event_type,
            schema_version: 1,
            data,
            user_id: self.user.clone(),
            device_id: self.device.clone(),
            device_seq: seq,
            created_at,
        }
    }

    /// Events with seqs `seqs`.
    pub fn events(&self, seqs: impl IntoIterator<Item = u64>) -> Vec<Event> {
        seqs.into_iter().map(|seq| self.event(seq)).collect()
    }
}

/// An event as pushed JSON.
pub fn to_json(event: &Event) -> Value {
    serde_json::to_value(event).expect("events serialize")
}

/// The body of a push.
pub fn push_body(events: &[Event]) -> Value {
    json!({ "events": events.iter().map(to_json).collect::<Vec<_>>() })
}

/// A service over `storage` for tests that bypass HTTP (no long-poll wait).
pub async fn service<S: Storage>(storage: S) -> SyncService<S> {
    let (_, shutdown) = watch::channel(false);
    SyncService::new(storage, ServiceOptions::default(), shutdown).await.expect("service starts")
}

/// A storage backend under test, with what the conformance suite needs beyond the trait.
pub trait Backend {
    /// The storage type.
    type S: Storage + Clone + std::fmt::Debug;
    /// The storage.
    fn storage(&self) -> &Self::S;
    /// Runs one SQL statement on a raw connection of the same database, bypassing the server.
    async fn raw_execute(&self, sql: &str) -> Result<u64, String>;
    /// Opens the same database again (migrations run again).
    async fn reopen(&self) -> Result<Self::S, StorageError>;
    /// Marks the database as written by a newer server.
    async fn set_newer_schema(&self);
}

/// An SQLite file in a temporary folder.
pub struct SqliteBackend {
    dir: TempDir,
    storage: SqliteStorage,
}

impl SqliteBackend {
    /// A new database.
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = SqliteStorage::open(&dir.path().join("server.sqlite3")).await.expect("open SQLite");
        Self { dir, storage }
    }
}

impl Backend for SqliteBackend {
    type S = SqliteStorage;

    fn storage(&self) -> &SqliteStorage {
        &self.storage
    }

    async fn raw_execute(&self, sql: &str) -> Result<u64, String> {
        let conn = rusqlite::Connection::open(self.storage.path()).map_err(|e| e.to_string())?;
        conn.execute(sql, []).map(|n| n as u64).map_err(|e| e.to_string())
    }

    async fn reopen(&self) -> Result<SqliteStorage, StorageError> {
        SqliteStorage::open(&self.dir.path().join("server.sqlite3")).await
    }

    async fn set_newer_schema(&self) {
        let conn = rusqlite::Connection::open(self.storage.path()).expect("open");
        conn.pragma_update(None, "user_version", 99).expect("set user_version");
    }
}

/// A PostgreSQL schema of its own.
pub struct PostgresBackend {
    schema: PgSchema,
    storage: PostgresStorage,
}

impl PostgresBackend {
    /// A new schema, migrated.
    pub async fn new() -> Self {
        let schema = PgSchema::create().await;
        let storage = PostgresStorage::connect(&schema.url).await.expect("connect to PostgreSQL");
        Self { schema, storage }
    }
}

impl Backend for PostgresBackend {
    type S = PostgresStorage;

    fn storage(&self) -> &PostgresStorage {
        &self.storage
    }

    async fn raw_execute(&self, sql: &str) -> Result<u64, String> {
        pg_connect(&self.schema.url).await.execute(sql, &[]).await.map_err(|e| format!("{e:?}"))
    }

    async fn reopen(&self) -> Result<PostgresStorage, StorageError> {
        PostgresStorage::connect(&self.schema.url).await
    }

    async fn set_newer_schema(&self) {
        self.raw_execute("INSERT INTO pluto_server_schema (version) VALUES (99)")
            .await
            .expect("newer version");
    }
}

/// A server running in-process on a free loopback port, with an HTTP client.
pub struct TestServer<S> {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The server's storage (shared with it), for issuing tokens and checking what is stored.
    pub storage: S,
    /// An HTTP client.
    pub client: reqwest::Client,
    running: Option<RunningServer>,
}

impl<S: Storage + Clone> TestServer<S> {
    /// Starts a server over `storage`.
    pub async fn start(storage: S, options: ServiceOptions) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let running = server::start(listener, storage.clone(), options).await.expect("server starts");
        let base = format!("http://{}", running.local_addr());
        let client = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("client");
        Self { base, storage, client, running: Some(running) }
    }

    /// Issues an administrator's token for `device`: it may push every type, so that cases
    /// not about the site policy can record whole campaigns.
    pub async fn token(&self, device: &DeviceId) -> String {
        self.site_token(device, "MBA", Role::Admin).await
    }

    /// Issues a token for `device` at `site` with `role`.
    pub async fn site_token(&self, device: &DeviceId, site: &str, role: Role) -> String {
        auth::issue(&self.storage, device.clone(), site, role, Some("test"))
            .await
            .expect("issue token")
            .secret
    }

    /// `POST /v1/events` with `body` (any JSON) and `token`.
    pub async fn push_raw(&self, token: Option<&str>, body: &Value) -> reqwest::Response {
        let mut request = self.client.post(format!("{}/v1/events", self.base)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("push request")
    }

    /// Pushes events, expecting 200.
    pub async fn push(&self, token: &str, events: &[Event]) -> PushResponse {
        let response = self.push_raw(Some(token), &push_body(events)).await;
        assert_eq!(response.status(), 200, "push refused");
        response.json().await.expect("push response")
    }

    /// `GET` a path (with its query) with `token`.
    pub async fn get(&self, token: Option<&str>, path: &str) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("GET request")
    }

    /// Waits until `n` long-polls wait on the server for new events (a guard of 30 s stops a
    /// test that would otherwise hang).
    pub async fn until_waiting(&self, n: usize) {
        let running = self.running.as_ref().expect("the server runs");
        let started = std::time::Instant::now();
        while running.waiting_pulls() != n {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{} long-polls waiting, not {n}",
                running.waiting_pulls()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops the server gracefully.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await.expect("server stops cleanly");
        }
    }
}

/// Starts a server on a new SQLite file.
pub async fn sqlite_server() -> (TestServer<SqliteStorage>, SqliteBackend) {
    let backend = SqliteBackend::new().await;
    (TestServer::start(backend.storage().clone(), ServiceOptions::default()).await, backend)
}

/// Reads an error response, checking its status and code.
pub async fn expect_error(response: reqwest::Response, status: u16, code: &str) -> ErrorBody {
    assert_eq!(response.status(), status, "unexpected status");
    let content_type = response.headers().get("content-type").cloned();
    let body: ErrorBody = response.json().await.expect("an ErrorBody JSON");
    assert_eq!(body.code, code, "{body:?}");
    assert!(content_type.is_some_and(|c| c.to_str().unwrap_or("").starts_with("application/json")));
    body
}
