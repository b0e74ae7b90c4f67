//! A [`RawLog`] read into one shape whatever its protocol: time, level,
//! service, host, message and flattened fields. Pure and deterministic (the
//! parsers get the arrival time as "now"), so indexing, journal replay and
//! search results all see the same record.
//!
//! ```text
//! syslog  <11>1 2026-11-22T10:00:00Z web1 api 42 - - db timeout
//!   -> level error, service api, host web1, fields {facility: user, pid: "42"}
//! json    {"ts":..., "level":"warn", "logger":"api", "event":"slow", "user":"ann"}
//!   -> level warn, service api, message "slow", fields {user: "ann"}
//! ```
//!
//! A syslog message whose text is a JSON object (`logger '{"event":...}'`,
//! rsyslog's `@cee:` cookie) is read as a JSON line too, its keys winning
//! over the syslog header's, as rsyslog's mmjsonparse does.

use partout_protocols::jsonlog::{
    self, ExceptionData, FieldValue, JsonLogLimits, JsonLogLine, Level,
};
use partout_protocols::syslog::{self, Severity, SyslogMessage};

use super::raw::{RawLog, Source};

/// Flags a record carries; none of them lose data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordFlags {
    /// The line is not the JSON (or syslog) it claimed to be; it was kept
    /// whole as the message.
    pub parse_error: bool,
    /// Bytes that were not UTF-8 were replaced by U+FFFD.
    pub invalid_utf8: bool,
    /// The line was cut at the size limit.
    pub truncated: bool,
    /// The sender's time was implausible (too far ahead, or older than
    /// retention); the arrival time was used and the sender's is kept in
    /// the field [`ORIGINAL_TIME_FIELD`].
    pub time_replaced: bool,
}

impl RecordFlags {
    pub fn names(self) -> Vec<&'static str> {
        [
            (self.parse_error, "parse_error"),
            (self.invalid_utf8, "invalid_utf8"),
            (self.truncated, "truncated"),
            (self.time_replaced, "time_replaced"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect()
    }
}

/// The field that keeps a replaced sender time, as Unix nanoseconds.
pub const ORIGINAL_TIME_FIELD: &str = "original_time_ns";

/// Which sender times are believed, relative to arrival.
#[derive(Debug, Clone, Copy)]
pub struct TimePolicy {
    /// A line may claim to be at most this much older than its arrival
    /// (the retention age): older ones would land in an expired partition.
    pub max_past_nanos: i64,
    /// A line may claim to be at most this much ahead of its arrival.
    pub max_future_nanos: i64,
}

/// How lines are read.
#[derive(Debug, Clone, Copy)]
pub struct NormalizeConfig {
    pub json: JsonLogLimits,
    pub time: TimePolicy,
}

/// One normalized log line.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// Unix nanoseconds.
    pub timestamp_nanos: i64,
    pub received_nanos: i64,
    pub level: Option<Level>,
    pub service: Option<String>,
    pub host: Option<String>,
    pub message: String,
    /// By dotted name, each name once.
    pub fields: Vec<(String, FieldValue)>,
    pub source: Source,
    pub flags: RecordFlags,
    /// The exception a JSON line carries (see [`ExceptionData`]); its keys
    /// are in `fields` too. Lines at level error or above that have one
    /// also become error events (`errors::log_errors`).
    pub exception: Option<ExceptionData>,
}

impl LogRecord {
    /// Whether the line is at level error or above and carries an
    /// exception: the cheap test for becoming an error event.
    pub fn is_error_with_exception(&self) -> bool {
        self.exception.is_some() && self.level.is_some_and(|level| level >= Level::Error)
    }
}

/// The context name of a syslog sender's address (host when the message
/// names none).
pub const PEER_CONTEXT: &str = "peer";

/// Reads a raw line.
pub fn normalize(raw: &RawLog, config: &NormalizeConfig) -> LogRecord {
    let mut record = match raw.source {
        Source::Syslog => from_syslog(raw, config),
        Source::JsonLine => from_json_line(jsonlog::parse_line(&raw.bytes, &config.json), raw),
        Source::Loki => from_loki(raw, config),
    };
    record.flags.truncated = raw.truncated;
    apply_time_policy(&mut record, &config.time);
    record
}

