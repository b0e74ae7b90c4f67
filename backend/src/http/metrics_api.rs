//! `/api/v1/metrics/...`: the native metrics API for the web app and
//! scripts. `from`/`until` take Graphite's forms (`-24h`, `now`, unix time).

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use partout_model::api::{MetricSeries, Quantiles};

use super::error::ApiError;
use super::AppState;
use crate::query::graphite::time::{parse_offset, parse_time};
use crate::query::metrics::{quantiles, search, MetricsQueryError, QuantilesRequest};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/metrics/series", get(series_handler))
        .route("/metrics/quantiles", get(quantiles_handler))
}

fn pairs(query: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
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

/// `GET /api/v1/metrics/series?match=stats.timers.*.*&tag=env:prod`
async fn series_handler(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<MetricSeries>>, ApiError> {
    let pairs = pairs(query);
    let pattern = first(&pairs, "match").unwrap_or("*").to_owned();
    let tags = tags(&pairs)?;
    let found = state
        .store
        .read(move |conn| Ok(search(conn, &pattern, &tags)))
        .await??;
    Ok(Json(found))
}

/// `GET /api/v1/metrics/quantiles?name=api.latency&q=0.5,0.99,0.9999&from=-24h&until=now[&step=1h][&tag=k:v]`
async fn quantiles_handler(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Quantiles>, ApiError> {
    let pairs = pairs(query);
    let name = first(&pairs, "name")
        .ok_or_else(|| ApiError::BadRequest("name is required".into()))?
        .to_owned();
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
    let time = |key: &str, default: &str| {
        parse_time(first(&pairs, key).unwrap_or(default), now)
            .map_err(|e| ApiError::BadRequest(e.to_string()))
    };
    let (from, until) = (time("from", "-24h")?, time("until", "now")?);
    if until < from {
        return Err(ApiError::BadRequest("until must not be before from".into()));
    }
    let step = match first(&pairs, "step") {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<i64>()
                .ok()
                .or_else(|| parse_offset(text))
                .filter(|s| *s > 0)
                .ok_or_else(|| {
                    ApiError::BadRequest(format!("bad step {text:?}: use seconds or 1h, 5min ..."))
                })?,
        ),
    };
    let request = QuantilesRequest {
        name,
        tags: tags(&pairs)?,
        qs,
        from,
        until,
        step,
    };
    let raw_step = state.metrics_step;
    let answer = state
        .store
        .read(move |conn| Ok(quantiles(conn, raw_step, &request)))
        .await??;
    Ok(Json(answer))
}
