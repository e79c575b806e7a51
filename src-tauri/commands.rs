//! The commands the UI calls. Each is thin: it reads the form's text into the payload the spec
//! defines and hands it to `pluto-store`, which validates, records and folds (with `pluto-domain`).
//!
//! No command runs on the main thread, so the window keeps drawing whatever a command waits for.
//! A command that works in SQLite takes the open [`Session`] from the
//! app's state, lets the state go, and runs on the blocking pool ([`blocking`]): reads on a
//! connection of their own (a long export holds up neither the home screen nor an entry),
//! writes through the session's one writer, which also waits there when background sync holds
//! the database's write lock (a long pull).

use std::collections::BTreeMap;
use std::sync::Arc;

use pluto_domain::vocabulary::Vocabulary;
use pluto_domain::{
    AnomalyKind, CampaignId, CampaignStatus, EventId, EventType, FieldSpec, Payload, Timestamp, UserId,
};
use pluto_reports::record::CampaignRecord;
use pluto_store::{
    Draft, FoundCampaign, ListPage, ListQuery, RefusedEntry, Seen, SortOrder, StallThreshold, StepOffer,
    Store, StoreError, SyncState, Work,
};
use serde::Serialize;
use tauri::{Manager, State};

use crate::error::CommandError;

use crate::error::ErrorKind;

use crate::error::FieldProblem;
use crate::state::{blocking, open_store, write_profile, AppState, Inner, Profile, Session, Site};
use crate::sync::{write_settings, SyncSettings};

/// What the window needs to know at start and after switching databases.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// The app's version.
    pub version: String,
    /// The coordinator; `None` until the first run asked.
    pub profile: Option<Profile>,
    /// The open database's file.
    pub database_path: String,
    /// Whether the training database is open.
    pub training: bool,
    /// This installation's device id in the open database.
    pub device_id: Option<String>,
    /// Why the database could not be opened, in words.
    pub open_error: Option<String>,
    /// The statuses, tones and materials as the window names them.
    pub vocabulary: Vocabulary,
    /// The folder the save dialog opens in: `PLUTO_EXPORT_DIR`, else Downloads, else the
    /// database's folder.
    pub export_dir: String,
}

fn info(inner: &Inner) -> AppInfo {
    let (database_path, training, device_id, open_error) = match (&inner.session, &inner.paths) {
        (Ok(s), _) => (s.path.display().to_string(), s.training, Some(s.device_id.to_string()), None),
        (Err(e), Ok(p)) => (p.database.display().to_string(), false, None, Some(e.clone())),
        (Err(e), Err(_)) => (String::new(), false, None, Some(e.clone())),
    };
    AppInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        profile: inner.profile.clone(),
        database_path,
        training,
        device_id,
        open_error,
        vocabulary: Vocabulary::current(),
        export_dir: {
            // The save dialog opens in this folder only if it exists; if it cannot be made, the
            // dialog opens elsewhere and the user picks the folder.
            let dir = export_dir_of(inner);
            let _ = std::fs::create_dir_all(&dir);
            dir.display().to_string()
        },
    }
}

/// The app's state: profile, database, training mode, and why the database could not be opened.
#[tauri::command(async)]
#[specta::specta]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    info(&state.lock())
}

/// Tries again to open the real database (after the coordinator closed the other program
/// holding it, or freed disk space).
#[tauri::command]
#[specta::specta]
pub async fn retry_open(app: tauri::AppHandle) -> AppInfo {
    // The state through the handle: an async command may borrow nothing unless it returns a
    // `Result`, and this one always answers.
    let state = app.state::<AppState>();
    let database = state.lock().paths.as_ref().ok().map(|p| p.database.clone());
    if let Some(database) = database {
        let session = blocking(move || Ok(open_store(&database, false))).await;
        state.lock().session = session.unwrap_or_else(|e| Err(e.message));
    }
    let mut inner = state.lock();
    // The sync settings are known; a failure to start shows in the status bar, not here.
    let _ = inner.resync(&app);
    info(&inner)
}

