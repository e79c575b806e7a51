//! Reading requests: the bearer token, the push body (with its size limits) and the pull
//! query, each refused with an [`ApiError`] rather than axum's plain-text rejections.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use pluto_protocol::{MAX_PULL_LIMIT, MAX_PUSH_EVENTS, MAX_REQUEST_BYTES};
use serde::de::{Deserializer, Error as _, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::ApiError;
use crate::service::SyncService;
use crate::storage::{Storage, TokenRecord};

/// The token of an authenticated request (401 otherwise).
#[derive(Debug, Clone)]
pub struct Authenticated(pub TokenRecord);

impl<S: Storage> FromRequestParts<Arc<SyncService<S>>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, service: &Arc<SyncService<S>>) -> Result<Self, ApiError> {
        let secret = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, secret)| secret.trim());
        Ok(Self(service.authenticate(secret).await?))
    }
}

/// A push body: `{"events": [...]}` within [`MAX_REQUEST_BYTES`] and [`MAX_PUSH_EVENTS`]. Each
/// event is kept as its JSON text, to be parsed one at a time: a body of many tiny values never
/// holds more than its own bytes in memory, and one past the cap ends the reading.
#[derive(Debug)]
pub struct PushBody(pub Vec<Box<RawValue>>);

/// The request's shape on the wire.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    #[serde(deserialize_with = "at_most_push_events")]
    events: Vec<Box<RawValue>>,
}

const TOO_MANY: &str = "more events than one push may carry";

fn at_most_push_events<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Box<RawValue>>, D::Error> {
    struct Events;
    impl<'de> Visitor<'de> for Events {
        type Value = Vec<Box<RawValue>>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a list of at most {MAX_PUSH_EVENTS} events")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut events = Vec::new();
            while let Some(event) = seq.next_element::<Box<RawValue>>()? {
                if events.len() == MAX_PUSH_EVENTS {
                    return Err(A::Error::custom(TOO_MANY));
                }
                events.push(event);
            }
            Ok(events)
        }
    }
    d.deserialize_seq(Events)
}

impl<St: Send + Sync> FromRequest<St> for PushBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &St) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge(format!(
                    "the request body exceeds {MAX_REQUEST_BYTES} bytes; push fewer events per request"
                ))
            } else {
                ApiError::BadRequest(rejection.body_text())
            }
        })?;
        let body: Wire = serde_json::from_slice(&bytes).map_err(|e| {
            if e.to_string().starts_with(TOO_MANY) {
                ApiError::TooLarge(format!(
                    "a push carries at most {MAX_PUSH_EVENTS} events, this one has more; split it into batches"
                ))
            } else {
                ApiError::BadRequest(format!("the body must be JSON of the form {{\"events\": [...]}}: {e}"))
            }
        })?;
        Ok(Self(body.events))
    }
}

/// `GET /v1/events?after=N&limit=L&waitSeconds=W`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PullQuery {
    /// The cursor: the last position already seen (default 0, the start of the log).
    pub after: Option<i64>,
    /// Most events to return (default and cap [`MAX_PULL_LIMIT`]).
    pub limit: Option<u32>,
    /// How long an empty page may wait for new events (default 0, capped by the service).
    pub wait_seconds: Option<u32>,
}

impl PullQuery {
    /// Refuses values no client should send; oversized ones are capped instead.
    pub fn validate(self) -> Result<(i64, u32, u32), ApiError> {
        let after = self.after.unwrap_or(0);
        if after < 0 {
            return Err(ApiError::BadRequest(format!("after: expected a position from 0, got {after}")));
        }
        let limit = self.limit.unwrap_or(MAX_PULL_LIMIT);
        if limit == 0 {
            return Err(ApiError::BadRequest(format!("limit: expected 1 to {MAX_PULL_LIMIT}, got 0")));
        }
        Ok((after, limit, self.wait_seconds.unwrap_or(0)))
    }
}
