//! Background sync: the core's sync loop on its own thread, on the real database only, restarted
//! when the settings change; and what the status bar shows. Entry never waits for it.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use pluto_sync::runner;

use pluto_sync::runner::Pace;

use pluto_domain::Timestamp;
use pluto_sync::runner::Signals;
use pluto_sync::SyncClient;
use serde::{Deserialize, Serialize};
use tauri_specta::Event;
use thread_priority::{set_current_thread_priority, ThreadPriority};

use crate::files::read_json;

use crate::files::write_json;

/// Where this laptop syncs to. Kept in `sync.json` beside the database, readable only by the
/// coordinator's OS account (the token is a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncSettings {
    /// The sync server's base URL.
    pub server_url: String,
    /// This device's token, issued by the server's operator.
    pub token: String,
    /// The site's own certificate authority (a PEM file), for a server whose https certificate
    /// it issued; `None`: the public authorities.
    #[serde(default)]
    pub ca_file: Option<String>,
}

/// Sent to the window after every sync attempt.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct SyncChanged {
    /// This laptop's events the server confirmed in this attempt (their "not synced" marks go).
    pub pushed: u32,
    /// Events from other laptops stored by this attempt.
    pub pulled: u32,
    /// Whether the server's site policy for this laptop changed (what may be recorded here).
    pub policy_changed: bool,
}

/// What the loop last saw.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// `None` until the first attempt ends; then whether the server answered.
    pub online: Option<bool>,
    /// Why the last attempt failed, in words.
    pub last_error: Option<String>,
    /// When the last attempt ended.
    pub last_attempt_at: Option<Timestamp>,
}

/// The running loop, if any.
#[derive(Default)]
pub struct Syncer {
    signals: Option<Arc<Signals>>,
    live: Arc<Mutex<Live>>,
}

impl Syncer {
    /// Starts syncing `db` with the server in `settings`, stopping any loop already running.
    pub fn start(
        &mut self,
        app: tauri::AppHandle,
        db: PathBuf,
        settings: &SyncSettings,
    ) -> Result<(), String> {
        self.stop();
        let ca_file = settings.ca_file.as_deref().map(std::path::Path::new);
        let client = SyncClient::with_ca_file(&settings.server_url, &settings.token, ca_file)
            .map_err(|e| e.to_string())?;
        let signals = Arc::new(Signals::default());
        let live = Arc::clone(&self.live);
        *lock(&live) = Live::default();
        let running = Arc::clone(&signals);
        std::thread::Builder::new()
            .name("sync".into())
            .spawn(move || {
                // Sync is background work: the window's threads and WebKit's processes come
                // first, so that a long pull does not take the CPU from typing and drawing; it
                // gets every cycle they leave. (Nice 10 instead of the lowest measured no better
                // than normal priority; see docs/benchmarks.md.)
                if let Err(e) = set_current_thread_priority(ThreadPriority::Min) {
                    eprintln!("sync: runs at normal priority ({e:?})");
                }
                let outcome = runner::run(db, &client, &Pace::default(), &running, |pass| {
                    let (pushed, pulled, policy_changed) = {
                        let mut l = lock(&live);
                        l.last_attempt_at = Some(Timestamp::now());
                        match pass.outcome {
                            Ok(report) => {
                                l.online = Some(true);
                                l.last_error = None;
                                (report.pushed, report.pulled, report.policy_changed)
                            }
                            Err(e) => {
                                l.online = Some(!e.is_offline());
                                l.last_error = Some(e.to_string());
                                (0, 0, false)
                            }
                        }
                    };
                    // The window may be closing; nothing to do if it cannot be told.
                    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
                    let _ = SyncChanged { pushed: count(pushed), pulled: count(pulled), policy_changed }
                        .emit(&app);
                });
                if let Err(e) = outcome {
                    let mut l = lock(&live);
                    l.online = Some(false);
                    l.last_error = Some(format!("sync stopped: {e}"));
                    drop(l);
                    let _ = SyncChanged { pushed: 0, pulled: 0, policy_changed: false }.emit(&app);
                }
            })
            .map_err(|e| format!("cannot start the sync thread: {e}"))?;
        self.signals = Some(signals);
        Ok(())
    }

    /// Stops the loop. It finishes the request in flight on its own; whatever it was doing is
    /// one transaction, so stopping never leaves anything half applied.
    pub fn stop(&mut self) {
        if let Some(signals) = self.signals.take() {
            signals.stop.store(true, Ordering::Relaxed);
        }
        *lock(&self.live) = Live::default();
    }

    /// Asks the running loop to sync at once ("Sync now"); false when none runs.
    pub fn sync_now(&self) -> bool {
        self.signals.as_ref().inspect(|s| s.sync_now.store(true, Ordering::Relaxed)).is_some()
    }

    /// Whether a loop runs.
    pub fn running(&self) -> bool {
        self.signals.is_some()
    }

    /// What the loop last saw.
    pub fn live(&self) -> Live {
        lock(&self.live).clone()
    }
}

fn lock(live: &Mutex<Live>) -> std::sync::MutexGuard<'_, Live> {
    live.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads the settings; `None` when sync was never set up.
pub fn read_settings(path: &Path) -> Result<Option<SyncSettings>, String> {
    read_json(path, "the sync settings", "enter them again")
}

/// Writes the settings atomically, readable by the owner only; `None` removes them.
pub fn write_settings(path: &Path, settings: Option<&SyncSettings>) -> Result<(), String> {
    match settings {
        Some(settings) => write_json(path, settings, "the sync settings", true),
        None => match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(format!("cannot remove the sync settings {}: {e}", path.display()))
            }
            _ => Ok(()),
        },
    }
}
