//! The server's storage: an append-only event log with a global position, each device's
//! completeness, and the bearer tokens, behind one trait with two backends.
//!
//! [`sqlite`] is the embedded default (one file, no setup); [`postgres`] is the production
//! backend. Both pass the same conformance suite (`tests/conformance.rs`). The rules they share
//! live here as plain functions, so a backend only moves rows: which pushed events are new,
//! duplicate or conflicting (`plan_push`), and how a device's completeness moves
//! (`DeviceTally`).

pub mod postgres;
pub mod sqlite;

use std::collections::HashMap;
use std::future::Future;

use pluto_protocol::DeviceStatus;
use serde::Serialize;

use pluto_domain::{CampaignId, DeviceId, Event, EventId, EventType, FieldError, Timestamp};
use pluto_protocol::LoggedEvent;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The SQLite backend failed.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The PostgreSQL backend failed.
    #[error("PostgreSQL: {}", with_causes(.0))]
    Postgres(tokio_postgres::Error),
    /// No PostgreSQL connection could be had from the pool.
    #[error("PostgreSQL connection pool: {}", with_causes(.0))]
    Pool(deadpool_postgres::PoolError),
    /// A file or folder could not be used.
    #[error("{context}: {error}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The connection settings are unusable.
    #[error("invalid storage settings: {0}")]
    Config(String),
    /// The database was written by a newer server.
    #[error(
        "the database has schema version {found}, but this pluto-server knows versions up to \
         {supported}; run a pluto-server at least as new as the one that last used it"
    )]
    SchemaTooNew {
        /// The database's version.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The SQLite file belongs to another program (for example a laptop's own database).
    #[error("{0} is not a pluto-server database (it has tables of another application); give a new file")]
    ForeignDatabase(String),
    /// A stored row cannot be read back.
    #[error("stored data is unreadable ({0}); the database was changed outside pluto-server")]
    Corrupt(String),
    /// A caller broke a precondition of the trait (a bug in the caller, not bad input).
    #[error("invalid storage request: {0}")]
    InvalidInput(String),
    /// A blocking storage task did not finish.
    #[error("storage task failed: {0}")]
    Task(String),
}

// tokio-postgres keeps the server's message (and the pool, the connection error) in the cause,
// so these variants show their causes themselves and expose no source (which would repeat them).
impl From<tokio_postgres::Error> for StorageError {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Postgres(error)
    }
}

impl From<deadpool_postgres::PoolError> for StorageError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        Self::Pool(error)
    }
}

/// An error and its causes on one line, each cause once.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        let message = error.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        cause = error.source();
    }
    text
}

/// Shorthand for storage results.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// What became of one event handed to [`Storage::push`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Newly stored at this position.
    Stored(i64),
    /// Already stored with identical content, at this position.
    Duplicate(i64),
    /// The id is stored at this position with different content; nothing was changed.
    Conflict(i64),
    /// The device already used this sequence number for the given other event; nothing was
    /// changed (a second event under one number would break completeness on every laptop).
    SeqTaken(EventId),
    /// The event contradicts its campaign's stored creation; not stored.
    Refused(FieldError),
}

/// Who pushed a batch, as the server knows it: recorded beside every event it stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pusher {
    /// The token's id (`tok_…`).
    pub token_id: String,
    /// The token's site.
    pub site: String,
}

/// The result of one push transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct PushOutput {
    /// One outcome per event, in the order given.
    pub outcomes: Vec<StoreOutcome>,
    /// The device's completeness after the push: on PostgreSQL, after the group commit that
    /// stored it, so it may count the device's other pushes of the same group.
    pub device: DeviceStatus,
}

/// What a push claims besides its events, for the bounds kept per device and per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PushClaim {
    /// The events in the request, refused ones included.
    pub size: u64,
    /// The highest `deviceSeq` the request named, refused events included.
    pub highest_seq: u64,
    /// The bytes of the request's events, counted against the token's daily quota.
    pub bytes: u64,
}

impl PushClaim {
    /// The claim of a push of exactly `events`, none refused before storage: for callers that
    /// store events directly (tests, benchmarks).
    pub fn of(events: &[Event]) -> Self {
        let highest_seq = events.iter().map(|e| e.device_seq).max().unwrap_or(0);
        Self { size: events.len() as u64, highest_seq, bytes: 0 }
    }
}

