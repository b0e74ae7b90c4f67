//! Issue 5, the bridges between logs and errors, through the real binary:
//! a structlog error line with a traceback posted to `/api/v1/logs`
//! becomes an issue with the traceback's exception and frames and a link
//! back to the line, and the same line again counts twice in that issue;
//! the real Python `sentry-sdk`'s `sentry_sdk.logger` records land in the
//! log store. Every `/api/v1` request carries the bearer token
//! ([`partout_e2e::http`]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use partout_e2e::{http, output_dir, target_dir, Partout};
use serde_json::Value;

/// A structlog `format_exc_info` line as structlog 26.1 wrote it
/// (`ingest-protocols/tests/fixtures/logs`), stamped now.
fn structlog_line() -> String {
    let path = format!(
        "{}/../ingest-protocols/tests/fixtures/logs/structlog-exceptions.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    line["timestamp"] = Value::from(now);
    line.to_string()
}

fn get(partout: &Partout, path: &str) -> Value {
    let response = http()
        .get(format!("{}{path}", partout.url()))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().unwrap()
}

fn post_logs(partout: &Partout, body: String) {
    let response = http()
        .post(format!("{}/api/v1/logs", partout.url()))
        .body(body)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Polls `check` for up to 20 s.
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn issues(partout: &Partout) -> Vec<Value> {
    get(partout, "/api/v1/issues")["issues"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn a_structlog_error_line_becomes_an_issue_linked_to_the_line() {
    let partout = Partout::start();
    let line = structlog_line();
    post_logs(&partout, format!("{line}\n"));
    let issue = eventually("the issue", || issues(&partout).into_iter().next());
    assert_eq!(
        issue["title"],
        "PaymentDeclined: card declined for order A-1001"
    );
    assert_eq!(issue["platform"], "python");
    let detail = get(&partout, &format!("/api/v1/issues/{}", issue["id"]));
    let event = &detail["latest_event"];
    let exception = &event["exceptions"][0];
    assert_eq!(exception["type"], "PaymentDeclined");
    let frames: Vec<(String, u64)> = exception["stacktrace"]["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|frame| {
            (
                frame["function"].as_str().unwrap().to_owned(),
                frame["lineno"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        frames,
        [("<module>".to_owned(), 7), ("charge_card".to_owned(), 6)]
    );
    let url = event["contexts"]["log"]["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("/ui/logs?q="), "{url}");
    // The link's query and range find the line once it is searchable.
    let search = url.replacen("/ui/logs?", "/api/v1/logs/search?", 1);
    let found = eventually("the linked line", || {
        let lines = get(&partout, &search)["lines"].as_array().cloned()?;
        (!lines.is_empty()).then_some(lines)
    });
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["message"], "payment failed");

    post_logs(&partout, format!("{line}\n"));
    let counted = eventually("the second event", || {
        let issues = issues(&partout);
        (issues.first()?["count"] == 2).then_some(issues)
    });
    assert_eq!(counted.len(), 1);
    assert_eq!(counted[0]["id"], issue["id"]);
}

/// The virtualenv's Python with `sentry-sdk`, as `tests/errors.rs` finds
/// it; `None` (with a message) when absent.
fn sentry_python() -> Option<PathBuf> {
    if let Some(python) = std::env::var_os("PARTOUT_SENTRY_PYTHON") {
        return Some(PathBuf::from(python));
    }
    let python = target_dir().join("sentry-sdk-venv/bin/python");
    if python.is_file() {
        return Some(python);
    }
    eprintln!(
        "skipping: the Python sentry-sdk virtualenv {} is missing",
        python.display()
    );
    None
}

const SDK_SCRIPT: &str = r#"import sys

import sentry_sdk

sentry_sdk.init(dsn=sys.argv[1], enable_logs=True, release="shop@1.4.2", server_name="web-1")
sentry_sdk.logger.info("order {order_id} paid", order_id="A-1001", attributes={"amount": 42.5})
sentry_sdk.logger.error("payment declined for order A-1002")
sentry_sdk.flush(timeout=30)
"#;

#[test]
fn python_sdk_logger_records_are_searchable_logs() {
    let Some(python) = sentry_python() else {
        return;
    };
    let partout = Partout::start();
    let projects = get(&partout, "/api/v1/projects");
    let dsn = projects[0]["keys"][0]["dsn"].as_str().unwrap().to_owned();
    let dir = output_dir("logs-errors-sdk");
    let script = dir.join("logs.py");
    std::fs::write(&script, SDK_SCRIPT).unwrap();
    let output = Command::new(python)
        .arg(&script)
        .arg(&dsn)
        .env_remove("SENTRY_DSN")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = eventually("the SDK's log lines", || {
        let found = get(&partout, "/api/v1/logs/search?q=project:default&from=-1h");
        let lines = found["lines"].as_array().cloned()?;
        (lines.len() == 2).then_some(lines)
    });
    let paid = lines
        .iter()
        .find(|line| line["message"] == "order A-1001 paid")
        .unwrap();
    assert_eq!(paid["level"], "info");
    assert_eq!(paid["service"], "shop");
    assert_eq!(paid["host"], "web-1");
    assert_eq!(paid["fields"]["amount"], 42.5);
    assert_eq!(paid["fields"]["release"], "shop@1.4.2");
    assert!(paid["fields"]["trace_id"].is_string());
    let declined = lines
        .iter()
        .find(|line| line["message"] == "payment declined for order A-1002")
        .unwrap();
    assert_eq!(declined["level"], "error");
}
