//! Sentry SDKs' structured logs (`log` envelope items) into the log store,
//! as JSON lines: searchable like every other log, with the project and
//! trace they belong to.
//!
//! ```text
//! {"timestamp":..., "level":"info", "body":"order A-1001 paid",
//!  "attributes":{"sentry.release":{"value":"shop@1.4.2",...}, "amount":{"value":42.5,...}}}
//!   -> {"timestamp":"2026-...Z","level":"info","message":"order A-1001 paid",
//!       "service":"shop","host":"web-1","project":"default","trace_id":"...",
//!       "release":"shop@1.4.2","environment":"production","amount":42.5, ...}
//! ```
//!
//! - service: the `service.name` attribute (OpenTelemetry's), else the
//!   release's package (`shop` of `shop@1.4.2`, Sentry's release naming),
//!   else the project's name: logs of one SDK land under one service
//!   even when it sets no release;
//! - host: `server.address` (what the SDKs send for `server_name`), else
//!   `sentry.server_name`, `host.name`;
//! - `release` and `environment` from `sentry.release` and
//!   `sentry.environment`; `project` (the project's name), `trace_id` and
//!   `span_id`;
//! - every other attribute as a field of its own name, with its type; one
//!   whose name a field above already uses is kept as `attributes.<name>`.
//!   The severity attributes are dropped (the level says it).
//!
//! The lines go through the log store like `POST /api/v1/logs`: the
//! envelope is answered only once they are journaled and synced.

use partout_protocols::sentry::logs::{AttributeValue, SentryLog};
use serde_json::{json, Map, Value};

use super::projects;
use crate::logs::day::rfc3339;
use crate::logs::raw::{RawLog, Source};
use crate::logs::{LogError, LogStore};
use crate::store::{Store, StoreError};
use crate::telemetry::{ProtocolLabels, RejectLabels, Telemetry};

/// The `protocol` label of the lines stored from SDK logs.
pub const PROTOCOL: &str = "sentry_logs";

/// Attributes the line's own keys already say.
const CONSUMED: &[&str] = &[
    "service.name",
    "server.address",
    "sentry.server_name",
    "host.name",
    "sentry.release",
    "sentry.environment",
    "sentry.severity_text",
    "sentry.severity_number",
];

/// The service of a record: see the module docs.
pub fn service_of<'a>(log: &'a SentryLog, project: &'a str) -> &'a str {
    if let Some(service) = log.text_attribute("service.name") {
        return service;
    }
    if let Some(release) = log.text_attribute("sentry.release") {
        let package = release
            .split_once('@')
            .map_or(release, |(package, _)| package);
        if !package.trim().is_empty() {
            return package;
        }
    }
    project
}

/// One record as a JSON log line.
pub fn json_line(log: &SentryLog, project: &str) -> Map<String, Value> {
    let mut line = Map::new();
    if let Some(nanos) = log.timestamp_unix_nanos {
        line.insert("timestamp".into(), json!(rfc3339(nanos)));
    }
    if let Some(level) = log.level {
        line.insert("level".into(), json!(level.as_str()));
    }
    line.insert("message".into(), json!(log.body));
    line.insert("service".into(), json!(service_of(log, project)));
    if let Some(host) = ["server.address", "sentry.server_name", "host.name"]
        .iter()
        .find_map(|name| log.text_attribute(name))
    {
        line.insert("host".into(), json!(host));
    }
    line.insert("project".into(), json!(project));
    if let Some(trace_id) = &log.trace_id {
        line.insert("trace_id".into(), json!(trace_id));
    }
    if let Some(span_id) = &log.span_id {
        line.insert("span_id".into(), json!(span_id));
    }
    if let Some(release) = log.text_attribute("sentry.release") {
        line.insert("release".into(), json!(release));
    }
    if let Some(environment) = log.text_attribute("sentry.environment") {
        line.insert("environment".into(), json!(environment));
    }
    for (name, value) in &log.attributes {
        if CONSUMED.contains(&name.as_str()) {
            continue;
        }
        let value = match value {
            AttributeValue::Text(text) | AttributeValue::Json(text) => json!(text),
            AttributeValue::Integer(number) => json!(number),
            AttributeValue::Double(number) => json!(number),
            AttributeValue::Bool(flag) => json!(flag),
        };
        let name = if line.contains_key(name) {
            format!("attributes.{name}")
        } else {
            name.clone()
        };
        line.entry(name).or_insert(value);
    }
    line
}

/// The raw lines of a request's records, received at `received_nanos`.
pub fn raw_lines(
    logs: &[SentryLog],
    project: &str,
    received_nanos: i64,
    max_line_bytes: usize,
) -> Vec<RawLog> {
    logs.iter()
        .map(|log| {
            let bytes = Value::Object(json_line(log, project)).to_string();
            RawLog::new(
                Source::JsonLine,
                received_nanos,
                bytes.as_bytes(),
                max_line_bytes,
            )
        })
        .collect()
}