fn apply_time_policy(record: &mut LogRecord, policy: &TimePolicy) {
    let earliest = record.received_nanos.saturating_sub(policy.max_past_nanos);
    let latest = record
        .received_nanos
        .saturating_add(policy.max_future_nanos);
    if !(earliest..=latest).contains(&record.timestamp_nanos) {
        record.fields.push((
            ORIGINAL_TIME_FIELD.to_owned(),
            FieldValue::Integer(record.timestamp_nanos),
        ));
        record.timestamp_nanos = record.received_nanos;
        record.flags.time_replaced = true;
    }
}

fn from_json_line(line: JsonLogLine, raw: &RawLog) -> LogRecord {
    let mut fields = line.fields;
    for (name, value) in &raw.context {
        set_field(&mut fields, name, FieldValue::Text(value.clone()));
    }
    LogRecord {
        timestamp_nanos: line
            .timestamp_unix_nanos
            .or(raw.sent_nanos)
            .unwrap_or(raw.received_nanos),
        received_nanos: raw.received_nanos,
        level: line.level,
        service: line.service,
        host: line.host,
        message: line.message.unwrap_or_default(),
        fields,
        source: raw.source,
        flags: RecordFlags {
            parse_error: line.parse_error.is_some(),
            invalid_utf8: line.invalid_utf8,
            ..RecordFlags::default()
        },
        exception: line.exception,
    }
}

/// Adds a field unless the line already has one of that name.
fn set_field(fields: &mut Vec<(String, FieldValue)>, name: &str, value: FieldValue) {
    if !fields.iter().any(|(existing, _)| existing == name) {
        fields.push((name.to_owned(), value));
    }
}

/// The JSON object in a message body, if it is one.
fn embedded_json(message: &str) -> Option<&str> {
    let body = message.trim_start();
    let body = body.strip_prefix("@cee:").map_or(body, str::trim_start);
    (body.starts_with('{') && body.trim_end().ends_with('}')).then_some(body)
}

fn from_syslog(raw: &RawLog, config: &NormalizeConfig) -> LogRecord {
    let message = syslog::parse_message(&raw.bytes, raw.received_nanos);
    let json = embedded_json(&message.message)
        .map(|body| jsonlog::parse_line(body.as_bytes(), &config.json))
        .filter(|line| line.parse_error.is_none());
    let mut fields = Vec::new();
    let mut exception = None;
    let header = syslog_header_fields(&message);
    let (level, service, host, text, timestamp) = match json {
        Some(line) => {
            fields = line.fields;
            exception = line.exception;
            (
                line.level.or(Some(level_of(message.severity))),
                line.service.or(message.app_name.map(str::to_owned)),
                line.host.or(message.hostname.map(str::to_owned)),
                line.message.unwrap_or_default(),
                line.timestamp_unix_nanos.or(message.timestamp_unix_nanos),
            )
        }
        None => (
            Some(level_of(message.severity)),
            message.app_name.map(str::to_owned),
            message.hostname.map(str::to_owned),
            message.message.clone().into_owned(),
            message.timestamp_unix_nanos,
        ),
    };
    for (name, value) in header {
        set_field(&mut fields, &name, value);
    }
    let host = host.or_else(|| raw.context_value(PEER_CONTEXT).map(str::to_owned));
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    LogRecord {
        timestamp_nanos: timestamp.unwrap_or(raw.received_nanos),
        received_nanos: raw.received_nanos,
        level,
        service,
        host,
        message: text,
        fields,
        source: Source::Syslog,
        flags: RecordFlags {
            parse_error: message.format == syslog::SyslogFormat::Unrecognized,
            invalid_utf8: message.flags.invalid_utf8,
            ..RecordFlags::default()
        },
        exception,
    }
}

