//! Evaluates a parsed target: paths are fetched from a [`Source`], calls
//! are dispatched to the functions in [`super::functions`].

use super::expr::Expr;
use super::functions::{self as f, Aggregate};
use super::series::TimeSeries;
use super::time::parse_offset;

/// The time range asked for, unix seconds: every bucket overlapping
/// `[from, until]` is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: i64,
    pub until: i64,
}

/// Where series come from: the store in production, vectors in tests.
pub trait Source {
    /// Every series whose path matches the Graphite glob `pattern`.
    fn path(&self, pattern: &str, range: Range) -> Result<Vec<TimeSeries>, RenderError>;
    /// Every series matching `seriesByTag` expressions (`name=value`,
    /// `name!=value`, `name=~regex`, `name!=~regex`).
    fn tagged(&self, expressions: &[String], range: Range) -> Result<Vec<TimeSeries>, RenderError>;
}

/// Why a target could not be rendered; shown to the client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Parse(#[from] super::expr::ExprError),
    #[error("unknown function {0}")]
    UnknownFunction(String),
    #[error("{function}: {message}")]
    Argument { function: String, message: String },
    #[error("bad pattern {pattern:?}: {message}")]
    Pattern { pattern: String, message: String },
    #[error("storage error")]
    Store(String),
}

/// Arguments of one call, positional or by name.
struct Args<'a> {
    function: &'a str,
    args: &'a [Expr],
    kwargs: &'a [(String, Expr)],
}

impl<'a> Args<'a> {
    fn get(&self, index: usize, name: &str) -> Option<&'a Expr> {
        self.args
            .get(index)
            .or_else(|| self.kwargs.iter().find(|(k, _)| k == name).map(|(_, v)| v))
    }

    /// The numbers among the positional arguments from `start` on (node
    /// indexes of aliasByNode and friends).
    fn trailing_numbers(&self, start: usize) -> impl Iterator<Item = f64> + 'a {
        self.args.iter().skip(start).filter_map(|arg| match arg {
            Expr::Number(n) => Some(*n),
            _ => None,
        })
    }

    fn error(&self, message: impl Into<String>) -> RenderError {
        RenderError::Argument {
            function: self.function.to_owned(),
            message: message.into(),
        }
    }

    fn number(&self, index: usize, name: &str) -> Result<Option<f64>, RenderError> {
        match self.get(index, name) {
            None => Ok(None),
            Some(Expr::Number(n)) => Ok(Some(*n)),
            Some(Expr::Str(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| self.error(format!("{name} must be a number"))),
            Some(_) => Err(self.error(format!("{name} must be a number"))),
        }
    }

    fn required_number(&self, index: usize, name: &str) -> Result<f64, RenderError> {
        self.number(index, name)?
            .ok_or_else(|| self.error(format!("{name} is required")))
    }

    fn text(&self, index: usize, name: &str) -> Result<Option<String>, RenderError> {
        match self.get(index, name) {
            None => Ok(None),
            Some(Expr::Str(s)) => Ok(Some(s.clone())),
            Some(Expr::Number(n)) => Ok(Some(n.to_string())),
            Some(Expr::Path(p)) => Ok(Some(p.clone())),
            Some(_) => Err(self.error(format!("{name} must be a string"))),
        }
    }

    fn required_text(&self, index: usize, name: &str) -> Result<String, RenderError> {
        self.text(index, name)?
            .ok_or_else(|| self.error(format!("{name} is required")))
    }

    fn flag(&self, index: usize, name: &str) -> Result<bool, RenderError> {
        match self.get(index, name) {
            None => Ok(false),
            Some(Expr::Bool(b)) => Ok(*b),
            Some(Expr::Number(n)) => Ok(*n != 0.0),
            Some(_) => Err(self.error(format!("{name} must be true or false"))),
        }
    }

    fn aggregate(
        &self,
        index: usize,
        name: &str,
        default: Aggregate,
    ) -> Result<Aggregate, RenderError> {
        match self.text(index, name)? {
            None => Ok(default),
            Some(text) => Aggregate::parse(&text)
                .ok_or_else(|| self.error(format!("unknown aggregation {text:?}"))),
        }
    }

    /// An interval like `"1h"`, `"5min"`, in seconds.
    fn interval(&self, index: usize, name: &str) -> Result<i64, RenderError> {
        let text = self.required_text(index, name)?;
        let trimmed = text.trim_start_matches(['-', '+']);
        parse_offset(trimmed)
            .filter(|s| *s > 0)
            .ok_or_else(|| self.error(format!("bad interval {text:?}")))
    }
}

