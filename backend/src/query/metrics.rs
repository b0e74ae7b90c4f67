//! The native metrics API's reads: series search and quantiles over merged
//! sketches.

use std::collections::BTreeMap;

use partout_model::api::{MetricSeries, QuantileBucket, QuantileValue, Quantiles};
use regex::Regex;
use rusqlite::Connection;

use super::graphite::catalog::{glob_regex, leaves_of};
use crate::metrics::sketch::RELATIVE_ACCURACY;
use crate::metrics::TimerSummary;
use crate::store::metrics::{all_series, points, Series, SeriesKind};
use crate::store::StoreError;

/// Most series one search returns.
pub const MAX_SEARCH_RESULTS: usize = 10_000;
/// Most buckets one quantiles answer holds.
pub const MAX_BUCKETS: i64 = 10_000;

/// Why a metrics query was refused; said to the client.
#[derive(Debug, thiserror::Error)]
pub enum MetricsQueryError {
    #[error("{0}")]
    BadRequest(String),
    #[error("no timer series named {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Series whose name matches the Graphite glob `pattern` and that carry
/// every `tags` pair, sorted by name.
pub fn search(
    conn: &Connection,
    pattern: &str,
    tags: &[(String, String)],
) -> Result<Vec<MetricSeries>, MetricsQueryError> {
    let matcher: Regex = glob_regex(pattern)
        .map_err(|e| MetricsQueryError::BadRequest(format!("bad pattern: {e}")))?;
    let mut found = Vec::new();
    for series in all_series(conn)? {
        let has_tags = tags
            .iter()
            .all(|(k, v)| series.key.tags.iter().any(|(sk, sv)| sk == k && sv == v));
        if has_tags && matcher.is_match(&series.key.name) {
            found.push(describe(&series));
            if found.len() >= MAX_SEARCH_RESULTS {
                break;
            }
        }
    }
    Ok(found)
}

fn describe(series: &Series) -> MetricSeries {
    MetricSeries {
        name: series.key.name.clone(),
        tags: series.key.tags.iter().cloned().collect(),
        kind: series.kind.as_str().to_owned(),
        graphite_names: leaves_of(series)
            .into_iter()
            .map(|leaf| leaf.name)
            .collect(),
    }
}

/// A quantiles request, validated.
#[derive(Debug, Clone)]
pub struct QuantilesRequest {
    /// As sent (`api.latency`) or stored (`stats.timers.api.latency`).
    pub name: String,
    pub tags: Vec<(String, String)>,
    pub qs: Vec<f64>,
    pub from: i64,
    pub until: i64,
    /// Per-bucket quantiles too, when set (seconds, a multiple of the raw
    /// resolution is best).
    pub step: Option<i64>,
}

pub fn quantiles(
    conn: &Connection,
    raw_step: i64,
    request: &QuantilesRequest,
) -> Result<Quantiles, MetricsQueryError> {
    let stored_name = if request.name.starts_with("stats.timers.") {
        request.name.clone()
    } else {
        format!("stats.timers.{}", request.name)
    };
    let mut wanted_tags = request.tags.clone();
    wanted_tags.sort();
    let series = all_series(conn)?
        .into_iter()
        .find(|s| {
            s.kind == SeriesKind::Timer && s.key.name == stored_name && s.key.tags == wanted_tags
        })
        .ok_or_else(|| MetricsQueryError::NotFound(stored_name.clone()))?;
    let raw_step = raw_step.max(1);
    let start = request.from - request.from.rem_euclid(raw_step);
    let end = request.until - request.until.rem_euclid(raw_step) + raw_step;
    let bucket_step = request.step.map(|s| s.max(raw_step));
    if let Some(step) = bucket_step {
        if (end - start) / step > MAX_BUCKETS {
            return Err(MetricsQueryError::BadRequest(format!(
                "at most {MAX_BUCKETS} buckets; use a larger step"
            )));
        }
    }
    let mut total = TimerSummary::default();
    let mut buckets: BTreeMap<i64, TimerSummary> = BTreeMap::new();
    for point in points(conn, series.id, start, end)? {
        let Some(summary) = point.sketch.as_deref().and_then(TimerSummary::decode) else {
            continue;
        };
        total.merge(&summary);
        if let Some(step) = bucket_step {
            let bucket_start = point.ts - point.ts.rem_euclid(step);
            buckets.entry(bucket_start).or_default().merge(&summary);
        }
    }
    let values = |summary: &TimerSummary| -> Vec<QuantileValue> {
        request
            .qs
            .iter()
            .map(|&q| QuantileValue {
                q,
                value: summary.sketch.quantile(q),
            })
            .collect()
    };
    Ok(Quantiles {
        name: stored_name,
        tags: series.key.tags.iter().cloned().collect(),
        from: start,
        until: end,
        count: total.sketch.count(),
        relative_accuracy: RELATIVE_ACCURACY,
        quantiles: values(&total),
        buckets: buckets
            .iter()
            .map(|(&start, summary)| QuantileBucket {
                start,
                count: summary.sketch.count(),
                quantiles: values(summary),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::sketch::Sketch;
    use crate::metrics::SeriesKey;
    use crate::store::metrics::{ensure_series, insert_points, NewPoint};
    use crate::store::Store;

    /// Two intervals with very different latencies: the range's p99 must be
    /// the p99 of all samples (from merged sketches), not a mix of the two
    /// intervals' p99s.
    #[tokio::test]
    async fn quantiles_over_a_range_come_from_merged_sketches() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let key = SeriesKey::new("stats.timers.api.latency".into(), []);
        let id = store
            .write(move |conn| ensure_series(conn, &key, SeriesKind::Timer, 10))
            .await
            .unwrap()
            .unwrap()
            .id;
        let mut all = Vec::new();
        let mut rows = Vec::new();
        for (ts, base, n) in [(100, 10.0, 900), (110, 500.0, 100)] {
            let mut summary = TimerSummary {
                sum_of_squares: 0.0,
                sketch: Sketch::new(),
            };
            for i in 0..n {
                let v = base + f64::from(i);
                summary.sketch.add(v, 1);
                all.push(v);
            }
            rows.push(NewPoint {
                series_id: id,
                ts,
                value: f64::from(n),
                sketch: Some(summary.encode()),
            });
        }
        store
            .write(move |conn| insert_points(conn, &rows))
            .await
            .unwrap();
        all.sort_by(f64::total_cmp);
        let request = QuantilesRequest {
            name: "api.latency".into(),
            tags: vec![],
            qs: vec![0.5, 0.99],
            from: 100,
            until: 115,
            step: Some(10),
        };
        let answer = store
            .read(move |conn| Ok(quantiles(conn, 10, &request)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(answer.count, 1000);
        let exact_p99 = all[989];
        let p99 = answer.quantiles[1].value.unwrap();
        assert!(
            (p99 - exact_p99).abs() <= 0.01 * exact_p99,
            "{p99} vs {exact_p99}"
        );
        assert_eq!(answer.buckets.len(), 2);
        assert_eq!(answer.buckets[1].count, 100);
        let missing = QuantilesRequest {
            name: "nope".into(),
            tags: vec![],
            qs: vec![0.5],
            from: 0,
            until: 10,
            step: None,
        };
        let err = store
            .read(move |conn| Ok(quantiles(conn, 10, &missing)))
            .await
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, MetricsQueryError::NotFound(_)));
    }
}
