//! What the app holds while it runs: where its files are, the coordinator's profile, and the
//! open database (the real one or the training one).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use pluto_store::APP_IDENTIFIER;

use pluto_domain::{DeviceId, UserId};
use pluto_store::{Store, DB_FILE_NAME};
use serde::{Deserialize, Serialize};

use crate::error::CommandError;

use crate::error::ErrorKind;
use crate::files::{read_json, write_json};
use crate::sync::{read_settings, SyncSettings, Syncer};

/// The training database's file name, beside the real one.
pub const TRAINING_DB_FILE_NAME: &str = "pluto-training.sqlite3";
/// The profile's file name, beside the database.
pub const PROFILE_FILE_NAME: &str = "profile.json";
/// The sync settings' file name, beside the database.
pub const SYNC_FILE_NAME: &str = "sync.json";

/// The site a coordinator works at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub enum Site {
    /// MBA: granulation, metal removal, purification, extrusion.
    #[serde(rename = "MBA")]
    Mba,
    /// RGE: manufacturing.
    #[serde(rename = "RGE")]
    Rge,
    /// LEGO.
    #[serde(rename = "LEGO")]
    Lego,
    /// Another site, named in `siteName`.
    Other,
}

/// Who uses this laptop. Every event recorded here carries the profile's `userId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// The coordinator's name.
    pub name: String,
    /// Their site.
    pub site: Site,
    /// The site's name (`MBA`, or what was typed for another site).
    pub site_name: String,
    /// Kept from the first run on, whatever the name later becomes.
    pub user_id: UserId,
}

/// Where the app keeps its files: the OS app-data folder (the `pluto` CLI's default too), or the
/// folder of `PLUTO_DB` when that is set.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The real database.
    pub database: PathBuf,
    /// The training database.
    pub training: PathBuf,
    /// The profile.
    pub profile: PathBuf,
    /// The sync settings.
    pub sync: PathBuf,
}

impl Paths {
    /// The paths from the environment.
    pub fn from_env() -> Result<Paths, String> {
        let database = match std::env::var_os("PLUTO_DB") {
            Some(path) => PathBuf::from(path),
            None => dirs::data_dir()
                .ok_or("this system has no app-data folder; set PLUTO_DB to the database file to use")?
                .join(APP_IDENTIFIER)
                .join(DB_FILE_NAME),
        };
        Ok(Paths::beside(database))
    }

    /// The paths of the files kept beside `database`.
    pub fn beside(database: PathBuf) -> Paths {
        let dir = database.parent().map(Path::to_path_buf).unwrap_or_default();
        Paths {
            training: dir.join(TRAINING_DB_FILE_NAME),
            profile: dir.join(PROFILE_FILE_NAME),
            sync: dir.join(SYNC_FILE_NAME),
            database,
        }
    }
}

/// The most reading connections a session keeps open between commands; more are opened while
/// that many are busy, and closed after.
const IDLE_READERS: usize = 3;

/// The open database: one connection that writes and connections that only read. WAL lets
/// readers run beside the writer, so a long export or report holds up neither an entry nor the
/// home screen, and an entry holds up no reader.
pub struct Session {
    writer: Mutex<Store>,
    readers: Mutex<Vec<Store>>,
    /// The database file.
    pub path: PathBuf,
    /// This installation's device id in it.
    pub device_id: DeviceId,
    /// Whether it is the training database.
    pub training: bool,
}