/// Why a request's records were not stored.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Logs(#[from] LogError),
}

/// Stores a request's records for `project_id` and returns once they are
/// durable (journaled and synced), as `POST /api/v1/logs` does; counts the
/// records that were `unread` (reason labels) as rejected.
pub async fn append(
    logs: &LogStore,
    store: &Store,
    telemetry: &Telemetry,
    project_id: i64,
    records: Vec<SentryLog>,
    unread: &[&'static str],
    received_nanos: i64,
) -> Result<(), AppendError> {
    for reason in unread {
        telemetry
            .rejected_items
            .get_or_create(&RejectLabels {
                protocol: PROTOCOL.to_owned(),
                reason: (*reason).to_owned(),
            })
            .inc();
    }
    if records.is_empty() {
        return Ok(());
    }
    let project = store
        .read(move |conn| projects::get(conn, project_id))
        .await?
        .map_or_else(|| project_id.to_string(), |project| project.name);
    let lines = raw_lines(
        &records,
        &project,
        received_nanos,
        logs.config.max_line_bytes,
    );
    let accepted = u64::try_from(lines.len()).unwrap_or(u64::MAX);
    let truncated = lines.iter().filter(|line| line.truncated).count();
    telemetry
        .log_lines_truncated
        .inc_by(u64::try_from(truncated).unwrap_or(u64::MAX));
    logs.append(lines).await?;
    telemetry
        .ingested_items
        .get_or_create(&ProtocolLabels {
            protocol: PROTOCOL.to_owned(),
        })
        .inc_by(accepted);
    Ok(())
}

#[cfg(test)]
mod tests {
    use partout_protocols::jsonlog::{FieldValue, Level};
    use partout_protocols::sentry::envelope::{parse_envelope, EnvelopeLimits, ItemType};
    use partout_protocols::sentry::logs::{parse_log_item, LogLimits};

    use super::*;
    use crate::logs::record::{normalize, NormalizeConfig, TimePolicy};

    fn python_sdk_logs() -> Vec<SentryLog> {
        let body = crate::errors::prepare::tests::fixture("sentry-envelope-logs.wire.gz");
        let envelope = parse_envelope(&body, &EnvelopeLimits::default()).unwrap();
        let item = envelope.items_of(ItemType::Log).next().unwrap();
        parse_log_item(item.payload, &LogLimits::default()).logs
    }

    #[test]
    fn python_sdk_records_become_searchable_lines() {
        let logs = python_sdk_logs();
        let received = 1_795_390_210_000_000_000;
        let lines = raw_lines(&logs, "default", received, 64 * 1024);
        assert_eq!(lines.len(), 3);
        let config = NormalizeConfig {
            json: Default::default(),
            time: TimePolicy {
                max_past_nanos: 86_400_000_000_000,
                max_future_nanos: 3_600_000_000_000,
            },
        };
        let record = normalize(&lines[0], &config);
        assert_eq!(record.timestamp_nanos, 1_795_390_209_259_350_000);
        assert_eq!(record.level, Some(Level::Info));
        assert_eq!(record.message, "order A-1001 paid");
        assert_eq!(record.service.as_deref(), Some("shop"));
        assert_eq!(record.host.as_deref(), Some("web-1"));
        let field = |name: &str| {
            record
                .fields
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        };
        assert_eq!(field("project"), Some(FieldValue::Text("default".into())));
        assert_eq!(
            field("trace_id"),
            Some(FieldValue::Text("cfa70a8100a14d52937f2cad1b569412".into()))
        );
        assert_eq!(
            field("release"),
            Some(FieldValue::Text("shop@1.4.2".into()))
        );
        assert_eq!(
            field("environment"),
            Some(FieldValue::Text("production".into()))
        );
        assert_eq!(field("amount"), Some(FieldValue::Float(42.5)));
        assert_eq!(field("retries"), Some(FieldValue::Integer(3)));
        assert_eq!(field("express"), Some(FieldValue::Bool(true)));
        assert_eq!(
            field("sentry.message.template"),
            Some(FieldValue::Text("order {order_id} paid".into()))
        );
        assert_eq!(field("sentry.severity_number"), None);
        assert_eq!(normalize(&lines[2], &config).level, Some(Level::Error));
    }

    #[test]
    fn service_falls_back_to_the_project_and_names_do_not_collide() {
        let log = SentryLog {
            timestamp_unix_nanos: None,
            level: None,
            body: "hi".into(),
            trace_id: None,
            span_id: None,
            attributes: vec![
                ("message".into(), AttributeValue::Text("shadow".into())),
                ("service".into(), AttributeValue::Text("other".into())),
            ],
            dropped_attributes: 0,
        };
        let line = json_line(&log, "checkout");
        assert_eq!(line["service"], "checkout");
        assert_eq!(line["message"], "hi");
        assert_eq!(line["attributes.message"], "shadow");
        assert_eq!(line["attributes.service"], "other");
        assert!(!line.contains_key("timestamp"));
    }
}
