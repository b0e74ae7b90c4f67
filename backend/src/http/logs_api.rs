//! `/api/v1/logs...`: ingestion over HTTP, search, histogram, top values,
//! context and the live tail.
//!
//! `from`/`until` take RFC 3339 (`2026-11-22T14:02:00Z`), an epoch number
//! in s, ms, us or ns, or Graphite's forms (`-24h`, `now`); by default the
//! last hour. `q` is the query language of [`crate::logs::lang`].

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use partout_model::api::{
    LogContext, LogFieldValue, LogHistogram, LogHistogramBucket, LogIngestResult, LogLine,
    LogSearch, LogTopValue, LogTopValues,
};
use partout_protocols::jsonlog::{self, FieldValue};
use tokio::sync::broadcast;

use super::auth::IngestCaller;
use super::encoding::{decode_body, DecodeError};
use super::error::ApiError;
use super::params::{first, number, pairs};
use super::AppState;
use crate::logs::day::{rfc3339, NANOS_PER_SECOND};
use crate::logs::lang;
use crate::logs::raw::{RawLog, Source};
use crate::logs::record::LogRecord;
use crate::logs::search::collect::{level_slot_name, LEVEL_SLOTS};
use crate::logs::search::{matcher, Cursor, Hit, Scope};
use crate::logs::LogStore;
use crate::query::graphite::time::parse_time;

/// Largest request body as sent (compressed or not).
const MAX_BODY: usize = 32 * 1024 * 1024;
/// Largest body once decompressed: a small compressed body must not
/// expand into gigabytes.
const MAX_DECOMPRESSED: u64 = 256 * 1024 * 1024;
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
/// Lines read to count a structured field's top values.
const TOP_SAMPLE: usize = 10_000;
const MAX_CONTEXT: usize = 500;
/// Most histogram buckets asked for, and the default number.
const MAX_BUCKETS: i64 = 2000;
const DEFAULT_BUCKETS: i64 = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/logs",
            post(ingest_handler).layer(DefaultBodyLimit::max(MAX_BODY)),
        )
        .route("/logs/search", get(search_handler))
        .route("/logs/histogram", get(histogram_handler))
        .route("/logs/top", get(top_handler))
        .route("/logs/context", get(context_handler))
        .route("/logs/tail", get(tail_handler))
}

/// The request body, decompressed per `Content-Encoding` (gzip, deflate,
/// br, zstd), bounded.
pub fn decoded_body(headers: &HeaderMap, body: Bytes) -> Result<Vec<u8>, ApiError> {
    let limit = usize::try_from(MAX_DECOMPRESSED).unwrap_or(usize::MAX);
    decode_body(headers, &body, limit).map_err(|error| match error {
        DecodeError::TooLarge { .. } => ApiError::PayloadTooLarge(error.to_string()),
        DecodeError::Unsupported(_) | DecodeError::Corrupt { .. } => {
            ApiError::BadRequest(error.to_string())
        }
    })
}

/// The lines of an NDJSON body or of a JSON array body (each element one
/// line, written back as compact JSON).
fn body_lines(body: &[u8]) -> Result<Vec<Vec<u8>>, ApiError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        let values: Vec<serde_json::Value> = serde_json::from_slice(body)
            .map_err(|error| ApiError::BadRequest(format!("body is not a JSON array: {error}")))?;
        return values
            .iter()
            .map(|value| {
                serde_json::to_vec(value).map_err(|error| ApiError::BadRequest(error.to_string()))
            })
            .collect();
    }
    Ok(body
        .split(|&b| b == b'\n')
        .filter(|line| line.iter().any(|b| !b.is_ascii_whitespace()))
        .map(<[u8]>::to_vec)
        .collect())
}

