//! Stored events: the `error_events` table and its body codec.
//!
//! A body is the normalized event (already bounded and scrubbed of
//! credentials by the parser) as JSON, zstd-compressed: the JSON is what
//! the parser crate defines, so reading it back needs no second schema.
//! An issue's events are compressed against its dictionary (its first
//! stored event, [`super::dictionaries`]) once it has one: a 30 KB
//! Python event then takes about 300 bytes instead of 3.7 KB. An event
//! whose stack traces equal its dictionary's is stored without them
//! ([`super::traces`]). The `body_kind` column says how a body was made.

use std::sync::Arc;

use partout_protocols::sentry::event::Event;
use rusqlite::{Connection, OptionalExtension, Row};

use super::dictionaries::{self, Dictionary};
use super::traces::StackTraces;
use crate::store::StoreError;

/// zstd level of a body compressed alone: it may become its issue's
/// dictionary, kept for the issue's life, and level 3 is a few per cent
/// smaller than level 1.
const ZSTD_LEVEL: i32 = 3;
/// Most decompressed bytes one body may have; a normalized event is far
/// smaller, so more means a corrupt row.
const MAX_DECODED_BYTES: usize = 64 * 1024 * 1024;
/// Largest serialization buffer a thread keeps between events.
const MAX_KEPT_BUFFER: usize = 1024 * 1024;
/// Most events one page returns.
pub const MAX_PAGE: usize = 100;

/// `body_kind`: the body is the event compressed alone.
pub const KIND_ALONE: i64 = 0;
/// `body_kind`: the body is compressed against the issue's dictionary.
pub const KIND_AGAINST_ISSUE: i64 = 1;
/// `body_kind`: the body is empty; the event is its issue's dictionary.
pub const KIND_IS_DICTIONARY: i64 = 2;
/// `body_kind`: the body is compressed against the issue's dictionary and
/// leaves out the stack traces, which are the dictionary event's.
pub const KIND_SHARED_TRACES: i64 = 3;

/// An event's body as prepared for the writer, which decides how it is
/// stored ([`super::record`]).
#[derive(Debug, Clone, PartialEq)]
pub enum EncodedBody {
    /// Compressed alone; offered as the issue's dictionary, which the
    /// issue takes unless it has one.
    Offered(Vec<u8>),
    /// Compressed against the dictionary of the issue its grouping key
    /// named when it was prepared; without the stack traces when
    /// `shared_traces`, as they are the dictionary's.
    AgainstIssue {
        dictionary: Arc<Dictionary>,
        bytes: Vec<u8>,
        shared_traces: bool,
    },
}

impl EncodedBody {
    /// Compressed bytes, for sizes.
    pub fn compressed_len(&self) -> usize {
        match self {
            EncodedBody::Offered(bytes) | EncodedBody::AgainstIssue { bytes, .. } => bytes.len(),
        }
    }

    /// The event's JSON, back.
    pub fn json(&self) -> std::io::Result<Vec<u8>> {
        match self {
            EncodedBody::Offered(bytes) => {
                crate::zstd_context::decompress(bytes, MAX_DECODED_BYTES)
            }
            EncodedBody::AgainstIssue {
                dictionary,
                bytes,
                shared_traces: false,
            } => dictionary.decompress(bytes, MAX_DECODED_BYTES),
            EncodedBody::AgainstIssue {
                dictionary,
                bytes,
                shared_traces: true,
            } => {
                let json = dictionary.decompress(bytes, MAX_DECODED_BYTES)?;
                let mut event: Event =
                    serde_json::from_slice(&json).map_err(std::io::Error::other)?;
                with_traces(&mut event, dictionary.traces().as_ref())?;
                serde_json::to_vec(&event).map_err(std::io::Error::other)
            }
        }
    }
}

/// Puts `traces` back into an event stored without them.
fn with_traces(event: &mut Event, traces: Option<&StackTraces>) -> std::io::Result<()> {
    let traces = traces.ok_or_else(|| {
        std::io::Error::other("the event shares stack traces its issue's dictionary lacks")
    })?;
    if traces.clone().put(event) {
        Ok(())
    } else {
        Err(std::io::Error::other(
            "the event's exception chain does not match its issue's dictionary",
        ))
    }
}

/// An issue's dictionary content as reads use it: the stack traces are
/// parsed out of it once, when an event that shares them is read.
pub struct DictionaryContent {
    raw: Vec<u8>,
    traces: std::cell::OnceCell<Option<StackTraces>>,
}

