//! A laptop's sync with the central server: the client that pushes this laptop's entries and
//! pulls everyone else's (checking what the server says before the store takes it), and the
//! background loop that keeps trying. The wire format is `pluto-protocol`'s.

pub mod client;
pub mod runner;

pub use client::{sync_once, SyncClient, SyncError, SyncReport};
