//! The `metric_chunks` table: one compressed blob per series, level and
//! aligned window start.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};

use super::cache::{ChunkCache, ChunkKey};
use super::codec::{self, Columns};
use super::point::{visit_rollup_columns, Agg, RawValue};
use super::schema::Level;
use crate::metrics::TimerSummary;
use crate::store::StoreError;

fn corrupt(series_id: i64, level: usize, start: i64, why: impl std::fmt::Display) -> StoreError {
    StoreError::Task(format!(
        "metric chunk of series {series_id}, level {level}, window {start} is unreadable: {why}"
    ))
}

fn level_key(level: usize) -> i64 {
    i64::try_from(level).unwrap_or(i64::MAX)
}

/// The chunk at `start`; a chunk that cannot be decoded is logged and
/// read as absent, so the next write replaces it instead of failing
/// forever.
pub fn get_or_discard(
    conn: &Connection,
    series_id: i64,
    level: usize,
    start: i64,
) -> Result<Option<Columns>, StoreError> {
    match get(conn, series_id, level, start) {
        Err(StoreError::Task(message)) => {
            tracing::error!("{message}; it is replaced");
            Ok(None)
        }
        other => other,
    }
}

pub fn get(
    conn: &Connection,
    series_id: i64,
    level: usize,
    start: i64,
) -> Result<Option<Columns>, StoreError> {
    let blob: Option<Vec<u8>> = conn
        .prepare_cached(
            "SELECT blob FROM metric_chunks WHERE series_id = ?1 AND level = ?2 AND start = ?3",
        )?
        .query_row(
            rusqlite::params![series_id, level_key(level), start],
            |row| row.get(0),
        )
        .optional()?;
    blob.map(|blob| codec::decode(&blob).map_err(|e| corrupt(series_id, level, start, e)))
        .transpose()
}

pub fn put(
    conn: &Connection,
    series_id: i64,
    level: usize,
    start: i64,
    columns: &Columns,
) -> Result<usize, StoreError> {
    let blob = codec::encode(columns).map_err(|e| corrupt(series_id, level, start, e))?;
    let params = rusqlite::params![series_id, level_key(level), start, blob];
    // A chunk written again (a rollup whose window is still filling) keeps
    // its row id, so its new version takes the old one's place in its leaf
    // page; a new row id would append it and leave a hole behind that
    // SQLite does not fill again.
    let updated = conn
        .prepare_cached(
            "UPDATE metric_chunks SET blob = ?4 WHERE series_id = ?1 AND level = ?2 AND start = ?3",
        )?
        .execute(params)?;
    if updated == 0 {
        conn.prepare_cached(
            "INSERT INTO metric_chunks (series_id, level, start, blob) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params)?;
    }
    Ok(blob.len())
}

/// One chunk as stored: its window start and compressed blob, not yet
/// decoded (reads fetch blobs on their SQLite connection and decode them
/// wherever the CPU is free).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChunk {
    pub start: i64,
    pub blob: Vec<u8>,
}

/// The chunks of a level (whose chunks cover `window` seconds) that may
/// hold points in `[from, until)`, oldest first, still compressed.
pub fn overlapping_blobs(
    conn: &Connection,
    series_id: i64,
    level: usize,
    window: i64,
    from: i64,
    until: i64,
) -> Result<Vec<StoredChunk>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT start, blob FROM metric_chunks
         WHERE series_id = ?1 AND level = ?2 AND start > ?3 AND start < ?4 ORDER BY start",
    )?;
    let mut rows = stmt.query(rusqlite::params![
        series_id,
        level_key(level),
        from.saturating_sub(window),
        until
    ])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(StoredChunk {
            start: row.get(0)?,
            blob: row.get(1)?,
        });
    }
    Ok(out)
}

/// One chunk's columns, through `cache` when given.
fn decode_one(
    series_id: i64,
    level: usize,
    chunk: &StoredChunk,
    cache: Option<&ChunkCache>,
) -> Result<Arc<Columns>, StoreError> {
    let decoded = match cache {
        Some(cache) => {
            let key = ChunkKey {
                series_id,
                level,
                start: chunk.start,
            };
            cache.decode(key, &chunk.blob)
        }
        None => codec::decode(&chunk.blob).map(Arc::new),
    };
    decoded.map_err(|e| corrupt(series_id, level, chunk.start, e))
}

