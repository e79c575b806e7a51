//! Benchmarks of the Pluto event store, each measured next to a raw SQLite baseline run in the
//! same process on the same kind of file with the same pragmas, so that every figure comes with
//! the ratio that says what Pluto's own work costs on this machine.
//!
//! The targets come from the performance issue: appends at 0.7 of a bare insert transaction,
//! rebuild at 0.4 of a bare scan and under 200 MB, a list page under 5 ms, apply-remote at 0.5
//! of a bare batched insert. `docs/benchmarks.md` describes them and records a run.
//!
//! The sync server's benchmarks ([`Bench::Sync`], [`Bench::Devices`]) run the real
//! `pluto-server` binary in a child process on each backend, SQLite and PostgreSQL, with the
//! simulated laptops in this process talking to it over loopback through `SyncClient`.

mod app;
mod append;
mod bare;
mod baseline;
mod budget;
mod devices;
mod export;
mod gen;
mod laptop;
mod list;
mod pdf;
mod period;
mod pg;
mod pull;
mod rebuild;
mod remote;
mod replay;
mod report;
mod server;
mod sync;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

pub use devices::Load;
pub use pg::DEFAULT_DATABASE_URL;
pub use rebuild::child as rebuild_child;
pub use report::{table, table_with, Figure};
pub use server::Backend;
use server::ServerBin;

/// A benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bench {
    /// `Store::record`, one durable transaction per entry.
    Append,
    /// What one entry writes, by part of the store, in pages.
    WriteBudget,
    /// `Store::apply_remote` in batches of 1,000.
    ApplyRemote,
    /// `Store::apply_pulled`: a fresh laptop's pull in pages of 1,000, every event checked.
    Pull,
    /// A 1,000-event campaign read and folded from its first event.
    Replay,
    /// `Store::list`, one page filtered by status.
    List,
    /// `Store::rebuild` of every projection, with its peak memory.
    Rebuild,
    /// The sync server: one laptop's push and pull over loopback, on each backend.
    Sync,
    /// The sync server: many laptops syncing at once, on each backend.
    Devices,
    /// The desktop app's `record_event`: one entry and the updated view of a 100-event campaign.
    RecordView,
    /// The desktop app's real window: launch to list on screen, idle memory.
    Window,
    /// `pluto_reports::audit::export` and `audit::verify` against the plain export.
    AuditExport,
    /// `pluto_reports::period::report` over every campaign against a raw scan of their projections.
    PeriodReport,
    /// The custody PDF of a 100-event campaign against a bare read of its rows.
    CustodyPdf,
}

impl Bench {
    /// Every benchmark of the event store, quickest first.
    pub const ALL: [Bench; 11] = [
        Bench::Append,
        Bench::WriteBudget,
        Bench::RecordView,
        Bench::CustodyPdf,
        Bench::Replay,
        Bench::ApplyRemote,
        Bench::Pull,
        Bench::List,
        Bench::PeriodReport,
        Bench::AuditExport,
        Bench::Rebuild,
    ];

    /// The sync server's benchmarks.
    pub const SERVER: [Bench; 2] = [Bench::Sync, Bench::Devices];
}

/// Sizes and places.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the database files go (each benchmark uses its own files).
    pub dir: PathBuf,
    /// Entries recorded by the append benchmark.
    pub appends: u64,
    /// Events applied by the apply-remote benchmark.
    pub remote_events: u64,
    /// Campaigns in the list benchmark's store.
    pub campaigns: u64,
    /// Page queries per list figure.
    pub queries: u64,
    /// Events in the rebuild benchmark's log.
    pub events: u64,
    /// This benchmark's executable, re-run as the rebuild child.
    pub child_exe: PathBuf,
    /// The server side of the sync benchmarks.
    pub server: ServerConfig,
    /// The desktop app's binary (a release build with the UI embedded) for the window benchmark.
    pub app: PathBuf,
    /// The minimal Tauri window (`crates/minimal-window`, release build) the window benchmark
    /// compares the app's idle memory with.
    pub baseline_app: PathBuf,
    /// Campaigns in the window benchmark's store.
    pub window_campaigns: u64,
    /// Entries the record-view benchmark times (one per 100-event campaign).
    pub record_views: u32,
}

/// What the sync server's benchmarks run against, and their sizes.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The `pluto-server` binary (checked when a server benchmark starts).
    pub bin: PathBuf,
    /// The command that builds it, for the message when it is missing.
    pub build_command: String,
    /// The backends to run on, each in turn.
    pub backends: Vec<Backend>,
    /// The PostgreSQL server (each run makes schemas of its own there and drops them).
    pub database_url: String,
    /// Events pushed, then pulled, by the sync benchmark.
    pub sync_events: u64,
    /// The many-devices load.
    pub load: Load,
}

impl ServerConfig {
    /// The sizes: 100,000 events each way; 200 devices syncing 10 times each.
    pub fn new(bin: PathBuf, build_command: &str, database_url: String) -> Self {
        ServerConfig {
            bin,
            build_command: build_command.to_owned(),
            backends: Backend::BOTH.to_vec(),
            database_url,
            sync_events: 100_000,
            load: Load {
                devices: 200,
                syncs: 10,
                batch: 5,
                pause: Duration::from_secs(1),
                herd: false,
                time_limit: Duration::from_secs(120),
            },
        }
    }
}

/// Runs one benchmark and returns its figures.
pub fn run(bench: Bench, config: &Config) -> Result<Vec<Figure>> {
    Ok(match bench {
        Bench::Append => vec![append::run(&config.dir, config.appends)?],
        Bench::WriteBudget => budget::run(&config.dir, config.appends)?,
        Bench::RecordView => vec![app::record_view(&config.dir, config.record_views)?],
        Bench::Window => {
            app::window(&config.dir, &config.app, &config.baseline_app, config.window_campaigns, 5)?
        }
        Bench::ApplyRemote => remote::run(&config.dir, config.remote_events)?,
        Bench::Pull => pull::run(&config.dir, config.remote_events)?,
        Bench::Replay => replay::run(&config.dir, config.queries)?,
        Bench::List => list::run(&config.dir, config.campaigns, config.queries)?,
        Bench::Rebuild => rebuild::run(&config.dir, config.events, &config.child_exe)?,
        Bench::AuditExport => export::run(&config.dir, config.events)?,
        Bench::PeriodReport => vec![period::run(&config.dir, config.events, config.campaigns)?],
        Bench::CustodyPdf => vec![pdf::run(&config.dir, config.record_views)?],
        Bench::Sync | Bench::Devices => {
            let s = &config.server;
            let bin = ServerBin::new(&s.bin, &s.build_command)?;
            eprintln!("using the server binary {}", s.bin.display());
            let mut figures = Vec::new();
            for &backend in &s.backends {
                eprintln!("running {bench:?} on {}", backend.title());
                figures.extend(if bench == Bench::Sync {
                    sync::run(backend, s.sync_events, &config.dir, &s.database_url, &bin)?
                } else {
                    devices::run(backend, &s.load, &config.dir, &s.database_url, &bin)?
                });
            }
            figures
        }
    })
}
