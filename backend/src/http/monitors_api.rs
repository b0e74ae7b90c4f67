//! Cron monitors and event attachments, as SDKs sent them
//! (`errors::checkins`, `errors::attachments`):
//! - `GET /api/v1/projects/{id}/monitors`: the project's monitors with
//!   their last status, config and last day's counts;
//! - `GET /api/v1/projects/{id}/monitors/{slug}/check-ins?limit=&before=`:
//!   runs newest first; `before` is the `next_before` of the previous
//!   page;
//! - `GET /api/v1/projects/{id}/events/{event_id}/attachments`: the files
//!   sent with an event (the event bodies of `/api/v1/issues/{id}/events`
//!   carry both ids);
//! - `GET /api/v1/attachments/{id}`: one file's bytes.
//!
//! Every route needs a caller with read access.
//!
//! Attachments are whatever the SDK sent, HTML and scripts included, so
//! they are only ever served as downloads: `Content-Disposition:
//! attachment`, `X-Content-Type-Options: nosniff`, and a sandboxing
//! `Content-Security-Policy` in case a browser renders them anyway.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use partout_model::errors::{Attachment, CheckInList, Monitor};
use partout_protocols::sentry::check_in::slugify;

use super::auth::Caller;
use super::error::ApiError;
use super::params::{number, pairs};
use super::AppState;
use crate::errors::checkins::{self, RECENT_WINDOW_MS};
use crate::errors::{attachments, projects};
use crate::store::tokens::Scope;
use crate::store::unix_ms_now;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/projects/{id}/monitors", get(list_monitors))
        .route("/projects/{id}/monitors/{slug}/check-ins", get(check_ins))
        .route(
            "/projects/{id}/events/{event_id}/attachments",
            get(event_attachments),
        )
        .route("/attachments/{id}", get(attachment_bytes))
}

fn path_values<T>(path: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    path.map(|Path(values)| values)
        .map_err(|_| ApiError::BadRequest("ids in the path must be numbers".into()))
}

async fn list_monitors(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<i64>, PathRejection>,
) -> Result<Json<Vec<Monitor>>, ApiError> {
    caller.require(Scope::Read)?;
    let project_id = path_values(path)?;
    let since_ms = unix_ms_now().saturating_sub(RECENT_WINDOW_MS);
    let monitors = state
        .store
        .read(move |conn| {
            if !projects::exists(conn, project_id)? {
                return Ok(None);
            }
            checkins::list_monitors(conn, project_id, since_ms).map(Some)
        })
        .await?;
    monitors.map(Json).ok_or(ApiError::NotFound)
}

async fn check_ins(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(i64, String)>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<CheckInList>, ApiError> {
    caller.require(Scope::Read)?;
    let (project_id, slug) = path_values(path)?;
    // The stored slug is the slug form of what the SDK sent; accept the
    // name it was sent with too.
    let slug = slugify(&slug).ok_or(ApiError::NotFound)?;
    let pairs = pairs(query);
    let limit = number(&pairs, "limit")?.unwrap_or(checkins::DEFAULT_PAGE);
    let before: Option<i64> = number(&pairs, "before")?;
    let page = state
        .store
        .read(move |conn| checkins::check_in_page(conn, project_id, &slug, before, limit))
        .await?;
    let (check_ins, next_before) = page.ok_or(ApiError::NotFound)?;
    Ok(Json(CheckInList {
        check_ins,
        next_before,
    }))
}

async fn event_attachments(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(i64, String)>, PathRejection>,
) -> Result<Json<Vec<Attachment>>, ApiError> {
    caller.require(Scope::Read)?;
    let (project_id, event_id) = path_values(path)?;
    // Stored ids are 32 lowercase hex digits; accept the dashed UUID form.
    let event_id: String = event_id
        .chars()
        .filter(|&c| c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    if event_id.len() != 32 || !event_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::BadRequest(
            "the event id must be 32 hex digits".into(),
        ));
    }
    let listed = state
        .store
        .read(move |conn| {
            if !projects::exists(conn, project_id)? {
                return Ok(None);
            }
            attachments::list_for_event(conn, project_id, &event_id).map(Some)
        })
        .await?;
    listed.map(Json).ok_or(ApiError::NotFound)
}

async fn attachment_bytes(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<i64>, PathRejection>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let id = path_values(path)?;
    let (attachment, bytes) = state
        .store
        .read(move |conn| attachments::get(conn, id))
        .await?
        .ok_or(ApiError::NotFound)?;
    let content_type = HeaderValue::from_str(&attachment.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&content_disposition(&attachment.filename))
        .unwrap_or(HeaderValue::from_static("attachment"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("sandbox; default-src 'none'"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("private")),
        ],
        bytes,
    )
        .into_response())
}

/// `attachment; filename="..."; filename*=UTF-8''...`: an ASCII fallback
/// with every character but letters, digits, `.`, `-` and `_` replaced
/// by `_`, and the exact name percent-encoded (RFC 6266).
fn content_disposition(filename: &str) -> String {
    let fallback: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for byte in filename.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests;
