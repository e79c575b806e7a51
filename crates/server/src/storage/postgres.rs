//! The production backend: PostgreSQL through a small pool of tokio-postgres connections, so
//! several server processes (or replicas behind a load balancer) can share one database.
//!
//! Positions come from `max(position) + 1` taken under one transaction-level advisory lock that
//! every push takes first, never from a sequence: a sequence hands out numbers in start order,
//! and a transaction that took 41 but commits after the one that took 42 would be skipped by a
//! reader already past 42. Under the lock, pushes commit one after another in position order;
//! the lock is released only once the commit is visible, so the next push's `max` sees it.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use pluto_core::sync::protocol::DeviceStatus;
use pluto_core::{DeviceId, Event, EventId, Timestamp};
use tokio_postgres::{GenericClient, NoTls, Row};

use super::{
    check_device, decode, empty_status, encode, plan_push, seq_from_db, seq_to_db, DeviceTally, Page,
    PushOutput, Result, Storage, StorageError, StoredEvent, TokenRecord, SEQ_CHUNK,
};

/// The migrations, in order; `pluto_server_schema` records which are applied.
const MIGRATIONS: &[&str] = &[include_str!("../../migrations/postgres/0001_init.sql")];

/// The advisory lock every push transaction takes before reading the head ("pluto_lg").
const PUSH_LOCK: i64 = 0x706c_7574_6f5f_6c67;

/// The advisory lock migrations run under, so servers starting together migrate once ("pluto_mg").
const MIGRATION_LOCK: i64 = 0x706c_7574_6f5f_6d67;

/// Connections in the pool: pushes serialize on the lock anyway; pulls and auth share the rest.
const POOL_SIZE: usize = 16;

/// The PostgreSQL backend. Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct PostgresStorage {
    pool: Pool,
    /// This process's pushes take turns here before taking a connection: they serialize on
    /// the advisory lock anyway, and a push waiting for the lock while holding a pooled
    /// connection would starve pulls and token checks of connections.
    push_turn: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage").field("pool", &self.pool.status()).finish()
    }
}

impl PostgresStorage {
    /// Connects to `url` (`postgres://user@host:port/db`; `?options=-csearch_path%3Dname`
    /// selects a schema) and applies the missing migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| StorageError::Config(format!("database URL: {e}")))?;
        if config.get_application_name().is_none() {
            config.application_name("pluto-server");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let manager =
            Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(15)))
            .build()
            .map_err(|e| StorageError::Config(format!("connection pool: {e}")))?;
        let storage = Self { pool, push_turn: Default::default() };
        storage.migrate().await?;
        Ok(storage)
    }

    /// Applies the missing migrations in one transaction; refuses a newer schema.
    async fn migrate(&self) -> Result<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS pluto_server_schema (
                 version    INTEGER PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await?;
        let version: i32 =
            tx.query_one("SELECT COALESCE(MAX(version), 0) FROM pluto_server_schema", &[]).await?.get(0);
        let supported = MIGRATIONS.len() as i64;
        if i64::from(version) > supported {
            // Explicitly, to release the migration lock now rather than when the pool drops.
            tx.rollback().await?;
            return Err(StorageError::SchemaTooNew { found: version.into(), supported });
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.batch_execute(sql).await?;
            let applied = index as i32 + 1;
            tx.execute("INSERT INTO pluto_server_schema (version) VALUES ($1)", &[&applied]).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp::from_millis(at.timestamp_millis())
}

fn token_record(row: &Row) -> Result<TokenRecord> {
    let device_id: String = row.get("device_id");
    Ok(TokenRecord {
        id: row.get("id"),
        device_id: DeviceId::parse(&device_id).map_err(|e| StorageError::Corrupt(e.to_string()))?,
        site: row.get("site"),
        label: row.get("label"),
        created_at: timestamp(row.get("created_at")),
        revoked_at: row.get::<_, Option<DateTime<Utc>>>("revoked_at").map(timestamp),
    })
}

const TOKEN_COLUMNS: &str = "id, device_id, site, label, created_at, revoked_at";

async fn load_status(client: &impl GenericClient, device: &DeviceId) -> Result<DeviceStatus> {
    let row = client
        .query_opt(
            "SELECT contiguous_up_to, highest_seq, event_count, last_received_at FROM devices \
             WHERE device_id = $1",
            &[&device.as_str()],
        )
        .await?;
    let Some(row) = row else {
        return Ok(empty_status(device));
    };
    Ok(DeviceStatus {
        device_id: device.clone(),
        contiguous_up_to: seq_from_db(row.get(0))?,
        highest_seq: seq_from_db(row.get(1))?,
        event_count: seq_from_db(row.get(2))?,
        last_received_at: row.get::<_, Option<DateTime<Utc>>>(3).map(timestamp),
    })
}

/// The columns of the new rows, one array each, for a single `INSERT … SELECT FROM UNNEST`.
#[derive(Default)]
struct Columns<'a> {
    position: Vec<i64>,
    id: Vec<&'a str>,
    stream_id: Vec<&'a str>,
    event_type: Vec<&'a str>,
    device_id: Vec<&'a str>,
    device_seq: Vec<i64>,
    created_at: Vec<DateTime<Utc>>,
    envelope: Vec<String>,
}

