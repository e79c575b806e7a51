//! The server's integration tests, in one binary (modules below, helpers in `util`). They use
//! real SQLite files in temporary folders, a real PostgreSQL (`PLUTO_TEST_DATABASE_URL`, by
//! default the local `test` database; these tests fail rather than skip without it), real
//! servers on loopback and the real `pluto-server` binary.

mod adversarial;
mod binary;
mod commit_order;
mod conformance;
// Floods measure the deployed server's limits through Linux's /proc and resource limits; the
// server is deployed on Linux (docs/releasing.md), so they are built there only.
#[cfg(target_os = "linux")]
mod flood;
mod hostile;
mod http;
mod instances;
mod metrics;
mod pg;
mod security;
mod util;