/// Saves who uses this laptop (at first run, or when another coordinator takes it over). The
/// user id follows the name: kept while the name stays the same, a new one when it changes, so
/// every entry is stamped with whoever recorded it at that moment.
#[tauri::command(async)]
#[specta::specta]
pub fn save_profile(
    state: State<'_, AppState>,
    name: String,
    site: Site,
    other_site: Option<String>,
) -> Result<AppInfo, CommandError> {
    let mut inner = state.lock();
    let name = name.trim().to_owned();
    let mut problems = Vec::new();
    if name.is_empty() {
        problems.push(FieldProblem { field: "name".into(), message: "enter your name".into() });
    }
    let site_name = match site {
        Site::Mba => "MBA".to_owned(),
        Site::Rge => "RGE".to_owned(),
        Site::Lego => "LEGO".to_owned(),
        Site::Other => other_site.as_deref().map(str::trim).unwrap_or_default().to_owned(),
    };
    if site_name.is_empty() {
        problems
            .push(FieldProblem { field: "otherSite".into(), message: "enter the name of your site".into() });
    }
    if !problems.is_empty() {
        return Err(CommandError::fields(problems));
    }
    let user_id = match &inner.profile {
        Some(p) if p.name.to_lowercase() == name.to_lowercase() => p.user_id.clone(),
        _ => new_user_id(&name)?,
    };
    let profile = Profile { name, site, site_name, user_id };
    write_profile(&inner.paths()?.profile, &profile).map_err(|e| CommandError::new(ErrorKind::Failed, e))?;
    inner.profile = Some(profile);
    Ok(info(&inner))
}

/// `usr_<name>-<6 characters>`: readable in the history, and two people of the same name on
/// different laptops still get different ids.
fn new_user_id(name: &str) -> Result<UserId, CommandError> {
    let device_like = pluto_domain::DeviceId::generate().to_string();
    let suffix = device_like[device_like.len() - 6..].to_lowercase();
    UserId::from_name(&format!("{}-{suffix}", name.chars().take(50).collect::<String>()))
        .or_else(|_| UserId::from_name(&format!("user-{suffix}")))
        .map_err(|e| CommandError::field("name", e.to_string()))
}

/// One page of the campaign list, filtered, searched and sorted by the store.
#[tauri::command]
#[specta::specta]
pub async fn list_campaigns(
    state: State<'_, AppState>,
    status: Option<CampaignStatus>,
    search: Option<String>,
    sort: SortOrder,
    offset: u32,
    limit: u32,
) -> Result<ListPage, CommandError> {
    let session = state.lock().session()?;
    let query = ListQuery { status, search, sort, limit: limit.clamp(1, 500), offset };
    blocking(move || session.read(|store| Ok(store.list(&query)?))).await
}

pub(crate) fn campaign_id(text: &str) -> Result<CampaignId, CommandError> {
    CampaignId::parse(text).map_err(|e| CommandError::field("campaignId", e.to_string()))
}

/// An event id from the UI; `field` names it in the refusal.
fn event_id(text: &str, field: &str) -> Result<EventId, CommandError> {
    EventId::parse(text).map_err(|e| CommandError::field(field, e.to_string()))
}

/// A campaign's record ([`pluto_reports::documents::campaign_record`]); nothing recorded by
/// `as_of` is a refusal of that field.
pub(crate) fn record_of(
    store: &Store,
    id: &CampaignId,
    as_of: Option<Timestamp>,
) -> Result<CampaignRecord, CommandError> {
    pluto_reports::documents::campaign_record(store, id, as_of)?.ok_or_else(|| {
        CommandError::field(
            "asOf",
            format!(
                "nothing was recorded on this campaign at or before {}",
                as_of.map(|t| t.to_string()).unwrap_or_default()
            ),
        )
    })
}

/// A campaign's whole record: state, stages, history with corrections, mass balance and the
/// next step; as it was recorded at `as_of` (RFC 3339) when given.
#[tauri::command]
#[specta::specta]
pub async fn get_campaign(
    state: State<'_, AppState>,
    campaign_id: String,
    as_of: Option<String>,
) -> Result<CampaignRecord, CommandError> {
    let id = self::campaign_id(&campaign_id)?;
    let as_of =
        as_of.map(|t| Timestamp::parse(&t).map_err(|e| CommandError::field("asOf", e))).transpose()?;
    let session = state.lock().session()?;
    blocking(move || session.read(|store| record_of(store, &id, as_of))).await
}

/// The fields of an event type's form, in order.
#[tauri::command]
#[specta::specta]
pub fn form_fields(event_type: EventType) -> Vec<FieldSpec> {
    event_type.fields().to_vec()
}

