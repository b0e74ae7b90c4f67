//! Reading leaves from the store onto a regular grid.
//!
//! When the grid is coarser than the stored resolution, each bucket is
//! merged the way its field needs: counts add, rates divide the summed
//! count by the bucket, timer statistics come from the merged sketches of
//! the bucket (so a p99 over an hour is the p99 of the hour's samples, not
//! an average of p99s), gauges average.

use std::collections::BTreeMap;

use regex::Regex;
use rusqlite::Connection;

use super::catalog::{self, Field, Leaf, TimerField};
use super::eval::{Range, RenderError, Source};
use super::series::TimeSeries;
use crate::metrics::TimerSummary;
use crate::store::metrics::Series;
use crate::tsdb::grid::Grid;
use crate::tsdb::point::Agg;
use crate::tsdb::{PendingRead, Tsdb};

/// Most points one series may have in a response.
pub const MAX_POINTS_PER_SERIES: i64 = 1_000_000;

/// A [`Source`] over the metrics store.
pub struct StoreSource<'a> {
    pub conn: &'a Connection,
    pub tsdb: &'a Tsdb,
    pub catalog: &'a [Series],
    /// Unix seconds: which levels still hold a range depends on it.
    pub now: i64,
    /// Fetch straight onto this coarser grid (for plain paths with a
    /// `maxDataPoints`), merging buckets per field.
    pub grid_step: Option<i64>,
}

/// One leaf's read, planned: its level, grid and pending data.
struct Planned {
    field: Field,
    tags: Vec<(String, String)>,
    name: String,
    start: i64,
    step: i64,
    buckets: usize,
    pending: PendingRead,
}

impl StoreSource<'_> {
    /// Each leaf onto its grid, in order. The chunks are read on this
    /// connection, then decoded and bucketed on every core: decoding is
    /// most of a render's time.
    fn fetch_all(
        &self,
        leaves: &[(&Leaf, String)],
        range: Range,
    ) -> Result<Vec<TimeSeries>, RenderError> {
        let mut planned = Vec::with_capacity(leaves.len());
        for (leaf, name) in leaves {
            planned.push(self.plan(leaf, name.clone(), range)?);
        }
        let values = parallel_map(planned, |planned| {
            let mut grid = Grid::new(planned.start, planned.step, planned.buckets);
            planned
                .pending
                .finish_onto(&mut grid)
                .map_err(|e| RenderError::Store(e.to_string()))?;
            let values = grid
                .into_buckets()
                .iter()
                .map(|bucket| {
                    bucket
                        .as_ref()
                        .and_then(|agg| bucket_value(planned.field, agg, planned.step))
                })
                .collect();
            let mut series = TimeSeries::new(planned.name, planned.start, planned.step, values);
            series.consolidation = planned.field.default_consolidation();
            series.tags.extend(planned.tags);
            Ok(series)
        });
        values.into_iter().collect()
    }

    fn plan(&self, leaf: &Leaf, name: String, range: Range) -> Result<Planned, RenderError> {
        let schema = self.tsdb.schema_of(leaf.series.id);
        let wanted = self
            .grid_step
            .unwrap_or(schema.raw().step)
            .max(schema.raw().step);
        let level_index = schema.level_for(self.now, range.from, wanted);
        let level_step = schema
            .levels
            .get(level_index)
            .map_or(schema.raw().step, |l| l.step);
        // A whole number of the level's steps per point.
        let step = (wanted + level_step - 1) / level_step * level_step;
        // Every bucket that overlaps [from, until]: the bucket holding
        // `until` is included, as Graphite includes it, so `until=now`
        // shows the interval in progress.
        let start = range.from - range.from.rem_euclid(step);
        let end = range.until - range.until.rem_euclid(step) + step;
        let buckets = (end - start) / step;
        if buckets > MAX_POINTS_PER_SERIES {
            return Err(RenderError::Argument {
                function: "render".into(),
                message: format!(
                    "{buckets} points per series asked for; at most {MAX_POINTS_PER_SERIES}"
                ),
            });
        }
        let pending = self
            .tsdb
            .begin_read(self.conn, &leaf.series, level_index, start, end)
            .map_err(|e| RenderError::Store(e.to_string()))?;
        Ok(Planned {
            field: leaf.field,
            tags: leaf
                .series
                .key
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            name,
            start,
            step,
            buckets: usize::try_from(buckets.max(0)).unwrap_or(0),
            pending,
        })
    }
}

/// Fewest items worth a thread of their own: below it, spawning costs
/// more than it saves.
const MIN_ITEMS_PER_THREAD: usize = 4;