/// Renders one target into series.
pub fn evaluate(
    expr: &Expr,
    source: &dyn Source,
    range: Range,
) -> Result<Vec<TimeSeries>, RenderError> {
    match expr {
        Expr::Path(pattern) => source.path(pattern, range),
        Expr::Call { name, args, kwargs } => call(
            name,
            &Args {
                function: name,
                args,
                kwargs,
            },
            source,
            range,
        ),
        Expr::Number(_) | Expr::Str(_) | Expr::Bool(_) => Err(RenderError::Argument {
            function: "target".into(),
            message: "a target must be a series path or a function call".into(),
        }),
    }
}

/// All series of the positional arguments from `start` on (for functions
/// taking `*seriesLists`).
fn series_lists(
    args: &Args<'_>,
    start: usize,
    source: &dyn Source,
    range: Range,
) -> Result<Vec<TimeSeries>, RenderError> {
    let mut out = Vec::new();
    for arg in args.args.iter().skip(start) {
        out.extend(evaluate(arg, source, range)?);
    }
    Ok(out)
}

fn first_list(
    args: &Args<'_>,
    source: &dyn Source,
    range: Range,
) -> Result<Vec<TimeSeries>, RenderError> {
    let arg = args
        .args
        .first()
        .ok_or_else(|| args.error("a series list is required"))?;
    evaluate(arg, source, range)
}

fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

