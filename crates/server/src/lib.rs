//! Pluto Tracker's central sync server: laptops push the events they recorded (often offline)
//! and pull everyone else's, through one append-only log with a global position.
//!
//! - [`api`]: the HTTP API of `pluto_protocol` (axum), thin handlers only;
//! - [`service`]: push (check each event, store the good ones, report on each) and pull
//!   (paged, with long-poll), independent of HTTP;
//! - [`ingest`]: the per-event checks and canonical form, the desktop's rules;
//! - [`auth`]: per-device bearer tokens, stored hashed;
//! - [`policy`]: which event types each site may record;
//! - [`storage`]: the [`Storage`](storage::Storage) trait and its SQLite and PostgreSQL backends;
//! - [`download`]: release downloads with a deadline and a share per client;
//! - [`config`] and [`server`]: settings, and running the server with a graceful shutdown.

pub mod api;
pub mod auth;
pub mod config;
pub mod download;
pub mod ingest;
pub mod metrics;
pub mod policy;
pub mod releases;
pub mod server;
pub mod service;
pub mod storage;
