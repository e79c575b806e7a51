//! The sync wire protocol (JSON over HTTP, versioned paths under `/v1`), shared by the central
//! server and the laptops' sync client.
//!
//! - `POST /v1/events` with a bearer token: push a batch ([`PushRequest`] → [`PushResponse`]),
//!   one [`PushResult`] per event; a bad event does not block the good ones in its batch.
//! - `GET /v1/events?after=N&limit=L&waitSeconds=W`: events after position `N` in commit order
//!   ([`PullResponse`]); with `waitSeconds`, an empty page waits for new events (long-poll).
//! - `GET /v1/devices/{deviceId}/status`: what the server holds of one device ([`DeviceStatus`]).
//! - `GET /v1/health`: liveness ([`Health`]), no token needed.
//! - `POST /v1/attest`: whether the log holds events as an audit export lists them
//!   ([`AttestRequest`] → [`AttestResponse`]), compared by [`crate::audit::canonical_sha256`].
//!
//! Errors outside a batch's per-event results come back as [`ErrorBody`] with the HTTP status:
//! 400 malformed request, 401 no or unknown or revoked token, 403 an event of another device,
//! 413 request or batch too large.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::Event;
use crate::ids::{DeviceId, EventId};
use crate::payload::FieldError;
use crate::time::Timestamp;

/// Most events one push may carry.
pub const MAX_PUSH_EVENTS: usize = 1_000;

/// Largest request body the server reads, in bytes.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// Most events one pull page returns.
pub const MAX_PULL_LIMIT: u32 = 1_000;

/// Longest long-poll wait the server grants, in seconds.
pub const MAX_WAIT_SECONDS: u32 = 60;

/// Most events one attestation request may ask about.
pub const MAX_ATTEST_EVENTS: usize = 1_000;

/// `POST /v1/attest`: the events of an audit export that name a server position, to compare
/// with the server's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttestRequest {
    /// At most [`MAX_ATTEST_EVENTS`].
    pub events: Vec<AttestQuery>,
}

/// One event to compare: what the export says the server holds at `position`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttestQuery {
    /// The event id.
    pub id: String,
    /// Its position in the server's log, as the export's manifest states it.
    pub position: i64,
    /// [`crate::audit::canonical_sha256`] of the event as the export holds it.
    pub sha256: String,
}

/// How the server's log compares with one queried event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    /// The log holds this event at this position with the same content.
    Same,
    /// The log holds this event at this position with other content: it was changed after it
    /// reached the server.
    Different,
    /// The log holds another event at this position.
    OtherEvent,
    /// The log holds no event at this position.
    Absent,
    /// A verdict of a newer server that this build does not know.
    #[serde(other)]
    Unknown,
}

/// The server's answer for one queried event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attestation {
    /// The queried event id.
    pub id: String,
    /// The queried position.
    pub position: i64,
    /// How the log compares.
    pub verdict: Verdict,
    /// The id of the event the log holds at the position, when it is another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_id: Option<String>,
}

/// `POST /v1/attest`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestResponse {
    /// The last position in the log when it was read.
    pub head: i64,
    /// One per queried event, in the order asked.
    pub events: Vec<Attestation>,
}

/// A batch of events to push. Events are raw JSON so that one malformed event is refused on
/// its own instead of failing the whole request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PushRequest {
    /// The events, each as its JSON envelope.
    pub events: Vec<Value>,
}

/// What became of one pushed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushOutcome {
    /// Newly stored at `position`.
    Stored,
    /// Already stored with identical content, at `position`.
    Duplicate,
    /// Refused: the envelope or payload breaks a rule (`error` says which field).
    Refused,
    /// Refused: the id is already stored with different content (HTTP's 409 for this event).
    Conflict,
}

/// The server's answer for one pushed event, in request order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushResult {
    /// The event's id, or `None` when the id itself was unreadable.
    pub id: Option<EventId>,
    /// What happened.
    pub outcome: PushOutcome,
    /// Its position in the server's log (stored and duplicate events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
    /// Why it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<FieldError>,
    /// How far the event's `createdAt` lies ahead of the server's clock, when that exceeds the
    /// server's skew threshold (the laptop's clock is probably wrong).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_skew_ms: Option<i64>,
}

