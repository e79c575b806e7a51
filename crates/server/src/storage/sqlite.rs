//! The embedded backend: one SQLite file (WAL), the default when the server is given no
//! database URL, so a pilot or a single site needs nothing but the binary.
//!
//! rusqlite is blocking, so every operation runs on tokio's blocking pool. Writes go through
//! one connection behind a mutex and `BEGIN IMMEDIATE`: SQLite serializes writers anyway, and
//! taking positions as max + 1 inside the write transaction makes positions visible in commit
//! order. Reads use a few pooled read-only connections, which WAL lets run beside the writer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use pluto_domain::{DeviceId, Event, EventId, Timestamp};
use pluto_protocol::DeviceStatus;
use rusqlite::{named_params, params, Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior};

use super::{
    acted_on, check_device, decode, empty_status, encode, group_failed, plan_push, push_answer, seq_from_db,
    seq_to_db, AtPosition, DeviceRecord, DeviceTally, Page, PageBuilder, PushClaim, PushJob, PushOutput,
    Pusher, Result, Role, Storage, StorageError, Target, TokenRecord, SEQ_CHUNK,
};

/// The migrations, in order; the database's `user_version` is how many are applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_provenance.sql"),
    include_str!("../../migrations/sqlite/0003_bounds.sql"),
    include_str!("../../migrations/sqlite/0004_log_identity.sql"),
];

/// `PRAGMA application_id` of a server database ("PLTS"), so that a laptop's own database or
/// another program's file given by mistake is refused instead of migrated.
const APPLICATION_ID: i32 = 0x504C_5453;

/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 8;

/// Read connections open at once; more readers wait for one.
const MAX_READERS: usize = 16;

/// How long a connection waits for another process's lock before failing.
const BUSY_TIMEOUT_MS: u32 = 10_000;

/// The SQLite backend. Cloning is cheap and shares the connections.
#[derive(Clone)]
pub struct SqliteStorage {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// The log's identity, read once: a database is never swapped under a running server.
    log_id: String,
    writer: Mutex<Connection>,
    /// Pushes waiting for the writer (group commit).
    pending: Mutex<Vec<PushJob>>,
    readers: Mutex<Vec<Connection>>,
    /// One permit per read connection that may be open at once.
    read_permits: tokio::sync::Semaphore,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

impl SqliteStorage {
    /// Opens (creating it and its folder if needed) and migrates the database file.
    pub async fn open(path: &Path) -> Result<Self> {
        let path = path.to_owned();
        blocking(move || {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|error| StorageError::Io {
                    context: format!("cannot create the folder {}", parent.display()),
                    error,
                })?;
            }
            pluto_files::create_owner_only(&path).map_err(|error| StorageError::Io {
                context: format!("cannot create the database {}", path.display()),
                error,
            })?;
            let writer = open_writer(&path)?;
            let log_id =
                writer.query_row("SELECT value FROM server_meta WHERE key = 'log_id'", [], |r| r.get(0))?;
            let inner = Inner {
                path,
                log_id,
                writer: Mutex::new(writer),
                pending: Mutex::new(Vec::new()),
                readers: Mutex::new(Vec::new()),
                read_permits: tokio::sync::Semaphore::new(MAX_READERS),
            };
            Ok(Self { inner: Arc::new(inner) })
        })
        .await
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on the write connection, on the blocking pool.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = Arc::clone(&self.inner);
        blocking(move || f(&mut lock(&inner.writer))).await
    }

    /// Runs `f` on a pooled read-only connection, on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        // Bounded, so that a crowd of pulls waits for a connection instead of opening one
        // file (and its WAL and shared-memory files) each until descriptors run out.
        let _permit =
            self.inner.read_permits.acquire().await.map_err(|e| StorageError::Task(e.to_string()))?;
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let pooled = lock(&inner.readers).pop();
            let conn = match pooled {
                Some(conn) => conn,
                None => {
                    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                    let conn = Connection::open_with_flags(&inner.path, flags)?;
                    configure(&conn)?;
                    conn
                }
            };
            let result = f(&conn);
            let mut idle = lock(&inner.readers);
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
            result
        })
        .await
    }
}

