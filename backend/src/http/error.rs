//! `ApiError`: the one error type of every handler, rendered as a stable
//! JSON body. Server-side failures are logged and hidden from clients.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use partout_model::api::ErrorBody;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("no such resource")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    TooManyRequests {
        message: &'static str,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("the server is shutting down")]
    Unavailable,
    /// Temporarily unable to take the request (503).
    #[error("{0}")]
    Busy(String),
    /// The disk is full or read-only (507): nothing was stored.
    #[error("{0}")]
    InsufficientStorage(String),
    #[error("internal error")]
    Internal(#[source] StoreError),
    #[error("internal error")]
    Logs(#[source] crate::logs::LogError),
}

impl From<crate::logs::LogError> for ApiError {
    fn from(err: crate::logs::LogError) -> Self {
        use crate::logs::LogError;
        match err {
            LogError::DiskFull(_) => ApiError::InsufficientStorage(err.to_string()),
            LogError::QueueFull => ApiError::Busy("the log queue is full: retry shortly".into()),
            LogError::Journal(message) => ApiError::Busy(message),
            LogError::Closed => ApiError::Unavailable,
            other => ApiError::Logs(other),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Closed => ApiError::Unavailable,
            err if err.is_disk_full() => ApiError::InsufficientStorage(format!(
                "the disk is full or read-only, nothing was stored: {err}"
            )),
            other => ApiError::Internal(other),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::BytesRejection(inner)
                if inner.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                ApiError::PayloadTooLarge("request body too large".into())
            }
            other => ApiError::BadRequest(other.body_text().to_lowercase()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text().to_lowercase())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Internal(source) => {
                tracing::error!(error = %source, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ApiError::Logs(source) => {
                tracing::error!(error = %source, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let retry_after = match &self {
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        let body = Json(ErrorBody {
            error: self.to_string(),
        });
        let mut response = (status, body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"partout\""),
            );
        }
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs.max(1)));
        }
        response
    }
}
