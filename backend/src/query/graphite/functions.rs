//! Graphite's render functions, pure over [`TimeSeries`]. Names, null
//! handling and naming of results follow Graphite's function reference:
//! <https://graphite.readthedocs.io/en/latest/functions.html>.

use std::collections::BTreeMap;

use super::series::TimeSeries;

/// How a bucket of values becomes one value (`consolidateBy`, `summarize`,
/// `groupByNode` callbacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
    First,
    Last,
    Count,
    Median,
    Range,
    Multiply,
    Diff,
}

impl Aggregate {
    pub fn parse(name: &str) -> Option<Aggregate> {
        Some(match name {
            "sum" | "total" => Aggregate::Sum,
            "avg" | "average" => Aggregate::Average,
            "min" => Aggregate::Min,
            "max" => Aggregate::Max,
            "first" => Aggregate::First,
            "last" | "current" => Aggregate::Last,
            "count" => Aggregate::Count,
            "median" => Aggregate::Median,
            "range" | "rangeOf" => Aggregate::Range,
            "multiply" => Aggregate::Multiply,
            "diff" => Aggregate::Diff,
            _ => return None,
        })
    }

    /// Applies to the non-null values; `None` when there are none.
    pub fn apply(self, values: &[f64]) -> Option<f64> {
        let (&first, _) = values.split_first()?;
        Some(match self {
            Aggregate::Sum => values.iter().sum(),
            Aggregate::Average => values.iter().sum::<f64>() / values.len() as f64,
            Aggregate::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
            Aggregate::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Aggregate::First => first,
            Aggregate::Last => *values.last()?,
            Aggregate::Count => values.len() as f64,
            Aggregate::Median => percentile(values, 50.0, true)?,
            Aggregate::Range => Aggregate::Max.apply(values)? - Aggregate::Min.apply(values)?,
            Aggregate::Multiply => values.iter().product(),
            Aggregate::Diff => first - values.iter().skip(1).sum::<f64>(),
        })
    }
}

/// The `n`th percentile (0-100) of `values`, Graphite's way: nearest rank,
/// or linear interpolation between ranks when `interpolate`.
pub fn percentile(values: &[f64], n: f64, interpolate: bool) -> Option<f64> {
    if values.is_empty() || !(0.0..=100.0).contains(&n) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let fractional_rank = (n / 100.0) * (sorted.len() as f64 + 1.0);
    let rank = fractional_rank.floor() as usize;
    let fraction = fractional_rank - rank as f64;
    let at = |r: usize| {
        sorted
            .get(r.saturating_sub(1).min(sorted.len() - 1))
            .copied()
    };
    if !interpolate {
        let nearest = ((n / 100.0) * sorted.len() as f64).ceil() as usize;
        return at(nearest.max(1));
    }
    let low = at(rank.max(1))?;
    let high = at(rank + 1)?;
    Some(low + fraction * (high - low))
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs()
    } else {
        gcd(b, a % b)
    }
}

/// Puts series on one grid (Graphite's `normalize`): the least common
/// multiple of their steps, from the earliest start to the latest end;
/// finer series are consolidated by average.
pub fn normalize(series: &[TimeSeries]) -> Vec<TimeSeries> {
    let Some(first) = series.first() else {
        return Vec::new();
    };
    let step = series.iter().fold(first.step.max(1), |acc, s| {
        acc / gcd(acc, s.step.max(1)) * s.step.max(1)
    });
    let start = series
        .iter()
        .map(|s| s.start - s.start.rem_euclid(step))
        .min()
        .unwrap_or(0);
    let end = series.iter().map(TimeSeries::end).max().unwrap_or(start);
    let len = usize::try_from((end - start + step - 1) / step).unwrap_or(0);
    series
        .iter()
        .map(|s| {
            if s.step == step && s.start == start && s.values.len() == len {
                return s.clone();
            }
            let mut buckets: Vec<Vec<f64>> = vec![Vec::new(); len];
            for (ts, value) in s.points() {
                let (Some(value), Ok(index)) = (value, usize::try_from((ts - start) / step)) else {
                    continue;
                };
                if let Some(bucket) = buckets.get_mut(index) {
                    bucket.push(value);
                }
            }
            TimeSeries {
                values: buckets
                    .iter()
                    .map(|b| Aggregate::Average.apply(b))
                    .collect(),
                start,
                step,
                ..s.clone()
            }
        })
        .collect()
}