impl<'a> Columns<'a> {
    fn of(rows: &[(i64, &'a Event)]) -> Result<Self> {
        let mut columns = Self::default();
        for &(position, event) in rows {
            columns.position.push(position);
            columns.id.push(event.id.as_str());
            columns.stream_id.push(event.stream_id.as_str());
            columns.event_type.push(event.event_type.as_str());
            columns.device_id.push(event.device_id.as_str());
            columns.device_seq.push(seq_to_db(event.device_seq)?);
            columns.created_at.push(event.created_at.datetime());
            columns.envelope.push(encode(event)?);
        }
        Ok(columns)
    }
}

impl Storage for PostgresStorage {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn push(&self, device: &DeviceId, events: &[Event], received_at: Timestamp) -> Result<PushOutput> {
        check_device(device, events)?;
        let _turn = self.push_turn.lock().await;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PUSH_LOCK]).await?;

        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        let select = tx.prepare_cached("SELECT position, envelope FROM events WHERE id = ANY($1)").await?;
        let mut existing = HashMap::new();
        for row in tx.query(&select, &[&ids]).await? {
            let position: i64 = row.get(0);
            let event = decode(position, row.get(1))?;
            existing.insert(event.id.clone(), (position, event));
        }
        let batch_seqs = events.iter().map(|e| seq_to_db(e.device_seq)).collect::<Result<Vec<i64>>>()?;
        let taken = tx
            .prepare_cached("SELECT device_seq, id FROM events WHERE device_id = $1 AND device_seq = ANY($2)")
            .await?;
        let mut seqs = HashMap::new();
        for row in tx.query(&taken, &[&device.as_str(), &batch_seqs]).await? {
            let (seq, id): (i64, String) = (row.get(0), row.get(1));
            let id = EventId::parse(&id).map_err(|e| StorageError::Corrupt(e.to_string()))?;
            seqs.insert(seq_from_db(seq)?, id);
        }
        let head: i64 = tx.query_one("SELECT COALESCE(MAX(position), 0) FROM events", &[]).await?.get(0);
        let plan = plan_push(events, &existing, &seqs, head);

        if !plan.inserts.is_empty() {
            let c = Columns::of(&plan.inserts)?;
            let insert = tx
                .prepare_cached(
                    "INSERT INTO events (position, id, stream_id, event_type, device_id, device_seq, \
                     created_at, received_at, envelope) \
                     SELECT position, id, stream_id, event_type, device_id, device_seq, created_at, $8, envelope \
                     FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], \
                     $7::timestamptz[], $9::text[]) \
                     AS t (position, id, stream_id, event_type, device_id, device_seq, created_at, envelope)",
                )
                .await?;
            let received = received_at.datetime();
            tx.execute(
                &insert,
                &[
                    &c.position,
                    &c.id,
                    &c.stream_id,
                    &c.event_type,
                    &c.device_id,
                    &c.device_seq,
                    &c.created_at,
                    &received,
                    &c.envelope,
                ],
            )
            .await?;
        }

        let mut tally = DeviceTally::new(load_status(&*tx, device).await?);
        tally.inserted(plan.inserts.iter().map(|(_, e)| e.device_seq), received_at);
        if tally.may_advance {
            let seqs_above = tx
                .prepare_cached(
                    "SELECT DISTINCT device_seq FROM events WHERE device_id = $1 AND device_seq > $2 \
                     ORDER BY device_seq LIMIT $3",
                )
                .await?;
            loop {
                let from = seq_to_db(tally.status.contiguous_up_to)?;
                let rows = tx.query(&seqs_above, &[&device.as_str(), &from, &i64::from(SEQ_CHUNK)]).await?;
                let seqs = rows.iter().map(|r| seq_from_db(r.get(0))).collect::<Result<Vec<u64>>>()?;
                if !tally.advance(&seqs) || seqs.len() < SEQ_CHUNK as usize {
                    break;
                }
            }
        }
        if !plan.inserts.is_empty() {
            let s = &tally.status;
            tx.execute(
                "INSERT INTO devices (device_id, contiguous_up_to, highest_seq, event_count, last_received_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (device_id) DO UPDATE SET \
                 contiguous_up_to = excluded.contiguous_up_to, highest_seq = excluded.highest_seq, \
                 event_count = excluded.event_count, last_received_at = excluded.last_received_at",
                &[
                    &device.as_str(),
                    &seq_to_db(s.contiguous_up_to)?,
                    &seq_to_db(s.highest_seq)?,
                    &seq_to_db(s.event_count)?,
                    &s.last_received_at.map(|t| t.datetime()),
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(PushOutput { outcomes: plan.outcomes, device: tally.status })
    }

    async fn pull(&self, after: i64, limit: u32) -> Result<Page> {
        let client = self.pool.get().await?;
        let select = client
            .prepare_cached(
                "SELECT position, received_at, envelope FROM events WHERE position > $1 \
                 ORDER BY position LIMIT $2",
            )
            .await?;
        let rows = client.query(&select, &[&after, &(i64::from(limit) + 1)]).await?;
        let has_more = rows.len() > limit as usize;
        let events = rows
            .iter()
            .take(limit as usize)
            .map(|row| StoredEvent::new(row.get(0), timestamp(row.get(1)), row.get(2)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Page { events, has_more })
    }

    async fn head(&self) -> Result<i64> {
        let client = self.pool.get().await?;
        Ok(client.query_one("SELECT COALESCE(MAX(position), 0) FROM events", &[]).await?.get(0))
    }

    async fn device_status(&self, device: &DeviceId) -> Result<DeviceStatus> {
        let client = self.pool.get().await?;
        load_status(&**client, device).await
    }

    async fn create_token(&self, token: &TokenRecord, secret_hash: &str) -> Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO tokens (id, token_hash, device_id, site, label, created_at, revoked_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &token.id,
                    &secret_hash,
                    &token.device_id.as_str(),
                    &token.site,
                    &token.label,
                    &token.created_at.datetime(),
                    &token.revoked_at.map(|t| t.datetime()),
                ],
            )
            .await?;
        Ok(())
    }

    async fn find_token(&self, secret_hash: &str) -> Result<Option<TokenRecord>> {
        let client = self.pool.get().await?;
        let select = client
            .prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_hash = $1"))
            .await?;
        client.query_opt(&select, &[&secret_hash]).await?.as_ref().map(token_record).transpose()
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        let client = self.pool.get().await?;
        let rows =
            client.query(&format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id"), &[]).await?;
        rows.iter().map(token_record).collect()
    }

    async fn revoke_token(&self, id: &str, at: Timestamp) -> Result<Option<TokenRecord>> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                &format!(
                    "UPDATE tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING {TOKEN_COLUMNS}"
                ),
                &[&id, &at.datetime()],
            )
            .await?;
        row.as_ref().map(token_record).transpose()
    }
}
