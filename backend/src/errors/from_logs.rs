//! A stored log line at level error or above that carries an exception,
//! as a Sentry event: the same normalization, grouping and storage as an
//! SDK's event, so a crash logged by structlog and the same crash sent by
//! `sentry-sdk` read alike. Pure.
//!
//! ```text
//! {"event":"payment failed","level":"error","service":"shop","exception":"Traceback ..."}
//!   -> exception PaymentDeclined (module payments) with the traceback's frames,
//!      level error, platform python, tag service=shop,
//!      contexts.log = {timestamp, query, url: /ui/logs?q=...&from=...&until=...}
//! ```
//!
//! What the event holds:
//! - exceptions: the stack text read by
//!   [`partout_protocols::stacktrace`] (a Python traceback, several for a
//!   chain, or a V8 stack), or structlog's `dict_tracebacks` list; the
//!   type and message the logger gave fill what the text lacks. Without a
//!   readable stack, one exception of the logger's type and message, which
//!   groups by type and masked message as SDK events without frames do;
//! - `level` (error or fatal), `message` (the line's), `logger` and the
//!   tag `service` (the line's service), `server_name` (its host),
//!   `release` and `environment` when the line has such fields
//!   ([`RELEASE_FIELDS`], [`ENVIRONMENT_FIELDS`]), the other fields as
//!   `extra`;
//! - `contexts.log`: the link back to the line, its exact time and the
//!   Logs page query that finds it ([`log_link`]);
//! - an `event_id` derived from the line (its journal sequence number,
//!   arrival and time, message and exception), so handing the same stored
//!   line over twice records one event.

use partout_protocols::jsonlog::{ExceptionData, FieldValue, Level};
use partout_protocols::sentry::event::{normalize_event_map, Event, NormalizeLimits};
use partout_protocols::stacktrace::{parse_stack, TraceException, TraceKind};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::logs::day::rfc3339;
use crate::logs::lang::{FieldFilter, Query};
use crate::logs::record::LogRecord;
use crate::logs::ExceptionLine;

/// Fields naming the release, first present wins.
pub const RELEASE_FIELDS: &[&str] = &["release", "service.version", "version"];
/// Fields naming the environment, first present wins.
pub const ENVIRONMENT_FIELDS: &[&str] = &["environment", "env", "deployment.environment"];
/// The Logs page's client route.
const LOGS_PAGE: &str = "/ui/logs";
/// Words of the message put in the link's query: enough to single the
/// line out within its millisecond, short enough to read.
const QUERY_WORDS: usize = 12;
/// Fields of the line kept as the event's `extra`.
const MAX_EXTRA_FIELDS: usize = 50;

/// Where the line is in the log store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLink {
    /// The query (the Logs page's language) that finds the line.
    pub query: String,
    /// The Logs page showing it: the query over the line's millisecond.
    pub url: String,
    /// The line's time, RFC 3339 with nanoseconds.
    pub timestamp: String,
}

/// The event of one stored line, normalized within `limits`.
pub fn event_from_log(line: &ExceptionLine, limits: &NormalizeLimits) -> Event {
    let record = &line.record;
    let mut event = Map::new();
    event.insert("event_id".into(), json!(event_id(line)));
    event.insert("timestamp".into(), json!(rfc3339(record.timestamp_nanos)));
    let level = match record.level {
        Some(Level::Fatal) => "fatal",
        _ => "error",
    };
    event.insert("level".into(), json!(level));
    let (platform, exceptions) = match &record.exception {
        Some(data) => exceptions_of(data, &record.message),
        None => ("other", Vec::new()),
    };
    event.insert("platform".into(), json!(platform));
    event.insert("exception".into(), json!({ "values": exceptions }));
    if !record.message.is_empty() {
        event.insert("message".into(), json!(record.message));
    }
    if let Some(service) = &record.service {
        event.insert("logger".into(), json!(service));
    }
    if let Some(host) = &record.host {
        event.insert("server_name".into(), json!(host));
    }
    if let Some(release) = first_text(record, RELEASE_FIELDS) {
        event.insert("release".into(), json!(release));
    }
    if let Some(environment) = first_text(record, ENVIRONMENT_FIELDS) {
        event.insert("environment".into(), json!(environment));
    }
    let mut tags = vec![json!(["log.source", record.source.as_str()])];
    if let Some(service) = &record.service {
        tags.push(json!(["service", service]));
    }
    event.insert("tags".into(), Value::Array(tags));
    let link = log_link(record);
    event.insert(
        "contexts".into(),
        json!({ "log": {
            "type": "log",
            "timestamp": link.timestamp,
            "query": link.query,
            "url": link.url,
            "source": record.source.as_str(),
            "seq": line.seq,
        }}),
    );
    event.insert("extra".into(), Value::Object(extra(record)));
    normalize_event_map(&event, limits)
}