fn call(
    name: &str,
    args: &Args<'_>,
    source: &dyn Source,
    range: Range,
) -> Result<Vec<TimeSeries>, RenderError> {
    let aggregate_over = |how: Aggregate| -> Result<Vec<TimeSeries>, RenderError> {
        let inputs = series_lists(args, 0, source, range)?;
        let label = f::aggregate_name(name, &inputs);
        Ok(f::combine(&inputs, how, label).into_iter().collect())
    };
    match name {
        "sumSeries" | "sum" => aggregate_over(Aggregate::Sum),
        "averageSeries" | "avg" => aggregate_over(Aggregate::Average),
        "minSeries" => aggregate_over(Aggregate::Min),
        "maxSeries" => aggregate_over(Aggregate::Max),
        "diffSeries" => aggregate_over(Aggregate::Diff),
        "multiplySeries" => aggregate_over(Aggregate::Multiply),
        "divideSeries" => {
            let dividends = first_list(args, source, range)?;
            let divisor_expr = args
                .get(1, "divisorSeries")
                .ok_or_else(|| args.error("divisorSeries is required"))?;
            let divisors = evaluate(divisor_expr, source, range)?;
            let [divisor] = divisors.as_slice() else {
                return Err(args.error(format!(
                    "the divisor must be exactly one series, not {}",
                    divisors.len()
                )));
            };
            Ok(dividends
                .into_iter()
                .map(|dividend| {
                    let label = format!("divideSeries({},{})", dividend.name, divisor.name);
                    divide(&dividend, divisor, 1.0).renamed(label)
                })
                .collect())
        }
        "asPercent" => {
            let series = first_list(args, source, range)?;
            match args.get(1, "total") {
                None => {
                    let total = f::combine(&series, Aggregate::Sum, "total".into());
                    Ok(match total {
                        Some(total) => series
                            .into_iter()
                            .map(|s| {
                                let label = format!("asPercent({},{})", s.name, total.name);
                                divide(&s, &total, 100.0).renamed(label)
                            })
                            .collect(),
                        None => Vec::new(),
                    })
                }
                Some(Expr::Number(total)) => {
                    let total = *total;
                    Ok(f::map_values(
                        series,
                        |s| format!("asPercent({},{})", s.name, number_text(total)),
                        move |v| {
                            if total == 0.0 {
                                f64::NAN
                            } else {
                                v / total * 100.0
                            }
                        },
                    )
                    .into_iter()
                    .map(drop_nan)
                    .collect())
                }
                Some(expr) => {
                    let totals = evaluate(expr, source, range)?;
                    let [total] = totals.as_slice() else {
                        return Err(args.error("total must be a number or exactly one series"));
                    };
                    Ok(series
                        .into_iter()
                        .map(|s| {
                            let label = format!("asPercent({},{})", s.name, total.name);
                            divide(&s, total, 100.0).renamed(label)
                        })
                        .collect())
                }
            }
        }
        "scale" => {
            let factor = args.required_number(1, "factor")?;
            Ok(f::map_values(
                first_list(args, source, range)?,
                |s| format!("scale({},{})", s.name, number_text(factor)),
                |v| v * factor,
            ))
        }
        "scaleToSeconds" => {
            let seconds = args.required_number(1, "seconds")?;
            let series = first_list(args, source, range)?;
            Ok(series
                .into_iter()
                .map(|s| {
                    let factor = seconds / s.step as f64;
                    let label = format!("scaleToSeconds({},{})", s.name, number_text(seconds));
                    let values = s.values.iter().map(|v| v.map(|v| v * factor)).collect();
                    TimeSeries { values, ..s }.renamed(label)
                })
                .collect())
        }
        "offset" => {
            let amount = args.required_number(1, "factor")?;
            Ok(f::map_values(
                first_list(args, source, range)?,
                |s| format!("offset({},{})", s.name, number_text(amount)),
                |v| v + amount,
            ))
        }
        "absolute" => Ok(f::map_values(
            first_list(args, source, range)?,
            |s| format!("absolute({})", s.name),
            f64::abs,
        )),
        "derivative" => with_values(first_list(args, source, range)?, "derivative", |s| {
            f::derivative(&s.values, false, None)
        }),
        "nonNegativeDerivative" => {
            let max = args.number(1, "maxValue")?;
            with_values(
                first_list(args, source, range)?,
                "nonNegativeDerivative",
                |s| f::derivative(&s.values, true, max),
            )
        }
        "perSecond" => {
            let max = args.number(1, "maxValue")?;
            with_values(first_list(args, source, range)?, "perSecond", |s| {
                let step = s.step as f64;
                f::derivative(&s.values, true, max)
                    .into_iter()
                    .map(|v| v.map(|v| v / step))
                    .collect()
            })
        }
        "integral" => with_values(first_list(args, source, range)?, "integral", |s| {
            f::integral(&s.values)
        }),
        "movingAverage" => {
            let window = args
                .get(1, "windowSize")
                .ok_or_else(|| args.error("windowSize is required"))?
                .clone();
            let series = first_list(args, source, range)?;
            Ok(series
                .into_iter()
                .map(|s| {
                    let (points, shown) = match &window {
                        Expr::Number(n) => ((*n).max(1.0) as usize, number_text(*n)),
                        Expr::Str(text) => {
                            let seconds =
                                parse_offset(text.trim_start_matches('-')).unwrap_or(s.step);
                            (
                                (seconds / s.step.max(1)).max(1) as usize,
                                format!("'{text}'"),
                            )
                        }
                        _ => (1, "1".into()),
                    };
                    let label = format!("movingAverage({},{shown})", s.name);
                    let values = f::moving_average(&s.values, points);
                    TimeSeries { values, ..s }.renamed(label)
                })
                .collect())
        }
        "summarize" | "hitcount" => {
            let interval = args.interval(1, "intervalString")?;
            let interval_text = args.required_text(1, "intervalString")?;
            let (how, align) = if name == "summarize" {
                (
                    args.aggregate(2, "func", Aggregate::Sum)?,
                    args.flag(3, "alignToFrom")?,
                )
            } else {
                (Aggregate::Sum, !args.flag(2, "alignToInterval")?)
            };
            let func_text = args.text(2, "func")?.unwrap_or_else(|| "sum".into());
            let series = first_list(args, source, range)?;
            Ok(series
                .into_iter()
                .map(|s| {
                    let (start, values) =
                        f::summarize(&s, interval, how, align, name == "hitcount");
                    let label = if name == "summarize" {
                        format!(
                            "summarize({}, \"{interval_text}\", \"{func_text}\")",
                            s.name
                        )
                    } else {
                        format!("hitcount({}, \"{interval_text}\")", s.name)
                    };
                    TimeSeries {
                        start,
                        step: interval,
                        values,
                        ..s
                    }
                    .renamed(label)
                })
                .collect())
        }
        "timeShift" => {
            let text = args.required_text(1, "timeShift")?;
            let forward = text.starts_with('+');
            let seconds = parse_offset(text.trim_start_matches(['-', '+']))
                .ok_or_else(|| args.error(format!("bad time shift {text:?}")))?;
            let shift = if forward { seconds } else { -seconds };
            let shifted = Range {
                from: range.from + shift,
                until: range.until + shift,
            };
            let series = first_list(args, source, shifted)?;
            Ok(series
                .into_iter()
                .map(|s| {
                    let label = format!("timeShift({}, \"{text}\")", s.name);
                    TimeSeries {
                        start: s.start - shift,
                        ..s
                    }
                    .renamed(label)
                })
                .collect())
        }
        "keepLastValue" => {
            let limit = args
                .number(1, "limit")?
                .map_or(usize::MAX, |n| n.max(0.0) as usize);
            with_values(first_list(args, source, range)?, "keepLastValue", |s| {
                f::keep_last_value(&s.values, limit)
            })
        }
        "transformNull" => {
            let default = args.number(1, "default")?.unwrap_or(0.0);
            let series = first_list(args, source, range)?;
            Ok(series
                .into_iter()
                .map(|s| {
                    let label = format!("transformNull({},{})", s.name, number_text(default));
                    let values = s
                        .values
                        .iter()
                        .map(|v| Some(v.unwrap_or(default)))
                        .collect();
                    TimeSeries { values, ..s }.renamed(label)
                })
                .collect())
        }
        "alias" => {
            let new_name = args.required_text(1, "newName")?;
            Ok(first_list(args, source, range)?
                .into_iter()
                .map(|s| s.renamed(new_name.clone()))
                .collect())
        }
        "aliasByNode" | "aliasByTags" => {
            let nodes: Vec<i64> = args.trailing_numbers(1).map(|n| n as i64).collect();
            if nodes.is_empty() {
                return Err(args.error("at least one node index is required"));
            }
            Ok(first_list(args, source, range)?
                .into_iter()
                .map(|s| {
                    let base = s.base_path().to_owned();
                    let label: Vec<&str> =
                        nodes.iter().filter_map(|&n| f::node(&base, n)).collect();
                    let label = label.join(".");
                    s.renamed(label)
                })
                .collect())
        }
        "aliasByMetric" => Ok(first_list(args, source, range)?
            .into_iter()
            .map(|s| {
                let label = f::node(s.base_path(), -1).unwrap_or_default().to_owned();
                s.renamed(label)
            })
            .collect()),
        "aliasSub" => {
            let search = args.required_text(1, "search")?;
            let replace = args.required_text(2, "replace")?;
            let pattern =
                regex::Regex::new(&search).map_err(|e| args.error(format!("bad regex: {e}")))?;
            // Graphite (Python) writes backreferences as \1.
            let replace = regex::Regex::new(r"\\(\d)").map_or(replace.clone(), |r| {
                r.replace_all(&replace, "$${$1}").into_owned()
            });
            Ok(first_list(args, source, range)?
                .into_iter()
                .map(|s| {
                    let label = pattern.replace_all(&s.name, replace.as_str()).into_owned();
                    s.renamed(label)
                })
                .collect())
        }
        "groupByNode" => {
            let index = args.required_number(1, "nodeNum")? as i64;
            let how = args.aggregate(2, "callback", Aggregate::Average)?;
            let series = first_list(args, source, range)?;
            Ok(f::group_by(
                series,
                |s| f::node(s.base_path(), index).unwrap_or_default().to_owned(),
                how,
            ))
        }
        "sumSeriesWithWildcards" | "averageSeriesWithWildcards" => {
            let positions: Vec<usize> = args.trailing_numbers(1).map(|n| n as usize).collect();
            let how = if name == "sumSeriesWithWildcards" {
                Aggregate::Sum
            } else {
                Aggregate::Average
            };
            let series = first_list(args, source, range)?;
            Ok(f::group_by(
                series,
                |s| {
                    s.base_path()
                        .split('.')
                        .enumerate()
                        .filter(|(i, _)| !positions.contains(i))
                        .map(|(_, n)| n)
                        .collect::<Vec<_>>()
                        .join(".")
                },
                how,
            ))
        }
        "highestCurrent" | "highestAverage" | "highestMax" | "lowestCurrent" | "lowestAverage" => {
            let n = args.number(1, "n")?.unwrap_or(1.0).max(0.0) as usize;
            let measure = match name {
                "highestCurrent" | "lowestCurrent" => Aggregate::Last,
                "highestMax" => Aggregate::Max,
                _ => Aggregate::Average,
            };
            Ok(f::rank(
                first_list(args, source, range)?,
                n,
                measure,
                name.starts_with("highest"),
            ))
        }
        "sortByMaxima" => {
            let count = usize::MAX;
            Ok(f::rank(
                first_list(args, source, range)?,
                count,
                Aggregate::Max,
                true,
            ))
        }
        "limit" => {
            let n = args.required_number(1, "n")?.max(0.0) as usize;
            let mut series = first_list(args, source, range)?;
            series.truncate(n);
            Ok(series)
        }
        "exclude" | "grep" => {
            let pattern = args.required_text(1, "pattern")?;
            let regex =
                regex::Regex::new(&pattern).map_err(|e| args.error(format!("bad regex: {e}")))?;
            let keep_matches = name == "grep";
            Ok(first_list(args, source, range)?
                .into_iter()
                .filter(|s| regex.is_match(&s.name) == keep_matches)
                .collect())
        }
        "percentileOfSeries" => {
            let n = args.required_number(1, "n")?;
            let interpolate = args.flag(2, "interpolate")?;
            let series = first_list(args, source, range)?;
            let aligned = f::normalize(&series);
            let Some(first) = aligned.first() else {
                return Ok(Vec::new());
            };
            let label = format!(
                "percentileOfSeries({},{})",
                first.path_expression,
                number_text(n)
            );
            let values = (0..first.values.len())
                .map(|i| {
                    let column: Vec<f64> = aligned
                        .iter()
                        .filter_map(|s| s.values.get(i).copied().flatten())
                        .collect();
                    f::percentile(&column, n, interpolate)
                })
                .collect();
            Ok(vec![TimeSeries::new(
                label,
                first.start,
                first.step,
                values,
            )])
        }
        "consolidateBy" => {
            let how = args.aggregate(1, "consolidationFunc", Aggregate::Average)?;
            let how_text = args.required_text(1, "consolidationFunc")?;
            Ok(first_list(args, source, range)?
                .into_iter()
                .map(|s| {
                    let label = format!("consolidateBy({},'{how_text}')", s.name);
                    TimeSeries {
                        consolidation: how,
                        ..s
                    }
                    .renamed(label)
                })
                .collect())
        }
        "seriesByTag" => {
            let mut expressions = Vec::new();
            for (i, _) in args.args.iter().enumerate() {
                expressions.push(args.required_text(i, "tagExpression")?);
            }
            if expressions.is_empty() {
                return Err(args.error("at least one tag expression is required"));
            }
            source.tagged(&expressions, range)
        }
        other => Err(RenderError::UnknownFunction(other.to_owned())),
    }
}

