//! `/api/v1/projects` and `/api/v1/issues`: the native API of the errors
//! store. Reads need scope `read` (the access gate checks it); changes
//! (creating projects and keys, revoking keys, adding and removing
//! webhooks, changing an issue's status) need scope `write`, and so does
//! listing webhooks, whose URLs are often secrets.
//!
//! `from`/`until` take Unix milliseconds or Graphite's relative forms
//! (`-24h`, `now`).
//!
//! `stats` serves a project's counted data: transactions, release health
//! and client reports.

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use partout_model::errors::{
    EventList, Issue, IssueDetail, IssueList, IssueUpdate, NewProjectKeyRequest, NewProjectRequest,
    NewWebhookRequest, Project, ProjectKey, Webhook,
};

use super::api::ApiJson;
use super::auth::Caller;
use super::error::ApiError;
use super::params::{first, number, pairs};
use super::AppState;
use crate::errors::issues::{self, IssueFilter, IssueSort};
use crate::errors::notify::webhooks::{self, AddError, WebhookRow};
use crate::errors::projects::{self, KeyRow, ProjectRow, MAX_NAME_CHARS};
use crate::errors::status::IssueStatus;
use crate::errors::{events, view};
use crate::query::graphite::time::parse_time;
use crate::store::tokens::Scope;
use crate::store::unix_ms_now;

/// Events per page when no limit is asked for.
const DEFAULT_EVENT_PAGE: usize = 20;
/// Values shown per tag key in an issue's detail.
const TOP_TAG_VALUES: usize = 10;
/// Hourly counts of an issue's detail start this long ago by default, ms.
const DEFAULT_HOURS_MS: i64 = 14 * 86_400_000;
/// And never further back than this, ms, so the answer stays small.
const MAX_HOURS_MS: i64 = 90 * 86_400_000;

mod stats;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/projects", get(list_projects).post(create_project))
        .route("/projects/{id}/keys", post(create_key))
        .route("/projects/{id}/keys/{key_id}", delete(revoke_key))
        .route(
            "/projects/{id}/webhooks",
            get(list_webhooks).post(add_webhook),
        )
        .route(
            "/projects/{id}/webhooks/{webhook_id}",
            delete(remove_webhook),
        )
        .route("/issues", get(list_issues))
        .route("/issues/{id}", get(issue_detail).patch(update_issue))
        .route("/issues/{id}/events", get(issue_events))
        .merge(stats::routes())
}

/// A numeric path parameter, or a 400 that says so.
fn path_ids<T>(path: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    path.map(|Path(ids)| ids)
        .map_err(|_| ApiError::BadRequest("ids in the path must be numbers".into()))
}

/// `http://host:port` that SDKs should send to: the host this request
/// was sent to (what the person reading the answer can reach), else the
/// bound HTTP address.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .map(str::to_owned)
        .or_else(|| state.listeners.get("http").cloned())
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    let scheme = if https { "https" } else { "http" };
    format!("{scheme}://{host}")
}

fn key_body(base: &str, key: KeyRow) -> ProjectKey {
    ProjectKey {
        dsn: projects::dsn(base, &key.public_key, key.project_id),
        id: key.id,
        public_key: key.public_key,
        label: key.label,
        created_at_ms: key.created_at_ms,
        revoked_at_ms: key.revoked_at_ms,
    }
}

fn project_body(base: &str, project: ProjectRow) -> Project {
    Project {
        id: project.id,
        name: project.name,
        created_at_ms: project.created_at_ms,
        keys: project
            .keys
            .into_iter()
            .map(|key| key_body(base, key))
            .collect(),
    }
}