/// What the syslog header says beyond time, host, app and level.
fn syslog_header_fields(message: &SyslogMessage<'_>) -> Vec<(String, FieldValue)> {
    let text = |value: &str| FieldValue::Text(value.to_owned());
    let mut fields = vec![
        ("facility".to_owned(), text(message.facility.keyword())),
        ("severity".to_owned(), text(message.severity.keyword())),
    ];
    if let Some(pid) = message.proc_id {
        fields.push(("pid".to_owned(), text(pid)));
    }
    if let Some(msg_id) = message.msg_id {
        fields.push(("msgid".to_owned(), text(msg_id)));
    }
    for element in &message.structured_data {
        for param in &element.params {
            let name = format!("{}.{}", element.id, param.name);
            if !fields.iter().any(|(existing, _)| *existing == name) {
                fields.push((name, text(&param.value)));
            }
        }
    }
    fields
}

/// Syslog severities onto the log levels: emergency, alert and critical
/// all mean the service is failing.
fn level_of(severity: Severity) -> Level {
    match severity {
        Severity::Emergency | Severity::Alert | Severity::Critical => Level::Fatal,
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warn,
        Severity::Notice | Severity::Informational => Level::Info,
        Severity::Debug => Level::Debug,
    }
}

/// Loki labels that name the service, host and level, first match wins
/// (Grafana Alloy and Promtail set `service_name`, `job`, `instance`).
const LOKI_SERVICE_LABELS: &[&str] = &["service_name", "service", "app", "job"];
const LOKI_HOST_LABELS: &[&str] = &["host", "hostname", "instance", "node"];
const LOKI_LEVEL_LABELS: &[&str] = &["level", "detected_level", "severity"];

