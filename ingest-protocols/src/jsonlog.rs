//! One JSON log line (one object per line, as structlog, loguru, pino, zap,
//! python-json-logger, Vector and Fluent Bit write them) into a
//! normalized [`JsonLogLine`].
//!
//! ```text
//! {"ts":1795346300.12,"level":"error","logger":"api","msg":"query failed","http":{"status":500}}
//!   -> timestamp, level Error, service "api", message "query failed", field http.status = 500
//! ```
//!
//! Well-known keys become the record's own fields, the first present in
//! each list winning (a key whose value does not fit, such as a `level`
//! of `"audit"`, stays a plain field and the next key is tried):
//! - timestamp: `timestamp`, `@timestamp`, `time`, `ts`, `date` (Fluent
//!   Bit's default): RFC 3339 text or an epoch number in s, ms, us or ns;
//! - level: `level`, `severity`, `levelname`, `log.level` (see [`Level`]);
//! - message: `message`, `msg`, `event` (structlog), `log` (Docker and
//!   Fluent Bit);
//! - service: `service`, `service.name`, `app`, `appname`, `logger`,
//!   `logger_name`;
//! - host: `host`, `hostname`, `host.name`, `host.hostname`.
//!
//! A dotted key matches a literal dotted key (`"log.level"`, as ECS
//! loggers write it) or the nested path. Every other leaf is kept as a
//! field under its dotted path (`{"http":{"status":500}}` is `http.status`);
//! arrays stay whole as JSON text; past [`JsonLogLimits`] the rest goes
//! into [`OVERFLOW_FIELD`]. Exceptions are detected apart (see
//! [`ExceptionData`]). A line that is not a JSON object is never dropped:
//! it becomes the message, with [`JsonLogLine::parse_error`] set.

mod exception;
mod fast_path;
mod flatten;
mod level;
mod time;

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::ParseError;

pub use exception::ExceptionData;
pub use flatten::OVERFLOW_FIELD;
pub use level::{from_text as parse_level, Level};
pub use time::from_text as parse_timestamp;

/// Bounds on what one line may add to the field catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonLogLimits {
    /// Most distinct fields kept as fields; the rest go into
    /// [`OVERFLOW_FIELD`], so a line full of generated keys (request ids
    /// used as names) cannot bloat the index.
    pub max_fields: usize,
    /// Longest dotted field name, in bytes; longer ones go into
    /// [`OVERFLOW_FIELD`] too.
    pub max_field_name_len: usize,
}

impl Default for JsonLogLimits {
    fn default() -> JsonLogLimits {
        JsonLogLimits {
            max_fields: 100,
            max_field_name_len: 128,
        }
    }
}

/// The value of one flattened field.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Null,
    Bool(bool),
    Integer(i64),
    /// Integers above `i64::MAX` (64-bit ids, hashes).
    Unsigned(u64),
    Float(f64),
    Text(String),
    /// Arrays, empty objects and [`OVERFLOW_FIELD`], as compact JSON text.
    Json(String),
}

/// One log line, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonLogLine {
    /// Unix nanoseconds; `None` when the line has none that parses, and
    /// callers use the arrival time. As written by the sender, so possibly
    /// implausible (1830, 2200): which window to trust is the caller's
    /// policy, as for syslog.
    pub timestamp_unix_nanos: Option<i64>,
    pub level: Option<Level>,
    /// Without trailing line ends; the whole line when it did not parse.
    pub message: Option<String>,
    pub service: Option<String>,
    pub host: Option<String>,
    /// Every other leaf by dotted name, sorted, each name once, then
    /// [`OVERFLOW_FIELD`] if anything did not fit.
    pub fields: Vec<(String, FieldValue)>,
    pub exception: Option<ExceptionData>,
    /// Why the line is not a JSON object ([`ParseError::BadJson`],
    /// [`ParseError::NotJsonObject`]); the line is then the message.
    pub parse_error: Option<ParseError>,
    /// The line held bytes that are not UTF-8; they were replaced by
    /// U+FFFD before parsing.
    pub invalid_utf8: bool,
}