/// `a / b * factor` point by point, null where either is null or b is 0.
fn divide(a: &TimeSeries, b: &TimeSeries, factor: f64) -> TimeSeries {
    let aligned = f::normalize(&[a.clone(), b.clone()]);
    let (Some(a), Some(b)) = (aligned.first(), aligned.get(1)) else {
        return a.clone();
    };
    let values = a
        .values
        .iter()
        .zip(&b.values)
        .map(|(x, y)| match (x, y) {
            (Some(x), Some(y)) if *y != 0.0 => Some(x / y * factor),
            _ => None,
        })
        .collect();
    TimeSeries {
        values,
        ..a.clone()
    }
}

fn drop_nan(s: TimeSeries) -> TimeSeries {
    let values = s
        .values
        .iter()
        .map(|v| v.filter(|v| v.is_finite()))
        .collect();
    TimeSeries { values, ..s }
}

fn with_values(
    series: Vec<TimeSeries>,
    function: &str,
    transform: impl Fn(&TimeSeries) -> Vec<Option<f64>>,
) -> Result<Vec<TimeSeries>, RenderError> {
    Ok(series
        .into_iter()
        .map(|s| {
            let values = transform(&s);
            let label = format!("{function}({})", s.name);
            TimeSeries { values, ..s }.renamed(label)
        })
        .collect())
}
