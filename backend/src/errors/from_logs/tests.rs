use partout_protocols::jsonlog::JsonLogLimits;
use partout_protocols::sentry::grouping::group_event;

use super::*;
use crate::logs::raw::{RawLog, Source};
use crate::logs::record::{normalize, NormalizeConfig, TimePolicy};

const NOW: i64 = 1_795_390_300_000_000_000;

/// A line of `ingest-protocols/tests/fixtures/logs/<name>` (real logger
/// output), with its time set near [`NOW`].
fn fixture_line(name: &str, index: usize) -> String {
    let path = format!(
        "{}/../ingest-protocols/tests/fixtures/logs/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .nth(index)
        .unwrap()
        .to_owned()
}

fn stored(line: &str, seq: u64) -> ExceptionLine {
    let raw = RawLog::new(Source::JsonLine, NOW, line.as_bytes(), 1 << 20);
    let config = NormalizeConfig {
        json: JsonLogLimits::default(),
        time: TimePolicy {
            max_past_nanos: 30 * 86_400_000_000_000,
            max_future_nanos: 3_600_000_000_000,
        },
    };
    ExceptionLine {
        seq,
        record: normalize(&raw, &config),
    }
}

fn event_of(line: &str) -> Event {
    event_from_log(&stored(line, 7), &NormalizeLimits::default())
}

#[test]
fn a_structlog_traceback_becomes_a_python_exception_with_frames() {
    let line = fixture_line("structlog-exceptions.jsonl", 0);
    let stored = stored(&line, 7);
    assert!(stored.record.is_error_with_exception());
    let event = event_from_log(&stored, &NormalizeLimits::default());
    assert_eq!(event.platform, "python");
    assert_eq!(event.level.as_str(), "error");
    assert_eq!(event.logger.as_deref(), Some("shop"));
    assert_eq!(event.exceptions.len(), 1);
    let exception = &event.exceptions[0];
    assert_eq!(exception.kind.as_deref(), Some("PaymentDeclined"));
    assert_eq!(exception.module.as_deref(), Some("payments"));
    assert_eq!(
        exception.value.as_deref(),
        Some("card declined for order A-1001")
    );
    let frames = &exception.stacktrace.as_ref().unwrap().frames;
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[1].function.as_deref(), Some("charge_card"));
    assert_eq!(
        frames[1].filename.as_deref(),
        Some("/srv/shop/app/payments.py")
    );
    assert_eq!(frames[1].lineno, Some(6));
    assert_eq!(frames[1].in_app, Some(true));
    assert_eq!(
        event.message.as_ref().and_then(|m| m.text()),
        Some("payment failed")
    );
    assert!(event
        .tags
        .contains(&("service".to_owned(), "shop".to_owned())));
    assert!(event
        .tags
        .contains(&("log.source".to_owned(), "json".to_owned())));
    // The traceback text is in the exception, not again in `extra`.
    assert_eq!(
        event.extra.get("order_id").and_then(Value::as_str),
        Some("A-1001")
    );
    assert!(!event.extra.contains_key("exception"));
    let grouping = group_event(&event);
    assert_eq!(
        grouping.title,
        "PaymentDeclined: card declined for order A-1001"
    );
}

#[test]
fn the_link_finds_the_line_in_the_logs_page() {
    let line = fixture_line("structlog-exceptions.jsonl", 0);
    let stored = stored(&line, 7);
    let link = log_link(&stored.record);
    assert_eq!(
        link.query,
        "service:shop AND level:error AND \"payment failed\""
    );
    assert_eq!(link.timestamp, "2026-11-22T23:31:06.680302Z");
    assert_eq!(
        link.url,
        "/ui/logs?q=service%3Ashop%20AND%20level%3Aerror%20AND%20%22payment%20failed%22\
         &from=2026-11-22T23%3A31%3A06.68Z&until=2026-11-22T23%3A31%3A06.681Z"
    );
    // The query is one the search box parses.
    assert!(crate::logs::lang::parse(&link.query).is_ok());
    let event = event_from_log(&stored, &NormalizeLimits::default());
    let context = event.contexts.get("log").unwrap();
    assert_eq!(context["url"], link.url.as_str());
    assert_eq!(context["query"], link.query.as_str());
    assert_eq!(context["seq"], 7);
}

