//! Pluto Tracker's domain: the event-sourced campaign, pure (no database, no network, no files).
//!
//! A campaign is a stream of immutable events (the original design's 13 types and two that
//! resolve mistakes, each declared once in [`registry`]). Its current state is a pure fold of
//! those events in their canonical order ([`fold::fold`]). Entry on a laptop is strict
//! ([`fold::check_next`], [`correction::check_correction`]); events from elsewhere are accepted
//! when their payload is valid and irregularities are reported as anomalies rather than refused,
//! so that sync never loses a fact. The site policy ([`policy`]) and the bounds on what an event
//! may claim ([`bounds`]) are shared by the server and the laptops.
//!
//! The modules form layers, each using only those listed before it: [`ids`], [`field`],
//! [`time`], [`canonical`], [`registry`], [`refusal`], [`vocabulary`], [`event`], [`incoming`],
//! [`bounds`], [`policy`], [`anomaly`], [`flows`], [`correction`], [`state`], [`metrics`],
//! [`mod@fold`], [`samples`].

pub mod anomaly;
pub mod bounds;
pub mod canonical;
pub mod correction;
pub mod event;
pub mod field;
pub mod flows;
pub mod fold;
pub mod ids;
pub mod incoming;
pub mod metrics;
pub mod policy;
pub mod quantity;
pub mod refusal;
pub mod registry;
pub mod samples;
pub mod state;
pub mod time;
pub mod vocabulary;

pub use anomaly::{Anomaly, AnomalyKind, Review};
pub use event::{Event, STREAM_TYPE_CAMPAIGN};
pub use field::{describe, FieldError};
pub use fold::{fold, fold_as_of};
pub use ids::{CampaignId, DeviceId, EventId, UserId};
pub use incoming::{Incoming, Malformed};
pub use metrics::MassBalance;
pub use policy::SitePolicy;
pub use refusal::Refusal;
pub use registry::fields::{FieldKind, FieldSpec, MaterialType};
pub use registry::payload::Reading;
pub use registry::status::Tone;
pub use registry::{CampaignStatus, EventType, Payload, Steps};
pub use state::CampaignState;
pub use time::{IsoDate, Timestamp};
