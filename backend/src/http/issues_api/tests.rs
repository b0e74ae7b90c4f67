//! The projects and issues API through the whole router, fed through the
//! Sentry endpoint as an SDK would.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};

use super::super::sentry_api::tests::{app, call, envelope, post};
use crate::store::tokens::{self, Scope};

const WRITER: &str = "writer-token-0123456789";
const READER: &str = "reader-token-0123456789";

async fn get(app: &Router, path: &str) -> (StatusCode, Value) {
    let answer = call(
        app,
        Request::get(path)
            .header(header::HOST, "errors.example:8080")
            .header(header::AUTHORIZATION, format!("Bearer {READER}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    (answer.status, answer.json())
}

async fn send(
    app: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "errors.example:8080")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = if body.is_null() {
        Body::empty()
    } else {
        Body::from(body.to_string())
    };
    let answer = call(app, request.body(body).unwrap()).await;
    (answer.status, answer.json())
}

/// A Python-like exception event raised in `function`.
fn crash(n: u32, kind: &str, function: &str, release: &str, environment: &str) -> Value {
    json!({
        "event_id": format!("{n:032x}"),
        "platform": "python",
        "release": release,
        "environment": environment,
        "user": {"id": format!("user-{}", n % 2)},
        "tags": {"region": "eu-west"},
        "breadcrumbs": {"values": [{"category": "cart", "message": format!("step {n}")}]},
        "exception": {"values": [{"type": kind, "value": format!("failed for order {n}"),
            "stacktrace": {"frames": [
                {"module": "shop.main", "function": "main", "lineno": 10, "in_app": true},
                {"module": "shop.orders", "function": function, "lineno": 20 + n, "in_app": true,
                 "context_line": "    raise ValueError(order)"}
            ]}}]}
    })
}

async fn setup() -> (Router, crate::http::AppState, String, tempfile::TempDir) {
    let (app, state, key, dir) = app().await;
    for (secret, scope) in [(WRITER, Scope::Write), (READER, Scope::Read)] {
        state
            .store
            .write(move |conn| tokens::ensure(conn, "t", scope, secret))
            .await
            .unwrap();
    }
    (app, state, key, dir)
}

async fn ingest(app: &Router, key: &str, event: Value) {
    let answer = call(
        app,
        post("/api/1/envelope/", Some(key), None, envelope(&event)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
}

#[tokio::test]
async fn projects_show_dsns_and_changes_need_a_writer() {
    let (app, _state, key, _dir) = setup().await;
    let (status, projects) = get(&app, "/api/v1/projects").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(projects[0]["name"], "default");
    assert_eq!(
        projects[0]["keys"][0]["dsn"],
        format!("http://{key}@errors.example:8080/1")
    );

    let new = json!({"name": "shop"});
    let (status, _) = send(&app, Method::POST, "/api/v1/projects", None, new.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(
        &app,
        Method::POST,
        "/api/v1/projects",
        Some(READER),
        new.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, shop) = send(
        &app,
        Method::POST,
        "/api/v1/projects",
        Some(WRITER),
        new.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{shop}");
    assert_eq!(shop["id"], 2);
    let (status, taken) = send(&app, Method::POST, "/api/v1/projects", Some(WRITER), new).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        taken["error"].as_str().unwrap().contains("exists"),
        "{taken}"
    );
    let (status, _) = send(
        &app,
        Method::POST,
        "/api/v1/projects",
        Some(WRITER),
        json!({"name": " "}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A second key, then revoke it: the SDK using it gets 403.
    let (status, extra) = send(
        &app,
        Method::POST,
        "/api/v1/projects/2/keys",
        Some(WRITER),
        json!({"label": "browser"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{extra}");
    assert_eq!(extra["label"], "browser");
    let extra_key = extra["public_key"].as_str().unwrap().to_owned();
    let (status, plain) = send(
        &app,
        Method::POST,
        "/api/v1/projects/2/keys",
        Some(WRITER),
        Value::Null,
    )
    .await;
    assert_eq!(
        (status, plain["label"].as_str()),
        (StatusCode::CREATED, Some("default"))
    );
    let (status, _) = send(
        &app,
        Method::POST,
        "/api/v1/projects/9/keys",
        Some(WRITER),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let ok = call(
        &app,
        post(
            "/api/2/store/",
            Some(&extra_key),
            None,
            b"{\"message\":\"hi\"}".to_vec(),
        ),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    let path = format!("/api/v1/projects/2/keys/{}", extra["id"]);
    let (status, revoked) = send(&app, Method::DELETE, &path, Some(WRITER), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert!(revoked["revoked_at_ms"].is_i64());
    let refused = call(
        &app,
        post(
            "/api/2/store/",
            Some(&extra_key),
            None,
            b"{\"message\":\"hi\"}".to_vec(),
        ),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let (status, _) = send(
        &app,
        Method::DELETE,
        "/api/v1/projects/2/keys/999",
        Some(WRITER),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(
        &app,
        Method::DELETE,
        "/api/v1/projects/x/keys/1",
        Some(WRITER),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn issues_are_listed_filtered_sorted_and_paged() {
    let (app, _state, key, _dir) = setup().await;
    ingest(&app, &key, crash(1, "ValueError", "charge", "1.0", "prod")).await;
    ingest(&app, &key, crash(2, "ValueError", "charge", "1.1", "prod")).await;
    ingest(&app, &key, crash(3, "ValueError", "charge", "1.1", "prod")).await;
    ingest(&app, &key, crash(4, "KeyError", "refund", "1.1", "staging")).await;

    let (status, all) = get(&app, "/api/v1/issues").await;
    assert_eq!(status, StatusCode::OK);
    let titles: Vec<&str> = all["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "KeyError: failed for order 4",
            "ValueError: failed for order 3"
        ]
    );
    let charge = &all["issues"][1];
    assert_eq!(
        (charge["count"].as_u64(), charge["user_count"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(charge["culprit"], "shop.orders in charge");
    assert_eq!(
        (
            charge["first_release"].as_str(),
            charge["last_release"].as_str()
        ),
        (Some("1.0"), Some("1.1"))
    );

    let ids = |list: &Value| -> Vec<i64> {
        list["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .collect()
    };
    let charge_id = charge["id"].as_i64().unwrap();
    let refund_id = all["issues"][0]["id"].as_i64().unwrap();
    for (query, want) in [
        ("sort=count", vec![charge_id, refund_id]),
        ("sort=first_seen", vec![refund_id, charge_id]),
        ("environment=staging", vec![refund_id]),
        ("release=1.0", vec![charge_id]),
        ("release=9.9", vec![]),
        ("q=keyerror", vec![refund_id]),
        ("q=orders%20charge", vec![charge_id]),
        ("q=%25", vec![]),
        ("status=unresolved&project=1", vec![refund_id, charge_id]),
        ("status=ignored", vec![]),
        ("project=2", vec![]),
        ("from=-1h&until=now", vec![refund_id, charge_id]),
        ("until=1000", vec![]),
    ] {
        let (status, list) = get(&app, &format!("/api/v1/issues?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {list}");
        assert_eq!(ids(&list), want, "{query}");
    }
    let (_, first_page) = get(&app, "/api/v1/issues?limit=1").await;
    assert_eq!(ids(&first_page), [refund_id]);
    assert_eq!(first_page["next_offset"], 1);
    let (_, second_page) = get(&app, "/api/v1/issues?limit=1&offset=1").await;
    assert_eq!(ids(&second_page), [charge_id]);
    assert_eq!(second_page["next_offset"], Value::Null);

    for (query, complaint) in [
        ("status=open", "status \"open\" is not one of"),
        ("sort=size", "sort \"size\""),
        ("limit=many", "limit must be a number"),
        ("from=someday", "from:"),
    ] {
        let (status, error) = get(&app, &format!("/api/v1/issues?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            error["error"].as_str().unwrap().contains(complaint),
            "{query}: {error}"
        );
    }
}

#[tokio::test]
async fn an_issue_shows_its_latest_event_tags_and_hours_and_pages_its_events() {
    let (app, _state, key, _dir) = setup().await;
    for n in 1..=3 {
        ingest(&app, &key, crash(n, "ValueError", "charge", "1.0", "prod")).await;
    }
    let (_, list) = get(&app, "/api/v1/issues").await;
    let id = list["issues"][0]["id"].as_i64().unwrap();
    let (status, detail) = get(&app, &format!("/api/v1/issues/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["issue"]["count"], 3);
    assert_eq!(
        detail["grouping_components"],
        json!([
            "type:ValueError",
            "frame:shop.main|main",
            "frame:shop.orders|charge"
        ])
    );
    let latest = &detail["latest_event"];
    assert_eq!(latest["event_id"], format!("{:032x}", 3));
    let frames = &latest["exceptions"][0]["stacktrace"]["frames"];
    assert_eq!(frames[1]["function"], "charge");
    assert_eq!(frames[1]["lineno"], 23);
    assert_eq!(frames[1]["context_line"], "    raise ValueError(order)");
    assert_eq!(latest["breadcrumbs"][0]["message"], "step 3");
    assert_eq!(
        latest["tags"],
        json!([{"key": "region", "value": "eu-west"}])
    );
    let tag = |key: &str| {
        detail["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == key)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        tag("region")["values"],
        json!([{"value": "eu-west", "count": 3}])
    );
    assert_eq!(tag("environment")["total"], 3);
    assert_eq!(tag("user")["values"].as_array().unwrap().len(), 2);
    let hourly = detail["hourly"].as_array().unwrap();
    assert_eq!(hourly.len(), 1);
    assert_eq!(hourly[0]["count"], 3);

    let (status, page) = get(&app, &format!("/api/v1/issues/{id}/events?limit=2")).await;
    assert_eq!(status, StatusCode::OK);
    let event_ids: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(event_ids, [format!("{:032x}", 3), format!("{:032x}", 2)]);
    let cursor = page["next_cursor"].as_i64().unwrap();
    let (_, rest) = get(
        &app,
        &format!("/api/v1/issues/{id}/events?limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(rest["events"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_cursor"], Value::Null);

    for path in ["/api/v1/issues/999", "/api/v1/issues/999/events"] {
        let (status, _) = get(&app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = get(&app, "/api/v1/issues/abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn status_changes_need_a_writer_and_resolved_issues_regress() {
    let (app, _state, key, _dir) = setup().await;
    ingest(&app, &key, crash(1, "ValueError", "charge", "1.0", "prod")).await;
    let (_, list) = get(&app, "/api/v1/issues").await;
    let path = format!("/api/v1/issues/{}", list["issues"][0]["id"]);
    let resolve = json!({"status": "resolved"});
    let (status, _) = send(&app, Method::PATCH, &path, None, resolve.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(&app, Method::PATCH, &path, Some(READER), resolve.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, error) = send(
        &app,
        Method::PATCH,
        &path,
        Some(WRITER),
        json!({"status": "fixed"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("resolved_in_next_release"),
        "{error}"
    );
    let (status, _) = send(
        &app,
        Method::PATCH,
        &path,
        Some(WRITER),
        json!({"state": "resolved"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, resolved) = send(&app, Method::PATCH, &path, Some(WRITER), resolve).await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["status"], "resolved");
    let (_, listed) = get(&app, "/api/v1/issues?status=resolved").await;
    assert_eq!(listed["issues"].as_array().unwrap().len(), 1);

    ingest(&app, &key, crash(2, "ValueError", "charge", "1.1", "prod")).await;
    let (_, detail) = get(&app, &path).await;
    let issue = &detail["issue"];
    assert_eq!(issue["status"], "unresolved");
    assert_eq!(issue["regressed"], true);
    assert_eq!(issue["regressed_in_release"], "1.1");
    assert_eq!(issue["count"], 2);
    let (status, _) = send(
        &app,
        Method::PATCH,
        "/api/v1/issues/999",
        Some(WRITER),
        json!({"status": "ignored"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
