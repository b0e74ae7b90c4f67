//! Liveness, readiness and partout's own metrics.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;

use super::AppState;
use crate::telemetry::StorageFileLabels;

/// The process is alive and answering.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Listeners are bound and the database answers a query.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if !state.ready.load(Ordering::Acquire) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: starting or shutting down\n",
        );
    }
    let storage = state
        .store
        .read(|conn| Ok(conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))?))
        .await;
    match storage {
        Ok(_) => (StatusCode::OK, "ready\n"),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check: storage does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: storage does not answer\n",
            )
        }
    }
}

/// Prometheus/OpenMetrics exposition of partout's own counters.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let telemetry = &state.telemetry;
    let (sqlite, wal) = state.store.file_sizes();
    for (file, bytes) in [("sqlite", sqlite), ("sqlite_wal", wal)] {
        telemetry
            .storage_bytes
            .get_or_create(&StorageFileLabels { file: file.into() })
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }
    telemetry
        .store_write_queue
        .set(i64::try_from(state.store.write_queue_depth()).unwrap_or(i64::MAX));
    let (_, dictionary_bytes) = state.error_runtime.dictionaries.usage();
    telemetry
        .error_dictionary_cache_bytes
        .set(i64::try_from(dictionary_bytes).unwrap_or(i64::MAX));
    telemetry
        .uptime_seconds
        .set(i64::try_from(state.started.elapsed().as_secs()).unwrap_or(i64::MAX));
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        telemetry.encode(),
    )
}
