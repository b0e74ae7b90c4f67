//! Metric series and their points.
//!
//! The catalog (`metric_series`) maps a Graphite name and canonical tags to
//! an id and a kind. Points live in chunks (see [`crate::tsdb`]).

use rusqlite::{Connection, OptionalExtension};

use super::{unix_ms_now, StoreError};
use crate::metrics::SeriesKey;

/// How a series' points are read back and consolidated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeriesKind {
    /// A value at a time: carbon points and StatsD gauges.
    Gauge,
    /// A count per interval (StatsD counters).
    Counter,
    /// Samples per interval, summarized by a sketch (timers, histograms,
    /// distributions).
    Timer,
    /// Unique members per interval (StatsD sets).
    Set,
}

impl SeriesKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SeriesKind::Gauge => "gauge",
            SeriesKind::Counter => "counter",
            SeriesKind::Timer => "timer",
            SeriesKind::Set => "set",
        }
    }

    pub fn parse(text: &str) -> Option<SeriesKind> {
        match text {
            "gauge" => Some(SeriesKind::Gauge),
            "counter" => Some(SeriesKind::Counter),
            "timer" => Some(SeriesKind::Timer),
            "set" => Some(SeriesKind::Set),
            _ => None,
        }
    }
}

/// A catalog entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub id: i64,
    pub key: SeriesKey,
    pub kind: SeriesKind,
}

/// The id of `key`, creating the series if it is new. Returns `None` when
/// it is new and the catalog already holds `max_series` series (`None`:
/// the caller enforces the cap, and counting is skipped).
pub fn ensure_series(
    conn: &Connection,
    key: &SeriesKey,
    kind: SeriesKind,
    max_series: Option<u64>,
) -> Result<Option<Series>, StoreError> {
    let tags = key.tags_text();
    let existing: Option<(i64, String)> = conn
        .prepare_cached("SELECT id, kind FROM metric_series WHERE name = ?1 AND tags = ?2")?
        .query_row(rusqlite::params![key.name, tags], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    if let Some((id, stored_kind)) = existing {
        // The kind a series was created with stays: a name that is later
        // sent as another type keeps being read the first way.
        let kind = SeriesKind::parse(&stored_kind).unwrap_or(kind);
        return Ok(Some(Series {
            id,
            key: key.clone(),
            kind,
        }));
    }
    if let Some(max_series) = max_series {
        let count: i64 = conn
            .prepare_cached("SELECT count(*) FROM metric_series")?
            .query_row([], |row| row.get(0))?;
        if u64::try_from(count).unwrap_or(u64::MAX) >= max_series {
            return Ok(None);
        }
    }
    conn.prepare_cached(
        "INSERT INTO metric_series (name, tags, kind, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(rusqlite::params![
        key.name,
        tags,
        kind.as_str(),
        unix_ms_now()
    ])?;
    Ok(Some(Series {
        id: conn.last_insert_rowid(),
        key: key.clone(),
        kind,
    }))
}

/// Every series in the catalog.
pub fn all_series(conn: &Connection) -> Result<Vec<Series>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, name, tags, kind FROM metric_series ORDER BY name, tags")?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
        ))
    })?;
    let mut series = Vec::new();
    for row in rows {
        let (id, name, tags, kind) = row?;
        let Some(kind) = SeriesKind::parse(&kind) else {
            continue;
        };
        series.push(Series {
            id,
            key: SeriesKey::new(name, SeriesKey::parse_tags_text(&tags)),
            kind,
        });
    }
    Ok(series)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn key(name: &str) -> SeriesKey {
        SeriesKey::new(name.to_owned(), [("host".to_owned(), "web1".to_owned())])
    }

    #[tokio::test]
    async fn series_are_created_once_and_capped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let first = store
            .write(|conn| ensure_series(conn, &key("a.b"), SeriesKind::Gauge, Some(2)))
            .await
            .unwrap()
            .unwrap();
        let again = store
            .write(|conn| ensure_series(conn, &key("a.b"), SeriesKind::Counter, Some(2)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((again.id, again.kind), (first.id, SeriesKind::Gauge));
        store
            .write(|conn| ensure_series(conn, &key("a.c"), SeriesKind::Gauge, Some(2)))
            .await
            .unwrap()
            .unwrap();
        let over = store
            .write(|conn| ensure_series(conn, &key("a.d"), SeriesKind::Gauge, Some(2)))
            .await
            .unwrap();
        assert_eq!(over, None);
        let all = store.read(all_series).await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].key, key("a.b"));
    }
}
