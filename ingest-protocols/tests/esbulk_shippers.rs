//! Bulk bodies as each log shipper writes them with its Elasticsearch
//! output, and what partout makes of them: the items, then each source
//! through the JSON log parser, as the ingest path does.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use partout_protocols::esbulk::{parse_bulk, BulkAction, BulkItem};
use partout_protocols::jsonlog::{parse_line, FieldValue, JsonLogLimits, JsonLogLine};

/// 2026-11-22T11:18:20.981Z.
const AT_NANOS: i64 = 1_795_346_300_981_000_000;

fn items(body: &str) -> Vec<BulkItem<'_>> {
    let items: Vec<_> = parse_bulk(body.as_bytes()).collect();
    for item in &items {
        assert_eq!(item.error, None, "{item:?}");
    }
    items
}

fn source(item: &BulkItem<'_>) -> JsonLogLine {
    let line = parse_line(item.source.unwrap(), &JsonLogLimits::default());
    assert_eq!(line.parse_error, None);
    line
}

fn field<'a>(line: &'a JsonLogLine, name: &str) -> Option<&'a FieldValue> {
    line.fields
        .iter()
        .find(|(field_name, _)| field_name == name)
        .map(|(_, value)| value)
}

fn text(value: &str) -> FieldValue {
    FieldValue::Text(value.to_owned())
}

#[test]
fn vector_elasticsearch_sink() {
    // `type = "elasticsearch"`, `mode = "bulk"`, the default index
    // template `vector-%Y.%m.%d`; API v7 still names `_type`.
    let body = concat!(
        r#"{"index":{"_index":"vector-2026.11.22","_type":"_doc"}}"#,
        "\n",
        r#"{"@timestamp":"2026-11-22T11:18:20.981Z","file":"/var/log/app/api.log","host":"web-1","message":"GET /cart 200 12ms","source_type":"file"}"#,
        "\n",
        r#"{"index":{"_index":"vector-2026.11.22","_type":"_doc"}}"#,
        "\n",
        r#"{"@timestamp":"2026-11-22T11:18:21.002Z","file":"/var/log/app/api.log","host":"web-1","message":"POST /pay 502 5001ms","source_type":"file"}"#,
        "\n",
    );
    let items = items(body);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].action, BulkAction::Index);
    assert_eq!(items[0].index.as_deref(), Some("vector-2026.11.22"));
    assert_eq!((items[0].id.as_deref(), items[1].line), (None, 3));
    let line = source(&items[0]);
    assert_eq!(line.timestamp_unix_nanos, Some(AT_NANOS));
    assert_eq!(line.message.as_deref(), Some("GET /cart 200 12ms"));
    assert_eq!(line.host.as_deref(), Some("web-1"));
    assert_eq!(field(&line, "source_type"), Some(&text("file")));
}

#[test]
fn vector_data_stream_mode() {
    // `mode = "data_stream"`: `create` into logs-generic-default, with
    // the data_stream fields Vector adds to each event.
    let body = concat!(
        r#"{"create":{"_index":"logs-generic-default"}}"#,
        "\n",
        r#"{"@timestamp":"2026-11-22T11:18:20.981Z","data_stream":{"dataset":"generic","namespace":"default","type":"logs"},"message":"worker started"}"#,
        "\n",
    );
    let items = items(body);
    assert_eq!(items[0].action, BulkAction::Create);
    assert_eq!(items[0].index.as_deref(), Some("logs-generic-default"));
    let line = source(&items[0]);
    assert_eq!(line.message.as_deref(), Some("worker started"));
    assert_eq!(field(&line, "data_stream.type"), Some(&text("logs")));
}