/// An event that a correction, void or review names, as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its campaign.
    pub stream_id: String,
    /// Its type's name.
    pub event_type: String,
    /// For a correction or void, the type of the event it changes.
    pub acts_on: Option<String>,
}

/// The most bytes of events one pull page carries (at least one event, whatever its size): far
/// above what 1,000 real entries take, so count bounds a page first; bytes bound one of large
/// events, so that no content can make a page too large for a laptop to read.
pub const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// A page of the log.
#[derive(Debug, Clone)]
pub struct Page {
    /// Events after the requested position, in position order.
    pub events: Vec<StoredEvent>,
    /// Whether more events were stored past this page when it was read.
    pub has_more: bool,
}

/// An event of the log as stored. Its envelope is the canonical JSON written at push time and
/// is served as it is: a pull never decodes and re-encodes what it sends. Serializes as the
/// protocol's `LoggedEvent`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredEvent {
    /// Global position.
    pub position: i64,
    /// When the server received it.
    pub received_at: Timestamp,
    /// The site of the token that pushed it, as the server knew it (absent for events stored
    /// before the server kept it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Whether an administrator's token pushed it (it may record every type, whatever its site).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
    /// The event's envelope, as stored.
    pub event: Box<serde_json::value::RawValue>,
}

impl StoredEvent {
    /// Wraps a stored envelope (checked to be JSON, not decoded).
    pub(crate) fn new(
        position: i64,
        received_at: Timestamp,
        site: Option<String>,
        admin: bool,
        envelope: String,
    ) -> Result<Self> {
        let event = serde_json::value::RawValue::from_string(envelope)
            .map_err(|e| StorageError::Corrupt(format!("event at position {position}: {e}")))?;
        Ok(Self { position, received_at, site, admin, event })
    }

    /// The event decoded, as a laptop reads it.
    pub fn decode(&self) -> Result<LoggedEvent> {
        Ok(LoggedEvent {
            position: self.position,
            received_at: self.received_at,
            site: self.site.clone(),
            admin: self.admin,
            event: decode(self.position, self.event.get())?,
        })
    }
}

/// What a token may do besides pushing its own device's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Records what the site policy allows its site.
    Site,
    /// An administrator's token: records every type, whatever its site.
    Admin,
}

impl Role {
    /// `site` or `admin`, as stored and typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Site => "site",
            Self::Admin => "admin",
        }
    }

    /// Parses `site` or `admin`.
    pub fn parse(s: &str) -> Option<Role> {
        [Self::Site, Self::Admin].into_iter().find(|r| r.as_str() == s)
    }
}

/// A device's bearer token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// `tok_<ULID>`: how operators name the token (`token revoke`).
    pub id: String,
    /// The only device whose events the token may push.
    pub device_id: DeviceId,
    /// The site the laptop belongs to (MBA, ECHA, RGE, LEGO, …).
    pub site: String,
    /// What it may record.
    pub role: Role,
    /// A free note (whose laptop, which room).
    pub label: Option<String>,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it was revoked; a revoked token is refused.
    pub revoked_at: Option<Timestamp>,
}

