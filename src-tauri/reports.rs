//! The audit outputs: the period mass balance on screen, and the files a coordinator saves where
//! they choose (the window asks through the save dialog and passes the path): the period report
//! as Excel or PDF, a campaign's chain-of-custody record as PDF, Excel or CSV, the campaign list
//! as Excel, and a campaign's verifiable audit export. Files made from the
//! training database say TRAINING.

use std::io::Write as _;

use pluto_domain::time::parse_date;
use pluto_domain::{CampaignStatus, MaterialType, UserId};
use pluto_reports::audit::AuditKey;
use pluto_reports::documents::{self, CustodyFile, DocumentError, ReportFile};
use pluto_reports::pdf::{Locale, Stamp};
use pluto_reports::period::{Period, PeriodReport, Scope, Site};
use pluto_store::{ListQuery, Selection, SortOrder};
use serde::{Deserialize, Serialize};
use tauri::State;

use crate::commands;

use crate::commands::{record_of, user_and_session};
use crate::error::{CommandError, ErrorKind};
use crate::state::{blocking, AppState, Session};

/// The period and campaigns a report covers, as the screen asks for them.
#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PeriodQuery {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, included.
    pub to: String,
    /// Only this material; `None`: both.
    pub material: Option<MaterialType>,
    /// Only this site's balance; `None`: the whole chain.
    pub site: Option<Site>,
}

impl PeriodQuery {
    fn read(&self) -> Result<(Period, Scope), CommandError> {
        let from = parse_date(&self.from).map_err(|e| CommandError::field("from", e.message))?;
        let to = parse_date(&self.to).map_err(|e| CommandError::field("to", e.message))?;
        let period = Period::new(from, to).map_err(|e| CommandError::field("to", e.to_string()))?;
        Ok((period, Scope { material: self.material, site: self.site }))
    }
}

/// The mass balance of a period across campaigns.
#[tauri::command]
#[specta::specta]
pub async fn period_report(
    state: State<'_, AppState>,
    query: PeriodQuery,
) -> Result<PeriodReport, CommandError> {
    let (period, scope) = query.read()?;
    let session = state.lock().session()?;
    blocking(move || session.read(|store| Ok(pluto_reports::period::report(store, period, scope)?))).await
}

/// A file the app saved.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SavedFile {
    /// Where.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u32,
}

/// Saves the period report as `format` at `path` (chosen in the save dialog), its numbers and
/// dates in `locale` (the window's language tag).
#[tauri::command]
#[specta::specta]
pub async fn save_period_report(
    state: State<'_, AppState>,
    query: PeriodQuery,
    format: ReportFile,
    path: String,
    locale: String,
) -> Result<SavedFile, CommandError> {
    let (period, scope) = query.read()?;
    let (user, session) = user_and_session(&state)?;
    blocking(move || {
        let (stamp, _) = stamp(&session, &user, &locale)?;
        let report = session.read(|store| Ok(pluto_reports::period::report(store, period, scope)?))?;
        save(&path, &documents::period_report(&report, &stamp, format)?)
    })
    .await
}

/// Saves a campaign's chain-of-custody record as `format` at `path` (chosen in the save dialog).
#[tauri::command]
#[specta::specta]
pub async fn save_custody(
    state: State<'_, AppState>,
    campaign_id: String,
    format: CustodyFile,
    path: String,
    locale: String,
) -> Result<SavedFile, CommandError> {
    let id = commands::campaign_id(&campaign_id)?;
    let (user, session) = user_and_session(&state)?;
    blocking(move || {
        let (stamp, key) = stamp(&session, &user, &locale)?;
        let bytes = session.read(|store| {
            let record = record_of(store, &id, None)?;
            Ok(documents::custody(store, &key, &record, &stamp, format)?)
        })?;
        save(&path, &bytes)
    })
    .await
}

/// Saves the campaign list as an Excel workbook at `path` (chosen in the save dialog): every
/// campaign the list's filter matches (`status`, `search`, in `sort` order), not only the page
/// on screen.
#[tauri::command]
#[specta::specta]
pub async fn save_campaign_list(
    state: State<'_, AppState>,
    status: Option<CampaignStatus>,
    search: Option<String>,
    sort: SortOrder,
    path: String,
) -> Result<SavedFile, CommandError> {
    let query = ListQuery { status, search, sort, limit: 0, offset: 0 };
    let session = state.lock().session()?;
    blocking(move || {
        let rows = session.read(|store| Ok(store.list_every(&query)?))?;
        let bytes = pluto_reports::xlsx::campaign_list(&rows, &query, session.training)
            .map_err(DocumentError::from)?;
        save(&path, &bytes)
    })
    .await
}

