//! The Sentry ingestion endpoints, as SDKs call them:
//! `POST /api/{project_id}/envelope/` and the older
//! `POST /api/{project_id}/store/` (with or without the trailing slash).
//!
//! Authentication is the DSN's public key, from the `X-Sentry-Auth`
//! header (server SDKs), the `sentry_key` query parameter (browser SDKs,
//! whose requests stay CORS-simple), or the envelope header's `dsn`
//! (browser SDKs behind a tunnel). Unknown keys answer 401; revoked keys,
//! and keys of another project, 403.
//!
//! Errors answer in Sentry's shape, `{"detail": "..."}` with the same text
//! in `X-Sentry-Error`, not in the `{"error": ...}` body of `/api/v1`:
//! SDKs log `detail`. Every answer carries CORS headers, and `OPTIONS`
//! answers preflights, so browser SDKs on any origin can send.
//!
//! A 200 is sent only once every event of the body is committed by the
//! store's writer: an acknowledged event is durable.
//!
//! Each project may send `errors.events_per_minute` events; over it the
//! whole request is refused with 429, `Retry-After` and Sentry's
//! `X-Sentry-Rate-Limits`, which SDKs obey by dropping events locally
//! until then (see `errors::rate_limit`). A new or regressed issue's
//! notification is recorded in the same writer job as the issue
//! (`errors::notify::outbox`), and the sender is woken.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use partout_protocols::sentry::auth::{parse_auth_header, parse_auth_query};
use serde_json::json;

use super::encoding::{decode_body, DecodeError};
use super::AppState;
use crate::errors::dictionaries::{Dictionary, DictionaryCache};
use crate::errors::envelope::{parse_envelope_body, parse_store_body, BodyError, DsnKey};
use crate::errors::event_queue::{Keep, Stored};
use crate::errors::notify::outbox::Enqueued;
use crate::errors::prepare::{prepare_all, NewEvent};
use crate::errors::projects::KeyLookup;
use crate::errors::record::Outcome;
use crate::errors::ErrorsConfig;
use crate::store::{unix_ms_now, Store, StoreError};
use crate::telemetry::{ItemTypeLabels, NotificationLabels, RejectLabels};

/// Largest body as sent, compressed or not. The decompressed bound is
/// the envelope limit of the errors config.
const MAX_BODY: usize = 20 * 1024 * 1024;
/// The `protocol` label of partout's ingest counters.
const PROTOCOL: &str = "sentry";
/// Headers browser SDKs may send cross-origin.
const ALLOWED_HEADERS: &str = "x-sentry-auth, x-requested-with, origin, accept, content-type, \
     content-encoding, authentication, authorization, sentry-trace, baggage";
/// Headers a browser SDK reads from the answer.
const EXPOSED_HEADERS: &str = "x-sentry-error, x-sentry-rate-limits, retry-after";

pub fn routes() -> Router<AppState> {
    let envelope = || post(envelope_handler).options(preflight);
    let store = || post(store_handler).options(preflight);
    Router::new()
        .route("/api/{project_id}/envelope/", envelope())
        .route("/api/{project_id}/envelope", envelope())
        .route("/api/{project_id}/store/", store())
        .route("/api/{project_id}/store", store())
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::map_response(with_cors))
}

/// A refused request: its status, what the SDK is told, and the reason
/// counted in `partout_rejected_items_total`.
#[derive(Debug)]
pub struct SentryApiError {
    status: StatusCode,
    detail: String,
    reason: &'static str,
    /// Seconds the SDK must wait, for a 429.
    retry_after: Option<u64>,
}

impl SentryApiError {
    fn new(status: StatusCode, reason: &'static str, detail: impl Into<String>) -> Self {
        SentryApiError {
            status,
            detail: detail.into(),
            reason,
            retry_after: None,
        }
    }

