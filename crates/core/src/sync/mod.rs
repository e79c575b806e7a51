//! Sync with the central server: the wire protocol both sides speak, the laptop's client, and
//! the background loop that keeps trying.

pub mod client;
pub mod protocol;
pub mod runner;

pub use client::{sync_once, SyncClient, SyncError, SyncReport};