impl DictionaryContent {
    pub fn new(raw: Vec<u8>) -> DictionaryContent {
        DictionaryContent {
            raw,
            traces: std::cell::OnceCell::new(),
        }
    }

    fn traces(&self) -> Option<&StackTraces> {
        self.traces
            .get_or_init(|| dictionaries::traces_of_content(&self.raw))
            .as_ref()
    }
}

/// The body of a normalized event, against `dictionary` when there is
/// one, and without its stack traces when they are the dictionary's
/// (taken out while it is serialized, then put back: `event` is left as
/// it came).
pub fn encode(
    event: &mut Event,
    dictionary: Option<Arc<Dictionary>>,
) -> std::io::Result<EncodedBody> {
    let shared = dictionary
        .as_ref()
        .is_some_and(|dictionary| dictionary.has_traces(super::traces::digest(event)));
    if !shared {
        return encode_whole(event, dictionary);
    }
    let traces = StackTraces::take(event);
    let body = encode_whole(event, dictionary).map(|body| match body {
        EncodedBody::AgainstIssue {
            dictionary, bytes, ..
        } => EncodedBody::AgainstIssue {
            dictionary,
            bytes,
            shared_traces: true,
        },
        offered @ EncodedBody::Offered(_) => offered,
    });
    traces.put(event);
    body
}

/// The body of `event` as it is, against `dictionary` when there is one.
fn encode_whole(
    event: &Event,
    dictionary: Option<Arc<Dictionary>>,
) -> std::io::Result<EncodedBody> {
    thread_local! {
        // The JSON is written into a buffer kept for the next event: a
        // fresh one grows through every doubling up to 40 KB, copying.
        static JSON: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    JSON.with(|json| {
        let mut json = json.try_borrow_mut().map_err(std::io::Error::other)?;
        json.clear();
        serde_json::to_writer(&mut *json, event).map_err(std::io::Error::other)?;
        let body = match dictionary {
            Some(dictionary) => EncodedBody::AgainstIssue {
                bytes: dictionary.compress(&json)?,
                dictionary,
                shared_traces: false,
            },
            None => EncodedBody::Offered(compress_alone(&json)?),
        };
        // One unusually large event must not pin its buffer for good.
        if json.capacity() > MAX_KEPT_BUFFER {
            *json = Vec::new();
        }
        Ok(body)
    })
}

/// An event's JSON compressed alone.
pub fn compress_alone(json: &[u8]) -> std::io::Result<Vec<u8>> {
    crate::zstd_context::compress(ZSTD_LEVEL, json)
}

/// A stored body back into the event; `dictionary` is its issue's
/// dictionary, needed unless the body was compressed alone.
pub fn decode(
    kind: i64,
    body: &[u8],
    dictionary: Option<&DictionaryContent>,
) -> std::io::Result<Event> {
    let missing = || std::io::Error::other("the issue's dictionary is missing");
    let json = match kind {
        KIND_ALONE => crate::zstd_context::decompress(body, MAX_DECODED_BYTES)?,
        KIND_AGAINST_ISSUE | KIND_SHARED_TRACES => crate::zstd_context::decompress_with(
            &dictionary.ok_or_else(missing)?.raw,
            body,
            MAX_DECODED_BYTES,
        )?,
        KIND_IS_DICTIONARY => dictionary.ok_or_else(missing)?.raw.clone(),
        other => return Err(std::io::Error::other(format!("unknown body kind {other}"))),
    };
    let mut event: Event = serde_json::from_slice(&json).map_err(std::io::Error::other)?;
    if kind == KIND_SHARED_TRACES {
        with_traces(&mut event, dictionary.and_then(DictionaryContent::traces))?;
    }
    Ok(event)
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

const COLUMNS: &str = "id, project_id, issue_id, event_id, timestamp_ms, received_at_ms, \
     body_kind, body FROM error_events";

/// A row before its body is decoded, which may need the issue's
/// dictionary.
struct RawRow {
    id: i64,
    project_id: i64,
    issue_id: i64,
    event_id: String,
    timestamp_ms: i64,
    received_at_ms: i64,
    kind: i64,
    body: Vec<u8>,
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        id: row.get(0)?,
        project_id: row.get(1)?,
        issue_id: row.get(2)?,
        event_id: row.get(3)?,
        timestamp_ms: row.get(4)?,
        received_at_ms: row.get(5)?,
        kind: row.get(6)?,
        body: row.get(7)?,
    })
}