    /// Over the project's event limit: back off for `seconds`.
    fn rate_limited(seconds: u64) -> Self {
        SentryApiError {
            retry_after: Some(seconds),
            ..SentryApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("this project sends more events than its limit; retry in {seconds} s"),
            )
        }
    }
}

/// `X-Sentry-Rate-Limits` for a project limit of `seconds`:
/// `retry_after:categories:scope:reason`. Only error and message events
/// count towards our limit, so only their categories are named: SDKs
/// keep sending sessions and the rest.
fn rate_limits_header(seconds: u64) -> String {
    format!("{seconds}:error;default:project:project_quota")
}

impl IntoResponse for SentryApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({"detail": self.detail}))).into_response();
        // The header holds the same text; control characters cannot occur
        // in our details, but a value that does not fit is left out.
        if let Ok(value) = HeaderValue::from_str(&self.detail) {
            response
                .headers_mut()
                .insert(HeaderName::from_static("x-sentry-error"), value);
        }
        if let Some(seconds) = self.retry_after {
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            if let Ok(value) = HeaderValue::from_str(&rate_limits_header(seconds)) {
                headers.insert(HeaderName::from_static("x-sentry-rate-limits"), value);
            }
        }
        response
    }
}

impl From<StoreError> for SentryApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Closed => SentryApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the server is shutting down",
            ),
            other => {
                tracing::error!(error = %other, "sentry request failed");
                SentryApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
        }
    }
}

/// Which endpoint a body came to.
#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Envelope,
    Store,
}

async fn envelope_handler(
    state: State<AppState>,
    project: Path<String>,
    query: RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(state, project, query, headers, body, Endpoint::Envelope).await
}

async fn store_handler(
    state: State<AppState>,
    project: Path<String>,
    query: RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(state, project, query, headers, body, Endpoint::Store).await
}

/// Runs one request and counts a refusal by its reason.
async fn handle(
    State(state): State<AppState>,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    endpoint: Endpoint,
) -> Response {
    match ingest(&state, &project, query.as_deref(), &headers, body, endpoint).await {
        Ok(answer) => answer.into_response(),
        Err(error) => {
            state
                .telemetry
                .rejected_items
                .get_or_create(&RejectLabels {
                    protocol: PROTOCOL.to_owned(),
                    reason: error.reason.to_owned(),
                })
                .inc();
            tracing::debug!(reason = error.reason, detail = %error.detail, "sentry request refused");
            error.into_response()
        }
    }
}

