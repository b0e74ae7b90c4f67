//! Check-ins and attachments through the whole router: the envelopes the
//! real Python SDK sent (`sentry-envelope-check-in-*.wire.gz`,
//! `sentry-envelope-attachments.wire.gz`) posted to the Sentry endpoint,
//! then read back through the API with a read token.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};

use super::super::sentry_api::tests::{app, call, post, Answer};
use super::super::{router, test_support, AppState};
use crate::errors::prepare::tests::fixture_raw;
use crate::errors::projects;
use crate::store::tokens::{self, Scope};

const READ_TOKEN: &str = "monitors-test-read-token-0123456789";
/// The event the attachments fixture carries.
const EVENT_ID: &str = "a551b42dba4b487387dae855ba658a50";

async fn reader(state: &AppState) {
    state
        .store
        .write(|conn| tokens::ensure(conn, "reader", Scope::Read, READ_TOKEN))
        .await
        .unwrap();
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {READ_TOKEN}"))
        .body(Body::empty())
        .unwrap()
}

async fn get_json(app: &Router, path: &str) -> Value {
    let answer = call(app, get(path)).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{path}: {}",
        String::from_utf8_lossy(&answer.body)
    );
    answer.json()
}

async fn send(app: &Router, key: &str, fixture: &str) -> Answer {
    let answer = call(
        app,
        post(
            "/api/1/envelope/",
            Some(key),
            Some("gzip"),
            fixture_raw(fixture),
        ),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{fixture}: {}",
        String::from_utf8_lossy(&answer.body)
    );
    answer
}

/// An envelope of `items` (type, extra header fields, payload).
fn envelope(header: &Value, items: &[(&str, Value, &[u8])]) -> Vec<u8> {
    let mut body = header.to_string().into_bytes();
    body.push(b'\n');
    for (kind, extra, payload) in items {
        let mut item = json!({"type": kind, "length": payload.len()});
        if let (Some(item), Some(extra)) = (item.as_object_mut(), extra.as_object()) {
            item.extend(extra.clone());
        }
        body.extend_from_slice(item.to_string().as_bytes());
        body.push(b'\n');
        body.extend_from_slice(payload);
        body.push(b'\n');
    }
    body
}

fn skipped(state: &AppState, item_type: &str) -> u64 {
    state
        .telemetry
        .sentry_items_skipped
        .get_or_create(&crate::telemetry::ItemTypeLabels {
            item_type: item_type.to_owned(),
        })
        .get()
}