/// Raw points of stored chunks in `[from, until)`, oldest first.
pub fn decode_raw(
    series_id: i64,
    stored: &[StoredChunk],
    from: i64,
    until: i64,
    cache: Option<&ChunkCache>,
) -> Result<Vec<(i64, RawValue)>, StoreError> {
    let mut out = Vec::new();
    visit_raw(
        series_id,
        stored,
        from,
        until,
        cache,
        |ts, value, summary| {
            out.push((ts, RawValue::from_stored(value, summary.as_ref())));
        },
    )?;
    Ok(out)
}

/// Calls `visit` with each raw point of stored chunks in `[from, until)`,
/// oldest first: its time, its value (a timer's count) and a timer's
/// summary. Nothing is copied: a render folds a day of points into a
/// thousand buckets without a vector of them.
pub fn visit_raw(
    series_id: i64,
    stored: &[StoredChunk],
    from: i64,
    until: i64,
    cache: Option<&ChunkCache>,
    mut visit: impl FnMut(i64, f64, Option<TimerSummary>),
) -> Result<(), StoreError> {
    for chunk in stored {
        let columns = decode_one(series_id, 0, chunk, cache)?;
        let [values] = columns.floats.as_slice() else {
            return Err(corrupt(series_id, 0, chunk.start, "not raw"));
        };
        // Summaries are stored one after another: each is read, in range
        // or not, to reach the next.
        let mut summaries = columns.blobs.summaries();
        for (&ts, &value) in columns.timestamps.iter().zip(values) {
            let summary = summaries
                .next()
                .transpose()
                .map_err(|e| corrupt(series_id, 0, chunk.start, e))?
                .flatten();
            if (from..until).contains(&ts) {
                visit(ts, value, summary);
            }
        }
    }
    Ok(())
}

/// Rollup points of `level` (≥ 1) of stored chunks in `[from, until)`,
/// oldest first.
pub fn decode_rollup(
    series_id: i64,
    level: usize,
    stored: &[StoredChunk],
    from: i64,
    until: i64,
    cache: Option<&ChunkCache>,
) -> Result<Vec<(i64, Agg)>, StoreError> {
    let mut out = Vec::new();
    visit_rollup(series_id, level, stored, from, until, cache, |ts, agg| {
        out.push((ts, agg));
    })?;
    Ok(out)
}

/// Calls `visit` with each point of `level` (≥ 1) of stored chunks in
/// `[from, until)`, oldest first, as [`visit_raw`] does for raw points.
pub fn visit_rollup(
    series_id: i64,
    level: usize,
    stored: &[StoredChunk],
    from: i64,
    until: i64,
    cache: Option<&ChunkCache>,
    mut visit: impl FnMut(i64, Agg),
) -> Result<(), StoreError> {
    for chunk in stored {
        let columns = decode_one(series_id, level, chunk, cache)?;
        visit_rollup_columns(&columns, |ts, agg| {
            if (from..until).contains(&ts) {
                visit(ts, agg);
            }
        })
        .map_err(|e| corrupt(series_id, level, chunk.start, e))?;
    }
    Ok(())
}

/// Raw points in `[from, until)`, oldest first.
pub fn raw_points(
    conn: &Connection,
    series_id: i64,
    raw: &Level,
    from: i64,
    until: i64,
) -> Result<Vec<(i64, RawValue)>, StoreError> {
    let stored = overlapping_blobs(conn, series_id, 0, raw.window, from, until)?;
    decode_raw(series_id, &stored, from, until, None)
}

/// Rollup points of `level` (≥ 1) in `[from, until)`, oldest first.
pub fn rollup_points(
    conn: &Connection,
    series_id: i64,
    level: usize,
    window: i64,
    from: i64,
    until: i64,
) -> Result<Vec<(i64, Agg)>, StoreError> {
    let stored = overlapping_blobs(conn, series_id, level, window, from, until)?;
    decode_rollup(series_id, level, &stored, from, until, None)
}

/// Deletes the chunks of `level` whose window ends at or before `before`.
pub fn delete_expired(
    conn: &Connection,
    series_id: i64,
    level: usize,
    window: i64,
    before: i64,
) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM metric_chunks WHERE series_id = ?1 AND level = ?2 AND start <= ?3",
        )?
        .execute(rusqlite::params![
            series_id,
            level_key(level),
            before.saturating_sub(window)
        ])?)
}
