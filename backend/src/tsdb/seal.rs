//! Sealing: head windows become chunks, and the rollups they feed are
//! recomputed. Runs as one writer job, so a seal is all or nothing.
//!
//! A rollup bucket is always recomputed whole from the finer level's
//! stored points, never incremented: sealing the same window twice (late
//! points) or a bucket that spans several windows gives the same answer as
//! computing it once from everything.

use rusqlite::Connection;

use super::chunks;
use super::head::WindowPoints;
use super::point::{
    fold_into_buckets, raw_to_columns, rollup_from_columns, rollup_to_columns, Agg,
};
use super::point::{raw_from_columns, RawValue};
use super::schema::Level;
use crate::store::StoreError;

/// The points of a stored chunk, or none when they do not read (a chunk
/// of the wrong shape, or a timer summary that does not decode): logged,
/// and the chunk is replaced by what the seal has, as
/// [`chunks::get_or_discard`] does for a chunk that does not decode at
/// all.
fn readable<T: Default>(points: Option<T>, series_id: i64, level: usize, start: i64) -> T {
    points.unwrap_or_else(|| {
        tracing::error!(
            series_id,
            level,
            start,
            "metric chunk is unreadable; it is replaced"
        );
        T::default()
    })
}

/// What a seal wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SealReport {
    pub chunks: usize,
    pub bytes: usize,
    pub raw_points: usize,
}

/// Merges each window into its raw chunk, then recomputes the rollup
/// buckets the window touches, level by level. `levels_of` gives a
/// series' levels.
pub fn seal<'a>(
    conn: &Connection,
    windows: &[WindowPoints],
    levels_of: impl Fn(i64) -> &'a [Level],
) -> Result<SealReport, StoreError> {
    let mut report = SealReport::default();
    for window in windows {
        let levels = levels_of(window.series_id);
        let Some(raw) = levels.first() else {
            continue;
        };
        let mut points = chunks::get_or_discard(conn, window.series_id, 0, window.start)?
            .map(|columns| {
                readable(
                    raw_from_columns(&columns),
                    window.series_id,
                    0,
                    window.start,
                )
            })
            .unwrap_or_default();
        merge_points(&mut points, &window.points, window.kind);
        report.raw_points += points.len();
        report.bytes += chunks::put(
            conn,
            window.series_id,
            0,
            window.start,
            &raw_to_columns(&points),
        )?;
        report.chunks += 1;
        let mut span = (window.start, window.start + raw.window);
        for (index, level) in levels.iter().enumerate().skip(1) {
            let from = level.align(span.0);
            let until = level.align(span.1 + level.step - 1);
            let finer = match levels.get(index - 1) {
                Some(finer) if index == 1 => {
                    chunks::raw_points(conn, window.series_id, finer, from, until)?
                        .iter()
                        .map(|(ts, v)| (*ts, Agg::of(v)))
                        .collect()
                }
                Some(finer) => chunks::rollup_points(
                    conn,
                    window.series_id,
                    index - 1,
                    finer.window,
                    from,
                    until,
                )?,
                None => Vec::new(),
            };
            let buckets = fold_into_buckets(finer, level.step);
            let (chunks, bytes) =
                replace_buckets(conn, window.series_id, index, level, from, until, buckets)?;
            report.chunks += chunks;
            report.bytes += bytes;
            span = (from, until);
        }
    }
    Ok(report)
}

/// Merges head points into sorted stored points, combining per slot.
fn merge_points(
    stored: &mut Vec<(i64, RawValue)>,
    head: &[(i64, RawValue)],
    kind: crate::store::metrics::SeriesKind,
) {
    for (ts, value) in head {
        match stored.binary_search_by_key(ts, |p| p.0) {
            Ok(i) => {
                if let Some(slot) = stored.get_mut(i) {
                    slot.1.combine(value.clone(), kind);
                }
            }
            Err(i) => stored.insert(i, (*ts, value.clone())),
        }
    }
}

/// Replaces the buckets of `level` in `[from, until)` by `buckets`, in
/// every chunk window they fall in. Returns chunks and bytes written.
fn replace_buckets(
    conn: &Connection,
    series_id: i64,
    index: usize,
    level: &Level,
    from: i64,
    until: i64,
    buckets: Vec<(i64, Agg)>,
) -> Result<(usize, usize), StoreError> {
    let mut written = (0, 0);
    let mut buckets = buckets.into_iter().peekable();
    let mut start = level.window_start(from);
    while start < until {
        let end = start + level.window;
        let mut points = chunks::get_or_discard(conn, series_id, index, start)?
            .map(|columns| readable(rollup_from_columns(&columns), series_id, index, start))
            .unwrap_or_default();
        let (lo, hi) = (from.max(start), until.min(end));
        points.retain(|(ts, _)| !(lo..hi).contains(ts));
        while let Some((ts, _)) = buckets.peek() {
            if *ts >= end {
                break;
            }
            if let Some(bucket) = buckets.next() {
                points.push(bucket);
            }
        }
        points.sort_by_key(|p| p.0);
        if !points.is_empty() {
            written.1 += chunks::put(conn, series_id, index, start, &rollup_to_columns(&points))?;
            written.0 += 1;
        }
        start = end;
    }
    Ok(written)
}