/// `f` over `items`, in order, split over the machine's cores with scoped
/// threads (a render request is one blocking task; its series are
/// independent, to fetch and to write out).
pub fn parallel_map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let threads = cores.min(items.len() / MIN_ITEMS_PER_THREAD).max(1);
    if threads == 1 {
        return items.into_iter().map(f).collect();
    }
    let per_thread = items.len().div_ceil(threads);
    let mut parts: Vec<Vec<T>> = Vec::with_capacity(threads);
    let mut items = items.into_iter();
    for _ in 0..threads {
        parts.push(items.by_ref().take(per_thread).collect());
    }
    let f = &f;
    std::thread::scope(|scope| {
        // The last part runs here; the others on their own threads.
        let last = parts.pop().unwrap_or_default();
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || part.into_iter().map(f).collect::<Vec<R>>()))
            .collect();
        let last: Vec<R> = last.into_iter().map(f).collect();
        let mut out = Vec::new();
        for handle in handles {
            match handle.join() {
                Ok(results) => out.extend(results),
                // A panic in `f` is a bug: carry it to the caller as if it
                // had happened here.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out.extend(last);
        out
    })
}

/// The value of `field` for the points merged into one bucket of `step`
/// seconds.
fn bucket_value(field: Field, agg: &Agg, step: i64) -> Option<f64> {
    match field {
        Field::Value => (agg.n > 0.0).then(|| agg.sum / agg.n),
        Field::Count | Field::Timer(TimerField::Count) => Some(agg.sum),
        Field::Unique => Some(agg.max),
        Field::Rate => Some(agg.sum / step as f64),
        Field::Timer(timer_field) => agg
            .summary
            .as_ref()
            .and_then(|summary| timer_value(timer_field, summary)),
    }
}

fn timer_value(field: TimerField, summary: &TimerSummary) -> Option<f64> {
    let sketch = &summary.sketch;
    let count = sketch.count();
    if count == 0 {
        return None;
    }
    match field {
        TimerField::Count => Some(count as f64),
        TimerField::Sum => Some(sketch.sum()),
        TimerField::Mean => Some(sketch.sum() / count as f64),
        TimerField::Lower => sketch.min(),
        TimerField::Upper => sketch.max(),
        TimerField::Median => sketch.quantile(0.5),
        TimerField::Std => summary.std_dev(),
        TimerField::Percentile(p) => sketch.quantile(p / 100.0),
    }
}

