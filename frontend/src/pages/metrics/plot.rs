//! Geometry of the metrics chart: a series' points into SVG paths in user
//! units, round value ticks, and where deploys fall. Pure, so it is tested
//! on the host; `super::chart` draws it.

/// Width of the chart in SVG user units; the SVG stretches to its box.
pub const WIDTH: f64 = 1000.0;
/// Height of the chart in SVG user units.
pub const HEIGHT: f64 = 200.0;
/// Points a chart asks for at most: about one per two pixels of a wide
/// screen.
pub const MAX_POINTS: i64 = 400;

/// Steps a chart's points are spaced by, seconds: the stored resolutions
/// (10 s raw, 1 min and 1 h rollups) and round multiples between them.
const STEPS: [i64; 13] = [
    10, 30, 60, 120, 300, 600, 1_800, 3_600, 7_200, 10_800, 21_600, 43_200, 86_400,
];

/// The step for a range `span` seconds long: the finest that gives at most
/// [`MAX_POINTS`] points.
pub fn step_for(span: i64) -> i64 {
    STEPS
        .iter()
        .copied()
        .find(|step| span / step <= MAX_POINTS)
        .unwrap_or(86_400)
}

/// The laid-out chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Plot {
    /// One SVG path per run of points without a gap (an empty bucket
    /// breaks the line, so no data never looks like a slope).
    pub paths: Vec<String>,
    /// Points with an empty bucket on both sides: drawn as dots, since a
    /// path of one point shows nothing.
    pub dots: Vec<(f64, f64)>,
    /// Value ticks: the height in user units and the value.
    pub value_ticks: Vec<(f64, f64)>,
    /// The deploys inside the range: their horizontal position in user
    /// units and their index in the list given.
    pub deploys: Vec<(f64, usize)>,
    /// Points with a value.
    pub count: usize,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// The newest point's value.
    pub last: Option<f64>,
}

/// Lays out `points` (`[unix seconds, value]`, each the start of a bucket
/// `step` seconds wide) over `[from, until)` Unix seconds, with deploys at
/// `deploys_ms`.
pub fn plot(
    points: &[(i64, Option<f64>)],
    step: i64,
    from: i64,
    until: i64,
    deploys_ms: &[i64],
) -> Plot {
    plot_together(&[points], step, from, until, deploys_ms)
        .pop()
        .unwrap_or_else(|| plot_on(&[], step, from, until, deploys_ms, None))
}

/// Lays out several series on one value axis (each as [`plot`] does one),
/// so their lines compare: the axis covers every series' values.
pub fn plot_together(
    series: &[&[(i64, Option<f64>)]],
    step: i64,
    from: i64,
    until: i64,
    deploys_ms: &[i64],
) -> Vec<Plot> {
    let all = series.iter().flat_map(|points| finite_values(points)).fold(
        None,
        |range: Option<(f64, f64)>, value| {
            Some(range.map_or((value, value), |(min, max)| {
                (min.min(value), max.max(value))
            }))
        },
    );
    series
        .iter()
        .map(|points| plot_on(points, step, from, until, deploys_ms, all))
        .collect()
}

/// Lays out several series each on its own scale: its lowest value at
/// the bottom (0%), its highest at the top (100%), one that never changes
/// across the middle. Series of different units (a load average and a
/// latency in ms) then compare by shape. The plots' `min`, `max` and
/// `last` stay each series' own values.
pub fn plot_scaled(
    series: &[&[(i64, Option<f64>)]],
    step: i64,
    from: i64,
    until: i64,
    deploys_ms: &[i64],
) -> Vec<Plot> {
    series
        .iter()
        .map(|points| {
            let min = finite_values(points).reduce(f64::min);
            let max = finite_values(points).reduce(f64::max);
            let last = finite_values(points).last();
            let percent = |value: f64| match (min, max) {
                (Some(low), Some(high)) if high > low => (value - low) / (high - low) * 100.0,
                _ => 50.0,
            };
            let scaled: Vec<(i64, Option<f64>)> = points
                .iter()
                .map(|(start, value)| {
                    (*start, value.filter(|value| value.is_finite()).map(percent))
                })
                .collect();
            let mut plot = plot_on(&scaled, step, from, until, deploys_ms, Some((0.0, 100.0)));
            plot.min = min;
            plot.max = max;
            plot.last = last;
            plot
        })
        .collect()
}