fn from_loki(raw: &RawLog, config: &NormalizeConfig) -> LogRecord {
    let text = String::from_utf8_lossy(&raw.bytes);
    let mut record = match embedded_json(&text) {
        Some(_) => from_json_line(jsonlog::parse_line(&raw.bytes, &config.json), raw),
        None => {
            let mut record = from_json_line(
                JsonLogLine {
                    timestamp_unix_nanos: None,
                    level: None,
                    message: Some(text.trim_end_matches(['\n', '\r']).to_owned()),
                    service: None,
                    host: None,
                    fields: Vec::new(),
                    exception: None,
                    parse_error: None,
                    invalid_utf8: false,
                },
                raw,
            );
            record.flags.invalid_utf8 = matches!(text, std::borrow::Cow::Owned(_));
            record
        }
    };
    // The entry's own time is the line's time; a JSON line's key only
    // fills in when Loki's is absent.
    if let Some(sent) = raw.sent_nanos {
        record.timestamp_nanos = sent;
    }
    let label = |names: &[&str]| names.iter().find_map(|name| raw.context_value(name));
    if record.service.is_none() {
        record.service = label(LOKI_SERVICE_LABELS).map(str::to_owned);
    }
    if record.host.is_none() {
        record.host = label(LOKI_HOST_LABELS).map(str::to_owned);
    }
    if record.level.is_none() {
        record.level = label(LOKI_LEVEL_LABELS).and_then(jsonlog::parse_level);
    }
    record.fields.sort_by(|a, b| a.0.cmp(&b.0));
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_346_300_000_000_000;

    fn config() -> NormalizeConfig {
        NormalizeConfig {
            json: JsonLogLimits::default(),
            time: TimePolicy {
                max_past_nanos: 7 * 86_400 * 1_000_000_000,
                max_future_nanos: 3600 * 1_000_000_000,
            },
        }
    }

    fn field<'a>(record: &'a LogRecord, name: &str) -> Option<&'a FieldValue> {
        record
            .fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    #[test]
    fn rfc5424_header_and_structured_data_become_fields() {
        let raw = RawLog::new(
            Source::Syslog,
            NOW,
            b"<11>1 2026-11-22T10:00:00Z web1 api 42 ID7 [req@1 user=\"ann\"] db timeout",
            1 << 20,
        );
        let record = normalize(&raw, &config());
        assert_eq!(record.level, Some(Level::Error));
        assert_eq!(record.service.as_deref(), Some("api"));
        assert_eq!(record.host.as_deref(), Some("web1"));
        assert_eq!(record.message, "db timeout");
        assert_eq!(
            field(&record, "req@1.user"),
            Some(&FieldValue::Text("ann".into()))
        );
        assert_eq!(field(&record, "pid"), Some(&FieldValue::Text("42".into())));
        assert_eq!(
            field(&record, "facility"),
            Some(&FieldValue::Text("user".into()))
        );
        assert_eq!(record.timestamp_nanos, 1_795_341_600_000_000_000);
    }

    #[test]
    fn syslog_without_hostname_takes_the_peer_address() {
        let raw = RawLog::new(
            Source::Syslog,
            NOW,
            b"<13>Nov 22 10:00:00 cron[9]: done",
            99,
        )
        .with_context(PEER_CONTEXT, "10.0.0.7");
        let record = normalize(&raw, &config());
        assert_eq!(record.service.as_deref(), Some("cron"));
        assert_eq!(record.host.as_deref(), Some("10.0.0.7"));
        assert_eq!(record.message, "done");
    }

    #[test]
    fn json_inside_syslog_is_read_as_a_structured_line() {
        let raw = RawLog::new(
            Source::Syslog,
            NOW,
            br#"<14>1 2026-11-22T10:00:00Z web1 api - - - @cee: {"event":"login","user":"ann","level":"warn"}"#,
            1 << 20,
        );
        let record = normalize(&raw, &config());
        assert_eq!(record.message, "login");
        assert_eq!(record.level, Some(Level::Warn));
        assert_eq!(record.service.as_deref(), Some("api"));
        assert_eq!(
            field(&record, "user"),
            Some(&FieldValue::Text("ann".into()))
        );
    }

    #[test]
    fn json_line_keeps_structure_and_context() {
        let raw = RawLog::new(
            Source::JsonLine,
            NOW,
            br#"{"ts":1795346299.5,"level":"error","logger":"api","event":"boom","http":{"status":500}}"#,
            1 << 20,
        )
        .with_context("es_index", "logs-2026");
        let record = normalize(&raw, &config());
        assert_eq!(record.timestamp_nanos, NOW - 500_000_000);
        assert_eq!(record.message, "boom");
        assert_eq!(
            field(&record, "http.status"),
            Some(&FieldValue::Integer(500))
        );
        assert_eq!(
            field(&record, "es_index"),
            Some(&FieldValue::Text("logs-2026".into()))
        );
    }

    #[test]
    fn malformed_and_truncated_lines_are_kept_whole_and_marked() {
        let raw = RawLog::new(
            Source::JsonLine,
            NOW,
            br#"{"msg": "cut here and more"}"#,
            12,
        );
        let record = normalize(&raw, &config());
        assert_eq!(record.message, r#"{"msg": "cut"#);
        assert!(record.flags.parse_error && record.flags.truncated);
        assert_eq!(record.timestamp_nanos, NOW);
    }

    #[test]
    fn implausible_times_are_replaced_and_kept() {
        let raw = RawLog::new(
            Source::JsonLine,
            NOW,
            br#"{"ts":"2200-01-01T00:00:00Z"}"#,
            999,
        );
        let record = normalize(&raw, &config());
        assert_eq!(record.timestamp_nanos, NOW);
        assert!(record.flags.time_replaced);
        assert!(field(&record, ORIGINAL_TIME_FIELD).is_some());
    }

    #[test]
    fn loki_labels_name_service_host_and_level() {
        let mut raw = RawLog::new(Source::Loki, NOW, b"GET / 200", 999)
            .with_context("job", "nginx")
            .with_context("instance", "web2")
            .with_context("level", "warning");
        raw.sent_nanos = Some(NOW - 1);
        let record = normalize(&raw, &config());
        assert_eq!(record.service.as_deref(), Some("nginx"));
        assert_eq!(record.host.as_deref(), Some("web2"));
        assert_eq!(record.level, Some(Level::Warn));
        assert_eq!(record.timestamp_nanos, NOW - 1);
        assert_eq!(record.message, "GET / 200");
        assert_eq!(
            field(&record, "job"),
            Some(&FieldValue::Text("nginx".into()))
        );
    }
}
