//! The production backend: PostgreSQL through a small pool of tokio-postgres connections, so
//! several server processes (or replicas behind a load balancer) can share one database.
//!
//! Positions come from `max(position) + 1` taken under one transaction-level advisory lock that
//! every push takes first, never from a sequence: a sequence hands out numbers in start order,
//! and a transaction that took 41 but commits after the one that took 42 would be skipped by a
//! reader already past 42. Under the lock, pushes commit one after another in position order;
//! the lock is released only once the commit is visible, so the next push's `max` sees it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Transaction};
use pluto_domain::{CampaignId, DeviceId, Event, EventId, Timestamp};
use pluto_protocol::DeviceStatus;
use tokio_postgres::{GenericClient, NoTls, Row};

use super::{
    acted_on, check_device, decode, empty_status, encode, group_failed, plan_push, push_answer, seq_from_db,
    seq_to_db, AtPosition, DeviceRecord, DeviceTally, Page, PageBuilder, PushClaim, PushJob, PushOutput,
    Pusher, Result, Role, Storage, StorageError, Target, TokenRecord, SEQ_CHUNK,
};

/// The migrations, in order; `pluto_server_schema` records which are applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_init.sql"),
    include_str!("../../migrations/postgres/0002_provenance.sql"),
    include_str!("../../migrations/postgres/0003_bounds.sql"),
    include_str!("../../migrations/postgres/0004_log_identity.sql"),
];

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
    /// Pushes waiting for the writer (group commit).
    pending: Arc<Mutex<Vec<PushJob>>>,
    /// This process's push groups take turns here before taking a connection: they serialize
    /// on the advisory lock anyway, and a group waiting for the lock while holding a pooled
    /// connection would starve pulls and token checks of connections.
    push_turn: Arc<tokio::sync::Mutex<()>>,
    /// The log's identity, read once: a database is never swapped under a running server.
    log_id: Arc<str>,
    /// Counts the commits any server process sharing the database announced (see [`listen`]).
    commits: tokio::sync::watch::Receiver<u64>,
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
        let listener_config = config.clone();
        let manager =
            Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(15)))
            .build()
            .map_err(|e| StorageError::Config(format!("connection pool: {e}")))?;
        let (announced, commits) = tokio::sync::watch::channel(0);
        let mut storage = Self {
            pool,
            pending: Default::default(),
            push_turn: Default::default(),
            log_id: "".into(),
            commits,
        };
        storage.migrate().await?;
        let client = storage.pool.get().await?;
        let log_id: String =
            client.query_one("SELECT value FROM server_meta WHERE key = 'log_id'", &[]).await?.get(0);
        drop(client);
        tokio::spawn(listen(listener_config, channel(&log_id), announced));
        storage.log_id = log_id.into();
        Ok(storage)
    }

    /// Group commit: stores every push waiting at this moment in one transaction, so a crowd
    /// of laptops pushing at once takes the advisory lock, the round trips and the commit once
    /// instead of once each. Every push is answered after the commit, so none is reported
    /// stored before it is durable; if the transaction fails, every push in it is refused and
    /// nothing of it is stored.
    async fn push_waiting(&self) {
        let _turn = self.push_turn.lock().await;
        let jobs = std::mem::take(&mut *lock(&self.pending));
        if jobs.is_empty() {
            // An earlier group took this push along.
            return;
        }
        match self.push_group(&jobs).await {
            Ok(outputs) => jobs.into_iter().zip(outputs).for_each(|(job, output)| job.answer(Ok(output))),
            Err(e) => jobs.into_iter().for_each(|job| job.answer(Err(group_failed(&e)))),
        }
    }

    /// One transaction for `jobs`, in order, each planned as if pushed alone after the ones
    /// before it. A fixed number of statements whatever the group's size.
    async fn push_group(&self, jobs: &[PushJob]) -> Result<Vec<PushOutput>> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PUSH_LOCK]).await?;

        let all = || jobs.iter().flat_map(|job| job.events.iter().map(move |event| (job, event)));
        let ids: Vec<&str> = all().map(|(_, e)| e.id.as_str()).collect();
        let select = tx.prepare_cached("SELECT position, envelope FROM events WHERE id = ANY($1)").await?;
        let mut existing = HashMap::new();
        for row in tx.query(&select, &[&ids]).await? {
            let position: i64 = row.get(0);
            let event = decode(position, row.get(1))?;
            existing.insert(event.id.clone(), (position, event));
        }
        let devices: Vec<&str> = all().map(|(job, _)| job.device.as_str()).collect();
        let seqs = all().map(|(_, e)| seq_to_db(e.device_seq)).collect::<Result<Vec<i64>>>()?;
        let taken_select = tx
            .prepare_cached(
                "SELECT device_id, device_seq, id FROM events \
                 JOIN UNNEST($1::text[], $2::bigint[]) AS b (device_id, device_seq) USING (device_id, device_seq)",
            )
            .await?;
        let mut taken: HashMap<String, HashMap<u64, EventId>> = HashMap::new();
        for row in tx.query(&taken_select, &[&devices, &seqs]).await? {
            let (device, seq, id): (String, i64, String) = (row.get(0), row.get(1), row.get(2));
            let id = EventId::parse(&id).map_err(|e| StorageError::Corrupt(e.to_string()))?;
            taken.entry(device).or_default().insert(seq_from_db(seq)?, id);
        }
        let streams: Vec<&str> = all().map(|(_, e)| e.stream_id.as_str()).collect();
        let creations_select = tx
            .prepare_cached(
                "SELECT DISTINCT ON (stream_id) stream_id, id FROM events \
                 WHERE event_type = 'CampaignCreated' AND stream_id = ANY($1) ORDER BY stream_id, id",
            )
            .await?;
        let mut creations = HashMap::new();
        for row in tx.query(&creations_select, &[&streams]).await? {
            let (stream, id): (String, String) = (row.get(0), row.get(1));
            let stream = CampaignId::parse(&stream).map_err(|e| StorageError::Corrupt(e.to_string()))?;
            let id = EventId::parse(&id).map_err(|e| StorageError::Corrupt(e.to_string()))?;
            creations.insert(stream, id);
        }
        let mut head: i64 = tx.query_one("SELECT COALESCE(MAX(position), 0) FROM events", &[]).await?.get(0);
        let mut tallies = device_tallies(&tx, jobs).await?;
        let seen_before: HashMap<&str, u64> = tallies.iter().map(|(d, t)| (*d, t.highest_seen)).collect();

        // Later pushes of the group see the earlier ones' rows, as if each had committed alone.
        let mut plans = Vec::with_capacity(jobs.len());
        for job in jobs {
            let seqs = taken.entry(job.device.as_str().to_owned()).or_default();
            let tally = tallies.get_mut(job.device.as_str()).expect("every pushing device has a tally");
            let plan =
                plan_push(&job.events, &existing, seqs, &mut creations, tally.max_seq(job.claim), head);
            tally.seen(job.claim);
            head += plan.inserts.len() as i64;
            for &(position, event) in &plan.inserts {
                existing.insert(event.id.clone(), (position, event.clone()));
                seqs.insert(event.device_seq, event.id.clone());
            }
            plans.push(plan);
        }

        let rows: Vec<(i64, &Event, &PushJob)> = jobs
            .iter()
            .zip(&plans)
            .flat_map(|(job, plan)| plan.inserts.iter().map(move |&(position, e)| (position, e, job)))
            .collect();
        if !rows.is_empty() {
            let c = Columns::of(&rows)?;
            let insert = tx
                .prepare_cached(
                    "INSERT INTO events (position, id, stream_id, event_type, device_id, device_seq, \
                     created_at, received_at, envelope, token_id, site) \
                     SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], \
                     $6::bigint[], $7::timestamptz[], $8::timestamptz[], $9::text[], $10::text[], $11::text[])",
                )
                .await?;
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
                    &c.received_at,
                    &c.envelope,
                    &c.token_id,
                    &c.site,
                ],
            )
            .await?;
        }

        for (job, plan) in jobs.iter().zip(&plans) {
            let tally = tallies.get_mut(job.device.as_str()).expect("every pushing device has a tally");
            tally.inserted(plan.inserts.iter().map(|(_, e)| e.device_seq), job.received_at);
        }
        advance(&tx, &mut tallies).await?;
        let changed: Vec<&DeviceTally> = jobs
            .iter()
            .zip(&plans)
            .map(|(job, plan)| (job.device.as_str(), plan))
            .filter(|(device, plan)| {
                !plan.inserts.is_empty() || tallies[device].highest_seen != seen_before[device]
            })
            .map(|(device, _)| &tallies[device])
            .collect();
        save_statuses(&tx, changed).await?;
        count_usage(&tx, jobs).await?;
        if !rows.is_empty() {
            // Delivered at the commit, to every process listening (see `listen`).
            tx.execute("SELECT pg_notify($1, '')", &[&channel(&self.log_id)]).await?;
        }
        tx.commit().await?;
        Ok(jobs
            .iter()
            .zip(plans)
            .map(|(job, plan)| PushOutput {
                outcomes: plan.outcomes,
                device: tallies[job.device.as_str()].status.clone(),
            })
            .collect())
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

