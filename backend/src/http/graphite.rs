//! The Graphite HTTP API: `/render`, `/metrics/find`, `/metrics/expand`,
//! and the tag endpoints under `/tags/`.
//! Parameters come from the query string and, for POST, a form body (how
//! Grafana's Graphite data source sends long targets). `target` repeats.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::error::ApiError;
use super::AppState;
use crate::query::graphite::catalog::{self, Node};
use crate::query::graphite::eval::Range;
use crate::query::graphite::fetch::parallel_map;
use crate::query::graphite::series::TimeSeries;
use crate::query::graphite::tags;
use crate::query::graphite::time::parse_time;
use crate::query::graphite::{render, RenderRequest};

/// Targets one request may carry.
const MAX_TARGETS: usize = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/render", get(render_handler).post(render_handler))
        .route("/render/", get(render_handler).post(render_handler))
        .route("/metrics/find", get(find_handler).post(find_handler))
        .route("/metrics/find/", get(find_handler).post(find_handler))
        .route("/metrics/expand", get(expand_handler).post(expand_handler))
        .route("/metrics/expand/", get(expand_handler).post(expand_handler))
        .route(
            "/tags/autoComplete/tags",
            get(tag_names_handler).post(tag_names_handler),
        )
        .route(
            "/tags/autoComplete/values",
            get(tag_values_handler).post(tag_values_handler),
        )
        .route(
            "/tags/findSeries",
            get(find_series_handler).post(find_series_handler),
        )
}

/// Most bytes of a form body (Grafana's POSTed targets).
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// Query string plus, for form POSTs, the body: extracted once for every
/// handler here.
struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| {
                ApiError::PayloadTooLarge(format!("form body over {MAX_FORM_BYTES} bytes"))
            })?;
        Ok(Params::read(
            &parts.method,
            parts.uri.query(),
            &parts.headers,
            &body,
        ))
    }
}

impl Params {
    fn read(method: &Method, query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Params {
        let mut pairs: Vec<(String, String)> =
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if method == Method::POST && is_form {
            pairs.extend(form_urlencoded::parse(body).into_owned());
        }
        Params(pairs)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key || k == &format!("{key}[]"))
            .map(|(_, v)| v.clone())
            .collect()
    }
}

fn now() -> i64 {
    crate::store::unix_ms_now() / 1000
}

fn time_range(params: &Params) -> Result<Range, ApiError> {
    let now = now();
    let from = parse_time(params.get("from").unwrap_or("-24h"), now)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let until = parse_time(params.get("until").unwrap_or("now"), now)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if until <= from {
        return Err(ApiError::BadRequest("until must be after from".into()));
    }
    Ok(Range { from, until })
}

#[derive(Serialize)]
struct RenderedSeries<'a> {
    target: &'a str,
    tags: &'a BTreeMap<String, String>,
    datapoints: Datapoints<'a>,
}

/// A series' `[[value, ts], ...]`, written straight from the series: a
/// full-resolution render has a million points, not worth copying first.
struct Datapoints<'a>(&'a TimeSeries);

impl Serialize for Datapoints<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq as _;
        let mut points = serializer.serialize_seq(Some(self.0.values.len()))?;
        for (ts, value) in self.0.points() {
            points.serialize_element(&(value, ts))?;
        }
        points.end()
    }
}

