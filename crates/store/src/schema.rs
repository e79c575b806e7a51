//! Schema migrations of the local store: the SQL files under this crate's `migrations/`,
//! embedded at compile time and applied in order. `PRAGMA user_version` is the schema version.

use rusqlite::Connection;

use super::StoreError;

/// Every migration, in order; index + 1 is the schema version it produces.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_sync_state.sql"),
    include_str!("../migrations/0003_status_counts.sql"),
    include_str!("../migrations/0004_projection_columns.sql"),
    include_str!("../migrations/0005_tolerant_reader.sql"),
    include_str!("../migrations/0006_server_site.sql"),
    include_str!("../migrations/0007_work_queue.sql"),
    include_str!("../migrations/0008_search.sql"),
    include_str!("../migrations/0009_resolving_mistakes.sql"),
    include_str!("../migrations/0010_period_balance.sql"),
    include_str!("../migrations/0011_compact_flows.sql"),
    include_str!("../migrations/0012_canonical_order.sql"),
    include_str!("../migrations/0013_find_per_entry.sql"),
    include_str!("../migrations/0014_mass_plausibility.sql"),
    include_str!("../migrations/0015_dated_steps.sql"),
    include_str!("../migrations/0016_server_restored.sql"),
];

/// Repairs run just before the migration at the same index of [`MIGRATIONS`], in its
/// transaction, for files that an early build wrote otherwise than that migration expects
/// (shipped migrations are never edited). The first build (schema 1) kept no `recordedSteps` in
/// its projections, which migration 4 copies into a required column: it gets a placeholder,
/// and migration 12 folds every projection again anyway.
const REPAIRS: &[(usize, &str)] = &[(
    3,
    "UPDATE campaign_projections SET state = json_set(state, '$.recordedSteps', 0)
     WHERE json_type(state, '$.recordedSteps') IS NULL",
)];

/// The schema version this build writes.
pub const STORE_SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database to [`STORE_SCHEMA_VERSION`], each migration in its own transaction; refuses a
/// database written by a newer build. The version is read inside the write transaction, so two
/// processes opening a new file at once do not both run the same migration.
pub fn migrate(conn: &mut Connection, path: &std::path::Path) -> Result<(), StoreError> {
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Reading the schema table makes SQLite reload its cached schema if another process
        // migrated meanwhile; `PRAGMA user_version` alone does not, and a migration prepared
        // against the stale schema fails (`DROP COLUMN` of a column it does not know yet).
        tx.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get::<_, i64>(0))?;
        let found: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found > STORE_SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                path: path.to_owned(),
                found,
                supported: STORE_SCHEMA_VERSION,
            });
        }
        let Some(sql) = MIGRATIONS.get(found as usize) else {
            return Ok(());
        };
        for (_, repair) in REPAIRS.iter().filter(|(before, _)| *before == found as usize) {
            tx.execute_batch(repair)?;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", found + 1)?;
        tx.commit()?;
    }
}
