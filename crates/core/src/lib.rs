//! Pluto Tracker's core: the event-sourced campaign domain and the local SQLite event store.
//!
//! A campaign is a stream of immutable events (the spec's 13 types, declared once in
//! [`registry`]). Its current state is a
//! pure fold of those events ([`fold::fold`]), stored as a projection that can always be rebuilt.
//! Entry on this laptop is strict ([`fold::check_next`], [`correction::check_correction`]);
//! events from elsewhere are accepted when their payload is valid and irregularities are
//! reported as anomalies rather than refused, so that sync never loses a fact.
//!
//! Nothing here depends on Tauri: the desktop app, the CLI and the sync server share it.

pub mod anomaly;
pub mod audit;
pub mod bounds;
pub mod correction;
pub mod error;
pub mod event;
pub mod event_type;
pub mod fold;
pub mod ids;
pub mod incoming;
pub mod metrics;
pub mod payload;
pub mod pdf;
pub mod period;
pub mod record;
pub mod registry;
pub mod samples;
pub mod state;
pub mod status;
pub mod store;
pub mod sync;
pub mod time;
pub mod upcast;
pub mod vocabulary;
pub mod xlsx;

#[cfg(test)]
mod registry_tests;

pub use error::Refusal;
pub use event::{Event, STREAM_TYPE_CAMPAIGN};
pub use fold::{fold, fold_as_of, Anomaly, AnomalyKind, CampaignState};
pub use ids::{CampaignId, DeviceId, EventId, UserId};
pub use incoming::{Incoming, Malformed};
pub use metrics::MassBalance;
pub use payload::{EventType, FieldError, FieldKind, FieldSpec, MaterialType, Payload, Reading};
pub use status::CampaignStatus;
pub use store::{Store, StoreError};
pub use time::Timestamp;