/// An audit export the app saved.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditExported {
    /// The file.
    pub path: String,
    /// How many events it holds.
    pub events: u32,
    /// The public key that signed it (this laptop's audit key).
    pub public_key: String,
}

/// Saves a verifiable audit export of one campaign at `path` (chosen in the save dialog): its
/// events and a manifest signed with this laptop's key (`docs/audit-export.md`). One made from
/// the training database says so in its signed manifest.
#[tauri::command]
#[specta::specta]
pub async fn save_audit_export(
    state: State<'_, AppState>,
    campaign_id: String,
    path: String,
) -> Result<AuditExported, CommandError> {
    let id = commands::campaign_id(&campaign_id)?;
    let session = state.lock().session()?;
    blocking(move || {
        // Refuses an unknown campaign rather than saving an export of nothing.
        session.read(|store| Ok(store.history(&id)?))?;
        save_audit(&session, vec![id.to_string()], &path)
    })
    .await
}

/// Saves a verifiable audit export of every campaign behind the period report at `path` (chosen
/// in the save dialog): their whole histories, so that an auditor can recompute each figure.
#[tauri::command]
#[specta::specta]
pub async fn save_period_audit_export(
    state: State<'_, AppState>,
    query: PeriodQuery,
    path: String,
) -> Result<AuditExported, CommandError> {
    let (period, scope) = query.read()?;
    let session = state.lock().session()?;
    blocking(move || {
        let report = session.read(|store| Ok(pluto_reports::period::report(store, period, scope)?))?;
        if report.campaigns.is_empty() {
            return Err(CommandError::field(
                "from",
                "no campaign has figures in this period, so there is nothing to export: choose another period",
            ));
        }
        save_audit(&session, report.campaigns.iter().map(|c| c.id.to_string()).collect(), &path)
    })
    .await
}

/// Saves the audit export of `campaigns` at `path`, marked as training data in the training
/// database.
fn save_audit(session: &Session, campaigns: Vec<String>, path: &str) -> Result<AuditExported, CommandError> {
    let selection =
        Selection { campaigns: Some(campaigns), training: session.training, ..Default::default() };
    let key = session.write(|store| Ok(pluto_reports::audit::audit_key(store)?))?;
    let mut bytes = Vec::new();
    let manifest =
        session.read(|store| Ok(pluto_reports::audit::export(store, &key, &selection, &mut bytes)?))?;
    let saved = save(path, &bytes)?;
    Ok(AuditExported {
        path: saved.path,
        events: manifest.events.len() as u32,
        public_key: manifest.public_key,
    })
}

/// Who makes a file on this laptop now, in the window's language, and the audit key it names
/// (made and kept by the writer the first time).
fn stamp(
    session: &Session,
    user: &UserId,
    locale: &str,
) -> Result<(Stamp<'static, chrono::Local>, AuditKey), CommandError> {
    let key = session.write(|store| Ok(pluto_reports::audit::audit_key(store)?))?;
    let stamp = documents::stamp(Locale::from_tag(locale), session.training, user, &key);
    Ok((stamp, key))
}

/// Writes `bytes` to `path` whole or not at all ([`pluto_files::write_atomically`]): a file that
/// was there is replaced only once the new one is complete, and the save dialog asked before
/// choosing it.
fn save(path: &str, bytes: &[u8]) -> Result<SavedFile, CommandError> {
    let path = std::path::PathBuf::from(path);
    if !path.is_absolute() || path.file_name().is_none() {
        return Err(CommandError::field(
            "path",
            format!("expected a file's full path, got {:?}", path.display()),
        ));
    }
    pluto_files::write_atomically(&path, pluto_files::Access::Shared, |out| out.write_all(bytes))
        .map_err(|e| CommandError::new(ErrorKind::Failed, format!("cannot save {}: {e}", path.display())))?;
    Ok(SavedFile { path: path.display().to_string(), bytes: bytes.len() as u32 })
}
