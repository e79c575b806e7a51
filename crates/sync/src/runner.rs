//! The background sync loop: sync at once when something was recorded here, every interval
//! otherwise, and after a failure again with exponential backoff and jitter, so a laptop that
//! comes back online catches up within the backoff ceiling without anyone touching it.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::client::{sync_once, SyncClient, SyncError, SyncReport};
use pluto_store::Store;
use pluto_store::SyncState;

/// Exponential backoff with "equal jitter": the n-th delay is half of `base·2ⁿ` (capped at
/// `max`) plus a random share of the other half, so many laptops returning at once spread out.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// Starts at `base`, never waits longer than `max`.
    pub fn new(base: Duration, max: Duration) -> Backoff {
        Backoff { base, max, failures: 0 }
    }

    /// The delay before the next attempt after one more failure.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.base.saturating_mul(1 << self.failures.min(16)).min(self.max);
        self.failures = self.failures.saturating_add(1);
        let half = ceiling / 2;
        let random = RandomState::new().build_hasher().finish();
        half + half.mul_f64((random % 10_000) as f64 / 10_000.0)
    }

    /// After a success: start from `base` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// How the loop paces itself.
#[derive(Debug, Clone)]
pub struct Pace {
    /// Time between syncs while everything works.
    pub interval: Duration,
    /// First retry delay after a failure.
    pub retry_base: Duration,
    /// Longest retry delay (also how late a returning network is noticed at worst).
    pub retry_max: Duration,
    /// How often the loop looks for new local entries and the stop flag.
    pub tick: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            interval: Duration::from_secs(15),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
            tick: Duration::from_millis(250),
        }
    }
}

/// How a running loop is steered from other threads.
#[derive(Debug, Default)]
pub struct Signals {
    /// Set to end the loop after the current pass.
    pub stop: AtomicBool,
    /// Set to sync at once (the coordinator's "Sync now"), even while waiting to retry.
    pub sync_now: AtomicBool,
}

/// One pass of the loop, for whoever shows sync state.
#[derive(Debug)]
pub struct Pass<'a> {
    /// What the sync did or why it failed.
    pub outcome: &'a Result<SyncReport, SyncError>,
    /// The store's sync state afterwards.
    pub state: &'a SyncState,
    /// How long the loop now waits at most before the next sync.
    pub next_in: Duration,
}

/// Syncs the store at `db` with `client` until `signals.stop` is set, calling `observe` after every
/// attempt. Local entries made by other connections (the app's UI, the CLI) trigger a sync
/// within one tick.
pub fn run(
    db: PathBuf,
    client: &SyncClient,
    pace: &Pace,
    signals: &Signals,
    mut observe: impl FnMut(Pass<'_>),
) -> Result<(), SyncError> {
    let stop = &signals.stop;
    let mut store = Store::open(&db)?;
    let mut backoff = Backoff::new(pace.retry_base, pace.retry_max);
    while !stop.load(Ordering::Relaxed) {
        // What was recorded before this pass: anything recorded during it (while a long pull
        // applies, say) is sent right after it, not at the next interval.
        let recorded = store.highest_local_seq()?;
        let outcome = sync_once(&mut store, client);
        let next_in = match &outcome {
            Ok(_) => {
                backoff.reset();
                pace.interval
            }
            Err(e) if e.is_retryable() => backoff.next_delay(),
            // Refused (bad token, wrong device): nothing changes by itself; try again rarely.
            Err(_) => pace.retry_max,
        };
        let state = store.sync_state()?;
        observe(Pass { outcome: &outcome, state: &state, next_in });
        let wake = Instant::now() + next_in;
        while Instant::now() < wake && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(pace.tick.min(wake.saturating_duration_since(Instant::now())));
            // New local entries sync now, not at the next interval (but not while retrying).
            if outcome.is_ok() && store.highest_local_seq()? > recorded {
                break;
            }
            // The coordinator asked: now, even while waiting to retry, and with a fresh backoff.
            if signals.sync_now.swap(false, Ordering::Relaxed) {
                backoff.reset();
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_up_to_its_ceiling_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let delays: Vec<Duration> = (0..10).map(|_| b.next_delay()).collect();
        for (n, d) in delays.iter().enumerate() {
            let ceiling = Duration::from_secs(1 << n).min(Duration::from_secs(30));
            assert!(*d >= ceiling / 2 && *d <= ceiling, "attempt {n}: {d:?}");
        }
        assert!(delays[9] >= Duration::from_secs(15));
        b.reset();
        assert!(b.next_delay() <= Duration::from_secs(1));
        let spread: std::collections::BTreeSet<Duration> = (0..20)
            .map(|_| Backoff::new(Duration::from_secs(8), Duration::from_secs(8)).next_delay())
            .collect();
        assert!(spread.len() > 5, "jitter spreads retries: {spread:?}");
    }
}