/// What a step's form starts with (see [`Store::form_defaults`]): the starting weight from the
/// campaign's last output, this laptop's last carrier and waste code.
#[tauri::command]
#[specta::specta]
pub async fn form_defaults(
    state: State<'_, AppState>,
    campaign_id: Option<String>,
    event_type: EventType,
) -> Result<BTreeMap<String, serde_json::Value>, CommandError> {
    let id = campaign_id.as_deref().map(self::campaign_id).transpose()?;
    let session = state.lock().session()?;
    blocking(move || {
        session.read(|store| Ok(store.form_defaults(id.as_ref(), event_type)?.into_iter().collect()))
    })
    .await
}

/// The steps "Record another step" offers, this laptop's site's first: by the server's policy
/// for the sync token once known, else by the default policy for the profile's site.
#[tauri::command]
#[specta::specta]
pub async fn step_offer(state: State<'_, AppState>) -> Result<StepOffer, CommandError> {
    let (site, session) = site_and_session(&state)?;
    blocking(move || session.read(|store| Ok(store.step_offer(&site)?))).await
}

/// The profile's site (empty before the first run asked) and the open database.
fn site_and_session(state: &AppState) -> Result<(String, Arc<Session>), CommandError> {
    let inner = state.lock();
    let site = inner.profile.as_ref().map(|p| p.site_name.clone()).unwrap_or_default();
    Ok((site, inner.session()?))
}

/// Finds campaigns by code, description or any reference their entries carry (Ctrl+K), newest
/// first, each with the entries that matched.
#[tauri::command]
#[specta::specta]
pub async fn find(
    state: State<'_, AppState>,
    text: String,
    limit: u32,
) -> Result<Vec<FoundCampaign>, CommandError> {
    let session = state.lock().session()?;
    blocking(move || session.read(|store| Ok(store.find(&text, limit.clamp(1, 200))?))).await
}

/// The home screen: what is waiting for this laptop's site (see [`step_offer`] for which steps
/// are the site's), with at most `limit` campaigns per list.
#[tauri::command]
#[specta::specta]
pub async fn home(state: State<'_, AppState>, limit: u32) -> Result<Home, CommandError> {
    let (site, session) = site_and_session(&state)?;
    blocking(move || {
        session.read(|store| {
            let offer = store.step_offer(&site)?;
            let work = store.work(&offer.mine, Timestamp::now(), limit.clamp(1, 200))?;
            Ok(Home { site: offer.site, work })
        })
    })
    .await
}

/// What [`home`] answers.
#[derive(Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Home {
    /// The site the work is for: the sync token's, else the profile's.
    pub site: String,
    /// Its work.
    pub work: Work,
}

/// The days in each stage after which a campaign is flagged as stalled.
#[tauri::command]
#[specta::specta]
pub async fn stall_thresholds(state: State<'_, AppState>) -> Result<Vec<StallThreshold>, CommandError> {
    let session = state.lock().session()?;
    blocking(move || session.read(|store| Ok(store.stall_thresholds()?))).await
}

/// Saves the stall thresholds; each must be 1 to 365 days.
#[tauri::command]
#[specta::specta]
pub async fn save_stall_thresholds(
    state: State<'_, AppState>,
    thresholds: Vec<StallThreshold>,
) -> Result<Vec<StallThreshold>, CommandError> {
    let session = state.lock().session()?;
    blocking(move || {
        session.write(|store| {
            store.set_stall_thresholds(&thresholds)?;
            Ok(store.stall_thresholds()?)
        })
    })
    .await
}

/// Records one step (or a new campaign, with `CampaignCreated` and no campaign id) from a form,
/// strictly: payload rules, the progression, the ECHA gate. `expectedVersion` is the event count
/// the form was opened on; if the campaign changed since, the entry is refused as a conflict.
/// Returns the campaign's updated record.
#[tauri::command]
#[specta::specta]
pub async fn record_event(
    state: State<'_, AppState>,
    campaign_id: Option<String>,
    event_type: EventType,
    fields: BTreeMap<String, String>,
    expected_version: Option<u32>,
) -> Result<CampaignRecord, CommandError> {
    if event_type.is_resolution() {
        return Err(CommandError::field(
            "eventType",
            "corrections, voids and reviews are made from the history and the anomalies",
        ));
    }
    let (user, session) = user_and_session(&state)?;
    let id = campaign_id.as_deref().map(self::campaign_id).transpose()?;
    let data = Payload::from_form(event_type, &fields).map_err(|problems| {
        CommandError::fields(
            problems.into_iter().map(|p| FieldProblem { field: p.field, message: p.message }).collect(),
        )
    })?;
    let mut draft = Draft::new(id, event_type, data, user);
    draft.expected_version = expected_version;
    blocking(move || {
        session.write(|store| {
            let recorded = match store.record(draft) {
                Err(StoreError::Conflict { campaign_id, expected, .. }) => {
                    // Someone else's entry arrived while this one was typed: say whose, in words.
                    let message = store.changed_since(&campaign_id, expected)?;
                    return Err(CommandError::new(ErrorKind::Conflict, message));
                }
                other => other?,
            };
            record_of(store, &recorded.event.stream_id, None)
        })
    })
    .await
}