/// Storage of the server's log, device completeness and tokens.
///
/// Every method is one transaction. Implementations must assign positions in commit order: a
/// reader that saw position `N` has already been able to see every position below `N`.
pub trait Storage: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Appends the events of one device in one transaction, idempotently by id.
    ///
    /// Every event must be checked and canonical already, and belong to `device` (otherwise
    /// [`StorageError::InvalidInput`] and nothing is stored). An id already stored with an
    /// identical envelope is a duplicate; with a different one, a conflict that changes nothing.
    /// New events get consecutive positions after the current head, and the device's
    /// completeness is updated in the same transaction.
    /// Each stored event records `pusher` beside it. An event that contradicts its campaign's
    /// creation, or whose `deviceSeq` lies beyond what the device has sent plus `claim.size`,
    /// is refused ([`StoreOutcome::Refused`]), decided in the same transaction; the device's
    /// highest sequence number seen and the token's bytes of the day (`claim`) are kept in it.
    fn push(
        &self,
        device: &DeviceId,
        pusher: &Pusher,
        events: &[Event],
        claim: PushClaim,
        received_at: Timestamp,
    ) -> impl Future<Output = Result<PushOutput>> + Send;

    /// The database's size on disk, in bytes (for the operator's metrics).
    fn database_bytes(&self) -> impl Future<Output = Result<u64>> + Send;

    /// The bytes `token_id` pushed on `day` (UTC).
    fn usage(&self, token_id: &str, day: chrono::NaiveDate) -> impl Future<Output = Result<u64>> + Send;

    /// The events among `ids` that the log holds, by id.
    fn targets(&self, ids: Vec<String>) -> impl Future<Output = Result<HashMap<String, Target>>> + Send;

    /// What one token pushed: at most `limit` of its events with a position greater than
    /// `after` and received at or after `since`, in position order.
    fn pushed_by(
        &self,
        token_id: &str,
        since: Option<Timestamp>,
        after: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Page>> + Send;

    /// At most `limit` events with a position greater than `after`, in position order, and no
    /// more than [`MAX_PAGE_BYTES`] of them (but always one).
    fn pull(&self, after: i64, limit: u32) -> impl Future<Output = Result<Page>> + Send;

    /// The last position in the log (0 when empty).
    fn head(&self) -> impl Future<Output = Result<i64>> + Send;

    /// The events stored at `positions`, in position order; positions holding nothing are
    /// left out.
    fn at_positions(&self, positions: Vec<i64>) -> impl Future<Output = Result<Vec<AtPosition>>> + Send;

    /// What the server holds of one device (zeros for a device never seen).
    fn device_status(&self, device: &DeviceId) -> impl Future<Output = Result<DeviceStatus>> + Send;

    /// The identity of this log (`log_…`), made when the database was created and kept by its
    /// backups (see [`pluto_protocol::Health::log_id`]).
    fn log_id(&self) -> &str;

    /// A count that moves whenever any server process sharing the database commits new events,
    /// for backends that several processes share (PostgreSQL); `None` where this process's own
    /// pushes are all there are.
    fn commits(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// Remembers that `device` said at `at` that it holds its entries up to sequence number
    /// `seq`; written only when that differs from what it said before.
    fn report_holdings(
        &self,
        device: &DeviceId,
        seq: u64,
        at: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Every device the server knows, with what it holds of each and what each said it holds,
    /// by device id.
    fn devices(&self) -> impl Future<Output = Result<Vec<DeviceRecord>>> + Send;

    /// Stores a new token under the hash of its secret.
    fn create_token(&self, token: &TokenRecord, secret_hash: &str)
        -> impl Future<Output = Result<()>> + Send;

    /// The token whose secret hashes to `secret_hash`, revoked or not.
    fn find_token(&self, secret_hash: &str) -> impl Future<Output = Result<Option<TokenRecord>>> + Send;

    /// The token with this id, revoked or not.
    fn token(&self, id: &str) -> impl Future<Output = Result<Option<TokenRecord>>> + Send;

    /// Every token, oldest first.
    fn list_tokens(&self) -> impl Future<Output = Result<Vec<TokenRecord>>> + Send;

    /// Revokes a token (a second revocation keeps the first instant); `None` if there is no
    /// such token.
    fn revoke_token(
        &self,
        id: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<Option<TokenRecord>>> + Send;
}

/// An event as the log holds it at a position (`POST /v1/attest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtPosition {
    /// The position.
    pub position: i64,
    /// The event's id.
    pub id: String,
    /// Its envelope as stored.
    pub envelope: String,
    /// When the server received it.
    pub received_at: Timestamp,
}

/// What the server knows of one device, for the operator (`pluto-server devices`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRecord {
    /// What the server holds of its entries.
    #[serde(flatten)]
    pub status: DeviceStatus,
    /// The highest sequence number the laptop last said it holds, if it has said.
    pub reported_seq: Option<u64>,
    /// When it first said so.
    pub reported_at: Option<Timestamp>,
}

impl DeviceRecord {
    /// How many of the device's entries the server misses: those the laptop said it holds past
    /// what the server holds without a gap, and the gaps below the highest it received.
    pub fn missing(&self) -> u64 {
        let known = self.reported_seq.unwrap_or(0).max(self.status.highest_seq);
        let held_above = self.status.event_count.saturating_sub(self.status.contiguous_up_to);
        known.saturating_sub(self.status.contiguous_up_to).saturating_sub(held_above)
    }
}

/// What a push transaction does, decided from the rows already stored under the batch's ids.
#[derive(Debug)]
pub(crate) struct PushPlan<'a> {
    /// One outcome per event, in batch order.
    pub outcomes: Vec<StoreOutcome>,
    /// The new rows and their positions, in position order.
    pub inserts: Vec<(i64, &'a Event)>,
}

/// Decides each event's outcome: `existing` holds the stored events among the batch's ids,
/// `seqs` the ids stored under the batch's sequence numbers (of the pushing device),
/// `creations` the stored `CampaignCreated` id of each of the batch's campaigns that has one,
/// `max_seq` the highest sequence number the device may use now, and `head` the last position.
/// An id or sequence number repeated within the batch is judged against its first occurrence,
/// exactly as if it had been pushed twice.
///
/// A campaign is created once: a second `CampaignCreated` is refused, and so is an event whose
/// id sorts before its campaign's creation (no honest laptop makes one: a new entry takes an id
/// after the campaign's latest, and builds older than the canonical order still fold by id). A
/// creation arriving after events of its campaign is accepted: a laptop may record on a
/// campaign it imported before the creator synced.
pub(crate) fn plan_push<'a>(
    events: &'a [Event],
    existing: &HashMap<EventId, (i64, Event)>,
    seqs: &HashMap<u64, EventId>,
    creations: &mut HashMap<CampaignId, EventId>,
    max_seq: u64,
    mut head: i64,
) -> PushPlan<'a> {
    let mut known: HashMap<&EventId, (i64, &Event)> =
        existing.iter().map(|(id, (position, event))| (id, (*position, event))).collect();
    let mut taken: HashMap<u64, &EventId> = seqs.iter().map(|(seq, id)| (*seq, id)).collect();
    let mut plan = PushPlan { outcomes: Vec::with_capacity(events.len()), inserts: Vec::new() };
    for event in events {
        let outcome = match (known.get(&event.id), taken.get(&event.device_seq)) {
            (Some((position, stored)), _) if *stored == event => StoreOutcome::Duplicate(*position),
            (Some((position, _)), _) => StoreOutcome::Conflict(*position),
            (None, Some(other)) => StoreOutcome::SeqTaken((*other).clone()),
            (None, None) if event.device_seq > max_seq => StoreOutcome::Refused(FieldError::new(
                "deviceSeq",
                format!(
                    "expected at most {max_seq} (the highest this device has sent, plus the events of this push), got {}; \
                     a device numbers its events 1, 2, 3, … without jumps",
                    event.device_seq
                ),
            )),
            (None, None) => match contradicts_creation(event, creations.get(&event.stream_id)) {
                Some(error) => StoreOutcome::Refused(error),
                None => {
                    head += 1;
                    plan.inserts.push((head, event));
                    known.insert(&event.id, (head, event));
                    taken.insert(event.device_seq, &event.id);
                    if event.event_type == EventType::CampaignCreated {
                        creations.insert(event.stream_id.clone(), event.id.clone());
                    }
                    StoreOutcome::Stored(head)
                }
            },
        };
        plan.outcomes.push(outcome);
    }
    plan
}

