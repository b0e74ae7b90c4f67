//! What a point holds, at raw resolution and in rollups, and how two
//! points of the same slot combine.

use super::codec::{Blobs, ChunkError, Columns};
use crate::metrics::TimerSummary;
use crate::store::metrics::SeriesKind;

/// A raw point's payload.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    /// Gauges, counters (the interval's total) and sets (unique count).
    Plain(f64),
    /// A timer interval: the scaled sample count, and its summary encoded
    /// by [`TimerSummary::encode`] (kept encoded: it is what gets stored,
    /// and it is several times smaller than the decoded sketch).
    Timer { count: f64, summary: Box<[u8]> },
}

impl RawValue {
    /// A stored point's payload: a timer when it has a summary.
    pub fn from_stored(value: f64, summary: Option<&TimerSummary>) -> RawValue {
        match summary {
            Some(summary) => RawValue::Timer {
                count: value,
                summary: summary.encode_exact().into_boxed_slice(),
            },
            None => RawValue::Plain(value),
        }
    }

    /// The plain value, or a timer's count.
    pub fn value(&self) -> f64 {
        match self {
            RawValue::Plain(value) | RawValue::Timer { count: value, .. } => *value,
        }
    }

    /// Combines `later` into `self`, both in the same slot of a series of
    /// `kind`: a gauge's later value wins (carbon's last write wins);
    /// counts add and sketches merge, so a partial interval written at
    /// shutdown and its rest after a restart give the whole interval; a
    /// set keeps the larger unique count (members are not stored, so the
    /// union cannot be known; the larger count is its lower bound).
    pub fn combine(&mut self, later: RawValue, kind: SeriesKind) {
        match (kind, &mut *self, later) {
            (SeriesKind::Counter, RawValue::Plain(a), RawValue::Plain(b)) => *a += b,
            (SeriesKind::Set, RawValue::Plain(a), RawValue::Plain(b)) => *a = a.max(b),
            (
                SeriesKind::Timer,
                RawValue::Timer { count, summary },
                RawValue::Timer {
                    count: later_count,
                    summary: later_summary,
                },
            ) => {
                *count += later_count;
                let merged = match (
                    TimerSummary::decode(summary),
                    TimerSummary::decode(&later_summary),
                ) {
                    (Some(mut a), Some(b)) => {
                        a.merge(&b);
                        a.encode().into_boxed_slice()
                    }
                    (None, _) => later_summary,
                    (Some(_), None) => return,
                };
                *summary = merged;
            }
            (_, this, later) => *this = later,
        }
    }
}

/// A rollup point: what any consolidation of the raw points of its bucket
/// needs, so avg, sum, min, max, last and percentiles are exact at every
/// resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct Agg {
    /// Raw points folded in.
    pub n: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// The latest raw point's value.
    pub last: f64,
    /// Timers: the merged summary of every interval. Boxed: a summary is
    /// several times the size of the rest, and reads move millions of
    /// plain aggregates that have none.
    pub summary: Option<Box<TimerSummary>>,
}

impl Agg {
    pub fn of(value: &RawValue) -> Agg {
        Agg {
            summary: match value {
                RawValue::Plain(_) => None,
                RawValue::Timer { summary, .. } => TimerSummary::decode(summary).map(Box::new),
            },
            ..Agg::plain(value.value())
        }
    }

    /// One plain point.
    pub fn plain(value: f64) -> Agg {
        Agg {
            n: 1.0,
            sum: value,
            min: value,
            max: value,
            last: value,
            summary: None,
        }
    }

    /// Folds in a later (or disjoint) aggregate.
    pub fn merge(&mut self, later: &Agg) {
        self.n += later.n;
        self.sum += later.sum;
        self.min = self.min.min(later.min);
        self.max = self.max.max(later.max);
        self.last = later.last;
        match (&mut self.summary, &later.summary) {
            (Some(a), Some(b)) => a.merge(b),
            (None, Some(b)) => self.summary = Some(b.clone()),
            _ => {}
        }
    }
}

/// Raw points as chunk columns: the value, and for timers the summaries.
pub fn raw_to_columns(points: &[(i64, RawValue)]) -> Columns {
    let timers = points
        .iter()
        .any(|(_, v)| matches!(v, RawValue::Timer { .. }));
    Columns {
        timestamps: points.iter().map(|p| p.0).collect(),
        floats: vec![points.iter().map(|p| p.1.value()).collect()],
        blobs: Blobs::Each(if timers {
            points
                .iter()
                .map(|(_, v)| match v {
                    RawValue::Timer { summary, .. } => summary.to_vec(),
                    RawValue::Plain(_) => Vec::new(),
                })
                .collect()
        } else {
            Vec::new()
        }),
    }
}

/// The inverse of [`raw_to_columns`]; `None` when the columns are not a
/// raw chunk's.
pub fn raw_from_columns(columns: &Columns) -> Option<Vec<(i64, RawValue)>> {
    let [values] = columns.floats.as_slice() else {
        return None;
    };
    let blobs = columns.blobs.each().ok()?;
    let mut blobs = blobs.iter();
    Some(
        columns
            .timestamps
            .iter()
            .zip(values)
            .map(|(&ts, &value)| match blobs.next() {
                Some(blob) if !blob.is_empty() => (
                    ts,
                    RawValue::Timer {
                        count: value,
                        summary: blob.as_slice().into(),
                    },
                ),
                _ => (ts, RawValue::Plain(value)),
            })
            .collect(),
    )
}