/// The coordinator's user id, which every entry needs, and the open database.
pub(crate) fn user_and_session(state: &AppState) -> Result<(UserId, Arc<Session>), CommandError> {
    let inner = state.lock();
    Ok((inner.user()?, inner.session()?))
}

/// One field a correction changes: the field and its new value as typed.
#[derive(Debug, Clone, serde::Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    /// The field's name (`netWeightKg`).
    pub field: String,
    /// The new value as typed (empty clears an optional field).
    pub now: String,
}

/// Corrects fields of a recorded event with one reason: each field's current effective value
/// becomes its `was`, each `now` is read as that field's kind, and the correction goes through
/// the same rules as any entry. `seen` is the entry's values as the form showed them: if
/// someone changed a corrected field meanwhile, the correction is refused, saying who changed
/// it, to what and when.
#[tauri::command]
#[specta::specta]
pub async fn correct_event(
    state: State<'_, AppState>,
    campaign_id: String,
    event_id: String,
    changes: Vec<FieldChange>,
    reason: String,
    seen: serde_json::Value,
) -> Result<CampaignRecord, CommandError> {
    let (user, session) = user_and_session(&state)?;
    let id = self::campaign_id(&campaign_id)?;
    let event_id = self::event_id(&event_id, "correctsEventId")?;
    let changes: Vec<(String, String)> = changes.into_iter().map(|c| (c.field, c.now)).collect();
    blocking(move || {
        session.write(|store| {
            let seen = Seen { entry: Some(&seen), ..Seen::default() };
            store.correct(&id, &event_id, &changes, &reason, user, seen)?;
            record_of(store, &id, None)
        })
    })
    .await
}

/// Voids an entry recorded twice or on the wrong campaign, with a reason: the campaign no longer
/// counts it, the history keeps it struck through, and its step can be recorded again. `seen`
/// is the entry's values as the dialog showed them: an entry corrected meanwhile is not voided.
#[tauri::command]
#[specta::specta]
pub async fn void_entry(
    state: State<'_, AppState>,
    campaign_id: String,
    event_id: String,
    reason: String,
    seen: serde_json::Value,
) -> Result<CampaignRecord, CommandError> {
    let (user, session) = user_and_session(&state)?;
    let id = self::campaign_id(&campaign_id)?;
    let event_id = self::event_id(&event_id, "voidsEventId")?;
    blocking(move || {
        session.write(|store| {
            store.void(&id, &event_id, &reason, user, Seen { entry: Some(&seen), ..Seen::default() })?;
            record_of(store, &id, None)
        })
    })
    .await
}

/// Marks an anomaly reviewed with a note: its badge clears, the campaign keeps it.
#[tauri::command]
#[specta::specta]
pub async fn review_anomaly(
    state: State<'_, AppState>,
    campaign_id: String,
    event_id: String,
    kind: AnomalyKind,
    note: String,
) -> Result<CampaignRecord, CommandError> {
    let (user, session) = user_and_session(&state)?;
    let id = self::campaign_id(&campaign_id)?;
    let event_id = self::event_id(&event_id, "eventId")?;
    blocking(move || {
        session.write(|store| {
            store.review(&id, &event_id, kind, &note, user)?;
            record_of(store, &id, None)
        })
    })
    .await
}

/// Where exports go: `PLUTO_EXPORT_DIR`, else the Downloads folder, else the database's folder.
fn export_dir_of(inner: &Inner) -> std::path::PathBuf {
    let fallback = inner
        .paths
        .as_ref()
        .ok()
        .and_then(|p| p.database.parent().map(std::path::Path::to_path_buf))
        .unwrap_or_default();
    std::env::var_os("PLUTO_EXPORT_DIR").map(Into::into).or_else(dirs::download_dir).unwrap_or(fallback)
}

