//! The laptop's side of sync: push this laptop's unsynced events in batches, then pull the
//! server's log in pages after the stored cursor, each page applied in one transaction with the
//! cursor. Blocking HTTP (ureq), so the core stays free of an async runtime; the desktop app runs
//! it on a background thread.

use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use ureq::tls::{PemItem, RootCerts, TlsConfig};

use pluto_domain::{DeviceId, Event, SitePolicy, Timestamp};
use pluto_protocol::{
    AttestQuery, AttestRequest, AttestResponse, DeviceStatus, ErrorBody, Health, PulledPage, PushOutcome,
    PushRequest, PushResponse, Verdict, HOLDS_HEADER, MAX_ATTEST_EVENTS, MAX_PULL_LIMIT, MAX_PUSH_EVENTS,
};
use pluto_store::{HeldEvent, Rejection, Rewind, Store, StoreError};

/// Events per push request.
pub const PUSH_BATCH: usize = 500;

/// The largest answer this laptop reads: far above a page of the log (at most 4 MiB of events).
const MAX_ANSWER_BYTES: u64 = 64 * 1024 * 1024;

/// How long one ordinary request may take before the network counts as gone.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a sync did not complete. Whatever the error, nothing recorded locally is lost.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The server URL is not usable.
    #[error("the server address {0:?} is not valid: expected something like https://pluto.example.com")]
    BadUrl(String),
    /// The site's certificate authority file cannot be used.
    #[error("cannot use the certificate authority file {path}: {why}")]
    BadCa {
        /// The file.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// An address with a user name or password before `@`: what it looks like and where the
    /// request goes differ, and the device token would go where the address does not seem to say.
    #[error(
        "the server address {0:?} holds a user name or password before '@'; give the server's address \
         alone, like https://pluto.example.com"
    )]
    UserInfo(String),
    /// A plain `http://` address of another machine: the device token would cross the network
    /// in clear text.
    #[error(
        "the server address {0:?} is plain http to another machine, which would send this laptop's \
         device token in clear text: use https:// (plain http is only for this machine: 127.0.0.1, \
         localhost)"
    )]
    InsecureUrl(String),
    /// No answer: no network, server down, connection cut.
    #[error("cannot reach the sync server at {url}: {detail}; your entries are kept and will be sent when it is reachable")]
    Offline {
        /// The server.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The token is missing, unknown or revoked.
    #[error("the sync server does not accept this laptop's device token ({0}); ask for a new token and enter it in the settings")]
    Unauthorized(String),
    /// The token belongs to another device.
    #[error("the sync server refused the request ({0}); the device token is probably for another laptop")]
    Forbidden(String),
    /// Any other refusal or failure reported by the server.
    #[error("the sync server answered {status}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The server's answer made no sense (a different server, a proxy's error page, a cut body).
    #[error("unexpected answer from the sync server: {0}")]
    Protocol(String),
    /// The server's answers contradict what an honest server says: nothing it said was taken,
    /// and what this laptop recorded stays here, to be sent again.
    #[error("the sync server's answer cannot be trusted: {0}; nothing recorded here was changed or lost")]
    Untrustworthy(String),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// Whether the laptop is offline (or the server down), as opposed to being refused.
    pub fn is_offline(&self) -> bool {
        matches!(self, Self::Offline { .. })
    }

    /// Whether trying again later may succeed without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Offline { .. } | Self::Protocol(_) => true,
            Self::Server { status, .. } => *status >= 500 || *status == 429,
            Self::Store(e) => matches!(e, StoreError::Busy),
            Self::BadUrl(_)
            | Self::UserInfo(_)
            | Self::Untrustworthy(_)
            | Self::InsecureUrl(_)
            | Self::BadCa { .. }
            | Self::Unauthorized(_)
            | Self::Forbidden(_) => false,
        }
    }
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    /// This laptop's events the server now has (new or already there).
    pub pushed: usize,
    /// This laptop's events the server refused (kept locally, marked with the reason).
    pub refused: usize,
    /// Events from elsewhere newly stored here.
    pub pulled: usize,
    /// Pulled events this laptop could not take (recorded, see `Store::pull_refusals`).
    pub pull_refused: usize,
    /// The server's completeness figure for this laptop.
    pub device: Option<DeviceStatus>,
    /// Whether the server's site policy for this laptop differs from the one kept before: what
    /// this laptop may record changed, so views that mark refused actions are out of date.
    pub policy_changed: bool,
    /// When the server turned out to have lost entries it had confirmed (restored from an
    /// earlier backup): where its log still held what this laptop pulled, and what this sync
    /// did about the rest (this laptop's own were pushed again in it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewind: Option<Rewind>,
}

