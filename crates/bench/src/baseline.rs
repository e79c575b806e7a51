//! The raw SQLite side of every comparison: a database with the store's own schema, opened with
//! the store's own pragmas, written and read with bare prepared statements and nothing else.
//!
//! Rows are rendered to text before the clock starts, so the baselines time SQLite alone and
//! every cost Pluto adds on top (validation, JSON, projections) shows in the ratio.

use std::path::Path;

use anyhow::Result;
use pluto_domain::Event;
use pluto_store::Store;
use rusqlite::{params, Connection, TransactionBehavior};

/// The columns of `events` Pluto reads and writes, in its order.
pub const EVENT_COLUMNS: &str =
    "id, stream_type, stream_id, event_type, schema_version, data, user_id, device_id, device_seq, created_at";

/// A row of `events`, ready to bind.
pub struct Row {
    id: String,
    stream_type: String,
    stream_id: String,
    event_type: &'static str,
    schema_version: u32,
    data: String,
    user_id: String,
    device_id: String,
    device_seq: i64,
    created_at: String,
}

impl From<&Event> for Row {
    fn from(e: &Event) -> Self {
        Row {
            id: e.id.to_string(),
            stream_type: e.stream_type.clone(),
            stream_id: e.stream_id.to_string(),
            event_type: e.event_type.as_str(),
            schema_version: e.schema_version,
            data: e.data.to_string(),
            user_id: e.user_id.to_string(),
            device_id: e.device_id.to_string(),
            device_seq: e.device_seq as i64,
            created_at: e.created_at.to_string(),
        }
    }
}

/// Creates a baseline database at `path` and opens it raw. The store creates the file, so the
/// baseline `events` table has exactly Pluto's columns, constraints and indexes, whatever
/// migrations come; after that only the bare connection touches it.
pub fn create(path: &Path) -> Result<Connection> {
    drop(Store::open(path)?);
    open(path)
}

/// Opens an existing database (a store's file) with the store's pragmas, to read it raw.
pub fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    pluto_store::configure(&conn)?;
    Ok(conn)
}

fn insert(conn: &Connection, row: &Row) -> Result<()> {
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO events ({EVENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))?;
    stmt.execute(params![
        row.id,
        row.stream_type,
        row.stream_id,
        row.event_type,
        row.schema_version,
        row.data,
        row.user_id,
        row.device_id,
        row.device_seq,
        row.created_at,
    ])?;
    Ok(())
}

/// Inserts `rows` in one durable transaction, taken the way the store takes its own
/// (`BEGIN IMMEDIATE`).
pub fn insert_transaction(conn: &mut Connection, rows: &[Row]) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for row in rows {
        insert(&tx, row)?;
    }
    tx.commit()?;
    Ok(())
}
