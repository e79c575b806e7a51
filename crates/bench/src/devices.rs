//! Many devices at once: simulated laptops, each with its own token and thread, all start
//! together against one real `pluto-server` and sync a bounded number of times: check that the
//! server still holds the last entry they pulled, push their own next few events (gapless
//! `deviceSeq`), then pull every page after their cursor, as `pluto_sync::sync_once` does, then
//! pause before the next sync.
//!
//! Measured: the latency of every request as the laptop sees it, the errors, and the server
//! process's memory before, at its peak and after. Afterwards each device's status must show
//! all its events, gapless, on the server. There is no bare baseline: the targets are absolute.

use std::path::Path;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use pluto_domain::Event;
use pluto_protocol::{AttestQuery, PushOutcome, Verdict, MAX_PULL_LIMIT, MAX_PUSH_EVENTS};
use pluto_sync::SyncClient;

use crate::gen::Rng;
use crate::laptop::Laptop;
use crate::report::{megabytes, millis, percentile, thousands, Figure};
use crate::server::{cpu_time, Backend, Data, ServerBin};

/// The issue's bound on the 99th percentile of request latency.
const LATENCY_TARGET: Duration = Duration::from_millis(200);

/// What "bounded" means here: the server's peak resident memory stays under this, in bytes
/// (decimal megabytes; the same budget the issue sets for a laptop's rebuild).
const MEMORY_TARGET: u64 = 200_000_000;

/// Parallel `token create` processes while setting up: enough to hide process start-up, few
/// enough not to crowd two cores.
const TOKEN_WORKERS: usize = 4;

/// The simulated load.
#[derive(Debug, Clone)]
pub struct Load {
    /// Devices syncing at once.
    pub devices: u64,
    /// Syncs per device (each: one push, then pulls until the log's end).
    pub syncs: u64,
    /// Events each device records between two syncs.
    pub batch: u64,
    /// A device's mean pause between two syncs (drawn uniformly from 0 to twice this).
    pub pause: Duration,
    /// Whether every device starts its first sync at the same instant. Otherwise each starts
    /// after a pause of its own, drawn like the later ones: 200 devices already syncing, as a
    /// server sees them once laptops come and go and their retries are jittered.
    pub herd: bool,
    /// No device starts a sync after this much time.
    pub time_limit: Duration,
}

/// What one device saw.
#[derive(Default)]
struct Tally {
    pushes: Vec<Duration>,
    pulls: Vec<Duration>,
    /// Each sync's check that the server still holds the last entry pulled (`POST /v1/attest`).
    checks: Vec<Duration>,
    /// Every request of the first sync (which all devices start at the same instant in a herd).
    first_sync: Vec<Duration>,
    /// Every request of the later syncs, which the pauses spread out.
    later_syncs: Vec<Duration>,
    errors: Vec<String>,
    pushed: u64,
    pulled: u64,
    syncs: u64,
}