/// The answer to a push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushResponse {
    /// One result per pushed event, in request order.
    pub results: Vec<PushResult>,
    /// The pushing device's completeness after this push.
    pub device: DeviceStatus,
}

/// An event in the server's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedEvent {
    /// Global position, assigned in commit order: pulling after `N` never skips an event.
    pub position: i64,
    /// When the server received it.
    pub received_at: Timestamp,
    /// The site of the token that pushed it, as the server attests it (absent from servers
    /// older than this field, and for events stored before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Whether an administrator's token pushed it (it may record every type, whatever its site).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
    /// The event as pushed.
    pub event: Event,
}

/// An event of a pulled page as a laptop receives it: the envelope is left unread until the
/// tolerant reader ([`crate::incoming::Incoming::read`]) reads it on its own, so that an event
/// this build cannot read never fails the page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PulledEvent {
    /// Global position.
    pub position: i64,
    /// The site of the token that pushed it, as the server attests it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Whether an administrator's token pushed it (absent from older servers: `false`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
    /// The event's envelope, exactly as served.
    pub event: Box<serde_json::value::RawValue>,
}

/// A page of the log as a laptop reads it: [`PullResponse`] with each event left unread.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PulledPage {
    /// Events after the requested position, in position order.
    pub events: Vec<PulledEvent>,
    /// The cursor for the next pull.
    pub next_after: i64,
    /// Whether more events were already available past this page.
    pub has_more: bool,
}

/// A page of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullResponse {
    /// Events after the requested position, in position order.
    pub events: Vec<LoggedEvent>,
    /// The cursor for the next pull: the last position in this page, or the requested one.
    pub next_after: i64,
    /// Whether more events were already available past this page.
    pub has_more: bool,
}

/// What the server holds of one device's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceStatus {
    /// The device.
    pub device_id: DeviceId,
    /// Every event of this device with `deviceSeq` 1..=N is on the server (0: none yet).
    pub contiguous_up_to: u64,
    /// The highest `deviceSeq` received (above `contiguousUpTo` means a hole still to fill).
    pub highest_seq: u64,
    /// How many of its events the server holds.
    pub event_count: u64,
    /// When the server last received one of its events.
    pub last_received_at: Option<Timestamp>,
}

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// The server's version.
    pub version: String,
    /// The last position in the log.
    pub head: i64,
    /// The event types and payload schema versions the server reads fully (`Name@version`,
    /// as [`crate::EventType::registry_fingerprint`] lists them); missing from servers older
    /// than this field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_types: Vec<String>,
}

impl Health {
    /// The event types (with their version) the server reads that this build does not: when
    /// any, the server is newer, and laptops need an update to show what it may serve.
    pub fn newer_than_this_build(&self) -> Vec<&str> {
        let newer = |entry: &str| {
            let (name, version) = entry.rsplit_once('@').unwrap_or((entry, "1"));
            match crate::EventType::parse(name) {
                Ok(t) => version.parse::<u32>().is_ok_and(|v| v > t.schema_version()),
                Err(_) => true,
            }
        };
        self.event_types.iter().map(String::as_str).filter(|t| newer(t)).collect()
    }
}

/// `GET /v1/policy`: which event types the asking token may record, and the whole site table.
/// Type names are sent as text, so that a laptop reads a newer server's policy: names it does
/// not know are kept and never match its own entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SitePolicy {
    /// The site the server knows the token by.
    pub site: String,
    /// Whether the token is an administrator's, allowed every type.
    #[serde(default)]
    pub admin: bool,
    /// The types the token may record (a correction is allowed where its target's type is).
    pub may_record: Vec<String>,
    /// Every site the policy names, with the types it may record.
    #[serde(default)]
    pub sites: std::collections::BTreeMap<String, Vec<String>>,
}