/// The write connection, in WAL mode and migrated; a busy open is retried (see
/// [`pluto_files::retry_while_busy`]).
fn open_writer(path: &Path) -> Result<Connection> {
    pluto_files::retry_while_busy(
        std::time::Duration::from_millis(u64::from(BUSY_TIMEOUT_MS)),
        || {
            let mut writer = Connection::open(path)?;
            configure(&writer)?;
            writer.pragma_update(None, "journal_mode", "WAL")?;
            writer.pragma_update(None, "synchronous", "FULL")?;
            migrate(&mut writer, path)?;
            Ok(writer)
        },
        |e| matches!(e, StorageError::Sqlite(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)),
    )
}

/// Runs blocking database work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StorageError::Task(e.to_string()))?
}

/// A mutex guard even after a panic elsewhere: a connection stays usable because every write
/// is a transaction that rolls back when dropped.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn configure(conn: &Connection) -> Result<()> {
    conn.pragma_update(None, "busy_timeout", BUSY_TIMEOUT_MS)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Applies the missing migrations in one transaction; refuses a newer schema or another
/// application's file.
fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let application_id: i32 = tx.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let tables: i64 = tx.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
    if application_id != APPLICATION_ID && (application_id != 0 || version != 0 || tables != 0) {
        return Err(StorageError::ForeignDatabase(path.display().to_string()));
    }
    let supported = MIGRATIONS.len() as i64;
    if version > supported {
        return Err(StorageError::SchemaTooNew { found: version, supported });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.commit()?;
    Ok(())
}

/// The columns [`page`] reads, in this order.
const PAGE_COLUMNS: &str = "position, received_at, site, token_id, envelope";

/// A page of the events that `stmt` selects with `params` ([`PAGE_COLUMNS`], in position order,
/// one more row than `limit`), read row by row until it is full.
fn page(
    conn: &Connection,
    stmt: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
    limit: u32,
) -> Result<Page> {
    let admins = conn
        .prepare_cached("SELECT id FROM tokens WHERE role = 'admin'")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut page = PageBuilder::new(limit, admins);
    let mut rows = stmt.query(params)?;
    while let Some(row) = rows.next()? {
        let received_at: String = row.get(1)?;
        let token: Option<String> = row.get(3)?;
        if !page.offer(row.get(0)?, parse_time(&received_at)?, row.get(2)?, token.as_deref(), row.get(4)?)? {
            return Ok(page.finish(true));
        }
    }
    Ok(page.finish(false))
}

fn parse_time(text: &str) -> Result<Timestamp> {
    Timestamp::parse(text).map_err(|e| StorageError::Corrupt(format!("timestamp {text:?}: {e}")))
}

/// A token row: id, device, site, role, label, created, revoked.
type TokenRow = (String, String, String, String, Option<String>, String, Option<String>);

const TOKEN_COLUMNS: &str = "id, device_id, site, role, label, created_at, revoked_at";

fn token_row(row: &Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?))
}

fn token_record((id, device_id, site, role, label, created_at, revoked_at): TokenRow) -> Result<TokenRecord> {
    Ok(TokenRecord {
        id,
        device_id: DeviceId::parse(&device_id).map_err(|e| StorageError::Corrupt(e.to_string()))?,
        site,
        role: Role::parse(&role).ok_or_else(|| StorageError::Corrupt(format!("token role {role:?}")))?,
        label,
        created_at: parse_time(&created_at)?,
        revoked_at: revoked_at.as_deref().map(parse_time).transpose()?,
    })
}

fn load_status(conn: &Connection, device: &DeviceId) -> Result<DeviceStatus> {
    Ok(load_tally(conn, device)?.status)
}

