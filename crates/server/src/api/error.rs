//! Every error the HTTP API returns, and the one place that maps them to status codes and
//! [`ErrorBody`] JSON (`{"code", "message"}`), so clients never see a plain-text error.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use pluto_protocol::ErrorBody;

use crate::service::ServiceError;

/// A request refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (body, query or path).
    #[error("{0}")]
    BadRequest(String),
    /// The body exceeds the request size limit.
    #[error("{0}")]
    TooLarge(String),
    /// No such path.
    #[error("{0}")]
    NotFound(String),
    /// The path exists, but not with this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The sync service refused or failed.
    #[error(transparent)]
    Sync(#[from] ServiceError),
    /// Anything else that failed on the server's side (a releases file unreadable).
    #[error("{0}")]
    Internal(String),
    /// The request ran past its deadline.
    #[error("{0}")]
    Unavailable(String),
    /// The client (or everyone) has as many downloads going as the server allows.
    #[error("{0}")]
    Busy(String),
}

impl ApiError {
    /// The status code and the stable `code` of the error body.
    pub fn status(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) | Self::Sync(ServiceError::BadRequest(_)) => {
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            Self::TooLarge(_) | Self::Sync(ServiceError::TooLarge(_)) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
            }
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "bad_request"),
            Self::Sync(ServiceError::Unauthorized(_)) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Sync(ServiceError::Forbidden(_)) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::Sync(ServiceError::TooManyWaiting(_)) => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_requests")
            }
            Self::Sync(ServiceError::QuotaExceeded { .. }) => {
                (StatusCode::TOO_MANY_REQUESTS, "quota_exceeded")
            }
            Self::Busy(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Sync(ServiceError::Storage(_)) | Self::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        let message = match &self {
            // The details (SQL, file names) go to the log, not to the client.
            Self::Sync(ServiceError::Storage(error)) => {
                tracing::error!(%error, "storage failed");
                "the server's storage failed; the error is in the server's log; retry later".to_owned()
            }
            Self::Internal(error) => {
                tracing::error!(%error, "request failed");
                "the server failed; the error is in the server's log; retry later".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = (status, Json(ErrorBody { code: code.to_owned(), message })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            // A client over its share gives its connection back at once.
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        match &self {
            Self::Sync(ServiceError::QuotaExceeded { retry_after, .. }) => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after.as_secs()));
            }
            Self::Busy(_) => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            }
            _ => {}
        }
        response
    }
}