/// The link back to a line: see [`LogLink`].
pub fn log_link(record: &LogRecord) -> LogLink {
    let mut clauses = Vec::new();
    if let Some(service) = &record.service {
        clauses.push(Query::Field {
            name: "service".to_owned(),
            filter: FieldFilter::Exact(service.clone()),
        });
    }
    if let Some(level) = record.level {
        clauses.push(Query::Field {
            name: "level".to_owned(),
            filter: FieldFilter::Exact(level.as_str().to_owned()),
        });
    }
    let words: Vec<&str> = record
        .message
        .split_whitespace()
        .take(QUERY_WORDS)
        .collect();
    if !words.is_empty() {
        clauses.push(Query::Phrase(words.join(" ")));
    }
    let query = Query::And(clauses).normalize().to_string();
    let from_nanos = record.timestamp_nanos - record.timestamp_nanos.rem_euclid(1_000_000);
    let from = rfc3339(from_nanos);
    let until = rfc3339(from_nanos.saturating_add(1_000_000));
    let url = format!(
        "{LOGS_PAGE}?q={}&from={}&until={}",
        percent_encode(&query),
        percent_encode(&from),
        percent_encode(&until)
    );
    LogLink {
        query,
        url,
        timestamp: rfc3339(record.timestamp_nanos),
    }
}

