//! Error log lines through the whole router into issues, and SDK log
//! items into the log store: `POST /api/v1/logs` and the Sentry envelope
//! endpoint in, `/api/v1/issues` and `/api/v1/logs/search` out.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use super::*;
use crate::errors::prepare::tests::fixture_raw;
use crate::http::test_support::{self, admin_auth};
use crate::http::{router, AppState};
use crate::logs::day::rfc3339;
use crate::telemetry::ProtocolLabels;

struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

async fn call(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        body: body.to_vec(),
    }
}

fn now_nanos() -> i64 {
    unix_ms_now().saturating_mul(1_000_000)
}

/// A router whose log store forwards error lines to a running task, and
/// the default project's key.
async fn app() -> (Router, AppState, String, tempfile::TempDir) {
    let (state, dir) = test_support::state().await;
    let (_, key) = state
        .store
        .write(|conn| projects::ensure_default(conn, 1))
        .await
        .unwrap();
    let (sender, receiver) = queue();
    state.logs.forward_exceptions(sender).await.unwrap();
    tokio::spawn(run(
        LogErrors {
            store: state.store.clone(),
            config: state.errors,
            runtime: state.error_runtime.clone(),
            telemetry: Arc::clone(&state.telemetry),
        },
        receiver,
    ));
    (router(state.clone()), state, key.unwrap().public_key, dir)
}

