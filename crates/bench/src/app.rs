//! The desktop app's figures.
//!
//! - Record view: what the app's `record_event` command does for one entry on a campaign with
//!   100 events (`Store::record`, then the campaign's history folded into its full record and
//!   serialized for the window), against a bare single-row insert transaction plus a bare read of
//!   the campaign's 100 rows, on the same file with the same pragmas.
//! - Window: the real app (release build, UI embedded) on a store of many campaigns: launch until
//!   the campaign list is on screen (the window reports it), against opening the file raw and
//!   reading the same first page; and the idle memory of all its processes, against the smallest
//!   Tauri window built here from the same Tauri (`crates/minimal-window`), measured in the same
//!   run the same way.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use pluto_domain::samples::SampleCampaign;
use pluto_domain::{CampaignId, EventType, Timestamp, UserId};
use pluto_reports::record::CampaignRecord;
use pluto_store::{Draft, Store};

use crate::baseline;

use crate::baseline::Row;
use crate::gen::RemoteLog;
use crate::remote;
use crate::report::{megabytes, millis, percentile, thousands, Figure};

/// Events on each measured campaign before the measured entry.
pub(crate) const EVENTS: usize = 100;

/// The issue's bound from click to updated view.
const RECORD_TARGET: Duration = Duration::from_millis(100);

/// The issue's bound from launch to the list on screen.
const LAUNCH_TARGET: Duration = Duration::from_millis(1500);

/// The issue's bound on idle memory as a multiple of the minimal Tauri window's.
const MEMORY_RATIO_TARGET: f64 = 1.2;

/// How long a window is left alone before its memory is read.
const SETTLE: Duration = Duration::from_secs(8);

/// A campaign of `events` events: the twelve steps, then corrections of a free-text field.
pub(crate) fn grow(store: &mut Store, user: &UserId, n: u32, events: usize) -> Result<CampaignId> {
    let sample = SampleCampaign::numbered(n);
    let mut id: Option<CampaignId> = None;
    for t in EventType::STEPS {
        let data = sample.payload(t).context("steps have payloads")?;
        id = Some(store.record(Draft::new(id, t, data, user.clone()))?.event.stream_id);
    }
    let id = id.context("a campaign was created")?;
    for i in EventType::STEPS.len()..events {
        correct_notes(store, user, &id, i)?;
    }
    Ok(id)
}

/// Records one correction of the completion notes (the entry the benchmark times).
fn correct_notes(store: &mut Store, user: &UserId, id: &CampaignId, i: usize) -> Result<pluto_domain::Event> {
    let history = store.history(id)?;
    let events: Vec<_> = history.iter().collect();
    let target = events
        .iter()
        .find(|e| e.event_type == EventType::CampaignCompleted)
        .context("the campaign is completed")?;
    let changes = [("completionNotes".to_owned(), serde_json::json!(format!("Checked by QA, round {i}")))];
    let data = pluto_domain::correction::build_correction(&events, &target.id, &changes, "notes updated")?;
    Ok(store.record(Draft::new(Some(id.clone()), EventType::EventCorrected, data, user.clone()))?.event)
}

