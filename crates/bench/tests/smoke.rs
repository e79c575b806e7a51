//! Runs every benchmark at a tiny scale so the benchmark cannot rot: each must complete and do
//! the work it claims. No timing is asserted; timings belong in `docs/benchmarks.md`.
//!
//! The sync server's benchmarks run the workspace's debug `pluto-server` binary (cargo builds
//! it for `cargo test --workspace`; `cargo build -p pluto-server` otherwise) on both backends,
//! PostgreSQL at `PLUTO_TEST_DATABASE_URL` or the local default: like the server's own tests,
//! they fail rather than skip when either is missing.

use std::path::PathBuf;
use std::time::Duration;

use pluto_bench::{run, Bench, Config, ServerConfig};

/// `target/debug/pluto-server`, next to the folder holding this test binary (`target/debug/deps`).
fn debug_server_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().expect("the test binary's folder");
    deps.parent().expect("the target profile folder").join("pluto-server")
}

fn config(dir: &std::path::Path) -> Config {
    let database_url = std::env::var("PLUTO_TEST_DATABASE_URL")
        .unwrap_or_else(|_| pluto_bench::DEFAULT_DATABASE_URL.to_owned());
    let mut server = ServerConfig::new(debug_server_bin(), "cargo build -p pluto-server", database_url);
    server.sync_events = 2_000;
    server.load.devices = 5;
    server.load.syncs = 3;
    server.load.batch = 4;
    server.load.pause = Duration::from_millis(20);
    Config {
        dir: dir.to_owned(),
        appends: 300,
        remote_events: 2_000,
        campaigns: 200,
        queries: 24,
        events: 2_000,
        child_exe: env!("CARGO_BIN_EXE_pluto-bench").into(),
        server,
        // The window benchmark needs a display and a release build: `pluto-bench window`.
        app: "target/release/pluto-tracker".into(),
        baseline_app: "target/release/pluto-minimal-window".into(),
        window_campaigns: 0,
        record_views: 2,
    }
}

#[test]
fn every_benchmark_completes_at_a_tiny_scale() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());

    let append = run(Bench::Append, &config).unwrap();
    assert_eq!((append[0].pluto_count, append[0].baseline_count), (300, 300));

    let remote = run(Bench::ApplyRemote, &config).unwrap();
    assert_eq!((remote[0].pluto_count, remote[0].baseline_count), (2_000, 2_000));

    // Every pulled event is checked and taken: none is refused.
    let pull = run(Bench::Pull, &config).unwrap();
    assert_eq!((pull[0].pluto_count, pull[1].pluto_count, pull[0].baseline_count), (2_000, 2_000, 2_000));

    let view = run(Bench::RecordView, &config).unwrap();
    assert_eq!((view[0].pluto_count, view[0].baseline_count), (2, 2));

    let audit = run(Bench::AuditExport, &config).unwrap();
    assert_eq!((audit[0].pluto_count, audit[0].baseline_count), (2_000, 2_000));
    assert_eq!((audit[1].pluto_count, audit[2].pluto_count), (2_000, 2_000));

    let pdf = run(Bench::CustodyPdf, &config).unwrap();
    assert_eq!((pdf[0].pluto_count, pdf[0].baseline_count), (2, 2));

    let period = run(Bench::PeriodReport, &config).unwrap();
    assert!(period[0].pluto_count > 100, "{:?}", period[0]);
    assert_eq!(period[0].pluto_count, period[0].baseline_count);

    // Every page an entry writes belongs to one declared read model, the log or the bare insert.
    let budget = run(Bench::WriteBudget, &config).unwrap();
    assert!(budget[0].pluto_count > budget[0].baseline_count, "{:?}", budget[0]);
    let parts: u64 = budget[1..].iter().map(|f| f.pluto_count).sum();
    assert_eq!(parts, budget[0].pluto_count, "the parts add up to the whole");

    let replay = run(Bench::Replay, &config).unwrap();
    assert_eq!((replay[0].pluto_count, replay[0].baseline_count), (24, 24));
    assert_eq!(replay.len(), 3, "read and fold, the fold alone, the window's record");

    let list = run(Bench::List, &config).unwrap();
    assert_eq!(list.len(), 5, "home, find (a whole and a half-typed reference) and two list pages");
    for figure in &list {
        assert!(figure.pluto_count > 0, "{}", figure.name);
        // Home's baseline reads one stage's page; Pluto's queue merges all of MBA's stages.
        // Find's bare query gives the candidate entries of the words' first characters, of
        // which Pluto keeps the campaigns of those holding every word whole.
        if figure.name.starts_with("find") {
            assert!(figure.pluto_count <= figure.baseline_count, "{}", figure.name);
        } else if !figure.name.starts_with("home") {
            assert_eq!(figure.pluto_count, figure.baseline_count, "{}", figure.name);
        }
    }

    let rebuild = run(Bench::Rebuild, &config).unwrap();
    assert_eq!(rebuild.len(), 3, "the projections, their memory and the find index");
    assert!(rebuild[2].pluto_count > 0 && rebuild[2].pluto_count <= 2_000, "{:?}", rebuild[2]);
    // About 12 events per campaign, so 2,000 events make well over 100 campaigns.
    assert!(rebuild[0].pluto_count > 100, "{:?}", rebuild[0]);
    assert_eq!(rebuild[0].baseline_count, 2_000);

    for figure in
        append.iter().chain(&view).chain(&remote).chain(&list).chain(&rebuild).chain(&period).chain(&pdf)
    {
        assert!(figure.ratio.is_none_or(|r| r.is_finite() && r > 0.0), "{figure:?}");
    }
    assert!(pluto_bench::table(&rebuild).contains("rebuild"));
}

#[test]
fn the_sync_server_benchmarks_complete_at_a_tiny_scale_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());

    // Push and pull, per backend: every event each way, and as many rows on the bare side.
    let sync = run(Bench::Sync, &config).unwrap();
    assert_eq!(sync.len(), 4);
    for figure in &sync {
        assert_eq!((figure.pluto_count, figure.baseline_count), (2_000, 2_000), "{figure:?}");
        assert!(figure.ratio.is_some_and(|r| r.is_finite() && r > 0.0), "{figure:?}");
    }
    assert!(sync[0].name.contains("SQLite") && sync[2].name.contains("PostgreSQL"));

    // 5 devices × 3 syncs × 4 events, each sync one push and at least one pull, no errors.
    let devices = run(Bench::Devices, &config).unwrap();
    assert_eq!(devices.len(), 6);
    for figure in &devices {
        assert_eq!(figure.baseline_count, 5 * 3 * 4, "{figure:?}");
        assert!(figure.pluto_count >= 5 * 3 * 2, "{figure:?}");
    }
    let errors: Vec<_> = devices.iter().filter(|f| f.name.contains("errors")).collect();
    assert_eq!(errors.len(), 2);
    assert!(errors.iter().all(|f| f.met && f.pluto.starts_with("0 errors")), "{errors:?}");
    assert!(pluto_bench::table_with(&devices, "bare").contains("server memory"));
}
