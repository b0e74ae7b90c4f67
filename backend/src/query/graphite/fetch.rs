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
use crate::tsdb::point::Agg;
use crate::tsdb::Tsdb;

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

impl StoreSource<'_> {
    fn fetch(&self, leaf: &Leaf, name: String, range: Range) -> Result<TimeSeries, RenderError> {
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
        let stored = self
            .tsdb
            .read(self.conn, &leaf.series, level_index, start, end)
            .map_err(|e| RenderError::Store(e.to_string()))?;
        let mut grouped: Vec<Option<Agg>> =
            vec![None; usize::try_from(buckets.max(0)).unwrap_or(0)];
        for (ts, agg) in stored {
            if let Some(bucket) = usize::try_from((ts - start) / step)
                .ok()
                .and_then(|i| grouped.get_mut(i))
            {
                match bucket {
                    Some(merged) => merged.merge(&agg),
                    None => *bucket = Some(agg),
                }
            }
        }
        let values = grouped
            .iter()
            .map(|bucket| {
                bucket
                    .as_ref()
                    .and_then(|agg| bucket_value(leaf.field, agg, step))
            })
            .collect();
        let mut series = TimeSeries::new(name, start, step, values);
        series.consolidation = leaf.field.default_consolidation();
        for (k, v) in &leaf.series.key.tags {
            series.tags.insert(k.clone(), v.clone());
        }
        Ok(series)
    }
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
        leaves
            .iter()
            .map(|leaf| {
                let mut series = self.fetch(leaf, leaf.name.clone(), range)?;
                series.path_expression = pattern.to_owned();
                Ok(series)
            })
            .collect()
    }

    fn tagged(&self, expressions: &[String], range: Range) -> Result<Vec<TimeSeries>, RenderError> {
        let mut out = Vec::new();
        for (leaf, _) in super::tags::matching_leaves(self.catalog, expressions)? {
            let mut name = leaf.name.clone();
            if !leaf.series.key.tags.is_empty() {
                name = format!("{name};{}", leaf.series.key.tags_text());
            }
            let mut fetched = self.fetch(&leaf, name, range)?;
            fetched.path_expression = format!("seriesByTag('{}')", expressions.join("','"));
            out.push(fetched);
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

    /// Regression: a point stored at the start of the interval in progress
    /// (what a shutdown flush writes) must show with `until=now`.
    #[tokio::test]
    async fn the_bucket_holding_until_is_included() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let tsdb = Tsdb::open(store.clone(), test_config(), Arc::default())
            .await
            .unwrap();
        let rows = [(100, 1.0), (110, 2.0), (120, 3.0)].map(|(ts, value)| Row {
            key: SeriesKey::new("a.b".into(), []),
            kind: SeriesKind::Gauge,
            ts,
            value: RawValue::Plain(value),
        });
        tsdb.ingest(rows.to_vec()).await.unwrap();
        let reader = tsdb.clone();
        let rendered = store
            .read(move |conn| {
                let catalog = reader.catalog();
                let source = StoreSource {
                    conn,
                    tsdb: &reader,
                    catalog: &catalog,
                    now: 200,
                    grid_step: None,
                };
                Ok(source
                    .path(
                        "a.b",
                        Range {
                            from: 105,
                            until: 120,
                        },
                    )
                    .unwrap())
            })
            .await
            .unwrap();
        assert_eq!(rendered[0].start, 100);
        assert_eq!(rendered[0].values, [Some(1.0), Some(2.0), Some(3.0)]);
    }
}