/// Why `event` cannot be honest, given its campaign's stored creation `created`.
fn contradicts_creation(event: &Event, created: Option<&EventId>) -> Option<FieldError> {
    let created = created?;
    if event.event_type == EventType::CampaignCreated {
        return Some(FieldError::new(
            "eventType",
            format!(
                "campaign {} was already created by {created}; a campaign is created once (correct its fields with EventCorrected)",
                event.stream_id
            ),
        ));
    }
    (event.id < *created).then(|| {
        FieldError::new(
            "id",
            format!(
                "{} sorts before the creation of campaign {} ({created}); an event cannot precede its campaign's creation",
                event.id, event.stream_id
            ),
        )
    })
}

/// A push waiting for the writer: backends store every push waiting at one moment in one
/// transaction (group commit) and answer each on its own channel once that is durable.
pub(crate) struct PushJob {
    /// The pushing device.
    pub device: DeviceId,
    /// Who pushed.
    pub pusher: Pusher,
    /// Its events, checked and canonical.
    pub events: Vec<Event>,
    /// What the request claimed besides them.
    pub claim: PushClaim,
    /// When the server received them.
    pub received_at: Timestamp,
    /// Where the push's result goes.
    pub reply: tokio::sync::oneshot::Sender<Result<PushOutput>>,
}

impl PushJob {
    /// A job and the receiver of its result.
    pub fn new(
        device: &DeviceId,
        pusher: &Pusher,
        events: &[Event],
        claim: PushClaim,
        received_at: Timestamp,
    ) -> (Self, tokio::sync::oneshot::Receiver<Result<PushOutput>>) {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Self {
            device: device.clone(),
            pusher: pusher.clone(),
            events: events.to_vec(),
            claim,
            received_at,
            reply,
        };
        (job, answer)
    }