const TIMESTAMP_KEYS: &[&str] = &["timestamp", "@timestamp", "time", "ts", "date"];
const LEVEL_KEYS: &[&str] = &["level", "severity", "levelname", "log.level"];
const MESSAGE_KEYS: &[&str] = &["message", "msg", "event", "log"];
const SERVICE_KEYS: &[&str] = &[
    "service",
    "service.name",
    "app",
    "appname",
    "logger",
    "logger_name",
];
const HOST_KEYS: &[&str] = &["host", "hostname", "host.name", "host.hostname"];

/// Parses one line (a trailing `\n`, a BOM and surrounding whitespace are
/// ignored).
pub fn parse_line(line: &[u8], limits: &JsonLogLimits) -> JsonLogLine {
    let text = crate::text::lossy(line);
    let invalid_utf8 = matches!(text, Cow::Owned(_));
    let text = trim(&text);
    if let Some(parsed) = fast_path::parse(text, limits, invalid_utf8) {
        return parsed;
    }
    parse_tree(text, limits, invalid_utf8)
}

/// [`parse_line`] without its fast path: every line through a
/// `serde_json::Value`. The fast path must give what this gives; the
/// fuzz target compares them.
pub fn parse_line_general(line: &[u8], limits: &JsonLogLimits) -> JsonLogLine {
    let text = crate::text::lossy(line);
    let invalid_utf8 = matches!(text, Cow::Owned(_));
    parse_tree(trim(&text), limits, invalid_utf8)
}

/// A line without its BOM, surrounding whitespace and NULs.
fn trim(text: &str) -> &str {
    text.trim_start_matches('\u{feff}')
        .trim_matches(|character: char| character.is_whitespace() || character == '\0')
}

/// The general path: the line as a `serde_json::Value`, its well-known
/// keys taken out, the rest flattened.
fn parse_tree(text: &str, limits: &JsonLogLimits, invalid_utf8: bool) -> JsonLogLine {
    let object = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return unparsed(text, ParseError::NotJsonObject, invalid_utf8),
        Err(_) => return unparsed(text, ParseError::BadJson, invalid_utf8),
    };
    let (mut object, loguru_text) = unwrap_loguru(object);
    let timestamp_unix_nanos = take_first(&mut object, TIMESTAMP_KEYS, time::from_json);
    let level = take_first(&mut object, LEVEL_KEYS, level::from_json);
    let message = take_first(&mut object, MESSAGE_KEYS, message_text);
    let service = take_first(&mut object, SERVICE_KEYS, non_empty_text);
    let host = take_first(&mut object, HOST_KEYS, non_empty_text);
    let exception = exception::detect(&object, loguru_text.as_deref());
    JsonLogLine {
        timestamp_unix_nanos,
        level,
        message,
        service,
        host,
        fields: flatten::flatten(object, limits),
        exception,
        parse_error: None,
        invalid_utf8,
    }
}

fn unparsed(text: &str, error: ParseError, invalid_utf8: bool) -> JsonLogLine {
    JsonLogLine {
        timestamp_unix_nanos: None,
        level: None,
        message: Some(text.to_owned()),
        service: None,
        host: None,
        fields: Vec::new(),
        exception: None,
        parse_error: Some(error),
        invalid_utf8,
    }
}

/// loguru's `serialize=True` writes `{"text": <formatted line>, "record":
/// {...}}`. The record is the line; the text only repeats it, formatted,
/// but it is the one place holding an exception's traceback. The record's
/// `extra` (what `logger.bind()` added) is lifted to the top, where other
/// loggers put their context, unless a name is taken.
fn unwrap_loguru(mut object: Map<String, Value>) -> (Map<String, Value>, Option<String>) {
    let is_loguru = object.len() == 2
        && object.get("text").is_some_and(Value::is_string)
        && object.get("record").is_some_and(Value::is_object);
    if !is_loguru {
        return (object, None);
    }
    let text = object.remove("text").and_then(|text| match text {
        Value::String(text) => Some(text),
        _ => None,
    });
    let Some(Value::Object(mut record)) = object.remove("record") else {
        return (object, text);
    };
    if let Some(Value::Object(extra)) = record.remove("extra") {
        let mut kept_nested = Map::new();
        for (name, value) in extra {
            if record.contains_key(&name) {
                kept_nested.insert(name, value);
            } else {
                record.insert(name, value);
            }
        }
        if !kept_nested.is_empty() {
            record.insert("extra".to_owned(), Value::Object(kept_nested));
        }
    }
    (record, text)
}

