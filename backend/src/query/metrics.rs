//! The native metrics API's reads: series search and quantiles over merged
//! sketches.

use std::collections::BTreeMap;

use partout_model::api::{MetricPoints, MetricSeries, QuantileBucket, QuantileValue, Quantiles};
use regex::Regex;
use rusqlite::Connection;

use super::graphite::catalog::{glob_regex, leaves_of};
use crate::metrics::sketch::RELATIVE_ACCURACY;
use crate::metrics::TimerSummary;
use crate::store::metrics::{Series, SeriesKind};
use crate::store::StoreError;
use crate::tsdb::Tsdb;

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

/// Which names a series search keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameFilter {
    /// A Graphite glob over the whole name: `*` stays within one node.
    Glob(String),
    /// Names containing this text anywhere, case-insensitively: what a
    /// person types in a search box (`checkout` finds
    /// `stats.timers.web.checkout`). Empty keeps every name.
    Contains(String),
}

/// Series whose name passes `filter` and that carry every `tags` pair,
/// sorted by name; at most `limit` (and [`MAX_SEARCH_RESULTS`]).
pub fn search(
    catalog: &[Series],
    filter: &NameFilter,
    tags: &[(String, String)],
    limit: usize,
) -> Result<Vec<MetricSeries>, MetricsQueryError> {
    let matches: Box<dyn Fn(&str) -> bool> = match filter {
        NameFilter::Glob(pattern) => {
            let matcher: Regex = glob_regex(pattern)
                .map_err(|e| MetricsQueryError::BadRequest(format!("bad pattern: {e}")))?;
            Box::new(move |name| matcher.is_match(name))
        }
        NameFilter::Contains(text) => {
            let text = text.to_lowercase();
            Box::new(move |name| name.to_lowercase().contains(&text))
        }
    };
    let limit = limit.min(MAX_SEARCH_RESULTS);
    let mut found = Vec::new();
    for series in catalog {
        if found.len() >= limit {
            break;
        }
        let has_tags = tags
            .iter()
            .all(|(k, v)| series.key.tags.iter().any(|(sk, sv)| sk == k && sv == v));
        if has_tags && matches(&series.key.name) {
            found.push(describe(series));
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

/// Quantiles of a timer over a range, from merged sketches. The
/// resolution read is the coarsest that still holds `from` and whose step
/// divides the bucket step (or the whole range), so merging its sketches
/// is exact.
pub fn quantiles(
    conn: &Connection,
    tsdb: &Tsdb,
    now: i64,
    request: &QuantilesRequest,
) -> Result<Quantiles, MetricsQueryError> {
    let stored_name = if request.name.starts_with("stats.timers.") {
        request.name.clone()
    } else {
        format!("stats.timers.{}", request.name)
    };
    let mut wanted_tags = request.tags.clone();
    wanted_tags.sort();
    let series = tsdb
        .catalog()
        .iter()
        .find(|s| {
            s.kind == SeriesKind::Timer && s.key.name == stored_name && s.key.tags == wanted_tags
        })
        .cloned()
        .ok_or_else(|| MetricsQueryError::NotFound(stored_name.clone()))?;
    let schema = tsdb.schema_of(series.id);
    let raw_step = schema.raw().step;
    let bucket_step = request.step.map(|s| s.max(raw_step));
    let span = (request.until - request.from).max(raw_step);
    let level_index = schema.level_for(now, request.from, bucket_step.unwrap_or(span));
    let level_step = schema
        .levels
        .get(level_index)
        .map_or(raw_step, |level| level.step);
    let bucket_step = bucket_step.map(|s| (s + level_step - 1) / level_step * level_step);
    let start = request.from - request.from.rem_euclid(level_step);
    let end = request.until - request.until.rem_euclid(level_step) + level_step;
    if let Some(step) = bucket_step {
        if (end - start) / step > MAX_BUCKETS {
            return Err(MetricsQueryError::BadRequest(format!(
                "at most {MAX_BUCKETS} buckets; use a larger step"
            )));
        }
    }
    let mut total = TimerSummary::default();
    let mut buckets: BTreeMap<i64, TimerSummary> = BTreeMap::new();
    for (ts, agg) in tsdb.read(conn, &series, level_index, start, end)? {
        let Some(summary) = agg.summary else {
            continue;
        };
        total.merge(&summary);
        if let Some(step) = bucket_step {
            let bucket_start = ts - ts.rem_euclid(step);
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

/// How the points of a bucket become one value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Consolidation {
    Avg,
    Sum,
    Min,
    Max,
    Last,
    /// Raw points in the bucket.
    Count,
    /// A quantile (0..=1) of a timer's merged sketches.
    Quantile(f64),
}

impl Consolidation {
    /// `avg`, `sum`, `min`, `max`, `last`, `count`, or `p<percent>` such as
    /// `p99.9`.
    pub fn parse(text: &str) -> Option<Consolidation> {
        Some(match text {
            "avg" | "average" => Consolidation::Avg,
            "sum" => Consolidation::Sum,
            "min" => Consolidation::Min,
            "max" => Consolidation::Max,
            "last" => Consolidation::Last,
            "count" => Consolidation::Count,
            other => {
                let percent: f64 = other.strip_prefix('p')?.parse().ok()?;
                if !(0.0..=100.0).contains(&percent) {
                    return None;
                }
                Consolidation::Quantile(percent / 100.0)
            }
        })
    }

    fn apply(self, agg: &crate::tsdb::point::Agg) -> Option<f64> {
        match self {
            Consolidation::Avg => (agg.n > 0.0).then(|| agg.sum / agg.n),
            Consolidation::Sum => Some(agg.sum),
            Consolidation::Min => Some(agg.min),
            Consolidation::Max => Some(agg.max),
            Consolidation::Last => Some(agg.last),
            Consolidation::Count => Some(agg.n),
            Consolidation::Quantile(q) => agg.summary.as_ref()?.sketch.quantile(q),
        }
    }
}

/// A points request, validated.
#[derive(Debug, Clone)]
pub struct PointsRequest {
    /// The stored name, as `/api/v1/metrics/series` lists it.
    pub name: String,
    pub tags: Vec<(String, String)>,
    pub from: i64,
    pub until: i64,
    /// Wanted seconds between points; the raw step when absent.
    pub step: Option<i64>,
    /// Text as sent, for the answer.
    pub consolidation_text: String,
    pub consolidation: Consolidation,
}

/// One series' points over `[from, until]`, read at the coarsest
/// resolution whose step divides the wanted step (exact consolidation),
/// or the finest that still holds `from`.
pub fn points(
    conn: &Connection,
    tsdb: &Tsdb,
    now: i64,
    request: &PointsRequest,
) -> Result<MetricPoints, MetricsQueryError> {
    let mut wanted_tags = request.tags.clone();
    wanted_tags.sort();
    let series = tsdb
        .catalog()
        .iter()
        .find(|s| s.key.name == request.name && s.key.tags == wanted_tags)
        .cloned()
        .ok_or_else(|| MetricsQueryError::NotFound(request.name.clone()))?;
    if matches!(request.consolidation, Consolidation::Quantile(_))
        && series.kind != SeriesKind::Timer
    {
        return Err(MetricsQueryError::BadRequest(format!(
            "{} is a {}: quantiles need a timer",
            request.name,
            series.kind.as_str()
        )));
    }
    let schema = tsdb.schema_of(series.id);
    let raw_step = schema.raw().step;
    let wanted = request.step.unwrap_or(raw_step).max(raw_step);
    let level_index = schema.level_for(now, request.from, wanted);
    let resolution = schema
        .levels
        .get(level_index)
        .map_or(raw_step, |level| level.step);
    let step = (wanted + resolution - 1) / resolution * resolution;
    let start = request.from - request.from.rem_euclid(step);
    let end = request.until - request.until.rem_euclid(step) + step;
    let buckets = (end - start) / step;
    if buckets > MAX_BUCKETS * 100 {
        return Err(MetricsQueryError::BadRequest(format!(
            "{buckets} points asked for; at most {}: use a larger step",
            MAX_BUCKETS * 100
        )));
    }
    let mut merged: BTreeMap<i64, crate::tsdb::point::Agg> = BTreeMap::new();
    for (ts, agg) in tsdb.read(conn, &series, level_index, start, end)? {
        let bucket = ts - ts.rem_euclid(step);
        match merged.get_mut(&bucket) {
            Some(existing) => existing.merge(&agg),
            None => {
                merged.insert(bucket, agg);
            }
        }
    }
    let points = (0..buckets)
        .map(|i| {
            let ts = start + i * step;
            (
                ts,
                merged
                    .get(&ts)
                    .and_then(|agg| request.consolidation.apply(agg)),
            )
        })
        .collect();
    Ok(MetricPoints {
        name: series.key.name.clone(),
        tags: series.key.tags.iter().cloned().collect(),
        kind: series.kind.as_str().to_owned(),
        step,
        resolution,
        consolidation: request.consolidation_text.clone(),
        points,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::metrics::sketch::Sketch;
    use crate::metrics::SeriesKey;
    use crate::store::Store;
    use crate::tsdb::point::RawValue;
    use crate::tsdb::{test_config, Row};

    fn named(names: &[&str]) -> Vec<Series> {
        names
            .iter()
            .zip(1..)
            .map(|(name, id)| Series {
                id,
                key: SeriesKey::new((*name).into(), [("dc".into(), "eu".into())]),
                kind: SeriesKind::Gauge,
            })
            .collect()
    }

    fn names(found: &[MetricSeries]) -> Vec<&str> {
        found.iter().map(|series| series.name.as_str()).collect()
    }

    /// A glob keeps Graphite's rule (`*` within one node); a text finds
    /// names containing it anywhere, whatever its case; a limit cuts.
    #[test]
    fn series_are_found_by_glob_or_by_text_up_to_a_limit() {
        let catalog = named(&[
            "servers.web1.load",
            "servers.web2.load",
            "stats.timers.web.Checkout",
        ]);
        let glob = |pattern: &str| NameFilter::Glob(pattern.into());
        let text = |text: &str| NameFilter::Contains(text.into());
        let found = |filter, limit| search(&catalog, &filter, &[], limit).unwrap();
        assert!(found(glob("*"), 10).is_empty(), "* is one node");
        assert_eq!(
            names(&found(glob("servers.*.load"), 10)),
            ["servers.web1.load", "servers.web2.load"]
        );
        assert_eq!(
            names(&found(text("checkout"), 10)),
            ["stats.timers.web.Checkout"]
        );
        assert_eq!(names(&found(text("WEB"), 10)).len(), 3);
        assert_eq!(names(&found(text(""), 2)).len(), 2, "the limit");
        assert_eq!(names(&found(text(""), 0)).len(), 0);
        let tagged = [("dc".to_owned(), "us".to_owned())];
        assert!(search(&catalog, &text(""), &tagged, 10).unwrap().is_empty());
    }

    /// Two intervals with very different latencies: the range's p99 must be
    /// the p99 of all samples (from merged sketches), not a mix of the two
    /// intervals' p99s.
    #[tokio::test]
    async fn quantiles_over_a_range_come_from_merged_sketches() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let tsdb = Tsdb::open(store.clone(), test_config(), Arc::default())
            .await
            .unwrap();
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
            rows.push(Row {
                key: SeriesKey::new("stats.timers.api.latency".into(), []),
                kind: SeriesKind::Timer,
                ts,
                value: RawValue::Timer {
                    count: f64::from(n),
                    summary: summary.encode().into_boxed_slice(),
                },
            });
        }
        tsdb.ingest(rows).await.unwrap();
        all.sort_by(f64::total_cmp);
        let request = QuantilesRequest {
            name: "api.latency".into(),
            tags: vec![],
            qs: vec![0.5, 0.99],
            from: 100,
            until: 115,
            step: Some(10),
        };
        let reader = tsdb.clone();
        let answer = store
            .read(move |conn| Ok(quantiles(conn, &reader, 200, &request)))
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
        let reader = tsdb.clone();
        let err = store
            .read(move |conn| Ok(quantiles(conn, &reader, 200, &missing)))
            .await
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, MetricsQueryError::NotFound(_)));
    }

    /// A counter over two hours: sums per 30 min from 1 min rollups after
    /// a seal equal the raw sums; the hour's max and count are exact.
    #[tokio::test]
    async fn points_at_a_chosen_step_and_consolidation() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let tsdb = Tsdb::open(store.clone(), test_config(), Arc::default())
            .await
            .unwrap();
        let t0 = 1_700_006_400;
        let rows: Vec<Row> = (0..720)
            .map(|i| Row {
                key: SeriesKey::new(
                    "stats.counters.hits".into(),
                    [("env".into(), "prod".into())],
                ),
                kind: SeriesKind::Counter,
                ts: t0 + i * 10,
                value: RawValue::Plain((i % 5) as f64),
            })
            .collect();
        tsdb.ingest(rows).await.unwrap();
        tsdb.seal(t0 + 3 * 3600).await.unwrap();
        let ask = |step: Option<i64>, consolidation: &str| PointsRequest {
            name: "stats.counters.hits".into(),
            tags: vec![("env".into(), "prod".into())],
            from: t0,
            until: t0 + 2 * 3600 - 1,
            step,
            consolidation_text: consolidation.into(),
            consolidation: Consolidation::parse(consolidation).unwrap(),
        };
        let run = |request: PointsRequest| {
            let reader = tsdb.clone();
            store.read(move |conn| Ok(points(conn, &reader, t0 + 3 * 3600, &request)))
        };
        let half_hours = run(ask(Some(1800), "sum")).await.unwrap().unwrap();
        assert_eq!(half_hours.resolution, 60);
        assert_eq!(half_hours.step, 1800);
        // 180 raw points per half hour cycling 0..5: 36 cycles of 10.
        assert_eq!(
            half_hours.points,
            (0..4)
                .map(|i| (t0 + i * 1800, Some(360.0)))
                .collect::<Vec<_>>()
        );
        let hours = run(ask(Some(3600), "max")).await.unwrap().unwrap();
        assert_eq!(hours.resolution, 3600);
        assert_eq!(hours.points[0], (t0, Some(4.0)));
        let counts = run(ask(Some(3600), "count")).await.unwrap().unwrap();
        assert_eq!(counts.points[1], (t0 + 3600, Some(360.0)));
        let raw = run(ask(None, "avg")).await.unwrap().unwrap();
        assert_eq!((raw.step, raw.points.len()), (10, 720));
        assert_eq!(raw.points[3], (t0 + 30, Some(3.0)));
        let bad = run(ask(None, "p99")).await.unwrap();
        assert!(matches!(bad, Err(MetricsQueryError::BadRequest(_))));
        assert_eq!(Consolidation::parse("p101"), None);
        assert_eq!(Consolidation::parse("median"), None);
    }
}
