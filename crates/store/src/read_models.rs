//! What the store writes, part by part: the event log, and each read model kept beside it, with
//! the tables and indexes (SQLite's b-trees) each one owns and what an entry writes to them.
//! Every b-tree of the schema belongs to exactly one part (a test checks it), so that a new read
//! model declares its cost here, and `pluto-bench write-budget` reports each part's share of
//! what an entry writes.

/// One part of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadModel {
    /// Its name, as the benchmark reports it.
    pub name: &'static str,
    /// The tables and indexes it owns.
    pub btrees: &'static [&'static str],
    /// What one entry writes to it, in words.
    pub per_entry: &'static str,
}

/// Every part of the store, the log first.
pub const READ_MODELS: &[ReadModel] = &[
    ReadModel {
        name: "event log",
        btrees: &[
            "events",
            "sqlite_autoindex_events_1",
            "sqlite_autoindex_events_2",
            "events_by_stream",
            "events_unsynced",
            "events_kept_raw",
        ],
        per_entry: "one row, and its key in the id, device-sequence, stream-order and unsynced indexes",
    },
    ReadModel {
        name: "projection",
        btrees: &["campaign_projections", "sqlite_autoindex_campaign_projections_1"],
        per_entry: "the campaign's row, rewritten (its state, anomalies and period flows)",
    },
    ReadModel {
        name: "campaign list",
        btrees: &[
            "campaign_projections_by_activity",
            "campaign_projections_by_status",
            "campaign_status_counts",
            "sqlite_autoindex_campaign_status_counts_1",
        ],
        per_entry: "the campaign's key moved in the by-activity and by-status indexes; on a status change, two counts",
    },
    ReadModel {
        name: "home",
        btrees: &["campaign_projections_by_stage_age", "campaign_projections_with_anomalies"],
        per_entry: "on a status change the campaign's key moves in the by-stage index; with anomalies, in theirs",
    },
    ReadModel {
        name: "find",
        btrees: &[
            "search_index",
            "search_index_data",
            "search_index_idx",
            "search_index_docsize",
            "search_index_config",
            "search_pending",
        ],
        per_entry: "the entry's text values in search_pending; every 64 entries, their words and first one to four characters as a new segment of the index",
    },
    ReadModel {
        name: "sync and settings",
        btrees: &[
            "meta",
            "sqlite_autoindex_meta_1",
            "push_receipts",
            "sqlite_autoindex_push_receipts_1",
            "pull_refusals",
            "sync_rejections",
            "sqlite_autoindex_sync_rejections_1",
        ],
        per_entry: "nothing: written by sync and by settings",
    },
];

/// The part that owns the table or index `btree`, if any.
pub fn owner(btree: &str) -> Option<&'static ReadModel> {
    READ_MODELS.iter().find(|m| m.btrees.contains(&btree))
}
