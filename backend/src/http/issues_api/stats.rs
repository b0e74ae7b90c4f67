//! A project's counted data: `GET /api/v1/projects/{id}/transactions`,
//! `/releases` and `/client-reports` (see `errors::item_stats`).
//!
//! Each takes `from` and `until` (Unix ms or Graphite's relative forms;
//! the last 24 hours by default, at most 90 days); counts are kept per
//! hour, so every hour that overlaps the range counts whole.
//! `transactions` also filters by `release` and `environment`,
//! `releases` by `environment`; both take a `limit`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use partout_model::errors::{ClientReportList, ReleaseList, TransactionList};

use super::super::auth::Caller;
use super::super::error::ApiError;
use super::super::params::{number, pairs};
use super::super::AppState;
use super::{non_empty, path_ids, time_ms};
use crate::errors::sessions::{self, ReleaseFilter};
use crate::errors::transactions::{self, TransactionFilter};
use crate::errors::{client_reports, projects};
use crate::store::tokens::Scope;
use crate::store::unix_ms_now;

/// The range when none is asked for, ms.
const DEFAULT_RANGE_MS: i64 = 86_400_000;
/// The longest range, ms, so one answer reads a bounded number of rows.
const MAX_RANGE_MS: i64 = 90 * 86_400_000;
/// Transaction names or releases when no limit is asked for.
const DEFAULT_LIMIT: usize = 50;
/// The most that can be asked for.
const MAX_LIMIT: usize = 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/projects/{id}/transactions", get(list_transactions))
        .route("/projects/{id}/releases", get(list_releases))
        .route("/projects/{id}/client-reports", get(list_client_reports))
}

/// The query of one of these requests.
struct Query {
    from_ms: i64,
    until_ms: i64,
    pairs: Vec<(String, String)>,
}

impl Query {
    fn parse(query: Option<String>) -> Result<Query, ApiError> {
        let pairs = pairs(query);
        let now = unix_ms_now();
        let time = |key: &str| {
            non_empty(&pairs, key)
                .map(|text| time_ms(key, &text, now))
                .transpose()
        };
        let until_ms = time("until")?.unwrap_or(now);
        let from_ms = time("from")?.unwrap_or(until_ms.saturating_sub(DEFAULT_RANGE_MS));
        if from_ms >= until_ms {
            return Err(ApiError::BadRequest("from must be before until".into()));
        }
        if until_ms.saturating_sub(from_ms) > MAX_RANGE_MS {
            return Err(ApiError::BadRequest(
                "the range from..until is longer than 90 days".into(),
            ));
        }
        Ok(Query {
            from_ms,
            until_ms,
            pairs,
        })
    }

    fn limit(&self) -> Result<usize, ApiError> {
        let limit = number(&self.pairs, "limit")?.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::BadRequest(format!(
                "limit must be 1 to {MAX_LIMIT}"
            )));
        }
        Ok(limit)
    }
}

async fn list_transactions(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<i64>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<TransactionList>, ApiError> {
    caller.require(Scope::Read)?;
    let project_id = path_ids(path)?;
    let query = Query::parse(query)?;
    let filter = TransactionFilter {
        project_id,
        from_ms: query.from_ms,
        until_ms: query.until_ms,
        release: non_empty(&query.pairs, "release"),
        environment: non_empty(&query.pairs, "environment"),
        limit: query.limit()?,
    };
    let found = state
        .store
        .read(move |conn| {
            if !projects::exists(conn, filter.project_id)? {
                return Ok(None);
            }
            transactions::summary(conn, &filter).map(Some)
        })
        .await?;
    let (transactions, truncated) = found.ok_or(ApiError::NotFound)?;
    Ok(Json(TransactionList {
        from_ms: query.from_ms,
        until_ms: query.until_ms,
        transactions,
        truncated,
    }))
}

async fn list_releases(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<i64>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<ReleaseList>, ApiError> {
    caller.require(Scope::Read)?;
    let project_id = path_ids(path)?;
    let query = Query::parse(query)?;
    let filter = ReleaseFilter {
        project_id,
        from_ms: query.from_ms,
        until_ms: query.until_ms,
        environment: non_empty(&query.pairs, "environment"),
        limit: query.limit()?,
    };
    // Error events per release are the issues' `release` tag counts.
    state.error_runtime.counts.settle(&state.store).await?;
    let found = state
        .store
        .read(move |conn| {
            if !projects::exists(conn, filter.project_id)? {
                return Ok(None);
            }
            sessions::releases(conn, &filter).map(Some)
        })
        .await?;
    let (releases, truncated) = found.ok_or(ApiError::NotFound)?;
    Ok(Json(ReleaseList {
        from_ms: query.from_ms,
        until_ms: query.until_ms,
        releases,
        truncated,
    }))
}

async fn list_client_reports(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<i64>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<ClientReportList>, ApiError> {
    caller.require(Scope::Read)?;
    let project_id = path_ids(path)?;
    let Query {
        from_ms, until_ms, ..
    } = Query::parse(query)?;
    let found = state
        .store
        .read(move |conn| {
            if !projects::exists(conn, project_id)? {
                return Ok(None);
            }
            client_reports::summary(conn, project_id, from_ms, until_ms).map(Some)
        })
        .await?;
    let discarded = found.ok_or(ApiError::NotFound)?;
    Ok(Json(ClientReportList {
        from_ms,
        until_ms,
        total: discarded
            .iter()
            .fold(0u64, |total, count| total.saturating_add(count.quantity)),
        discarded,
    }))
}

#[cfg(test)]
mod tests;