/// Combines aligned series point by point with `how` over the non-null
/// values (sumSeries, averageSeries, minSeries, maxSeries, diffSeries...).
pub fn combine(series: &[TimeSeries], how: Aggregate, name: String) -> Option<TimeSeries> {
    let aligned = normalize(series);
    let first = aligned.first()?;
    let len = first.values.len();
    let mut values = Vec::with_capacity(len);
    let mut column = Vec::with_capacity(aligned.len());
    for i in 0..len {
        column.clear();
        column.extend(
            aligned
                .iter()
                .filter_map(|s| s.values.get(i).copied().flatten()),
        );
        values.push(how.apply(&column));
    }
    Some(TimeSeries::new(name, first.start, first.step, values))
}

/// `fname(expr1,expr2)` from the inputs' path expressions, deduplicated in
/// order, as Graphite names aggregate results.
pub fn aggregate_name(function: &str, series: &[TimeSeries]) -> String {
    let mut expressions: Vec<&str> = Vec::new();
    for s in series {
        if !expressions.contains(&s.path_expression.as_str()) {
            expressions.push(&s.path_expression);
        }
    }
    format!("{function}({})", expressions.join(","))
}

/// Applies `f` to every value, keeping nulls; renames to `name(series)`.
pub fn map_values(
    series: Vec<TimeSeries>,
    name: impl Fn(&TimeSeries) -> String,
    f: impl Fn(f64) -> f64,
) -> Vec<TimeSeries> {
    series
        .into_iter()
        .map(|s| {
            let new_name = name(&s);
            let values = s.values.iter().map(|v| v.map(&f)).collect();
            TimeSeries { values, ..s }.renamed(new_name)
        })
        .collect()
}

/// Differences between consecutive non-null values; `non_negative` turns
/// drops into nulls, or wraps them around `max_value` (counter overflow).
pub fn derivative(
    values: &[Option<f64>],
    non_negative: bool,
    max_value: Option<f64>,
) -> Vec<Option<f64>> {
    let mut previous: Option<f64> = None;
    values
        .iter()
        .map(|value| {
            let Some(value) = *value else {
                previous = None;
                return None;
            };
            if non_negative && max_value.is_some_and(|max| value > max) {
                // Graphite ignores readings above maxValue and restarts.
                previous = None;
                return None;
            }
            let delta = previous.map(|p| value - p);
            previous = Some(value);
            match (delta, max_value) {
                // A counter that wrapped at max_value: count through the wrap.
                (Some(delta), Some(max)) if non_negative && delta < 0.0 => Some(max + delta + 1.0),
                (Some(delta), None) if non_negative && delta < 0.0 => None,
                (delta, _) => delta,
            }
        })
        .collect()
}

pub fn integral(values: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut total = 0.0;
    values
        .iter()
        .map(|value| {
            value.map(|v| {
                total += v;
                total
            })
        })
        .collect()
}

/// Average over the trailing `window` points, of those not null.
pub fn moving_average(values: &[Option<f64>], window: usize) -> Vec<Option<f64>> {
    let window = window.max(1);
    (0..values.len())
        .map(|i| {
            let from = (i + 1).saturating_sub(window);
            let present: Vec<f64> = values
                .get(from..=i)
                .unwrap_or_default()
                .iter()
                .flatten()
                .copied()
                .collect();
            Aggregate::Average.apply(&present)
        })
        .collect()
}

/// Fills nulls with the last value seen, for at most `limit` consecutive
/// nulls.
pub fn keep_last_value(values: &[Option<f64>], limit: usize) -> Vec<Option<f64>> {
    let mut last = None;
    let mut gap = 0;
    let mut out = Vec::with_capacity(values.len());
    for value in values {
        match value {
            Some(v) => {
                last = Some(*v);
                gap = 0;
                out.push(Some(*v));
            }
            None => {
                gap += 1;
                out.push(if gap <= limit { last } else { None });
            }
        }
    }
    out
}