async fn list_projects(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<Project>>, ApiError> {
    let base = base_url(&state, &headers);
    let projects = state.store.read(projects::list).await?;
    Ok(Json(
        projects
            .into_iter()
            .map(|project| project_body(&base, project))
            .collect(),
    ))
}

/// A trimmed name of 1 to [`MAX_NAME_CHARS`] characters.
fn checked_name(field: &str, name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::BadRequest(format!(
            "{field} must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(name.to_owned())
}

async fn create_project(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(request): ApiJson<NewProjectRequest>,
) -> Result<(StatusCode, Json<Project>), ApiError> {
    caller.require(Scope::Write)?;
    let name = checked_name("name", &request.name)?;
    let now = unix_ms_now();
    let created = state
        .store
        .write(move |conn| {
            if projects::name_taken(conn, &name)? {
                return Ok(None);
            }
            projects::create(conn, &name, now).map(Some)
        })
        .await?;
    let Some(project) = created else {
        return Err(ApiError::BadRequest(format!(
            "a project named {:?} exists already",
            request.name.trim()
        )));
    };
    tracing::info!(project = project.id, name = %project.name, "error project created");
    let base = base_url(&state, &headers);
    Ok((StatusCode::CREATED, Json(project_body(&base, project))))
}

async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    path: Result<Path<i64>, PathRejection>,
    body: Bytes,
) -> Result<(StatusCode, Json<ProjectKey>), ApiError> {
    caller.require(Scope::Write)?;
    let project_id = path_ids(path)?;
    // The body is optional: no body means the default label.
    let request: NewProjectKeyRequest = if body.iter().all(u8::is_ascii_whitespace) {
        NewProjectKeyRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|error| ApiError::BadRequest(format!("invalid key request: {error}")))?
    };
    let label = checked_name("label", request.label.as_deref().unwrap_or("default"))?;
    let now = unix_ms_now();
    let key = state
        .store
        .write(move |conn| projects::create_key(conn, project_id, &label, now))
        .await?
        .ok_or(ApiError::NotFound)?;
    // Unknown keys are never cached, but any key change starts it afresh.
    state.error_runtime.keys.invalidate();
    tracing::info!(
        project = project_id,
        key = key.id,
        "error project key created"
    );
    let base = base_url(&state, &headers);
    Ok((StatusCode::CREATED, Json(key_body(&base, key))))
}

async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    path: Result<Path<(i64, i64)>, PathRejection>,
) -> Result<Json<ProjectKey>, ApiError> {
    caller.require(Scope::Write)?;
    let (project_id, key_id) = path_ids(path)?;
    let now = unix_ms_now();
    let key = state
        .store
        .write(move |conn| projects::revoke_key(conn, project_id, key_id, now))
        .await?
        .ok_or(ApiError::NotFound)?;
    // Committed: the next envelope with this key must see it revoked.
    state.error_runtime.keys.invalidate();
    tracing::info!(
        project = project_id,
        key = key.id,
        "error project key revoked"
    );
    let base = base_url(&state, &headers);
    Ok(Json(key_body(&base, key)))
}

fn webhook_body(row: WebhookRow) -> Webhook {
    Webhook {
        id: row.id,
        project_id: row.project_id,
        url: row.url,
        kind: row.kind,
        created_at_ms: row.created_at_ms,
    }
}

async fn list_webhooks(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<i64>, PathRejection>,
) -> Result<Json<Vec<Webhook>>, ApiError> {
    caller.require(Scope::Write)?;
    let project_id = path_ids(path)?;
    let (exists, rows) = state
        .store
        .read(move |conn| {
            let exists = projects::exists(conn, project_id)?;
            Ok((exists, webhooks::list(conn, project_id)?))
        })
        .await?;
    if !exists {
        return Err(ApiError::NotFound);
    }
    Ok(Json(rows.into_iter().map(webhook_body).collect()))
}

async fn add_webhook(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<i64>, PathRejection>,
    ApiJson(request): ApiJson<NewWebhookRequest>,
) -> Result<(StatusCode, Json<Webhook>), ApiError> {
    caller.require(Scope::Write)?;
    let project_id = path_ids(path)?;
    let url = webhooks::checked_url(&request.url).map_err(ApiError::BadRequest)?;
    let kind = request.kind;
    let now = unix_ms_now();
    let added = state
        .store
        .write(move |conn| webhooks::add(conn, project_id, &url, kind, now))
        .await?;
    let row = match added {
        Ok(row) => row,
        Err(AddError::NoProject) => return Err(ApiError::NotFound),
        Err(error @ AddError::TooMany) => return Err(ApiError::BadRequest(error.to_string())),
    };
    // The URL may hold a secret: log which webhook, not where.
    tracing::info!(
        project = project_id,
        webhook = row.id,
        kind = webhooks::kind_name(kind),
        "webhook added"
    );
    Ok((StatusCode::CREATED, Json(webhook_body(row))))
}

async fn remove_webhook(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(i64, i64)>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Write)?;
    let (project_id, webhook_id) = path_ids(path)?;
    let removed = state
        .store
        .write(move |conn| webhooks::remove(conn, project_id, webhook_id))
        .await?;
    if !removed {
        return Err(ApiError::NotFound);
    }
    tracing::info!(
        project = project_id,
        webhook = webhook_id,
        "webhook removed"
    );
    Ok(StatusCode::NO_CONTENT)
}

/// A time parameter, Unix ms: digits are milliseconds, anything else is
/// Graphite's syntax (`-24h`, `now`).
fn time_ms(key: &str, text: &str, now_ms: i64) -> Result<i64, ApiError> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map_err(|_| ApiError::BadRequest(format!("{key} is out of range")));
    }
    parse_time(text, now_ms.div_euclid(1000))
        .map(|secs| secs.saturating_mul(1000))
        .map_err(|error| ApiError::BadRequest(format!("{key}: {error}")))
}