/// `POST /api/v1/logs`: NDJSON or a JSON array, plain, gzip or zstd. The
/// answer comes once every line is durable.
async fn ingest_handler(
    State(state): State<AppState>,
    IngestCaller(caller): IngestCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<LogIngestResult>, ApiError> {
    let body = decoded_body(&headers, body)?;
    tracing::trace!(
        by = %caller.describe(),
        bytes = body.len(),
        "log lines over http"
    );
    let now = now_nanos();
    let max_line = state.logs.config.max_line_bytes;
    let lines: Vec<RawLog> = body_lines(&body)?
        .iter()
        .map(|line| RawLog::new(Source::JsonLine, now, line, max_line))
        .collect();
    let accepted = lines.len() as u64;
    let truncated = lines.iter().filter(|line| line.truncated).count() as u64;
    state.logs.telemetry().log_lines_truncated.inc_by(truncated);
    state.logs.append(lines).await?;
    state
        .telemetry
        .ingested_items
        .get_or_create(&crate::telemetry::ProtocolLabels {
            protocol: "http_logs".to_owned(),
        })
        .inc_by(accepted);
    Ok(Json(LogIngestResult { accepted }))
}

pub fn now_nanos() -> i64 {
    crate::store::unix_ms_now().saturating_mul(1_000_000)
}

/// A time parameter, Unix nanoseconds.
fn time_param(text: &str, now_nanos: i64) -> Result<i64, ApiError> {
    let text = text.trim();
    let relative = text.starts_with(['-', '+']) || text.starts_with("now") || text.is_empty();
    if !relative {
        if let Some(nanos) = jsonlog::parse_timestamp(text) {
            return Ok(nanos);
        }
    }
    let now_secs = now_nanos.div_euclid(NANOS_PER_SECOND);
    let text = text
        .strip_prefix("now")
        .filter(|rest| !rest.is_empty())
        .unwrap_or(text);
    parse_time(text, now_secs)
        .map(|secs| secs.saturating_mul(NANOS_PER_SECOND))
        .map_err(|error| ApiError::BadRequest(error.to_string()))
}

/// `q`, `from` and `until` of a request.
fn scope(pairs: &[(String, String)]) -> Result<Scope, ApiError> {
    let now = now_nanos();
    let query = lang::parse(first(pairs, "q").unwrap_or(""))
        .map_err(|error| ApiError::BadRequest(format!("query {error}")))?;
    let from_nanos = match first(pairs, "from") {
        Some(text) => time_param(text, now)?,
        None => now - 3600 * NANOS_PER_SECOND,
    };
    let until_nanos = match first(pairs, "until") {
        // A line stamped exactly `now` is included.
        Some(text) => time_param(text, now)?,
        None => now + 1,
    };
    if until_nanos <= from_nanos {
        return Err(ApiError::BadRequest("until must be after from".into()));
    }
    Ok(Scope {
        query,
        from_nanos,
        until_nanos,
    })
}

/// Runs blocking index work off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| ApiError::Unavailable)?
}

fn search_error(error: crate::logs::LogError) -> ApiError {
    match error {
        // A query that parsed but cannot run is the caller's mistake.
        crate::logs::LogError::Search(message) if !message.contains("decode") => {
            ApiError::BadRequest(message)
        }
        other => ApiError::from(other),
    }
}

