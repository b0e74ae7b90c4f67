//! Retention schemas: which resolutions a series is kept at, and for how
//! long, chosen by name pattern like Graphite's `storage-schemas.conf`.
//!
//! A schema is a list of levels, finest first: `10s:14d,1m:90d,1h:5y`
//! keeps raw 10 s points for 14 days, 1 min rollups for 90 days and 1 h
//! rollups for 5 years. Each level's step is a multiple of the previous
//! one's and its retention is at least as long, so a coarser level can
//! always be computed from the finer one.
//!
//! Points are stored in chunks that cover a fixed, aligned window of a
//! level: [`Level::window`] is a whole number of steps, at most
//! [`MAX_WINDOW_POINTS`] and at most [`MAX_WINDOW_SECS`] long.

use regex::Regex;

/// Points per chunk when the step allows: enough for zstd to find
/// repetition, small enough that the in-memory head stays small.
pub const MAX_WINDOW_POINTS: i64 = 360;
/// Longest chunk window: coarse levels get fewer points per chunk rather
/// than chunks that span months.
pub const MAX_WINDOW_SECS: i64 = 32 * 86_400;
/// The default schema, as documented in the configuration.
pub const DEFAULT_RETENTIONS: &str = "10s:14d,1m:90d,1h:5y";

/// The default levels for a flush interval: raw at the flush interval for
/// 14 days, then 1 min for 90 days and 1 h for 5 years where those steps
/// are multiples of the previous one. For 10 s this is
/// [`DEFAULT_RETENTIONS`].
pub fn default_retentions(flush_secs: i64) -> String {
    let flush_secs = flush_secs.max(1);
    let text = |step: i64| match step {
        3_600 => "1h".to_owned(),
        60 => "1m".to_owned(),
        s => format!("{s}s"),
    };
    let mut levels = vec![format!("{}:14d", text(flush_secs))];
    let mut previous = flush_secs;
    for (step, retention) in [(60, "90d"), (3_600, "5y")] {
        if step > previous && step % previous == 0 {
            levels.push(format!("{}:{retention}", text(step)));
            previous = step;
        }
    }
    levels.join(",")
}

/// One resolution of a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    /// Seconds between points.
    pub step: i64,
    /// Seconds kept.
    pub retention: i64,
    /// Seconds one chunk covers; a multiple of `step`.
    pub window: i64,
}

impl Level {
    fn new(step: i64, retention: i64) -> Level {
        let points = (MAX_WINDOW_SECS / step).clamp(1, MAX_WINDOW_POINTS);
        Level {
            step,
            retention,
            window: step * points,
        }
    }

    /// Start of the window holding `ts`.
    pub fn window_start(&self, ts: i64) -> i64 {
        ts - ts.rem_euclid(self.window)
    }

    /// Start of the step holding `ts`.
    pub fn align(&self, ts: i64) -> i64 {
        ts - ts.rem_euclid(self.step)
    }
}

/// Levels for the series whose name matches `pattern`.
#[derive(Debug, Clone)]
pub struct Schema {
    pub name: String,
    pub pattern: Regex,
    /// Finest first; never empty.
    pub levels: Vec<Level>,
}

impl Schema {
    pub fn raw(&self) -> &Level {
        // parse_retentions refuses an empty list.
        &self.levels[0]
    }

    /// The level a query over `[from, until)` reads, wanting points no
    /// closer than `wanted_step`: among levels that still hold `from`
    /// (or the longest-kept one when none does), the coarsest whose step
    /// divides `wanted_step`, so consolidating its points gives the same
    /// answer as consolidating raw points would.
    pub fn level_for(&self, now: i64, from: i64, wanted_step: i64) -> usize {
        let covering: Vec<usize> = (0..self.levels.len())
            .filter(|&i| now - self.levels[i].retention <= from)
            .collect();
        let Some(&finest) = covering.first() else {
            return self.levels.len() - 1;
        };
        covering
            .into_iter()
            .rev()
            .find(|&i| wanted_step % self.levels[i].step == 0)
            .unwrap_or(finest)
    }
}

/// Every schema, first match wins, then the default.
#[derive(Debug, Clone)]
pub struct Schemas {
    pub list: Vec<Schema>,
}

/// A schema from the configuration, before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaText {
    pub name: String,
    pub pattern: String,
    pub retentions: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("metrics retention {name:?}: bad pattern: {message}")]
    Pattern { name: String, message: String },
    #[error("metrics retention {name:?}: {message}")]
    Retentions { name: String, message: String },
}

impl Schemas {
    /// Builds the list from configured schemas plus the default one (used
    /// for names no pattern matches). `min_step` is the flush interval: no
    /// level may be finer.
    pub fn new(
        configured: &[SchemaText],
        default_retentions: &str,
        min_step: i64,
    ) -> Result<Schemas, SchemaError> {
        let mut list = Vec::with_capacity(configured.len() + 1);
        for text in configured {
            let pattern = Regex::new(&text.pattern).map_err(|e| SchemaError::Pattern {
                name: text.name.clone(),
                message: e.to_string(),
            })?;
            let levels = parse_retentions(&text.retentions, min_step).map_err(|message| {
                SchemaError::Retentions {
                    name: text.name.clone(),
                    message,
                }
            })?;
            list.push(Schema {
                name: text.name.clone(),
                pattern,
                levels,
            });
        }
        let levels = parse_retentions(default_retentions, min_step).map_err(|message| {
            SchemaError::Retentions {
                name: "default".into(),
                message,
            }
        })?;
        list.push(Schema {
            name: "default".into(),
            // Matches everything: the fallback.
            pattern: Regex::new("").map_err(|e| SchemaError::Pattern {
                name: "default".into(),
                message: e.to_string(),
            })?,
            levels,
        });
        Ok(Schemas { list })
    }