fn non_empty(pairs: &[(String, String)], key: &str) -> Option<String> {
    first(pairs, key)
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// The issue list's filters from a query string.
fn issue_filter(pairs: &[(String, String)], now_ms: i64) -> Result<IssueFilter, ApiError> {
    let status = non_empty(pairs, "status")
        .map(|name| {
            IssueStatus::parse(&name).ok_or_else(|| {
                ApiError::BadRequest(format!("status {name:?} is not one of {}", status_names()))
            })
        })
        .transpose()?;
    let sort = non_empty(pairs, "sort")
        .map(|name| {
            IssueSort::parse(&name).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "sort {name:?} is not one of last_seen, first_seen, count"
                ))
            })
        })
        .transpose()?
        .unwrap_or_default();
    let time = |key: &str| {
        non_empty(pairs, key)
            .map(|text| time_ms(key, &text, now_ms))
            .transpose()
    };
    Ok(IssueFilter {
        project_id: number(pairs, "project")?,
        status,
        release: non_empty(pairs, "release"),
        environment: non_empty(pairs, "environment"),
        text: non_empty(pairs, "q"),
        from_ms: time("from")?,
        until_ms: time("until")?,
        sort,
        limit: number(pairs, "limit")?.unwrap_or(0),
        offset: number(pairs, "offset")?.unwrap_or(0),
    })
}

fn status_names() -> String {
    IssueStatus::ALL
        .iter()
        .map(|status| status.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn list_issues(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<IssueList>, ApiError> {
    let filter = issue_filter(&pairs(query), unix_ms_now())?;
    // Users, hours and tag values filter and fill the list.
    state.error_runtime.counts.settle(&state.store).await?;
    let (issues, next_offset) = state
        .store
        .read(move |conn| issues::list(conn, &filter))
        .await?;
    Ok(Json(IssueList {
        issues,
        next_offset,
    }))
}

async fn issue_detail(
    State(state): State<AppState>,
    path: Result<Path<i64>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<IssueDetail>, ApiError> {
    let id = path_ids(path)?;
    let pairs = pairs(query);
    let now = unix_ms_now();
    let hours_from = match non_empty(&pairs, "from") {
        Some(text) => time_ms("from", &text, now)?,
        None => now.saturating_sub(DEFAULT_HOURS_MS),
    }
    .max(now.saturating_sub(MAX_HOURS_MS));
    state.error_runtime.counts.settle(&state.store).await?;
    let detail = state
        .store
        .read(move |conn| {
            let Some(issue) = issues::get(conn, id)? else {
                return Ok(None);
            };
            Ok(Some(IssueDetail {
                issue,
                grouping_components: issues::grouping_components(conn, id)?,
                latest_event: events::latest(conn, id)?.map(view::error_event),
                tags: issues::tag_distribution(conn, id, TOP_TAG_VALUES)?,
                hourly: issues::hours(conn, id, hours_from)?,
            }))
        })
        .await?;
    detail.map(Json).ok_or(ApiError::NotFound)
}

async fn update_issue(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<i64>, PathRejection>,
    ApiJson(update): ApiJson<IssueUpdate>,
) -> Result<Json<Issue>, ApiError> {
    caller.require(Scope::Write)?;
    let id = path_ids(path)?;
    let status = IssueStatus::parse(update.status.trim()).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "status {:?} is not one of {}",
            update.status,
            status_names()
        ))
    })?;
    let counts = std::sync::Arc::clone(&state.error_runtime.counts);
    let issue = state
        .store
        .write(move |conn| {
            // The issue answered holds its users counted so far.
            counts.write(conn)?;
            issues::set_status(conn, id, status)
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    tracing::info!(issue = id, status = status.as_str(), by = %caller.describe(), "issue status changed");
    Ok(Json(issue))
}

async fn issue_events(
    State(state): State<AppState>,
    path: Result<Path<i64>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<EventList>, ApiError> {
    let id = path_ids(path)?;
    let pairs = pairs(query);
    let limit = number(&pairs, "limit")?.unwrap_or(DEFAULT_EVENT_PAGE);
    let cursor: Option<i64> = number(&pairs, "cursor")?;
    let page = state
        .store
        .read(move |conn| {
            if issues::get(conn, id)?.is_none() {
                return Ok(None);
            }
            events::page(conn, id, cursor, limit).map(Some)
        })
        .await?;
    let (stored, next_cursor) = page.ok_or(ApiError::NotFound)?;
    Ok(Json(EventList {
        events: stored.into_iter().map(view::error_event).collect(),
        next_cursor,
    }))
}

#[cfg(test)]
mod tests;
