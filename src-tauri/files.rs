//! The app's small JSON files beside the database (the profile, the sync settings): read with a
//! message that says what to do when one is damaged, written atomically.

use std::path::Path;

use serde::Serialize;

/// Reads one of the app's JSON files (`what` names it in messages; `remedy` says what to do
/// when it is damaged); `None` when it does not exist yet.
pub fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
    remedy: &str,
) -> Result<Option<T>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{what} {} is damaged ({e}); {remedy}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {what} {}: {e}", path.display())),
    }
}

/// Writes one of the app's JSON files whole or not at all (see
/// [`pluto_files::write_atomically`]), readable by its owner only when `private`.
pub fn write_json<T: Serialize>(path: &Path, value: &T, what: &str, private: bool) -> Result<(), String> {
    let access = if private { pluto_files::Access::OwnerOnly } else { pluto_files::Access::Shared };
    pluto_files::write_atomically(path, access, |out| {
        serde_json::to_writer_pretty(&mut *out, value).map_err(std::io::Error::from)
    })
    .map_err(|e| format!("cannot save {what} to {}: {e}", path.display()))
}