impl Session {
    /// Runs `f` with the writing connection, waiting for any other write of this window to end.
    /// A write that panicked left nothing half written (every write is one SQLite transaction),
    /// so its lock is taken over.
    pub fn write<T>(&self, f: impl FnOnce(&mut Store) -> Result<T, CommandError>) -> Result<T, CommandError> {
        f(&mut self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Runs `f` with a connection that only reads (an idle one, or a new one while all are busy),
    /// on one snapshot of the database ([`Store::snapshot`]).
    pub fn read<T>(&self, f: impl FnOnce(&Store) -> Result<T, CommandError>) -> Result<T, CommandError> {
        let idle = self.readers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        let reader = match idle {
            Some(reader) => reader,
            None => Store::open_reader(&self.path).map_err(|e| {
                CommandError::new(ErrorKind::Unavailable, format!("cannot read the database: {e}"))
            })?,
        };
        let result = reader.snapshot(f);
        let mut readers = self.readers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if readers.len() < IDLE_READERS {
            readers.push(reader);
        }
        result
    }
}

/// Everything behind the lock.
pub struct Inner {
    /// Where the files are; an error when the OS has no app-data folder.
    pub paths: Result<Paths, String>,
    /// The coordinator, once the first run asked.
    pub profile: Option<Profile>,
    /// The open database, or why it could not be opened, in words.
    pub session: Result<Arc<Session>, String>,
    /// Where to sync; `None` means local only.
    pub sync_settings: Option<SyncSettings>,
    /// The background sync loop.
    pub syncer: Syncer,
}

/// The app's state, shared by every command.
pub struct AppState {
    inner: Mutex<Inner>,
    /// When the process started, for the start-up measurement.
    pub started: Instant,
}

impl AppState {
    /// Finds the files, reads the profile and opens the real database. Failures are kept, in
    /// words, for the window to show.
    pub fn open(paths: Result<Paths, String>, started: Instant) -> AppState {
        let (profile, session, settings) = match &paths {
            Ok(p) => (read_profile(&p.profile), open_store(&p.database, false), read_settings(&p.sync)),
            Err(e) => (Ok(None), Err(e.clone()), Ok(None)),
        };
        let (profile, session) = match profile {
            Ok(profile) => (profile, session),
            Err(e) => (None, session.and(Err(e))),
        };
        let (sync_settings, session) = match settings {
            Ok(settings) => (settings, session),
            Err(e) => (None, session.and(Err(e))),
        };
        let inner = Inner { paths, profile, session, sync_settings, syncer: Syncer::default() };
        AppState { inner: Mutex::new(inner), started }
    }

    /// The state, locked: held only to read or change the profile, the settings and which
    /// database is open, never across SQLite work (commands take the [`Session`] and let go). A
    /// command that panicked while holding it changed nothing half way, so it is taken over.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Inner {
    /// The open database, or why there is none.
    pub fn session(&self) -> Result<Arc<Session>, CommandError> {
        self.session.clone().map_err(|e| CommandError::new(ErrorKind::Unavailable, e))
    }

    /// The coordinator's user id, which every entry needs.
    pub fn user(&self) -> Result<UserId, CommandError> {
        self.profile.as_ref().map(|p| p.user_id.clone()).ok_or_else(|| {
            CommandError::new(ErrorKind::Refused, "enter your name and site first (the first-run screen)")
        })
    }

    /// The paths, or why there are none.
    pub fn paths(&self) -> Result<&Paths, CommandError> {
        self.paths.as_ref().map_err(|e| CommandError::new(ErrorKind::Unavailable, e.clone()))
    }

    /// Runs the sync loop when a server is set up and the real database is open; stops it
    /// otherwise (training data never leaves the laptop).
    pub fn resync(&mut self, app: &tauri::AppHandle) -> Result<(), CommandError> {
        let real = matches!(&self.session, Ok(s) if !s.training);
        match (&self.sync_settings, &self.paths, real) {
            (Some(settings), Ok(paths), true) => self
                .syncer
                .start(app.clone(), paths.database.clone(), settings)
                .map_err(|e| CommandError::field("serverUrl", e)),
            _ => {
                self.syncer.stop();
                Ok(())
            }
        }
    }
}

/// Opens (creating if needed) a database, describing a failure for the coordinator.
pub fn open_store(path: &Path, training: bool) -> Result<Arc<Session>, String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the folder {} for the database: {e}", dir.display()))?;
    }
    let store = Store::open(path).map_err(|e| format!("cannot open the database {}: {e}", path.display()))?;
    Ok(Arc::new(Session {
        path: store.path().to_owned(),
        device_id: store.device_id().clone(),
        writer: Mutex::new(store),
        readers: Mutex::new(Vec::new()),
        training,
    }))
}

/// Runs `f` on a thread of the blocking pool, off the async runtime's few workers, which every
/// other command and the sync loop's events need.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CommandError> + Send + 'static,
) -> Result<T, CommandError> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| CommandError::new(ErrorKind::Failed, format!("the command stopped unexpectedly: {e}")))?
}

/// Reads the profile; `None` on the first run.
pub fn read_profile(path: &Path) -> Result<Option<Profile>, String> {
    read_json(path, "the profile", "fix or delete it and restart")
}

/// Writes the profile atomically: a crash leaves the old one or the new one, never half of one.
pub fn write_profile(path: &Path, profile: &Profile) -> Result<(), String> {
    write_json(path, profile, "the profile", false)
}