/// Re-buckets into `interval`-second buckets with `how` (summarize,
/// hitcount). Buckets align to the interval, or to `start` when
/// `align_to_from`.
pub fn summarize(
    series: &TimeSeries,
    interval: i64,
    how: Aggregate,
    align_to_from: bool,
    weight_by_step: bool,
) -> (i64, Vec<Option<f64>>) {
    let interval = interval.max(1);
    let start = if align_to_from {
        series.start
    } else {
        series.start - series.start.rem_euclid(interval)
    };
    let end = series.end();
    let len = usize::try_from((end - start + interval - 1) / interval).unwrap_or(0);
    let mut buckets: Vec<Vec<f64>> = vec![Vec::new(); len];
    for (ts, value) in series.points() {
        let (Some(value), Ok(index)) = (value, usize::try_from((ts - start) / interval)) else {
            continue;
        };
        if let Some(bucket) = buckets.get_mut(index) {
            bucket.push(if weight_by_step {
                value * series.step as f64
            } else {
                value
            });
        }
    }
    (start, buckets.iter().map(|b| how.apply(b)).collect())
}

/// A series' name split on dots, with Graphite's negative indexes.
pub fn node(name: &str, index: i64) -> Option<&str> {
    let nodes: Vec<&str> = name.split('.').collect();
    let position = if index < 0 {
        nodes.len() as i64 + index
    } else {
        index
    };
    nodes.get(usize::try_from(position).ok()?).copied()
}

/// Groups series by a key and combines each group with `how`; groups keep
/// first-seen order.
pub fn group_by(
    series: Vec<TimeSeries>,
    key: impl Fn(&TimeSeries) -> String,
    how: Aggregate,
) -> Vec<TimeSeries> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: BTreeMap<String, Vec<TimeSeries>> = BTreeMap::new();
    for s in series {
        let k = key(&s);
        if !groups.contains_key(&k) {
            order.push(k.clone());
        }
        groups.entry(k).or_default().push(s);
    }
    order
        .into_iter()
        .filter_map(|k| {
            let members = groups.remove(&k)?;
            combine(&members, how, k)
        })
        .collect()
}

