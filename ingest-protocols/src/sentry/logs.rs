//! Sentry SDKs' structured logs: the payload of a `log` envelope item
//! (content type `application/vnd.sentry.items.log+json`), as
//! `sentry_sdk.logger.info(...)` and the other SDKs' loggers send it.
//!
//! ```text
//! {"version":2,"items":[{"timestamp":1795390209.259,"trace_id":"cfa7...",
//!   "level":"info","body":"order A-1001 paid",
//!   "attributes":{"amount":{"value":42.5,"type":"double"},
//!                 "sentry.release":{"value":"shop@1.4.2","type":"string"}}}]}
//! ```
//!
//! Spec: <https://develop.sentry.dev/sdk/telemetry/logs/>. Each record
//! has a time (epoch seconds with a fraction, or RFC 3339), a level
//! (`trace`, `debug`, `info`, `warn`, `error`, `fatal`; without one the
//! OpenTelemetry `severity_number` decides), a body, and attributes that
//! are `{"value": ..., "type": "string|integer|double|boolean"}` objects
//! (a bare value is taken as it is). Integers may come as strings, since
//! JSON numbers lose 64-bit precision in some SDKs.
//!
//! Leniency: a payload that is not a JSON object with an `items` array
//! yields nothing and one error; within it, a record that is not an
//! object is skipped with its index, the others are kept. Bounds
//! ([`LogLimits`]): records per payload, attributes per record (the rest
//! counted in [`SentryLog::dropped_attributes`]), and text lengths.

use serde_json::{Map, Value};

use crate::jsonlog::{parse_level, Level};
use crate::sentry::timestamp;
use crate::sentry::value::truncate;

/// Bounds on one `log` item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimits {
    /// Records per payload; SDKs batch up to 100. Later ones are dropped
    /// and counted as one [`LogItemError::TooManyRecords`].
    pub max_records: usize,
    /// Attributes per record, in the order sent.
    pub max_attributes: usize,
    /// Characters of a body.
    pub max_body_chars: usize,
    /// Characters of an attribute name, a trace or span id.
    pub max_name_chars: usize,
    /// Characters of a text attribute value.
    pub max_value_chars: usize,
}

impl Default for LogLimits {
    fn default() -> Self {
        LogLimits {
            max_records: 1000,
            max_attributes: 128,
            max_body_chars: 32 * 1024,
            max_name_chars: 200,
            max_value_chars: 8192,
        }
    }
}

/// One log record.
#[derive(Debug, Clone, PartialEq)]
pub struct SentryLog {
    /// Unix nanoseconds (microsecond precision); `None` when absent or
    /// unreadable: the caller uses the arrival time.
    pub timestamp_unix_nanos: Option<i64>,
    pub level: Option<Level>,
    pub body: String,
    /// 32 hex digits as sent, when present.
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    /// By name, in the order sent, each name once (the first wins).
    pub attributes: Vec<(String, AttributeValue)>,
    /// Attributes past [`LogLimits::max_attributes`].
    pub dropped_attributes: usize,
}

impl SentryLog {
    /// The value of an attribute.
    pub fn attribute(&self, name: &str) -> Option<&AttributeValue> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// A text attribute's value, when it is non-empty text.
    pub fn text_attribute(&self, name: &str) -> Option<&str> {
        match self.attribute(name)? {
            AttributeValue::Text(text) if !text.trim().is_empty() => Some(text),
            _ => None,
        }
    }
}

/// An attribute's value, by its declared type.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    Text(String),
    Integer(i64),
    /// Finite only; NaN and infinities are kept as text.
    Double(f64),
    Bool(bool),
    /// Arrays, objects and values that do not fit their declared type, as
    /// compact JSON text.
    Json(String),
}

/// Why (part of) a payload was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogItemError {
    /// Not JSON, or not an object with an `items` array.
    BadPayload,
    /// The record at this index of `items` is not an object.
    BadRecord { index: usize },
    /// This many records past [`LogLimits::max_records`].
    TooManyRecords { dropped: usize },
}

