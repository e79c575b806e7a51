//! The sync service: what the HTTP API does, without HTTP. Push checks a batch, stores the good
//! events and reports on each; pull reads a page of the log and, when asked, waits for new
//! events (long-poll). The HTTP layer (`api`) only extracts requests and maps errors.

use std::collections::HashMap;
use std::time::Duration;

use pluto_protocol::AttestRequest;

use pluto_protocol::AttestResponse;

use pluto_protocol::Attestation;

use pluto_protocol::DeviceStatus;

use pluto_protocol::Health;

use pluto_protocol::PushOutcome;

use pluto_protocol::PushResponse;

use pluto_protocol::PushResult;

use pluto_domain::SitePolicy;

use pluto_protocol::Verdict;

use pluto_protocol::MAX_ATTEST_EVENTS;

use pluto_protocol::MAX_PULL_LIMIT;

use pluto_protocol::MAX_PUSH_EVENTS;

use pluto_domain::{DeviceId, Event, EventType, Timestamp};
use pluto_protocol::MAX_WAIT_SECONDS;
use serde_json::value::RawValue;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::ServiceOptions;
use crate::ingest;
use crate::ingest::Checked;
use crate::metrics::{Gauges, Metrics};
use crate::storage::{
    AtPosition, PushClaim, Pusher, Role, Storage, StorageError, StoreOutcome, StoredEvent, Target,
    TokenRecord,
};

/// Why a sync request is refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No token, or an unknown or revoked one.
    #[error("{0}")]
    Unauthorized(String),
    /// The token may not do this (push another device's events).
    #[error("{0}")]
    Forbidden(String),
    /// The batch has more events than one push may carry.
    #[error("{0}")]
    TooLarge(String),
    /// The token already has [`MAX_WAITING_PULLS_PER_TOKEN`] long-polls waiting.
    #[error("{0}")]
    TooManyWaiting(String),
    /// A request that names a field wrongly (which field, what was expected).
    #[error("{0}")]
    BadRequest(String),
    /// The token pushed its daily quota of bytes.
    #[error("{message}")]
    QuotaExceeded {
        /// What happened and what to do, in words.
        message: String,
        /// Until the quota renews (midnight UTC).
        retry_after: Duration,
    },
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A page of the log as `GET /v1/events` answers it: the protocol's `PullResponse` on the wire,
/// with the stored envelopes passed through as they are.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogPage {
    /// Events after the requested position, in position order.
    pub events: Vec<StoredEvent>,
    /// The cursor for the next pull.
    pub next_after: i64,
    /// Whether more events were already available past this page.
    pub has_more: bool,
}

/// The sync service over one storage backend.
#[derive(Debug)]
pub struct SyncService<S> {
    storage: S,
    options: ServiceOptions,
    /// The last position this process committed; long-polls wait for it to move.
    head: watch::Sender<i64>,
    /// Becomes `true` when the server shuts down, so long-polls end at once.
    shutdown: watch::Receiver<bool>,
    /// How many long-polls each token has waiting.
    waiting: WaitingPulls,
    /// The ids of revoked tokens, as [`SyncService::watch_storage`] last read them.
    revoked: watch::Sender<std::sync::Arc<std::collections::HashSet<String>>>,
    /// What the operator's `/metrics` page counts.
    metrics: std::sync::Arc<Metrics>,
}

/// The most long-polls one token may have waiting at once; more get 429. A laptop waits with
/// one; a few more cover a restart whose old request has not timed out yet.
pub const MAX_WAITING_PULLS_PER_TOKEN: usize = 4;

/// How many long-polls each token has waiting; cheap to clone, every clone counts the same.
#[derive(Debug, Clone, Default)]
pub struct WaitingPulls(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>);

impl WaitingPulls {
    /// How many long-polls wait now, of every token.
    pub fn total(&self) -> usize {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).values().sum()
    }
}

/// One of a token's waiting long-polls, counted until dropped.
struct Waiting<'a> {
    counts: &'a std::sync::Mutex<std::collections::HashMap<String, usize>>,
    token: String,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.token) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.token);
            }
        }
    }
}

