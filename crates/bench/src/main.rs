//! `pluto-bench`: runs the store benchmarks and prints their results as a markdown table, each
//! figure next to its raw SQLite baseline, the ratio and the target; the sync server's
//! benchmarks print a second table, next to bare database baselines. Progress goes to stderr,
//! the tables to stdout.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use pluto_bench::{run, table, table_with, Backend, Bench, Config, ServerConfig};

#[derive(Parser)]
#[command(
    name = "pluto-bench",
    version,
    about = "Benchmarks of the Pluto event store against raw SQLite, and of the sync server"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Events in the rebuild and audit-export benchmarks' logs
    #[arg(long, global = true, default_value_t = 1_000_000)]
    events: u64,
    /// Campaigns in the list benchmark's store
    #[arg(long, global = true, default_value_t = 100_000)]
    campaigns: u64,
    /// Entries recorded by the append benchmark
    #[arg(long, global = true, default_value_t = 2_000)]
    appends: u64,
    /// Events applied by the apply-remote benchmark
    #[arg(long, global = true, default_value_t = 100_000)]
    remote_events: u64,
    /// Page queries per list figure
    #[arg(long, global = true, default_value_t = 200)]
    queries: u64,
    /// Folder for the database files (a temporary folder inside it, removed afterwards)
    /// [default: the system's temporary folder]
    #[arg(long, global = true, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The pluto-server binary the sync benchmarks run
    /// [default: pluto-server next to this executable]
    #[arg(long, global = true, value_name = "PATH")]
    server_bin: Option<PathBuf>,
    /// The PostgreSQL server of the sync benchmarks (each run creates schemas there and drops them)
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "PLUTO_TEST_DATABASE_URL",
        hide_env_values = true,
        default_value = pluto_bench::DEFAULT_DATABASE_URL
    )]
    database_url: String,
    /// The server backends the sync benchmarks run on
    #[arg(long, global = true, value_enum, default_value_t = Backends::Both)]
    backend: Backends,
    /// Events pushed, then pulled, by the sync benchmark
    #[arg(long, global = true, default_value_t = 100_000)]
    sync_events: u64,
    /// Devices syncing at once in the devices benchmark
    #[arg(long, global = true, default_value_t = 200)]
    devices: u64,
    /// Syncs per device
    #[arg(long, global = true, default_value_t = 10)]
    syncs: u64,
    /// Events each device pushes per sync
    #[arg(long, global = true, default_value_t = 5)]
    device_batch: u64,
    /// A device's mean pause between syncs, in milliseconds (drawn from 0 to twice this)
    #[arg(long, global = true, value_name = "MS", default_value_t = 1_000)]
    pause_ms: u64,
    /// Start every device's first sync at the same instant (a herd), instead of at a random
    /// moment of its first pause, as devices already syncing would be
    #[arg(long, global = true)]
    herd: bool,
    /// The desktop app the window benchmark launches
    /// [default: pluto-tracker next to this executable]
    #[arg(long, global = true, value_name = "PATH")]
    app: Option<PathBuf>,
    /// The minimal Tauri window the window benchmark compares the app's idle memory with
    /// [default: pluto-minimal-window next to this executable]
    #[arg(long, global = true, value_name = "PATH")]
    baseline_app: Option<PathBuf>,
    /// Campaigns in the window benchmark's store
    #[arg(long, global = true, default_value_t = 10_000)]
    window_campaigns: u64,
    /// Entries the record-view benchmark times, each on its own 100-event campaign
    #[arg(long, global = true, default_value_t = 50)]
    record_views: u32,
}

/// Which server backends to run on.
#[derive(Clone, Copy, ValueEnum)]
enum Backends {
    Both,
    Sqlite,
    Postgres,
}

