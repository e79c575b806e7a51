//! The documents a coordinator saves, made by one path for the desktop app and the command line:
//! who makes them ([`stamp`]), a campaign's record as the store holds it ([`campaign_record`]),
//! and the bytes of a chain-of-custody record or a period report in the chosen file type. The
//! app and the CLI only choose the file type, ask where to write, and write the bytes with
//! `pluto_files`.

use pluto_domain::ids::{CampaignId, UserId};
use pluto_domain::time::Timestamp;
use pluto_store::{Store, StoreError};
use serde::Deserialize;

use crate::audit::{custody_fingerprint, AuditKey, ExportError};
use crate::pdf::{Locale, Stamp};
use crate::period::PeriodReport;
use crate::record::{CampaignRecord, CsvSeparator};

/// Which file a custody record is saved as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum CustodyFile {
    /// A PDF to print and sign.
    Pdf,
    /// An Excel workbook with typed values.
    Xlsx,
    /// CSV for the spreadsheet the separator suits, with a byte-order mark.
    Csv(CsvSeparator),
}

/// Which file a report is saved as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum ReportFile {
    /// An Excel workbook.
    Xlsx,
    /// A PDF to print and sign.
    Pdf,
}

/// Why a document could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit fingerprint could not be made.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The workbook writer failed (its own failure, not the coordinator's input).
    #[error("cannot make the workbook: {0}")]
    Workbook(#[from] rust_xlsxwriter::XlsxError),
}

/// Who makes a document on this installation now, in `locale`, with times in the computer's
/// time zone: their name and the public half of the installation's audit `key`.
pub fn stamp(locale: Locale, training: bool, user: &UserId, key: &AuditKey) -> Stamp<'static, chrono::Local> {
    Stamp {
        locale,
        tz: &chrono::Local,
        training,
        made_at: Timestamp::now(),
        made_by: user.display_name(),
        public_key: key.public_key(),
    }
}

/// A campaign's record: its state, stages, history with corrections and the server-attested site
/// of each entry, as recorded at `as_of` when given. `None` when nothing was recorded on it by
/// then; an unknown campaign is the store's refusal.
pub fn campaign_record(
    store: &Store,
    id: &CampaignId,
    as_of: Option<Timestamp>,
) -> Result<Option<CampaignRecord>, StoreError> {
    let events = store.history(id)?;
    let Some(mut record) = CampaignRecord::of(&events, as_of, Timestamp::now()) else {
        return Ok(None);
    };
    record.attest_sites(&store.server_sites(id)?);
    if let Some(policy) = store.site_policy()? {
        record.apply_policy(&policy);
    }
    Ok(Some(record))
}

/// The chain-of-custody record of `record` as `file`; a PDF carries the fingerprint of the
/// campaign's events, the head of the hash chain its audit export signs with `key`.
pub fn custody(
    store: &Store,
    key: &AuditKey,
    record: &CampaignRecord,
    stamp: &Stamp<chrono::Local>,
    file: CustodyFile,
) -> Result<Vec<u8>, DocumentError> {
    Ok(match file {
        CustodyFile::Pdf => {
            let fingerprint = custody_fingerprint(store, key, &record.state.id)?;
            crate::pdf::custody_record(record, stamp, &fingerprint)
        }
        CustodyFile::Xlsx => crate::xlsx::custody_record(record, stamp.tz, stamp.training)?,
        CustodyFile::Csv(separator) => record.custody_csv(separator, stamp.tz, stamp.training),
    })
}

/// The period report as `file`.
pub fn period_report(
    report: &PeriodReport,
    stamp: &Stamp<chrono::Local>,
    file: ReportFile,
) -> Result<Vec<u8>, DocumentError> {
    Ok(match file {
        ReportFile::Xlsx => crate::xlsx::period_report(report, stamp.training)?,
        ReportFile::Pdf => crate::pdf::period_report(report, stamp, &report.fingerprint()),
    })
}