impl<S: Storage> SyncService<S> {
    /// A service over `storage`; `shutdown` ends waiting long-polls when it becomes `true`.
    pub async fn new(
        storage: S,
        options: ServiceOptions,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, StorageError> {
        let head = watch::Sender::new(storage.head().await?);
        let revoked = watch::Sender::new(Default::default());
        Ok(Self {
            storage,
            options,
            head,
            shutdown,
            waiting: Default::default(),
            revoked,
            metrics: Default::default(),
        })
    }

    /// Watches the database for what other processes change, every recheck interval until
    /// shutdown, for every waiting long-poll at once: events committed by another server process
    /// sharing it (which wake the waits) and tokens revoked by `pluto-server token revoke`
    /// (whose waits end with 401). A failed read is logged and tried again at the next tick.
    pub async fn watch_storage(&self) {
        let mut shutdown = self.shutdown.clone();
        // Where several processes share the database, each one's commits are announced: the
        // head is read at once then, and the regular tick is the fallback.
        let mut commits = self.storage.commits();
        let mut tick = tokio::time::interval(self.options.recheck_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            let announced = tokio::select! {
                _ = tick.tick() => false,
                () = announced(&mut commits) => true,
                _ = shutdown.changed() => return,
            };
            if *shutdown.borrow() {
                return;
            }
            match self.storage.head().await {
                Ok(position) => {
                    self.head.send_if_modified(|head| {
                        let moved = position > *head;
                        *head = (*head).max(position);
                        moved
                    });
                }
                Err(error) => tracing::warn!(%error, "cannot read the head of the log"),
            }
            if announced {
                continue;
            }
            match self.storage.list_tokens().await {
                Ok(tokens) => {
                    let ids = tokens.into_iter().filter(|t| t.revoked_at.is_some()).map(|t| t.id).collect();
                    self.revoked.send_if_modified(|revoked| {
                        let changed = **revoked != ids;
                        if changed {
                            *revoked = std::sync::Arc::new(ids);
                        }
                        changed
                    });
                }
                Err(error) => tracing::warn!(%error, "cannot read the tokens"),
            }
        }
    }

    /// The storage backend.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// The token behind a bearer secret; refused when absent, unknown or revoked.
    pub async fn authenticate(&self, secret: Option<&str>) -> Result<TokenRecord, ServiceError> {
        let Some(secret) = secret else {
            return Err(ServiceError::Unauthorized(
                "this request needs a device token: send the header `Authorization: Bearer plt_…` \
                 (an operator issues one with `pluto-server token create`)"
                    .into(),
            ));
        };
        crate::auth::authenticate(&self.storage, secret).await?.ok_or_else(|| {
            ServiceError::Unauthorized(
                "the token is unknown or revoked; ask an operator for a new one".into(),
            )
        })
    }

    /// Pushes a batch for the token's device: every event is checked on its own (its rules, its
    /// bounds, the site policy, what it names, its campaign's creation) and the good ones are
    /// stored in one transaction, each with the token that pushed it. An event of another device,
    /// or a key repeated in an event, refuses the whole batch before anything is stored; so does
    /// a token past its daily quota.
    pub async fn push(
        &self,
        token: &TokenRecord,
        raw: &[Box<RawValue>],
    ) -> Result<PushResponse, ServiceError> {
        if raw.len() > MAX_PUSH_EVENTS {
            return Err(ServiceError::TooLarge(format!(
                "a push carries at most {MAX_PUSH_EVENTS} events, this one has {}; split it into batches",
                raw.len()
            )));
        }
        let device = &token.device_id;
        let foreign = raw.iter().enumerate().find_map(|(index, event)| {
            ingest::claimed_devices(event)
                .into_iter()
                .find(|claimed| claimed != device.as_str())
                .map(|c| (index, c))
        });
        if let Some((index, claimed)) = foreign {
            return Err(ServiceError::Forbidden(format!(
                "event {index} has deviceId {claimed}, but this token belongs to device {device}: a laptop pushes \
                 only its own events; nothing was stored"
            )));
        }
        let received_at = Timestamp::now();
        let bytes = raw.iter().map(|event| event.get().len() as u64).sum();
        self.within_quota(token, bytes, received_at).await?;
        let mut checked = Vec::with_capacity(raw.len());
        for (index, event) in raw.iter().enumerate() {
            let verdict = ingest::check_raw(event, received_at).map_err(|repeated| {
                ServiceError::BadRequest(format!("events[{index}].{repeated}; nothing was stored"))
            })?;
            checked.push(verdict);
        }
        self.judge(token, &mut checked).await?;
        let valid: Vec<Event> = checked.iter().filter_map(|c| c.verdict.as_ref().ok().cloned()).collect();
        let claim = PushClaim {
            size: raw.len() as u64,
            highest_seq: checked.iter().filter_map(|c| c.seq).max().unwrap_or(0),
            bytes,
        };
        let pusher = Pusher { token_id: token.id.clone(), site: token.site.clone() };
        let stored = self.storage.push(device, &pusher, &valid, claim, received_at).await?;

        let mut outcomes = stored.outcomes.into_iter();
        let mut results = Vec::with_capacity(checked.len());
        for Checked { id, verdict, .. } in checked {
            let result = match verdict {
                Err(error) => {
                    let event = id.as_ref().map_or("(no readable id)", |id| id.as_str());
                    // Debug-formatted: the reason quotes what the client sent, and a line break
                    // in it must not start a forged line of the log.
                    tracing::info!(%device, token = %token.id, event, error = ?error.to_string(), "refused a pushed event");
                    PushResult {
                        id,
                        outcome: PushOutcome::Refused,
                        position: None,
                        error: Some(error),
                        clock_skew_ms: None,
                    }
                }
                Ok(event) => {
                    let outcome = outcomes.next().ok_or_else(|| {
                        StorageError::InvalidInput("storage returned fewer outcomes than events".into())
                    })?;
                    self.report(&event, outcome, received_at)
                }
            };
            results.push(result);
        }
        let last_stored =
            results.iter().filter(|r| r.outcome == PushOutcome::Stored).filter_map(|r| r.position).max();
        if let Some(position) = last_stored {
            self.head.send_if_modified(|head| {
                let moved = position > *head;
                *head = (*head).max(position);
                moved
            });
        }
        let count = |outcome| results.iter().filter(|r| r.outcome == outcome).count();
        tracing::info!(
            %device,
            site = %token.site,
            stored = count(PushOutcome::Stored),
            duplicate = count(PushOutcome::Duplicate),
            refused = count(PushOutcome::Refused),
            conflict = count(PushOutcome::Conflict),
            contiguous_up_to = stored.device.contiguous_up_to,
            highest_seq = stored.device.highest_seq,
            "push"
        );
        Ok(PushResponse { results, device: stored.device })
    }

    /// Refuses a push of `bytes` that would take `token` past its daily quota.
    async fn within_quota(
        &self,
        token: &TokenRecord,
        bytes: u64,
        now: Timestamp,
    ) -> Result<(), ServiceError> {
        let Some(quota) = self.options.daily_push_quota else {
            return Ok(());
        };
        let today = now.datetime().date_naive();
        let used = self.storage.usage(&token.id, today).await?;
        if used.saturating_add(bytes) <= quota {
            return Ok(());
        }
        let midnight = today.succ_opt().unwrap_or(today).and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let retry_after =
            Duration::from_secs((midnight.timestamp() - now.datetime().timestamp()).max(1) as u64);
        tracing::warn!(token = %token.id, site = %token.site, used, bytes, quota, "refused a push over the daily quota");
        Err(ServiceError::QuotaExceeded {
            message: format!(
                "this token has pushed {} MiB today (UTC) and may push {} MiB a day; this push of {} KiB would \
                 pass it. Nothing was stored; the laptop keeps its entries and sends them after midnight UTC, \
                 or an operator raises the quota (`serve --daily-push-quota-mb`)",
                used / (1024 * 1024),
                quota / (1024 * 1024),
                bytes.div_ceil(1024)
            ),
            retry_after,
        })
    }

    /// Applies the site policy to each checked event, and the rules on what it names: a
    /// correction or void must name its target's real type and campaign, and a review of an
    /// entry the log holds is for the sites that may review that entry's type.
    async fn judge(&self, token: &TokenRecord, checked: &mut [Checked]) -> Result<(), ServiceError> {
        let valid = || checked.iter().filter_map(|c| c.verdict.as_ref().ok());
        let mut targets: HashMap<String, Target> = valid()
            .map(|e| {
                let acts_on = ingest::acted_on_type(e).map(|t| t.as_str().to_owned());
                (
                    e.id.to_string(),
                    Target {
                        stream_id: e.stream_id.to_string(),
                        event_type: e.event_type.as_str().to_owned(),
                        acts_on,
                    },
                )
            })
            .collect();
        let elsewhere: Vec<String> =
            valid().filter_map(ingest::named_event).filter(|id| !targets.contains_key(id)).collect();
        if !elsewhere.is_empty() {
            targets.extend(self.storage.targets(elsewhere).await?);
        }
        for c in checked.iter_mut() {
            let Ok(event) = &c.verdict else { continue };
            let target = ingest::named_event(event).and_then(|id| targets.get(&id));
            if let Err(error) = self.judge_one(token, event, target) {
                c.verdict = Err(error);
            }
        }
        Ok(())
    }

    /// [`SyncService::judge`] of one event; `target` is what it names, if the log or the push
    /// holds it.
    fn judge_one(
        &self,
        token: &TokenRecord,
        event: &Event,
        target: Option<&Target>,
    ) -> Result<(), pluto_domain::FieldError> {
        use pluto_domain::FieldError;
        let refused = |message| FieldError::new("eventType", message);
        let Some(reference) = event.event_type.target_field() else {
            return self.options.policy.check(token, event.event_type, None).map_err(refused);
        };
        let named = event.data.get(reference).and_then(serde_json::Value::as_str).unwrap_or_default();
        if let Some(target) = target.filter(|t| t.stream_id != event.stream_id.as_str()) {
            return Err(FieldError::new(
                format!("data.{reference}"),
                format!("{named} belongs to campaign {}, not to {}", target.stream_id, event.stream_id),
            ));
        }
        if event.event_type == EventType::AnomalyReviewed {
            // An entry the log does not hold yet reached the reviewing laptop by file: who may
            // review it cannot be judged, and a review changes no figure.
            let Some(target) = target else { return Ok(()) };
            let reviewed = target.acts_on.as_deref().unwrap_or(&target.event_type);
            let reviewed = EventType::parse(reviewed).ok();
            return self.options.policy.check(token, event.event_type, reviewed).map_err(refused);
        }
        let claimed = ingest::acted_on_type(event);
        if let (Some(target), Some(claimed)) = (target, claimed) {
            if target.event_type != claimed.as_str() {
                let field = event.event_type.target_type_field().unwrap_or("eventType");
                return Err(FieldError::new(
                    format!("data.{field}"),
                    format!("{named} is a {}, not a {claimed}", target.event_type),
                ));
            }
        }
        self.options.policy.check(token, event.event_type, claimed).map_err(refused)
    }

    /// The result for one event that passed the checks, logging conflicts and clock skew.
    fn report(&self, event: &Event, outcome: StoreOutcome, received_at: Timestamp) -> PushResult {
        let clock_skew_ms = ingest::clock_skew_ms(event.created_at, received_at, self.options.max_clock_skew);
        if let Some(skew) = clock_skew_ms {
            tracing::warn!(
                device = %event.device_id,
                event = %event.id,
                created_at = %event.created_at,
                %received_at,
                skew_ms = skew,
                "clock skew: the event was recorded ahead of the server's clock; the laptop's clock is probably wrong"
            );
        }
        let (outcome, position, error) = match outcome {
            StoreOutcome::Stored(position) => (PushOutcome::Stored, Some(position), None),
            StoreOutcome::Duplicate(position) => (PushOutcome::Duplicate, Some(position), None),
            StoreOutcome::Conflict(position) => {
                tracing::warn!(
                    device = %event.device_id,
                    event = %event.id,
                    position,
                    "conflict: the id is already stored with different content; the stored event is kept"
                );
                let error = pluto_domain::FieldError::new(
                    "id",
                    format!(
                        "event {} is already stored (position {position}) with different content; \
                         an event never changes: record a correction instead",
                        event.id
                    ),
                );
                (PushOutcome::Conflict, None, Some(error))
            }
            StoreOutcome::SeqTaken(other) => {
                tracing::warn!(
                    device = %event.device_id,
                    event = %event.id,
                    seq = event.device_seq,
                    %other,
                    "refused: the device's sequence number already belongs to another event"
                );
                let error = pluto_domain::FieldError::new(
                    "deviceSeq",
                    format!(
                        "sequence number {} of device {} already belongs to event {other}; a device \
                         numbers its events 1, 2, 3, … once each",
                        event.device_seq, event.device_id
                    ),
                );
                (PushOutcome::Refused, None, Some(error))
            }
            StoreOutcome::Refused(error) => {
                tracing::warn!(
                    device = %event.device_id,
                    event = %event.id,
                    error = ?error.to_string(),
                    "refused: the event contradicts its campaign's creation"
                );
                (PushOutcome::Refused, None, Some(error))
            }
        };
        PushResult { id: Some(event.id.clone()), outcome, position, error, clock_skew_ms }
    }

    /// Events after position `after`, at most `limit` (capped at [`MAX_PULL_LIMIT`]), for
    /// `token`. When there are none yet and `wait` is not zero (capped at [`MAX_WAIT_SECONDS`]),
    /// waits until one is committed or the wait ends, whichever comes first; a wait ends with
    /// `Unauthorized` when [`SyncService::watch_storage`] sees the token revoked.
    pub async fn pull(
        &self,
        token: &TokenRecord,
        after: i64,
        limit: u32,
        wait: Duration,
    ) -> Result<LogPage, ServiceError> {
        let limit = limit.clamp(1, MAX_PULL_LIMIT);
        let _waiting = if wait.is_zero() { None } else { Some(self.start_waiting(token)?) };
        let deadline = Instant::now() + wait.min(Duration::from_secs(MAX_WAIT_SECONDS.into()));
        let mut head = self.head.subscribe();
        let mut revoked = self.revoked.subscribe();
        let mut shutdown = self.shutdown.clone();
        let mut stopping = false;
        loop {
            // Marked seen before reading, so a commit after the read still wakes the wait.
            head.borrow_and_update();
            if revoked.borrow_and_update().contains(&token.id) {
                return Err(ServiceError::Unauthorized(
                    "the token was revoked while waiting; ask an operator for a new one".into(),
                ));
            }
            let page = self.storage.pull(after, limit).await?;
            let now = Instant::now();
            stopping |= *shutdown.borrow();
            if !page.events.is_empty() || now >= deadline || stopping {
                let next_after = page.events.last().map_or(after, |e| e.position);
                return Ok(LogPage { events: page.events, next_after, has_more: page.has_more });
            }
            tokio::select! {
                _ = head.changed() => {}
                _ = revoked.changed() => {}
                // A dropped sender means the server is going away too.
                changed = shutdown.changed() => stopping |= changed.is_err(),
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// Counts one more waiting long-poll of `token`, refused beyond
    /// [`MAX_WAITING_PULLS_PER_TOKEN`].
    fn start_waiting(&self, token: &TokenRecord) -> Result<Waiting<'_>, ServiceError> {
        let mut counts = self.waiting.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = counts.entry(token.id.clone()).or_default();
        if *n >= MAX_WAITING_PULLS_PER_TOKEN {
            return Err(ServiceError::TooManyWaiting(format!(
                "this token already has {MAX_WAITING_PULLS_PER_TOKEN} pulls waiting for new events; \
                 wait for one to return (or pull without waitSeconds)"
            )));
        }
        *n += 1;
        Ok(Waiting { counts: &self.waiting.0, token: token.id.clone() })
    }

    /// The count of its waiting long-polls, which a [`crate::server::RunningServer`] keeps to tell.
    pub(crate) fn waiting_pulls(&self) -> WaitingPulls {
        self.waiting.clone()
    }

    /// What `token` may record, and the whole site table (`GET /v1/policy`).
    pub fn policy(&self, token: &TokenRecord) -> SitePolicy {
        self.options.policy.for_token(token)
    }

    /// What the token `token_id` pushed: events received at or after `since`, after position
    /// `after`, at most `limit` of them.
    pub async fn pushed_by(
        &self,
        token_id: &str,
        since: Option<Timestamp>,
        after: i64,
        limit: u32,
    ) -> Result<crate::storage::Page, ServiceError> {
        Ok(self.storage.pushed_by(token_id, since, after, limit).await?)
    }

    /// Compares the events of an audit export with the log (`POST /v1/attest`): for each, whether
    /// the log holds it at the stated position with the same canonical content. Any valid token
    /// may ask, as any may pull the whole log.
    pub async fn attest(&self, request: &AttestRequest) -> Result<AttestResponse, ServiceError> {
        if request.events.len() > MAX_ATTEST_EVENTS {
            return Err(ServiceError::TooLarge(format!(
                "events: {} events in one request; at most {MAX_ATTEST_EVENTS}, ask in parts",
                request.events.len()
            )));
        }
        for (i, query) in request.events.iter().enumerate() {
            if query.position < 1 {
                return Err(ServiceError::BadRequest(format!(
                    "events[{i}].position: expected a log position of 1 or more, got {}",
                    query.position
                )));
            }
            if query.sha256.len() != 64 || !query.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ServiceError::BadRequest(format!(
                    "events[{i}].sha256: expected 64 hexadecimal digits (the event's canonical SHA-256)"
                )));
            }
        }
        let head = self.storage.head().await?;
        let stored = self.storage.at_positions(request.events.iter().map(|q| q.position).collect()).await?;
        let stored: std::collections::HashMap<i64, AtPosition> =
            stored.into_iter().map(|held| (held.position, held)).collect();
        let events = request
            .events
            .iter()
            .map(|query| {
                let held = stored.get(&query.position);
                let verdict = match held {
                    None => Verdict::Absent,
                    Some(held) if held.id != query.id => Verdict::OtherEvent,
                    Some(held) => {
                        let same = pluto_domain::canonical::canonical_sha256(held.envelope.as_bytes())
                            .is_ok_and(|hash| hash.eq_ignore_ascii_case(&query.sha256));
                        if same {
                            Verdict::Same
                        } else {
                            Verdict::Different
                        }
                    }
                };
                Attestation {
                    id: query.id.clone(),
                    position: query.position,
                    verdict,
                    server_id: held.filter(|h| h.id != query.id).map(|h| h.id.clone()),
                    received_at: held.map(|h| h.received_at),
                }
            })
            .collect();
        Ok(AttestResponse { head, events })
    }

    /// What the server holds of one device. When the token's own laptop asks and says which
    /// sequence number it holds up to (`holds`), that is remembered for the operator's device
    /// list: a laptop holding more than the server has is behind.
    pub async fn device_status(
        &self,
        token: &TokenRecord,
        device: &DeviceId,
        holds: Option<u64>,
    ) -> Result<DeviceStatus, ServiceError> {
        let status = self.storage.device_status(device).await?;
        if let Some(seq) = holds.filter(|seq| *seq > 0 && token.device_id == *device) {
            self.storage.report_holdings(device, seq, Timestamp::now()).await?;
        }
        Ok(status)
    }

    /// The counters the operator's `/metrics` page shows; shared with the connections' loop.
    pub fn metrics(&self) -> std::sync::Arc<Metrics> {
        std::sync::Arc::clone(&self.metrics)
    }

    /// The `/metrics` page, for an administrator's token (another token is refused).
    pub async fn metrics_page(&self, token: &TokenRecord) -> Result<String, ServiceError> {
        if token.role != Role::Admin {
            return Err(ServiceError::Forbidden(
                "the metrics are for an administrator's token (pluto-server token create --role admin)"
                    .into(),
            ));
        }
        let gauges = Gauges {
            head: self.storage.head().await?,
            waiting_pulls: self.waiting.total(),
            database_bytes: self.storage.database_bytes().await?,
        };
        Ok(self.metrics.render(gauges))
    }

    /// What `GET /v1/health` answers: liveness, the backend, the head of the log (which needs
    /// the database) and the log's identity.
    pub async fn health(&self) -> Result<Health, ServiceError> {
        Ok(Health {
            status: "ok".into(),
            backend: self.storage.backend().into(),
            version: env!("CARGO_PKG_VERSION").into(),
            head: self.storage.head().await?,
            event_types: EventType::registry_fingerprint().split(',').map(str::to_owned).collect(),
            log_id: Some(self.storage.log_id().to_owned()),
        })
    }
}

/// Resolves when another commit was announced on `commits`; never when there is nothing to
/// watch (or the announcements ended).
async fn announced(commits: &mut Option<watch::Receiver<u64>>) {
    if let Some(receiver) = commits {
        if receiver.changed().await.is_ok() {
            return;
        }
    }
    *commits = None;
    std::future::pending::<()>().await
}
