//! Transactions, sessions and client reports through the whole router:
//! the envelopes the Python SDK really sent, read back through the
//! project's endpoints.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};

use crate::errors::prepare::tests::fixture;
use crate::http::sentry_api::tests::{app, call, envelope, post};
use crate::store::tokens::{self, Scope};
use crate::store::unix_ms_now;

const READER: &str = "stats-reader-token-0123456789";

async fn setup() -> (Router, crate::http::AppState, String, tempfile::TempDir) {
    let (app, state, key, dir) = app().await;
    state
        .store
        .write(|conn| tokens::ensure(conn, "reader", Scope::Read, READER))
        .await
        .unwrap();
    (app, state, key, dir)
}

async fn get(app: &Router, path: &str) -> (StatusCode, Value) {
    let answer = call(
        app,
        Request::get(path)
            .header(header::AUTHORIZATION, format!("Bearer {READER}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    (answer.status, answer.json())
}

async fn send(app: &Router, key: &str, path: &str, body: Vec<u8>) {
    let answer = call(app, post(path, Some(key), None, body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
}

/// A fixture with the hour of its timestamps moved to the current one:
/// session times are not corrected without a `sent_at`, and sessions
/// that started more than five days ago are not counted.
fn fresh(name: &str) -> Vec<u8> {
    let now = crate::logs::day::rfc3339(unix_ms_now() * 1_000_000);
    let hour = now.get(..13).unwrap();
    let text = String::from_utf8(fixture(name)).unwrap();
    assert!(text.contains("2026-11-22T23:"), "{name}");
    text.replace("2026-11-22T23", hour).into_bytes()
}

#[tokio::test]
async fn transactions_are_counted_per_name_with_their_durations() {
    let (app, state, key, _dir) = setup().await;
    for name in [
        "sentry-envelope-transaction.bin",
        "sentry-envelope-transaction-503.bin",
    ] {
        send(&app, &key, "/api/1/envelope/", fixture(name)).await;
    }
    // The old store endpoint takes a transaction as an event.
    // Whole seconds, so 0.25 s is exact in binary floating point.
    let end = (unix_ms_now() / 1000) as f64;
    let stored = json!({"type": "transaction", "transaction": "GET /cart",
        "start_timestamp": end - 0.25, "timestamp": end,
        "contexts": {"trace": {"op": "http.server", "status": "ok"}},
        "release": "shop@1.4.2", "environment": "prod"});
    send(&app, &key, "/api/1/store/", stored.to_string().into_bytes()).await;
    // A transaction without times is left out and counted; the event
    // next to it is stored all the same.
    let mut body = envelope(&json!({"message": "hello"}));
    body.extend_from_slice(b"{\"type\":\"transaction\"}\n{\"transaction\":\"x\"}\n");
    send(&app, &key, "/api/1/envelope/", body).await;

    let (status, list) = get(&app, "/api/v1/projects/1/transactions?from=-31d").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["truncated"], false);
    let transactions = list["transactions"].as_array().unwrap();
    assert_eq!(transactions.len(), 2, "{list}");
    let cart = &transactions[0];
    assert_eq!(cart["name"], "GET /cart");
    assert_eq!(cart["op"], "http.server");
    assert_eq!(
        (cart["count"].as_u64(), cart["errors"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(cart["max_ms"].as_f64(), Some(250.0));
    let p50 = cart["p50_ms"].as_f64().unwrap();
    assert!((1.495..=1.52).contains(&p50), "{cart}");
    let checkout = &transactions[1];
    assert_eq!(checkout["name"], "POST /checkout");
    assert_eq!(checkout["errors"], 0);
    assert_eq!(checkout["p99_ms"].as_f64(), Some(11.347));

    let (_, staging) = get(
        &app,
        "/api/v1/projects/1/transactions?from=-31d&environment=staging",
    )
    .await;
    assert_eq!(staging["transactions"], json!([]));
    let (_, released) = get(
        &app,
        "/api/v1/projects/1/transactions?from=-31d&release=shop@1.4.2&environment=prod&limit=1",
    )
    .await;
    assert_eq!(released["transactions"].as_array().unwrap().len(), 1);
    assert_eq!(released["truncated"], true);

    let metrics = state.telemetry.encode();
    assert!(
        metrics.contains(
            "partout_rejected_items_total{protocol=\"sentry\",reason=\"bad_transaction\"} 1"
        ),
        "{metrics}"
    );
    assert!(!metrics.contains("item_type=\"transaction\""), "{metrics}");
}

#[tokio::test]
async fn sessions_become_release_health_once_each() {
    let (app, _state, key, _dir) = setup().await;
    // An exited session with an error (twice: a retry), a crashed one of
    // the next release, and request-mode aggregates.
    for name in [
        "sentry-envelope-session.bin",
        "sentry-envelope-session.bin",
        "sentry-envelope-session-crashed.bin",
        "sentry-envelope-sessions.bin",
    ] {
        send(&app, &key, "/api/1/envelope/", fresh(name)).await;
    }
    // The error events of the release, as the SDK sent them.
    send(
        &app,
        &key,
        "/api/1/envelope/",
        fixture("sentry-envelope-exception.wire.gz"),
    )
    .await;

    let (status, list) = get(&app, "/api/v1/projects/1/releases?from=-2d").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let releases = list["releases"].as_array().unwrap();
    assert_eq!(releases.len(), 2, "{list}");
    let by_name = |name: &str| {
        releases
            .iter()
            .find(|release| release["release"] == name)
            .unwrap()
            .clone()
    };
    let current = by_name("shop@1.4.2");
    assert_eq!(current["sessions"], 6, "{current}");
    assert_eq!(current["exited"], 4);
    assert_eq!(current["errored"], 2);
    assert_eq!(current["crashed"], 0);
    assert_eq!(current["crash_free_rate"], 1.0);
    assert_eq!(current["users"], 1);
    assert_eq!(current["error_events"], 1);
    assert_eq!(current["new_issues"], 1);
    let next = by_name("shop@1.4.3");
    assert_eq!(
        (next["sessions"].as_u64(), next["crashed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(next["crash_free_rate"], 0.0);
    assert_eq!(next["users"], 0);
    assert!(next["first_seen_ms"].as_i64().unwrap() > 0);

    let (_, staging) = get(&app, "/api/v1/projects/1/releases?environment=staging").await;
    assert_eq!(staging["releases"], json!([]));
}

#[tokio::test]
async fn client_reports_count_what_sdks_dropped() {
    let (app, _state, key, _dir) = setup().await;
    for _ in 0..2 {
        send(
            &app,
            &key,
            "/api/1/envelope/",
            fixture("sentry-envelope-client-report.bin"),
        )
        .await;
    }
    let (status, list) = get(&app, "/api/v1/projects/1/client-reports?from=-31d").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 10);
    assert_eq!(
        list["discarded"],
        json!([
            {"reason": "before_send", "category": "error", "quantity": 6},
            {"reason": "sample_rate", "category": "span", "quantity": 2},
            {"reason": "sample_rate", "category": "transaction", "quantity": 2},
        ])
    );
}

#[tokio::test]
async fn reads_need_a_token_a_project_and_a_sane_range() {
    let (app, _state, _key, _dir) = setup().await;
    for path in [
        "/api/v1/projects/1/transactions",
        "/api/v1/projects/1/releases",
        "/api/v1/projects/1/client-reports",
    ] {
        let answer = call(&app, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{path}");
        let (status, body) = get(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (status, _) = get(&app, "/api/v1/projects/9/releases").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&app, "/api/v1/projects/x/releases").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for query in ["from=-1h&until=-2h", "from=-100d", "limit=0", "from=soon"] {
        let (status, body) = get(&app, &format!("/api/v1/projects/1/transactions?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
    }
}