/// The public half of this laptop's audit key, which signs its audit exports.
#[tauri::command]
#[specta::specta]
pub async fn audit_key(state: State<'_, AppState>) -> Result<String, CommandError> {
    let session = state.lock().session()?;
    // The writer: the key is made and kept in the database the first time it is asked for.
    blocking(move || session.write(|store| Ok(pluto_reports::audit::audit_key(store)?.public_key()))).await
}

/// Opens the training database (filled with sample campaigns on first use), or goes back to the
/// real one.
#[tauri::command]
#[specta::specta]
pub async fn set_training(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    on: bool,
) -> Result<AppInfo, CommandError> {
    let (paths, user) = {
        let inner = state.lock();
        (inner.paths()?.clone(), if on { Some(inner.user()?) } else { None })
    };
    let session = blocking(move || match user {
        Some(user) => {
            let fresh = !paths.training.exists();
            let session =
                open_store(&paths.training, true).map_err(|e| CommandError::new(ErrorKind::Failed, e))?;
            if fresh {
                session.write(|store| Ok(pluto_store::training::fill_training(store, &user)?))?;
            }
            Ok(Ok(session))
        }
        None => Ok(open_store(&paths.database, false)),
    })
    .await?;
    let mut inner = state.lock();
    inner.session = session;
    inner.resync(&app)?;
    Ok(info(&inner))
}

/// What the status bar and the sync settings show.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    /// Whether a sync server is set up; without one the app is "local only".
    pub configured: bool,
    /// Whether the sync loop runs (not in training mode).
    pub running: bool,
    /// The server's URL, when set up.
    pub server_url: Option<String>,
    /// The site's own certificate authority file, when one is set.
    pub ca_file: Option<String>,
    /// `None` until the first attempt ends; then whether the server answered.
    pub online: Option<bool>,
    /// Counts and times from the store (pending, refused, last success, last error).
    pub state: SyncState,
    /// This laptop's device id, which the server's operator issues the token for.
    pub device_id: String,
}

/// Where sync stands: what the sync loop last heard, with the store's counts read off the
/// state's lock.
async fn sync_status_of(state: &AppState) -> Result<SyncStatus, CommandError> {
    let (live, running, settings, session) = {
        let inner = state.lock();
        (inner.syncer.live(), inner.syncer.running(), inner.sync_settings.clone(), inner.session()?)
    };
    let device_id = session.device_id.to_string();
    let mut store_state = blocking(move || session.read(|store| Ok(store.sync_state()?))).await?;
    if live.last_error.is_some() {
        store_state.last_error = live.last_error;
    }
    Ok(SyncStatus {
        configured: settings.is_some(),
        running,
        server_url: settings.as_ref().map(|s| s.server_url.clone()),
        ca_file: settings.and_then(|s| s.ca_file),
        online: live.online,
        state: store_state,
        device_id,
    })
}

/// Where sync stands.
#[tauri::command]
#[specta::specta]
pub async fn sync_status(state: State<'_, AppState>) -> Result<SyncStatus, CommandError> {
    sync_status_of(&state).await
}

/// Syncs at once ("Sync now") instead of at the next interval or retry; the status bar hears
/// the outcome as after any sync.
#[tauri::command(async)]
#[specta::specta]
pub fn sync_now(state: State<'_, AppState>) -> Result<(), CommandError> {
    let inner = state.lock();
    if inner.syncer.sync_now() {
        Ok(())
    } else if inner.sync_settings.is_none() {
        Err(CommandError::new(
            ErrorKind::Refused,
            "no sync server is set up on this laptop: set one up first",
        ))
    } else {
        Err(CommandError::new(
            ErrorKind::Refused,
            "training data is never synced: leave training mode to sync",
        ))
    }
}

/// This laptop's entries the server refused, with their campaign, step, reason and what to do.
#[tauri::command]
#[specta::specta]
pub async fn refused_entries(state: State<'_, AppState>) -> Result<Vec<RefusedEntry>, CommandError> {
    let session = state.lock().session()?;
    blocking(move || session.read(|store| Ok(store.refused_entries()?))).await
}

