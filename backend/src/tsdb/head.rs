//! The head: raw points not yet sealed into chunks, in memory, per series
//! and per chunk window. Every point here is also in the write-ahead log
//! (see [`super::wal`]), so a restart rebuilds the head exactly.
//!
//! A window is sealed once it has closed (its end plus a grace period has
//! passed) or when the head holds too many points; late points for a
//! sealed window open it again here and are merged into its chunk at the
//! next seal.

use std::collections::BTreeMap;

use foldhash::HashMap;

use super::point::RawValue;
use crate::store::metrics::SeriesKind;

/// One point to add to a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub series_id: i64,
    /// Aligned to the series' raw step.
    pub ts: i64,
    pub value: RawValue,
}

/// The unsealed points of one window of one series, sorted by time, one
/// per timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowPoints {
    pub series_id: i64,
    pub kind: SeriesKind,
    pub start: i64,
    pub points: Vec<(i64, RawValue)>,
}

struct SeriesHead {
    kind: SeriesKind,
    /// Window start to points.
    windows: BTreeMap<i64, Vec<(i64, RawValue)>>,
}

#[derive(Default)]
pub struct Head {
    /// Series ids are ours, not senders': foldhash is for speed here (every
    /// point looks its series up).
    series: HashMap<i64, SeriesHead>,
    points: usize,
}

impl Head {
    /// Points held.
    pub fn len(&self) -> usize {
        self.points
    }

    pub fn is_empty(&self) -> bool {
        self.points == 0
    }

    /// Adds `sample` to the window starting at `window_start`; a point
    /// already in the slot combines with it as `kind` says.
    pub fn apply(&mut self, sample: Sample, kind: SeriesKind, window_start: i64) {
        let series = self
            .series
            .entry(sample.series_id)
            .or_insert_with(|| SeriesHead {
                kind,
                windows: BTreeMap::new(),
            });
        let points = series.windows.entry(window_start).or_default();
        // Points nearly always arrive in order: check the end first.
        match points.last_mut() {
            None => {}
            Some(last) if last.0 < sample.ts => {}
            Some(last) if last.0 == sample.ts => {
                last.1.combine(sample.value, series.kind);
                return;
            }
            Some(_) => {
                match points.binary_search_by_key(&sample.ts, |p| p.0) {
                    Ok(i) => {
                        if let Some(slot) = points.get_mut(i) {
                            slot.1.combine(sample.value, series.kind);
                        }
                    }
                    Err(i) => {
                        points.insert(i, (sample.ts, sample.value));
                        self.points += 1;
                    }
                }
                return;
            }
        }
        points.push((sample.ts, sample.value));
        self.points += 1;
    }

    /// The unsealed points of `series_id` with `from <= ts < until`.
    pub fn points(&self, series_id: i64, from: i64, until: i64) -> Vec<(i64, RawValue)> {
        let Some(series) = self.series.get(&series_id) else {
            return Vec::new();
        };
        series
            .windows
            .values()
            .flatten()
            .filter(|(ts, _)| (from..until).contains(ts))
            .cloned()
            .collect()
    }

    /// Copies of the windows to seal: those ending at or before `closed_by`
    /// (`window_len` gives each series' window length), and when the head
    /// holds more than `max_points`, the oldest others too until it would
    /// not.
    pub fn to_seal(
        &self,
        closed_by: i64,
        window_len: impl Fn(i64) -> i64,
        max_points: usize,
    ) -> Vec<WindowPoints> {
        let mut closed = Vec::new();
        let mut open: Vec<(i64, i64, usize)> = Vec::new();
        let mut kept = self.points;
        for (&series_id, series) in &self.series {
            let len = window_len(series_id);
            for (&start, points) in &series.windows {
                if start + len <= closed_by {
                    kept -= points.len();
                    closed.push(WindowPoints {
                        series_id,
                        kind: series.kind,
                        start,
                        points: points.clone(),
                    });
                } else {
                    open.push((start, series_id, points.len()));
                }
            }
        }
        if kept > max_points {
            open.sort_unstable();
            for (start, series_id, count) in open {
                if kept <= max_points {
                    break;
                }
                kept -= count;
                if let Some(series) = self.series.get(&series_id) {
                    closed.push(WindowPoints {
                        series_id,
                        kind: series.kind,
                        start,
                        points: series.windows.get(&start).cloned().unwrap_or_default(),
                    });
                }
            }
        }
        closed
    }

    /// Drops sealed windows.
    pub fn remove(&mut self, sealed: &[WindowPoints]) {
        for window in sealed {
            if let Some(series) = self.series.get_mut(&window.series_id) {
                if let Some(points) = series.windows.remove(&window.start) {
                    self.points -= points.len();
                }
                if series.windows.is_empty() {
                    self.series.remove(&window.series_id);
                }
            }
        }
    }

    /// The points of every window `keep(series_id, window_start)` accepts,
    /// as samples (what the write-ahead log is rewritten to after a seal:
    /// everything but the windows just sealed).
    pub fn snapshot(&self, keep: impl Fn(i64, i64) -> bool) -> Vec<Sample> {
        let mut samples = Vec::with_capacity(self.points);
        for (&series_id, series) in &self.series {
            let kept = series
                .windows
                .iter()
                .filter(|(&start, _)| keep(series_id, start));
            for (ts, value) in kept.flat_map(|(_, points)| points) {
                samples.push(Sample {
                    series_id,
                    ts: *ts,
                    value: value.clone(),
                });
            }
        }
        samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(series_id: i64, ts: i64, value: f64) -> Sample {
        Sample {
            series_id,
            ts,
            value: RawValue::Plain(value),
        }
    }

    #[test]
    fn points_keep_order_and_combine_per_slot() {
        let mut head = Head::default();
        for (ts, v) in [(20, 2.0), (10, 1.0), (30, 3.0), (20, 5.0)] {
            head.apply(sample(1, ts, v), SeriesKind::Counter, 0);
        }
        assert_eq!(head.len(), 3);
        let values: Vec<(i64, f64)> = head
            .points(1, 0, 100)
            .iter()
            .map(|(ts, v)| (*ts, v.value()))
            .collect();
        assert_eq!(values, [(10, 1.0), (20, 7.0), (30, 3.0)]);
        assert_eq!(head.points(1, 15, 30).len(), 1);
        assert!(head.points(2, 0, 100).is_empty());
    }

    #[test]
    fn closed_windows_and_overflow_are_sealed_oldest_first() {
        let mut head = Head::default();
        for ts in [0, 10, 3600, 3610, 7200] {
            head.apply(sample(1, ts, 1.0), SeriesKind::Gauge, ts - ts % 3600);
        }
        let window = |_| 3600;
        let closed = head.to_seal(3600, window, 100);
        assert_eq!(closed.len(), 1);
        assert_eq!((closed[0].start, closed[0].points.len()), (0, 2));
        // Over the cap: the oldest open window goes too.
        let forced = head.to_seal(3600, window, 1);
        let starts: Vec<i64> = forced.iter().map(|w| w.start).collect();
        assert_eq!(starts, [0, 3600]);
        head.remove(&forced);
        assert_eq!(head.len(), 1);
        assert_eq!(head.snapshot(|_, _| true), [sample(1, 7200, 1.0)]);
        assert!(head.snapshot(|_, start| start != 7200).is_empty());
    }
}
