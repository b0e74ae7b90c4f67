//! One realistic line per logger, written as each library formats it by
//! default (or with its usual JSON setup), and what partout makes of it.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use partout_protocols::jsonlog::{
    parse_line, FieldValue, JsonLogLimits, JsonLogLine, Level, OVERFLOW_FIELD,
};
use partout_protocols::ParseError;

/// 2026-11-22T11:18:20Z.
const AT_SECONDS: i64 = 1_795_346_300;
const NANOS: i64 = 1_000_000_000;

fn parse(line: &str) -> JsonLogLine {
    let parsed = parse_line(line.as_bytes(), &JsonLogLimits::default());
    assert_eq!(parsed.parse_error, None, "{line}");
    parsed
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

fn field_names(line: &JsonLogLine) -> Vec<&str> {
    line.fields.iter().map(|(name, _)| name.as_str()).collect()
}

#[test]
fn structlog_json_renderer() {
    // structlog.processors.TimeStamper(fmt="iso"), add_log_level,
    // add_logger_name, JSONRenderer.
    let line = parse(
        r#"{"user_id": 42, "path": "/login", "event": "user logged in", "logger": "app.auth", "level": "info", "timestamp": "2026-11-22T11:18:20.123456Z"}"#,
    );
    assert_eq!(
        line.timestamp_unix_nanos,
        Some(AT_SECONDS * NANOS + 123_456_000)
    );
    assert_eq!(line.level, Some(Level::Info));
    assert_eq!(line.message.as_deref(), Some("user logged in"));
    assert_eq!(line.service.as_deref(), Some("app.auth"));
    assert_eq!(line.host, None);
    assert_eq!(
        line.fields,
        [
            ("path".to_owned(), text("/login")),
            ("user_id".to_owned(), FieldValue::Integer(42)),
        ]
    );
    assert_eq!(line.exception, None);
}

#[test]
fn structlog_format_exc_info() {
    let traceback = "Traceback (most recent call last):\n  File \"/srv/shop/checkout.py\", line 12, in charge\n    raise PaymentDeclined(\"card declined\")\nshop.errors.PaymentDeclined: card declined";
    let line = parse(&format!(
        r#"{{"order": "A-17", "event": "payment failed", "level": "error", "timestamp": "2026-11-22T11:18:20Z", "exception": {}}}"#,
        serde_json::to_string(traceback).unwrap()
    ));
    assert_eq!(line.level, Some(Level::Error));
    let exception = line.exception.as_ref().unwrap();
    assert_eq!(
        exception.type_name.as_deref(),
        Some("shop.errors.PaymentDeclined")
    );
    assert_eq!(exception.value.as_deref(), Some("card declined"));
    assert_eq!(exception.stack.as_deref(), Some(traceback));
    assert_eq!(exception.source_key, "exception");
    // The traceback also stays searchable as a field.
    assert_eq!(field(&line, "exception"), Some(&text(traceback)));
}

#[test]
fn structlog_dict_tracebacks() {
    let line = parse(
        r#"{"event": "division failed", "level": "error", "timestamp": 1795346300.5, "exception": [{"exc_type": "ZeroDivisionError", "exc_value": "division by zero", "syntax_error": null, "is_cause": false, "frames": [{"filename": "/app/calc.py", "lineno": 3, "name": "<module>", "line": "", "locals": null}]}]}"#,
    );
    assert_eq!(
        line.timestamp_unix_nanos,
        Some(AT_SECONDS * NANOS + NANOS / 2)
    );
    let exception = line.exception.as_ref().unwrap();
    assert_eq!(exception.type_name.as_deref(), Some("ZeroDivisionError"));
    assert_eq!(exception.value.as_deref(), Some("division by zero"));
    assert!(exception.stack.as_deref().unwrap().contains("\"lineno\":3"));
    assert!(matches!(
        field(&line, "exception"),
        Some(FieldValue::Json(_))
    ));
}

const LOGURU_RECORD: &str = r#""elapsed": {"repr": "0:00:01.502031", "seconds": 1.502031}, "extra": {"request_id": "9f1c", "module": "shadowed"}, "file": {"name": "app.py", "path": "/srv/app.py"}, "function": "handle", "line": 27, "module": "app", "name": "__main__", "process": {"id": 4242, "name": "MainProcess"}, "thread": {"id": 140245, "name": "MainThread"}, "time": {"repr": "2026-11-22 12:18:20.123456+01:00", "timestamp": 1795346300.123456}"#;

#[test]
fn loguru_serialize() {
    let line = parse(&format!(
        r#"{{"text": "2026-11-22 12:18:20.123 | WARNING  | __main__:handle:27 - cache miss\n", "record": {{{LOGURU_RECORD}, "exception": null, "level": {{"icon": "⚠️", "name": "WARNING", "no": 30}}, "message": "cache miss"}}}}"#
    ));
    let timestamp = line.timestamp_unix_nanos.unwrap();
    assert!(
        (timestamp - (AT_SECONDS * NANOS + 123_456_000)).abs() < 1_000,
        "{timestamp}"
    );
    assert_eq!(line.level, Some(Level::Warn));
    assert_eq!(line.message.as_deref(), Some("cache miss"));
    assert_eq!(line.exception, None);
    // `extra` is lifted to the top, except a name the record already has.
    assert_eq!(field(&line, "request_id"), Some(&text("9f1c")));
    assert_eq!(field(&line, "extra.module"), Some(&text("shadowed")));
    assert_eq!(field(&line, "module"), Some(&text("app")));
    assert_eq!(field(&line, "process.id"), Some(&FieldValue::Integer(4242)));
    assert_eq!(field(&line, "text"), None);
}

#[test]
fn loguru_exception_takes_its_traceback_from_the_text() {
    let text = "2026-11-22 12:18:20.123 | ERROR    | __main__:handle:27 - bad request\nTraceback (most recent call last):\n  File \"/srv/app.py\", line 27, in handle\n    int(value)\nValueError: invalid literal for int() with base 10: 'x'\n";
    let line = parse(&format!(
        r#"{{"text": {}, "record": {{{LOGURU_RECORD}, "exception": {{"type": "ValueError", "value": "invalid literal for int() with base 10: 'x'", "traceback": true}}, "level": {{"icon": "❌", "name": "ERROR", "no": 40}}, "message": "bad request"}}}}"#,
        serde_json::to_string(text).unwrap()
    ));
    assert_eq!(line.level, Some(Level::Error));
    let exception = line.exception.as_ref().unwrap();
    assert_eq!(exception.type_name.as_deref(), Some("ValueError"));
    assert_eq!(
        exception.value.as_deref(),
        Some("invalid literal for int() with base 10: 'x'")
    );
    assert_eq!(exception.stack.as_deref(), Some(text));
}

#[test]
fn pino_request_log() {
    let line = parse(
        r#"{"level":30,"time":1795346300123,"pid":4242,"hostname":"web-1","name":"api","req":{"id":1,"method":"GET","url":"/health","headers":{"host":"localhost:3000"}},"res":{"statusCode":200},"responseTime":3,"msg":"request completed"}"#,
    );
    assert_eq!(
        line.timestamp_unix_nanos,
        Some(AT_SECONDS * NANOS + 123_000_000)
    );
    assert_eq!(line.level, Some(Level::Info));
    assert_eq!(line.message.as_deref(), Some("request completed"));
    assert_eq!(line.host.as_deref(), Some("web-1"));
    // pino's `name` is too common a key to read as the service.
    assert_eq!(line.service, None);
    assert_eq!(
        field_names(&line),
        [
            "name",
            "pid",
            "req.headers.host",
            "req.id",
            "req.method",
            "req.url",
            "res.statusCode",
            "responseTime"
        ]
    );
    assert_eq!(
        field(&line, "res.statusCode"),
        Some(&FieldValue::Integer(200))
    );
}

#[test]
fn pino_error_serializer() {
    let line = parse(
        r#"{"level":50,"time":1795346300123,"pid":4242,"hostname":"web-1","err":{"type":"Error","message":"connect ECONNREFUSED 127.0.0.1:5432","stack":"Error: connect ECONNREFUSED 127.0.0.1:5432\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)","errno":-111,"code":"ECONNREFUSED"},"msg":"connect ECONNREFUSED 127.0.0.1:5432"}"#,
    );
    assert_eq!(line.level, Some(Level::Error));
    let exception = line.exception.as_ref().unwrap();
    assert_eq!(exception.type_name.as_deref(), Some("Error"));
    assert_eq!(
        exception.value.as_deref(),
        Some("connect ECONNREFUSED 127.0.0.1:5432")
    );
    assert!(exception
        .stack
        .as_deref()
        .unwrap()
        .starts_with("Error: connect"));
    assert_eq!(exception.source_key, "err.stack");
    assert_eq!(field(&line, "err.errno"), Some(&FieldValue::Integer(-111)));
}

#[test]
fn zap_production() {
    let line = parse(
        r#"{"level":"info","ts":1795346300.1234567,"logger":"api","caller":"server/main.go:42","msg":"request handled","method":"GET","status":200,"latency":0.0123}"#,
    );
    let timestamp = line.timestamp_unix_nanos.unwrap();
    assert!(
        (timestamp - (AT_SECONDS * NANOS + 123_456_700)).abs() < 1_000,
        "{timestamp}"
    );
    assert_eq!(line.level, Some(Level::Info));
    assert_eq!(line.service.as_deref(), Some("api"));
    assert_eq!(field(&line, "latency"), Some(&FieldValue::Float(0.0123)));
    assert_eq!(line.exception, None);
}

#[test]
fn zap_error_with_stacktrace_and_iso8601_time() {
    // EncodeTime = zapcore.ISO8601TimeEncoder writes "+0100" offsets.
    let line = parse(
        r#"{"level":"error","ts":"2026-11-22T12:18:20.250+0100","caller":"db/pool.go:88","msg":"query failed","error":"dial tcp 10.0.0.5:5432: connect: connection refused","stacktrace":"main.handler\n\t/app/main.go:57\nnet/http.HandlerFunc.ServeHTTP\n\t/usr/local/go/src/net/http/server.go:2136"}"#,
    );
    assert_eq!(
        line.timestamp_unix_nanos,
        Some(AT_SECONDS * NANOS + 250_000_000)
    );
    let exception = line.exception.as_ref().unwrap();
    assert_eq!(exception.type_name, None);
    assert_eq!(
        exception.value.as_deref(),
        Some("dial tcp 10.0.0.5:5432: connect: connection refused")
    );
    assert_eq!(exception.source_key, "stacktrace");
}

#[test]
fn zap_dpanic_is_fatal() {
    assert_eq!(
        parse(r#"{"level":"dpanic","msg":"x"}"#).level,
        Some(Level::Fatal)
    );
}

#[test]
fn vector_syslog_record() {
    let line = parse(
        r#"{"appname":"nginx","facility":"daemon","host":"web-1","hostname":"web-1","message":"GET / 200","procid":812,"severity":"notice","source_type":"syslog","timestamp":"2026-11-22T11:18:20.984845Z","version":1}"#,
    );
    assert_eq!(
        line.timestamp_unix_nanos,
        Some(AT_SECONDS * NANOS + 984_845_000)
    );
    assert_eq!(line.level, Some(Level::Info));
    assert_eq!(line.service.as_deref(), Some("nginx"));
    assert_eq!(line.host.as_deref(), Some("web-1"));
    assert_eq!(
        field_names(&line),
        ["facility", "hostname", "procid", "source_type", "version"]
    );
}

#[test]
fn fluent_bit_kubernetes_record() {
    let line = parse(
        r#"{"date":1795346300.984845,"log":"hello from api\n","stream":"stdout","time":"2026-11-22T11:18:20.984845123Z","kubernetes":{"pod_name":"api-7d9f","namespace_name":"prod","labels":{"app":"api"},"container_name":"api"}}"#,
    );
    // `time` comes before Fluent Bit's own `date` and is more precise.
    assert_eq!(
        line.timestamp_unix_nanos,
        Some(AT_SECONDS * NANOS + 984_845_123)
    );
    assert_eq!(line.message.as_deref(), Some("hello from api"));
    assert_eq!(line.level, None);
    assert_eq!(
        field_names(&line),
        [
            "date",
            "kubernetes.container_name",
            "kubernetes.labels.app",
            "kubernetes.namespace_name",
            "kubernetes.pod_name",
            "stream"
        ]
    );
}

#[test]
fn python_json_logger_with_exc_info() {
    let line = parse(
        r#"{"asctime": "2026-11-22 11:18:20,123", "levelname": "CRITICAL", "name": "shop", "message": "charge failed", "exc_info": "Traceback (most recent call last):\n  File \"/srv/shop/pay.py\", line 9, in pay\n    raise ValueError(\"bad amount\")\nValueError: bad amount"}"#,
    );
    assert_eq!(line.level, Some(Level::Fatal));
    assert_eq!(line.timestamp_unix_nanos, None);
    let exception = line.exception.as_ref().unwrap();
    assert_eq!(exception.type_name.as_deref(), Some("ValueError"));
    assert_eq!(exception.source_key, "exc_info");
}

#[test]
fn elastic_common_schema() {
    let line = parse(
        r#"{"@timestamp":"2026-11-22T11:18:20.123Z","log.level":"warn","message":"disk almost full","ecs.version":"1.6.0","service.name":"shop","host":{"hostname":"web-1"},"error":{"type":"java.io.IOException","message":"No space left on device","stack_trace":"java.io.IOException: No space left on device\n\tat java.base/java.io.FileOutputStream.writeBytes(Native Method)"}}"#,
    );
    assert_eq!(
        line.timestamp_unix_nanos,
        Some(AT_SECONDS * NANOS + 123_000_000)
    );
    assert_eq!(line.level, Some(Level::Warn));
    assert_eq!(line.service.as_deref(), Some("shop"));
    assert_eq!(line.host.as_deref(), Some("web-1"));
    let exception = line.exception.as_ref().unwrap();
    assert_eq!(exception.type_name.as_deref(), Some("java.io.IOException"));
    assert_eq!(exception.value.as_deref(), Some("No space left on device"));
    assert_eq!(exception.source_key, "error.stack_trace");
}

#[test]
fn malformed_json_is_kept_whole() {
    let raw = r#"{"level":"info","msg":"truncated by the send"#;
    let line = parse_line(raw.as_bytes(), &JsonLogLimits::default());
    assert_eq!(line.parse_error, Some(ParseError::BadJson));
    assert_eq!(
        line.parse_error.as_ref().map(ParseError::reason),
        Some("bad_json")
    );
    assert_eq!(line.message.as_deref(), Some(raw));
}

#[test]
fn many_keys_are_capped() {
    let members: Vec<String> = (0..150).map(|n| format!(r#""id_{n:03}":{n}"#)).collect();
    let line = parse_line(
        format!("{{{}}}", members.join(",")).as_bytes(),
        &JsonLogLimits::default(),
    );
    assert_eq!(line.fields.len(), 101);
    assert_eq!(line.fields[99].0, "id_099");
    let (name, FieldValue::Json(overflow)) = &line.fields[100] else {
        panic!("no overflow field")
    };
    assert_eq!(name, OVERFLOW_FIELD);
    let overflow: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(overflow).unwrap();
    assert_eq!(overflow.len(), 50);
    assert_eq!(overflow["id_149"], 149);
}