async fn ingest(
    state: &AppState,
    project: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    endpoint: Endpoint,
) -> Result<Json<serde_json::Value>, SentryApiError> {
    let project_id: i64 = project.parse().map_err(|_| {
        SentryApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_project",
            "the project id in the path is not a number",
        )
    })?;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            SentryApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("request body larger than {MAX_BODY} bytes"),
            )
        } else {
            SentryApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_body",
                "cannot read the request body",
            )
        }
    })?;
    // A key in the header or query is checked before the body is read;
    // a DSN inside the envelope only after.
    let presented = presented_key(headers, query)?;
    if let Some(key) = &presented {
        authenticate(state, key, project_id).await?;
    }
    let received_at_ms = unix_ms_now();
    let config = state.errors;
    let headers = headers.clone();
    let dictionaries = Dictionaries {
        store: state.store.clone(),
        cache: Arc::clone(&state.error_runtime.dictionaries),
        project_id,
    };
    let inline = body.len() <= MAX_INLINE_BODY;
    let read = move || {
        read_body(
            &headers,
            &body,
            endpoint,
            &config,
            received_at_ms,
            &dictionaries,
        )
    };
    let body = if inline {
        read()?
    } else {
        let permit = state
            .error_runtime
            .body_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| SentryApiError::from(StoreError::Closed))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            read()
        })
        .await
        .map_err(|error| SentryApiError::from(StoreError::Task(error.to_string())))??
    };
    if presented.is_none() {
        authenticate_by_dsn(state, body.dsn.as_ref(), project_id).await?;
    }
    let ReadBody {
        events: parsed_events,
        skipped,
        header_event_id: header_id,
        items,
        stats,
        logs,
        log_errors,
        ..
    } = body;
    for label in &skipped {
        state
            .telemetry
            .sentry_items_skipped
            .get_or_create(&ItemTypeLabels {
                item_type: (*label).to_owned(),
            })
            .inc();
    }
    // SDK logs are durable in the log store before the answer, like
    // `POST /api/v1/logs`; they do not count towards the events' limit.
    crate::errors::sentry_logs::append(
        &state.logs,
        &state.store,
        &state.telemetry,
        project_id,
        logs,
        &log_errors,
        received_at_ms.saturating_mul(1_000_000),
    )
    .await
    .map_err(sentry_logs_error)?;
    // Before the events and their rate limit: sessions and the rest do
    // not count towards it, and a refused body is not sent again.
    crate::errors::item_stats::store(&state.store, &state.telemetry, project_id, stats).await?;
    let answer_id = parsed_events
        .first()
        .map(|event| event.event_id.clone())
        .or(header_id);
    if !parsed_events.is_empty() {
        let limit = state.errors.events_per_minute;
        let limited = state.error_runtime.limiter.take(
            project_id,
            parsed_events.len(),
            limit,
            received_at_ms,
        );
        if let Err(retry_after) = limited {
            state
                .telemetry
                .error_events_rate_limited
                .inc_by(u64::try_from(parsed_events.len()).unwrap_or(u64::MAX));
            return Err(SentryApiError::rate_limited(retry_after.0));
        }
        let recorded = store_events(state, project_id, parsed_events).await?;
        count_outcomes(state, project_id, &recorded);
    }
    crate::errors::items::store(
        &state.store,
        &state.telemetry,
        project_id,
        items,
        received_at_ms,
        &state.errors,
    )
    .await?;
    Ok(Json(match answer_id {
        Some(id) => json!({ "id": id }),
        None => json!({}),
    }))
}

/// What a body held, ready for the writer.
struct ReadBody {
    events: Vec<NewEvent>,
    /// Item type labels of the items skipped.
    skipped: Vec<&'static str>,
    header_event_id: Option<String>,
    dsn: Option<DsnKey>,
    /// Check-ins and attachments, written after the events.
    items: crate::errors::items::Items,
    /// Transactions, sessions and client reports, written before them.
    stats: crate::errors::item_stats::PreparedStats,
    /// SDK log records for the log store, and why others were not read.
    logs: Vec<partout_protocols::sentry::logs::SentryLog>,
    log_errors: Vec<&'static str>,
}

/// Bodies up to this many bytes as sent (one SDK event, gzipped, is
/// about 4 KB) are read on the async worker that received them: a
/// fraction of a millisecond, where handing them to a blocking thread and
/// back costs two thread switches per request.
const MAX_INLINE_BODY: usize = 16 * 1024;

/// Where a body's events find their issues' dictionaries.
struct Dictionaries {
    store: Store,
    cache: Arc<DictionaryCache>,
    project_id: i64,
}

impl Dictionaries {
    /// The dictionary of an issue; none when it cannot be read, and the
    /// event is then offered as one (always safe).
    fn lookup(&self, grouping_key: &str) -> Option<Arc<Dictionary>> {
        self.cache
            .lookup(&self.store, self.project_id, grouping_key)
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "cannot read an issue dictionary");
                None
            })
    }
}