/// The default site policy, the chain's division of work: LEGO creates, approves returns and
/// closes; MBA processes; ECHA approves; RGE manufactures. The server starts with it unless given
/// a policy file; a laptop that has not yet synced offers its profile's site's steps first by it.
pub const DEFAULT_SITE_POLICY: &[(&str, &[crate::EventType])] = {
    use crate::EventType::*;
    &[
        ("LEGO", &[CampaignCreated, EchaApprovalRecorded, ReturnToLegoRecorded, CampaignCompleted]),
        (
            "MBA",
            &[
                InboundShipmentRecorded,
                GranulationCompleted,
                MetalRemovalCompleted,
                PolymerPurificationCompleted,
                ExtrusionCompleted,
                TransferToRgeRecorded,
            ],
        ),
        ("ECHA", &[EchaApprovalRecorded]),
        ("RGE", &[ManufacturingStarted, ManufacturingCompleted, ReturnToLegoRecorded]),
    ]
};

impl SitePolicy {
    /// The site policy's rule, which the server and laptops share: an entry of `event_type` is
    /// allowed at `site` when `allows` holds for the type it records, or for a correction or
    /// void the type it changes (`acts_on`). A review of an anomaly (`acts_on`: the type of the
    /// entry the anomaly is on, or the type that entry changes) is for the site that records that
    /// type, and for the site that creates campaigns (LEGO, by default). `Err` holds the refusal
    /// in words.
    pub fn judge(
        site: &str,
        event_type: crate::EventType,
        acts_on: Option<crate::EventType>,
        allows: impl Fn(crate::EventType) -> bool,
    ) -> Result<(), String> {
        use crate::EventType::{AnomalyReviewed, CampaignCreated, EntryVoided, EventCorrected};
        let verb = match event_type {
            AnomalyReviewed => {
                if acts_on.is_some_and(&allows) || allows(CampaignCreated) {
                    return Ok(());
                }
                let of = acts_on.map_or("an entry of a newer Pluto", crate::EventType::label);
                return Err(format!(
                    "site {site} may not review anomalies of {of}: a review is for the site that records that \
                     step, or the site that creates campaigns"
                ));
            }
            EventCorrected => "correct",
            EntryVoided => "void",
            _ => "record",
        };
        let recorded = acts_on.filter(|_| event_type.acts_on_others()).unwrap_or(event_type);
        if allows(recorded) {
            Ok(())
        } else {
            Err(format!("site {site} may not {verb} {recorded}"))
        }
    }

    /// What [`DEFAULT_SITE_POLICY`] lets `site` record (nothing for a site it does not name;
    /// site names compare without regard to case, as on the server).
    pub fn default_for(site: &str) -> SitePolicy {
        let names = |types: &[crate::EventType]| types.iter().map(|t| t.as_str().to_owned()).collect();
        let may_record = DEFAULT_SITE_POLICY
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(site))
            .map_or_else(Vec::new, |(_, types)| names(types));
        SitePolicy {
            site: site.to_owned(),
            admin: false,
            may_record,
            sites: DEFAULT_SITE_POLICY
                .iter()
                .map(|(name, types)| ((*name).to_owned(), names(types)))
                .collect(),
        }
    }

    /// What the token may record, in words (`Manufacturing Start, Manufacturing Complete`).
    pub fn allowed_in_words(&self) -> String {
        if self.admin {
            return "every step".into();
        }
        if self.may_record.is_empty() {
            return "nothing".into();
        }
        let words: Vec<&str> = self
            .may_record
            .iter()
            .map(|name| match crate::EventType::parse(name) {
                Ok(known) => known.label(),
                Err(_) => name.as_str(),
            })
            .collect();
        words.join(", ")
    }

    /// Whether the token may record an entry of `event_type`; `acts_on` is the changed type for
    /// a correction or void. `Err` holds the refusal in the server's words.
    pub fn check(
        &self,
        event_type: crate::EventType,
        acts_on: Option<crate::EventType>,
    ) -> Result<(), String> {
        Self::judge(&self.site, event_type, acts_on, |recorded| {
            self.admin || self.may_record.iter().any(|t| t == recorded.as_str())
        })
    }
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// A stable code: `bad_request`, `unauthorized`, `forbidden`, `too_large`, `not_found`,
    /// `too_many_requests`, `unavailable`, `internal`.
    pub code: String,
    /// What went wrong and what to do, in words.
    pub message: String,
}