/// A page of the events `select` selects with `params` (position, received_at, site, token_id,
/// envelope; in position order, one more row than `limit`), streamed row by row until it is full:
/// a page of large events never holds more than its bytes, plus one.
async fn page(
    client: &deadpool_postgres::Object,
    select: &tokio_postgres::Statement,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    limit: u32,
) -> Result<Page> {
    let admins = client
        .query("SELECT id FROM tokens WHERE role = 'admin'", &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut page = PageBuilder::new(limit, admins);
    let rows = client.query_raw(select, params.iter().copied()).await?;
    let mut rows = std::pin::pin!(rows);
    while let Some(row) = std::future::poll_fn(|cx| futures_core::Stream::poll_next(rows.as_mut(), cx)).await
    {
        let row = row?;
        let token: Option<&str> = row.get(3);
        if !page.offer(row.get(0), timestamp(row.get(1)), row.get(2), token, row.get(4))? {
            return Ok(page.finish(true));
        }
    }
    Ok(page.finish(false))
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
        role: {
            let role: String = row.get("role");
            Role::parse(&role).ok_or_else(|| StorageError::Corrupt(format!("token role {role:?}")))?
        },
        label: row.get("label"),
        created_at: timestamp(row.get("created_at")),
        revoked_at: row.get::<_, Option<DateTime<Utc>>>("revoked_at").map(timestamp),
    })
}