#[test]
fn fluent_bit_es_output() {
    // `[OUTPUT] Name es`, `Logstash_Format On`, `Generate_ID On`, a tail
    // input with the kubernetes filter: the record's text is in `log`.
    let body = concat!(
        r#"{"create":{"_index":"logstash-2026.11.22","_id":"0f3a9c1e-6c1b-bf2e-43a9-1c0e8e5a7b11"}}"#,
        "\n",
        r#"{"@timestamp":"2026-11-22T11:18:20.981Z","log":"level=warn msg=\"slow query\" took=1.2s\n","stream":"stderr","time":"2026-11-22T11:18:20.981254123Z","kubernetes":{"pod_name":"api-7d9f","namespace_name":"shop","container_name":"api"}}"#,
        "\n",
    );
    let items = items(body);
    assert_eq!(items[0].action, BulkAction::Create);
    assert_eq!(
        items[0].id.as_deref(),
        Some("0f3a9c1e-6c1b-bf2e-43a9-1c0e8e5a7b11")
    );
    let line = source(&items[0]);
    assert_eq!(line.timestamp_unix_nanos, Some(AT_NANOS));
    assert_eq!(
        line.message.as_deref(),
        Some("level=warn msg=\"slow query\" took=1.2s")
    );
    assert_eq!(field(&line, "kubernetes.pod_name"), Some(&text("api-7d9f")));
}

#[test]
fn filebeat_data_stream() {
    // Filebeat 8 with a filestream input writes `create` actions into its
    // data stream; a 7.x Filebeat named `_type` as well.
    let body = concat!(
        r#"{"create":{"_index":"filebeat-8.15.0"}}"#,
        "\n",
        r#"{"@timestamp":"2026-11-22T11:18:20.981Z","log":{"offset":40960,"file":{"path":"/var/log/nginx/error.log"}},"message":"upstream timed out","input":{"type":"filestream"},"ecs":{"version":"8.0.0"},"host":{"name":"web-1"},"agent":{"type":"filebeat","version":"8.15.0","name":"web-1","id":"3c0a5f0e-4c6e-4d8a-9b8e-2f1d7a9c6b21","ephemeral_id":"b7e4c8f2-1a3d-4e5f-8a9b-0c1d2e3f4a5b"}}"#,
        "\n",
        r#"{"create":{"_index":"filebeat-7.17.0","_type":"_doc"}}"#,
        "\n",
        r#"{"@timestamp":"2026-11-22T11:18:21.002Z","message":"worker 2 exited","host":{"name":"web-2"}}"#,
        "\n",
    );
    let items = items(body);
    assert_eq!(items.len(), 2);
    let line = source(&items[0]);
    assert_eq!(line.message.as_deref(), Some("upstream timed out"));
    assert_eq!(line.host.as_deref(), Some("web-1"));
    assert_eq!(
        field(&line, "log.file.path"),
        Some(&text("/var/log/nginx/error.log"))
    );
    assert_eq!(items[1].index.as_deref(), Some("filebeat-7.17.0"));
}

#[test]
fn logstash_elasticsearch_output() {
    // Logstash writes every metadata key it knows, `null` when unset, and
    // with `action => "update"` and `doc_as_upsert => true` sends the
    // event as a partial doc.
    let body = concat!(
        r#"{"index":{"_id":null,"_index":"logstash-2026.11.22","routing":null}}"#,
        "\n",
        r#"{"@timestamp":"2026-11-22T11:18:20.981Z","@version":"1","message":"user 42 logged in","host":{"hostname":"web-1"},"event":{"original":"user 42 logged in"}}"#,
        "\n",
        r#"{"update":{"_id":"session-42","_index":"sessions","retry_on_conflict":1}}"#,
        "\n",
        r#"{"doc":{"@timestamp":"2026-11-22T11:18:21Z","message":"session renewed","user":42},"doc_as_upsert":true}"#,
        "\n",
    );
    let items = items(body);
    assert_eq!(items[0].id, None);
    assert_eq!(items[0].index.as_deref(), Some("logstash-2026.11.22"));
    let line = source(&items[0]);
    assert_eq!(line.host.as_deref(), Some("web-1"));
    assert_eq!(field(&line, "@version"), Some(&text("1")));
    assert_eq!(items[1].action, BulkAction::Update);
    assert_eq!(items[1].id.as_deref(), Some("session-42"));
    let update = source(&items[1]);
    assert_eq!(update.message.as_deref(), Some("session renewed"));
    assert_eq!(field(&update, "user"), Some(&FieldValue::Integer(42)));
}