/// `GET /api/v1/logs/search?q=&from=&until=&limit=&cursor=`
async fn search_handler(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<LogSearch>, ApiError> {
    let pairs = pairs(query);
    let scope = scope(&pairs)?;
    let limit = number::<usize>(&pairs, "limit")?
        .unwrap_or(DEFAULT_LIMIT)
        .clamp(1, MAX_LIMIT);
    let cursor = match first(&pairs, "cursor").filter(|text| !text.is_empty()) {
        Some(text) => {
            Some(Cursor::decode(text).ok_or_else(|| ApiError::BadRequest("bad cursor".into()))?)
        }
        None => None,
    };
    let logs = state.logs.clone();
    let started = Instant::now();
    let (hits, next) =
        blocking(move || logs.search(&scope, limit, cursor).map_err(search_error)).await?;
    Ok(Json(LogSearch {
        lines: hits.iter().map(log_line).collect(),
        next_cursor: next.map(Cursor::encode),
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    }))
}

/// A bucket width for about `DEFAULT_BUCKETS` buckets, rounded to a width
/// people read easily.
fn auto_step(span_nanos: i64) -> i64 {
    const STEPS_SECS: [i64; 16] = [
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 10_800, 21_600, 86_400,
    ];
    let wanted = span_nanos / DEFAULT_BUCKETS;
    STEPS_SECS
        .iter()
        .map(|secs| secs * NANOS_PER_SECOND)
        .find(|&step| step >= wanted)
        .unwrap_or_else(|| {
            let day = 86_400 * NANOS_PER_SECOND;
            (wanted + day - 1) / day * day
        })
}

/// `GET /api/v1/logs/histogram?q=&from=&until=&step=` (`step` in seconds
/// or Graphite units such as `5min`; by default about 100 buckets).
async fn histogram_handler(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<LogHistogram>, ApiError> {
    let pairs = pairs(query);
    let scope = scope(&pairs)?;
    let span = scope.until_nanos - scope.from_nanos;
    let step = match first(&pairs, "step") {
        Some(text) => crate::query::graphite::time::parse_offset(text.trim())
            .or_else(|| text.trim().parse().ok())
            .filter(|&secs: &i64| secs > 0)
            .map(|secs| secs * NANOS_PER_SECOND)
            .ok_or_else(|| ApiError::BadRequest(format!("bad step {text:?}")))?,
        None => auto_step(span),
    };
    if span / step > MAX_BUCKETS {
        return Err(ApiError::BadRequest(format!(
            "too many buckets: at most {MAX_BUCKETS}, use a larger step"
        )));
    }
    let logs = state.logs.clone();
    let started = Instant::now();
    let scope_copy = scope.clone();
    let (start, counts) =
        blocking(move || logs.histogram(&scope_copy, step).map_err(search_error)).await?;
    let mut total = 0;
    let buckets = counts
        .iter()
        .enumerate()
        .map(|(index, slots)| {
            let bucket_total: u64 = slots.iter().sum();
            total += bucket_total;
            LogHistogramBucket {
                start_ms: (start + index as i64 * step) / 1_000_000,
                total: bucket_total,
                levels: (0..LEVEL_SLOTS)
                    .filter(|&slot| slots[slot] > 0)
                    .map(|slot| (level_slot_name(slot).to_owned(), slots[slot]))
                    .collect(),
            }
        })
        .collect();
    Ok(Json(LogHistogram {
        from_ms: scope.from_nanos / 1_000_000,
        until_ms: scope.until_nanos / 1_000_000,
        step_ms: step / 1_000_000,
        total,
        buckets,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    }))
}

/// `GET /api/v1/logs/top?field=&q=&from=&until=&limit=`
async fn top_handler(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<LogTopValues>, ApiError> {
    let pairs = pairs(query);
    let scope = scope(&pairs)?;
    let field = first(&pairs, "field")
        .filter(|name| !name.trim().is_empty())
        .ok_or_else(|| ApiError::BadRequest("field is required".into()))?
        .trim()
        .to_owned();
    let limit = number::<usize>(&pairs, "limit")?
        .unwrap_or(10)
        .clamp(1, MAX_LIMIT);
    let logs = state.logs.clone();
    let started = Instant::now();
    let name = field.clone();
    let (ranked, counted, sampled) = blocking(move || {
        logs.top_values(&scope, &name, TOP_SAMPLE)
            .map_err(search_error)
    })
    .await?;
    Ok(Json(LogTopValues {
        field,
        counted,
        sampled,
        values: ranked
            .into_iter()
            .take(limit)
            .map(|(value, count)| LogTopValue { value, count })
            .collect(),
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    }))
}

/// `GET /api/v1/logs/context?id=&before=&after=`
async fn context_handler(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<LogContext>, ApiError> {
    let pairs = pairs(query);
    let id: u64 =
        number(&pairs, "id")?.ok_or_else(|| ApiError::BadRequest("id is required".into()))?;
    let before = number::<usize>(&pairs, "before")?
        .unwrap_or(20)
        .min(MAX_CONTEXT);
    let after = number::<usize>(&pairs, "after")?
        .unwrap_or(20)
        .min(MAX_CONTEXT);
    let logs = state.logs.clone();
    let found = blocking(move || logs.context(id, before, after).map_err(search_error)).await?;
    let (before, line, after) = found.ok_or(ApiError::NotFound)?;
    Ok(Json(LogContext {
        before: before.iter().map(log_line).collect(),
        line: log_line(&line),
        after: after.iter().map(log_line).collect(),
    }))
}

/// `GET /api/v1/logs/tail?q=`: Server-Sent Events, one `line` event (a
/// [`LogLine`] as JSON) per new matching line; a `lagged` event with the
/// number of lines skipped when the client reads too slowly.
async fn tail_handler(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let pairs = pairs(query);
    let query = lang::parse(first(&pairs, "q").unwrap_or(""))
        .map_err(|error| ApiError::BadRequest(format!("query {error}")))?;
    let receiver = state.logs.subscribe();
    let tail = Tail {
        receiver,
        query,
        logs: state.logs.clone(),
        shutdown: state.shutdown.clone(),
    };
    let stream = futures_util::stream::unfold(tail, |mut tail| async move {
        let event = tail.next_event().await?;
        Some((Ok(event), tail))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

struct Tail {
    receiver: broadcast::Receiver<std::sync::Arc<crate::logs::TailLine>>,
    query: lang::Query,
    logs: LogStore,
    shutdown: tokio_util::sync::CancellationToken,
}

impl Tail {
    /// The next event to send; `None` ends the stream (shutdown).
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            let received = tokio::select! {
                _ = self.shutdown.cancelled() => return None,
                received = self.receiver.recv() => received,
            };
            match received {
                Ok(line) => {
                    if matcher::matches(&self.query, &line.record) {
                        let body = log_line(&Hit {
                            seq: line.seq,
                            record: line.record.clone(),
                        });
                        return Event::default().event("line").json_data(body).ok();
                    }
                }
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    self.logs.telemetry().log_tail_lagged.inc();
                    return Some(Event::default().event("lagged").data(skipped.to_string()));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// A stored line as the API shows it.
pub fn log_line(hit: &Hit) -> LogLine {
    let record: &LogRecord = &hit.record;
    LogLine {
        id: hit.seq.to_string(),
        time: rfc3339(record.timestamp_nanos),
        time_ms: record.timestamp_nanos.div_euclid(1_000_000),
        level: record.level.map(|level| level.as_str().to_owned()),
        service: record.service.clone(),
        host: record.host.clone(),
        message: record.message.clone(),
        fields: record
            .fields
            .iter()
            .map(|(name, value)| {
                let shown = match value {
                    FieldValue::Null => LogFieldValue::Null(()),
                    FieldValue::Bool(flag) => LogFieldValue::Bool(*flag),
                    FieldValue::Integer(number) => LogFieldValue::Integer(*number),
                    FieldValue::Unsigned(number) => LogFieldValue::Unsigned(*number),
                    FieldValue::Float(number) => LogFieldValue::Float(*number),
                    FieldValue::Text(text) | FieldValue::Json(text) => {
                        LogFieldValue::Text(text.clone())
                    }
                };
                (name.clone(), shown)
            })
            .collect(),
        source: record.source.as_str().to_owned(),
        flags: record
            .flags
            .names()
            .into_iter()
            .map(str::to_owned)
            .collect(),
    }
}