/// Sets up sync with a server (its URL, this laptop's token and, for a server whose https
/// certificate the site's own authority issued, that authority's PEM file), or turns it off
/// when URL and token are empty. Sync starts at once, in the background; it never holds up an
/// entry.
#[tauri::command]
#[specta::specta]
pub async fn save_sync_settings(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    server_url: String,
    token: String,
    ca_file: Option<String>,
) -> Result<SyncStatus, CommandError> {
    let (server_url, token) = (server_url.trim().to_owned(), token.trim().to_owned());
    let ca_file = ca_file.map(|f| f.trim().to_owned()).filter(|f| !f.is_empty());
    let settings = if server_url.is_empty() && token.is_empty() {
        None
    } else {
        let mut problems = Vec::new();
        let ca = ca_file.as_deref().map(std::path::Path::new);
        match pluto_sync::SyncClient::with_ca_file(&server_url, "-", ca) {
            Err(e @ pluto_sync::SyncError::BadCa { .. }) => {
                problems.push(FieldProblem { field: "caFile".into(), message: e.to_string() });
            }
            Err(e) => problems.push(FieldProblem { field: "serverUrl".into(), message: e.to_string() }),
            Ok(_) => {}
        }
        if token.is_empty() {
            problems.push(FieldProblem {
                field: "token".into(),
                message: "enter the device token the server's operator issued for this laptop".into(),
            });
        }
        if !problems.is_empty() {
            return Err(CommandError::fields(problems));
        }
        Some(SyncSettings { server_url, token, ca_file })
    };
    {
        let mut inner = state.lock();
        write_settings(&inner.paths()?.sync, settings.as_ref())
            .map_err(|e| CommandError::new(ErrorKind::Failed, e))?;
        inner.sync_settings = settings;
        inner.resync(&app)?;
    }
    sync_status_of(&state).await
}

