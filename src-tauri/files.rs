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

/// Writes one of the app's JSON files atomically (a temporary file renamed over it), readable
/// by its owner only when `private`.
pub fn write_json<T: Serialize>(path: &Path, value: &T, what: &str, private: bool) -> Result<(), String> {
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    options
        .open(&tmp)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot save {what} to {}: {e}", path.display()))
}