async fn render_handler(
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    let targets = params.all("target");
    if targets.is_empty() {
        return Err(ApiError::BadRequest(
            "at least one target is required".into(),
        ));
    }
    if targets.len() > MAX_TARGETS {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_TARGETS} targets per request"
        )));
    }
    let max_data_points = match params.get("maxDataPoints") {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<usize>()
                .map_err(|_| {
                    ApiError::BadRequest("maxDataPoints must be a positive integer".into())
                })?
                .max(1),
        ),
    };
    let request = RenderRequest {
        targets,
        range: time_range(&params)?,
        max_data_points,
    };
    let format = params.get("format").unwrap_or("json").to_owned();
    let step = state.metrics_step;
    let tsdb = state.tsdb.clone();
    let now = crate::store::unix_ms_now() / 1000;
    // The answer is written on the reader's blocking thread too: a
    // render's JSON is megabytes, no work for an async worker.
    let body = state
        .store
        .read(move |conn| {
            let catalog = tsdb.catalog();
            Ok(
                render(conn, &tsdb, &catalog, step, now, &request).map(|rendered| {
                    match format.as_str() {
                        "json" => Ok(Body::Json(to_json(&rendered)?)),
                        "csv" => Ok(Body::Csv(to_csv(&rendered))),
                        other => Err(ApiError::BadRequest(format!(
                            "unsupported format {other:?}: use json or csv"
                        ))),
                    }
                }),
            )
        })
        .await?
        .map_err(|e| ApiError::BadRequest(e.to_string()))??;
    Ok(match body {
        Body::Json(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Body::Csv(text) => {
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], text).into_response()
        }
    })
}

/// A rendered answer in the format asked for.
enum Body {
    Json(Vec<u8>),
    Csv(String),
}

/// Bytes of JSON a point takes, near enough: `[45.56666666666667,1700000000],`.
const JSON_BYTES_PER_POINT: usize = 32;

/// The `/render` JSON: one object per series. Series are written in
/// parallel, each into a buffer sized for it, then joined.
fn to_json(series: &[TimeSeries]) -> Result<Vec<u8>, ApiError> {
    let parts = parallel_map(series.iter().collect(), |s: &TimeSeries| {
        let mut part =
            Vec::with_capacity(64 + s.name.len() * 2 + s.values.len() * JSON_BYTES_PER_POINT);
        serde_json::to_writer(
            &mut part,
            &RenderedSeries {
                target: &s.name,
                tags: &s.tags,
                datapoints: Datapoints(s),
            },
        )
        .map(|()| part)
    });
    let mut out = Vec::with_capacity(
        2 + parts
            .iter()
            .map(|part| part.as_ref().map_or(0, |p| p.len() + 1))
            .sum::<usize>(),
    );
    out.push(b'[');
    for (i, part) in parts.into_iter().enumerate() {
        let part = part.map_err(|e| {
            ApiError::Internal(crate::store::StoreError::Task(format!(
                "cannot write a render as JSON: {e}"
            )))
        })?;
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&part);
    }
    out.push(b']');
    Ok(out)
}

/// Graphite's CSV: `name,YYYY-MM-DD HH:MM:SS,value`, empty for nulls.
fn to_csv(series: &[TimeSeries]) -> String {
    let mut out = String::new();
    for s in series {
        for (ts, value) in s.points() {
            let value = value.map(|v| v.to_string()).unwrap_or_default();
            out.push_str(&format!("{},{},{value}\n", s.name, utc_text(ts)));
        }
    }
    out
}