/// A connection to one sync server with one device token.
pub struct SyncClient {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl SyncClient {
    /// A client for the server at `base_url` (`http://` or `https://`) using `token`, trusting
    /// the usual public certificate authorities.
    pub fn new(base_url: &str, token: &str) -> Result<SyncClient, SyncError> {
        Self::with_ca_file(base_url, token, None)
    }

    /// [`SyncClient::new`] for a site whose server's certificate is issued by its own
    /// certificate authority: `ca_file` is that authority's certificate(s) in PEM, trusted
    /// instead of the public authorities.
    pub fn with_ca_file(
        base_url: &str,
        token: &str,
        ca_file: Option<&Path>,
    ) -> Result<SyncClient, SyncError> {
        let base = server_base(base_url)?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(
                REQUEST_TIMEOUT + Duration::from_secs(u64::from(pluto_protocol::MAX_WAIT_SECONDS)),
            ))
            .user_agent(concat!("pluto/", env!("CARGO_PKG_VERSION")))
            // Shorter than the server's 5 s limit on an idle connection, so a pooled connection
            // is never reused just as the server closes it.
            .max_idle_age(Duration::from_secs(2));
        let agent = match ca_file {
            Some(path) => agent.tls_config(TlsConfig::builder().root_certs(site_authority(path)?).build()),
            None => agent,
        };
        let agent = agent.build().into();
        Ok(SyncClient { base, token: token.trim().to_owned(), agent })
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn offline(&self, e: ureq::Error) -> SyncError {
        SyncError::Offline { url: self.base.clone(), detail: unreachable_because(&e) }
    }