/// Rollup points as chunk columns: n, sum, min, max, last, summaries.
pub fn rollup_to_columns(points: &[(i64, Agg)]) -> Columns {
    let column = |f: fn(&Agg) -> f64| points.iter().map(|(_, a)| f(a)).collect();
    let timers = points.iter().any(|(_, a)| a.summary.is_some());
    Columns {
        timestamps: points.iter().map(|p| p.0).collect(),
        floats: vec![
            column(|a| a.n),
            column(|a| a.sum),
            column(|a| a.min),
            column(|a| a.max),
            column(|a| a.last),
        ],
        blobs: Blobs::Each(if timers {
            points
                .iter()
                .map(|(_, a)| {
                    a.summary
                        .as_ref()
                        .map(|summary| summary.encode())
                        .unwrap_or_default()
                })
                .collect()
        } else {
            Vec::new()
        }),
    }
}

/// The inverse of [`rollup_to_columns`].
pub fn rollup_from_columns(columns: &Columns) -> Option<Vec<(i64, Agg)>> {
    let mut out = Vec::with_capacity(columns.timestamps.len());
    visit_rollup_columns(columns, |ts, agg| out.push((ts, agg))).ok()?;
    Some(out)
}

/// Calls `visit` with each rollup point of the columns, in order, without
/// collecting them. An error when the columns are not a rollup chunk's
/// (before any call) or when a summary does not read (the walk stops
/// there).
pub fn visit_rollup_columns(
    columns: &Columns,
    mut visit: impl FnMut(i64, Agg),
) -> Result<(), ChunkError> {
    let [n, sum, min, max, last] = columns.floats.as_slice() else {
        return Err(ChunkError::NotRollup);
    };
    let len = columns.timestamps.len();
    if [n, sum, min, max, last]
        .iter()
        .any(|column| column.len() != len)
    {
        return Err(ChunkError::Ragged);
    }
    let mut summaries = columns.blobs.summaries();
    for (i, &ts) in columns.timestamps.iter().enumerate() {
        let summary = summaries.next().transpose()?.flatten().map(Box::new);
        visit(
            ts,
            Agg {
                n: n[i],
                sum: sum[i],
                min: min[i],
                max: max[i],
                last: last[i],
                summary,
            },
        );
    }
    Ok(())
}

/// Folds time-sorted points into buckets of `step` (aligned to it).
pub fn fold_into_buckets<'a>(
    points: impl IntoIterator<Item = (i64, Agg)> + 'a,
    step: i64,
) -> Vec<(i64, Agg)> {
    let mut out: Vec<(i64, Agg)> = Vec::new();
    for (ts, agg) in points {
        let bucket = ts - ts.rem_euclid(step);
        match out.last_mut() {
            Some((last_bucket, last)) if *last_bucket == bucket => last.merge(&agg),
            _ => out.push((bucket, agg)),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::tsdb::codec;

    /// A timer interval of these samples.
    pub(crate) fn timer(samples: &[f64]) -> RawValue {
        let mut summary = TimerSummary::default();
        for &s in samples {
            summary.sketch.add(s, 1);
            summary.sum_of_squares += s * s;
        }
        RawValue::Timer {
            count: samples.len() as f64,
            summary: summary.encode().into_boxed_slice(),
        }
    }

    #[test]
    fn same_slot_combines_per_kind() {
        let mut gauge = RawValue::Plain(1.0);
        gauge.combine(RawValue::Plain(5.0), SeriesKind::Gauge);
        assert_eq!(gauge, RawValue::Plain(5.0));
        let mut counter = RawValue::Plain(1.0);
        counter.combine(RawValue::Plain(5.0), SeriesKind::Counter);
        assert_eq!(counter, RawValue::Plain(6.0));
        let mut set = RawValue::Plain(7.0);
        set.combine(RawValue::Plain(5.0), SeriesKind::Set);
        assert_eq!(set, RawValue::Plain(7.0));
        let mut t = timer(&[1.0, 2.0]);
        t.combine(timer(&[3.0]), SeriesKind::Timer);
        let RawValue::Timer { count, summary } = t else {
            panic!("not a timer")
        };
        assert_eq!(count, 3.0);
        assert_eq!(TimerSummary::decode(&summary).unwrap().sketch.count(), 3);
    }

    #[test]
    fn raw_and_rollup_columns_round_trip_through_the_codec() {
        let raw = vec![
            (10, timer(&[1.0])),
            (20, timer(&[2.0, 4.0])),
            (30, timer(&[])),
        ];
        let decoded = codec::decode(&codec::encode(&raw_to_columns(&raw)).unwrap()).unwrap();
        assert_eq!(raw_from_columns(&decoded).unwrap(), raw);

        let rollup = fold_into_buckets(raw.iter().map(|(ts, v)| (*ts, Agg::of(v))), 60);
        assert_eq!(rollup.len(), 1);
        let (bucket, agg) = &rollup[0];
        assert_eq!(
            (*bucket, agg.n, agg.sum, agg.min, agg.max),
            (0, 3.0, 3.0, 0.0, 2.0)
        );
        assert_eq!(agg.summary.as_ref().unwrap().sketch.count(), 3);
        let decoded = codec::decode(&codec::encode(&rollup_to_columns(&rollup)).unwrap()).unwrap();
        assert_eq!(rollup_from_columns(&decoded).unwrap(), rollup);
    }
}
