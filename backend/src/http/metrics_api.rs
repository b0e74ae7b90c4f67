//! `/api/v1/metrics/...`: the native metrics API for the web app and
//! scripts. `from`/`until` take Graphite's forms (`-24h`, `now`, unix time).

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use partout_model::api::{MetricPoints, MetricSeries, Quantiles};

use super::error::ApiError;
use super::params::{first, pairs};
use super::AppState;
use crate::query::graphite::time::{parse_offset, parse_time};
use crate::query::metrics::{
    points, quantiles, search, Consolidation, MetricsQueryError, NameFilter, PointsRequest,
    QuantilesRequest, MAX_SEARCH_RESULTS,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/metrics/series", get(series_handler))
        .route("/metrics/quantiles", get(quantiles_handler))
        .route("/metrics/points", get(points_handler))
}

/// Every `tag=k:v` parameter.
fn tags(pairs: &[(String, String)]) -> Result<Vec<(String, String)>, ApiError> {
    pairs
        .iter()
        .filter(|(k, _)| k == "tag")
        .map(|(_, v)| {
            v.split_once(':')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| ApiError::BadRequest(format!("tag must be name:value, not {v:?}")))
        })
        .collect()
}

impl From<MetricsQueryError> for ApiError {
    fn from(err: MetricsQueryError) -> Self {
        match err {
            MetricsQueryError::BadRequest(message) => ApiError::BadRequest(message),
            MetricsQueryError::NotFound(_) => ApiError::NotFound,
            MetricsQueryError::Store(store) => ApiError::from(store),
        }
    }
}

/// `GET /api/v1/metrics/series?match=stats.timers.*.*&tag=env:prod`, or
/// `?contains=checkout` (names containing the text); `limit` caps the
/// answer.
async fn series_handler(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<MetricSeries>>, ApiError> {
    let pairs = pairs(query);
    let filter = match (first(&pairs, "match"), first(&pairs, "contains")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "give match (a glob) or contains (a text), not both".into(),
            ))
        }
        (None, Some(text)) => NameFilter::Contains(text.to_owned()),
        (Some(pattern), None) => NameFilter::Glob(pattern.to_owned()),
        (None, None) => NameFilter::Glob("*".to_owned()),
    };
    let limit = match first(&pairs, "limit") {
        None => MAX_SEARCH_RESULTS,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                ApiError::BadRequest(format!("bad limit {text:?}: a whole number from 1"))
            })?,
    };
    let tags = tags(&pairs)?;
    let found = search(&state.tsdb.catalog(), &filter, &tags, limit)?;
    Ok(Json(found))
}

/// `GET /api/v1/metrics/quantiles?name=api.latency&q=0.5,0.99,0.9999&from=-24h&until=now[&step=1h][&tag=k:v]`
async fn quantiles_handler(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Quantiles>, ApiError> {
    let pairs = pairs(query);
    let name = name(&pairs)?;
    let qs = first(&pairs, "q")
        .unwrap_or("0.5,0.9,0.99,0.999")
        .split(',')
        .map(|q| {
            q.trim()
                .parse::<f64>()
                .ok()
                .filter(|q| (0.0..=1.0).contains(q))
        })
        .collect::<Option<Vec<f64>>>()
        .ok_or_else(|| {
            ApiError::BadRequest("q must be numbers between 0 and 1, comma-separated".into())
        })?;
    let now = crate::store::unix_ms_now() / 1000;
    let (from, until) = range(&pairs, now)?;
    let step = step_param(&pairs)?;
    let request = QuantilesRequest {
        name,
        tags: tags(&pairs)?,
        qs,
        from,
        until,
        step,
    };
    let tsdb = state.tsdb.clone();
    let answer = state
        .store
        .read(move |conn| Ok(quantiles(conn, &tsdb, now, &request)))
        .await??;
    Ok(Json(answer))
}

/// `from` (default `-24h`) and `until` (default `now`) in Graphite's forms.
fn range(pairs: &[(String, String)], now: i64) -> Result<(i64, i64), ApiError> {
    let time = |key: &str, default: &str| {
        parse_time(first(pairs, key).unwrap_or(default), now)
            .map_err(|e| ApiError::BadRequest(e.to_string()))
    };
    let (from, until) = (time("from", "-24h")?, time("until", "now")?);
    if until < from {
        return Err(ApiError::BadRequest("until must not be before from".into()));
    }
    Ok((from, until))
}

/// `name`, required.
fn name(pairs: &[(String, String)]) -> Result<String, ApiError> {
    first(pairs, "name")
        .map(str::to_owned)
        .ok_or_else(|| ApiError::BadRequest("name is required".into()))
}

/// `step` as seconds or an offset like `5min`, `1h`.
fn step_param(pairs: &[(String, String)]) -> Result<Option<i64>, ApiError> {
    match first(pairs, "step") {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .or_else(|| parse_offset(text))
            .filter(|s| *s > 0)
            .map(Some)
            .ok_or_else(|| {
                ApiError::BadRequest(format!("bad step {text:?}: use seconds or 1h, 5min ..."))
            }),
    }
}

/// `GET /api/v1/metrics/points?name=stats.counters.api.hits&from=-24h&until=now[&step=5min][&consolidation=sum][&tag=k:v]`
async fn points_handler(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<MetricPoints>, ApiError> {
    let pairs = pairs(query);
    let name = name(&pairs)?;
    let consolidation_text = first(&pairs, "consolidation").unwrap_or("avg").to_owned();
    let consolidation = Consolidation::parse(&consolidation_text).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "bad consolidation {consolidation_text:?}: use avg, sum, min, max, last, count or a percentile like p99.9"
        ))
    })?;
    let now = crate::store::unix_ms_now() / 1000;
    let (from, until) = range(&pairs, now)?;
    let request = PointsRequest {
        name,
        tags: tags(&pairs)?,
        from,
        until,
        step: step_param(&pairs)?,
        consolidation_text,
        consolidation,
    };
    let tsdb = state.tsdb.clone();
    let answer = state
        .store
        .read(move |conn| Ok(points(conn, &tsdb, now, &request)))
        .await??;
    Ok(Json(answer))
}
