//! The `metric_chunks` table: one compressed blob per series, level and
//! aligned window start.

use rusqlite::{Connection, OptionalExtension};

use super::codec::{self, Columns};
use super::point::{raw_from_columns, rollup_from_columns, Agg, RawValue};
use super::schema::Level;
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
    conn.prepare_cached(
        "INSERT OR REPLACE INTO metric_chunks (series_id, level, start, blob) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(rusqlite::params![series_id, level_key(level), start, blob])?;
    Ok(blob.len())
}

/// Decoded chunks of a level (whose chunks cover `window` seconds) that
/// may hold points in `[from, until)`, oldest first.
pub fn overlapping(
    conn: &Connection,
    series_id: i64,
    level: usize,
    window: i64,
    from: i64,
    until: i64,
) -> Result<Vec<Columns>, StoreError> {
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
        let start: i64 = row.get(0)?;
        let blob: Vec<u8> = row.get(1)?;
        out.push(codec::decode(&blob).map_err(|e| corrupt(series_id, level, start, e))?);
    }
    Ok(out)
}

/// Raw points in `[from, until)`, oldest first.
pub fn raw_points(
    conn: &Connection,
    series_id: i64,
    raw: &Level,
    from: i64,
    until: i64,
) -> Result<Vec<(i64, RawValue)>, StoreError> {
    let mut out = Vec::new();
    for columns in overlapping(conn, series_id, 0, raw.window, from, until)? {
        let points =
            raw_from_columns(columns).ok_or_else(|| corrupt(series_id, 0, from, "not raw"))?;
        out.extend(
            points
                .into_iter()
                .filter(|(ts, _)| (from..until).contains(ts)),
        );
    }
    Ok(out)
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
    let mut out = Vec::new();
    for columns in overlapping(conn, series_id, level, window, from, until)? {
        let points = rollup_from_columns(columns)
            .ok_or_else(|| corrupt(series_id, level, from, "not a rollup"))?;
        out.extend(
            points
                .into_iter()
                .filter(|(ts, _)| (from..until).contains(ts)),
        );
    }
    Ok(out)
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