/// Runs `load` against a server on `backend`; returns the latency, error and memory figures.
pub fn run(
    backend: Backend,
    load: &Load,
    dir: &Path,
    database_url: &str,
    bin: &ServerBin,
) -> Result<Vec<Figure>> {
    let data = Data::create(backend, "devices", dir, database_url)?;
    let mut laptops: Vec<Laptop> = (0..load.devices as u32).map(Laptop::new).collect();
    let tokens = issue_tokens(bin, &data, &laptops)?;
    let server = bin.serve(&data, &dir.join(format!("devices-{}.log", backend.title())))?;
    let before = server.memory()?;
    let clients = tokens
        .iter()
        .map(|token| SyncClient::new(server.base_url(), token))
        .collect::<Result<Vec<_>, _>>()?;

    // Held for writing while the threads start, then released to all of them at once with the
    // common start instant; `None` if a thread could not be started, so that the others end
    // instead of waiting forever.
    let gate: RwLock<Option<Instant>> = RwLock::new(None);
    let mut opened = gate.write().unwrap_or_else(PoisonError::into_inner);
    let cpu_before = (server.cpu()?, cpu_time("/proc/self/stat")?);
    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let spawned: std::io::Result<Vec<_>> = laptops
            .iter_mut()
            .zip(&clients)
            .enumerate()
            .map(|(n, (laptop, client))| {
                let gate = &gate;
                std::thread::Builder::new()
                    // Small stacks: two hundred threads that only wait on sockets.
                    .stack_size(256 * 1024)
                    .spawn_scoped(scope, move || {
                        let start = *gate.read().unwrap_or_else(PoisonError::into_inner);
                        start.map(|start| device(n as u64, laptop, client, load, start)).unwrap_or_default()
                    })
            })
            .collect();
        if spawned.is_ok() {
            *opened = Some(Instant::now());
        }
        drop(opened);
        spawned?
            .into_iter()
            .map(|w| w.join().map_err(|_| anyhow::anyhow!("a device thread panicked")))
            .collect::<Result<Vec<_>>>()
    })?;
    let started = gate.into_inner().unwrap_or_else(PoisonError::into_inner).context("no device started")?;
    let elapsed = started.elapsed();
    let after = server.memory()?;
    let cpu = (server.cpu()? - cpu_before.0, cpu_time("/proc/self/stat")? - cpu_before.1);

    // Everything acknowledged must be on the server, gapless, or it counts as an error.
    let mut errors: Vec<String> = tallies.iter().flat_map(|t| t.errors.iter().cloned()).collect();
    for ((laptop, client), tally) in laptops.iter().zip(&clients).zip(&tallies) {
        let status = client.device_status(laptop.device())?;
        if (status.contiguous_up_to, status.event_count) != (tally.pushed, tally.pushed) {
            errors.push(format!("{} pushed {} but the server has {status:?}", laptop.device(), tally.pushed));
        }
    }
    drop(clients);
    server.stop().context("stopping the server")?;

    let sorted = |of: fn(&Tally) -> &Vec<Duration>| {
        let mut all: Vec<Duration> = tallies.iter().flat_map(|t| of(t).iter().copied()).collect();
        all.sort();
        all
    };
    let (pushes, pulls, checks) = (sorted(|t| &t.pushes), sorted(|t| &t.pulls), sorted(|t| &t.checks));
    let (first, later) = (sorted(|t| &t.first_sync), sorted(|t| &t.later_syncs));
    let mut latencies = [pushes.as_slice(), pulls.as_slice(), checks.as_slice()].concat();
    latencies.sort();
    let requests = latencies.len() as u64;
    let pushed: u64 = tallies.iter().map(|t| t.pushed).sum();
    let pulled: u64 = tallies.iter().map(|t| t.pulled).sum();
    let syncs: u64 = tallies.iter().map(|t| t.syncs).sum();
    for error in errors.iter().take(5) {
        eprintln!("devices, {}: error: {error}", backend.title());
    }
    eprintln!(
        "devices, {}: {} syncs in {:.1} s; pushes p50 {}, p99 {}; pulls p50 {}, p99 {}; log checks p50 {}, \
         p99 {}; CPU used by the server {:.1} s, by the devices {:.1} s",
        backend.title(),
        thousands(syncs),
        elapsed.as_secs_f64(),
        millis(percentile(&pushes, 0.5)),
        millis(percentile(&pushes, 0.99)),
        millis(percentile(&pulls, 0.5)),
        millis(percentile(&pulls, 0.99)),
        millis(percentile(&checks, 0.5)),
        millis(percentile(&checks, 0.99)),
        cpu.0.as_secs_f64(),
        cpu.1.as_secs_f64(),
    );

    let p99 = percentile(&latencies, 0.99);
    let work = format!(
        "{} devices × {} syncs, {} ({} done in {:.0} s): {} requests, {} events pushed, {} pulled",
        load.devices,
        load.syncs,
        if load.herd { "all starting at the same instant" } else { "each starting within its first pause" },
        thousands(syncs),
        elapsed.as_secs_f64(),
        thousands(requests),
        thousands(pushed),
        thousands(pulled)
    );
    let name = |what: &str| format!("{} devices, {what}, {}", load.devices, backend.title());
    let figure = |name: String, pluto: String, target: String, met: bool| Figure {
        name,
        work: work.clone(),
        pluto,
        baseline: "—".into(),
        ratio: None,
        target,
        met,
        pluto_count: requests,
        baseline_count: pushed,
    };
    Ok(vec![
        figure(
            name("request latency"),
            format!(
                "p50 {}, p95 {}, p99 {}, max {}; p99 of the first sync {}, of the later ones {}",
                millis(percentile(&latencies, 0.5)),
                millis(percentile(&latencies, 0.95)),
                millis(p99),
                millis(latencies.last().copied().unwrap_or_default()),
                millis(percentile(&first, 0.99)),
                if later.is_empty() { "—".to_owned() } else { millis(percentile(&later, 0.99)) },
            ),
            format!("p99 < {} ms", LATENCY_TARGET.as_millis()),
            p99 < LATENCY_TARGET,
        ),
        figure(
            name("errors"),
            format!("{} errors in {} requests", errors.len(), thousands(requests)),
            "none".into(),
            errors.is_empty(),
        ),
        figure(
            name("server memory"),
            format!(
                "peak {} (VmHWM); RSS {} before, {} after",
                megabytes(after.peak),
                megabytes(before.rss),
                megabytes(after.rss)
            ),
            format!("peak < {}", megabytes(MEMORY_TARGET)),
            after.peak < MEMORY_TARGET,
        ),
    ])
}

