//! The HTTP surface: `router(state)` builds every route; serving it is the
//! caller's business (see `app`), so tests drive the router directly.
//!
//! # Layout
//! - `health`: `/healthz`, `/readyz`, `/metrics`
//! - `api`: `/api/v1/...` JSON handlers
//! - `graphite`: `/render`, `/metrics/find`, `/metrics/expand`
//! - `metrics_api`: `/api/v1/metrics/series`, `/api/v1/metrics/quantiles`
//! - `logs_api`: `/api/v1/logs` (ingest), `/api/v1/logs/search`,
//!   `histogram`, `top`, `context`, `tail` (Server-Sent Events)
//! - `ship_api`: log shippers' APIs: Elasticsearch `_bulk` (and what its
//!   clients probe first), `/loki/api/v1/push`
//! - `sentry_api`: Sentry SDKs' `/api/{project_id}/envelope/` and
//!   `/store/`
//! - `issues_api`: `/api/v1/projects` and `/api/v1/issues`: projects,
//!   DSN keys, webhooks, issues and their events
//! - `monitors_api`: `/api/v1/projects/{id}/monitors...` (cron monitors
//!   and check-ins) and event attachments
//! - `access_api`: `/api/v1/auth` (sign-in, sessions), `/api/v1/users`,
//!   `/api/v1/tokens`
//! - `encoding`: request bodies by `Content-Encoding`
//! - `assets`: the embedded web app and its SPA fallback
//! - `params`: query-string pairs shared by the native APIs
//! - `auth`: the gate every request passes (`access::policy` decides
//!   what each route needs), and the `Caller` extractors
//! - `serve`: the accept loop: connection cap, header timeout, TLS
//! - `security_headers`: CSP, no sniffing, no framing, on every answer
//! - `error`: `ApiError`, the JSON error body

mod access_api;
mod api;
mod assets;
mod auth;
mod encoding;
mod error;
mod graphite;
mod health;
mod issues_api;
mod logs_api;
mod metrics_api;
mod monitors_api;
mod params;
mod security_headers;
mod sentry_api;
pub mod serve;
mod ship_api;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::store::Store;
use crate::telemetry::{HttpRequestLabels, Telemetry};

pub use assets::web_app_embedded;

/// What every handler can reach, shared: axum clones the state for every
/// request and middleware layer, and cloning the fields themselves (a
/// path, the errors settings, a dozen handles) was 1.4% of the request
/// threads' samples in a profile under Sentry load (end to end, that is
/// within the machine's noise).
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl AppState {
    pub fn new(inner: AppStateInner) -> AppState {
        AppState(Arc::new(inner))
    }

    /// The fields, to change in a test before the state is shared.
    #[cfg(test)]
    pub fn unshared_mut(&mut self) -> &mut AppStateInner {
        Arc::get_mut(&mut self.0).expect("a test changes its state before sharing it")
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

/// The fields of [`AppState`].
pub struct AppStateInner {
    pub store: Store,
    /// The metrics store (catalog cache, head, chunks).
    pub tsdb: crate::tsdb::Tsdb,
    /// The log store.
    pub logs: crate::logs::LogStore,
    /// Cancelled when shutdown starts: long-lived responses (live tail)
    /// end then, so the server can drain.
    pub shutdown: tokio_util::sync::CancellationToken,
    pub telemetry: Arc<Telemetry>,
    pub started: Instant,
    pub started_at_unix_ms: i64,
    pub data_dir: PathBuf,
    /// Bound listeners, keyed as in `partout.addrs.json`.
    pub listeners: Arc<BTreeMap<String, String>>,
    /// False until every listener is bound, and again once shutdown starts.
    pub ready: Arc<AtomicBool>,
    /// Raw resolution of metric series (the flush interval), seconds.
    pub metrics_step: i64,
    /// How Sentry events are ingested and kept.
    pub errors: crate::errors::ErrorsConfig,
    /// The errors side's rate limiter and notification wake-up.
    pub error_runtime: crate::errors::ErrorRuntime,
    /// Access settings, the sign-in throttle.
    pub access: crate::access::Access,
}

/// Every route partout serves over HTTP.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .nest(
            "/api/v1",
            api::routes()
                .merge(metrics_api::routes())
                .merge(logs_api::routes())
                .merge(issues_api::routes())
                .merge(monitors_api::routes())
                .merge(access_api::routes()),
        )
        .merge(sentry_api::routes())
        .merge(graphite::routes())
        .merge(ship_api::routes())
        .merge(assets::routes())
        // `GET /` and `/{index}` are the web app's unless an Elasticsearch
        // client asks: decided per request, so not as routes.
        .layer(middleware::from_fn(ship_api::elastic_root))
        // Outside every route and the Elasticsearch root, so nothing is
        // answered before the caller is known; inside the request
        // counter, so refusals are counted.
        .layer(middleware::from_fn_with_state(state.clone(), auth::gate))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .layer(middleware::from_fn(security_headers::add))
        .with_state(state)
}

/// Counts each answered request by route template and status class.
async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let status = format!("{}xx", response.status().as_u16() / 100);
    state
        .telemetry
        .http_requests
        .get_or_create(&HttpRequestLabels {
            route,
            method,
            status,
        })
        .inc();
    response
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// An admin API token that every [`state`] holds, for tests whose
    /// subject is not access control.
    pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

    /// `Authorization` for [`ADMIN_TOKEN`].
    pub fn admin_auth() -> (axum::http::HeaderName, String) {
        (
            axum::http::header::AUTHORIZATION,
            format!("Bearer {ADMIN_TOKEN}"),
        )
    }

    /// A state's fields over a fresh store in a temp dir (kept alive by
    /// the guard), for a test that changes one before sharing them.
    pub async fn state_inner() -> (AppStateInner, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write(|conn| {
                crate::store::tokens::ensure(
                    conn,
                    "test-admin",
                    crate::store::tokens::Scope::Admin,
                    ADMIN_TOKEN,
                )
            })
            .await
            .unwrap();
        let telemetry = Arc::new(Telemetry::new());
        let tsdb = crate::tsdb::Tsdb::open(
            store.clone(),
            crate::tsdb::test_config(),
            Arc::clone(&telemetry),
        )
        .await
        .unwrap();
        let (logs, _writer) = crate::logs::LogStore::open(
            crate::logs::test_config(&dir.path().join("logs")),
            Arc::clone(&telemetry),
            crate::logs::system_clock(),
        )
        .unwrap();
        let inner = AppStateInner {
            store,
            tsdb,
            logs,
            shutdown: tokio_util::sync::CancellationToken::new(),
            telemetry,
            started: Instant::now(),
            started_at_unix_ms: crate::store::unix_ms_now(),
            data_dir: dir.path().to_owned(),
            listeners: Arc::new(BTreeMap::from([(
                "http".to_owned(),
                "127.0.0.1:1".to_owned(),
            )])),
            ready: Arc::new(AtomicBool::new(true)),
            metrics_step: 10,
            errors: crate::errors::ErrorsConfig::default(),
            error_runtime: crate::errors::ErrorRuntime::default(),
            access: crate::access::Access::default(),
        };
        (inner, dir)
    }

    /// A state over a fresh store in a temp dir (kept alive by the guard).
    pub async fn state() -> (AppState, tempfile::TempDir) {
        let (inner, dir) = state_inner().await;
        (AppState::new(inner), dir)
    }
}