async fn get(app: &Router, path: &str) -> Value {
    let (name, value) = admin_auth();
    let answer = call(
        app,
        Request::get(path)
            .header(name, value)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{path}");
    answer.json()
}

async fn post_logs(app: &Router, body: String) {
    let (name, value) = admin_auth();
    let answer = call(
        app,
        Request::post("/api/v1/logs")
            .header(name, value)
            .header(header::CONTENT_TYPE, "application/x-ndjson")
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
}

/// The issues once their total count reaches `events`, polled: the task
/// records after the log writer indexed the line.
async fn issues_when(app: &Router, events: u64) -> Vec<Value> {
    for _ in 0..100 {
        let list = get(app, "/api/v1/issues").await;
        let issues = list["issues"].as_array().cloned().unwrap_or_default();
        let total: u64 = issues
            .iter()
            .map(|issue| issue["count"].as_u64().unwrap_or(0))
            .sum();
        if total >= events {
            return issues;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no issue with {events} events appeared");
}

/// structlog's line of `format_exc_info` (real output), stamped now.
fn structlog_line() -> String {
    let path = format!(
        "{}/../ingest-protocols/tests/fixtures/logs/structlog-exceptions.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    line["timestamp"] = Value::from(rfc3339(now_nanos() - 1_000_000_000));
    line.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_log_line_becomes_an_issue_linked_to_the_line() {
    let (app, state, _key, _dir) = app().await;
    let line = structlog_line();
    post_logs(&app, format!("{line}\n")).await;
    let issues = issues_when(&app, 1).await;
    assert_eq!(issues.len(), 1);
    let issue = &issues[0];
    assert_eq!(
        issue["title"],
        "PaymentDeclined: card declined for order A-1001"
    );
    assert_eq!(issue["platform"], "python");
    assert_eq!(issue["grouping_method"], "exception");
    assert_eq!(issue["project_id"], 1);
    let id = issue["id"].as_i64().unwrap();
    let detail = get(&app, &format!("/api/v1/issues/{id}")).await;
    let event = &detail["latest_event"];
    let exception = &event["exceptions"][0];
    assert_eq!(exception["type"], "PaymentDeclined");
    assert_eq!(exception["module"], "payments");
    let frames = exception["stacktrace"]["frames"].as_array().unwrap();
    let functions: Vec<&str> = frames
        .iter()
        .map(|frame| frame["function"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(functions, ["<module>", "charge_card"]);
    assert_eq!(frames[1]["lineno"], 6);
    assert_eq!(event["logger"], "shop");
    let link = &event["contexts"]["log"];
    let url = link["url"].as_str().unwrap();
    assert!(url.starts_with("/ui/logs?q="), "{url}");

    // The link's query and range find exactly the line.
    state.logs.commit().await.unwrap();
    let search = url.replacen("/ui/logs?", "/api/v1/logs/search?", 1);
    let found = get(&app, &search).await;
    let lines = found["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{found}");
    assert_eq!(lines[0]["message"], "payment failed");

    // The same line again: the same issue, counted twice.
    post_logs(&app, format!("{line}\n")).await;
    let issues = issues_when(&app, 2).await;
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0]["count"], 2);
    // The task counts an event just after its commit, which the issue
    // list may show first.
    let counted = || {
        state
            .telemetry
            .ingested_items
            .get_or_create(&ProtocolLabels {
                protocol: PROTOCOL.to_owned(),
            })
            .get()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while counted() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(counted(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_error_lines_with_an_exception_become_events() {
    let (app, _state, _key, _dir) = app().await;
    let error = structlog_line();
    let warning = error.replace("\"level\":\"error\"", "\"level\":\"warning\"");
    assert_ne!(warning, error);
    let plain = r#"{"level":"error","event":"no exception here","service":"shop"}"#;
    let node = r#"{"level":50,"msg":"lookup failed","hostname":"web-1","err":{"type":"TypeError","message":"Cannot read properties of null (reading 'x')","stack":"TypeError: Cannot read properties of null (reading 'x')\n    at Object.<anonymous> (/srv/shop/app.js:6:12)\n    at Module._compile (node:internal/modules/cjs/loader:1521:14)"}}"#;
    post_logs(&app, format!("{warning}\n{plain}\n{node}\n{error}\n")).await;
    let issues = issues_when(&app, 2).await;
    let mut titles: Vec<&str> = issues
        .iter()
        .map(|issue| issue["title"].as_str().unwrap_or(""))
        .collect();
    titles.sort_unstable();
    assert_eq!(
        titles,
        [
            "PaymentDeclined: card declined for order A-1001",
            "TypeError: Cannot read properties of null (reading 'x')"
        ]
    );
    // Nothing else arrives later.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(issues_when(&app, 2).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_rate_limit_lines_are_stored_and_counted_not_recorded() {
    let (state, _dir) = test_support::state().await;
    state
        .store
        .write(|conn| projects::ensure_default(conn, 1))
        .await
        .unwrap();
    let mut state = state;
    state.unshared_mut().errors.events_per_minute = 1;
    let (sender, receiver) = queue();
    state.logs.forward_exceptions(sender).await.unwrap();
    let task = tokio::spawn(run(
        LogErrors {
            store: state.store.clone(),
            config: state.errors,
            runtime: state.error_runtime.clone(),
            telemetry: Arc::clone(&state.telemetry),
        },
        receiver,
    ));
    let app = router(state.clone());
    let line = structlog_line();
    post_logs(&app, format!("{line}\n")).await;
    issues_when(&app, 1).await;
    post_logs(&app, format!("{line}\n{line}\n")).await;
    let dropped = || {
        state
            .telemetry
            .errors_from_logs_dropped
            .get_or_create(&ReasonLabels {
                reason: "rate_limited".to_owned(),
            })
            .get()
    };
    for _ in 0..100 {
        if dropped() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(dropped(), 2);
    assert_eq!(issues_when(&app, 1).await[0]["count"], 1);
    drop(task);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_log_items_are_stored_as_logs_before_the_answer() {
    let (app, state, key, _dir) = app().await;
    let answer = call(
        &app,
        Request::post("/api/1/envelope/")
            .header(header::CONTENT_TYPE, "application/x-sentry-envelope")
            .header(header::CONTENT_ENCODING, "gzip")
            .header(
                "x-sentry-auth",
                format!(
                    "Sentry sentry_key={key}, sentry_version=7, sentry_client=sentry.python/2.75.0"
                ),
            )
            .body(Body::from(fixture_raw("sentry-envelope-logs.wire.gz")))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    // Durable on the answer; searchable after the next commit.
    state.logs.commit().await.unwrap();
    let found = get(&app, "/api/v1/logs/search?q=project:default&from=-1000d").await;
    let lines = found["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3, "{found}");
    let paid = lines
        .iter()
        .find(|line| line["message"] == "order A-1001 paid")
        .unwrap();
    assert_eq!(paid["level"], "info");
    assert_eq!(paid["service"], "shop");
    assert_eq!(paid["host"], "web-1");
    assert_eq!(
        paid["fields"]["trace_id"],
        "cfa70a8100a14d52937f2cad1b569412"
    );
    assert_eq!(paid["fields"]["release"], "shop@1.4.2");
    assert_eq!(paid["fields"]["amount"], 42.5);
    let counted = state
        .telemetry
        .ingested_items
        .get_or_create(&ProtocolLabels {
            protocol: crate::errors::sentry_logs::PROTOCOL.to_owned(),
        })
        .get();
    assert_eq!(counted, 3);
    // An SDK's error log without exception data is a log, not an issue.
    assert!(get(&app, "/api/v1/issues").await["issues"]
        .as_array()
        .unwrap()
        .is_empty());
}