/// `YYYY-MM-DD HH:MM:SS` in UTC (civil-from-days, Howard Hinnant).
fn utc_text(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let seconds = ts.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

async fn nodes(state: &AppState, pattern: String) -> Result<Vec<Node>, ApiError> {
    catalog::find(&state.tsdb.catalog(), &pattern)
        .map_err(|e| ApiError::BadRequest(format!("bad query pattern: {e}")))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TreeNode {
    allow_children: u8,
    expandable: u8,
    leaf: u8,
    id: String,
    text: String,
    context: BTreeMap<String, String>,
}

async fn find_handler(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Vec<TreeNode>>, ApiError> {
    let pattern = params
        .get("query")
        .ok_or_else(|| ApiError::BadRequest("query is required".into()))?
        .to_owned();
    let found = nodes(&state, pattern).await?;
    Ok(Json(
        found
            .into_iter()
            .map(|node| TreeNode {
                allow_children: u8::from(!node.leaf),
                expandable: u8::from(!node.leaf),
                leaf: u8::from(node.leaf),
                text: node.path.rsplit('.').next().unwrap_or_default().to_owned(),
                id: node.path,
                context: BTreeMap::new(),
            })
            .collect(),
    ))
}

#[derive(Serialize)]
struct Expanded {
    results: Vec<String>,
}

async fn expand_handler(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Expanded>, ApiError> {
    let leaves_only = matches!(params.get("leavesOnly"), Some("1" | "true"));
    let mut results = Vec::new();
    for pattern in params.all("query") {
        for node in nodes(&state, pattern).await? {
            if node.leaf || !leaves_only {
                results.push(node.path);
            }
        }
    }
    results.sort();
    results.dedup();
    Ok(Json(Expanded { results }))
}

fn limit(params: &Params) -> Result<usize, ApiError> {
    match params.get("limit") {
        None | Some("") => Ok(tags::DEFAULT_LIMIT),
        Some(text) => text
            .parse()
            .map_err(|_| ApiError::BadRequest("limit must be a positive integer".into())),
    }
}

/// Runs a tags query over the catalog on a reader.
async fn with_catalog<T: Send + 'static>(
    state: &AppState,
    query: impl FnOnce(
            &[crate::store::metrics::Series],
        ) -> Result<T, crate::query::graphite::eval::RenderError>
        + Send
        + 'static,
) -> Result<T, ApiError> {
    let catalog = state.tsdb.catalog();
    tokio::task::spawn_blocking(move || query(&catalog))
        .await
        .map_err(|e| ApiError::from(crate::store::StoreError::Task(e.to_string())))?
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}

async fn tag_names_handler(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Vec<String>>, ApiError> {
    let (expressions, prefix, limit) = (
        params.all("expr"),
        params.get("tagPrefix").unwrap_or("").to_owned(),
        limit(&params)?,
    );
    Ok(Json(
        with_catalog(&state, move |c| {
            tags::autocomplete_tags(c, &expressions, &prefix, limit)
        })
        .await?,
    ))
}

async fn tag_values_handler(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Vec<String>>, ApiError> {
    let tag = params
        .get("tag")
        .ok_or_else(|| ApiError::BadRequest("tag is required".into()))?
        .to_owned();
    let (expressions, prefix, limit) = (
        params.all("expr"),
        params.get("valuePrefix").unwrap_or("").to_owned(),
        limit(&params)?,
    );
    Ok(Json(
        with_catalog(&state, move |c| {
            tags::autocomplete_values(c, &expressions, &tag, &prefix, limit)
        })
        .await?,
    ))
}

async fn find_series_handler(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Vec<String>>, ApiError> {
    let expressions = params.all("expr");
    if expressions.is_empty() {
        return Err(ApiError::BadRequest("at least one expr is required".into()));
    }
    Ok(Json(
        with_catalog(&state, move |c| tags::find_series(c, &expressions)).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Graphite's shape, series in order, nulls for empty buckets, and
    /// enough series that they are written on several threads.
    #[test]
    fn json_is_graphites_datapoints() {
        let series: Vec<TimeSeries> = (0..10)
            .map(|i| {
                TimeSeries::new(
                    format!("a.s{i}"),
                    100,
                    10,
                    vec![Some(f64::from(i) + 0.5), None, Some(3.0)],
                )
            })
            .collect();
        let written: serde_json::Value =
            serde_json::from_slice(&to_json(&series).unwrap()).unwrap();
        let expected: Vec<serde_json::Value> = (0..10)
            .map(|i| {
                serde_json::json!({
                    "target": format!("a.s{i}"),
                    "tags": {"name": format!("a.s{i}")},
                    "datapoints": [[f64::from(i) + 0.5, 100], [null, 110], [3.0, 120]],
                })
            })
            .collect();
        assert_eq!(written, serde_json::Value::Array(expected));
        assert_eq!(to_json(&[]).unwrap(), b"[]");
    }

    #[test]
    fn csv_timestamps_are_utc() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00");
        assert_eq!(utc_text(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(utc_text(951_868_800), "2000-03-01 00:00:00");
    }
}
