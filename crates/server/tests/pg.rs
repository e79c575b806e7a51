//! A PostgreSQL schema of its own for each test, on the server `PLUTO_TEST_DATABASE_URL` names
//! (by default the local one). Shared by the test binaries; tests that need PostgreSQL fail,
//! never skip, when it is not there.

/// The database PostgreSQL tests use when `PLUTO_TEST_DATABASE_URL` is unset.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A PostgreSQL schema of its own for one test, dropped when the test ends (even on panic).
pub struct PgSchema {
    base_url: String,
    name: String,
    /// A URL that selects the schema (`options=-csearch_path=…`).
    pub url: String,
}

/// The PostgreSQL server the tests use: `PLUTO_TEST_DATABASE_URL`, by default the local one.
pub fn test_database_url() -> String {
    std::env::var("PLUTO_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned())
}

/// Connects to `url`, failing the test with a clear message when PostgreSQL is not there.
pub async fn pg_connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap_or_else(|e| {
            panic!(
                "these tests need PostgreSQL at {url} (set PLUTO_TEST_DATABASE_URL to another server; \
             it is never skipped): {e}"
            )
        });
    tokio::spawn(connection);
    client
}

impl PgSchema {
    /// Creates a schema with a random name.
    pub async fn create() -> Self {
        let base_url = test_database_url();
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).expect("random bytes");
        let name = format!("pluto_test_{}", random.iter().map(|b| format!("{b:02x}")).collect::<String>());
        pg_connect(&base_url)
            .await
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .expect("create schema");
        let separator = if base_url.contains('?') { '&' } else { '?' };
        // The application name tags this test's sessions, so that the drop can end them.
        let url = format!("{base_url}{separator}options=-csearch_path%3D{name}&application_name={name}");
        Self { base_url, name, url }
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        // The test's own sessions may still be open (their runtime is blocked here, in a drop):
        // end them first, or the DROP would wait for their locks forever.
        let sql = format!(
            "SET lock_timeout = '30s';
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{name}';
             DROP SCHEMA IF EXISTS {name} CASCADE",
            name = self.name
        );
        let url = self.base_url.clone();
        // Drop cannot await, and may run inside a runtime: use a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move { pg_connect(&url).await.batch_execute(&sql).await })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
            panic!("cannot drop the test schema {}: {dropped:?}", self.name);
        }
    }
}
