//! Elasticsearch's bulk API for log shippers: each indexed document is
//! stored as one JSON log line, each item answered as Elasticsearch would
//! (what clients ask first is [`super::discovery`]'s).
//!
//! ```text
//! POST /logs/_bulk
//! {"index":{"_id":"7"}}      -> {"index":{"_index":"logs","_id":"7","_version":1,
//! {"message":"GET / 200"}         "result":"created",...,"status":201}}
//! {"delete":{"_id":"7"}}     -> {"delete":{"_index":"logs","_id":"7","status":400,
//!                                 "error":{"type":"illegal_argument_exception",...}}}
//! ```
//!
//! Every answer carries `X-Elastic-Product: Elasticsearch`: the official
//! clients (and so Logstash and the Beats) refuse a server without it.
//! Stored lines keep the item's index as the field `es_index`; `_id`s are
//! answered (made up when absent) but not stored, since nothing looks a
//! log line up by id.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use partout_protocols::esbulk::{parse_bulk, BulkAction, BulkItem};
use partout_protocols::ParseError;
use serde_json::{json, Value};

use super::super::auth::IngestCaller;
use super::super::error::ApiError;
use super::super::logs_api::{decoded_body, now_nanos};
use super::super::AppState;
use super::discovery;
use crate::logs::raw::{RawLog, Source};

/// Largest bulk body as sent (compressed or not); Elasticsearch's own
/// default is 100 MB, shippers' batches are far smaller.
const MAX_BODY: usize = 32 * 1024 * 1024;
/// Most items in one bulk request. The answer lists every item (about
/// 200 bytes each), so a body of tiny items could otherwise make an
/// answer ten times its own size. Vector and Logstash send tens of
/// thousands at most; Filebeat 1600.
pub(super) const MAX_BULK_ITEMS: usize = 200_000;
/// The context (and so field) name holding the item's index.
const INDEX_CONTEXT: &str = "es_index";

/// Numbers each stored document: the `_seq_no` answered, and with the
/// time the `_id` made up for a document sent without one.
static NEXT_SEQ_NO: AtomicU64 = AtomicU64::new(0);

pub fn routes() -> Router<AppState> {
    let bulk_limit = DefaultBodyLimit::max(MAX_BODY);
    let acknowledge = || get(discovery::describe).put(discovery::acknowledged);
    Router::new()
        .route(
            "/_bulk",
            post(bulk_handler).put(bulk_handler).layer(bulk_limit),
        )
        .route(
            "/{index}/_bulk",
            post(index_bulk_handler)
                .put(index_bulk_handler)
                .layer(bulk_limit),
        )
        .route("/_license", get(discovery::license))
        .route("/_xpack", get(discovery::xpack))
        .route("/_cluster/health", get(discovery::cluster_health))
        .route("/_index_template/{name}", acknowledge())
        .route("/_template/{name}", acknowledge())
        .route("/_ilm/policy/{name}", acknowledge())
        .route("/_data_stream/{name}", acknowledge())
        // Only these routes: a layer on the router would also wrap its
        // (default) fallback, which merging hands to the whole server.
        .route_layer(middleware::map_response(product_header))
}

/// Marks a response as Elasticsearch's, which the official clients check
/// on every answer.
pub(crate) fn mark_elastic(response: &mut Response) {
    response.headers_mut().insert(
        "x-elastic-product",
        HeaderValue::from_static("Elasticsearch"),
    );
}

async fn product_header(mut response: Response) -> Response {
    mark_elastic(&mut response);
    response
}

/// `POST /_bulk`.
async fn bulk_handler(
    State(state): State<AppState>,
    caller: Result<IngestCaller, ApiError>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    bulk(state, caller, None, &headers, body).await
}

/// `POST /{index}/_bulk`: the index applies to items that name none.
async fn index_bulk_handler(
    State(state): State<AppState>,
    Path(index): Path<String>,
    caller: Result<IngestCaller, ApiError>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    bulk(state, caller, Some(index), &headers, body).await
}

/// What became of one bulk item, in request order.
struct Outcome {
    action: BulkAction,
    index: Option<String>,
    id: Option<String>,
    stored: Result<(), Refusal>,
}

/// Why one item was not stored: its error object in the answer.
struct Refusal {
    /// The reject counter's label.
    label: &'static str,
    /// Elasticsearch's exception name, which clients log.
    kind: &'static str,
    reason: String,
}

