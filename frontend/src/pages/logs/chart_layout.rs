//! Geometry of the histogram: buckets into stacked bars in SVG user units,
//! and pointer positions back into times. Pure, so it is tested on the
//! host; `super::histogram` draws it.

use partout_model::api::LogHistogram;

/// Width of the chart in SVG user units; the SVG stretches to its box.
pub const WIDTH: f64 = 1000.0;
/// Height of the chart in SVG user units.
pub const HEIGHT: f64 = 100.0;

/// Levels bottom to top: the most severe sit on the axis, where a few of
/// them are still seen under a tall stack of `info`.
pub const STACK_ORDER: [&str; 7] = ["fatal", "error", "warn", "info", "debug", "trace", "none"];

/// The shortest a non-empty segment is drawn, so one error among ten
/// thousand lines still shows.
const MIN_SEGMENT: f64 = 1.0;

/// One level's part of a bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub level: String,
    pub count: u64,
    pub y: f64,
    pub height: f64,
}

/// One bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub start_ms: i64,
    pub end_ms: i64,
    pub total: u64,
    pub x: f64,
    pub width: f64,
    /// Bottom to top; empty for an empty bucket.
    pub segments: Vec<Segment>,
}

/// The whole chart.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartLayout {
    /// Left edge: the first bucket's start (buckets are aligned to their
    /// width, so it may be a little before the range's start).
    pub start_ms: i64,
    /// Right edge: the last bucket's end.
    pub end_ms: i64,
    pub step_ms: i64,
    pub max_total: u64,
    pub bars: Vec<Bar>,
    /// Levels that occur, in [`STACK_ORDER`], then any others by name.
    pub levels: Vec<String>,
}

/// Lays out a histogram answer.
pub fn layout(histogram: &LogHistogram) -> ChartLayout {
    let step_ms = histogram.step_ms.max(1);
    let start_ms = histogram
        .buckets
        .first()
        .map_or(histogram.from_ms, |bucket| bucket.start_ms);
    let end_ms = histogram
        .buckets
        .last()
        .map_or(histogram.until_ms, |bucket| bucket.start_ms + step_ms)
        .max(start_ms + 1);
    let span = (end_ms - start_ms) as f64;
    let max_total = histogram
        .buckets
        .iter()
        .map(|bucket| bucket.total)
        .max()
        .unwrap_or(0);

    let mut levels: Vec<String> = Vec::new();
    let bars = histogram
        .buckets
        .iter()
        .map(|bucket| {
            let x = (bucket.start_ms - start_ms) as f64 / span * WIDTH;
            let full_width = step_ms as f64 / span * WIDTH;
            // A gap between bars while they are wide enough to afford one.
            let width = if full_width > 4.0 {
                full_width * 0.85
            } else {
                full_width
            };
            let mut ordered: Vec<(&str, u64)> = STACK_ORDER
                .iter()
                .filter_map(|level| bucket.levels.get(*level).map(|&count| (*level, count)))
                .collect();
            ordered.extend(
                bucket
                    .levels
                    .iter()
                    .filter(|(level, _)| !STACK_ORDER.contains(&level.as_str()))
                    .map(|(level, &count)| (level.as_str(), count)),
            );
            let mut top = HEIGHT;
            let segments = ordered
                .into_iter()
                .filter(|&(_, count)| count > 0)
                .map(|(level, count)| {
                    if !levels.iter().any(|known| known == level) {
                        levels.push(level.to_owned());
                    }
                    let height = (count as f64 / max_total.max(1) as f64 * HEIGHT)
                        .max(MIN_SEGMENT)
                        .min(top);
                    top -= height;
                    Segment {
                        level: level.to_owned(),
                        count,
                        y: top,
                        height,
                    }
                })
                .collect();
            Bar {
                start_ms: bucket.start_ms,
                end_ms: bucket.start_ms + step_ms,
                total: bucket.total,
                x,
                width,
                segments,
            }
        })
        .collect();
    levels.sort_by_key(|level| {
        STACK_ORDER
            .iter()
            .position(|known| known == level)
            .unwrap_or(STACK_ORDER.len())
    });
    ChartLayout {
        start_ms,
        end_ms,
        step_ms,
        max_total,
        bars,
        levels,
    }
}

impl ChartLayout {
    /// The time under a horizontal position, `0.0` the left edge and `1.0`
    /// the right one (clamped).
    pub fn time_at(&self, fraction: f64) -> i64 {
        let fraction = fraction.clamp(0.0, 1.0);
        self.start_ms + ((self.end_ms - self.start_ms) as f64 * fraction).round() as i64
    }

    /// The range a click or a drag between two positions selects: whole
    /// buckets, from the start of the one under the left position to the
    /// end of the one under the right (a click is a drag of no width).
    pub fn selection(&self, one: f64, other: f64) -> (i64, i64) {
        let (left, right) = if one <= other {
            (one, other)
        } else {
            (other, one)
        };
        let step = self.step_ms.max(1);
        let floor = |ms: i64| self.start_ms + (ms - self.start_ms).div_euclid(step) * step;
        let from = floor(self.time_at(left));
        // The end of the right bucket, even when the pointer is exactly on
        // its left border; capped at the chart's right edge.
        let until = (floor(self.time_at(right)) + step).min(self.end_ms);
        (from, until.max(from + 1))
    }