const TOKEN_COLUMNS: &str = "id, device_id, site, role, label, created_at, revoked_at";

/// A mutex guard even after a panic elsewhere: the queue of waiting pushes stays usable.
/// The notification channel of one log: its identity in the name, so that logs kept in other
/// schemas of the same database do not wake each other.
fn channel(log_id: &str) -> String {
    format!("pluto_{log_id}")
}

/// Listens on its own connection for the commits every server process sharing the database
/// announces (`pg_notify` in the push transaction, delivered at its commit), and counts them in
/// `announced`, so that long-polls wake at once on any process's commit. A lost connection is
/// opened again after a second; meanwhile the service's once-a-second reading of the head still
/// wakes them. Ends when nothing watches the count any more.
async fn listen(config: tokio_postgres::Config, channel: String, announced: tokio::sync::watch::Sender<u64>) {
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let (heard, mut notifications) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                        match message {
                            Ok(tokio_postgres::AsyncMessage::Notification(_)) => {
                                if heard.send(()).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(error) => {
                                tracing::warn!(%error, "the connection listening for commits failed");
                                return;
                            }
                        }
                    }
                });
                // The channel is made of `log_` and hexadecimal digits: an identifier as it is.
                match client.batch_execute(&format!("LISTEN {channel}")).await {
                    Ok(()) => loop {
                        tokio::select! {
                            () = announced.closed() => {
                                driver.abort();
                                return;
                            }
                            heard = notifications.recv() => match heard {
                                Some(()) => announced.send_modify(|n| *n += 1),
                                None => break,
                            },
                        }
                    },
                    Err(error) => tracing::warn!(%error, "cannot listen for commits"),
                }
                driver.abort();
            }
            Err(error) => tracing::warn!(%error, "cannot connect to listen for commits"),
        }
        tokio::select! {
            () = announced.closed() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The stored completeness of every device pushing in `jobs`, keyed by device id.
async fn device_tallies<'j>(
    tx: &Transaction<'_>,
    jobs: &'j [PushJob],
) -> Result<HashMap<&'j str, DeviceTally>> {
    let mut tallies: HashMap<&str, DeviceTally> = jobs
        .iter()
        .map(|job| (job.device.as_str(), DeviceTally::new(empty_status(&job.device), 0)))
        .collect();
    let devices: Vec<&str> = tallies.keys().copied().collect();
    let select = tx
        .prepare_cached(
            "SELECT device_id, contiguous_up_to, highest_seq, event_count, last_received_at, highest_seen_seq \
             FROM devices WHERE device_id = ANY($1)",
        )
        .await?;
    for row in tx.query(&select, &[&devices]).await? {
        let device: String = row.get(0);
        if let Some(tally) = tallies.get_mut(device.as_str()) {
            tally.status = status_from_row(&tally.status.device_id, &row, 1)?;
            tally.highest_seen = seq_from_db(row.get(5))?;
        }
    }
    Ok(tallies)
}

