//! Updates: the app asks its sync server (or `PLUTO_UPDATE_URL`) whether a newer version is
//! published, shows it, and installs it only when the coordinator agrees, after backing up the
//! database. The updater verifies every download against the public key in `tauri.conf.json`.

use std::sync::Mutex;

use pluto_store::Store;

use pluto_domain::Timestamp;
use serde::Serialize;
use tauri::State;
use tauri_plugin_updater::{Update, UpdaterExt};

use crate::error::CommandError;

use crate::error::ErrorKind;
use crate::state::{blocking, AppState, Inner};

/// The update found by the last check, kept until it is installed.
#[derive(Default)]
pub struct PendingUpdate(Mutex<Option<Update>>);

/// A newer version, as the window offers it.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct UpdateOffer {
    /// The new version.
    pub version: String,
    /// What changed.
    pub notes: String,
    /// When it was published.
    pub date: Option<String>,
}

/// Where to ask: `PLUTO_UPDATE_URL`, else the sync server's update route, which is told the
/// kind of install (a `.deb` install takes only a `.deb`); `None` when local only.
fn endpoint(inner: &Inner) -> Option<String> {
    std::env::var("PLUTO_UPDATE_URL").ok().or_else(|| {
        inner.sync_settings.as_ref().map(|s| {
            format!(
                "{}/v1/updates/{{{{target}}}}/{{{{arch}}}}/{{{{current_version}}}}?bundle_type={{{{bundle_type}}}}",
                s.server_url.trim_end_matches('/')
            )
        })
    })
}

fn lock(pending: &PendingUpdate) -> std::sync::MutexGuard<'_, Option<Update>> {
    pending.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Asks whether a newer version is published. `None` when the app is current or has nowhere
/// to ask (no sync server set up); an error, in words, when the server cannot be reached.
#[tauri::command]
#[specta::specta]
pub async fn check_update(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    pending: State<'_, PendingUpdate>,
) -> Result<Option<UpdateOffer>, CommandError> {
    let Some(url) = endpoint(&state.lock()) else { return Ok(None) };
    let url = tauri::Url::parse(&url).map_err(|e| {
        CommandError::new(ErrorKind::Failed, format!("the update address {url} is not valid: {e}"))
    })?;
    let could_not = |e: tauri_plugin_updater::Error| {
        CommandError::new(ErrorKind::Unavailable, format!("could not check for updates: {e}"))
    };
    #[cfg_attr(not(debug_assertions), allow(unused_mut))]
    let mut builder = app.updater_builder().endpoints(vec![url]).map_err(could_not)?;
    // The end-to-end tests sign with a key of their own; release builds trust only theirs.
    #[cfg(debug_assertions)]
    if let Ok(key) = std::env::var("PLUTO_UPDATE_PUBKEY") {
        builder = builder.pubkey(key);
    }
    // Never back, never sideways: an offer of the installed version or an older one is refused,
    // whatever its signature (the signature also binds the artifact to the version it announces:
    // `requireSignedVersion` in tauri.conf.json).
    let refused: std::sync::Arc<std::sync::Mutex<Option<String>>> = std::sync::Arc::default();
    let seen = std::sync::Arc::clone(&refused);
    builder = builder.version_comparator(move |installed, offered| {
        let newer = offered.version.cmp_precedence(&installed).is_gt();
        if !newer {
            *seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(format!(
                "the update server offered version {}, which is not newer than the installed {installed}; it was refused",
                offered.version
            ));
        }
        newer
    });
    let update = builder.build().map_err(could_not)?.check().await.map_err(could_not)?;
    if let Some(why) = refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
        return Err(CommandError::new(ErrorKind::Refused, format!("could not check for updates: {why}")));
    }
    let offer = update.as_ref().map(|u| UpdateOffer {
        version: u.version.clone(),
        notes: u.body.clone().unwrap_or_default(),
        date: u.date.map(|d| d.to_string()),
    });
    *lock(&pending) = update;
    Ok(offer)
}

/// Backs up the database, downloads the update, verifies its signature, installs it and
/// restarts. If anything fails nothing is installed and the records stay as they were.
#[tauri::command]
#[specta::specta]
pub async fn install_update(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    pending: State<'_, PendingUpdate>,
) -> Result<(), CommandError> {
    let update = lock(&pending).take().ok_or_else(|| {
        CommandError::new(ErrorKind::Refused, "no update is waiting; check for updates again")
    })?;
    let (database, open) = {
        let inner = state.lock();
        (inner.paths()?.database.clone(), inner.session.clone().ok().filter(|session| !session.training))
    };
    let dir = database.parent().map(|d| d.join("backups")).unwrap_or_else(|| "backups".into());
    std::fs::create_dir_all(&dir).map_err(|e| {
        CommandError::new(ErrorKind::Failed, format!("cannot create {} for the backup: {e}", dir.display()))
    })?;
    let file = dir.join(format!("pluto-before-{}-{}.sqlite3", update.version, Timestamp::now().millis()));
    let backup = blocking(move || {
        match open {
            Some(session) => session.read(|store| Ok(store.backup(&file)?))?,
            None => Store::open_existing(&database)?.backup(&file)?,
        }
        Ok(file)
    })
    .await?;
    update.download_and_install(|_, _| {}, || {}).await.map_err(|e| {
        CommandError::new(
            ErrorKind::Failed,
            format!(
                "the update was not installed: {e}. Nothing changed; your records are as they were (a backup is at {})",
                backup.display()
            ),
        )
    })?;
    app.restart()
}