    /// The day (UTC) whose quota the push counts against.
    pub fn day(&self) -> chrono::NaiveDate {
        self.received_at.datetime().date_naive()
    }

    /// Answers the push. The pusher may have gone (its request was cancelled); what was stored
    /// stays stored.
    pub fn answer(self, result: Result<PushOutput>) {
        let _ = self.reply.send(result);
    }
}

/// Waits for a push's result; a job dropped unanswered was not stored.
pub(crate) async fn push_answer(
    answer: tokio::sync::oneshot::Receiver<Result<PushOutput>>,
) -> Result<PushOutput> {
    answer.await.map_err(|_| StorageError::Task("the push was dropped before it was stored".into()))?
}

/// The error every push of a failed group gets: nothing of the group was stored.
pub(crate) fn group_failed(error: &StorageError) -> StorageError {
    StorageError::Task(format!("the push was not stored: {error}"))
}

/// Refuses a batch that mixes in another device's events: completeness is per device.
pub(crate) fn check_device(device: &DeviceId, events: &[Event]) -> Result<()> {
    match events.iter().find(|e| e.device_id != *device) {
        Some(e) => Err(StorageError::InvalidInput(format!(
            "event {} belongs to device {}, not {device}",
            e.id, e.device_id
        ))),
        None => Ok(()),
    }
}

/// A device's completeness, updated incrementally as a push inserts its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceTally {
    /// The status being updated.
    pub status: DeviceStatus,
    /// The highest sequence number the device has sent, stored or refused.
    pub highest_seen: u64,
    /// Whether an inserted event may have closed the hole after `contiguous_up_to`, so the
    /// stored sequence numbers above it must be read.
    pub may_advance: bool,
}

impl DeviceTally {
    /// Starts from the stored status and highest sequence number seen.
    pub fn new(status: DeviceStatus, highest_seen: u64) -> Self {
        Self { status, highest_seen, may_advance: false }
    }

    /// The highest sequence number a push of `claim.size` events may use: a device's sequence
    /// moves by at most the size of one push past what it has sent.
    pub fn max_seq(&self, claim: PushClaim) -> u64 {
        self.status.highest_seq.max(self.highest_seen).saturating_add(claim.size)
    }

    /// Notes what a push claimed once it is planned: its sequence numbers up to what it may use.
    pub fn seen(&mut self, claim: PushClaim) {
        self.highest_seen = self.highest_seen.max(claim.highest_seq.min(self.max_seq(claim)));
    }

    /// Counts newly inserted events of the device.
    pub fn inserted(&mut self, seqs: impl IntoIterator<Item = u64>, received_at: Timestamp) {
        for seq in seqs {
            let status = &mut self.status;
            status.event_count += 1;
            status.highest_seq = status.highest_seq.max(seq);
            status.last_received_at = Some(received_at);
            self.may_advance |= seq == status.contiguous_up_to + 1;
        }
    }

    /// Moves `contiguous_up_to` along the stored sequence numbers above it (ascending, as read
    /// from the database in chunks). Returns whether the whole chunk was consecutive, that is
    /// whether the next chunk must be read too.
    pub fn advance(&mut self, stored_seqs_above: &[u64]) -> bool {
        for &seq in stored_seqs_above {
            if seq <= self.status.contiguous_up_to {
                continue;
            }
            if seq != self.status.contiguous_up_to + 1 {
                return false;
            }
            self.status.contiguous_up_to = seq;
        }
        true
    }
}

/// How many stored sequence numbers a backend reads at a time while advancing completeness.
pub(crate) const SEQ_CHUNK: u32 = 1_000;

/// A device never seen.
pub(crate) fn empty_status(device: &DeviceId) -> DeviceStatus {
    DeviceStatus {
        device_id: device.clone(),
        contiguous_up_to: 0,
        highest_seq: 0,
        event_count: 0,
        last_received_at: None,
    }
}

/// A page of the log filled row by row, in position order: at most `limit` events and no more
/// than [`MAX_PAGE_BYTES`] of envelopes (but always the first). Each row says which token pushed
/// it; `admins` are the administrators' tokens.
pub(crate) struct PageBuilder {
    events: Vec<StoredEvent>,
    bytes: usize,
    limit: usize,
    admins: std::collections::HashSet<String>,
}

impl PageBuilder {
    pub(crate) fn new(limit: u32, admins: std::collections::HashSet<String>) -> Self {
        Self { events: Vec::new(), bytes: 0, limit: limit as usize, admins }
    }