/// Adds each push's bytes to its token's count of the day, one statement for the group.
async fn count_usage(tx: &Transaction<'_>, jobs: &[PushJob]) -> Result<()> {
    let mut usage: HashMap<(&str, chrono::NaiveDate), u64> = HashMap::new();
    for job in jobs.iter().filter(|job| job.claim.bytes > 0) {
        *usage.entry((job.pusher.token_id.as_str(), job.day())).or_default() += job.claim.bytes;
    }
    if usage.is_empty() {
        return Ok(());
    }
    let tokens: Vec<&str> = usage.keys().map(|(token, _)| *token).collect();
    let days: Vec<chrono::NaiveDate> = usage.keys().map(|(_, day)| *day).collect();
    let bytes = usage.values().map(|b| seq_to_db(*b)).collect::<Result<Vec<i64>>>()?;
    let upsert = tx
        .prepare_cached(
            "INSERT INTO token_usage (token_id, day, bytes) \
             SELECT * FROM UNNEST($1::text[], $2::date[], $3::bigint[]) \
             ON CONFLICT (token_id, day) DO UPDATE SET bytes = token_usage.bytes + excluded.bytes",
        )
        .await?;
    tx.execute(&upsert, &[&tokens, &days, &bytes]).await?;
    Ok(())
}

/// Moves every device's `contiguous_up_to` along its stored sequence numbers, one query per
/// round for all the devices that may still advance.
async fn advance(tx: &Transaction<'_>, tallies: &mut HashMap<&str, DeviceTally>) -> Result<()> {
    let select = tx
        .prepare_cached(
            "SELECT d.device_id, e.device_seq FROM UNNEST($1::text[], $2::bigint[]) AS d (device_id, after) \
             CROSS JOIN LATERAL (SELECT device_seq FROM events WHERE events.device_id = d.device_id \
             AND events.device_seq > d.after ORDER BY device_seq LIMIT $3) AS e \
             ORDER BY d.device_id, e.device_seq",
        )
        .await?;
    let mut open: Vec<&str> = tallies.iter().filter(|(_, t)| t.may_advance).map(|(d, _)| *d).collect();
    while !open.is_empty() {
        let after = open
            .iter()
            .map(|d| seq_to_db(tallies[d].status.contiguous_up_to))
            .collect::<Result<Vec<i64>>>()?;
        let mut stored: HashMap<String, Vec<u64>> = HashMap::new();
        for row in tx.query(&select, &[&open, &after, &i64::from(SEQ_CHUNK)]).await? {
            stored.entry(row.get(0)).or_default().push(seq_from_db(row.get(1))?);
        }
        open.retain(|device| {
            let seqs = stored.get(*device).map_or(&[][..], Vec::as_slice);
            let tally = tallies.get_mut(device).expect("open devices have tallies");
            tally.advance(seqs) && seqs.len() == SEQ_CHUNK as usize
        });
    }
    Ok(())
}

/// Writes the completeness of the devices whose pushes stored something or sent new numbers.
async fn save_statuses(tx: &Transaction<'_>, tallies: Vec<&DeviceTally>) -> Result<()> {
    if tallies.is_empty() {
        return Ok(());
    }
    let mut tallies = tallies;
    // A device pushing twice in one group is written once.
    tallies.sort_by(|a, b| a.status.device_id.cmp(&b.status.device_id));
    tallies.dedup_by(|a, b| a.status.device_id == b.status.device_id);
    let statuses: Vec<&DeviceStatus> = tallies.iter().map(|t| &t.status).collect();
    let devices: Vec<&str> = statuses.iter().map(|s| s.device_id.as_str()).collect();
    let contiguous = statuses.iter().map(|s| seq_to_db(s.contiguous_up_to)).collect::<Result<Vec<_>>>()?;
    let highest = statuses.iter().map(|s| seq_to_db(s.highest_seq)).collect::<Result<Vec<_>>>()?;
    let counts = statuses.iter().map(|s| seq_to_db(s.event_count)).collect::<Result<Vec<_>>>()?;
    let received: Vec<Option<DateTime<Utc>>> =
        statuses.iter().map(|s| s.last_received_at.map(|t| t.datetime())).collect();
    let seen = tallies.iter().map(|t| seq_to_db(t.highest_seen)).collect::<Result<Vec<_>>>()?;
    let upsert = tx
        .prepare_cached(
            "INSERT INTO devices (device_id, contiguous_up_to, highest_seq, event_count, last_received_at, \
             highest_seen_seq) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::timestamptz[], \
             $6::bigint[]) \
             ON CONFLICT (device_id) DO UPDATE SET \
             contiguous_up_to = excluded.contiguous_up_to, highest_seq = excluded.highest_seq, \
             event_count = excluded.event_count, last_received_at = excluded.last_received_at, \
             highest_seen_seq = excluded.highest_seen_seq",
        )
        .await?;
    tx.execute(&upsert, &[&devices, &contiguous, &highest, &counts, &received, &seen]).await?;
    Ok(())
}

