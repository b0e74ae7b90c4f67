//! Every route of the router, listed, and what an anonymous caller gets
//! from each: a route added without an entry here fails the first test,
//! and an entry that answers an anonymous caller anything but 401 (and is
//! not one of the documented open routes) fails the second.

use std::collections::BTreeSet;
use std::path::Path;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::super::{router, test_support};

/// Each route template as written in `backend/src/http`, and a concrete
/// path it serves (under `/api/v1` for the native API's modules).
const ROUTES: &[(&str, &str)] = &[
    // health.rs, via mod.rs
    ("/healthz", "/healthz"),
    ("/readyz", "/readyz"),
    ("/metrics", "/metrics"),
    // api.rs
    ("/status", "/api/v1/status"),
    ("/whoami", "/api/v1/whoami"),
    ("/deploys", "/api/v1/deploys"),
    // metrics_api.rs
    ("/metrics/series", "/api/v1/metrics/series"),
    ("/metrics/quantiles", "/api/v1/metrics/quantiles"),
    ("/metrics/points", "/api/v1/metrics/points"),
    // logs_api.rs
    ("/logs", "/api/v1/logs"),
    ("/logs/search", "/api/v1/logs/search"),
    ("/logs/histogram", "/api/v1/logs/histogram"),
    ("/logs/top", "/api/v1/logs/top"),
    ("/logs/context", "/api/v1/logs/context"),
    ("/logs/tail", "/api/v1/logs/tail"),
    // issues_api.rs
    ("/projects", "/api/v1/projects"),
    ("/projects/{id}/keys", "/api/v1/projects/1/keys"),
    ("/projects/{id}/keys/{key_id}", "/api/v1/projects/1/keys/1"),
    ("/projects/{id}/webhooks", "/api/v1/projects/1/webhooks"),
    (
        "/projects/{id}/webhooks/{webhook_id}",
        "/api/v1/projects/1/webhooks/1",
    ),
    ("/issues", "/api/v1/issues"),
    ("/issues/{id}", "/api/v1/issues/1"),
    ("/issues/{id}/events", "/api/v1/issues/1/events"),
    // issues_api: transactions, release health, client reports
    (
        "/projects/{id}/transactions",
        "/api/v1/projects/1/transactions",
    ),
    ("/projects/{id}/releases", "/api/v1/projects/1/releases"),
    (
        "/projects/{id}/client-reports",
        "/api/v1/projects/1/client-reports",
    ),
    // issues_api: cron monitors and attachments
    ("/projects/{id}/monitors", "/api/v1/projects/1/monitors"),
    (
        "/projects/{id}/monitors/{slug}/check-ins",
        "/api/v1/projects/1/monitors/nightly/check-ins",
    ),
    (
        "/projects/{id}/events/{event_id}/attachments",
        "/api/v1/projects/1/events/0123/attachments",
    ),
    ("/attachments/{id}", "/api/v1/attachments/1"),
    // access_api.rs
    ("/auth/login", "/api/v1/auth/login"),
    ("/auth/logout", "/api/v1/auth/logout"),
    ("/auth/session", "/api/v1/auth/session"),
    ("/auth/password", "/api/v1/auth/password"),
    ("/users", "/api/v1/users"),
    ("/users/{id}", "/api/v1/users/1"),
    ("/tokens", "/api/v1/tokens"),
    ("/tokens/{id}", "/api/v1/tokens/1"),
    // sentry_api.rs
    ("/api/{project_id}/envelope/", "/api/1/envelope/"),
    ("/api/{project_id}/envelope", "/api/1/envelope"),
    ("/api/{project_id}/store/", "/api/1/store/"),
    ("/api/{project_id}/store", "/api/1/store"),
    // graphite.rs
    ("/render", "/render"),
    ("/render/", "/render/"),
    ("/metrics/find", "/metrics/find"),
    ("/metrics/find/", "/metrics/find/"),
    ("/metrics/expand", "/metrics/expand"),
    ("/metrics/expand/", "/metrics/expand/"),
    ("/tags/autoComplete/tags", "/tags/autoComplete/tags"),
    ("/tags/autoComplete/values", "/tags/autoComplete/values"),
    ("/tags/findSeries", "/tags/findSeries"),
    // ship_api/elastic.rs
    ("/_bulk", "/_bulk"),
    ("/{index}/_bulk", "/logs-app/_bulk"),
    ("/_license", "/_license"),
    ("/_xpack", "/_xpack"),
    ("/_cluster/health", "/_cluster/health"),
    ("/_index_template/{name}", "/_index_template/filebeat"),
    ("/_template/{name}", "/_template/logstash"),
    ("/_ilm/policy/{name}", "/_ilm/policy/filebeat"),
    ("/_data_stream/{name}", "/_data_stream/logs-app"),
    // ship_api/loki.rs
    ("/loki/api/v1/push", "/loki/api/v1/push"),
    ("/ready", "/ready"),
    // assets.rs
    ("/", "/"),
    ("/assets/{*file}", "/assets/missing.js"),
];