/// Rows into events, reading each issue's dictionary once.
fn decode_rows(conn: &Connection, rows: Vec<RawRow>) -> Result<Vec<StoredEvent>, StoreError> {
    decode_each(conn, rows)?
        .into_iter()
        .map(|(row, event)| {
            let event = event.map_err(|error| {
                StoreError::Task(format!("cannot read stored event {}: {error}", row.id))
            })?;
            Ok(StoredEvent {
                id: row.id,
                project_id: row.project_id,
                issue_id: row.issue_id,
                event_id: row.event_id,
                timestamp_ms: row.timestamp_ms,
                received_at_ms: row.received_at_ms,
                event,
            })
        })
        .collect()
}

/// Each row with its body decoded, or why it cannot be; each issue's
/// dictionary is read once per run of its rows.
fn decode_each(
    conn: &Connection,
    rows: Vec<RawRow>,
) -> Result<Vec<(RawRow, std::io::Result<Event>)>, StoreError> {
    let mut dictionary: Option<(i64, Option<DictionaryContent>)> = None;
    rows.into_iter()
        .map(|row| {
            let content = if row.kind == KIND_ALONE {
                None
            } else {
                if dictionary.as_ref().map(|(issue, _)| *issue) != Some(row.issue_id) {
                    let content = dictionaries::content(conn, row.issue_id)?;
                    dictionary = Some((row.issue_id, content.map(DictionaryContent::new)));
                }
                dictionary
                    .as_ref()
                    .and_then(|(_, content)| content.as_ref())
            };
            let event = decode(row.kind, &row.body, content);
            Ok((row, event))
        })
        .collect()
}

/// An event read back in arrival order, to count it again (`counts`).
#[derive(Debug)]
pub struct ArrivedEvent {
    pub id: i64,
    pub issue_id: i64,
    pub timestamp_ms: i64,
    /// `None` when its body cannot be read: it still counts in its hour.
    pub event: Option<Event>,
}