    /// Takes the next row, or returns `false` when the page is full (a row is left over).
    pub(crate) fn offer(
        &mut self,
        position: i64,
        received_at: Timestamp,
        site: Option<String>,
        token_id: Option<&str>,
        envelope: String,
    ) -> Result<bool> {
        let full = self.events.len() == self.limit
            || (!self.events.is_empty() && self.bytes + envelope.len() > MAX_PAGE_BYTES);
        if full {
            return Ok(false);
        }
        self.bytes += envelope.len();
        let admin = token_id.is_some_and(|t| self.admins.contains(t));
        self.events.push(StoredEvent::new(position, received_at, site, admin, envelope)?);
        Ok(true)
    }

    /// The page; `has_more` when a row was left over.
    pub(crate) fn finish(self, has_more: bool) -> Page {
        Page { events: self.events, has_more }
    }
}

/// The type a correction or void with the stored `envelope` changes.
pub(crate) fn acted_on(envelope: &str) -> Option<String> {
    let event: serde_json::Value = serde_json::from_str(envelope).ok()?;
    let field = EventType::parse(event.get("eventType")?.as_str()?).ok()?.target_type_field()?;
    event.get("data")?.get(field)?.as_str().map(str::to_owned)
}

/// The stored form of an event: its canonical JSON envelope.
pub(crate) fn encode(event: &Event) -> Result<String> {
    serde_json::to_string(event).map_err(|e| StorageError::InvalidInput(format!("event {}: {e}", event.id)))
}

/// Reads a stored envelope back.
pub(crate) fn decode(position: i64, envelope: &str) -> Result<Event> {
    serde_json::from_str(envelope)
        .map_err(|e| StorageError::Corrupt(format!("event at position {position}: {e}")))
}

/// A device sequence number as the databases store it (a signed 64-bit integer).
pub(crate) fn seq_to_db(seq: u64) -> Result<i64> {
    i64::try_from(seq)
        .map_err(|_| StorageError::InvalidInput(format!("deviceSeq {seq} is too large to store")))
}

/// A stored count or sequence number read back.
pub(crate) fn seq_from_db(value: i64) -> Result<u64> {
    u64::try_from(value)
        .map_err(|_| StorageError::Corrupt(format!("negative sequence number or count {value}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(contiguous: u64) -> DeviceStatus {
        DeviceStatus { contiguous_up_to: contiguous, ..empty_status(&DeviceId::generate()) }
    }

    #[test]
    fn a_device_s_sequence_moves_by_at_most_one_push() {
        let mut tally = DeviceTally::new(DeviceStatus { highest_seq: 10, ..status(10) }, 10);
        let claim = PushClaim { size: 5, highest_seq: u64::MAX, bytes: 0 };
        assert_eq!(tally.max_seq(claim), 15);
        tally.seen(claim);
        assert_eq!(tally.highest_seen, 15, "a claim beyond the allowance counts only up to it");
        // Refused events still count as sent: the next push may go on after them.
        tally.seen(PushClaim { size: 3, highest_seq: 17, bytes: 0 });
        assert_eq!((tally.highest_seen, tally.max_seq(PushClaim { size: 1, ..claim })), (17, 18));
    }

    #[test]
    fn completeness_stops_at_the_first_hole_and_resumes_when_it_is_filled() {
        let mut tally = DeviceTally::new(status(0), 0);
        let now = Timestamp::now();
        tally.inserted([1, 2, 4], now);
        assert!(tally.may_advance);
        assert!(!tally.advance(&[1, 2, 4]));
        assert_eq!((tally.status.contiguous_up_to, tally.status.highest_seq), (2, 4));

        let mut tally = DeviceTally::new(tally.status, 0);
        tally.inserted([5], now);
        assert!(!tally.may_advance, "5 cannot close the hole at 3");
        tally.inserted([3], now);
        assert!(tally.may_advance);
        assert!(tally.advance(&[3, 4, 5]));
        assert_eq!(tally.status.contiguous_up_to, 5);
        assert_eq!(tally.status.event_count, 5);
    }

    #[test]
    fn repeated_sequence_numbers_do_not_stop_completeness() {
        let mut tally = DeviceTally::new(status(1), 0);
        assert!(tally.advance(&[1, 2, 2, 3]));
        assert_eq!(tally.status.contiguous_up_to, 3);
    }
}
