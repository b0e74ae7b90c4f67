//! The Graphite render engine: what `/render`, `/metrics/find` and
//! `/metrics/expand` answer with, so Grafana's Graphite data source works
//! unchanged.
//!
//! # Layout
//! - [`time`]: `from`/`until` forms
//! - [`expr`]: target expressions
//! - [`catalog`]: the tree of names over stored series, and glob matching
//! - [`fetch`]: points onto a grid, merging per field (sketches for timers)
//! - [`series`], [`functions`], [`eval`]: the series type, the functions,
//!   and their dispatch
//! - [`tags`]: the tag autocomplete and findSeries endpoints' answers

pub mod catalog;
pub mod eval;
pub mod expr;
pub mod fetch;
pub mod functions;
pub mod series;
pub mod tags;
pub mod time;

use rusqlite::Connection;

use self::eval::{evaluate, Range, RenderError};
use self::expr::{parse_target, Expr};
use self::fetch::StoreSource;
use self::series::TimeSeries;
use crate::store::metrics::Series;
use crate::tsdb::Tsdb;

/// One `/render` request, already validated.
#[derive(Debug, Clone)]
pub struct RenderRequest {
    pub targets: Vec<String>,
    pub range: Range,
    pub max_data_points: Option<usize>,
}

/// Renders every target, in order. Blocking: runs on a store reader.
/// `step` is the raw resolution (the flush interval); `now` decides which
/// resolutions still hold the range.
pub fn render(
    conn: &Connection,
    tsdb: &Tsdb,
    catalog: &[Series],
    step: i64,
    now: i64,
    request: &RenderRequest,
) -> Result<Vec<TimeSeries>, RenderError> {
    let mut out = Vec::new();
    let raw_points = (request.range.until - request.range.from).max(0) / step.max(1);
    for target in &request.targets {
        let expr = parse_target(target)?;
        // A bare path can be fetched straight at the output resolution,
        // merging sketches per bucket; results of functions are computed at
        // the stored resolution and consolidated afterwards.
        let grid_step = match (&expr, request.max_data_points) {
            (Expr::Path(_), Some(max)) if raw_points > max as i64 => {
                let per_point = (raw_points + max as i64 - 1) / max.max(1) as i64;
                Some(rollup_friendly(tsdb, step * per_point))
            }
            _ => None,
        };
        let source = StoreSource {
            conn,
            tsdb,
            catalog,
            now,
            grid_step,
        };
        for series in evaluate(&expr, &source, request.range)? {
            out.push(match request.max_data_points {
                Some(max) => series.consolidate(max),
                None => series,
            });
        }
    }
    Ok(out)
}

/// `wanted` rounded up to a multiple of the coarsest default level not
/// coarser than it, so those rollups answer instead of raw points (fewer
/// points to read; the same values, since rollups consolidate exactly).
fn rollup_friendly(tsdb: &Tsdb, wanted: i64) -> i64 {
    let level_step = tsdb
        .default_schema()
        .levels
        .iter()
        .map(|level| level.step)
        .filter(|&step| step <= wanted)
        .max()
        .unwrap_or(1)
        .max(1);
    (wanted + level_step - 1) / level_step * level_step
}