/// Decodes, parses and prepares a body. Blocking: decompression, JSON
/// parsing and compression for storage take milliseconds on big bodies
/// (small ones, [`MAX_INLINE_BODY`], a fraction of one), and a
/// dictionary not in memory is read from the store.
fn read_body(
    headers: &HeaderMap,
    body: &[u8],
    endpoint: Endpoint,
    config: &ErrorsConfig,
    received_at_ms: i64,
    dictionaries: &Dictionaries,
) -> Result<ReadBody, SentryApiError> {
    let decoded =
        decode_body(headers, body, config.envelope.max_envelope_bytes).map_err(decode_error)?;
    let mut parsed = match endpoint {
        Endpoint::Envelope => parse_envelope_body(&decoded, config),
        Endpoint::Store => parse_store_body(&decoded, config),
    }
    .map_err(body_error)?;
    let items = crate::errors::items::take(&mut parsed);
    let stats = crate::errors::item_stats::prepare(
        std::mem::take(&mut parsed.stats),
        parsed.sent_at_micros,
        received_at_ms,
    );
    let skipped = std::mem::take(&mut parsed.skipped);
    let logs = std::mem::take(&mut parsed.logs);
    let log_errors = std::mem::take(&mut parsed.log_errors);
    let dsn = parsed.dsn.take();
    let header_event_id = parsed.header_event_id.clone();
    let lookup = |grouping_key: &str| dictionaries.lookup(grouping_key);
    let events = prepare_all(parsed, received_at_ms, &lookup).map_err(|error| {
        tracing::error!(%error, "cannot encode an event for storage");
        SentryApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    })?;
    Ok(ReadBody {
        events,
        skipped,
        header_event_id,
        dsn,
        items,
        stats,
        logs,
        log_errors,
    })
}

/// Authenticates a request that had no key but the envelope's DSN.
async fn authenticate_by_dsn(
    state: &AppState,
    dsn: Option<&DsnKey>,
    project_id: i64,
) -> Result<(), SentryApiError> {
    let Some(dsn) = dsn else {
        return Err(SentryApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_auth",
            "missing authorization: send X-Sentry-Auth, the sentry_key query parameter, \
             or a dsn in the envelope header",
        ));
    };
    if i64::try_from(dsn.project_id).ok() != Some(project_id) {
        return Err(SentryApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_project",
            format!("the envelope's DSN is for project {}", dsn.project_id),
        ));
    }
    authenticate(state, &dsn.public_key, project_id).await
}

/// Commits the events with those of the requests queued beside them
/// ([`crate::errors::event_queue`]), with the notification of each issue
/// they open or reopen, and returns what each did.
async fn store_events(
    state: &AppState,
    project_id: i64,
    events: Vec<NewEvent>,
) -> Result<Vec<Stored>, SentryApiError> {
    let keep = Keep {
        events_per_issue: state.errors.events_per_issue,
        notifications_per_minute: state.errors.notifications_per_minute,
        counts: Arc::clone(&state.error_runtime.counts),
    };
    Ok(state
        .error_runtime
        .event_queue
        .record(
            &state.store,
            keep,
            &state.telemetry.error_event_queue,
            project_id,
            events,
        )
        .await?)
}

fn count_outcomes(state: &AppState, project_id: i64, stored: &[Stored]) {
    let telemetry = &state.telemetry;
    for Stored {
        recorded,
        event,
        notification,
    } in stored
    {
        match notification {
            Some(Enqueued::Queued { .. }) => state.error_runtime.outbox_wake.notify_one(),
            Some(Enqueued::Suppressed) => {
                tracing::info!(
                    project = project_id,
                    issue = recorded.issue_id,
                    "notification suppressed: over the project's limit"
                );
                telemetry
                    .error_notifications
                    .get_or_create(&NotificationLabels {
                        outcome: "suppressed".to_owned(),
                    })
                    .inc();
            }
            Some(Enqueued::NoWebhooks | Enqueued::Duplicate) | None => {}
        }
        let change = match recorded.outcome {
            Outcome::Duplicate => {
                telemetry
                    .rejected_items
                    .get_or_create(&RejectLabels {
                        protocol: PROTOCOL.to_owned(),
                        reason: "duplicate".to_owned(),
                    })
                    .inc();
                continue;
            }
            Outcome::Counted => None,
            Outcome::NewIssue => {
                tracing::info!(project = project_id, issue = recorded.issue_id, title = %event.grouping.title, "new issue");
                Some("new")
            }
            Outcome::Regressed => {
                tracing::info!(project = project_id, issue = recorded.issue_id, title = %event.grouping.title, release = event.release.as_deref().unwrap_or(""), "issue regressed");
                Some("regressed")
            }
        };
        telemetry.count_recorded_event(PROTOCOL, change);
    }
}

