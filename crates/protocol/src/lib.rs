//! The sync wire protocol (JSON over HTTP, versioned paths under `/v1`), shared by the central
//! server and the laptops' sync client.
//!
//! - `POST /v1/events` with a bearer token: push a batch ([`PushRequest`] → [`PushResponse`]),
//!   one [`PushResult`] per event; a bad event does not block the good ones in its batch.
//! - `GET /v1/events?after=N&limit=L&waitSeconds=W`: events after position `N` in commit order
//!   ([`PullResponse`]); with `waitSeconds`, an empty page waits for new events (long-poll).
//! - `GET /v1/devices/{deviceId}/status`: what the server holds of one device ([`DeviceStatus`]);
//!   a laptop asking for its own says how many entries it holds ([`HOLDS_HEADER`]).
//! - `GET /v1/health`: liveness and the log's identity ([`Health`]), no token needed.
//! - `POST /v1/attest`: whether the log holds events as an audit export lists them
//!   ([`AttestRequest`] → [`AttestResponse`]), compared by [`pluto_domain::canonical::canonical_sha256`].
//!
//! Errors outside a batch's per-event results come back as [`ErrorBody`] with the HTTP status:
//! 400 malformed request, 401 no or unknown or revoked token, 403 an event of another device,
//! 413 request or batch too large.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use pluto_domain::event::Event;
use pluto_domain::field::FieldError;
use pluto_domain::ids::{DeviceId, EventId};
use pluto_domain::time::Timestamp;

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

/// The header a laptop sends with `GET /v1/devices/{deviceId}/status` for its own device: the
/// highest `deviceSeq` it holds, so that the server can say which devices hold entries it does
/// not (after a restore from a backup, say). Servers older than it ignore it.
pub const HOLDS_HEADER: &str = "pluto-holds";

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
    /// [`pluto_domain::canonical::canonical_sha256`] of the event as the export holds it.
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
    /// When the server received the event it holds at the position (absent when it holds none,
    /// and from servers older than this field). An event that comes back to the same position
    /// after a restore, pushed again, has a later one than it was first served with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<Timestamp>,
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
/// tolerant reader ([`pluto_domain::incoming::Incoming::read`]) reads it on its own, so that an event
/// this build cannot read never fails the page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PulledEvent {
    /// Global position.
    pub position: i64,
    /// When the server received it (absent from servers that did not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<Timestamp>,
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
    /// as [`pluto_domain::registry::EventType::registry_fingerprint`] lists them); missing from servers older
    /// than this field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_types: Vec<String>,
    /// The identity of the log this server keeps, made once when its database is created and
    /// kept by its backups: a server restored from a backup keeps it, another server (or a new,
    /// empty one) has another. Missing from servers older than this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_id: Option<String>,
}

impl Health {
    /// The event types (with their version) the server reads that this build does not: when
    /// any, the server is newer, and laptops need an update to show what it may serve.
    pub fn newer_than_this_build(&self) -> Vec<&str> {
        let newer = |entry: &str| {
            let (name, version) = entry.rsplit_once('@').unwrap_or((entry, "1"));
            match pluto_domain::registry::EventType::parse(name) {
                Ok(t) => version.parse::<u32>().is_ok_and(|v| v > t.schema_version()),
                Err(_) => true,
            }
        };
        self.event_types.iter().map(String::as_str).filter(|t| newer(t)).collect()
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