#[derive(Subcommand)]
enum Command {
    /// Every benchmark (the default)
    All,
    /// Store::record against a bare single-row insert transaction
    Append,
    /// What one entry writes, by part of the store, in pages (--appends entries)
    WriteBudget,
    /// A 1,000-event campaign read and folded, against a bare read of its rows (--queries runs)
    Replay,
    /// Store::rebuild against a bare scan of the log, and its peak memory
    Rebuild,
    /// pluto_reports::audit::export and verifying its file against the plain Store::export (--events)
    AuditExport,
    /// Store::list against the bare page query
    List,
    /// The custody PDF of a 100-event campaign against a bare read of its rows (--record-views
    /// campaigns)
    CustodyPdf,
    /// pluto_reports::period::report over every campaign against a raw scan of their projections
    /// (--events, --campaigns)
    PeriodReport,
    /// Store::apply_remote against a bare batched insert
    ApplyRemote,
    /// Store::apply_pulled: a fresh laptop's pull, every event checked, against a bare batched
    /// insert (--remote-events)
    Pull,
    /// The sync server: one laptop pushes, then pulls, over loopback, against a bare batched insert
    Sync,
    /// The sync server: many laptops syncing at once (latency, errors, server memory)
    Devices,
    /// Both sync server benchmarks
    Server,
    /// The desktop app's record_event (one entry and the updated view) against a bare insert and read
    RecordView,
    /// The desktop app's real window: launch to list on screen, idle memory (needs a display)
    Window,
    /// Measures the rebuild in this separate process (run by `rebuild`)
    #[command(hide = true)]
    RebuildChild {
        /// The store to rebuild
        #[arg(long)]
        db: PathBuf,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let benches = match cli.command.unwrap_or(Command::All) {
        Command::All => Bench::ALL.to_vec(),
        Command::Append => vec![Bench::Append],
        Command::WriteBudget => vec![Bench::WriteBudget],
        Command::Replay => vec![Bench::Replay],
        Command::Rebuild => vec![Bench::Rebuild],
        Command::AuditExport => vec![Bench::AuditExport],
        Command::List => vec![Bench::List],
        Command::PeriodReport => vec![Bench::PeriodReport],
        Command::CustodyPdf => vec![Bench::CustodyPdf],
        Command::ApplyRemote => vec![Bench::ApplyRemote],
        Command::Pull => vec![Bench::Pull],
        Command::Sync => vec![Bench::Sync],
        Command::Devices => vec![Bench::Devices],
        Command::Server => Bench::SERVER.to_vec(),
        Command::RecordView => vec![Bench::RecordView],
        Command::Window => vec![Bench::Window],
        Command::RebuildChild { db } => return pluto_bench::rebuild_child(&db),
    };
    let dir = match &cli.dir {
        Some(parent) => {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
            tempfile::Builder::new().prefix("pluto-bench-").tempdir_in(parent)?
        }
        None => tempfile::Builder::new().prefix("pluto-bench-").tempdir()?,
    };
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let server_bin = cli.server_bin.clone().unwrap_or_else(|| exe.with_file_name("pluto-server"));
    let mut server =
        ServerConfig::new(server_bin, "cargo build --release -p pluto-server", cli.database_url.clone());
    server.backends = match cli.backend {
        Backends::Both => Backend::BOTH.to_vec(),
        Backends::Sqlite => vec![Backend::Sqlite],
        Backends::Postgres => vec![Backend::Postgres],
    };
    server.sync_events = cli.sync_events;
    server.load.devices = cli.devices;
    server.load.syncs = cli.syncs;
    server.load.batch = cli.device_batch;
    server.load.pause = Duration::from_millis(cli.pause_ms);
    server.load.herd = cli.herd;
    let config = Config {
        dir: dir.path().to_owned(),
        appends: cli.appends,
        remote_events: cli.remote_events,
        campaigns: cli.campaigns,
        queries: cli.queries,
        events: cli.events,
        app: cli.app.clone().unwrap_or_else(|| exe.with_file_name("pluto-tracker")),
        baseline_app: cli.baseline_app.clone().unwrap_or_else(|| exe.with_file_name("pluto-minimal-window")),
        window_campaigns: cli.window_campaigns,
        record_views: cli.record_views,
        child_exe: exe,
        server,
    };
    let (mut store, mut server) = (Vec::new(), Vec::new());
    for bench in benches {
        eprintln!("running {bench:?} in {}", dir.path().display());
        let figures = run(bench, &config)?;
        if Bench::SERVER.contains(&bench) { &mut server } else { &mut store }.extend(figures);
    }
    if !store.is_empty() {
        print!("{}", table(&store));
    }
    if !server.is_empty() {
        if !store.is_empty() {
            println!();
        }
        print!("{}", table_with(&server, "bare database baseline"));
    }
    Ok(())
}
