//! PostgreSQL for the sync server's benchmarks: a fresh schema per server and per baseline, and
//! a blocking connection for the bare side.
//!
//! The bare side uses tokio-postgres, the server's own driver, on a current-thread runtime that
//! only runs while the benchmark waits on it: no extra threads compete with the server for the
//! CPU. Schemas get random names, so runs never see each other's rows, and are dropped at the
//! end, even when a benchmark fails.

use std::future::Future;

use anyhow::{Context, Result};
use tokio::runtime::Runtime;
use tokio_postgres::{Client, NoTls};

/// The PostgreSQL server used when neither `--database-url` nor `PLUTO_TEST_DATABASE_URL` names
/// one: the local one, as on a developer's machine.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// One connection with the runtime that drives it.
pub struct Pg {
    runtime: Runtime,
    client: Client,
}

impl Pg {
    /// Connects to `url`, saying what to do when PostgreSQL is not there.
    pub fn connect(url: &str) -> Result<Pg> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let client = runtime
            .block_on(async {
                let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
                // Driven whenever the runtime runs, that is while `run` waits on a query.
                tokio::spawn(connection);
                Ok::<_, tokio_postgres::Error>(client)
            })
            .with_context(|| {
                format!(
                    "cannot connect to PostgreSQL at {}: pass --database-url (or set \
                     PLUTO_TEST_DATABASE_URL), or run only the SQLite side with --backend sqlite",
                    redact(url)
                )
            })?;
        Ok(Pg { runtime, client })
    }

    /// The connection, for building queries to pass to [`Pg::run`].
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Waits for `work`, driving the connection meanwhile.
    pub fn run<T>(&self, work: impl Future<Output = T>) -> T {
        self.runtime.block_on(work)
    }
}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if url[scheme + 3..at].contains(':') => {
            let user_end = scheme + 3 + url[scheme + 3..at].find(':').unwrap_or(0);
            format!("{}:***{}", &url[..user_end], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// A schema of its own, dropped (with every session still using it) when this is dropped.
pub struct Schema {
    admin_url: String,
    name: String,
    /// A URL selecting the schema, for the server's `--database-url` and for [`Pg::connect`].
    pub url: String,
}

impl Schema {
    /// Creates `pluto_bench_<random>_<label>` on the server `admin_url` names.
    pub fn create(admin_url: &str, label: &str) -> Result<Schema> {
        let mut random = [0u8; 6];
        getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("no random bytes: {e}"))?;
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("pluto_bench_{hex}_{label}");
        let pg = Pg::connect(admin_url)?;
        pg.run(pg.client().batch_execute(&format!("CREATE SCHEMA {name}")))
            .with_context(|| format!("cannot create the schema {name}"))?;
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        // The application name tags every session on this schema (the server's pool included),
        // so that the drop can end any left behind by a failed run.
        let url = format!("{admin_url}{separator}options=-csearch_path%3D{name}&application_name={name}");
        Ok(Schema { admin_url: admin_url.to_owned(), name, url })
    }

    fn drop_now(&self) -> Result<()> {
        let pg = Pg::connect(&self.admin_url)?;
        pg.run(pg.client().batch_execute(&format!(
            "SET lock_timeout = '30s';
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE application_name = '{name}' AND pid <> pg_backend_pid();
             DROP SCHEMA IF EXISTS {name} CASCADE",
            name = self.name
        )))?;
        Ok(())
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Err(e) = self.drop_now() {
            eprintln!("warning: cannot drop the schema {}: {e:#}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(redact("postgres://postgres@127.0.0.1/x"), "postgres://postgres@127.0.0.1/x");
        assert_eq!(redact("postgres://u:secret@h:5432/x"), "postgres://u:***@h:5432/x");
    }
}
