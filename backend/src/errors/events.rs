//! Stored events: the `error_events` table and its body codec.
//!
//! A body is the normalized event (already bounded and scrubbed of
//! credentials by the parser) as JSON, zstd-compressed: the JSON is what
//! the parser crate defines, so reading it back needs no second schema,
//! and zstd stores the Python SDK's exception fixture (3460 bytes as sent,
//! with source context lines) in 1324 bytes.

use partout_protocols::sentry::event::Event;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row};

use crate::store::StoreError;

/// zstd level: a few MB/s more at level 1 is not worth the bytes on
/// disk at the rates one SDK fleet sends.
const ZSTD_LEVEL: i32 = 3;
/// Most decompressed bytes one body may have; a normalized event is far
/// smaller, so more means a corrupt row.
const MAX_DECODED_BYTES: usize = 64 * 1024 * 1024;
/// Largest serialization buffer a thread keeps between events.
const MAX_KEPT_BUFFER: usize = 1024 * 1024;
/// Most events one page returns.
pub const MAX_PAGE: usize = 100;

/// The stored body of a normalized event.
pub fn encode(event: &Event) -> std::io::Result<Vec<u8>> {
    thread_local! {
        // The JSON is written into a buffer kept for the next event: a
        // fresh one grows through every doubling up to 40 KB, copying.
        static JSON: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    JSON.with(|json| {
        let mut json = json.try_borrow_mut().map_err(std::io::Error::other)?;
        json.clear();
        serde_json::to_writer(&mut *json, event).map_err(std::io::Error::other)?;
        let compressed = crate::zstd_context::compress(ZSTD_LEVEL, &json);
        // One unusually large event must not pin its buffer for good.
        if json.capacity() > MAX_KEPT_BUFFER {
            *json = Vec::new();
        }
        compressed
    })
}

/// A stored body back into the event.
pub fn decode(body: &[u8]) -> std::io::Result<Event> {
    let json = zstd::bulk::decompress(body, MAX_DECODED_BYTES)?;
    serde_json::from_slice(&json).map_err(std::io::Error::other)
}

/// One stored event with its row data.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// The row id: the order of arrival, and the paging cursor.
    pub id: i64,
    pub project_id: i64,
    pub issue_id: i64,
    pub event_id: String,
    pub timestamp_ms: i64,
    pub received_at_ms: i64,
    pub event: Event,
}

const COLUMNS: &str =
    "id, project_id, issue_id, event_id, timestamp_ms, received_at_ms, body FROM error_events";

fn from_row(row: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    let body: Vec<u8> = row.get(6)?;
    let event = decode(&body)
        .map_err(|error| rusqlite::Error::FromSqlConversionFailure(6, Type::Blob, error.into()))?;
    Ok(StoredEvent {
        id: row.get(0)?,
        project_id: row.get(1)?,
        issue_id: row.get(2)?,
        event_id: row.get(3)?,
        timestamp_ms: row.get(4)?,
        received_at_ms: row.get(5)?,
        event,
    })
}

/// The newest stored event of an issue.
pub fn latest(conn: &Connection, issue_id: i64) -> Result<Option<StoredEvent>, StoreError> {
    let sql = format!("SELECT {COLUMNS} WHERE issue_id = ?1 ORDER BY id DESC LIMIT 1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([issue_id], from_row)
        .optional()?)
}

/// Up to `limit` (at most [`MAX_PAGE`]) events of an issue, newest first,
/// older than the row id `before` when given. The second value is the
/// cursor of the next page, when there is one.
pub fn page(
    conn: &Connection,
    issue_id: i64,
    before: Option<i64>,
    limit: usize,
) -> Result<(Vec<StoredEvent>, Option<i64>), StoreError> {
    let limit = limit.clamp(1, MAX_PAGE);
    let sql = format!("SELECT {COLUMNS} WHERE issue_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        rusqlite::params![
            issue_id,
            before.unwrap_or(i64::MAX),
            i64::try_from(limit + 1).unwrap_or(i64::MAX)
        ],
        from_row,
    )?;
    let mut events: Vec<StoredEvent> = rows.collect::<Result<_, _>>()?;
    let next = if events.len() > limit {
        events.truncate(limit);
        events.last().map(|event| event.id)
    } else {
        None
    };
    Ok((events, next))
}

/// Stored events of an issue (at most the retention limit).
pub fn stored_count(conn: &Connection, issue_id: i64) -> Result<u64, StoreError> {
    let count: i64 = conn.query_row(
        "SELECT count(*) FROM error_events WHERE issue_id = ?1",
        [issue_id],
        |row| row.get(0),
    )?;
    Ok(u64::try_from(count).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use partout_protocols::sentry::event::{normalize_event, NormalizeLimits};

    #[test]
    fn bodies_round_trip_and_compress() {
        let payload = br#"{"message":"disk full","tags":{"a":"1"},"extra":{"n":[1,2,3]},
            "exception":{"values":[{"type":"E","stacktrace":{"frames":[{"function":"f","lineno":3}]}}]}}"#;
        let event = normalize_event(payload, &NormalizeLimits::default()).unwrap();
        let body = encode(&event).unwrap();
        assert_eq!(decode(&body).unwrap(), event);
        assert!(decode(b"not zstd").is_err());
        let big = Event {
            extra: (0..100)
                .map(|n| (format!("key{n}"), serde_json::json!("the same text again")))
                .collect(),
            ..event
        };
        let json = serde_json::to_vec(&big).unwrap();
        assert!(encode(&big).unwrap().len() * 4 < json.len());
    }
}
