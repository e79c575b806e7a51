//! Files Pluto keeps, on laptops and on the server: databases and secrets created readable by
//! their owner only, files written whole or not at all, and databases opened while another
//! process holds them. No other Pluto crate; the store, the server, the app and the command line
//! share these.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Creates `path` as an empty file readable and writable by its owner only, unless it exists.
/// SQLite takes an empty file for a new database, and gives its journal files the database
/// file's permissions: a laptop's or the server's records are not readable by other accounts.
pub fn create_owner_only(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Runs `open` again while it fails because the database is busy, for up to `patience`.
///
/// Several processes open one file at once (the app and `pluto`; a server and `pluto-server
/// token create`). Switching a new file to WAL, or reading a WAL that another process is
/// checkpointing as it closes, can answer SQLITE_BUSY without consulting the busy handler.
pub fn retry_while_busy<T, E>(
    patience: Duration,
    mut open: impl FnMut() -> Result<T, E>,
    is_busy: impl Fn(&E) -> bool,
) -> Result<T, E> {
    let deadline = Instant::now() + patience;
    loop {
        match open() {
            Err(e) if is_busy(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            other => return other,
        }
    }
}

/// Who may read a file written by [`write_atomically`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Whoever the folder lets read it (an export, a report).
    Shared,
    /// Its owner only (0600 on Unix): a token, a key.
    OwnerOnly,
}

/// Writes `path` whole or not at all: `write` fills a temporary file beside it (`NAME.partial`),
/// which is flushed to the disk and then renamed over `path`, and the folder is flushed too, so
/// that after a crash or a power cut `path` holds either what it held before or all of the new
/// content. On an error the temporary file is removed and `path` is untouched.
pub fn write_atomically<T, E: From<io::Error>>(
    path: &Path,
    access: Access,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<T, E>,
) -> Result<T, E> {
    let partial = partial_path(path);
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if access == Access::OwnerOnly {
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        }
        #[cfg(not(unix))]
        let _ = access;
        let mut out = BufWriter::new(options.open(&partial)?);
        let value = write(&mut out)?;
        out.flush()?;
        out.into_inner().map_err(io::IntoInnerError::into_error)?.sync_all()?;
        replace(&partial, path)?;
        Ok(value)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Moves the finished file `from` to `to` (in the same folder), replacing what was there, and
/// flushes the folder so the move itself survives a power cut.
pub fn replace(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::rename(from, to)?;
    sync_folder(to)
}

/// The temporary file [`write_atomically`] writes before it replaces `path`.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

#[cfg(unix)]
fn sync_folder(path: &Path) -> io::Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(folder) => File::open(folder)?.sync_all(),
        None => File::open(".")?.sync_all(),
    }
}

/// Windows flushes a rename with the file's own metadata; a folder cannot be opened to flush it.
#[cfg(not(unix))]
fn sync_folder(_path: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_file_as_it_was_and_no_partial_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.csv");
        std::fs::write(&path, "before").unwrap();
        let failed: io::Result<()> = write_atomically(&path, Access::Shared, |out| {
            out.write_all(b"half of the new")?;
            Err(io::Error::other("disk full"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "before");
        assert!(!partial_path(&path).exists());
        write_atomically::<_, io::Error>(&path, Access::Shared, |out| out.write_all(b"after")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "after");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only the file itself");
    }

    #[cfg(unix)]
    #[test]
    fn owner_only_files_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        write_atomically::<_, io::Error>(&token, Access::OwnerOnly, |out| out.write_all(b"plt_secret"))
            .unwrap();
        assert_eq!(std::fs::metadata(&token).unwrap().permissions().mode() & 0o777, 0o600);
        let db = dir.path().join("pluto.sqlite3");
        create_owner_only(&db).unwrap();
        assert_eq!(std::fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o600);
        create_owner_only(&db).unwrap();
    }

    #[test]
    fn busy_is_retried_until_it_passes_and_other_errors_are_not() {
        let mut tries = 0;
        let opened: Result<u32, &str> = retry_while_busy(
            Duration::from_secs(5),
            || {
                tries += 1;
                if tries < 3 {
                    Err("busy")
                } else {
                    Ok(tries)
                }
            },
            |e| *e == "busy",
        );
        assert_eq!(opened, Ok(3));
        let mut tries = 0;
        let failed: Result<u32, &str> = retry_while_busy(
            Duration::from_secs(5),
            || {
                tries += 1;
                Err("no such file")
            },
            |e| *e == "busy",
        );
        assert_eq!((failed, tries), (Err("no such file"), 1));
    }
}