/// What the gate says to a caller without credentials.
const GATE_REFUSAL: &str = "authentication required: sign in";

/// The documented open routes: health, the web app's files, signing in,
/// and Sentry's ingestion (its handler checks the DSN key).
fn is_open(method: &Method, path: &str) -> bool {
    let reads = matches!(*method, Method::GET | Method::HEAD);
    match path {
        "/healthz" | "/readyz" => true,
        "/" | "/assets/missing.js" => reads,
        "/api/v1/auth/login" => *method == Method::POST,
        _ => path.starts_with("/api/1/"),
    }
}

/// `.route("...")` templates in the HTTP module's sources, tests aside.
fn routes_in_source() -> BTreeSet<String> {
    let pattern = regex::Regex::new(r#"\.route\(\s*"([^"]*)""#).unwrap();
    let mut found = BTreeSet::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                dirs.push(path);
            } else if name.ends_with(".rs") && !name.contains("tests") {
                let text = std::fs::read_to_string(&path).unwrap();
                for capture in pattern.captures_iter(&text) {
                    found.insert(capture[1].to_owned());
                }
            }
        }
    }
    found
}

#[test]
fn every_route_in_the_source_is_listed_here() {
    let listed: BTreeSet<String> = ROUTES.iter().map(|(t, _)| (*t).to_owned()).collect();
    let in_source = routes_in_source();
    let unlisted: Vec<_> = in_source.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&in_source).collect();
    assert!(
        unlisted.is_empty(),
        "routes missing from ROUTES (add them, with whether they are open): {unlisted:?}"
    );
    assert!(
        stale.is_empty(),
        "ROUTES lists routes that are gone: {stale:?}"
    );
}

#[tokio::test]
async fn anonymous_callers_get_401_everywhere_but_the_open_routes() {
    let (state, _dir) = test_support::state().await;
    let app = router(state);
    let methods = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    let mut wrong = Vec::new();
    for (_, path) in ROUTES {
        for method in &methods {
            let request = Request::builder()
                .method(method.clone())
                .uri(*path)
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let open = is_open(method, path);
            // Sentry's handler refuses a missing DSN key with 401 too, in
            // Sentry's words: only the gate's refusal counts here.
            // (A HEAD answer has no body to tell by.)
            let refused = status == StatusCode::UNAUTHORIZED
                && (*method == Method::HEAD
                    || String::from_utf8_lossy(&body).contains(GATE_REFUSAL));
            if open == refused || (!open && status != StatusCode::UNAUTHORIZED) {
                wrong.push(format!("{method} {path}: {status} (open: {open})"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn opened_ingestion_and_metrics_take_anonymous_callers_and_nothing_else() {
    use crate::access::policy::{IngestApi, OpenRoutes};
    let (mut state, _dir) = test_support::state_inner().await;
    state.access = crate::access::Access::new(crate::access::AccessConfig {
        open: OpenRoutes {
            ingest: [IngestApi::Logs].into_iter().collect(),
            metrics: true,
        },
        secure_cookies: false,
    });
    let app = router(crate::http::AppState::new(state));
    let send = |method: Method, path: &str, body: &'static str| {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::from(body))
            .unwrap();
        let app = app.clone();
        async move { app.oneshot(request).await.unwrap().status() }
    };
    assert_eq!(send(Method::GET, "/metrics", "").await, StatusCode::OK);
    let line = "{\"message\":\"anonymous but allowed\"}\n";
    assert_eq!(
        send(Method::POST, "/api/v1/logs", line).await,
        StatusCode::OK
    );
    // Opening ingestion opens nothing to read, and no other API.
    assert_eq!(
        send(Method::GET, "/api/v1/logs/search", "").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(Method::POST, "/_bulk", "").await,
        StatusCode::UNAUTHORIZED
    );
}