async fn bulk(
    state: AppState,
    caller: Result<IngestCaller, ApiError>,
    path_index: Option<String>,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    if let Err(error) = caller {
        return error_response(error);
    }
    let body = match decoded_body(headers, body) {
        Ok(body) => body,
        Err(error) => return error_response(error),
    };
    let now = now_nanos();
    let max_line = state.logs.config.max_line_bytes;
    let mut lines = Vec::new();
    let mut outcomes: Vec<Outcome> = Vec::new();
    for item in parse_bulk(&body) {
        if outcomes.len() == MAX_BULK_ITEMS {
            return elastic_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "illegal_argument_exception",
                &format!(
                    "more than {MAX_BULK_ITEMS} items in one bulk request: send smaller batches"
                ),
            );
        }
        let index = item.index.clone().or_else(|| path_index.clone());
        let stored = storable(&item).map(|source| {
            let mut line = RawLog::new(Source::JsonLine, now, source, max_line);
            if let Some(index) = &index {
                line = line.with_context(INDEX_CONTEXT, index);
            }
            lines.push(line);
        });
        outcomes.push(Outcome {
            action: item.action,
            index,
            id: item.id,
            stored,
        });
    }
    let stored = lines.len() as u64;
    let truncated = lines.iter().filter(|line| line.truncated).count() as u64;
    if let Err(error) = state.logs.append(lines).await {
        return error_response(error.into());
    }
    state.logs.telemetry().log_lines_truncated.inc_by(truncated);
    count(&state, &outcomes, stored);

    let errors = outcomes.iter().any(|outcome| outcome.stored.is_err());
    let items: Vec<Value> = outcomes
        .into_iter()
        .map(|outcome| item_answer(outcome, now))
        .collect();
    let took = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Json(json!({"took": took, "errors": errors, "items": items})).into_response()
}

/// One item of the answer: `{"<action>": {..., "status": N}}`.
fn item_answer(outcome: Outcome, now: i64) -> Value {
    let Outcome {
        action,
        index,
        id,
        stored,
    } = outcome;
    let result = match stored {
        Ok(()) => {
            let seq_no = NEXT_SEQ_NO.fetch_add(1, Ordering::Relaxed);
            // A non-negative i64 never takes more than 16 hex digits, so
            // the counter after them keeps every made-up id distinct.
            let id = id.unwrap_or_else(|| format!("{:016x}{seq_no:08x}", now.max(0)));
            json!({
                "_index": index, "_id": id, "_version": 1, "result": "created",
                "_shards": {"total": 1, "successful": 1, "failed": 0},
                "_seq_no": seq_no, "_primary_term": 1, "status": 201
            })
        }
        Err(refusal) => json!({
            "_index": index, "_id": id, "status": 400,
            "error": {"type": refusal.kind, "reason": refusal.reason}
        }),
    };
    json!({ action.as_str(): result })
}

/// The source line to store, or why the item is refused.
fn storable<'a>(item: &BulkItem<'a>) -> Result<&'a [u8], Refusal> {
    if matches!(item.action, BulkAction::Update | BulkAction::Delete) {
        let action = item.action.as_str();
        return Err(Refusal {
            label: if item.action == BulkAction::Update {
                "unsupported_update"
            } else {
                "unsupported_delete"
            },
            kind: "illegal_argument_exception",
            reason: format!(
                "partout stores log lines, which are never changed: `{action}` is not supported"
            ),
        });
    }
    if let Some(error) = &item.error {
        let kind = match error {
            ParseError::MissingBulkSource => "action_request_validation_exception",
            _ => "illegal_argument_exception",
        };
        return Err(Refusal {
            label: error.reason(),
            kind,
            reason: format!("{error} [line {}]", item.line),
        });
    }
    item.source.ok_or(Refusal {
        label: ParseError::MissingBulkSource.reason(),
        kind: "action_request_validation_exception",
        reason: format!("bulk action without its source line [line {}]", item.line),
    })
}

/// Counts stored lines, and refused items by reason.
fn count(state: &AppState, outcomes: &[Outcome], stored: u64) {
    let telemetry = &state.telemetry;
    telemetry
        .ingested_items
        .get_or_create(&crate::telemetry::ProtocolLabels {
            protocol: "elasticsearch".to_owned(),
        })
        .inc_by(stored);
    for outcome in outcomes {
        if let Err(refusal) = &outcome.stored {
            telemetry
                .rejected_items
                .get_or_create(&crate::telemetry::RejectLabels {
                    protocol: "elasticsearch".to_owned(),
                    reason: refusal.label.to_owned(),
                })
                .inc();
        }
    }
}

/// A failure of the whole request in Elasticsearch's error shape, which
/// clients log and whose status they retry on (429, 5xx).
pub(crate) fn error_response(error: ApiError) -> Response {
    let reason = error.to_string();
    // `into_response` logs server-side failures; only the status is kept.
    let status = error.into_response().status();
    let kind = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "security_exception",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable_shards_exception",
        status if status.is_server_error() => "exception",
        _ => "illegal_argument_exception",
    };
    let mut response = elastic_error(status, kind, &reason);
    if status == StatusCode::UNAUTHORIZED {
        // Basic first: clients that wait for a challenge answer it.
        let headers = response.headers_mut();
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"partout\" charset=\"UTF-8\""),
        );
        headers.append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"partout\""),
        );
    }
    response
}

fn elastic_error(status: StatusCode, kind: &str, reason: &str) -> Response {
    let body = json!({
        "error": {
            "root_cause": [{"type": kind, "reason": reason}],
            "type": kind,
            "reason": reason
        },
        "status": status.as_u16()
    });
    (status, Json(body)).into_response()
}
