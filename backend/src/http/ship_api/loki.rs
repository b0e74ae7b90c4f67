//! Loki's push API, `POST /loki/api/v1/push`, as Promtail, Grafana Alloy,
//! Vector's and Fluent Bit's `loki` outputs send it.
//!
//! ```text
//! Content-Type: application/json          (gzip or not)  -> parse_push_json
//! Content-Type: application/x-protobuf    (snappy block) -> parse_push_protobuf
//! -> 204 No Content once every entry is durable; 400 text/plain with the
//!    reason when the body does not parse (the whole push is refused)
//! GET /ready -> 200 "ready" (Vector's health check)
//! ```
//!
//! Each entry becomes one line whose time is the entry's, with the stream
//! labels and then the entry's structured metadata as its context: labels
//! are fields (`job:varlogs`), and `service_name`/`job`, `instance`/`host`
//! and `level` name the service, host and level (see
//! [`crate::logs::record`]).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use partout_protocols::loki::{parse_push_json, parse_push_protobuf, LokiStream};

use super::super::auth::IngestCaller;
use super::super::error::ApiError;
use super::super::logs_api::{decoded_body, now_nanos};
use super::super::AppState;
use crate::logs::raw::{RawLog, Source};
use crate::logs::MAX_BATCH_LINES;

/// Largest push body as sent.
const MAX_BODY: usize = 32 * 1024 * 1024;
/// Largest protobuf push once snappy-decompressed. An entry can be sent
/// in two bytes and costs about 56 once parsed (see
/// [`partout_protocols::loki`]), so this bounds a hostile push to about
/// 16 MiB / 2 * 56 = 470 MB; Promtail and Alloy send 1 MiB batches by
/// default.
const MAX_PROTOBUF: usize = 16 * 1024 * 1024;
/// Largest JSON push once decompressed: an entry takes at least 9 bytes
/// of JSON (`["0",""],`), so about the same bound on memory as for
/// protobuf (64 MiB / 9 * 56 = 400 MB); Fluent Bit sends a few MB.
const MAX_JSON: usize = 64 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/loki/api/v1/push",
            post(push_handler).layer(DefaultBodyLimit::max(MAX_BODY)),
        )
        // Loki's readiness probe, Vector's `loki` sink health check.
        .route("/ready", get(super::super::health::readyz))
}

/// `POST /loki/api/v1/push`.
async fn push_handler(
    State(state): State<AppState>,
    caller: Result<IngestCaller, ApiError>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(error) = caller {
        return error_response(error);
    }
    let streams = match parse(&state, &headers, body) {
        Ok(streams) => streams,
        Err(error) => return error_response(error),
    };
    match store(&state, streams).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error_response(error),
    }
}

/// The body's streams, after `Content-Encoding` is undone. Like Loki,
/// anything but a JSON content type is read as snappy protobuf. A body
/// that does not parse is counted as one rejected item.
fn parse(state: &AppState, headers: &HeaderMap, body: Bytes) -> Result<Vec<LokiStream>, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    let body = decoded_body(headers, body)?;
    let parsed = if json {
        if body.len() > MAX_JSON {
            return Err(ApiError::PayloadTooLarge(format!(
                "JSON push larger than {MAX_JSON} bytes once decompressed"
            )));
        }
        parse_push_json(&body)
    } else {
        parse_push_protobuf(&body, MAX_PROTOBUF)
    };
    parsed.map_err(|error| {
        state
            .telemetry
            .rejected_items
            .get_or_create(&crate::telemetry::RejectLabels {
                protocol: "loki".to_owned(),
                reason: error.reason().to_owned(),
            })
            .inc();
        too_large_or_bad(error)
    })
}

fn too_large_or_bad(error: partout_protocols::ParseError) -> ApiError {
    match error {
        partout_protocols::ParseError::DecompressedTooLarge { .. } => {
            ApiError::PayloadTooLarge(error.to_string())
        }
        other => ApiError::BadRequest(other.to_string()),
    }
}

/// Stores the entries a batch at a time, each durable before the next is
/// built: the stream labels are copied into every entry's line, so
/// building all lines first could take many times the body's size. A
/// failure part-way (shutdown) leaves the earlier batches stored, so the
/// shipper's retry may double lines but never loses any.
async fn store(state: &AppState, streams: Vec<LokiStream>) -> Result<(), ApiError> {
    let now = now_nanos();
    let max_line = state.logs.config.max_line_bytes;
    let mut batch = Vec::with_capacity(MAX_BATCH_LINES);
    let mut stored = 0u64;
    let mut truncated = 0u64;
    for stream in streams {
        for entry in stream.entries {
            let mut line = RawLog::new(Source::Loki, now, entry.line.as_bytes(), max_line);
            line.sent_nanos = Some(entry.timestamp_unix_nanos);
            line.context = stream
                .labels
                .iter()
                .cloned()
                .chain(entry.metadata)
                .collect();
            truncated += u64::from(line.truncated);
            batch.push(line);
            if batch.len() == MAX_BATCH_LINES {
                stored += flush(state, &mut batch).await?;
            }
        }
    }
    stored += flush(state, &mut batch).await?;
    state.logs.telemetry().log_lines_truncated.inc_by(truncated);
    state
        .telemetry
        .ingested_items
        .get_or_create(&crate::telemetry::ProtocolLabels {
            protocol: "loki".to_owned(),
        })
        .inc_by(stored);
    Ok(())
}

async fn flush(state: &AppState, batch: &mut Vec<RawLog>) -> Result<u64, ApiError> {
    if batch.is_empty() {
        return Ok(0);
    }
    let lines = std::mem::replace(batch, Vec::with_capacity(MAX_BATCH_LINES));
    let count = lines.len() as u64;
    state.logs.append(lines).await?;
    Ok(count)
}

/// An error as Loki answers it: plain text, one line.
pub(crate) fn error_response(error: ApiError) -> Response {
    let reason = error.to_string();
    // `into_response` logs server-side failures; only the status is kept.
    let status = error.into_response().status();
    let mut response = (status, format!("{reason}\n")).into_response();
    if status == StatusCode::UNAUTHORIZED {
        let headers = response.headers_mut();
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"partout\""),
        );
        headers.append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"partout\""),
        );
    }
    response
}
