//! The bare side of the sync server's comparisons: the same rows the server stores, written into
//! the server's own `events` table in a database of their own with a bare batched `INSERT`, and
//! read back with the bare page query, nothing else.
//!
//! The table comes from the server's own migrations (see [`crate::server::ServerBin::migrate`]),
//! so its columns, constraints and indexes are the server's whatever migrations come. SQLite
//! runs with the server's pragmas; PostgreSQL with the server's driver. Rows are rendered before
//! the clock starts, so the baseline times the database alone.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use pluto_domain::{Event, Timestamp};
use rusqlite::{params, Connection, TransactionBehavior};
use tokio_postgres::types::ToSql;
use tokio_postgres::Statement;

use crate::pg::Pg;
use crate::server::Data;

/// The columns the server writes, in the order the rows bind them.
const COLUMNS: &str =
    "position, id, stream_id, event_type, device_id, device_seq, created_at, received_at, envelope";

/// The server's page query (`position > after`, one row more than the page to see `hasMore`).
const PAGE_SQL: &str = "SELECT position, received_at, envelope FROM events WHERE position > $1 \
                        ORDER BY position LIMIT $2";

/// A row of the server's `events`, ready to bind.
pub struct Row {
    position: i64,
    id: String,
    stream_id: String,
    event_type: &'static str,
    device_id: String,
    device_seq: i64,
    created_at: DateTime<Utc>,
    created_text: String,
    received_at: DateTime<Utc>,
    received_text: String,
    envelope: String,
}

impl Row {
    /// `event` as the server stores it at `position`, received at `received_at`.
    pub fn new(position: i64, event: &Event, received_at: Timestamp) -> Result<Row> {
        Ok(Row {
            position,
            id: event.id.to_string(),
            stream_id: event.stream_id.to_string(),
            event_type: event.event_type.as_str(),
            device_id: event.device_id.to_string(),
            device_seq: i64::try_from(event.device_seq)?,
            created_at: event.created_at.datetime(),
            created_text: event.created_at.to_string(),
            received_at: received_at.datetime(),
            received_text: received_at.to_string(),
            // The server stores the whole event as its JSON.
            envelope: serde_json::to_string(event)?,
        })
    }
}

/// A bare connection to a baseline database.
pub enum Bare {
    /// SQLite, with the server's pragmas.
    Sqlite(Connection),
    /// PostgreSQL, with one prepared multi-row `INSERT` per batch size.
    Postgres(Pg, HashMap<usize, Statement>),
}

/// How long a connection waits for a lock, as the server's.
const BUSY_TIMEOUT_MS: u32 = 10_000;

impl Bare {
    /// Opens `data`, which the server's migrations have created.
    pub fn open(data: &Data) -> Result<Bare> {
        Ok(match data {
            Data::Sqlite(path) => {
                let conn = Connection::open(path)?;
                // The server's pragmas (crates/server/src/storage/sqlite.rs), so that both sides
                // pay the same durability.
                conn.pragma_update(None, "busy_timeout", BUSY_TIMEOUT_MS)?;
                conn.pragma_update(None, "foreign_keys", "ON")?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn.pragma_update(None, "synchronous", "FULL")?;
                Bare::Sqlite(conn)
            }
            Data::Postgres(schema) => Bare::Postgres(Pg::connect(&schema.url)?, HashMap::new()),
        })
    }

    /// Prepares what [`Bare::insert`] of `rows` rows needs, so that the clock does not include
    /// planning (the server's pooled connections cache their statements too).
    pub fn prepare(&mut self, rows: usize) -> Result<()> {
        match self {
            Bare::Sqlite(conn) => {
                conn.prepare_cached(&insert_sql(1, '?'))?;
            }
            Bare::Postgres(pg, statements) => {
                if let Entry::Vacant(slot) = statements.entry(rows) {
                    slot.insert(pg.run(pg.client().prepare(&insert_sql(rows, '$')))?);
                }
            }
        }
        Ok(())
    }

    /// Inserts `rows` in one durable transaction: SQLite one prepared `INSERT` per row under
    /// `BEGIN IMMEDIATE` as the server writes, PostgreSQL one multi-row `INSERT`.
    pub fn insert(&mut self, rows: &[Row]) -> Result<()> {
        match self {
            Bare::Sqlite(conn) => {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                {
                    let mut stmt = tx.prepare_cached(&insert_sql(1, '?'))?;
                    for r in rows {
                        stmt.execute(params![
                            r.position,
                            r.id,
                            r.stream_id,
                            r.event_type,
                            r.device_id,
                            r.device_seq,
                            r.created_text,
                            r.received_text,
                            r.envelope,
                        ])?;
                    }
                }
                tx.commit()?;
            }
            Bare::Postgres(pg, statements) => {
                let Some(statement) = statements.get(&rows.len()) else {
                    bail!("no INSERT prepared for {} rows", rows.len());
                };
                let mut values: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(rows.len() * 9);
                for r in rows {
                    values.extend([
                        &r.position as &(dyn ToSql + Sync),
                        &r.id,
                        &r.stream_id,
                        &r.event_type,
                        &r.device_id,
                        &r.device_seq,
                        &r.created_at,
                        &r.received_at,
                        &r.envelope,
                    ]);
                }
                let client = pg.client();
                pg.run(async {
                    client.batch_execute("BEGIN").await?;
                    client.execute(statement, &values).await?;
                    client.batch_execute("COMMIT").await
                })?;
            }
        }
        Ok(())
    }

    /// Reads every row after position 0 in pages of `page` with the server's page query, every
    /// column it reads decoded, the envelope left as text; returns how many rows.
    pub fn read_pages(&mut self, page: u32) -> Result<u64> {
        let limit = i64::from(page) + 1;
        let (mut after, mut count) = (0i64, 0u64);
        match self {
            Bare::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(&PAGE_SQL.replace('$', "?"))?;
                loop {
                    let rows: Vec<(i64, String, String)> = stmt
                        .query_map(params![after, limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                        .collect::<rusqlite::Result<_>>()?;
                    let taken = rows.len().min(page as usize);
                    if let Some(last) = rows[..taken].last() {
                        after = last.0;
                    }
                    count += taken as u64;
                    if rows.len() <= page as usize {
                        break;
                    }
                }
            }
            Bare::Postgres(pg, _) => {
                let client = pg.client();
                let stmt = pg.run(client.prepare(PAGE_SQL))?;
                loop {
                    let rows = pg.run(client.query(&stmt, &[&after, &limit]))?;
                    let taken = rows.len().min(page as usize);
                    for row in &rows[..taken] {
                        let _: (DateTime<Utc>, &str) = (row.try_get(1)?, row.try_get(2)?);
                        after = row.try_get(0)?;
                    }
                    count += taken as u64;
                    if rows.len() <= page as usize {
                        break;
                    }
                }
            }
        }
        Ok(count)
    }
}

/// `INSERT INTO events (…) VALUES (…), (…), …` for `rows` rows, with `?N` or `$N` placeholders.
fn insert_sql(rows: usize, placeholder: char) -> String {
    let groups: Vec<String> = (0..rows)
        .map(|r| {
            let cells: Vec<String> = (1..=9).map(|c| format!("{placeholder}{}", r * 9 + c)).collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    format!("INSERT INTO events ({COLUMNS}) VALUES {}", groups.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_row_inserts_number_every_cell() {
        assert_eq!(
            insert_sql(2, '$'),
            format!(
                "INSERT INTO events ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9), \
                 ($10, $11, $12, $13, $14, $15, $16, $17, $18)"
            )
        );
    }
}