    /// Index of the schema for `name`.
    pub fn index_for(&self, name: &str) -> usize {
        self.list
            .iter()
            .position(|schema| schema.pattern.is_match(name))
            .unwrap_or(self.list.len() - 1)
    }

    pub fn get(&self, index: usize) -> &Schema {
        self.list.get(index).unwrap_or_else(|| self.default())
    }

    pub fn default(&self) -> &Schema {
        // Schemas::new always pushes the default last.
        &self.list[self.list.len() - 1]
    }
}

/// Parses `10s:14d,1m:90d,1h:5y`. Units: s, m (minutes), h, d, w, y; a
/// step without unit is seconds, a retention without unit is a number of
/// points (as Graphite reads `60:1440`).
pub fn parse_retentions(text: &str, min_step: i64) -> Result<Vec<Level>, String> {
    let mut levels: Vec<Level> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (step, retention) = part
            .split_once(':')
            .ok_or_else(|| format!("{part:?} is not step:retention"))?;
        let step = duration(step, 1).ok_or_else(|| format!("bad step {step:?}"))?;
        let retention =
            duration(retention, step).ok_or_else(|| format!("bad retention {retention:?}"))?;
        if step % min_step.max(1) != 0 {
            return Err(format!(
                "step {step}s is not a multiple of the flush interval ({min_step}s)"
            ));
        }
        if let Some(previous) = levels.last() {
            if step <= previous.step || step % previous.step != 0 {
                return Err(format!(
                    "step {step}s must be a multiple of the previous level's {}s",
                    previous.step
                ));
            }
            if retention < previous.retention {
                return Err(format!(
                    "retention {retention}s is shorter than the previous level's {}s",
                    previous.retention
                ));
            }
        }
        if retention < step {
            return Err(format!("retention {retention}s is shorter than its step"));
        }
        levels.push(Level::new(step, retention));
    }
    if levels.is_empty() {
        return Err("no levels given".into());
    }
    Ok(levels)
}

/// `<n><unit>` in seconds; without a unit, `n * bare_unit`.
pub(crate) fn duration(text: &str, bare_unit: i64) -> Option<i64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().ok().filter(|&n| n > 0)?;
    let unit = match unit {
        "" => bare_unit,
        "s" | "sec" | "secs" => 1,
        "m" | "min" | "mins" => 60,
        "h" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 7 * 86_400,
        "y" | "year" | "years" => 365 * 86_400,
        _ => return None,
    };
    number.checked_mul(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schema_parses_to_three_levels() {
        let levels = parse_retentions(DEFAULT_RETENTIONS, 10).unwrap();
        let summary: Vec<(i64, i64, i64)> = levels
            .iter()
            .map(|l| (l.step, l.retention, l.window))
            .collect();
        assert_eq!(
            summary,
            [
                (10, 14 * 86_400, 3_600),
                (60, 90 * 86_400, 21_600),
                (3_600, 5 * 365 * 86_400, 1_296_000)
            ]
        );
    }

    #[test]
    fn default_levels_follow_the_flush_interval() {
        assert_eq!(default_retentions(10), DEFAULT_RETENTIONS);
        assert_eq!(default_retentions(1), "1s:14d,1m:90d,1h:5y");
        assert_eq!(default_retentions(7), "7s:14d");
        assert_eq!(default_retentions(60), "1m:14d,1h:5y");
        for flush in [1, 2, 5, 7, 10, 15, 30, 60, 120, 3600] {
            assert!(parse_retentions(&default_retentions(flush), flush).is_ok());
        }
    }

    #[test]
    fn graphite_point_counts_and_bad_lists() {
        let levels = parse_retentions("60:1440", 10).unwrap();
        assert_eq!((levels[0].step, levels[0].retention), (60, 86_400));
        for bad in [
            "",
            "10s",
            "10x:1d",
            "15s:1d",
            "10s:1d,15s:2d",
            "10s:2d,1m:1d",
            "0s:1d",
            "1m:30s",
        ] {
            assert!(parse_retentions(bad, 10).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn first_matching_pattern_wins_then_the_default() {
        let schemas = Schemas::new(
            &[SchemaText {
                name: "short".into(),
                pattern: "^stats\\.timers\\.".into(),
                retentions: "10s:1d".into(),
            }],
            DEFAULT_RETENTIONS,
            10,
        )
        .unwrap();
        assert_eq!(schemas.index_for("stats.timers.api"), 0);
        assert_eq!(schemas.index_for("carbon.x"), 1);
        assert_eq!(schemas.get(1).levels.len(), 3);
    }

    #[test]
    fn level_choice_follows_range_and_wanted_step() {
        let schema = Schemas::new(&[], DEFAULT_RETENTIONS, 10).unwrap();
        let schema = schema.default();
        let now = 100 * 86_400 * 10;
        // A day back at raw resolution: raw.
        assert_eq!(schema.level_for(now, now - 86_400, 10), 0);
        // Points two minutes apart: 1 min rollups give the same answer.
        assert_eq!(schema.level_for(now, now - 86_400, 120), 1);
        // 90 s does not divide into minutes: raw again.
        assert_eq!(schema.level_for(now, now - 86_400, 90), 0);
        // A month back: raw no longer covers it.
        assert_eq!(schema.level_for(now, now - 30 * 86_400, 10), 1);
        // Beyond every retention: the longest kept.
        assert_eq!(schema.level_for(now, now - 10 * 365 * 86_400, 10), 2);
    }
}
