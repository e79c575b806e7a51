//! The server's settings and their defaults: where it listens, which backend holds the data,
//! and the thresholds of the sync service. The command line (`main.rs`) only fills these in.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How long a response may wait for the client to read more of it, unless configured
/// ([`ServiceOptions::write_stall`]): hyper never times out a write, so a client that stops
/// reading would otherwise hold its connection for ever.
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Where `serve` listens when not told: loopback, so a fresh install is not exposed by accident.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::V4(std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 8080));

/// The SQLite file used when neither `--data` nor `--database-url` is given (relative to the
/// working directory).
pub const DEFAULT_DATA_FILE: &str = "pluto-server.sqlite3";

/// How far ahead of the server's clock an event's `createdAt` may lie before it is flagged.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// How often the server re-reads the head of the log and the revoked tokens, for every waiting
/// long-poll at once: events committed by another server process sharing the database wake them,
/// and a revoked token's end (its own commits wake them at once).
pub const DEFAULT_RECHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Which backend holds the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// An SQLite file (created if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL database URL.
    Postgres(String),
}

impl StorageConfig {
    /// From the `--data FILE` and `--database-url URL` flags (at most one is given): PostgreSQL
    /// when a URL is given, otherwise the SQLite file, by default [`DEFAULT_DATA_FILE`].
    pub fn from_flags(data: Option<PathBuf>, database_url: Option<String>) -> Self {
        match (database_url, data) {
            (Some(url), _) => Self::Postgres(url),
            (None, Some(path)) => Self::Sqlite(path),
            (None, None) => Self::Sqlite(PathBuf::from(DEFAULT_DATA_FILE)),
        }
    }

    /// Where the data is, for logs and messages, without any password of the URL.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("SQLite file {}", path.display()),
            Self::Postgres(url) => format!("PostgreSQL database {}", redact_password(url)),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Settings of the sync service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceOptions {
    /// See [`DEFAULT_MAX_CLOCK_SKEW`].
    pub max_clock_skew: Duration,
    /// See [`DEFAULT_RECHECK_INTERVAL`].
    pub recheck_interval: Duration,
    /// The desktop app's releases, served to its updater (see [`crate::releases`]).
    pub releases: PathBuf,
    /// Which event types each site may record.
    pub policy: crate::policy::Policy,
    /// The address laptops reach this server at (`https://pluto.example.com`), for the update
    /// manifests' download links; `None`: `http://` and the address it listens on. Request
    /// headers (`Host`, `X-Forwarded-*`) are never trusted for it.
    pub public_url: Option<String>,
    /// The most bytes of events one token may push per day (UTC); `None`: no limit.
    pub daily_push_quota: Option<u64>,
    /// How long a response may wait for its client to read more (see
    /// [`WRITE_STALL_TIMEOUT`]).
    pub write_stall: Duration,
}

/// The daily push quota per token when not told: 256 MiB, a hundred times what a busy site
/// records in a day and a week of a site's backlog, far below what fills a disk.
pub const DEFAULT_DAILY_PUSH_QUOTA: u64 = 256 * 1024 * 1024;

/// The releases folder when not told (relative to the working directory).
pub const DEFAULT_RELEASES_DIR: &str = "releases";

impl Default for ServiceOptions {
    fn default() -> Self {
        Self {
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
            recheck_interval: DEFAULT_RECHECK_INTERVAL,
            releases: PathBuf::from(DEFAULT_RELEASES_DIR),
            policy: crate::policy::Policy::default(),
            public_url: None,
            daily_push_quota: Some(DEFAULT_DAILY_PUSH_QUOTA),
            write_stall: WRITE_STALL_TIMEOUT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_wins_and_sqlite_is_the_default() {
        assert_eq!(
            StorageConfig::from_flags(None, None),
            StorageConfig::Sqlite(PathBuf::from("pluto-server.sqlite3"))
        );
        assert_eq!(
            StorageConfig::from_flags(None, Some("postgres://h/db".into())),
            StorageConfig::Postgres("postgres://h/db".into())
        );
    }

    #[test]
    fn passwords_are_not_shown() {
        let config = StorageConfig::Postgres("postgres://pluto:s3cret@db:5432/pluto".into());
        assert_eq!(config.describe(), "PostgreSQL database postgres://pluto:***@db:5432/pluto");
        assert_eq!(
            redact_password("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
    }
}
