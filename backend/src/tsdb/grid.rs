//! Points folded straight into the buckets of a regular grid, for renders.
//!
//! A Grafana panel asks for a day of 10-second points in a thousand
//! buckets: 8,640 points per series folded into about 1,000 aggregates.
//! Plain points fold in place, without an aggregate (or a vector of them)
//! per point; only a timer's point decodes its summary to merge it.

use super::point::Agg;
use crate::metrics::TimerSummary;

/// `buckets` buckets of `step` seconds from `start`, each empty or the
/// aggregate of the points that fell in it, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    start: i64,
    step: i64,
    buckets: Vec<Option<Agg>>,
}

impl Grid {
    /// An empty grid; `step` must be positive.
    pub fn new(start: i64, step: i64, buckets: usize) -> Grid {
        Grid {
            start,
            step: step.max(1),
            buckets: vec![None; buckets],
        }
    }

    fn bucket(&mut self, ts: i64) -> Option<&mut Option<Agg>> {
        if ts < self.start {
            return None;
        }
        let index = usize::try_from((ts - self.start) / self.step).ok()?;
        self.buckets.get_mut(index)
    }

    /// Folds in a point later than every point already folded into its
    /// bucket (so it is the bucket's `last`); outside the grid, ignored.
    pub fn add(&mut self, ts: i64, agg: Agg) {
        match self.bucket(ts) {
            Some(Some(merged)) => merged.merge(&agg),
            Some(empty) => *empty = Some(agg),
            None => {}
        }
    }

    /// [`Grid::add`] of a plain value, without making an aggregate of it.
    pub fn add_plain(&mut self, ts: i64, value: f64) {
        match self.bucket(ts) {
            Some(Some(merged)) => {
                merged.n += 1.0;
                merged.sum += value;
                merged.min = merged.min.min(value);
                merged.max = merged.max.max(value);
                merged.last = value;
            }
            Some(empty) => *empty = Some(Agg::plain(value)),
            None => {}
        }
    }

    /// [`Grid::add`] of a raw point: a timer's `count` and summary, or a
    /// plain value.
    pub fn add_raw(&mut self, ts: i64, value: f64, summary: Option<TimerSummary>) {
        match summary {
            None => self.add_plain(ts, value),
            Some(summary) => {
                let agg = Agg {
                    summary: Some(Box::new(summary)),
                    ..Agg::plain(value)
                };
                self.add(ts, agg);
            }
        }
    }

    pub fn into_buckets(self) -> Vec<Option<Agg>> {
        self.buckets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::point::tests::timer;
    use crate::tsdb::point::RawValue;

    /// What folding aggregates one by one gives, the reference.
    fn folded(points: &[(i64, RawValue)], start: i64, step: i64, buckets: usize) -> Grid {
        let mut grid = Grid::new(start, step, buckets);
        for (ts, value) in points {
            grid.add(*ts, Agg::of(value));
        }
        grid
    }

    #[test]
    fn raw_points_fold_as_their_aggregates_do() {
        let points: Vec<(i64, RawValue)> = vec![
            (95, RawValue::Plain(9.0)),
            (100, RawValue::Plain(3.0)),
            (110, timer(&[1.5, 2.0])),
            (120, RawValue::Plain(-1.0)),
            (130, RawValue::Plain(7.5)),
            (140, timer(&[4.0])),
            (150, RawValue::Plain(2.0)),
            (400, RawValue::Plain(1.0)),
        ];
        let mut grid = Grid::new(100, 30, 3);
        for (ts, value) in &points {
            match value {
                RawValue::Plain(v) => grid.add_raw(*ts, *v, None),
                RawValue::Timer { count, summary } => {
                    grid.add_raw(*ts, *count, TimerSummary::decode(summary))
                }
            }
        }
        assert_eq!(grid, folded(&points, 100, 30, 3));
        let buckets = grid.into_buckets();
        let first = buckets[0].as_ref().unwrap();
        assert_eq!(
            (first.n, first.sum, first.min, first.max, first.last),
            (3.0, 4.0, -1.0, 3.0, -1.0)
        );
        assert_eq!(first.summary.as_ref().unwrap().sketch.count(), 2);
        assert_eq!(buckets[1].as_ref().unwrap().last, 2.0);
        assert_eq!(buckets[2], None);
    }

    proptest::proptest! {
        #[test]
        fn plain_folding_matches_aggregates(
            values in proptest::collection::vec((0i64..2_000, -1e6f64..1e6), 0..300),
            step in 1i64..200,
        ) {
            let mut points: Vec<(i64, RawValue)> =
                values.iter().map(|&(ts, v)| (ts, RawValue::Plain(v))).collect();
            points.sort_by_key(|p| p.0);
            let mut grid = Grid::new(100, step, 12);
            for (ts, value) in &points {
                grid.add_plain(*ts, value.value());
            }
            proptest::prop_assert_eq!(grid, folded(&points, 100, step, 12));
        }
    }
}
