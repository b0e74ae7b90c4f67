//! The value every render function takes and returns.

use std::collections::BTreeMap;

use super::functions::Aggregate;

/// A series over a regular grid: `values[i]` covers
/// `[start + i * step, start + (i + 1) * step)`.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSeries {
    /// The display name (`target` in the JSON output).
    pub name: String,
    /// The expression that produced it, used by aggregating functions to
    /// name their result (`sumSeries(a.*.b)`), as Graphite does.
    pub path_expression: String,
    /// Graphite tags; `name` is always among them.
    pub tags: BTreeMap<String, String>,
    pub start: i64,
    pub step: i64,
    pub values: Vec<Option<f64>>,
    /// How buckets are merged when the output has fewer points than the
    /// series (`maxDataPoints`); set by `consolidateBy`.
    pub consolidation: Aggregate,
}

impl TimeSeries {
    pub fn new(name: String, start: i64, step: i64, values: Vec<Option<f64>>) -> TimeSeries {
        let tags = BTreeMap::from([("name".to_owned(), name.clone())]);
        TimeSeries {
            path_expression: name.clone(),
            name,
            tags,
            start,
            step,
            values,
            consolidation: Aggregate::Average,
        }
    }

    /// Merges buckets so at most `max_points` remain, with the series'
    /// consolidation function (Graphite's `valuesPerPoint`).
    pub fn consolidate(self, max_points: usize) -> TimeSeries {
        let max_points = max_points.max(1);
        if self.values.len() <= max_points {
            return self;
        }
        let per_point = self.values.len().div_ceil(max_points);
        let values = self
            .values
            .chunks(per_point)
            .map(|chunk| {
                let present: Vec<f64> = chunk.iter().flatten().copied().collect();
                self.consolidation.apply(&present)
            })
            .collect();
        TimeSeries {
            step: self.step * per_point as i64,
            values,
            ..self
        }
    }

    /// Renames the series (and its `name` tag), as `alias` and friends do.
    pub fn renamed(mut self, name: String) -> TimeSeries {
        self.tags.insert("name".to_owned(), name.clone());
        self.path_expression = name.clone();
        self.name = name;
        self
    }

    /// The end of the last bucket.
    pub fn end(&self) -> i64 {
        self.start + self.step * self.values.len() as i64
    }

    /// Timestamps and values, as `[[value, ts], ...]` wants them.
    pub fn points(&self) -> impl Iterator<Item = (i64, Option<f64>)> + '_ {
        self.values
            .iter()
            .enumerate()
            .map(|(i, v)| (self.start + self.step * i as i64, *v))
    }

    /// The metric path inside a name built by functions:
    /// `scale(sumSeries(a.b.c),2)` gives `a.b.c`, as Graphite's aliasByNode
    /// looks at it.
    pub fn base_path(&self) -> &str {
        let name = self.name.as_str();
        let inner = match name.rfind('(') {
            Some(open) => {
                let after = name.get(open + 1..).unwrap_or_default();
                let end = after.find([',', ')']).unwrap_or(after.len());
                after.get(..end).unwrap_or_default()
            }
            None => name,
        };
        inner.split(';').next().unwrap_or(inner)
    }
}