/// Up to `limit` events stored after the row id `after`, oldest first.
pub fn arrived_after(
    conn: &Connection,
    after: i64,
    limit: usize,
) -> Result<Vec<ArrivedEvent>, StoreError> {
    let sql = format!("SELECT {COLUMNS} WHERE id > ?1 ORDER BY id LIMIT ?2");
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(
            rusqlite::params![after, i64::try_from(limit).unwrap_or(i64::MAX)],
            from_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(decode_each(conn, rows)?
        .into_iter()
        .map(|(row, event)| {
            let event = event
                .map_err(|error| {
                    tracing::warn!(event = row.id, %error, "a stored event cannot be read to count it");
                })
                .ok();
            ArrivedEvent {
                id: row.id,
                issue_id: row.issue_id,
                timestamp_ms: row.timestamp_ms,
                event,
            }
        })
        .collect())
}

/// The newest stored event of an issue.
pub fn latest(conn: &Connection, issue_id: i64) -> Result<Option<StoredEvent>, StoreError> {
    let sql = format!("SELECT {COLUMNS} WHERE issue_id = ?1 ORDER BY id DESC LIMIT 1");
    let row = conn
        .prepare_cached(&sql)?
        .query_row([issue_id], from_row)
        .optional()?;
    Ok(decode_rows(conn, row.into_iter().collect())?.pop())
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
    let mut rows: Vec<RawRow> = rows.collect::<Result<_, _>>()?;
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|row| row.id)
    } else {
        None
    };
    Ok((decode_rows(conn, rows)?, next))
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

    fn event(payload: &[u8]) -> Event {
        normalize_event(payload, &NormalizeLimits::default()).unwrap()
    }

    #[test]
    fn bodies_round_trip_and_compress() {
        let event = event(
            br#"{"message":"disk full","tags":{"a":"1"},"extra":{"n":[1,2,3]},
            "exception":{"values":[{"type":"E","stacktrace":{"frames":[{"function":"f","lineno":3}]}}]}}"#,
        );
        let EncodedBody::Offered(body) = encode(&mut event.clone(), None).unwrap() else {
            panic!("without a dictionary a body is offered as one");
        };
        assert_eq!(decode(KIND_ALONE, &body, None).unwrap(), event);
        assert!(decode(KIND_ALONE, b"not zstd", None).is_err());
        assert!(decode(7, &body, None).is_err(), "unknown kinds are refused");
        let big = Event {
            extra: (0..100)
                .map(|n| (format!("key{n}"), serde_json::json!("the same text again")))
                .collect(),
            ..event
        };
        let json = serde_json::to_vec(&big).unwrap();
        assert!(encode(&mut big.clone(), None).unwrap().compressed_len() * 4 < json.len());
    }

    /// A `KeyError` event of 30 frames with source context, its value
    /// `value`: events of one issue.
    fn payload(value: &str) -> String {
        let frames: Vec<String> = (0..30)
            .map(|n| {
                format!(
                    r#"{{"function":"handler_{n}","module":"shop.views","lineno":{n},"context_line":"    return compute_total(order, discount={n})","pre_context":["def f():","    x = {n}"],"post_context":["    y = 2"]}}"#
                )
            })
            .collect();
        format!(
            r#"{{"exception":{{"values":[{{"type":"KeyError","value":"{value}","stacktrace":{{"frames":[{}]}}}}]}}}}"#,
            frames.join(",")
        )
    }

    #[test]
    fn an_issue_event_is_compressed_against_the_first_one() {
        let first = event(payload("'sku-1'").as_bytes());
        // Another line number: the traces differ, and are stored.
        let second = event(
            payload("'sku-2'")
                .replace(r#""lineno":7"#, r#""lineno":8"#)
                .as_bytes(),
        );
        let first_json = serde_json::to_vec(&first).unwrap();
        let content = DictionaryContent::new(first_json.clone());
        let dictionary = Arc::new(Dictionary::for_tests(3, first_json.clone()));
        let against = encode(&mut second.clone(), Some(Arc::clone(&dictionary))).unwrap();
        let alone = encode(&mut second.clone(), None).unwrap();
        assert!(
            against.compressed_len() * 4 < alone.compressed_len(),
            "{} against {} alone",
            against.compressed_len(),
            alone.compressed_len()
        );
        let EncodedBody::AgainstIssue {
            bytes,
            dictionary: used,
            shared_traces: false,
        } = &against
        else {
            panic!("a dictionary given is used, and other traces are stored");
        };
        assert_eq!(used.issue_id, 3);
        assert_eq!(
            decode(KIND_AGAINST_ISSUE, bytes, Some(&content)).unwrap(),
            second
        );
        assert!(decode(KIND_AGAINST_ISSUE, bytes, None).is_err());
        assert_eq!(
            decode(KIND_IS_DICTIONARY, &[], Some(&content)).unwrap(),
            first
        );
        assert_eq!(
            serde_json::from_slice::<Event>(&against.json().unwrap()).unwrap(),
            second
        );
    }

    #[test]
    fn an_event_with_its_dictionarys_traces_is_stored_without_them() {
        let first = event(payload("'sku-1'").as_bytes());
        let second = event(payload("'sku-2'").as_bytes());
        let first_json = serde_json::to_vec(&first).unwrap();
        let content = DictionaryContent::new(first_json.clone());
        let dictionary = Arc::new(Dictionary::for_tests(3, first_json.clone()));
        let mut encoded = second.clone();
        let shared = encode(&mut encoded, Some(Arc::clone(&dictionary))).unwrap();
        assert_eq!(encoded, second, "the event is left as it came");
        let EncodedBody::AgainstIssue {
            bytes,
            shared_traces: true,
            ..
        } = &shared
        else {
            panic!("the same traces are shared: {shared:?}");
        };
        // The body holds no frame at all: no function name is in it.
        let json = dictionary.decompress(bytes, MAX_DECODED_BYTES).unwrap();
        assert!(!String::from_utf8_lossy(&json).contains("handler_"));
        assert_eq!(
            decode(KIND_SHARED_TRACES, bytes, Some(&content)).unwrap(),
            second
        );
        assert!(decode(KIND_SHARED_TRACES, bytes, None).is_err());
        // A dictionary without those traces cannot complete it.
        let message = DictionaryContent::new(br#"{"level":"error","platform":"python"}"#.to_vec());
        assert!(decode(KIND_SHARED_TRACES, bytes, Some(&message)).is_err());
        // Stored under another issue, the body is rebuilt whole.
        assert_eq!(
            serde_json::from_slice::<Event>(&shared.json().unwrap()).unwrap(),
            second
        );
    }
}
