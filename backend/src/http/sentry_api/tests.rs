//! The Sentry endpoints through the whole router, with the body the real
//! Python SDK sent (`sentry-envelope-exception.wire.gz`) and variations
//! of it: every way to authenticate, every encoding, and every way to get
//! it wrong.

use std::io::Write;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::super::test_support::ADMIN_TOKEN;
use super::super::{router, test_support, AppState};
use crate::errors::prepare::tests::{fixture, fixture_raw};
use crate::errors::projects;

const EXCEPTION: &str = "sentry-envelope-exception.wire.gz";
const EVENT_ID: &str = "81ff5a4fefb44611815cfe1e0a0a0800";

pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn detail(&self) -> String {
        self.json()["detail"].as_str().unwrap_or("").to_owned()
    }
}

/// A router over a fresh store with the default project, and its key.
pub(crate) async fn app() -> (Router, AppState, String, tempfile::TempDir) {
    let (state, dir) = test_support::state().await;
    let (_, key) = state
        .store
        .write(|conn| projects::ensure_default(conn, 1))
        .await
        .unwrap();
    (router(state.clone()), state, key.unwrap().public_key, dir)
}

pub(crate) async fn call(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

pub(crate) fn auth(key: &str) -> String {
    format!("Sentry sentry_key={key}, sentry_version=7, sentry_client=sentry.python/2.75.0")
}

/// A POST of `body` to `path` with the SDK's headers.
pub(crate) fn post(
    path: &str,
    key: Option<&str>,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> Request<Body> {
    let mut request =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-sentry-envelope");
    if let Some(key) = key {
        request = request.header("x-sentry-auth", auth(key));
    }
    if let Some(encoding) = encoding {
        request = request.header(header::CONTENT_ENCODING, encoding);
    }
    request.body(Body::from(body)).unwrap()
}

/// An envelope with one event item.
pub(crate) fn envelope(event: &Value) -> Vec<u8> {
    let payload = event.to_string();
    format!(
        "{{\"sent_at\":\"2026-11-22T09:47:10Z\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
        payload.len()
    )
    .into_bytes()
}

async fn issues(app: &Router) -> Value {
    let answer = call(
        app,
        Request::get("/api/v1/issues")
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    answer.json()
}

#[tokio::test]
async fn the_python_sdk_envelope_is_stored_once() {
    let (app, state, key, _dir) = app().await;
    let request = post(
        "/api/1/envelope/",
        Some(&key),
        Some("gzip"),
        fixture_raw(EXCEPTION),
    );
    let answer = call(&app, request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.detail());
    assert_eq!(answer.json(), json!({"id": EVENT_ID}));
    assert_eq!(answer.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");

    // The SDK retries what it did not hear back about: same id, no double count.
    let again = post(
        "/api/1/envelope",
        Some(&key),
        Some("gzip"),
        fixture_raw(EXCEPTION),
    );
    assert_eq!(call(&app, again).await.status, StatusCode::OK);

    let listed = issues(&app).await;
    let issue = &listed["issues"][0];
    assert_eq!(listed["issues"].as_array().unwrap().len(), 1);
    assert_eq!(issue["count"], 1);
    assert_eq!(issue["user_count"], 1);
    assert_eq!(
        issue["title"],
        "PaymentDeclined: card declined for order A-1001"
    );
    assert_eq!(issue["culprit"], "__main__ in charge_card");
    assert_eq!(issue["status"], "unresolved");
    assert_eq!(issue["first_release"], "shop@1.4.2");
    assert_eq!(issue["grouping_method"], "exception");

    let metrics = state.telemetry.encode();
    assert!(
        metrics.contains("partout_ingested_items_total{protocol=\"sentry\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("partout_rejected_items_total{protocol=\"sentry\",reason=\"duplicate\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("partout_error_issue_changes_total{change=\"new\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn every_auth_form_and_every_encoding_is_accepted() {
    let (app, _state, key, _dir) = app().await;
    let event = |n: u32| json!({"event_id": format!("{n:032x}"), "message": "disk full"});
    // `sentry_key` in the query, as browser SDKs send.
    let request = post(
        &format!("/api/1/envelope/?sentry_key={key}&sentry_version=7"),
        None,
        None,
        envelope(&event(1)),
    );
    let answer = call(&app, request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.detail());
    // The DSN in the envelope header, as a tunnel forwards it.
    let payload = event(2).to_string();
    let body = format!(
        "{{\"dsn\":\"http://{key}@partout.example/1\"}}\n{{\"type\":\"event\"}}\n{payload}\n"
    );
    let answer = call(
        &app,
        post("/api/1/envelope/", None, None, body.into_bytes()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.detail());
    assert_eq!(answer.json()["id"], format!("{:032x}", 2));
    // The old store endpoint, with and without the slash.
    for (n, path) in [(3, "/api/1/store/"), (4, "/api/1/store")] {
        let body = event(n).to_string().into_bytes();
        let answer = call(&app, post(path, Some(&key), None, body)).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.detail());
    }
    // Compressed as the SDKs do.
    let plain = envelope(&event(5));
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(&plain).unwrap();
    let mut deflate = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    deflate.write_all(&envelope(&event(6))).unwrap();
    let mut brotli_body = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut brotli_body, 4096, 5, 22);
        writer.write_all(&envelope(&event(7))).unwrap();
    }
    for (encoding, body) in [
        ("gzip", gzip.finish().unwrap()),
        ("deflate", deflate.finish().unwrap()),
        ("br", brotli_body),
    ] {
        let answer = call(
            &app,
            post("/api/1/envelope/", Some(&key), Some(encoding), body),
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{encoding}: {}",
            answer.detail()
        );
    }
    let listed = issues(&app).await;
    assert_eq!(listed["issues"][0]["count"], 7);
}

#[tokio::test]
async fn wrong_keys_get_sentry_errors() {
    let (app, state, key, _dir) = app().await;
    let body = || fixture_raw(EXCEPTION);
    let cases = [
        (
            None,
            "/api/1/envelope/",
            StatusCode::UNAUTHORIZED,
            "missing authorization",
        ),
        (
            Some("0123456789abcdef0123456789abcdef"),
            "/api/1/envelope/",
            StatusCode::UNAUTHORIZED,
            "unknown",
        ),
        (
            Some(key.as_str()),
            "/api/2/envelope/",
            StatusCode::FORBIDDEN,
            "project 1",
        ),
    ];
    for (key, path, status, detail) in cases {
        let answer = call(&app, post(path, key, Some("gzip"), body())).await;
        assert_eq!(answer.status, status, "{key:?} {path}");
        assert!(answer.detail().contains(detail), "{}", answer.detail());
        assert_eq!(answer.headers["x-sentry-error"], answer.detail().as_str());
        assert_eq!(answer.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }
    let bad_header = Request::post("/api/1/envelope/")
        .header("x-sentry-auth", "Sentry sentry_version=7")
        .body(Body::from(fixture(EXCEPTION)))
        .unwrap();
    let answer = call(&app, bad_header).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(
        answer.detail().contains("missing sentry_key"),
        "{}",
        answer.detail()
    );

    let (_, key_row) = state
        .store
        .write(|conn| projects::ensure_default(conn, 1))
        .await
        .unwrap();
    let key_id = key_row.unwrap().id;
    state
        .store
        .write(move |conn| projects::revoke_key(conn, 1, key_id, 2))
        .await
        .unwrap();
    // Revoked behind the API's back: tell the key cache, as the API does.
    state.error_runtime.keys.invalidate();
    let answer = call(
        &app,
        post("/api/1/envelope/", Some(&key), Some("gzip"), body()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.detail(), "this DSN's key was revoked");
    let metrics = state.telemetry.encode();
    for reason in [
        "missing_auth",
        "unknown_key",
        "wrong_project",
        "bad_auth",
        "revoked_key",
    ] {
        assert!(
            metrics.contains(&format!("protocol=\"sentry\",reason=\"{reason}\"")),
            "{reason}: {metrics}"
        );
    }
}

#[tokio::test]
async fn bad_bodies_say_why() {
    let (app, _state, key, _dir) = app().await;
    // Each body is refused with 400 and a detail that says what is wrong.
    let cases: [(&str, Option<&str>, &[u8], &str); 5] = [
        (
            "/api/1/envelope/",
            None,
            b"not json\n",
            "invalid envelope header",
        ),
        (
            "/api/1/envelope/",
            Some("gzip"),
            b"not gzip",
            "cannot decompress the gzip body",
        ),
        (
            "/api/1/envelope/",
            Some("compress"),
            b"x",
            "unsupported Content-Encoding",
        ),
        (
            "/api/1/envelope/",
            None,
            b"{}\n{\"type\":\"event\",\"length\":50}\n{}\n",
            "item declares 50 bytes",
        ),
        ("/api/1/store/", None, b"[1, 2]", "invalid event"),
    ];
    for (path, encoding, body, detail) in cases {
        let answer = call(&app, post(path, Some(&key), encoding, body.to_vec())).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{detail}");
        assert!(
            answer.detail().contains(detail),
            "{detail}: {}",
            answer.detail()
        );
    }
    let answer = call(
        &app,
        post("/api/abc/envelope/", Some(&key), None, b"{}".to_vec()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.detail().contains("not a number"));
}

#[tokio::test]
async fn oversized_bodies_and_events_are_413() {
    let (state, _dir) = test_support::state().await;
    let (_, key) = state
        .store
        .write(|conn| projects::ensure_default(conn, 1))
        .await
        .unwrap();
    let key = key.unwrap().public_key;
    let mut state = state;
    state.unshared_mut().errors.envelope.max_envelope_bytes = 4096;
    state.unshared_mut().errors.envelope.max_item_bytes = 1024;
    let app = router(state);
    let big_event = json!({"message": "x".repeat(2000)});
    let answer = call(
        &app,
        post("/api/1/envelope/", Some(&key), None, envelope(&big_event)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        answer.detail().contains("event item larger than 1024"),
        "{}",
        answer.detail()
    );
    // Small compressed, large decompressed: refused once past the bound.
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(&vec![b' '; 100_000]).unwrap();
    let answer = call(
        &app,
        post(
            "/api/1/envelope/",
            Some(&key),
            Some("gzip"),
            gzip.finish().unwrap(),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Over the raw body limit.
    let huge = vec![b' '; super::MAX_BODY + 1];
    let answer = call(&app, post("/api/1/envelope/", Some(&key), None, huge)).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        answer.detail().contains("larger than"),
        "{}",
        answer.detail()
    );
}

#[tokio::test]
async fn other_item_types_are_skipped_and_counted() {
    let (app, state, key, _dir) = app().await;
    let answer = call(
        &app,
        post(
            "/api/1/envelope/",
            Some(&key),
            None,
            fixture("sentry-envelope-transaction.bin"),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.detail());
    let mut body = b"{}\n".to_vec();
    for kind in [
        "session",
        "sessions",
        "attachment",
        "check_in",
        "client_report",
        "log",
        "profile",
    ] {
        body.extend_from_slice(format!("{{\"type\":\"{kind}\"}}\n{{}}\n").as_bytes());
    }
    let answer = call(&app, post("/api/1/envelope/", Some(&key), None, body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.detail());
    assert_eq!(answer.json(), json!({}));
    assert_eq!(issues(&app).await["issues"], json!([]));
    let metrics = state.telemetry.encode();
    // Transactions, sessions and client reports are counted instead (see
    // `issues_api::stats`); these sessions lack every required field.
    assert!(
        metrics
            .contains("partout_rejected_items_total{protocol=\"sentry\",reason=\"bad_session\"} 2"),
        "{metrics}"
    );
    for kind in ["attachment", "check_in", "other"] {
        assert!(
            metrics.contains(&format!(
                "partout_sentry_items_skipped_total{{item_type=\"{kind}\"}} 1"
            )),
            "{kind}: {metrics}"
        );
    }
}

#[tokio::test]
async fn browsers_get_cors_preflights() {
    let (app, _state, _key, _dir) = app().await;
    for path in ["/api/1/envelope/", "/api/1/store/"] {
        let request = Request::builder()
            .method(Method::OPTIONS)
            .uri(path)
            .header(header::ORIGIN, "https://shop.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "content-type, x-sentry-auth",
            )
            .body(Body::empty())
            .unwrap();
        let answer = call(&app, request).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        let allowed = answer.headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap();
        assert!(allowed.contains("x-sentry-auth") && allowed.contains("content-type"));
        assert!(answer.headers[header::ACCESS_CONTROL_ALLOW_METHODS]
            .to_str()
            .unwrap()
            .contains("POST"));
    }
}
