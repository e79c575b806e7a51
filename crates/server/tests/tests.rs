//! The server's integration tests, in one binary (modules below, helpers in `util`). They use
//! real SQLite files in temporary folders, a real PostgreSQL (`PLUTO_TEST_DATABASE_URL`, by
//! default the local `test` database; these tests fail rather than skip without it), real
//! servers on loopback and the real `pluto-server` binary.

mod binary;
mod commit_order;
mod conformance;
mod flood;
mod http;
mod pg;
mod security;
mod util;