/// Called by the window once the campaign list is on screen. With `PLUTO_REPORT_STARTUP` set,
/// prints the time since the process started (and quits if it is `exit`): the start-up benchmark.
#[tauri::command]
#[specta::specta]
pub fn ui_ready(app: tauri::AppHandle, state: State<'_, AppState>) {
    if let Ok(mode) = std::env::var("PLUTO_REPORT_STARTUP") {
        eprintln!("startup: campaign list on screen {} ms after launch", state.started.elapsed().as_millis());
        if mode == "exit" {
            app.exit(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tauri::test::{mock_builder, mock_context, noop_assets, MockRuntime};
    use tauri::App;

    use super::*;
    use crate::error::ErrorKind;
    use crate::reports::save_custody;
    use crate::state::Paths;
    use pluto_reports::documents::CustodyFile;
    use pluto_reports::record::CsvSeparator;
    use tauri::async_runtime::block_on;

    /// An app with a profile on a fresh database under `dir`.
    fn app(dir: &std::path::Path) -> App<MockRuntime> {
        let paths = Paths::beside(dir.join("pluto.sqlite3"));
        let state = AppState::open(Ok(paths), Instant::now());
        state.lock().profile = Some(Profile {
            name: "Ana".into(),
            site: Site::Mba,
            site_name: "MBA".into(),
            user_id: UserId::parse("usr_ana").unwrap(),
        });
        mock_builder().manage(state).build(mock_context(noop_assets())).unwrap()
    }

    fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn inbound_form() -> BTreeMap<String, String> {
        form(&[
            ("grossWeightKg", "1000"),
            ("netWeightKg", "950"),
            ("carrier", "DHL"),
            ("trackingRef", "X1"),
            ("shipDate", "2026-02-01"),
            ("arrivalDate", "2026-02-03"),
        ])
    }

    fn create(app: &App<MockRuntime>) -> CampaignRecord {
        let fields = form(&[("legoCampaignCode", "LEGO-T-1"), ("materialType", "PCR")]);
        block_on(record_event(app.state(), None, EventType::CampaignCreated, fields, None)).unwrap()
    }

    #[test]
    fn a_new_name_on_the_laptop_stamps_later_entries_with_its_own_id() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let id = create(&app).state.id.to_string();
        let first = app.state::<AppState>().lock().user().unwrap();
        // The same person fixing the case or the site keeps their id.
        save_profile(app.state(), "ana".into(), Site::Rge, None).unwrap();
        assert_eq!(app.state::<AppState>().lock().user().unwrap(), first);
        let info = save_profile(app.state(), " Søren Østergaard ".into(), Site::Mba, None).unwrap();
        let profile = info.profile.unwrap();
        assert_eq!((profile.name.as_str(), profile.site_name.as_str()), ("Søren Østergaard", "MBA"));
        assert_ne!(profile.user_id, first);
        assert_eq!(profile.user_id.display_name(), "Søren Østergaard");
        let record = block_on(record_event(
            app.state(),
            Some(id),
            EventType::InboundShipmentRecorded,
            inbound_form(),
            Some(1),
        ))
        .unwrap();
        let names: Vec<&str> = record.events.iter().map(|e| e.recorded_by_name.as_str()).collect();
        assert_eq!(names, ["Ana", "Søren Østergaard"]);
    }

    #[test]
    fn every_unreadable_field_is_named_and_nothing_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let created = create(&app);
        let id = created.state.id.to_string();
        let fields = form(&[("grossWeightKg", "heavy"), ("netWeightKg", "-3"), ("shipDate", "2026-02-30")]);
        let err = block_on(record_event(
            app.state(),
            Some(id.clone()),
            EventType::InboundShipmentRecorded,
            fields,
            Some(1),
        ))
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Refused);
        let named: Vec<&str> = err.problems.iter().map(|p| p.field.as_str()).collect();
        assert!(named.contains(&"grossWeightKg") && named.contains(&"shipDate"), "{named:?}");
        let after = block_on(get_campaign(app.state(), id, None)).unwrap();
        assert_eq!(after.events.len(), 1, "a refused form records nothing");
    }

    #[test]
    fn a_step_out_of_order_is_refused_on_the_step_and_a_stale_form_as_a_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let id = create(&app).state.id.to_string();
        let fields = form(&[
            ("ticketNumber", "T1"),
            ("startingWeightKg", "100"),
            ("outputWeightKg", "90"),
            ("completedOn", "2026-02-20"),
        ]);
        let err = block_on(record_event(
            app.state(),
            Some(id.clone()),
            EventType::GranulationCompleted,
            fields,
            None,
        ))
        .unwrap_err();
        assert_eq!(err.problems[0].field, "eventType");
        assert!(err.message.contains("the next step is Inbound Shipment"), "{}", err.message);

        let inbound = inbound_form();
        let stale = block_on(record_event(
            app.state(),
            Some(id),
            EventType::InboundShipmentRecorded,
            inbound,
            Some(7),
        ))
        .unwrap_err();
        assert_eq!(stale.kind, ErrorKind::Conflict);
    }

    #[test]
    fn a_correction_changes_the_weight_keeps_the_original_and_reaches_the_export() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let id = create(&app).state.id.to_string();
        let inbound = inbound_form();
        let record = block_on(record_event(
            app.state(),
            Some(id.clone()),
            EventType::InboundShipmentRecorded,
            inbound,
            Some(1),
        ))
        .unwrap();
        let event_id = record.events[1].event.id.to_string();
        let shown = record.events[1].effective.clone();
        let change = |field: &str, now: &str| FieldChange { field: field.into(), now: now.into() };
        let err = block_on(correct_event(
            app.state(),
            id.clone(),
            event_id.clone(),
            vec![change("netWeightKg", "lots")],
            "x".into(),
            shown.clone(),
        ))
        .unwrap_err();
        assert_eq!(err.problems[0].field, "changes.netWeightKg.now");
        let none = block_on(correct_event(
            app.state(),
            id.clone(),
            event_id.clone(),
            vec![],
            "x".into(),
            shown.clone(),
        ))
        .unwrap_err();
        assert_eq!(none.problems[0].field, "changes");
        let fixed = block_on(correct_event(
            app.state(),
            id.clone(),
            event_id.clone(),
            vec![change("netWeightKg", "940"), change("carrier", "DSV Road")],
            "scale misread".into(),
            shown.clone(),
        ))
        .unwrap();
        // The same form again, as it was shown before that correction: refused, in words.
        let stale = block_on(correct_event(
            app.state(),
            id.clone(),
            event_id.clone(),
            vec![change("netWeightKg", "945")],
            "typo".into(),
            shown,
        ))
        .unwrap_err();
        assert_eq!(stale.kind, crate::error::ErrorKind::Conflict);
        assert!(
            stale.message.contains("corrected Inbound Shipment's net weight to 940 kg"),
            "{}",
            stale.message
        );
        assert_eq!(fixed.state.current_weight_kg, Some(940.0));
        assert_eq!(fixed.events[1].event.data["netWeightKg"], serde_json::json!(950.0));
        assert_eq!(
            fixed.events[2].correction.as_ref().unwrap().changes.len(),
            2,
            "one correction, two fields"
        );
        assert_eq!(fixed.events[1].effective["carrier"], serde_json::json!("DSV Road"));

        // Saved where the save dialog said: for Danish Excel, then over it (the dialog asked)
        // for English Excel; nothing is left beside it.
        let path = dir.path().join("custody.csv").display().to_string();
        let semicolon = CustodyFile::Csv(CsvSeparator::Semicolon);
        let saved =
            block_on(save_custody(app.state(), id.clone(), semicolon, path.clone(), "da".into())).unwrap();
        let csv = std::fs::read_to_string(&saved.path).unwrap();
        assert!(csv.starts_with('\u{feff}') && csv.contains(";scale misread;"), "{csv}");
        assert_eq!(saved.bytes as usize, csv.len());
        let comma = CustodyFile::Csv(CsvSeparator::Comma);
        block_on(save_custody(app.state(), id.clone(), comma, path.clone(), "en".into())).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().contains(",scale misread,"));
        assert_eq!(
            std::fs::read_dir(dir.path())
                .unwrap()
                .filter(|e| e
                    .as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "csv" || x == "partial"))
                .count(),
            1
        );
        let relative =
            block_on(save_custody(app.state(), id, CustodyFile::Pdf, "custody.pdf".into(), "en".into()));
        assert_eq!(relative.unwrap_err().problems[0].field, "path");
    }

    #[test]
    fn a_voided_entry_leaves_the_campaign_and_a_reviewed_anomaly_its_badge() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let id = create(&app).state.id.to_string();
        let record = block_on(record_event(
            app.state(),
            Some(id.clone()),
            EventType::InboundShipmentRecorded,
            inbound_form(),
            Some(1),
        ))
        .unwrap();
        let inbound = record.events[1].event.id.to_string();
        let shown = record.events[1].effective.clone();
        let bad =
            block_on(void_entry(app.state(), id.clone(), "evt_nonsense".into(), "x".into(), shown.clone()))
                .unwrap_err();
        assert_eq!(bad.problems[0].field, "voidsEventId");
        let voided =
            block_on(void_entry(app.state(), id.clone(), inbound.clone(), "Wrong campaign".into(), shown))
                .unwrap();
        assert_eq!(voided.state.status, CampaignStatus::Created);
        assert_eq!(voided.events[1].voided.as_ref().unwrap().reason, "Wrong campaign");
        assert_eq!(voided.events[2].void.as_ref().unwrap().voids_label, "Inbound Shipment");
        let refused =
            block_on(review_anomaly(app.state(), id, inbound, AnomalyKind::DuplicateStep, "fine".into()))
                .unwrap_err();
        assert_eq!(refused.kind, ErrorKind::Refused);
        assert_eq!(refused.problems[0].field, "eventId");
    }

    /// Home reads on a connection of its own: it answers while an entry holds the writer and
    /// an export holds a reader, each until the test lets go.
    #[test]
    fn home_answers_while_the_writer_and_a_reader_are_busy() {
        use std::sync::mpsc::channel;
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        create(&app);
        let session = app.state::<AppState>().lock().session().unwrap();
        let (held, holding) = channel();
        let mut releases = Vec::new();
        let mut holders = Vec::new();
        for write in [true, false] {
            let (release, released) = channel::<()>();
            let (session, held) = (session.clone(), held.clone());
            releases.push(release);
            holders.push(std::thread::spawn(move || {
                let hold = || {
                    held.send(()).unwrap();
                    released.recv().unwrap();
                    Ok(())
                };
                if write {
                    session.write(|_| hold())
                } else {
                    session.read(|_| hold())
                }
            }));
        }
        holding.recv().unwrap();
        holding.recv().unwrap();
        let (answered, answer) = channel();
        let handle = app.handle().clone();
        std::thread::spawn(move || answered.send(block_on(home(handle.state(), 10))).unwrap());
        // Only a guard against hanging for ever: the answer is expected at once.
        let home = answer.recv_timeout(std::time::Duration::from_secs(60)).expect("home answered");
        assert_eq!(home.unwrap().site, "MBA");
        for release in releases {
            release.send(()).unwrap();
        }
        for holder in holders {
            holder.join().unwrap().unwrap();
        }
    }

    #[test]
    fn a_database_from_a_newer_pluto_is_explained_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("pluto.sqlite3");
        drop(Store::open(&db).unwrap());
        rusqlite::Connection::open(&db).unwrap().pragma_update(None, "user_version", 999).unwrap();
        let state = AppState::open(Ok(Paths::beside(db)), Instant::now());
        let message = state.lock().session.as_ref().err().cloned().unwrap();
        assert!(message.contains("newer version of Pluto"), "{message}");
        let app = mock_builder().manage(state).build(mock_context(noop_assets())).unwrap();
        let err =
            block_on(list_campaigns(app.state(), None, None, SortOrder::LastActivity, 0, 50)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unavailable);
    }
}