/// Everything but RFC 3986's unreserved characters percent-encoded, a
/// space as `%20`, as the web app writes its own links.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// 32 hex digits that only this stored line gives.
fn event_id(line: &ExceptionLine) -> String {
    let record = &line.record;
    let exception = record.exception.as_ref();
    let hash = Sha256::new()
        .chain_update(b"partout-log-error-v1")
        .chain_update(line.seq.to_le_bytes())
        .chain_update(record.received_nanos.to_le_bytes())
        .chain_update(record.timestamp_nanos.to_le_bytes())
        .chain_update(record.message.as_bytes())
        .chain_update(
            exception
                .and_then(|data| data.value.as_deref())
                .unwrap_or("")
                .as_bytes(),
        )
        .chain_update(
            exception
                .and_then(|data| data.stack.as_deref())
                .unwrap_or("")
                .as_bytes(),
        )
        .finalize();
    hash.iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The platform and the Sentry `exception.values` of a line's exception.
fn exceptions_of(data: &ExceptionData, message: &str) -> (&'static str, Vec<Value>) {
    let stack = data.stack.as_deref().unwrap_or("");
    let (platform, mut read) = match dict_tracebacks(stack) {
        Some(read) => ("python", read),
        None => match parse_stack(stack) {
            Some((TraceKind::Python, read)) => ("python", read),
            Some((TraceKind::JavaScript, read)) => ("node", read),
            None => ("other", Vec::new()),
        },
    };
    if read.is_empty() {
        read.push(TraceException::default());
    }
    if let Some(caught) = read.last_mut() {
        if caught.type_name.is_none() {
            caught.type_name = data.type_name.clone();
        }
        if caught.value.is_none() {
            caught.value = data.value.clone();
        }
        if caught.type_name.is_none() && caught.value.is_none() && !message.is_empty() {
            caught.value = Some(message.to_owned());
        }
    }
    let count = read.len();
    let values = read
        .into_iter()
        .enumerate()
        .map(|(index, exception)| exception_json(exception, index + 1 == count))
        .collect();
    (platform, values)
}

fn exception_json(exception: TraceException, caught: bool) -> Value {
    let mut value = Map::new();
    if let Some(type_name) = exception.type_name {
        value.insert("type".into(), json!(type_name));
    }
    if let Some(module) = exception.module {
        value.insert("module".into(), json!(module));
    }
    if let Some(text) = exception.value {
        value.insert("value".into(), json!(text));
    }
    if caught {
        value.insert("mechanism".into(), json!({"type": "log", "handled": true}));
    }
    if !exception.frames.is_empty() {
        let frames: Vec<Value> = exception
            .frames
            .into_iter()
            .map(|frame| {
                let mut out = Map::new();
                if let Some(filename) = frame.filename {
                    out.insert("abs_path".into(), json!(filename));
                    out.insert("filename".into(), json!(filename));
                }
                if let Some(function) = frame.function {
                    out.insert("function".into(), json!(function));
                }
                if let Some(lineno) = frame.lineno {
                    out.insert("lineno".into(), json!(lineno));
                }
                if let Some(colno) = frame.colno {
                    out.insert("colno".into(), json!(colno));
                }
                if let Some(line) = frame.context_line {
                    out.insert("context_line".into(), json!(line));
                }
                out.insert("in_app".into(), json!(frame.in_app));
                Value::Object(out)
            })
            .collect();
        value.insert("stacktrace".into(), json!({ "frames": frames }));
    }
    Value::Object(value)
}

/// structlog's `dict_tracebacks`: a JSON list of `{exc_type, exc_value,
/// frames: [{filename, lineno, name, line}]}`, the exception caught first
/// (Sentry's order is the reverse).
fn dict_tracebacks(stack: &str) -> Option<Vec<TraceException>> {
    if !stack.trim_start().starts_with('[') {
        return None;
    }
    let Ok(Value::Array(chain)) = serde_json::from_str::<Value>(stack) else {
        return None;
    };
    let text = |object: &Map<String, Value>, key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
    };
    let mut read: Vec<TraceException> = chain
        .iter()
        .filter_map(Value::as_object)
        .take(partout_protocols::stacktrace::MAX_EXCEPTIONS)
        .map(|exception| {
            let frames = exception
                .get("frames")
                .and_then(Value::as_array)
                .map(|frames| {
                    frames
                        .iter()
                        .filter_map(Value::as_object)
                        .take(partout_protocols::stacktrace::MAX_FRAMES)
                        .map(|frame| {
                            let filename = text(frame, "filename");
                            partout_protocols::stacktrace::TraceFrame {
                                in_app: filename.as_deref().is_some_and(|name| {
                                    !(name.contains("-packages") || name.contains("/lib/python"))
                                }),
                                filename,
                                function: text(frame, "name"),
                                lineno: frame
                                    .get("lineno")
                                    .and_then(Value::as_u64)
                                    .and_then(|line| u32::try_from(line).ok()),
                                colno: None,
                                context_line: text(frame, "line"),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            let full_type = text(exception, "exc_type");
            let (module, type_name) = match full_type.as_deref().and_then(|t| t.rsplit_once('.')) {
                Some((module, name)) => (Some(module.to_owned()), Some(name.to_owned())),
                None => (None, full_type),
            };
            TraceException {
                type_name,
                module,
                value: text(exception, "exc_value"),
                frames,
            }
        })
        .collect();
    read.reverse();
    (!read.is_empty()).then_some(read)
}

fn first_text(record: &LogRecord, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| {
        record
            .fields
            .iter()
            .find(|(field, _)| field == name)
            .and_then(|(_, value)| match value {
                FieldValue::Text(text) if !text.trim().is_empty() => Some(text.clone()),
                _ => None,
            })
    })
}

/// The line's fields but the exception's own (already in the event).
fn extra(record: &LogRecord) -> Map<String, Value> {
    let source_key = record.exception.as_ref().map(|data| data.source_key);
    record
        .fields
        .iter()
        .filter(|(name, _)| {
            Some(name.as_str()) != source_key
                && !name.starts_with("exception.")
                && name != "exc_info"
        })
        .take(MAX_EXTRA_FIELDS)
        .map(|(name, value)| {
            let value = match value {
                FieldValue::Null => Value::Null,
                FieldValue::Bool(flag) => json!(flag),
                FieldValue::Integer(number) => json!(number),
                FieldValue::Unsigned(number) => json!(number),
                FieldValue::Float(number) => json!(number),
                FieldValue::Text(text) | FieldValue::Json(text) => json!(text),
            };
            (name.clone(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests;