    /// Axis labels: at most `max` instants at round local times, each
    /// with its position in percent ([`crate::time_axis::ticks`]).
    pub fn ticks(&self, max: usize, zone_offset_ms: i64) -> Vec<(f64, i64)> {
        crate::time_axis::ticks(self.start_ms, self.end_ms, max, zone_offset_ms)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use partout_model::api::LogHistogramBucket;

    use super::*;

    fn bucket(start_ms: i64, levels: &[(&str, u64)]) -> LogHistogramBucket {
        let levels: BTreeMap<String, u64> =
            levels.iter().map(|(l, c)| ((*l).to_owned(), *c)).collect();
        LogHistogramBucket {
            start_ms,
            total: levels.values().sum(),
            levels,
        }
    }

    fn histogram(buckets: Vec<LogHistogramBucket>) -> LogHistogram {
        LogHistogram {
            from_ms: 1_000,
            until_ms: 4_500,
            step_ms: 1_000,
            total: buckets.iter().map(|b| b.total).sum(),
            buckets,
            took_ms: 0.0,
        }
    }

    #[test]
    fn bars_stack_the_most_severe_at_the_bottom() {
        let chart = layout(&histogram(vec![
            bucket(1_000, &[("info", 6), ("error", 2)]),
            bucket(2_000, &[]),
            bucket(3_000, &[("warn", 1), ("none", 1)]),
            bucket(4_000, &[("info", 1)]),
        ]));
        assert_eq!(
            (chart.start_ms, chart.end_ms, chart.max_total),
            (1_000, 5_000, 8)
        );
        assert_eq!(chart.levels, ["error", "warn", "info", "none"]);
        let first = &chart.bars[0];
        assert_eq!((first.x, first.width), (0.0, 250.0 * 0.85));
        let stacked: Vec<(&str, f64, f64)> = first
            .segments
            .iter()
            .map(|s| (s.level.as_str(), s.y, s.height))
            .collect();
        assert_eq!(stacked, [("error", 75.0, 25.0), ("info", 0.0, 75.0)]);
        assert!(chart.bars[1].segments.is_empty());
        assert_eq!(chart.bars[3].x, 750.0);
    }

    #[test]
    fn tiny_counts_stay_visible() {
        let chart = layout(&histogram(vec![bucket(
            1_000,
            &[("info", 10_000), ("error", 1)],
        )]));
        let error = &chart.bars[0].segments[0];
        assert_eq!((error.level.as_str(), error.height), ("error", MIN_SEGMENT));
        let total: f64 = chart.bars[0].segments.iter().map(|s| s.height).sum();
        assert!(total <= HEIGHT, "{total}");
    }

    #[test]
    fn positions_select_whole_buckets() {
        let chart = layout(&histogram(vec![
            bucket(1_000, &[("info", 1)]),
            bucket(2_000, &[]),
            bucket(3_000, &[]),
            bucket(4_000, &[]),
        ]));
        // A click in the second bucket selects it.
        assert_eq!(chart.selection(0.3, 0.3), (2_000, 3_000));
        // A drag either way selects every bucket it touches.
        assert_eq!(chart.selection(0.6, 0.1), (1_000, 4_000));
        // The right edge does not spill past the chart.
        assert_eq!(chart.selection(0.9, 1.0), (4_000, 5_000));
    }

    #[test]
    fn ticks_fall_on_round_times() {
        let hour = 3_600_000;
        let chart = ChartLayout {
            start_ms: 10 * hour + 1_000,
            end_ms: 16 * hour + 1_000,
            step_ms: 300_000,
            max_total: 0,
            bars: Vec::new(),
            levels: Vec::new(),
        };
        let times = |ticks: Vec<(f64, i64)>| {
            ticks
                .into_iter()
                .map(|(_, ms)| ms / 60_000)
                .collect::<Vec<_>>()
        };
        // Six hours, at most 7 labels: every hour, the edges left out.
        assert_eq!(times(chart.ticks(7, 0)), [660, 720, 780, 840, 900]);
        // At most 4: every 2 hours.
        assert_eq!(times(chart.ticks(4, 0)), [720, 840]);
        // Half an hour ahead of UTC, round local hours are at :30 UTC.
        assert_eq!(
            times(chart.ticks(7, 1_800_000)),
            [630, 690, 750, 810, 870, 930]
        );
    }

    #[test]
    fn an_empty_answer_spans_the_range() {
        let chart = layout(&histogram(Vec::new()));
        assert_eq!((chart.start_ms, chart.end_ms), (1_000, 4_500));
        assert!(chart.bars.is_empty() && chart.levels.is_empty());
    }
}
