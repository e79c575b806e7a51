//! The laptop's event store: one SQLite file holding the append-only event log and the campaign
//! projections derived from it (the domain's fold, kept), the sync state, and the read models of
//! the home screen, find and the period balance.
//!
//! Every write is one transaction that inserts events and updates the projections they touch,
//! so the two never diverge (design invariant 2). The file is opened in WAL mode with
//! `synchronous=FULL`, so an event reported as recorded survives a power cut (invariant 3), and
//! with a busy timeout, so the desktop app and the `pluto` CLI can use the same file at once.

mod admit;
mod append;
pub mod audit;
pub mod flows;
mod maintenance;
mod meta;
mod period;
mod query;
pub mod read_models;
mod remote;
mod rows;
pub mod schema;
mod search;
mod sync;
pub mod training;
mod work;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use pluto_domain::{CampaignId, DeviceId, EventId, FieldError, Refusal};

pub use append::{Draft, Recorded, Seen};
pub use audit::{LogLine, Selection};
pub use flows::StoredFlowsError;
pub use maintenance::Drift;
pub use period::CampaignFlows;
pub use query::{CampaignSummary, ListPage, ListQuery, SortOrder};
pub use remote::RemoteReport;
pub use search::{FoundCampaign, FoundIn};
pub use sync::{HeldEvent, PullRefusal, RefusedEntry, Rejection, Rewind, StepOffer, SyncState};
pub use work::{OpenAnomaly, StageCount, StallThreshold, Work, WorkItem, MAX_STALL_DAYS};

/// Why a store operation failed. Nothing is written when an operation fails.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The entry breaks a rule of the domain.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The campaign changed since the caller read it (optimistic concurrency).
    #[error(
        "campaign {campaign_id} changed since it was loaded (expected version {expected}, it is now at version {actual}); reload it and try again"
    )]
    Conflict {
        /// The campaign.
        campaign_id: CampaignId,
        /// The version the caller expected.
        expected: u32,
        /// Its version now.
        actual: u32,
    },
    /// The entry being corrected or voided changed since the person looked at it: the message
    /// says who changed what, to what and when.
    #[error("{0}")]
    ChangedMeanwhile(String),
    /// An event id already recorded with other content.
    #[error("event {id} is already recorded with different content; an event id is never reused ({detail})")]
    IdReused {
        /// The event id.
        id: EventId,
        /// What differs.
        detail: String,
    },
    /// An incoming event (sync, import) was refused.
    #[error("event {id}: {error}")]
    InvalidEvent {
        /// The event id, or its position when unreadable.
        id: String,
        /// The refused field.
        error: FieldError,
    },
    /// A line of an import file was refused.
    #[error("line {line}: {error}")]
    ImportLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        error: Box<StoreError>,
    },
    /// The file was written by a newer version of Pluto.
    #[error(
        "the database {path} was written by a newer version of Pluto (schema version {found}; this version reads up to {supported}); update Pluto to open it",
        path = path.display()
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: u32,
        /// The newest this build knows.
        supported: u32,
    },
    /// No database at the path.
    #[error("no Pluto database at {}; run `pluto init` to create one", .0.display())]
    NotInitialized(PathBuf),
    /// Stored data that this build cannot read (a damaged file or a foreign writer).
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// The file is locked by another writer for longer than the busy timeout.
    #[error(
        "the database is busy (another Pluto window or command is writing to it); try again in a moment"
    )]
    Busy,
    /// An SQLite error.
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    /// A file error. The OS error is part of the message and not a separate source, so that
    /// printing the error with its chain (as the CLI does) does not repeat it.
    #[error("{context}: {error}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        error: std::io::Error,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => StoreError::Busy,
            _ => StoreError::Sqlite(e),
        }
    }
}

impl StoreError {
    /// Whether the caller's input was refused (as opposed to the store failing).
    pub fn is_refusal(&self) -> bool {
        match self {
            Self::Refused(_)
            | Self::Conflict { .. }
            | Self::ChangedMeanwhile(_)
            | Self::IdReused { .. }
            | Self::InvalidEvent { .. } => true,
            Self::ImportLine { error, .. } => error.is_refusal(),
            _ => false,
        }
    }
}

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The app's identifier: the desktop app keeps its data in the OS's app-data folder under this
/// name, and the `pluto` CLI defaults to the same database there.
pub const APP_IDENTIFIER: &str = "com.pluto.tracker";