/// What the server holds of a device, with the highest sequence number it has sent.
fn load_tally(conn: &Connection, device: &DeviceId) -> Result<DeviceTally> {
    let row = conn
        .prepare_cached(
            "SELECT contiguous_up_to, highest_seq, event_count, last_received_at, highest_seen_seq FROM devices \
             WHERE device_id = ?1",
        )?
        .query_row([device.as_str()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .optional()?;
    let Some((contiguous, highest, count, last, seen)) = row else {
        return Ok(DeviceTally::new(empty_status(device), 0));
    };
    let status = DeviceStatus {
        device_id: device.clone(),
        contiguous_up_to: seq_from_db(contiguous)?,
        highest_seq: seq_from_db(highest)?,
        event_count: seq_from_db(count)?,
        last_received_at: last.as_deref().map(parse_time).transpose()?,
    };
    Ok(DeviceTally::new(status, seq_from_db(seen)?))
}

/// One push inside the caller's transaction (a savepoint of the group commit).
fn push_in(tx: &Connection, job: &PushJob) -> Result<PushOutput> {
    let PushJob { device, pusher, events, claim, received_at, .. } = job;
    let received_at = *received_at;
    let mut existing = HashMap::new();
    {
        let mut stmt = tx.prepare_cached("SELECT position, envelope FROM events WHERE id = ?1")?;
        for event in events {
            let row = stmt
                .query_row([event.id.as_str()], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .optional()?;
            if let Some((position, envelope)) = row {
                existing.insert(event.id.clone(), (position, decode(position, &envelope)?));
            }
        }
    }
    let mut seqs = HashMap::new();
    {
        let mut stmt = tx.prepare_cached("SELECT id FROM events WHERE device_id = ?1 AND device_seq = ?2")?;
        for event in events {
            let id: Option<String> = stmt
                .query_row(params![device.as_str(), seq_to_db(event.device_seq)?], |r| r.get(0))
                .optional()?;
            if let Some(id) = id {
                seqs.insert(
                    event.device_seq,
                    EventId::parse(&id).map_err(|e| StorageError::Corrupt(e.to_string()))?,
                );
            }
        }
    }
    let mut creations = HashMap::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT id FROM events WHERE stream_id = ?1 AND event_type = 'CampaignCreated' ORDER BY id LIMIT 1",
        )?;
        for event in events {
            if creations.contains_key(&event.stream_id) {
                continue;
            }
            let id: Option<String> = stmt.query_row([event.stream_id.as_str()], |r| r.get(0)).optional()?;
            if let Some(id) = id {
                let id = EventId::parse(&id).map_err(|e| StorageError::Corrupt(e.to_string()))?;
                creations.insert(event.stream_id.clone(), id);
            }
        }
    }
    let head: i64 = tx.query_row("SELECT COALESCE(MAX(position), 0) FROM events", [], |r| r.get(0))?;
    let mut tally = load_tally(tx, device)?;
    let plan = plan_push(events, &existing, &seqs, &mut creations, tally.max_seq(*claim), head);
    let seen_before = tally.highest_seen;
    tally.seen(*claim);

    let received = received_at.to_string();
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO events (position, id, stream_id, event_type, device_id, device_seq, created_at, \
             received_at, envelope, token_id, site) VALUES (:position, :id, :stream_id, :event_type, \
             :device_id, :device_seq, :created_at, :received_at, :envelope, :token_id, :site)",
        )?;
        for (position, event) in &plan.inserts {
            insert.execute(named_params! {
                ":position": position,
                ":id": event.id.as_str(),
                ":stream_id": event.stream_id.as_str(),
                ":event_type": event.event_type.as_str(),
                ":device_id": event.device_id.as_str(),
                ":device_seq": seq_to_db(event.device_seq)?,
                ":created_at": event.created_at.to_string(),
                ":received_at": received,
                ":envelope": encode(event)?,
                ":token_id": pusher.token_id,
                ":site": pusher.site,
            })?;
        }
    }

    tally.inserted(plan.inserts.iter().map(|(_, e)| e.device_seq), received_at);
    if tally.may_advance {
        let mut stmt = tx.prepare_cached(
            "SELECT DISTINCT device_seq FROM events WHERE device_id = ?1 AND device_seq > ?2 \
             ORDER BY device_seq LIMIT ?3",
        )?;
        loop {
            let from = seq_to_db(tally.status.contiguous_up_to)?;
            let seqs = stmt
                .query_map(params![device.as_str(), from, SEQ_CHUNK], |r| r.get::<_, i64>(0))?
                .map(|seq| seq_from_db(seq?))
                .collect::<Result<Vec<u64>>>()?;
            if !tally.advance(&seqs) || seqs.len() < SEQ_CHUNK as usize {
                break;
            }
        }
    }
    if !plan.inserts.is_empty() || tally.highest_seen != seen_before {
        let s = &tally.status;
        tx.prepare_cached(
            "INSERT INTO devices (device_id, contiguous_up_to, highest_seq, event_count, last_received_at, \
             highest_seen_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (device_id) DO UPDATE SET \
             contiguous_up_to = excluded.contiguous_up_to, highest_seq = excluded.highest_seq, \
             event_count = excluded.event_count, last_received_at = excluded.last_received_at, \
             highest_seen_seq = excluded.highest_seen_seq",
        )?
        .execute(params![
            device.as_str(),
            seq_to_db(s.contiguous_up_to)?,
            seq_to_db(s.highest_seq)?,
            seq_to_db(s.event_count)?,
            s.last_received_at.map(|t| t.to_string()),
            seq_to_db(tally.highest_seen)?,
        ])?;
    }
    if claim.bytes > 0 {
        tx.prepare_cached(
            "INSERT INTO token_usage (token_id, day, bytes) VALUES (?1, ?2, ?3) \
             ON CONFLICT (token_id, day) DO UPDATE SET bytes = bytes + excluded.bytes",
        )?
        .execute(params![pusher.token_id, job.day().to_string(), seq_to_db(claim.bytes)?])?;
    }
    Ok(PushOutput { outcomes: plan.outcomes, device: tally.status })
}