impl LogItemError {
    /// A short, stable label for counters.
    pub fn reason(&self) -> &'static str {
        match self {
            LogItemError::BadPayload => "bad_log_payload",
            LogItemError::BadRecord { .. } => "bad_log_record",
            LogItemError::TooManyRecords { .. } => "too_many_log_records",
        }
    }
}

/// The records of one payload, and what was not read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogBatch {
    pub logs: Vec<SentryLog>,
    pub errors: Vec<LogItemError>,
}

/// Reads a `log` item's payload. Never fails as a whole: see the module
/// docs.
pub fn parse_log_item(payload: &[u8], limits: &LogLimits) -> LogBatch {
    let mut batch = LogBatch::default();
    let items = match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(mut object)) => match object.remove("items") {
            Some(Value::Array(items)) => items,
            _ => {
                batch.errors.push(LogItemError::BadPayload);
                return batch;
            }
        },
        _ => {
            batch.errors.push(LogItemError::BadPayload);
            return batch;
        }
    };
    let dropped = items.len().saturating_sub(limits.max_records);
    for (index, item) in items.iter().take(limits.max_records).enumerate() {
        match item {
            Value::Object(record) => batch.logs.push(parse_record(record, limits)),
            _ => batch.errors.push(LogItemError::BadRecord { index }),
        }
    }
    if dropped > 0 {
        batch.errors.push(LogItemError::TooManyRecords { dropped });
    }
    batch
}

fn parse_record(record: &Map<String, Value>, limits: &LogLimits) -> SentryLog {
    let (attributes, dropped_attributes) = attributes(record.get("attributes"), limits);
    let name = |key: &str| match record.get(key) {
        Some(Value::String(text)) if !text.is_empty() => {
            Some(truncate(text, limits.max_name_chars))
        }
        _ => None,
    };
    let severity_number = record
        .get("severity_number")
        .and_then(Value::as_u64)
        .or_else(|| {
            attributes
                .iter()
                .find(|(key, _)| key == "sentry.severity_number")
                .and_then(|(_, value)| match value {
                    AttributeValue::Integer(number) => u64::try_from(*number).ok(),
                    _ => None,
                })
        });
    let level = record
        .get("level")
        .and_then(Value::as_str)
        .and_then(parse_level)
        .or_else(|| severity_number.and_then(otel_severity));
    let body = match record.get("body") {
        Some(Value::String(text)) => truncate(text, limits.max_body_chars),
        Some(Value::Null) | None => String::new(),
        Some(other) => truncate(&other.to_string(), limits.max_body_chars),
    };
    SentryLog {
        timestamp_unix_nanos: record
            .get("timestamp")
            .and_then(timestamp::from_json)
            .map(|micros| micros.saturating_mul(1000)),
        level,
        body,
        trace_id: name("trace_id"),
        span_id: name("span_id"),
        attributes,
        dropped_attributes,
    }
}

/// OpenTelemetry's severity numbers: 1-4 trace, 5-8 debug, 9-12 info,
/// 13-16 warn, 17-20 error, 21-24 fatal.
fn otel_severity(number: u64) -> Option<Level> {
    let level = match number {
        1..=4 => Level::Trace,
        5..=8 => Level::Debug,
        9..=12 => Level::Info,
        13..=16 => Level::Warn,
        17..=20 => Level::Error,
        21..=24 => Level::Fatal,
        _ => return None,
    };
    Some(level)
}

fn attributes(value: Option<&Value>, limits: &LogLimits) -> (Vec<(String, AttributeValue)>, usize) {
    let Some(Value::Object(map)) = value else {
        return (Vec::new(), 0);
    };
    let mut kept: Vec<(String, AttributeValue)> = Vec::new();
    let mut dropped = 0usize;
    for (name, value) in map {
        if name.is_empty() {
            continue;
        }
        if kept.len() == limits.max_attributes {
            dropped += 1;
            continue;
        }
        let name = truncate(name, limits.max_name_chars);
        if kept.iter().any(|(existing, _)| *existing == name) {
            continue;
        }
        kept.push((name, attribute_value(value, limits)));
    }
    (kept, dropped)
}

