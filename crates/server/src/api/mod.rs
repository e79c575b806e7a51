//! The HTTP API (JSON, versioned paths under `/v1`, as `pluto_protocol` describes):
//! routes and thin handlers that extract a request, call the [`SyncService`] and return JSON.
//! Handlers hold no SQL and no rules; errors become responses in [`error`] only.

pub mod error;
pub mod extract;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::{Json, Router};
use pluto_domain::{DeviceId, SitePolicy};
use pluto_protocol::{
    AttestRequest, AttestResponse, DeviceStatus, Health, PushResponse, HOLDS_HEADER, MAX_REQUEST_BYTES,
};

use self::error::ApiError;
use self::extract::{Authenticated, PullQuery, PushBody};
use crate::download::{deadline_for, Download, Downloads};
use crate::metrics::Metrics;
use crate::releases::{ReleaseError, Releases};
use crate::service::{LogPage, SyncService};
use crate::storage::Storage;

/// The API's routes over a service.
pub fn router<S: Storage>(service: Arc<SyncService<S>>) -> Router {
    let metrics = service.metrics();
    Router::new()
        .route("/metrics", get(metrics_page::<S>))
        .route("/v1/health", get(health::<S>))
        .route("/v1/events", get(pull::<S>).post(push::<S>))
        .route("/v1/devices/{device_id}/status", get(device_status::<S>))
        .route("/v1/policy", get(policy::<S>))
        .route("/v1/attest", post(attest::<S>))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .layer(middleware::from_fn_with_state(metrics, log_request))
        .with_state(service)
}

type Service<S> = State<Arc<SyncService<S>>>;

/// The desktop app updater's routes: no token needed (a laptop checks for updates before it has
/// one), nothing secret served (artifacts are signed; the app verifies them). `public_url` is
/// where laptops reach this server, for the manifests' download links.
pub fn releases_router(releases: Arc<Releases>, public_url: String) -> Router {
    let downloads = Downloads::default();
    Router::new()
        .route("/v1/updates/{target}/{arch}/{current_version}", get(update))
        .route("/v1/releases/{version}/{file}", get(artifact))
        .with_state(Arc::new(Published { releases, public_url, downloads }))
}

/// The releases, the address they are downloaded from, and the downloads in progress.
struct Published {
    releases: Arc<Releases>,
    public_url: String,
    downloads: Downloads,
}

/// The address of the client at the other end of a connection, set by the server on each
/// connection's requests. Behind a reverse proxy it is the proxy's: every client shares it.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::IpAddr);

/// The kind of install asking, `?bundle_type=` (the updater's `{{bundle_type}}`).
#[derive(Debug, serde::Deserialize)]
struct UpdateQuery {
    bundle_type: Option<String>,
}

/// `GET /v1/updates/{target}/{arch}/{current_version}[?bundle_type=deb]`: the newest release
/// for the platform (and kind of install) when it is newer than the caller's version (Tauri's
/// update format), 204 otherwise.
async fn update(
    State(published): State<Arc<Published>>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    query: Result<Query<UpdateQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path((target, arch, current)) =
        path.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let Query(query) = query.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let found = tokio::task::spawn_blocking(move || {
        let base = &published.public_url;
        published.releases.update_for(
            &format!("{target}-{arch}"),
            query.bundle_type.as_deref(),
            &current,
            base,
        )
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    match found {
        Ok(Some(manifest)) => Ok(Json(manifest).into_response()),
        Ok(None) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(e @ (ReleaseError::Version(_) | ReleaseError::Platform(_))) => {
            Err(ApiError::BadRequest(e.to_string()))
        }
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}

/// `GET /v1/releases/{version}/{file}`: a published artifact, streamed from its file, so a
/// download that reads slowly (or never) holds a small buffer, not the whole artifact; with a
/// deadline, and within the downloads a client and everyone may have at once
/// ([`crate::download`]).
async fn artifact(
    State(published): State<Arc<Published>>,
    peer: Option<Extension<Peer>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let client = peer.map_or(std::net::IpAddr::from([0, 0, 0, 0]), |Extension(Peer(ip))| ip);
    let slot = published.downloads.start(client).map_err(|busy| ApiError::Busy(busy.to_string()))?;
    let Path((version, file)) = path.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let releases = Arc::clone(&published.releases);
    let path = tokio::task::spawn_blocking(move || releases.artifact(&version, &file))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(|| ApiError::NotFound("no such release artifact".into()))?;
    let opened = tokio::fs::File::open(&path).await;
    let file = opened.map_err(|e| ApiError::Internal(format!("{}: {e}", path.display())))?;
    let length = file.metadata().await.map_err(|e| ApiError::Internal(e.to_string()))?.len();
    let body = axum::body::Body::from_stream(Download::new(file, deadline_for(length), slot));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, length.to_string()),
        ],
        body,
    )
        .into_response())
}