/// The first of `keys` whose value `convert` accepts, removed from
/// `object` so it is not kept twice.
fn take_first<T>(
    object: &mut Map<String, Value>,
    keys: &[&str],
    convert: impl Fn(&Value) -> Option<T>,
) -> Option<T> {
    keys.iter().find_map(|key| {
        let converted = convert(find(object, key)?)?;
        remove(object, key);
        Some(converted)
    })
}

/// The value at `key`: a literal member first, else, for a dotted key, the
/// nested path (`service.name` in `{"service": {"name": ...}}`).
fn find<'v>(object: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    if let Some(value) = object.get(key) {
        return Some(value);
    }
    let (head, tail) = key.split_once('.')?;
    find(object.get(head)?.as_object()?, tail)
}

/// Removes what [`find`] finds, and parents it leaves empty.
fn remove(object: &mut Map<String, Value>, key: &str) {
    if object.remove(key).is_some() {
        return;
    }
    let Some((head, tail)) = key.split_once('.') else {
        return;
    };
    if let Some(Value::Object(inner)) = object.get_mut(head) {
        remove(inner, tail);
        if inner.is_empty() {
            object.remove(head);
        }
    }
}

fn message_text(value: &Value) -> Option<String> {
    Some(value.as_str()?.trim_end_matches(['\n', '\r']).to_owned())
}

fn non_empty_text(value: &Value) -> Option<String> {
    value
        .as_str()
        .filter(|text| !text.trim().is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> JsonLogLine {
        parse_line(line.as_bytes(), &JsonLogLimits::default())
    }

    #[test]
    fn malformed_lines_are_kept_as_the_message() {
        let cases = [
            ("{\"level\":\"info\",\"msg\":\"cut", ParseError::BadJson),
            ("plain text line", ParseError::BadJson),
            ("[1,2]", ParseError::NotJsonObject),
            ("\"just a string\"\n", ParseError::NotJsonObject),
            ("", ParseError::BadJson),
        ];
        for (line, error) in cases {
            let parsed = parse(line);
            assert_eq!(parsed.parse_error, Some(error), "{line}");
            assert_eq!(parsed.message.as_deref(), Some(line.trim_end()));
            assert!(parsed.fields.is_empty());
        }
    }

    #[test]
    fn invalid_utf8_is_replaced_before_parsing() {
        let parsed = parse_line(b"{\"msg\":\"caf\xe9\"}\n", &JsonLogLimits::default());
        assert_eq!(parsed.parse_error, None);
        assert!(parsed.invalid_utf8);
        assert_eq!(parsed.message.as_deref(), Some("caf\u{fffd}"));
    }

    #[test]
    fn unusable_well_known_values_stay_fields() {
        let parsed = parse(r#"{"level":"audit","severity":"warning","time":"soon","msg":{"a":1}}"#);
        assert_eq!(parsed.level, Some(Level::Warn));
        assert_eq!(parsed.timestamp_unix_nanos, None);
        assert_eq!(parsed.message, None);
        let names: Vec<_> = parsed
            .fields
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        assert_eq!(names, ["level", "msg.a", "time"]);
    }

    #[test]
    fn nested_well_known_keys_are_removed_with_their_empty_parents() {
        let parsed = parse(
            r#"{"service":{"name":"shop","version":"1.4"},"host":{"name":"web-1"},"log":{"level":"warn"}}"#,
        );
        assert_eq!(parsed.service.as_deref(), Some("shop"));
        assert_eq!(parsed.host.as_deref(), Some("web-1"));
        assert_eq!(parsed.level, Some(Level::Warn));
        assert_eq!(
            parsed.fields,
            [(
                "service.version".to_owned(),
                FieldValue::Text("1.4".to_owned())
            )]
        );
    }

    #[test]
    fn the_first_key_in_priority_wins() {
        let parsed = parse(r#"{"msg":"second","message":"first","event":"third"}"#);
        assert_eq!(parsed.message.as_deref(), Some("first"));
        assert_eq!(parsed.fields.len(), 2);
    }
}