/// Group commit: stores every push waiting at this moment in one transaction, so a crowd of
/// laptops pushing at once costs one `fsync` instead of one each. Each push runs in its own
/// savepoint, so one that fails leaves the others' outcomes intact. Replies go out only after
/// the commit, so no push is reported stored before it is durable.
fn push_group(conn: &mut Connection, jobs: Vec<PushJob>) {
    let mut group = || -> Result<Vec<Result<PushOutput>>> {
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(jobs.len());
        for job in &jobs {
            let savepoint = tx.savepoint()?;
            let result = push_in(&savepoint, job);
            if result.is_ok() {
                savepoint.commit()?;
            }
            results.push(result);
        }
        tx.commit()?;
        Ok(results)
    };
    match group() {
        Ok(results) => jobs.into_iter().zip(results).for_each(|(job, result)| job.answer(result)),
        Err(e) => jobs.into_iter().for_each(|job| job.answer(Err(group_failed(&e)))),
    }
}

impl Storage for SqliteStorage {
    fn backend(&self) -> &'static str {
        "sqlite"
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
        let (job, answer) = PushJob::new(device, pusher, events, claim, received_at);
        lock(&self.inner.pending).push(job);
        // Whoever takes the writer next stores every push waiting by then, this one included
        // (unless an earlier holder already took it).
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let mut writer = lock(&inner.writer);
            let jobs = std::mem::take(&mut *lock(&inner.pending));
            if !jobs.is_empty() {
                push_group(&mut writer, jobs);
            }
            Ok(())
        })
        .await?;
        push_answer(answer).await
    }

    async fn pull(&self, after: i64, limit: u32) -> Result<Page> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {PAGE_COLUMNS} FROM events WHERE position > ?1 ORDER BY position LIMIT ?2"
            ))?;
            page(conn, &mut stmt, params![after, i64::from(limit) + 1], limit)
        })
        .await
    }

    async fn usage(&self, token_id: &str, day: chrono::NaiveDate) -> Result<u64> {
        let token_id = token_id.to_owned();
        self.read(move |conn| {
            let bytes: Option<i64> = conn
                .prepare_cached("SELECT bytes FROM token_usage WHERE token_id = ?1 AND day = ?2")?
                .query_row(params![token_id, day.to_string()], |r| r.get(0))
                .optional()?;
            seq_from_db(bytes.unwrap_or(0))
        })
        .await
    }

    async fn targets(&self, ids: Vec<String>) -> Result<HashMap<String, Target>> {
        self.read(move |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT stream_id, event_type, envelope FROM events WHERE id = ?1")?;
            let mut found = HashMap::new();
            for id in ids {
                let row = stmt
                    .query_row([&id], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                    })
                    .optional()?;
                if let Some((stream_id, event_type, envelope)) = row {
                    found.insert(id, Target { stream_id, acts_on: acted_on(&envelope), event_type });
                }
            }
            Ok(found)
        })
        .await
    }

    async fn pushed_by(
        &self,
        token_id: &str,
        since: Option<Timestamp>,
        after: i64,
        limit: u32,
    ) -> Result<Page> {
        let token_id = token_id.to_owned();
        let since = since.map_or_else(String::new, |t| t.to_string());
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {PAGE_COLUMNS} FROM events \
                 WHERE token_id = ?1 AND position > ?2 AND received_at >= ?3 ORDER BY position LIMIT ?4"
            ))?;
            page(conn, &mut stmt, params![token_id, after, since, i64::from(limit) + 1], limit)
        })
        .await
    }

    async fn database_bytes(&self) -> Result<u64> {
        self.read(|conn| {
            let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            Ok(u64::try_from(pages * size).unwrap_or(0))
        })
        .await
    }

    async fn head(&self) -> Result<i64> {
        self.read(|conn| {
            Ok(conn.query_row("SELECT COALESCE(MAX(position), 0) FROM events", [], |r| r.get(0))?)
        })
        .await
    }

    async fn at_positions(&self, mut positions: Vec<i64>) -> Result<Vec<AtPosition>> {
        positions.sort_unstable();
        positions.dedup();
        self.read(move |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT id, envelope, received_at FROM events WHERE position = ?1")?;
            let mut found = Vec::with_capacity(positions.len());
            for position in positions {
                let row = stmt
                    .query_row([position], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                    })
                    .optional()?;
                if let Some((id, envelope, received_at)) = row {
                    found.push(AtPosition { position, id, envelope, received_at: parse_time(&received_at)? });
                }
            }
            Ok(found)
        })
        .await
    }

    async fn device_status(&self, device: &DeviceId) -> Result<DeviceStatus> {
        let device = device.clone();
        self.read(move |conn| load_status(conn, &device)).await
    }

    fn log_id(&self) -> &str {
        &self.inner.log_id
    }

    async fn report_holdings(&self, device: &DeviceId, seq: u64, at: Timestamp) -> Result<()> {
        let seq = seq_to_db(seq)?;
        let id = device.as_str().to_owned();
        // Read first, so that a laptop saying again what it said before takes no write lock.
        let said: Option<i64> = self
            .read({
                let id = id.clone();
                move |conn| {
                    Ok(conn
                        .prepare_cached("SELECT reported_seq FROM devices WHERE device_id = ?1")?
                        .query_row([id], |r| r.get(0))
                        .optional()?
                        .flatten())
                }
            })
            .await?;
        if said == Some(seq) {
            return Ok(());
        }
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO devices (device_id, contiguous_up_to, highest_seq, event_count, highest_seen_seq, \
                 reported_seq, reported_at) VALUES (?1, 0, 0, 0, 0, ?2, ?3) ON CONFLICT (device_id) DO UPDATE \
                 SET reported_seq = excluded.reported_seq, reported_at = excluded.reported_at \
                 WHERE reported_seq IS NOT excluded.reported_seq",
            )?
            .execute(params![id, seq, at.to_string()])?;
            Ok(())
        })
        .await
    }

    async fn devices(&self) -> Result<Vec<DeviceRecord>> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT device_id, contiguous_up_to, highest_seq, event_count, last_received_at, reported_seq, \
                 reported_at FROM devices ORDER BY device_id",
            )?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let id: String = r.get(0)?;
                let time = |t: Option<String>| t.as_deref().map(parse_time).transpose();
                out.push(DeviceRecord {
                    status: DeviceStatus {
                        device_id: DeviceId::parse(&id).map_err(|e| StorageError::Corrupt(e.to_string()))?,
                        contiguous_up_to: seq_from_db(r.get(1)?)?,
                        highest_seq: seq_from_db(r.get(2)?)?,
                        event_count: seq_from_db(r.get(3)?)?,
                        last_received_at: time(r.get(4)?)?,
                    },
                    reported_seq: r.get::<_, Option<i64>>(5)?.map(seq_from_db).transpose()?,
                    reported_at: time(r.get(6)?)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn create_token(&self, token: &TokenRecord, secret_hash: &str) -> Result<()> {
        let (token, hash) = (token.clone(), secret_hash.to_owned());
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO tokens (id, token_hash, device_id, site, role, label, created_at, revoked_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    token.id,
                    hash,
                    token.device_id.as_str(),
                    token.site,
                    token.role.as_str(),
                    token.label,
                    token.created_at.to_string(),
                    token.revoked_at.map(|t| t.to_string()),
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn find_token(&self, secret_hash: &str) -> Result<Option<TokenRecord>> {
        let hash = secret_hash.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_hash = ?1"))?
                .query_row([hash], token_row)
                .optional()?
                .map(token_record)
                .transpose()
        })
        .await
    }

    async fn token(&self, id: &str) -> Result<Option<TokenRecord>> {
        let id = id.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?1"))?
                .query_row([id], token_row)
                .optional()?
                .map(token_record)
                .transpose()
        })
        .await
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare(&format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id"))?;
            let rows = stmt.query_map([], token_row)?;
            rows.map(|row| token_record(row?)).collect()
        })
        .await
    }

    async fn revoke_token(&self, id: &str, at: Timestamp) -> Result<Option<TokenRecord>> {
        let id = id.to_owned();
        self.write(move |conn| {
            conn.execute(
                "UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                params![id, at.to_string()],
            )?;
            conn.query_row(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?1"), [id], token_row)
                .optional()?
                .map(token_record)
                .transpose()
        })
        .await
    }
}