async fn load_status(client: &impl GenericClient, device: &DeviceId) -> Result<DeviceStatus> {
    let row = client
        .query_opt(
            "SELECT contiguous_up_to, highest_seq, event_count, last_received_at FROM devices \
             WHERE device_id = $1",
            &[&device.as_str()],
        )
        .await?;
    match row {
        Some(row) => status_from_row(device, &row, 0),
        None => Ok(empty_status(device)),
    }
}

/// A device's completeness from `contiguous_up_to, highest_seq, event_count, last_received_at`
/// of `devices`, selected from column `first` on.
fn status_from_row(device: &DeviceId, row: &Row, first: usize) -> Result<DeviceStatus> {
    Ok(DeviceStatus {
        device_id: device.clone(),
        contiguous_up_to: seq_from_db(row.get(first))?,
        highest_seq: seq_from_db(row.get(first + 1))?,
        event_count: seq_from_db(row.get(first + 2))?,
        last_received_at: row.get::<_, Option<DateTime<Utc>>>(first + 3).map(timestamp),
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
    received_at: Vec<DateTime<Utc>>,
    envelope: Vec<String>,
    token_id: Vec<&'a str>,
    site: Vec<&'a str>,
}

impl<'a> Columns<'a> {
    fn of(rows: &[(i64, &'a Event, &'a PushJob)]) -> Result<Self> {
        let mut columns = Self::default();
        for &(position, event, job) in rows {
            let received_at = job.received_at;
            columns.token_id.push(&job.pusher.token_id);
            columns.site.push(&job.pusher.site);
            columns.position.push(position);
            columns.id.push(event.id.as_str());
            columns.stream_id.push(event.stream_id.as_str());
            columns.event_type.push(event.event_type.as_str());
            columns.device_id.push(event.device_id.as_str());
            columns.device_seq.push(seq_to_db(event.device_seq)?);
            columns.created_at.push(event.created_at.datetime());
            columns.received_at.push(received_at.datetime());
            columns.envelope.push(encode(event)?);
        }
        Ok(columns)
    }
}

impl Storage for PostgresStorage {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn push(
        &self,
        device: &DeviceId,
        pusher: &Pusher,
        events: &[Event],
        claim: PushClaim,
        received_at: Timestamp,
    ) -> Result<PushOutput> {
        check_device(device, events)?;
        events.iter().try_for_each(|e| seq_to_db(e.device_seq).map(drop))?;
        let (job, answer) = PushJob::new(device, pusher, events, claim, received_at);
        lock(&self.pending).push(job);
        let this = self.clone();
        // A task of its own: a cancelled request must not abort a group that carries other pushes.
        tokio::spawn(async move { this.push_waiting().await });
        push_answer(answer).await
    }

    async fn pull(&self, after: i64, limit: u32) -> Result<Page> {
        let client = self.pool.get().await?;
        let select = client
            .prepare_cached(
                "SELECT position, received_at, site, token_id, envelope FROM events WHERE position > $1 \
                 ORDER BY position LIMIT $2",
            )
            .await?;
        page(&client, &select, &[&after, &(i64::from(limit) + 1)], limit).await
    }

    async fn usage(&self, token_id: &str, day: chrono::NaiveDate) -> Result<u64> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt("SELECT bytes FROM token_usage WHERE token_id = $1 AND day = $2", &[&token_id, &day])
            .await?;
        seq_from_db(row.map_or(0, |r| r.get(0)))
    }

    async fn targets(&self, ids: Vec<String>) -> Result<HashMap<String, Target>> {
        let client = self.pool.get().await?;
        let select = client
            .prepare_cached("SELECT id, stream_id, event_type, envelope FROM events WHERE id = ANY($1)")
            .await?;
        let rows = client.query(&select, &[&ids]).await?;
        Ok(rows
            .iter()
            .map(|row| {
                let envelope: &str = row.get(3);
                let target =
                    Target { stream_id: row.get(1), event_type: row.get(2), acts_on: acted_on(envelope) };
                (row.get(0), target)
            })
            .collect())
    }

    async fn pushed_by(
        &self,
        token_id: &str,
        since: Option<Timestamp>,
        after: i64,
        limit: u32,
    ) -> Result<Page> {
        let client = self.pool.get().await?;
        let select = client
            .prepare_cached(
                "SELECT position, received_at, site, token_id, envelope FROM events \
                 WHERE token_id = $1 AND position > $2 AND ($3::timestamptz IS NULL OR received_at >= $3) \
                 ORDER BY position LIMIT $4",
            )
            .await?;
        let since = since.map(|t| t.datetime());
        page(&client, &select, &[&token_id, &after, &since, &(i64::from(limit) + 1)], limit).await
    }

    async fn database_bytes(&self) -> Result<u64> {
        let client = self.pool.get().await?;
        let bytes: i64 = client.query_one("SELECT pg_database_size(current_database())", &[]).await?.get(0);
        Ok(u64::try_from(bytes).unwrap_or(0))
    }

    async fn head(&self) -> Result<i64> {
        let client = self.pool.get().await?;
        Ok(client.query_one("SELECT COALESCE(MAX(position), 0) FROM events", &[]).await?.get(0))
    }

    async fn at_positions(&self, positions: Vec<i64>) -> Result<Vec<AtPosition>> {
        let client = self.pool.get().await?;
        let select = client
            .prepare_cached(
                "SELECT position, id, envelope, received_at FROM events WHERE position = ANY($1) \
                 ORDER BY position",
            )
            .await?;
        let rows = client.query(&select, &[&positions]).await?;
        Ok(rows
            .iter()
            .map(|r| AtPosition {
                position: r.get(0),
                id: r.get(1),
                envelope: r.get(2),
                received_at: timestamp(r.get(3)),
            })
            .collect())
    }

    async fn device_status(&self, device: &DeviceId) -> Result<DeviceStatus> {
        let client = self.pool.get().await?;
        load_status(&**client, device).await
    }

    fn log_id(&self) -> &str {
        &self.log_id
    }

    fn commits(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.commits.clone())
    }

    async fn report_holdings(&self, device: &DeviceId, seq: u64, at: Timestamp) -> Result<()> {
        let client = self.pool.get().await?;
        let upsert = client
            .prepare_cached(
                "INSERT INTO devices (device_id, contiguous_up_to, highest_seq, event_count, highest_seen_seq, \
                 reported_seq, reported_at) VALUES ($1, 0, 0, 0, 0, $2, $3) ON CONFLICT (device_id) DO UPDATE \
                 SET reported_seq = excluded.reported_seq, reported_at = excluded.reported_at \
                 WHERE devices.reported_seq IS DISTINCT FROM excluded.reported_seq",
            )
            .await?;
        client.execute(&upsert, &[&device.as_str(), &seq_to_db(seq)?, &at.datetime()]).await?;
        Ok(())
    }

    async fn devices(&self) -> Result<Vec<DeviceRecord>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT device_id, contiguous_up_to, highest_seq, event_count, last_received_at, reported_seq, \
                 reported_at FROM devices ORDER BY device_id",
                &[],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.get(0);
                let device = DeviceId::parse(&id).map_err(|e| StorageError::Corrupt(e.to_string()))?;
                Ok(DeviceRecord {
                    status: status_from_row(&device, row, 1)?,
                    reported_seq: row.get::<_, Option<i64>>(5).map(seq_from_db).transpose()?,
                    reported_at: row.get::<_, Option<DateTime<Utc>>>(6).map(timestamp),
                })
            })
            .collect()
    }

    async fn create_token(&self, token: &TokenRecord, secret_hash: &str) -> Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO tokens (id, token_hash, device_id, site, role, label, created_at, revoked_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &token.id,
                    &secret_hash,
                    &token.device_id.as_str(),
                    &token.site,
                    &token.role.as_str(),
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

    async fn token(&self, id: &str) -> Result<Option<TokenRecord>> {
        let client = self.pool.get().await?;
        let select =
            client.prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = $1")).await?;
        client.query_opt(&select, &[&id]).await?.as_ref().map(token_record).transpose()
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