/// `{"value": v, "type": t}`, or a bare value.
fn attribute_value(value: &Value, limits: &LogLimits) -> AttributeValue {
    let (inner, declared) = match value {
        Value::Object(object) if object.contains_key("value") => (
            object.get("value").unwrap_or(&Value::Null),
            object.get("type").and_then(Value::as_str),
        ),
        other => (other, None),
    };
    let text = |text: &str| AttributeValue::Text(truncate(text, limits.max_value_chars));
    let json =
        |value: &Value| AttributeValue::Json(truncate(&value.to_string(), limits.max_value_chars));
    match (declared, inner) {
        (Some("integer"), Value::String(digits)) => match digits.trim().parse::<i64>() {
            Ok(number) => AttributeValue::Integer(number),
            Err(_) => text(digits),
        },
        (Some("double"), Value::String(digits)) => match digits.trim().parse::<f64>() {
            Ok(number) if number.is_finite() => AttributeValue::Double(number),
            _ => text(digits),
        },
        (_, Value::String(value)) => text(value),
        (_, Value::Bool(flag)) => AttributeValue::Bool(*flag),
        (Some("double"), Value::Number(number)) => match number.as_f64() {
            Some(float) if float.is_finite() => AttributeValue::Double(float),
            _ => json(inner),
        },
        (_, Value::Number(number)) => match (number.as_i64(), number.as_f64()) {
            (Some(integer), _) => AttributeValue::Integer(integer),
            (None, Some(float)) if float.is_finite() && number.as_u64().is_none() => {
                AttributeValue::Double(float)
            }
            _ => json(inner),
        },
        (_, other) => json(other),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use std::io::Read;

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::sentry::envelope::{parse_envelope, EnvelopeLimits, ItemType};

    fn parse(value: Value) -> LogBatch {
        parse_log_item(value.to_string().as_bytes(), &LogLimits::default())
    }

    /// The envelope `sentry_sdk` 2.75.0 sent for three `sentry_sdk.logger`
    /// calls, gzipped as POSTed.
    fn python_sdk_envelope() -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/sentry/sentry-envelope-logs.wire.gz",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut body = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
            .read_to_end(&mut body)
            .unwrap();
        body
    }

    #[test]
    fn the_python_sdk_log_item() {
        let body = python_sdk_envelope();
        let envelope = parse_envelope(&body, &EnvelopeLimits::default()).unwrap();
        let item = envelope.items_of(ItemType::Log).next().unwrap();
        assert_eq!(item.header.item_count, Some(3));
        let batch = parse_log_item(item.payload, &LogLimits::default());
        assert!(batch.errors.is_empty());
        let levels: Vec<_> = batch.logs.iter().map(|log| log.level).collect();
        assert_eq!(
            levels,
            [Some(Level::Info), Some(Level::Warn), Some(Level::Error)]
        );
        let first = &batch.logs[0];
        assert_eq!(first.body, "order A-1001 paid");
        assert_eq!(first.timestamp_unix_nanos, Some(1_795_390_209_259_350_000));
        assert_eq!(
            first.trace_id.as_deref(),
            Some("cfa70a8100a14d52937f2cad1b569412")
        );
        assert_eq!(
            first.attribute("amount"),
            Some(&AttributeValue::Double(42.5))
        );
        assert_eq!(
            first.attribute("retries"),
            Some(&AttributeValue::Integer(3))
        );
        assert_eq!(
            first.attribute("express"),
            Some(&AttributeValue::Bool(true))
        );
        assert_eq!(first.text_attribute("sentry.release"), Some("shop@1.4.2"));
        assert_eq!(first.text_attribute("server.address"), Some("web-1"));
        assert_eq!(
            first.text_attribute("sentry.message.template"),
            Some("order {order_id} paid")
        );
    }

    #[test]
    fn levels_fall_back_to_the_severity_number() {
        let batch = parse(json!({"items": [
            {"body": "a", "severity_number": 18},
            {"body": "b", "attributes": {"sentry.severity_number": {"value": 22, "type": "integer"}}},
            {"body": "c", "level": "warning"},
            {"body": "d", "level": "loud"},
        ]}));
        let levels: Vec<_> = batch.logs.iter().map(|log| log.level).collect();
        assert_eq!(
            levels,
            [
                Some(Level::Error),
                Some(Level::Fatal),
                Some(Level::Warn),
                None
            ]
        );
    }

    #[test]
    fn attribute_types() {
        let batch = parse(json!({"items": [{"attributes": {
            "big": {"value": "9007199254740993", "type": "integer"},
            "ratio": {"value": "0.5", "type": "double"},
            "bare": 7,
            "list": {"value": [1, 2], "type": "array"},
            "odd": {"value": "x", "type": "integer"},
            "": {"value": "nameless", "type": "string"},
        }}]}));
        let log = &batch.logs[0];
        assert_eq!(
            log.attribute("big"),
            Some(&AttributeValue::Integer(9_007_199_254_740_993))
        );
        assert_eq!(log.attribute("ratio"), Some(&AttributeValue::Double(0.5)));
        assert_eq!(log.attribute("bare"), Some(&AttributeValue::Integer(7)));
        assert_eq!(
            log.attribute("list"),
            Some(&AttributeValue::Json("[1,2]".to_owned()))
        );
        assert_eq!(
            log.attribute("odd"),
            Some(&AttributeValue::Text("x".to_owned()))
        );
        assert_eq!(log.attributes.len(), 5);
        assert_eq!(log.body, "");
        assert_eq!(log.timestamp_unix_nanos, None);
    }

    #[test]
    fn bad_payloads_and_records_are_reported() {
        for payload in [json!([1]), json!({"items": {}}), json!("x")] {
            assert_eq!(parse(payload).errors, [LogItemError::BadPayload]);
        }
        assert_eq!(
            parse_log_item(b"not json", &LogLimits::default()).errors,
            [LogItemError::BadPayload]
        );
        let batch = parse(json!({"items": [1, {"body": "ok"}]}));
        assert_eq!(batch.logs.len(), 1);
        assert_eq!(batch.errors, [LogItemError::BadRecord { index: 0 }]);
    }

    #[test]
    fn limits_hold() {
        let limits = LogLimits {
            max_records: 2,
            max_attributes: 1,
            max_body_chars: 4,
            ..LogLimits::default()
        };
        let payload = json!({"items": [
            {"body": "a long body", "attributes": {"a": 1, "b": 2, "c": 3}},
            {"body": "b"},
            {"body": "c"},
        ]});
        let batch = parse_log_item(payload.to_string().as_bytes(), &limits);
        assert_eq!(batch.logs.len(), 2);
        assert_eq!(batch.errors, [LogItemError::TooManyRecords { dropped: 1 }]);
        assert_eq!(batch.logs[0].body.chars().count(), 4);
        assert_eq!(batch.logs[0].attributes.len(), 1);
        assert_eq!(batch.logs[0].dropped_attributes, 2);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("items".to_owned()),
                        Just("attributes".to_owned()),
                        Just("value".to_owned()),
                        Just("type".to_owned()),
                        Just("level".to_owned()),
                        Just("timestamp".to_owned()),
                        "[a-z.]{0,8}",
                    ],
                    inner,
                    0..5
                )
                .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let batch = parse_log_item(&bytes, &LogLimits::default());
            prop_assert!(batch.logs.len() <= LogLimits::default().max_records);
        }

        #[test]
        fn arbitrary_json_stays_within_limits(value in arb_json()) {
            let limits = LogLimits { max_records: 3, max_attributes: 2, max_body_chars: 5, max_name_chars: 6, max_value_chars: 7 };
            let payload = serde_json::json!({"items": [value.clone(), {"attributes": value.clone(), "body": value}]});
            let batch = parse_log_item(payload.to_string().as_bytes(), &limits);
            prop_assert!(batch.logs.len() <= 3);
            for log in &batch.logs {
                prop_assert!(log.body.chars().count() <= 5);
                prop_assert!(log.attributes.len() <= 2);
                for (name, value) in &log.attributes {
                    prop_assert!(name.chars().count() <= 6);
                    if let AttributeValue::Text(text) | AttributeValue::Json(text) = value {
                        prop_assert!(text.chars().count() <= 7);
                    }
                    if let AttributeValue::Double(number) = value {
                        prop_assert!(number.is_finite());
                    }
                }
            }
        }
    }
}