#[tokio::test]
async fn python_sdk_check_ins_become_monitors_and_runs() {
    let (app, state, key, _dir) = app().await;
    reader(&state).await;
    let answer = send(&app, &key, "sentry-envelope-check-in-started.wire.gz").await;
    assert_eq!(
        answer.json(),
        json!({"id": "50afff26037142ba90cfb398b1853e1a"})
    );
    let monitors = get_json(&app, "/api/v1/projects/1/monitors").await;
    assert_eq!(monitors[0]["last_status"], "in_progress");
    send(&app, &key, "sentry-envelope-check-in-ok.wire.gz").await;
    for fixture in [
        "sentry-envelope-check-in-interval-started.wire.gz",
        "sentry-envelope-check-in-error.wire.gz",
        "sentry-envelope-check-in-manual-started.wire.gz",
        "sentry-envelope-check-in-manual-ok.wire.gz",
    ] {
        send(&app, &key, fixture).await;
    }
    assert_eq!(skipped(&state, "check_in"), 0);

    let monitors = get_json(&app, "/api/v1/projects/1/monitors").await;
    let slugs: Vec<_> = monitors
        .as_array()
        .unwrap()
        .iter()
        .map(|monitor| monitor["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["hourly-sync", "manual-job", "nightly-backup"]);
    let [hourly, manual, nightly] = [&monitors[0], &monitors[1], &monitors[2]];
    assert_eq!(nightly["last_status"], "ok");
    assert_eq!(
        nightly["config"]["schedule"],
        json!({"type": "crontab", "value": "0 3 * * *"})
    );
    assert_eq!(nightly["config"]["checkin_margin_minutes"], 5);
    assert_eq!(nightly["config"]["max_runtime_minutes"], 30);
    assert_eq!(nightly["config"]["timezone"], "Europe/Vienna");
    assert_eq!(nightly["recent"]["ok"], 1);
    assert_eq!(hourly["last_status"], "error");
    assert_eq!(
        hourly["config"]["schedule"],
        json!({"type": "interval", "value": 1, "unit": "hour"})
    );
    assert_eq!(hourly["recent"]["error"], 1);
    assert_eq!(manual["config"], Value::Null);

    let page = get_json(&app, "/api/v1/projects/1/monitors/nightly-backup/check-ins").await;
    let runs = page["check_ins"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{page}");
    let run = &runs[0];
    assert_eq!(run["status"], "ok");
    assert_eq!(run["check_in_id"], "d15a218c5517417591258d073ea16f99");
    let duration = run["duration_ms"].as_f64().unwrap();
    assert!((duration - 52.409_797).abs() < 0.001, "{duration}");
    assert_eq!(run["release"], "shop@1.4.2");
    assert_eq!(run["environment"], "production");
    assert_eq!(run["trace_id"], "4fa5088f8c6e49c6b510adbd61f9c1b9");
    assert!(run["finished_at_ms"].as_i64().unwrap() >= run["started_at_ms"].as_i64().unwrap());
    assert_eq!(page["next_before"], Value::Null);

    let manual_runs = get_json(
        &app,
        "/api/v1/projects/1/monitors/manual-job/check-ins?limit=5",
    )
    .await;
    assert_eq!(manual_runs["check_ins"][0]["duration_ms"], 1250.0);
    // The name it was sent with finds the slug too.
    let by_name = get_json(&app, "/api/v1/projects/1/monitors/Manual%20Job/check-ins").await;
    assert_eq!(by_name["check_ins"], manual_runs["check_ins"]);

    // A retried envelope changes nothing.
    send(&app, &key, "sentry-envelope-check-in-ok.wire.gz").await;
    let again = get_json(&app, "/api/v1/projects/1/monitors/nightly-backup/check-ins").await;
    assert_eq!(again["check_ins"], page["check_ins"]);
}

#[tokio::test]
async fn a_bad_check_in_is_skipped_and_the_rest_kept() {
    let (app, state, key, _dir) = app().await;
    reader(&state).await;
    let body = envelope(
        &json!({}),
        &[
            ("check_in", json!({}), b"{\"status\":\"ok\"}"),
            ("check_in", json!({}), b"not json"),
            (
                "check_in",
                json!({}),
                b"{\"monitor_slug\":\"job\",\"status\":\"ok\"}",
            ),
        ],
    );
    let answer = call(&app, post("/api/1/envelope/", Some(&key), None, body)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(skipped(&state, "check_in"), 2);
    let page = get_json(&app, "/api/v1/projects/1/monitors/job/check-ins").await;
    assert_eq!(page["check_ins"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn python_sdk_attachments_are_stored_and_served_as_downloads() {
    let (app, state, key, _dir) = app().await;
    reader(&state).await;
    let answer = send(&app, &key, "sentry-envelope-attachments.wire.gz").await;
    assert_eq!(answer.json(), json!({"id": EVENT_ID}));
    assert_eq!(skipped(&state, "attachment"), 0);
    let listed = get_json(
        &app,
        &format!("/api/v1/projects/1/events/{EVENT_ID}/attachments"),
    )
    .await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["filename"], "notes.txt");
    assert_eq!(listed[0]["content_type"], "text/plain");
    assert_eq!(listed[0]["attachment_type"], "event.attachment");
    assert_eq!(listed[0]["size"], 24);
    assert_eq!(listed[0]["event_id"], EVENT_ID);
    assert_eq!(listed[1]["filename"], "evil.html");

    let notes = call(
        &app,
        get(&format!("/api/v1/attachments/{}", listed[0]["id"])),
    )
    .await;
    assert_eq!(notes.status, StatusCode::OK);
    assert_eq!(notes.body, b"hello attachment\nline 2\n");
    let html = call(
        &app,
        get(&format!("/api/v1/attachments/{}", listed[1]["id"])),
    )
    .await;
    assert_eq!(html.status, StatusCode::OK);
    assert_eq!(html.body, b"<script>alert(1)</script>");
    let headers = &html.headers;
    assert_eq!(headers[header::CONTENT_TYPE], "text/html");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"evil.html\"; filename*=UTF-8''evil.html"
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("sandbox"));

    // The event went to its issue as usual.
    let issues = get_json(&app, "/api/v1/issues").await;
    assert_eq!(issues["issues"].as_array().unwrap().len(), 1);
    // A retried envelope does not store the files twice.
    send(&app, &key, "sentry-envelope-attachments.wire.gz").await;
    let again = get_json(
        &app,
        &format!("/api/v1/projects/1/events/{EVENT_ID}/attachments"),
    )
    .await;
    assert_eq!(again.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn oversized_attachments_are_skipped_and_the_envelope_kept() {
    let (mut state, _dir) = test_support::state().await;
    state.unshared_mut().errors.attachments.max_bytes = 16;
    // An attachment over the envelope's own item limit is skipped there.
    state.unshared_mut().errors.envelope.max_item_bytes = 1024;
    let (_, key) = state
        .store
        .write(|conn| projects::ensure_default(conn, 1))
        .await
        .unwrap();
    let key = key.unwrap().public_key;
    reader(&state).await;
    let app = router(state.clone());
    let event = json!({"event_id": EVENT_ID, "message": "with files"}).to_string();
    let body = envelope(
        &json!({"event_id": EVENT_ID}),
        &[
            ("event", json!({}), event.as_bytes()),
            (
                "attachment",
                json!({"filename": "small.txt"}),
                b"0123456789",
            ),
            ("attachment", json!({"filename": "big.log"}), &[b'x'; 100]),
            ("attachment", json!({"filename": "huge.bin"}), &[b'y'; 2000]),
        ],
    );
    let answer = call(&app, post("/api/1/envelope/", Some(&key), None, body)).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json(), json!({"id": EVENT_ID}));
    assert_eq!(skipped(&state, "attachment"), 2);
    let listed = get_json(
        &app,
        &format!("/api/v1/projects/1/events/{EVENT_ID}/attachments"),
    )
    .await;
    let names: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|attachment| attachment["filename"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["small.txt"]);
    let issues = get_json(&app, "/api/v1/issues").await;
    assert_eq!(issues["issues"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn reads_need_a_token_and_unknown_things_are_404() {
    let (app, state, _key, _dir) = app().await;
    reader(&state).await;
    for path in [
        "/api/v1/projects/1/monitors",
        "/api/v1/projects/1/monitors/job/check-ins",
        "/api/v1/projects/1/events/a551b42dba4b487387dae855ba658a50/attachments",
        "/api/v1/attachments/1",
    ] {
        let anonymous = call(&app, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    assert_eq!(
        get_json(&app, "/api/v1/projects/1/monitors").await,
        json!([])
    );
    for path in [
        "/api/v1/projects/9/monitors",
        "/api/v1/projects/1/monitors/job/check-ins",
        "/api/v1/projects/1/monitors/%21%21/check-ins",
        "/api/v1/projects/9/events/a551b42dba4b487387dae855ba658a50/attachments",
        "/api/v1/attachments/1",
    ] {
        assert_eq!(
            call(&app, get(path)).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    for path in [
        "/api/v1/projects/x/monitors",
        "/api/v1/projects/1/events/nope/attachments",
        "/api/v1/projects/1/monitors/job/check-ins?limit=x",
    ] {
        assert_eq!(
            call(&app, get(path)).await.status,
            StatusCode::BAD_REQUEST,
            "{path}"
        );
    }
}

#[test]
fn file_names_are_quoted_safely() {
    assert_eq!(
        super::content_disposition("a b\"\r\n;ü.txt"),
        "attachment; filename=\"a_b____ü.txt\"; filename*=UTF-8''a%20b%22%0D%0A%3B%C3%BC.txt"
            .replace('ü', "_")
    );
}
