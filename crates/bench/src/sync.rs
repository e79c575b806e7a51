//! Sync push and pull: one laptop pushes its events to the real `pluto-server` over loopback
//! through `SyncClient::push`, in batches of [`MAX_PUSH_EVENTS`], then pulls the whole log back
//! through `SyncClient::pull` in pages of [`MAX_PULL_LIMIT`], on each backend.
//!
//! The baseline is a bare batched `INSERT` of the same rows (1,000 per transaction) into the
//! server's own table in a database of its own on the same backend; the pull row also shows the
//! bare page query reading them back. Each push alternates with the baseline's insert of the same
//! batch, so that drift in the disk's commit latency falls on both alike.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use pluto_domain::Timestamp;
use pluto_protocol::{PushOutcome, MAX_PULL_LIMIT, MAX_PUSH_EVENTS};
use pluto_sync::SyncClient;

use crate::bare::Bare;

use crate::bare::Row;
use crate::laptop::Laptop;
use crate::report::{per_second, rate, thousands, Figure};
use crate::server::{Backend, Data, ServerBin};

/// The bound: 100,000 events each way in under 10 s, that is at least 10,000 per second
/// (so that the target reads the same at any `--sync-events`).
const TARGET_RATE: f64 = 10_000.0;

/// Pushes and pulls `events` events on `backend`, next to the bare insert and read of the same
/// rows; returns the push figure and the pull figure.
pub fn run(
    backend: Backend,
    events: u64,
    dir: &Path,
    database_url: &str,
    bin: &ServerBin,
) -> Result<Vec<Figure>> {
    let baseline_data = Data::create(backend, "sync_baseline", dir, database_url)?;
    bin.migrate(&baseline_data)?;
    let mut bare = Bare::open(&baseline_data)?;
    let server_data = Data::create(backend, "sync", dir, database_url)?;
    let mut laptop = Laptop::new(0);
    let token = bin.token(&server_data, laptop.device())?;
    let server = bin.serve(&server_data, &dir.join(format!("sync-{}.log", backend.title())))?;
    let client = SyncClient::new(server.base_url(), &token)?;
    let start_memory = server.memory()?;

    let (mut push_time, mut insert_time) = (Duration::ZERO, Duration::ZERO);
    let (mut pushed, mut inserted) = (0u64, 0u64);
    while pushed < events {
        let batch = laptop.batch((events - pushed).min(MAX_PUSH_EVENTS as u64) as usize);
        let received_at = Timestamp::now();
        let rows = batch
            .iter()
            .zip(inserted as i64 + 1..)
            .map(|(event, position)| Row::new(position, event, received_at))
            .collect::<Result<Vec<_>>>()?;
        bare.prepare(rows.len())?;

        let start = Instant::now();
        let response = client.push(&batch)?;
        push_time += start.elapsed();
        let start = Instant::now();
        bare.insert(&rows)?;
        insert_time += start.elapsed();

        let stored = response.results.iter().filter(|r| r.outcome == PushOutcome::Stored).count();
        if stored != batch.len() {
            let other = response.results.iter().find(|r| r.outcome != PushOutcome::Stored);
            bail!("the server stored {stored} of {} pushed events; for example {other:?}", batch.len());
        }
        pushed += stored as u64;
        inserted += rows.len() as u64;
        if response.device.contiguous_up_to != pushed {
            bail!("after {pushed} events the server reports {:?}", response.device);
        }
    }
    eprintln!(
        "sync, {}: pushed {} events in {:.1} s",
        backend.title(),
        thousands(pushed),
        push_time.as_secs_f64()
    );

    let (mut pull_time, mut pulled, mut after) = (Duration::ZERO, 0u64, 0i64);
    loop {
        let start = Instant::now();
        let page = client.pull(after, MAX_PULL_LIMIT, 0)?;
        pull_time += start.elapsed();
        for logged in &page.events {
            // Positions are dense and in order: anything else would be a server bug, not speed.
            let event = pluto_domain::Incoming::read(logged.event.get())?.event;
            if logged.position != after + 1 || &event.device_id != laptop.device() {
                bail!("after position {after} the server sent position {}", logged.position);
            }
            after = logged.position;
        }
        pulled += page.events.len() as u64;
        if !page.has_more {
            break;
        }
    }
    let start = Instant::now();
    let read = bare.read_pages(MAX_PULL_LIMIT)?;
    let read_time = start.elapsed();
    let end_memory = server.memory()?;
    server.stop().context("stopping the server")?;
    eprintln!(
        "sync, {}: pulled {} events in {:.1} s; server RSS {} at start, {} at the end, peak {}",
        backend.title(),
        thousands(pulled),
        pull_time.as_secs_f64(),
        crate::report::megabytes(start_memory.rss),
        crate::report::megabytes(end_memory.rss),
        crate::report::megabytes(end_memory.peak),
    );

    let insert_rate = rate(inserted, insert_time);
    let timed = |time: Duration, count: u64| {
        format!("{:.2} s ({})", time.as_secs_f64(), per_second(rate(count, time)))
    };
    let target = format!("≥ {} (100,000 in < 10 s)", per_second(TARGET_RATE));
    let figure = |name: &str, work: String, time: Duration, count: u64, baseline: String| {
        let pluto_rate = rate(count, time);
        Figure {
            name: format!("{name}, {}", backend.title()),
            work,
            pluto: timed(time, count),
            baseline,
            ratio: Some(pluto_rate / insert_rate),
            target: target.clone(),
            met: pluto_rate >= TARGET_RATE,
            pluto_count: count,
            baseline_count: inserted,
        }
    };
    Ok(vec![
        figure(
            "sync push (`SyncClient::push`)",
            format!(
                "{} events of one device, batches of {}, loopback",
                thousands(pushed),
                thousands(MAX_PUSH_EVENTS as u64)
            ),
            push_time,
            pushed,
            format!("insert {}", timed(insert_time, inserted)),
        ),
        figure(
            "sync pull (`SyncClient::pull`)",
            format!(
                "{} events, pages of {}, loopback",
                thousands(pulled),
                thousands(u64::from(MAX_PULL_LIMIT))
            ),
            pull_time,
            pulled,
            format!("insert {}; page query {}", per_second(insert_rate), per_second(rate(read, read_time))),
        ),
    ])
}
