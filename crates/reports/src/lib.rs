//! Pluto Tracker's reports: what coordinators and auditors take away from the records. The
//! period mass balance, a campaign's printable chain-of-custody record (PDF, Excel, CSV), the
//! campaign list as a workbook, and verifiable audit exports. Each is built from the store's
//! read models by one path, which the desktop app and the command line share.

pub mod audit;
pub mod documents;
pub mod pdf;
pub mod period;
pub mod record;
pub mod xlsx;