/// Keeps the `n` series ranking highest (or lowest) by `measure` over
/// their non-null values.
pub fn rank(
    mut series: Vec<TimeSeries>,
    n: usize,
    measure: Aggregate,
    highest: bool,
) -> Vec<TimeSeries> {
    let score = |s: &TimeSeries| {
        let present: Vec<f64> = s.values.iter().flatten().copied().collect();
        measure.apply(&present)
    };
    series.retain(|s| score(s).is_some());
    series.sort_by(|a, b| {
        let (a, b) = (score(a).unwrap_or(f64::NAN), score(b).unwrap_or(f64::NAN));
        if highest {
            b.total_cmp(&a)
        } else {
            a.total_cmp(&b)
        }
    });
    series.truncate(n);
    series
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(name: &str, values: &[Option<f64>]) -> TimeSeries {
        TimeSeries::new(name.to_owned(), 100, 10, values.to_vec())
    }

    #[test]
    fn sum_and_average_skip_nulls_and_null_only_columns_stay_null() {
        let a = ts("a", &[Some(1.0), None, None]);
        let b = ts("b", &[Some(2.0), Some(5.0), None]);
        let sum = combine(&[a.clone(), b.clone()], Aggregate::Sum, "s".into()).unwrap();
        assert_eq!(sum.values, [Some(3.0), Some(5.0), None]);
        let avg = combine(&[a, b], Aggregate::Average, "s".into()).unwrap();
        assert_eq!(avg.values, [Some(1.5), Some(5.0), None]);
    }

    #[test]
    fn diff_series_subtracts_the_rest_from_the_first() {
        let a = ts("a", &[Some(10.0), Some(10.0)]);
        let b = ts("b", &[Some(3.0), None]);
        let c = ts("c", &[Some(2.0), Some(1.0)]);
        let diff = combine(&[a, b, c], Aggregate::Diff, "d".into()).unwrap();
        assert_eq!(diff.values, [Some(5.0), Some(9.0)]);
    }

    #[test]
    fn normalize_uses_the_least_common_step() {
        let fine = TimeSeries::new(
            "f".into(),
            0,
            10,
            vec![Some(1.0), Some(3.0), Some(5.0), Some(7.0)],
        );
        let coarse = TimeSeries::new("c".into(), 0, 20, vec![Some(1.0), Some(1.0)]);
        let aligned = normalize(&[fine, coarse]);
        assert_eq!(aligned[0].step, 20);
        assert_eq!(aligned[0].values, [Some(2.0), Some(6.0)]);
    }

    #[test]
    fn derivatives_and_counter_wrap() {
        let values = [Some(1.0), Some(4.0), None, Some(6.0), Some(8.0), Some(2.0)];
        assert_eq!(
            derivative(&values, false, None),
            [None, Some(3.0), None, None, Some(2.0), Some(-6.0)]
        );
        assert_eq!(
            derivative(&values, true, None),
            [None, Some(3.0), None, None, Some(2.0), None]
        );
        // A counter that wraps at 10: 8 -> 2 means 3 increments (9, 10->0, 1, 2 ... as Graphite counts maxValue + delta + 1).
        assert_eq!(
            derivative(&[Some(8.0), Some(2.0)], true, Some(10.0)),
            [None, Some(5.0)]
        );
    }

    #[test]
    fn integral_moving_average_keep_last_value() {
        let values = [Some(1.0), None, Some(2.0), Some(3.0)];
        assert_eq!(integral(&values), [Some(1.0), None, Some(3.0), Some(6.0)]);
        assert_eq!(
            moving_average(&values, 2),
            [Some(1.0), Some(1.0), Some(2.0), Some(2.5)]
        );
        let gaps = [Some(1.0), None, None, None, Some(2.0)];
        assert_eq!(
            keep_last_value(&gaps, 2),
            [Some(1.0), Some(1.0), Some(1.0), None, Some(2.0)]
        );
    }

    #[test]
    fn summarize_aligns_buckets_to_the_interval() {
        // 10-second points from t=100: buckets of 30 s start at 90.
        let s = ts("a", &[Some(1.0), Some(2.0), Some(3.0), Some(4.0)]);
        assert_eq!(
            summarize(&s, 30, Aggregate::Sum, false, false),
            (90, vec![Some(3.0), Some(7.0)])
        );
        assert_eq!(
            summarize(&s, 30, Aggregate::Sum, true, false),
            (100, vec![Some(6.0), Some(4.0)])
        );
        // hitcount: rates times step.
        assert_eq!(
            summarize(&s, 40, Aggregate::Sum, true, true),
            (100, vec![Some(100.0)])
        );
    }

    #[test]
    fn percentiles_follow_graphite() {
        let values = [15.0, 20.0, 35.0, 40.0, 50.0];
        assert_eq!(percentile(&values, 40.0, false), Some(20.0));
        assert_eq!(percentile(&values, 100.0, false), Some(50.0));
        assert_eq!(percentile(&values, 50.0, true), Some(35.0));
    }

    #[test]
    fn nodes_and_base_paths() {
        assert_eq!(node("a.b.c", 1), Some("b"));
        assert_eq!(node("a.b.c", -1), Some("c"));
        assert_eq!(node("a.b.c", 5), None);
        assert_eq!(ts("scale(sumSeries(a.b.c),2)", &[]).base_path(), "a.b.c");
        assert_eq!(ts("a.b;env=prod", &[]).base_path(), "a.b");
    }

    #[test]
    fn ranking_and_grouping() {
        let series = vec![
            ts("x.a.m", &[Some(1.0), Some(9.0)]),
            ts("x.b.m", &[Some(5.0), Some(5.0)]),
            ts("x.a.n", &[Some(2.0), None]),
        ];
        let top = rank(series.clone(), 1, Aggregate::Last, true);
        assert_eq!(top[0].name, "x.a.m");
        let grouped = group_by(
            series,
            |s| node(&s.name, 1).unwrap_or_default().to_owned(),
            Aggregate::Sum,
        );
        assert_eq!(
            grouped.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(grouped[0].values, [Some(3.0), Some(9.0)]);
    }
}