/// `POST /v1/events`.
async fn push<S: Storage>(
    State(service): Service<S>,
    Authenticated(token): Authenticated,
    PushBody(body): PushBody,
) -> Result<Json<PushResponse>, ApiError> {
    let response = service.push(&token, &body).await?;
    service.metrics().push(&response);
    Ok(Json(response))
}

/// `GET /metrics`: the operator's counters in the Prometheus text format, for an
/// administrator's token.
async fn metrics_page<S: Storage>(
    State(service): Service<S>,
    Authenticated(token): Authenticated,
) -> Result<Response, ApiError> {
    let page = service.metrics_page(&token).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], page).into_response())
}

/// `POST /v1/attest`: how the log compares with the events of an audit export.
async fn attest<S: Storage>(
    State(service): Service<S>,
    _: Authenticated,
    body: Result<Json<AttestRequest>, JsonRejection>,
) -> Result<Json<AttestResponse>, ApiError> {
    let Json(request) = body.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    Ok(Json(service.attest(&request).await?))
}

/// `GET /v1/policy`: what the token may record.
async fn policy<S: Storage>(
    State(service): Service<S>,
    Authenticated(token): Authenticated,
) -> Json<SitePolicy> {
    Json(service.policy(&token))
}

/// `GET /v1/events?after=N&limit=L&waitSeconds=W`.
async fn pull<S: Storage>(
    State(service): Service<S>,
    Authenticated(token): Authenticated,
    query: Result<Query<PullQuery>, QueryRejection>,
) -> Result<Json<LogPage>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let (after, limit, wait_seconds) = query.validate()?;
    let page = service.pull(&token, after, limit, Duration::from_secs(wait_seconds.into())).await?;
    service.metrics().pulled(page.events.len());
    Ok(Json(page))
}

/// `GET /v1/devices/{deviceId}/status`.
async fn device_status<S: Storage>(
    State(service): Service<S>,
    Authenticated(token): Authenticated,
    headers: HeaderMap,
    device: Result<Path<String>, PathRejection>,
) -> Result<Json<DeviceStatus>, ApiError> {
    let Path(device) = device.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let device = DeviceId::parse(&device).map_err(|e| ApiError::BadRequest(format!("deviceId: {e}")))?;
    let holds = match headers.get(HOLDS_HEADER) {
        None => None,
        Some(value) => {
            Some(value.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "{HOLDS_HEADER}: expected the highest sequence number this laptop holds (a whole number)"
                ))
            })?)
        }
    };
    Ok(Json(service.device_status(&token, &device, holds).await?))
}

/// `GET /v1/health`, without a token.
async fn health<S: Storage>(State(service): Service<S>) -> Result<Json<Health>, ApiError> {
    Ok(Json(service.health().await?))
}

async fn not_found(request: Request) -> ApiError {
    ApiError::NotFound(format!(
        "no such path {}; the API is POST/GET /v1/events, GET /v1/devices/{{deviceId}}/status, GET /v1/policy, POST /v1/attest, GET /v1/health and GET /metrics",
        request.uri().path()
    ))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} is not allowed on {}", request.method(), request.uri().path()))
}

/// The longest a request may take to be answered, long-polls (at most 60 s of waiting)
/// included. A streamed body (a release download) has a deadline of its own
/// ([`crate::download`]).
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(90);

/// Ends a request that takes longer than [`REQUEST_DEADLINE`] with 503, so that no
/// request holds a connection for ever.
pub async fn deadline(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    match tokio::time::timeout(REQUEST_DEADLINE, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(%method, %path, "a request ran past its deadline and was ended");
            ApiError::Unavailable("the request took too long and was ended; try again".into()).into_response()
        }
    }
}

/// One debug line per request; pushes and refusals log their own lines at info and above.
async fn log_request(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    // The route as declared (its parameters unfilled), so that the metrics' labels stay few.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |m| m.as_str().to_owned());
    let start = Instant::now();
    let response = next.run(request).await;
    let elapsed = start.elapsed();
    metrics.request(method.as_str(), &route, response.status().as_u16(), elapsed);
    tracing::debug!(%method, %path, status = response.status().as_u16(), elapsed_ms = elapsed.as_millis() as u64, "request");
    response
}