    fn answer<T: DeserializeOwned>(
        &self,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, SyncError> {
        let mut response = result.map_err(|e| self.offline(e))?;
        let status = response.status().as_u16();
        let body = response.body_mut().with_config().limit(MAX_ANSWER_BYTES).read_to_string().map_err(
            |e| match e {
                // An honest server's page is at most 4 MiB: a larger answer is no network trouble.
                ureq::Error::BodyExceedsLimit(_) => SyncError::Untrustworthy(format!(
                    "its answer is larger than the {} MiB this laptop reads",
                    MAX_ANSWER_BYTES / (1024 * 1024)
                )),
                e => self.offline(e),
            },
        )?;
        if (200..300).contains(&status) {
            return serde_json::from_str(&body)
                .map_err(|e| SyncError::Protocol(format!("{e} in a {status} answer")));
        }
        let message = serde_json::from_str::<ErrorBody>(&body)
            .map(|b| b.message)
            .unwrap_or_else(|_| body.chars().take(200).collect());
        Err(match status {
            401 => SyncError::Unauthorized(message),
            403 => SyncError::Forbidden(message),
            _ => SyncError::Server { status, message },
        })
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// `GET /v1/health`.
    pub fn health(&self) -> Result<Health, SyncError> {
        self.answer(self.agent.get(format!("{}/v1/health", self.base)).call())
    }

    /// `GET /v1/policy`: what this laptop's token may record; `None` from a server older than
    /// site policies (404).
    pub fn policy(&self) -> Result<Option<SitePolicy>, SyncError> {
        let request =
            self.agent.get(format!("{}/v1/policy", self.base)).header("Authorization", self.bearer());
        match self.answer(request.call()) {
            Ok(policy) => Ok(Some(policy)),
            Err(SyncError::Server { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /v1/events`.
    pub fn push(&self, events: &[Event]) -> Result<PushResponse, SyncError> {
        debug_assert!(events.len() <= MAX_PUSH_EVENTS);
        let body = PushRequest {
            events: events.iter().map(|e| serde_json::to_value(e).expect("events serialize")).collect(),
        };
        let request =
            self.agent.post(format!("{}/v1/events", self.base)).header("Authorization", self.bearer());
        self.answer(request.send_json(&body))
    }

    /// `GET /v1/events`: up to `limit` events after `after`, waiting up to `wait_seconds` for
    /// new ones when there are none. Each event is left unread for the tolerant reader.
    pub fn pull(&self, after: i64, limit: u32, wait_seconds: u32) -> Result<PulledPage, SyncError> {
        let request = self
            .agent
            .get(format!("{}/v1/events", self.base))
            .header("Authorization", self.bearer())
            .query("after", after.to_string())
            .query("limit", limit.to_string())
            .query("waitSeconds", wait_seconds.to_string());
        self.answer(request.call())
    }

    /// `POST /v1/attest`: how the server's log compares with events of an audit export (at most
    /// [`MAX_ATTEST_EVENTS`] at a time).
    pub fn attest(&self, events: Vec<AttestQuery>) -> Result<AttestResponse, SyncError> {
        debug_assert!(events.len() <= MAX_ATTEST_EVENTS);
        let request =
            self.agent.post(format!("{}/v1/attest", self.base)).header("Authorization", self.bearer());
        self.answer(request.send_json(&AttestRequest { events }))
    }

    /// `GET /v1/devices/{deviceId}/status`.
    pub fn device_status(&self, device: &DeviceId) -> Result<DeviceStatus, SyncError> {
        let request = self
            .agent
            .get(format!("{}/v1/devices/{device}/status", self.base))
            .header("Authorization", self.bearer());
        self.answer(request.call())
    }

    /// `GET /v1/devices/{deviceId}/status` for this laptop's own device, saying that it holds
    /// its entries up to sequence number `holds` ([`HOLDS_HEADER`]): the server then knows
    /// when it misses some of them.
    pub fn own_status(&self, device: &DeviceId, holds: u64) -> Result<DeviceStatus, SyncError> {
        let request = self
            .agent
            .get(format!("{}/v1/devices/{device}/status", self.base))
            .header("Authorization", self.bearer())
            .header(HOLDS_HEADER, holds.to_string());
        self.answer(request.call())
    }
}

/// The certificates of the PEM file `path`, as the only roots to trust.
fn site_authority(path: &Path) -> Result<RootCerts, SyncError> {
    let bad = |why: String| SyncError::BadCa { path: path.display().to_string(), why };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let PemItem::Certificate(cert) = item.map_err(|e| bad(e.to_string()))? {
            certs.push(cert);
        }
    }
    if certs.is_empty() {
        return Err(bad("it holds no certificate (expected -----BEGIN CERTIFICATE----- blocks)".into()));
    }
    Ok(RootCerts::new_with_certs(&certs))
}

/// The server's address as requests will use it, read with the HTTP client's own URL parser:
/// `http` or `https`, a host, no user name or password, no query; plain `http` only to this
/// machine (`localhost`, 127.0.0.0/8, `[::1]`).
fn server_base(url: &str) -> Result<String, SyncError> {
    let bad = || SyncError::BadUrl(url.to_owned());
    let trimmed = url.trim().trim_end_matches('/');
    let uri: ureq::http::Uri = trimmed.parse().map_err(|_| bad())?;
    let scheme = uri.scheme_str().filter(|s| *s == "http" || *s == "https").ok_or_else(bad)?;
    let authority = uri.authority().filter(|a| !a.host().is_empty()).ok_or_else(bad)?;
    if authority.as_str().contains('@') {
        return Err(SyncError::UserInfo(url.to_owned()));
    }
    if uri.query().is_some() || trimmed.contains('#') {
        return Err(bad());
    }
    if scheme == "http" && !is_loopback(authority.host()) {
        return Err(SyncError::InsecureUrl(url.to_owned()));
    }
    Ok(format!("{scheme}://{authority}{}", uri.path().trim_end_matches('/')))
}

/// Whether `host` (as the URL parser reads it; `[::1]` in brackets) is this machine.
fn is_loopback(host: &str) -> bool {
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The most pages one sync pulls: a log longer than that is pulled on by the next sync, so
/// no server can keep one sync pulling for ever.
pub const MAX_PAGES_PER_SYNC: usize = 1_000;

/// One full sync: push everything this laptop has not sent, then pull everything new. The
/// outcome (success or the error) is remembered in the store for the status bar.
pub fn sync_once(store: &mut Store, client: &SyncClient) -> Result<SyncReport, SyncError> {
    let result = push_then_pull(store, client);
    let error = result.as_ref().err().map(ToString::to_string);
    store.record_sync_attempt(Timestamp::now(), error.as_deref())?;
    result
}

fn push_then_pull(store: &mut Store, client: &SyncClient) -> Result<SyncReport, SyncError> {
    let mut report = SyncReport::default();
    // Whether the server reads event types this build does not: it is then the newer side,
    // and this laptop needs an update to show all it may serve.
    let health = client.health()?;
    report.rewind = check_log(store, client, &health)?;
    check_receipts(store, client)?;
    store.record_server_types(&health.newer_than_this_build())?;
    // And whether it now reads what it refused for being newer than itself.
    store.retry_refusals_the_server_now_reads(&health.event_types)?;
    // What this laptop's site may record, for entry to refuse what the server would.
    if let Some(policy) = client.policy()? {
        report.policy_changed = store.set_site_policy(&policy)?;
    }
    loop {
        let batch = store.unsynced(PUSH_BATCH)?;
        if batch.is_empty() {
            break;
        }
        let response = client.push(&batch)?;
        if response.results.len() != batch.len() {
            return Err(SyncError::Protocol(format!(
                "{} results for {} pushed events",
                response.results.len(),
                batch.len()
            )));
        }
        let mut accepted = Vec::new();
        let mut refused = Vec::new();
        for (event, result) in batch.iter().zip(&response.results) {
            if result.id.as_ref().is_some_and(|id| *id != event.id) {
                return Err(SyncError::Untrustworthy(format!(
                    "it answered for {} where {} was pushed",
                    result.id.as_ref().map_or("", |id| id.as_str()),
                    event.id
                )));
            }
            match (result.outcome, result.position) {
                (PushOutcome::Stored | PushOutcome::Duplicate, Some(position)) => {
                    accepted.push((event.id.clone(), position));
                }
                (PushOutcome::Refused | PushOutcome::Conflict, _) => refused.push(Rejection {
                    event_id: event.id.clone(),
                    outcome: if result.outcome == PushOutcome::Conflict { "conflict" } else { "refused" }
                        .into(),
                    field: result.error.as_ref().map(|e| e.field.clone()),
                    message: result
                        .error
                        .as_ref()
                        .map_or_else(|| "refused by the server".into(), |e| e.message.clone()),
                    rejected_at: Timestamp::now(),
                }),
                (outcome, None) => {
                    return Err(SyncError::Protocol(format!(
                        "{outcome:?} without a position for {}",
                        event.id
                    )));
                }
            }
        }
        store.record_push(&accepted, &refused, &response.device)?;
        report.pushed += accepted.len();
        report.refused += refused.len();
        report.device = Some(response.device);
    }
    if report.device.is_none() {
        let holds = store.highest_local_seq()?;
        let status = client.own_status(store.device_id(), holds)?;
        store.record_push(&[], &[], &status)?;
        report.device = Some(status);
    }
    // The server's head now, with what this laptop just pushed in it: those come back at once.
    let head = if report.pushed > 0 { client.health()?.head } else { health.head };
    pull(store, client, head, &mut report)?;
    Ok(report)
}

/// Whether the server still keeps the log this laptop pulled: the same log (its identity, when
/// it says one), and at the highest position this laptop holds, the same entry. A server
/// restored from an earlier backup keeps its identity but has lost what came after the backup,
/// and may since have given those positions to other entries: this laptop then finds the last
/// position where the server's log still holds what it pulled, and rewinds to it
/// ([`Store::rewind_after`]), so that this sync pushes its own lost entries again and pulls
/// the log on from there. Another log, or answers no restored log gives, end the sync and
/// change nothing.
fn check_log(store: &mut Store, client: &SyncClient, health: &Health) -> Result<Option<Rewind>, SyncError> {
    let known = store.server_log_id()?;
    if let (Some(known), Some(now)) = (&known, &health.log_id) {
        if known != now {
            return Err(SyncError::Untrustworthy(format!(
                "it keeps another log ({now}) than the server this laptop synced with ({known}): it is \
                 another server, or a new one; nothing was sent to it. If the server was restored, restore \
                 it from its own backup, which keeps its log; if it replaces the old server, `pluto sync \
                 --adopt-server` sends this laptop's entries to it"
            )));
        }
    }
    let cursor = store.sync_state()?.cursor;
    let Some(last) = store.last_held()? else {
        remember_log(store, health)?;
        return Ok(None);
    };
    let answers = match attest(client, std::slice::from_ref(&last)) {
        // A server older than attestation: the pull's own checks are all there is.
        Err(SyncError::Server { status: 404, .. }) => return Ok(None),
        result => result?,
    };
    // The same entry at the same position, but received again since it was pulled: the server
    // lost it and it was pushed again, landing by chance where it was.
    let received_again =
        matches!((last.received_at, answers[0].received_at), (Some(then), Some(now)) if then != now);
    let lost_after = match answers[0].verdict {
        Verdict::Same if !received_again && health.head >= cursor => {
            remember_log(store, health)?;
            return Ok(None);
        }
        Verdict::Same if !received_again => last.position,
        Verdict::Different => return Err(changed_entry(&last)),
        Verdict::Same | Verdict::OtherEvent | Verdict::Absent | Verdict::Unknown => {
            agreement_below(store, client, last.position, last.received_at)?
        }
    };
    if known.is_none() && lost_after == 0 {
        return Err(SyncError::Untrustworthy(format!(
            "it holds none of the entries this laptop pulled up to #{cursor}: it may be another server, or one \
             restored from an older backup; nothing was sent to it"
        )));
    }
    let rewind = store.rewind_after(lost_after)?;
    remember_log(store, health)?;
    Ok(Some(rewind))
}

/// Whether the server still holds, where it said, this laptop's entries it answered it stored
/// and has not served back yet (a reply cut before the pull that would have confirmed them, a
/// restore since): those it no longer holds are pushed again in this sync. Nothing to ask when
/// there are none, as in almost every sync.
fn check_receipts(store: &mut Store, client: &SyncClient) -> Result<(), SyncError> {
    let receipts = store.receipts(MAX_ATTEST_EVENTS)?;
    if receipts.is_empty() {
        return Ok(());
    }
    let answers = match attest(client, &receipts) {
        Err(SyncError::Server { status: 404, .. }) => return Ok(()),
        result => result?,
    };
    let lost: Vec<String> = receipts
        .iter()
        .zip(&answers)
        .filter(|(_, answer)| answer.verdict != Verdict::Same)
        .map(|(receipt, _)| receipt.id.clone())
        .collect();
    if !lost.is_empty() {
        store.forget_receipts(&lost)?;
    }
    Ok(())
}

fn remember_log(store: &mut Store, health: &Health) -> Result<(), SyncError> {
    if let Some(log_id) = &health.log_id {
        if store.server_log_id()?.as_deref() != Some(log_id) {
            store.set_server_log_id(log_id)?;
        }
    }
    Ok(())
}

fn changed_entry(held: &HeldEvent) -> SyncError {
    SyncError::Untrustworthy(format!(
        "it holds entry {} at #{} with other content than it served before",
        held.id, held.position
    ))
}

/// The last position below `disagrees` (where the server no longer holds what this laptop
/// pulled) where it still does, 0 when nowhere. A restored log holds a prefix of the old one, so
/// the server agrees up to some position and not after it: each round asks about up to
/// [`MAX_ATTEST_EVENTS`] positions spread over the span still open, so a million entries take
/// two or three requests. An entry counts as still held only if the server received it no later
/// than the last entry this laptop pulled (`pulled_by`): lost entries pushed again after a
/// restore may land by chance where they were, and are received later. Where the server does not
/// say when, an entry held again after a lost one counts as lost too, which only rewinds
/// further (safe: what is pulled again is taken as already held); where it says, an honest
/// restored log never answers so, and the sync ends.
fn agreement_below(
    store: &Store,
    client: &SyncClient,
    disagrees: i64,
    pulled_by: Option<Timestamp>,
) -> Result<i64, SyncError> {
    let (mut agrees, mut disagrees) = (0, disagrees);
    loop {
        let probes = store.held_between(agrees, disagrees - 1, MAX_ATTEST_EVENTS)?;
        if probes.is_empty() {
            return Ok(agrees);
        }
        let answers = attest(client, &probes)?;
        let mut lost = false;
        for (probe, answer) in probes.iter().zip(&answers) {
            let when = pulled_by.zip(answer.received_at);
            let held = answer.verdict == Verdict::Same && when.is_none_or(|(by, at)| at <= by);
            match answer.verdict {
                Verdict::Different => return Err(changed_entry(probe)),
                _ if held && !lost => agrees = probe.position,
                _ if held && when.is_some() => {
                    return Err(SyncError::Untrustworthy(format!(
                        "it holds entry {} at #{} after losing entries before it: no restored backup \
                         answers so",
                        probe.id, probe.position
                    )))
                }
                _ => {
                    if !lost {
                        disagrees = probe.position;
                    }
                    lost = true;
                }
            }
        }
    }
}

/// The server's answers on `held`, one each in order, checked to answer what was asked.
fn attest(client: &SyncClient, held: &[HeldEvent]) -> Result<Vec<pluto_protocol::Attestation>, SyncError> {
    let queries = held
        .iter()
        .map(|h| AttestQuery { id: h.id.clone(), position: h.position, sha256: h.sha256.clone() })
        .collect();
    let answer = client.attest(queries)?;
    let answers_each = answer.events.len() == held.len()
        && answer.events.iter().zip(held).all(|(a, h)| a.id == h.id && a.position == h.position);
    if !answers_each {
        return Err(SyncError::Protocol(format!(
            "{} answers to a comparison of {} entries, not one each in order",
            answer.events.len(),
            held.len()
        )));
    }
    Ok(answer.events)
}

/// Pulls the log after this laptop's cursor, up to `head`, the last position the server said it
/// holds when the sync began (later entries come with the next sync). Every page must continue
/// the log exactly where the cursor stands: the server's positions are gap-free, so a page that
/// skips, repeats or goes past `head` ends the sync, and the cursor never moves past what was
/// served. Then every entry the server said it stored must have been served back.
fn pull(store: &mut Store, client: &SyncClient, head: i64, report: &mut SyncReport) -> Result<(), SyncError> {
    let start = store.sync_state()?.cursor;
    if head < start {
        return Err(SyncError::Untrustworthy(format!(
            "it holds entries up to #{head}, but this laptop already has its entries up to #{start}: \
             it may be another server, or one restored from an older backup"
        )));
    }
    for _ in 0..MAX_PAGES_PER_SYNC {
        let cursor = store.sync_state()?.cursor;
        if cursor >= head {
            break;
        }
        let page = client.pull(cursor, MAX_PULL_LIMIT, 0)?;
        let continues = page.events.iter().zip(cursor + 1..).all(|(e, expected)| e.position == expected);
        let last = page.events.last().map_or(cursor, |e| e.position);
        if page.events.is_empty() || !continues || page.next_after != last || last > head {
            return Err(SyncError::Untrustworthy(format!(
                "the page after #{cursor} does not continue the log up to #{head} (it served {} entries, \
                 the last at #{last}, and says to go on after #{})",
                page.events.len(),
                page.next_after
            )));
        }
        let applied = store.apply_pulled(&page.events, page.next_after)?;
        report.pulled += applied.inserted;
        report.pull_refused += applied.refused;
        if !page.has_more {
            break;
        }
    }
    let cursor = store.sync_state()?.cursor;
    let lost = store.expire_receipts(cursor)?;
    if lost > 0 {
        return Err(SyncError::Untrustworthy(format!(
            "it answered that it stored {lost} of this laptop's entries, but does not serve them where it \
             said; they stay here and are sent again"
        )));
    }
    Ok(())
}

/// Why the server could not be reached, in words a coordinator can act on; the network
/// library's own words only for what is rare.
fn unreachable_because(e: &ureq::Error) -> String {
    use std::io::ErrorKind;
    let timed_out = "no answer in time: the network is slow or cut, or the server is overloaded";
    match e {
        ureq::Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused => {
                "nothing answers at that address: the sync server is not running there, or the address is wrong".into()
            }
            ErrorKind::TimedOut | ErrorKind::WouldBlock => timed_out.into(),
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe | ErrorKind::UnexpectedEof => {
                "the connection was cut".into()
            }
            ErrorKind::NetworkUnreachable | ErrorKind::HostUnreachable | ErrorKind::NetworkDown => {
                "no network here".into()
            }
            _ => io.to_string(),
        },
        ureq::Error::Timeout(_) => timed_out.into(),
        ureq::Error::HostNotFound => {
            "the server's name is not known: no network here, or the address is misspelt".into()
        }
        ureq::Error::ConnectionFailed => "no connection could be made to it".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_accepted_only_to_this_machine() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1/",
            "http://[::1]:80",
            "http://127.1.2.3",
            "https://pluto.invalid",
        ] {
            assert!(SyncClient::new(ok, "plt_x").is_ok(), "{ok}");
        }
        for bad in [
            "http://pluto.invalid",
            "http://10.0.0.5:8080",
            "http://localhost.pluto.invalid/",
            "http://127.0.0.1.pluto.invalid",
        ] {
            let error = SyncClient::new(bad, "plt_x").err().unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(matches!(error, SyncError::InsecureUrl(_)), "{bad}: {error}");
            assert!(error.to_string().contains("use https://"), "{error}");
        }
    }

    /// issue 26: addresses that look like this machine but send the token elsewhere.
    #[test]
    fn a_user_name_or_password_in_the_address_is_refused() {
        for bad in [
            "http://[::1]@pluto.invalid:18090",
            "http://127.0.0.1:1@pluto.invalid/",
            "https://a:b@pluto.invalid",
        ] {
            let error = SyncClient::new(bad, "plt_x").err().unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(matches!(error, SyncError::UserInfo(_)), "{bad}: {error}");
        }
        for bad in [
            "ftp://pluto.invalid",
            "pluto.invalid",
            "https://",
            "https://pluto.invalid/?x=1",
            "https://pluto.invalid/#x",
        ] {
            let error = SyncClient::new(bad, "plt_x").err().unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(matches!(error, SyncError::BadUrl(_)), "{bad}: {error}");
        }
        assert_eq!(
            SyncClient::new(" https://pluto.invalid/sync/ ", "t").unwrap().base_url(),
            "https://pluto.invalid/sync"
        );
    }
}