/// Times one entry and its updated view on each of `campaigns` campaigns of `EVENTS` events.
pub fn record_view(dir: &Path, campaigns: u32) -> Result<Figure> {
    let path = dir.join("record-view.sqlite3");
    let mut store = Store::open(&path)?;
    let mut raw = baseline::create(&dir.join("record-view-baseline.sqlite3"))?;
    let user = UserId::parse("usr_bench").context("bench user id")?;
    let ids = (0..campaigns).map(|n| grow(&mut store, &user, n, EVENTS)).collect::<Result<Vec<_>>>()?;
    // The baseline file holds the same campaigns, row for row.
    {
        let rows: Vec<Row> = ids
            .iter()
            .map(|id| store.history(id))
            .collect::<Result<Vec<_>, _>>()?
            .iter()
            .flatten()
            .map(Row::from)
            .collect();
        baseline::insert_transaction(&mut raw, &rows)?;
    }
    let (mut pluto, mut bare) = (Vec::new(), Vec::new());
    let mut json_bytes = 0usize;
    for (n, id) in ids.iter().enumerate() {
        let start = Instant::now();
        let event = correct_notes(&mut store, &user, id, EVENTS + n)?;
        let record = CampaignRecord::of(&store.history(id)?, None, Timestamp::now()).context("a record")?;
        json_bytes = serde_json::to_string(&record)?.len();
        pluto.push(start.elapsed());

        let start = Instant::now();
        baseline::insert_transaction(&mut raw, &[Row::from(&event)])?;
        let mut stmt = raw.prepare_cached("SELECT id, data FROM events WHERE stream_id = ?1 ORDER BY id")?;
        let read =
            stmt.query_map([id.as_str()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?.count();
        bare.push(start.elapsed());
        if read != EVENTS + 1 {
            bail!("the baseline read {read} rows of campaign {id}, expected {}", EVENTS + 1);
        }
    }
    pluto.sort();
    bare.sort();
    let (p50, p99) = (percentile(&pluto, 0.5), percentile(&pluto, 0.99));
    let b50 = percentile(&bare, 0.5);
    Ok(Figure {
        name: "record a step + updated view (`record_event`)".into(),
        work: format!(
            "{campaigns} entries, each on a campaign of {EVENTS} events (view: {} KB of JSON)",
            json_bytes / 1024
        ),
        pluto: format!("p50 {} / p99 {}", millis(p50), millis(p99)),
        baseline: format!("p50 {}", millis(b50)),
        ratio: Some(b50.as_secs_f64() / p50.as_secs_f64()),
        target: format!("click → view < {} ms (Rust part, p99)", RECORD_TARGET.as_millis()),
        met: p99 < RECORD_TARGET,
        pluto_count: pluto.len() as u64,
        baseline_count: bare.len() as u64,
    })
}

/// Launches the app at `app` `launches` times on a store of `campaigns` campaigns, and measures
/// its idle memory once, and that of the minimal window at `baseline_app`.
pub fn window(
    dir: &Path,
    app: &Path,
    baseline_app: &Path,
    campaigns: u64,
    launches: u32,
) -> Result<Vec<Figure>> {
    if std::env::var_os("DISPLAY").is_none() {
        bail!("the window benchmark needs a display: run Xvfb :99 and set DISPLAY=:99");
    }
    if !app.is_file() {
        bail!("no app at {}: build it with `npm --prefix ui run build && cargo build --release -p pluto-tracker`", app.display());
    }
    if !baseline_app.is_file() {
        bail!(
            "no minimal window at {}: build it with `cargo build --release -p pluto-minimal-window`",
            baseline_app.display()
        );
    }
    let data = dir.join("window");
    std::fs::create_dir_all(&data)?;
    let db = data.join("pluto.sqlite3");
    let mut store = Store::open(&db)?;
    remote::load(&mut store, &mut RemoteLog::new(0xA99E_0D05, u64::MAX, campaigns), "window")?;
    drop(store);
    std::fs::write(
        data.join("profile.json"),
        r#"{"name": "Bench", "site": "MBA", "siteName": "MBA", "userId": "usr_bench"}"#,
    )?;

    let mut launch = Vec::new();
    for _ in 0..launches {
        let out = Command::new(app)
            .env("PLUTO_DB", &db)
            .env("PLUTO_REPORT_STARTUP", "exit")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .with_context(|| format!("cannot run {}", app.display()))?;
        let text = String::from_utf8_lossy(&out.stderr);
        let ms: u64 = text
            .lines()
            .find_map(|l| {
                l.strip_prefix("startup: campaign list on screen ")?.split(' ').next()?.parse().ok()
            })
            .with_context(|| format!("the app did not report its start-up: {text}"))?;
        launch.push(Duration::from_millis(ms));
    }
    launch.sort();

    // The same first page, read raw: open with the store's pragmas and run the page query.
    let mut raw_times = Vec::new();
    for _ in 0..launches {
        let start = Instant::now();
        let raw = baseline::open(&db)?;
        let rows = raw
            .prepare("SELECT id, lego_campaign_code, status, current_weight_kg, updated_at FROM campaign_projections ORDER BY updated_at DESC, id DESC LIMIT 50")?
            .query_map([], |r| r.get::<_, String>(0))?
            .count();
        raw_times.push(start.elapsed());
        if rows != 50 {
            bail!("the raw page read {rows} rows");
        }
    }
    raw_times.sort();

    let (pss, rss, processes) = idle_memory(Command::new(app).env("PLUTO_DB", &db))?;
    // Painted on the CPU, as the app has WebKitGTK paint its own pages (`pluto_tracker::
    // CPU_PAINTING`): the two differ only by what the app adds.
    let (base_pss, base_rss, _) =
        idle_memory(Command::new(baseline_app).env("WEBKIT_SKIA_ENABLE_CPU_RENDERING", "1"))?;
    let memory_ratio = pss as f64 / base_pss as f64;

    let median = percentile(&launch, 0.5);
    let raw_median = percentile(&raw_times, 0.5);
    Ok(vec![
        Figure {
            name: "launch → campaign list on screen".into(),
            work: format!("{} campaigns, median of {launches} launches", thousands(campaigns)),
            pluto: format!("{} ms (worst {} ms)", median.as_millis(), launch[launch.len() - 1].as_millis()),
            baseline: format!("{} (open + first page)", millis(raw_median)),
            ratio: Some(raw_median.as_secs_f64() / median.as_secs_f64()),
            target: format!("< {} ms", LAUNCH_TARGET.as_millis()),
            met: median < LAUNCH_TARGET,
            pluto_count: launch.len() as u64,
            baseline_count: raw_times.len() as u64,
        },
        Figure {
            name: "idle memory, all processes (ratio: Pluto's ÷ the minimal window's)".into(),
            work: format!("{processes} processes, list on screen, {} s after launch", SETTLE.as_secs()),
            pluto: format!("{} PSS ({} RSS)", megabytes(pss), megabytes(rss)),
            baseline: format!(
                "{} PSS ({} RSS), a minimal Tauri window",
                megabytes(base_pss),
                megabytes(base_rss)
            ),
            ratio: Some(memory_ratio),
            target: format!("≤ {MEMORY_RATIO_TARGET} × the minimal window"),
            met: memory_ratio <= MEMORY_RATIO_TARGET,
            pluto_count: processes,
            baseline_count: 1,
        },
    ])
}

/// Starts `command`, leaves it alone for [`SETTLE`], and reads the memory of its process tree
/// ([`tree_memory`]) before stopping it.
fn idle_memory(command: &mut Command) -> Result<(u64, u64, u64)> {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {:?}", command.get_program()))?;
    std::thread::sleep(SETTLE);
    let memory = tree_memory(child.id());
    let _ = child.kill();
    let _ = child.wait();
    memory
}

/// Proportional and resident set sizes summed over `pid` and its descendants (the WebKit web and
/// network processes), in bytes, and how many processes there were. PSS shares each shared page
/// among the processes that map it, so the sum counts the libraries once.
fn tree_memory(pid: u32) -> Result<(u64, u64, u64)> {
    let mut pids = vec![pid];
    let mut i = 0;
    while i < pids.len() {
        let children =
            std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", pids[i])).unwrap_or_default();
        pids.extend(children.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
        i += 1;
    }
    let (mut pss, mut rss) = (0, 0);
    for p in &pids {
        let rollup = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).unwrap_or_default();
        for line in rollup.lines() {
            let kb = |prefix: &str| {
                line.strip_prefix(prefix)
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            };
            if let Some(v) = kb("Pss:") {
                pss += v * 1024;
            }
            if let Some(v) = kb("Rss:") {
                rss += v * 1024;
            }
        }
    }
    if pss == 0 {
        bail!("could not read the memory of process {pid}");
    }
    Ok((pss, rss, pids.len() as u64))
}