#[test]
fn a_chained_traceback_keeps_the_cause_first() {
    let event = event_of(&fixture_line("structlog-exceptions.jsonl", 1));
    let kinds: Vec<_> = event
        .exceptions
        .iter()
        .map(|exception| exception.kind.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["KeyError", "PaymentDeclined"]);
    assert!(event.exceptions[0].mechanism.is_none());
    assert_eq!(
        event.exceptions[1]
            .mechanism
            .as_ref()
            .and_then(|m| m.handled),
        Some(true)
    );
}

#[test]
fn loguru_and_pino_lines() {
    let loguru = event_of(&fixture_line("loguru-exceptions.jsonl", 1));
    assert_eq!(loguru.platform, "python");
    let frames = &loguru.exceptions[0].stacktrace.as_ref().unwrap().frames;
    assert_eq!(frames.len(), 3);
    assert_eq!(
        loguru.exceptions[0].kind.as_deref(),
        Some("PaymentDeclined")
    );

    let pino = event_of(&fixture_line("node-exceptions.jsonl", 1));
    assert_eq!(pino.platform, "node");
    assert_eq!(pino.server_name.as_deref(), Some("web-1"));
    assert_eq!(pino.level.as_str(), "error");
    let exception = &pino.exceptions[0];
    assert_eq!(exception.kind.as_deref(), Some("PaymentDeclined"));
    let frames = &exception.stacktrace.as_ref().unwrap().frames;
    assert_eq!(
        frames.last().unwrap().function.as_deref(),
        Some("chargeCard")
    );
    assert_eq!(frames.last().unwrap().colno, Some(38));
    // Grouping keys on the application's own frames.
    let grouping = group_event(&pino);
    assert!(grouping
        .components
        .iter()
        .all(|component| !component.contains("node_modules")));
}

#[test]
fn the_same_code_groups_together_and_the_same_line_keeps_its_id() {
    let first = fixture_line("structlog-exceptions.jsonl", 0);
    let second = first.replace("A-1001", "B-2002");
    let a = event_of(&first);
    let b = event_of(&second);
    assert_eq!(group_event(&a).key, group_event(&b).key);
    assert_ne!(a.event_id, b.event_id);
    assert_eq!(event_of(&first).event_id, a.event_id);
    let other_seq = event_from_log(&stored(&first, 8), &NormalizeLimits::default());
    assert_ne!(other_seq.event_id, a.event_id);
}

#[test]
fn without_a_readable_stack_the_type_and_message_group() {
    let event = event_of(
        r#"{"level":"fatal","msg":"worker crashed","error":"connection refused","stacktrace":"main.main\n\t/app/main.go:42","release":"api@2.0","env":"prod"}"#,
    );
    assert_eq!(event.level.as_str(), "fatal");
    assert_eq!(event.platform, "other");
    assert_eq!(event.exceptions.len(), 1);
    assert_eq!(
        event.exceptions[0].value.as_deref(),
        Some("connection refused")
    );
    assert!(event.exceptions[0].stacktrace.is_none());
    assert_eq!(event.release.as_deref(), Some("api@2.0"));
    assert_eq!(event.environment.as_deref(), Some("prod"));
}

#[test]
fn structlog_dict_tracebacks() {
    let line = r#"{"event":"failed","level":"error","exception":[{"exc_type":"payments.PaymentDeclined","exc_value":"declined","frames":[{"filename":"/srv/shop/app/payments.py","lineno":6,"name":"charge_card","line":"raise PaymentDeclined()"}]},{"exc_type":"KeyError","exc_value":"'x'","frames":[]}]}"#;
    let event = event_of(line);
    let kinds: Vec<_> = event
        .exceptions
        .iter()
        .map(|exception| exception.kind.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["KeyError", "PaymentDeclined"]);
    assert_eq!(event.exceptions[1].module.as_deref(), Some("payments"));
    let frame = &event.exceptions[1].stacktrace.as_ref().unwrap().frames[0];
    assert_eq!(
        frame.context_line.as_deref(),
        Some("raise PaymentDeclined()")
    );
}

#[test]
fn lines_below_error_or_without_exception_are_not_errors() {
    let traceback = fixture_line("structlog-exceptions.jsonl", 0);
    let warning = traceback.replace("\"level\": \"error\"", "\"level\": \"warning\"");
    assert!(!stored(&warning, 1).record.is_error_with_exception());
    assert!(!stored(r#"{"level":"error","msg":"plain"}"#, 1)
        .record
        .is_error_with_exception());
    assert!(!stored("not json at all", 1)
        .record
        .is_error_with_exception());
}