impl Source for StoreSource<'_> {
    fn path(&self, pattern: &str, range: Range) -> Result<Vec<TimeSeries>, RenderError> {
        let leaves = catalog::resolve(self.catalog, pattern).map_err(|e| RenderError::Pattern {
            pattern: pattern.to_owned(),
            message: e.to_string(),
        })?;
        let named: Vec<(&Leaf, String)> = leaves.iter().map(|l| (l, l.name.clone())).collect();
        let mut fetched = self.fetch_all(&named, range)?;
        for series in &mut fetched {
            series.path_expression = pattern.to_owned();
        }
        Ok(fetched)
    }

    fn tagged(&self, expressions: &[String], range: Range) -> Result<Vec<TimeSeries>, RenderError> {
        let matching = super::tags::matching_leaves(self.catalog, expressions)?;
        let named: Vec<(&Leaf, String)> = matching
            .iter()
            .map(|(leaf, _)| {
                let mut name = leaf.name.clone();
                if !leaf.series.key.tags.is_empty() {
                    name = format!("{name};{}", leaf.series.key.tags_text());
                }
                (leaf, name)
            })
            .collect();
        let mut out = self.fetch_all(&named, range)?;
        let path_expression = format!("seriesByTag('{}')", expressions.join("','"));
        for series in &mut out {
            series.path_expression = path_expression.clone();
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

/// One `seriesByTag` expression.
pub enum TagMatcher {
    Equal(String, String),
    NotEqual(String, String),
    Matches(String, Regex),
    NotMatches(String, Regex),
}

impl TagMatcher {
    pub fn parse(expression: &str) -> Result<TagMatcher, RenderError> {
        let bad = |message: &str| RenderError::Argument {
            function: "seriesByTag".into(),
            message: format!("{message}: {expression:?}"),
        };
        let regex = |text: &str| Regex::new(&format!("^(?:{text})")).map_err(|_| bad("bad regex"));
        if let Some((tag, value)) = expression.split_once("!=~") {
            return Ok(TagMatcher::NotMatches(tag.to_owned(), regex(value)?));
        }
        if let Some((tag, value)) = expression.split_once("=~") {
            return Ok(TagMatcher::Matches(tag.to_owned(), regex(value)?));
        }
        if let Some((tag, value)) = expression.split_once("!=") {
            return Ok(TagMatcher::NotEqual(tag.to_owned(), value.to_owned()));
        }
        if let Some((tag, value)) = expression.split_once('=') {
            return Ok(TagMatcher::Equal(tag.to_owned(), value.to_owned()));
        }
        Err(bad(
            "expected tag=value, tag!=value, tag=~regex or tag!=~regex",
        ))
    }

    pub fn matches(&self, tags: &BTreeMap<&str, &str>) -> bool {
        let value = |tag: &str| tags.get(tag).copied().unwrap_or("");
        match self {
            TagMatcher::Equal(tag, expected) => value(tag) == expected,
            TagMatcher::NotEqual(tag, expected) => value(tag) != expected,
            TagMatcher::Matches(tag, regex) => regex.is_match(value(tag)),
            TagMatcher::NotMatches(tag, regex) => !regex.is_match(value(tag)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::metrics::SeriesKey;
    use crate::store::metrics::SeriesKind;
    use crate::store::Store;
    use crate::tsdb::point::RawValue;
    use crate::tsdb::{test_config, Row};

    #[test]
    fn parallel_map_keeps_the_order() {
        for len in [0, 1, 7, 8, 9, 100] {
            let items: Vec<usize> = (0..len).collect();
            let doubled = parallel_map(items, |i| i * 2);
            assert_eq!(doubled, (0..len).map(|i| i * 2).collect::<Vec<_>>());
        }
    }

    /// A store with an empty time-series store on it.
    async fn open_tsdb() -> (Store, Tsdb, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let tsdb = Tsdb::open(store.clone(), test_config(), Arc::default())
            .await
            .unwrap();
        (store, tsdb, dir)
    }

    /// `pattern` over `range`, rendered as the query engine reads it.
    async fn render(
        store: &Store,
        tsdb: &Tsdb,
        now: i64,
        grid_step: Option<i64>,
        pattern: &'static str,
        range: Range,
    ) -> Vec<TimeSeries> {
        let reader = tsdb.clone();
        store
            .read(move |conn| {
                let catalog = reader.catalog();
                let source = StoreSource {
                    conn,
                    tsdb: &reader,
                    catalog: &catalog,
                    now,
                    grid_step,
                };
                Ok(source.path(pattern, range).unwrap())
            })
            .await
            .unwrap()
    }

    /// Enough series that they are decoded on several threads: each
    /// still gets its own points, in name order.
    #[tokio::test]
    async fn many_series_render_each_their_own_points() {
        let (store, tsdb, _dir) = open_tsdb().await;
        let t0 = 1_700_006_400;
        let mut rows = Vec::new();
        for s in 0..20 {
            for i in 0..720 {
                rows.push(Row {
                    key: SeriesKey::new(format!("h.s{s:02}.load"), []),
                    kind: SeriesKind::Gauge,
                    ts: t0 + i * 10,
                    value: RawValue::Plain(f64::from(s * 1000 + i as i32)),
                });
            }
        }
        tsdb.ingest(rows).await.unwrap();
        // The first hour is sealed into chunks; the second stays in the head.
        tsdb.seal(t0 + 3600 + 60).await.unwrap();
        for _ in 0..2 {
            // Twice: the second read decodes from the chunk cache.
            let range = Range {
                from: t0,
                until: t0 + 7199,
            };
            let rendered = render(&store, &tsdb, t0 + 7200, Some(60), "h.*.load", range).await;
            assert_eq!(rendered.len(), 20);
            for (s, series) in rendered.iter().enumerate() {
                assert_eq!(series.name, format!("h.s{s:02}.load"));
                assert_eq!(series.step, 60);
                assert_eq!(series.values.len(), 120);
                // Each minute averages its six raw points: i = 6m .. 6m+5.
                for (m, value) in series.values.iter().enumerate() {
                    let expected = (s * 1000) as f64 + (6 * m) as f64 + 2.5;
                    assert_eq!(*value, Some(expected), "series {s} minute {m}");
                }
            }
        }
    }

    /// Regression: a point stored at the start of the interval in progress
    /// (what a shutdown flush writes) must show with `until=now`.
    #[tokio::test]
    async fn the_bucket_holding_until_is_included() {
        let (store, tsdb, _dir) = open_tsdb().await;
        let rows = [(100, 1.0), (110, 2.0), (120, 3.0)].map(|(ts, value)| Row {
            key: SeriesKey::new("a.b".into(), []),
            kind: SeriesKind::Gauge,
            ts,
            value: RawValue::Plain(value),
        });
        tsdb.ingest(rows.to_vec()).await.unwrap();
        let range = Range {
            from: 105,
            until: 120,
        };
        let rendered = render(&store, &tsdb, 200, None, "a.b", range).await;
        assert_eq!(rendered[0].start, 100);
        assert_eq!(rendered[0].values, [Some(1.0), Some(2.0), Some(3.0)]);
    }
}