/// The database file's name inside the app-data folder.
pub const DB_FILE_NAME: &str = "pluto.sqlite3";

/// How long a writer waits for another process's write transaction before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// An open local store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    device_id: DeviceId,
}

impl Store {
    /// Opens the store at `path`, creating the file (and its folder) and this installation's
    /// device id if needed, and migrating it to the current schema.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|error| StoreError::Io {
                context: format!("cannot create the folder {}", dir.display()),
                error,
            })?;
        }
        Self::open_with(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE)
    }

    /// Opens an existing store; a missing file is [`StoreError::NotInitialized`].
    pub fn open_existing(path: &Path) -> Result<Store> {
        if !path.exists() {
            return Err(StoreError::NotInitialized(path.to_owned()));
        }
        Self::open_with(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
    }

    /// Opens a connection that only reads, beside the one that writes: every read method works
    /// on it, and anything that would write fails (`PRAGMA query_only`) instead of racing the
    /// writer. The store must exist and be at this build's schema (the writer opened it first).
    pub fn open_reader(path: &Path) -> Result<Store> {
        let store = Self::open_existing(path)?;
        store.conn.pragma_update(None, "query_only", true)?;
        Ok(store)
    }

    /// Runs `f`, whose reads then all see one snapshot of the store, whatever the writer
    /// commits meanwhile: a view made of several queries (home's stages, a campaign's record)
    /// never shows a campaign in two places at once. WAL lets the writer go on; ending the
    /// read transaction changes nothing. Inside a transaction already, `f` runs in that one.
    pub fn snapshot<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Store) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        if !self.conn.is_autocommit() {
            return f(self);
        }
        self.conn.execute_batch("BEGIN DEFERRED").map_err(|e| E::from(e.into()))?;
        let result = f(self);
        self.conn.execute_batch("COMMIT").map_err(|e| E::from(e.into()))?;
        result
    }

    fn open_with(path: &Path, flags: OpenFlags) -> Result<Store> {
        if flags.contains(OpenFlags::SQLITE_OPEN_CREATE) {
            pluto_files::create_owner_only(path).map_err(|error| StoreError::Io {
                context: format!("cannot create the database {}", path.display()),
                error,
            })?;
        }
        pluto_files::retry_while_busy(
            BUSY_TIMEOUT,
            || {
                let mut conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
                configure(&conn)?;
                schema::migrate(&mut conn, path)?;
                maintenance::refold_if_needed(&mut conn)?;
                maintenance::refold_for_registry(&mut conn)?;
                maintenance::build_search_if_needed(&mut conn)?;
                maintenance::fill_flows_if_needed(&mut conn)?;
                let device_id = ensure_device_id(&conn)?;
                Ok(Store { conn, path: path.to_owned(), device_id })
            },
            |e| matches!(e, StoreError::Busy),
        )
    }

    /// This installation's device id; every event recorded here carries it.
    pub fn device_id(&self) -> &DeviceId {
        &self.device_id
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying connection, for benchmarks and tests that compare against raw SQLite.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// The pragmas every connection to a store uses: WAL, full fsync on commit, foreign keys, a
/// busy timeout, stable query plans and in-memory statement journals. Benchmarks apply the
/// same to their raw baselines.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Keep query plans stable: without this, rusqlite's statement cache clearing the bindings
    // makes SQLite re-prepare statements whose plan peeked at a bound value, on every use.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Statement journals (statements with triggers inside a transaction) stay in memory.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

fn ensure_device_id(conn: &Connection) -> Result<DeviceId> {
    let stored: Option<String> =
        conn.query_row("SELECT value FROM meta WHERE key = 'device_id'", [], |r| r.get(0)).optional()?;
    if let Some(id) = stored {
        return DeviceId::parse(&id).map_err(|e| StoreError::Corrupt(format!("meta.device_id: {e}")));
    }
    let id = DeviceId::generate();
    // OR IGNORE: another process may have created the file at the same moment; keep its id.
    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('device_id', ?1)", [id.as_str()])?;
    let id: String = conn.query_row("SELECT value FROM meta WHERE key = 'device_id'", [], |r| r.get(0))?;
    DeviceId::parse(&id).map_err(|e| StoreError::Corrupt(format!("meta.device_id: {e}")))
}

#[cfg(test)]
mod tests;