/// The public key of the header or query auth, if either was sent.
fn presented_key(
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Option<String>, SentryApiError> {
    let bad = |error: partout_protocols::sentry::SentryError| {
        SentryApiError::new(StatusCode::UNAUTHORIZED, "bad_auth", error.to_string())
    };
    let header = headers
        .get("x-sentry-auth")
        .or_else(|| {
            // Some SDKs put the same value in `Authorization`.
            headers.get(header::AUTHORIZATION).filter(|value| {
                value.to_str().is_ok_and(|text| {
                    text.trim_start()
                        .to_ascii_lowercase()
                        .starts_with("sentry ")
                })
            })
        })
        .map(|value| value.to_str().unwrap_or(""));
    if let Some(header) = header {
        return parse_auth_header(header)
            .map(|auth| Some(auth.public_key))
            .map_err(bad);
    }
    match query {
        Some(query) if query.split('&').any(|pair| pair.starts_with("sentry_key=")) => {
            parse_auth_query(query)
                .map(|auth| Some(auth.public_key))
                .map_err(bad)
        }
        _ => Ok(None),
    }
}

/// Checks that `public_key` is an active key of `project_id`.
async fn authenticate(
    state: &AppState,
    public_key: &str,
    project_id: i64,
) -> Result<(), SentryApiError> {
    let found = state
        .error_runtime
        .keys
        .lookup(&state.store, public_key)
        .await?;
    match found {
        KeyLookup::Active { project_id: owner } if owner == project_id => Ok(()),
        KeyLookup::Active { project_id: owner } | KeyLookup::Revoked { project_id: owner }
            if owner != project_id =>
        {
            Err(SentryApiError::new(
                StatusCode::FORBIDDEN,
                "wrong_project",
                format!("this key belongs to project {owner}, not {project_id}"),
            ))
        }
        KeyLookup::Revoked { .. } => Err(SentryApiError::new(
            StatusCode::FORBIDDEN,
            "revoked_key",
            "this DSN's key was revoked",
        )),
        _ => Err(SentryApiError::new(
            StatusCode::UNAUTHORIZED,
            "unknown_key",
            "unknown DSN public key",
        )),
    }
}

fn sentry_logs_error(error: crate::errors::sentry_logs::AppendError) -> SentryApiError {
    use crate::errors::sentry_logs::AppendError;
    match error {
        AppendError::Store(error) => SentryApiError::from(error),
        AppendError::Logs(crate::logs::LogError::Closed) => SentryApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the server is shutting down",
        ),
        AppendError::Logs(error) => {
            tracing::error!(%error, "sentry logs were not stored");
            SentryApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
        }
    }
}

fn decode_error(error: DecodeError) -> SentryApiError {
    let status = match error {
        DecodeError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    let reason = match error {
        DecodeError::TooLarge { .. } => "too_large",
        DecodeError::Unsupported(_) => "bad_encoding",
        DecodeError::Corrupt { .. } => "bad_compression",
    };
    SentryApiError::new(status, reason, error.to_string())
}

fn body_error(error: BodyError) -> SentryApiError {
    let status = if error.is_too_large() {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::BAD_REQUEST
    };
    SentryApiError::new(status, error.reason(), error.to_string())
}

/// `OPTIONS`: a browser's preflight before a cross-origin POST.
async fn preflight() -> Response {
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("3600"),
    );
    response
}

/// Every answer of these routes may be read by a page on any origin:
/// DSNs are public, and the key, not the origin, is what authorizes.
async fn with_cors(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
    response
}

#[cfg(test)]
pub(crate) mod tests;