/// Issues one token per laptop with `token create`, a few processes at a time.
fn issue_tokens(bin: &ServerBin, data: &Data, laptops: &[Laptop]) -> Result<Vec<String>> {
    let chunk = laptops.len().div_ceil(TOKEN_WORKERS).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = laptops
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter().map(|l| bin.token(data, l.device())).collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        let mut tokens = Vec::with_capacity(laptops.len());
        for worker in workers {
            tokens.extend(worker.join().map_err(|_| anyhow::anyhow!("a token thread panicked"))??);
        }
        Ok(tokens)
    })
}

/// One device's syncs: push the events recorded since the last sync (again, with any a failed
/// push left unconfirmed), pull to the end of the log, pause.
fn device(n: u64, laptop: &mut Laptop, client: &SyncClient, load: &Load, started: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut rng = Rng::new(0xDE71_CE00 ^ n);
    let mut unconfirmed: Vec<Event> = Vec::new();
    let mut cursor = 0i64;
    let mut last_pulled: Option<AttestQuery> = None;
    for sync in 0..load.syncs {
        if started.elapsed() >= load.time_limit {
            break;
        }
        if sync > 0 || !load.herd {
            let pause_ms = load.pause.as_millis() as u64;
            std::thread::sleep(Duration::from_millis(rng.below(2 * pause_ms + 1)));
        }
        tally.syncs += 1;
        if let Some(held) = &last_pulled {
            let start = Instant::now();
            let answer = client.attest(vec![held.clone()]);
            let latency = start.elapsed();
            tally.checks.push(latency);
            phase(&mut tally, sync).push(latency);
            match answer {
                Ok(answer) if answer.events.first().is_some_and(|a| a.verdict == Verdict::Same) => {}
                Ok(answer) => tally.errors.push(format!("check: {:?}", answer.events)),
                Err(e) => tally.errors.push(format!("check: {e}")),
            }
        }
        unconfirmed.extend(laptop.batch(load.batch as usize));
        let batch = &unconfirmed[..unconfirmed.len().min(MAX_PUSH_EVENTS)];
        let start = Instant::now();
        let pushed = client.push(batch);
        let latency = start.elapsed();
        tally.pushes.push(latency);
        phase(&mut tally, sync).push(latency);
        match pushed {
            Ok(response) => {
                let confirmed = response
                    .results
                    .iter()
                    .take_while(|r| matches!(r.outcome, PushOutcome::Stored | PushOutcome::Duplicate))
                    .count();
                if confirmed < batch.len() {
                    tally.errors.push(format!("push: {:?}", response.results.get(confirmed)));
                }
                tally.pushed += confirmed as u64;
                unconfirmed.drain(..confirmed);
            }
            Err(e) => tally.errors.push(format!("push: {e}")),
        }
        loop {
            let start = Instant::now();
            let page = client.pull(cursor, MAX_PULL_LIMIT, 0);
            let latency = start.elapsed();
            tally.pulls.push(latency);
            phase(&mut tally, sync).push(latency);
            match page {
                Ok(page) => {
                    tally.pulled += page.events.len() as u64;
                    cursor = page.next_after;
                    if let Some(last) = page.events.last() {
                        last_pulled = held(last.position, last.event.get());
                    }
                    if !page.has_more {
                        break;
                    }
                }
                Err(e) => {
                    tally.errors.push(format!("pull: {e}"));
                    break;
                }
            }
        }
    }
    tally
}

/// What `sync_once` asks the server about the last entry it pulled: its id, position and
/// canonical hash.
fn held(position: i64, raw: &str) -> Option<AttestQuery> {
    let id = serde_json::from_str::<serde_json::Value>(raw).ok()?.get("id")?.as_str()?.to_owned();
    let sha256 = pluto_domain::canonical::canonical_sha256(raw.as_bytes()).ok()?;
    Some(AttestQuery { id, position, sha256 })
}

/// Where a request of sync number `sync` is counted by phase.
fn phase(tally: &mut Tally, sync: u64) -> &mut Vec<Duration> {
    if sync == 0 {
        &mut tally.first_sync
    } else {
        &mut tally.later_syncs
    }
}