fn finite_values(points: &[(i64, Option<f64>)]) -> impl Iterator<Item = f64> + '_ {
    points
        .iter()
        .filter_map(|(_, value)| *value)
        .filter(|value| value.is_finite())
}

/// [`plot`] with the value axis made for `axis_range` (min and max), or
/// for the series' own values when `None`.
fn plot_on(
    points: &[(i64, Option<f64>)],
    step: i64,
    from: i64,
    until: i64,
    deploys_ms: &[i64],
    axis_range: Option<(f64, f64)>,
) -> Plot {
    let span = (until - from).max(1) as f64;
    let values: Vec<f64> = finite_values(points).collect();
    let min = values.iter().copied().reduce(f64::min);
    let max = values.iter().copied().reduce(f64::max);
    let (axis_min, axis_max) = axis_range.unwrap_or((min.unwrap_or(0.0), max.unwrap_or(1.0)));
    let (low, high, value_ticks) = value_scale(axis_min, axis_max);
    let x_of = |start: i64| ((start - from) as f64 + step as f64 / 2.0) / span * WIDTH;
    let y_of = |value: f64| HEIGHT - (value - low) / (high - low) * HEIGHT;

    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut run: Vec<(f64, f64)> = Vec::new();
    for (start, value) in points {
        match value.filter(|value| value.is_finite()) {
            Some(value) => run.push((x_of(*start), y_of(value))),
            None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
            None => {}
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    let (singles, lines): (Vec<_>, Vec<_>) = runs.into_iter().partition(|run| run.len() == 1);
    let paths = lines
        .iter()
        .map(|run| {
            run.iter()
                .enumerate()
                .map(|(index, (x, y))| {
                    format!("{}{x:.1},{y:.1}", if index == 0 { "M" } else { "L" })
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let dots = singles.into_iter().flatten().collect();
    let deploys = deploys_ms
        .iter()
        .enumerate()
        .filter(|(_, ms)| (from * 1000..until * 1000).contains(*ms))
        .map(|(index, ms)| ((*ms as f64 / 1000.0 - from as f64) / span * WIDTH, index))
        .collect();
    Plot {
        paths,
        dots,
        value_ticks: value_ticks
            .into_iter()
            .map(|value| (y_of(value), value))
            .collect(),
        deploys,
        count: values.len(),
        min,
        max,
        last: points
            .iter()
            .rev()
            .find_map(|(_, value)| value.filter(|value| value.is_finite())),
    }
}

/// The value axis for data from `min` to `max`: its bottom and top, and
/// round ticks between them (1, 2 or 5 times a power of ten apart). Data
/// that never goes below zero is drawn from zero, so a bar-like series
/// is not exaggerated; a flat series gets some room around it.
fn value_scale(min: f64, max: f64) -> (f64, f64, Vec<f64>) {
    let low = if min >= 0.0 { 0.0 } else { min };
    let high = if max > low {
        max
    } else if max == 0.0 {
        1.0
    } else {
        low + max.abs()
    };
    let step = nice_step((high - low) / 4.0);
    let low = (low / step).floor() * step;
    let high = (high / step).ceil() * step;
    let count = ((high - low) / step).round() as i64;
    let ticks = (0..=count).map(|index| low + index as f64 * step).collect();
    (low, high, ticks)
}

/// The round step (1, 2 or 5 times a power of ten) nearest above `rough`.
fn nice_step(rough: f64) -> f64 {
    if !(rough.is_finite() && rough > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|factor| factor * power)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * power)
}

/// A value as an axis or a summary shows it: at most four significant
/// digits, thousands as `k`, millions as `M`.
pub fn value_text(value: f64) -> String {
    let magnitude = value.abs();
    let (scaled, suffix) = if magnitude >= 1e9 {
        (value / 1e9, "G")
    } else if magnitude >= 1e6 {
        (value / 1e6, "M")
    } else if magnitude >= 1e4 {
        (value / 1e3, "k")
    } else {
        (value, "")
    };
    let text = if scaled == scaled.trunc() && scaled.abs() < 1e4 {
        format!("{scaled:.0}")
    } else if scaled.abs() >= 100.0 {
        format!("{scaled:.1}")
    } else if scaled.abs() >= 1.0 {
        format!("{scaled:.2}")
    } else {
        format!("{scaled:.3}")
    };
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    };
    format!("{text}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_keep_charts_under_the_point_cap() {
        assert_eq!(step_for(3_600), 10);
        assert_eq!(step_for(6 * 3_600), 60);
        assert_eq!(step_for(24 * 3_600), 300);
        assert_eq!(step_for(7 * 86_400), 1_800);
        assert_eq!(step_for(30 * 86_400), 7_200);
        for span in [60, 3_600, 86_400, 30 * 86_400, 365 * 86_400] {
            assert!(span / step_for(span) <= MAX_POINTS || step_for(span) == 86_400);
        }
    }

    #[test]
    fn gaps_break_the_line_and_lone_points_are_dots() {
        let points = [
            (0, Some(1.0)),
            (10, Some(3.0)),
            (20, None),
            (30, Some(2.0)),
            (40, None),
            (50, Some(4.0)),
            (60, Some(0.0)),
        ];
        let chart = plot(&points, 10, 0, 100, &[]);
        assert_eq!(chart.count, 5);
        assert_eq!(chart.min, Some(0.0));
        assert_eq!(chart.max, Some(4.0));
        assert_eq!(chart.last, Some(0.0));
        assert_eq!(chart.paths.len(), 2);
        // x is the middle of each bucket; y runs from 0 (bottom) to 4 (top).
        assert_eq!(chart.paths[0], "M50.0,150.0 L150.0,50.0");
        assert_eq!(chart.paths[1], "M550.0,0.0 L650.0,200.0");
        assert_eq!(chart.dots, vec![(350.0, 100.0)]);
    }

    #[test]
    fn value_ticks_are_round_and_cover_the_data() {
        let chart = plot(&[(0, Some(3.0)), (10, Some(87.0))], 10, 0, 20, &[]);
        let values: Vec<f64> = chart.value_ticks.iter().map(|(_, value)| *value).collect();
        assert_eq!(values, [0.0, 50.0, 100.0]);
        assert_eq!(chart.value_ticks[0].0, HEIGHT);
        assert_eq!(chart.value_ticks[2].0, 0.0);

        let negative = plot(&[(0, Some(-0.3)), (10, Some(0.7))], 10, 0, 20, &[]);
        let values: Vec<f64> = negative.value_ticks.iter().map(|(_, v)| *v).collect();
        assert_eq!(values, [-0.5, 0.0, 0.5, 1.0]);
    }

    #[test]
    fn a_flat_or_empty_series_still_has_an_axis() {
        let flat = plot(&[(0, Some(5.0)), (10, Some(5.0))], 10, 0, 20, &[]);
        assert!(flat.value_ticks.len() >= 2);
        assert!(flat.paths[0].contains(','));
        let empty = plot(&[(0, None)], 10, 0, 20, &[]);
        assert_eq!(empty.count, 0);
        assert!(empty.paths.is_empty() && empty.dots.is_empty());
        assert_eq!(empty.last, None);
        let zero = plot(&[(0, Some(0.0)), (10, Some(0.0))], 10, 0, 20, &[]);
        assert_eq!(zero.paths, ["M250.0,200.0 L750.0,200.0"]);
    }

    #[test]
    fn series_plotted_together_share_one_axis() {
        let low: &[(i64, Option<f64>)] = &[(0, Some(1.0)), (10, Some(2.0))];
        let high: &[(i64, Option<f64>)] = &[(0, Some(80.0)), (10, None), (20, Some(100.0))];
        let plots = plot_together(&[low, high], 10, 0, 100, &[]);
        assert_eq!(plots.len(), 2);
        assert_eq!(plots[0].value_ticks, plots[1].value_ticks);
        let top = plots[0].value_ticks.last().map(|(_, value)| *value);
        assert_eq!(top, Some(100.0), "the axis reaches the higher series");
        // Each keeps its own figures; the low series sits near the bottom.
        assert_eq!((plots[0].min, plots[0].max), (Some(1.0), Some(2.0)));
        assert_eq!((plots[1].count, plots[1].last), (2, Some(100.0)));
        assert_eq!(plots[0].paths, ["M50.0,198.0 L150.0,196.0"]);
        assert_eq!(plots[1].dots, vec![(50.0, 40.0), (250.0, 0.0)]);
        // Alone, a series is scaled to itself.
        assert_eq!(
            plot(low, 10, 0, 100, &[]).value_ticks.last().map(|t| t.1),
            Some(2.0)
        );
        assert!(plot_together(&[], 10, 0, 30, &[]).is_empty());
    }

    #[test]
    fn series_on_their_own_scales_span_the_height_each() {
        let load: &[(i64, Option<f64>)] = &[(0, Some(1.0)), (10, Some(3.0)), (20, Some(2.0))];
        let latency: &[(i64, Option<f64>)] = &[(0, Some(900.0)), (10, None), (20, Some(100.0))];
        let flat: &[(i64, Option<f64>)] = &[(0, Some(7.0)), (10, Some(7.0))];
        let plots = plot_scaled(&[load, latency, flat], 10, 0, 100, &[]);
        let ticks: Vec<f64> = plots[0]
            .value_ticks
            .iter()
            .map(|(_, value)| *value)
            .collect();
        assert_eq!(ticks.first().copied(), Some(0.0));
        assert_eq!(ticks.last().copied(), Some(100.0));
        assert!(plots
            .iter()
            .all(|plot| plot.value_ticks == plots[0].value_ticks));
        // Lowest at the bottom (200), highest at the top (0), each series.
        assert_eq!(plots[0].paths, ["M50.0,200.0 L150.0,0.0 L250.0,100.0"]);
        assert_eq!(plots[1].dots, vec![(50.0, 0.0), (250.0, 200.0)]);
        assert_eq!(
            plots[2].paths,
            ["M50.0,100.0 L150.0,100.0"],
            "flat: the middle"
        );
        // The figures stay the series' own.
        assert_eq!(
            (plots[0].min, plots[0].max, plots[0].last),
            (Some(1.0), Some(3.0), Some(2.0))
        );
        assert_eq!(
            (plots[1].min, plots[1].max, plots[1].last),
            (Some(100.0), Some(900.0), Some(100.0))
        );
        assert_eq!(plots[1].count, 2);
        assert!(plot_scaled(&[], 10, 0, 30, &[]).is_empty());
    }

    #[test]
    fn only_deploys_inside_the_range_are_placed() {
        let chart = plot(
            &[],
            10,
            1_000,
            2_000,
            &[999_999, 1_000_000, 1_500_000, 2_000_000],
        );
        assert_eq!(chart.deploys, vec![(0.0, 1), (500.0, 2)]);
    }

    #[test]
    fn values_read_short() {
        assert_eq!(value_text(0.0), "0");
        assert_eq!(value_text(12.0), "12");
        assert_eq!(value_text(0.25), "0.25");
        assert_eq!(value_text(4.56789), "4.57");
        assert_eq!(value_text(250.5), "250.5");
        assert_eq!(value_text(12_346.0), "12.35k");
        assert_eq!(value_text(-2_500_000.0), "-2.5M");
        assert_eq!(value_text(7e9), "7G");
    }
}
