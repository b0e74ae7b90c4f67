//! Files SDKs attach to events (`attachment` items): kept zstd-compressed
//! next to the event they came with, within two limits.
//!
//! - Per attachment, [`AttachmentLimits::max_bytes`] as sent (after the
//!   request's `Content-Encoding` was undone): a larger one is skipped and
//!   counted, the rest of the envelope is stored as usual. Items over the
//!   envelope's own item limit never reach here; the envelope parser
//!   skips them the same way.
//! - Per project, [`AttachmentLimits::max_project_bytes`] of stored
//!   (compressed) bytes: each write deletes the project's oldest
//!   attachments until the total fits. The running total lives in
//!   `error_attachment_usage`, so no write sums the table.
//!
//! An attachment belongs to the envelope header's `event_id` (the event
//! sent with it), and is deleted when retention deletes that event. A retried envelope does not store its files twice: an
//! attachment whose event, file name and size are stored already is
//! skipped.
//!
//! Served bytes are whatever the client sent, HTML and scripts included:
//! `http::monitors_api` always answers them as downloads, never inline.

use partout_model::errors::Attachment;
use partout_protocols::sentry::envelope::ItemHeader;
use rusqlite::{Connection, OptionalExtension};

use crate::store::StoreError;

/// Default of [`AttachmentLimits::max_bytes`]: 1 MiB.
pub const DEFAULT_MAX_ATTACHMENT_BYTES: usize = 1 << 20;
/// Default of [`AttachmentLimits::max_project_bytes`]: 100 MiB.
pub const DEFAULT_MAX_PROJECT_BYTES: u64 = 100 << 20;
/// zstd level, as for events.
const ZSTD_LEVEL: i32 = 3;
/// Name of a file sent without one.
const DEFAULT_FILENAME: &str = "attachment";
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";
const DEFAULT_ATTACHMENT_TYPE: &str = "event.attachment";
/// Oldest attachments looked at per eviction round.
const EVICTION_BATCH: i64 = 64;

/// The bounds of stored attachments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachmentLimits {
    /// Largest attachment kept, bytes as sent.
    pub max_bytes: usize,
    /// Stored (compressed) bytes of attachments per project; the oldest
    /// go first.
    pub max_project_bytes: u64,
}

impl Default for AttachmentLimits {
    fn default() -> Self {
        AttachmentLimits {
            max_bytes: DEFAULT_MAX_ATTACHMENT_BYTES,
            max_project_bytes: DEFAULT_MAX_PROJECT_BYTES,
        }
    }
}

/// An attachment ready for the writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    pub filename: String,
    pub content_type: String,
    pub attachment_type: String,
    /// Bytes as sent.
    pub size: u64,
    /// The bytes, zstd-compressed.
    pub body: Vec<u8>,
}

/// Why an attachment item was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Larger than [`AttachmentLimits::max_bytes`].
    TooLarge,
    /// zstd failed (out of memory).
    Compress,
}

/// Compresses one attachment item, unless it is over the limit.
/// Blocking: compression of a megabyte takes milliseconds.
pub fn prepare(
    header: &ItemHeader,
    payload: &[u8],
    limits: &AttachmentLimits,
) -> Result<NewAttachment, Refused> {
    if payload.len() > limits.max_bytes {
        return Err(Refused::TooLarge);
    }
    let body = zstd::bulk::compress(payload, ZSTD_LEVEL).map_err(|_| Refused::Compress)?;
    Ok(NewAttachment {
        filename: header
            .filename
            .clone()
            .unwrap_or_else(|| DEFAULT_FILENAME.to_owned()),
        content_type: header
            .content_type
            .clone()
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
        attachment_type: header
            .attachment_type
            .clone()
            .unwrap_or_else(|| DEFAULT_ATTACHMENT_TYPE.to_owned()),
        size: u64::try_from(payload.len()).unwrap_or(u64::MAX),
        body,
    })
}

/// What [`record_attachments`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    pub stored: usize,
    /// Stored before (a retried envelope).
    pub duplicates: usize,
    /// Older attachments deleted to make room.
    pub evicted: usize,
}

/// Stores the attachments of `event_id`, then deletes the project's
/// oldest past its limit. Runs in a writer job.
pub fn record_attachments(
    conn: &Connection,
    project_id: i64,
    event_id: &str,
    attachments: &[NewAttachment],
    received_at_ms: i64,
    limits: &AttachmentLimits,
) -> Result<Recorded, StoreError> {
    let mut recorded = Recorded::default();
    for attachment in attachments {
        let seen: Option<i64> = conn
            .prepare_cached(
                "SELECT id FROM error_attachments
                 WHERE project_id = ?1 AND event_id = ?2 AND filename = ?3 AND size = ?4",
            )?
            .query_row(
                rusqlite::params![
                    project_id,
                    event_id,
                    attachment.filename,
                    to_i64(attachment.size)
                ],
                |row| row.get(0),
            )
            .optional()?;
        if seen.is_some() {
            recorded.duplicates += 1;
            continue;
        }
        let stored_size = to_i64(u64::try_from(attachment.body.len()).unwrap_or(u64::MAX));
        conn.prepare_cached(
            "INSERT INTO error_attachments (project_id, event_id, filename, content_type,
                 attachment_type, size, stored_size, received_at_ms, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(rusqlite::params![
            project_id,
            event_id,
            attachment.filename,
            attachment.content_type,
            attachment.attachment_type,
            to_i64(attachment.size),
            stored_size,
            received_at_ms,
            attachment.body,
        ])?;
        add_usage(conn, project_id, stored_size)?;
        recorded.stored += 1;
    }
    if recorded.stored > 0 {
        recorded.evicted = evict(conn, project_id, to_i64(limits.max_project_bytes))?;
    }
    Ok(recorded)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn add_usage(conn: &Connection, project_id: i64, delta: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO error_attachment_usage (project_id, stored_bytes) VALUES (?1, ?2)
         ON CONFLICT (project_id) DO UPDATE SET stored_bytes = stored_bytes + ?2",
    )?
    .execute(rusqlite::params![project_id, delta])?;
    Ok(())
}

/// The project's stored attachment bytes.
pub fn usage(conn: &Connection, project_id: i64) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT stored_bytes FROM error_attachment_usage WHERE project_id = ?1")?
        .query_row([project_id], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Deletes the attachments of the issue's events up to row id `cut_off`
/// (the events retention is about to delete), so no file outlives its
/// event.
pub fn delete_for_events(
    conn: &Connection,
    project_id: i64,
    issue_id: i64,
    cut_off: i64,
) -> Result<usize, StoreError> {
    let freed: Vec<i64> = conn
        .prepare_cached(
            "DELETE FROM error_attachments WHERE project_id = ?1 AND event_id IN (
                 SELECT event_id FROM error_events WHERE issue_id = ?2 AND id <= ?3)
             RETURNING stored_size",
        )?
        .query_map(rusqlite::params![project_id, issue_id, cut_off], |row| {
            row.get(0)
        })?
        .collect::<Result<_, _>>()?;
    if !freed.is_empty() {
        add_usage(conn, project_id, -freed.iter().sum::<i64>())?;
    }
    Ok(freed.len())
}

/// Deletes the project's oldest attachments until its stored bytes fit
/// `max_bytes`; returns how many went.
fn evict(conn: &Connection, project_id: i64, max_bytes: i64) -> Result<usize, StoreError> {
    let mut total = usage(conn, project_id)?;
    let mut evicted = 0;
    while total > max_bytes {
        let oldest: Vec<(i64, i64)> = conn
            .prepare_cached(
                "SELECT id, stored_size FROM error_attachments WHERE project_id = ?1
                 ORDER BY id LIMIT ?2",
            )?
            .query_map(rusqlite::params![project_id, EVICTION_BATCH], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        if oldest.is_empty() {
            break;
        }
        for (id, stored_size) in oldest {
            if total <= max_bytes {
                break;
            }
            conn.prepare_cached("DELETE FROM error_attachments WHERE id = ?1")?
                .execute([id])?;
            add_usage(conn, project_id, -stored_size)?;
            total = total.saturating_sub(stored_size);
            evicted += 1;
        }
    }
    Ok(evicted)
}

const COLUMNS: &str = "id, project_id, event_id, filename, content_type, attachment_type, size,
     received_at_ms";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Attachment> {
    Ok(Attachment {
        id: row.get(0)?,
        project_id: row.get(1)?,
        event_id: row.get(2)?,
        filename: row.get(3)?,
        content_type: row.get(4)?,
        attachment_type: row.get(5)?,
        size: u64::try_from(row.get::<_, i64>(6)?).unwrap_or(0),
        received_at_ms: row.get(7)?,
    })
}

/// The attachments of one event, in the order sent.
pub fn list_for_event(
    conn: &Connection,
    project_id: i64,
    event_id: &str,
) -> Result<Vec<Attachment>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM error_attachments WHERE project_id = ?1 AND event_id = ?2
         ORDER BY id"
    ))?;
    let rows = stmt.query_map(rusqlite::params![project_id, event_id], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One attachment and its bytes, decompressed.
pub fn get(conn: &Connection, id: i64) -> Result<Option<(Attachment, Vec<u8>)>, StoreError> {
    let found = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS}, body FROM error_attachments WHERE id = ?1"
        ))?
        .query_row([id], |row| Ok((from_row(row)?, row.get::<_, Vec<u8>>(8)?)))
        .optional()?;
    let Some((attachment, body)) = found else {
        return Ok(None);
    };
    // The stored size bounds the output; a little slack for a size that
    // does not fit usize on a 32-bit build.
    let capacity = usize::try_from(attachment.size).unwrap_or(usize::MAX);
    let bytes = zstd::bulk::decompress(&body, capacity)
        .map_err(|error| StoreError::Task(format!("cannot decompress attachment {id}: {error}")))?;
    Ok(Some((attachment, bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use partout_protocols::sentry::envelope::ItemType;

    fn header(filename: Option<&str>) -> ItemHeader {
        ItemHeader {
            kind: ItemType::Attachment,
            length: None,
            content_type: None,
            filename: filename.map(str::to_owned),
            attachment_type: None,
            item_count: None,
        }
    }

    /// A store with projects 1 and 2.
    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write(|conn| {
                conn.execute(
                    "INSERT INTO error_projects (id, name, created_at_ms) VALUES (1, 'a', 0), (2, 'b', 0)",
                    [],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        (store, dir)
    }

    #[test]
    fn defaults_and_the_size_limit() {
        let limits = AttachmentLimits {
            max_bytes: 4,
            ..AttachmentLimits::default()
        };
        let attachment = prepare(&header(None), b"abcd", &limits).unwrap();
        assert_eq!(attachment.filename, "attachment");
        assert_eq!(attachment.content_type, "application/octet-stream");
        assert_eq!(attachment.attachment_type, "event.attachment");
        assert_eq!(attachment.size, 4);
        assert_eq!(
            prepare(&header(None), b"abcde", &limits),
            Err(Refused::TooLarge)
        );
    }

    #[tokio::test]
    async fn bytes_round_trip_and_retries_are_not_stored_twice() {
        let (store, _dir) = store().await;
        let limits = AttachmentLimits::default();
        let file = prepare(&header(Some("a.txt")), b"hello\nworld\n", &limits).unwrap();
        let event = "81ff5a4fefb44611815cfe1e0a0a0800";
        let (first, again) = store
            .write(move |conn| {
                let first =
                    record_attachments(conn, 1, event, std::slice::from_ref(&file), 10, &limits)?;
                let again = record_attachments(conn, 1, event, &[file], 11, &limits)?;
                Ok((first, again))
            })
            .await
            .unwrap();
        assert_eq!(first.stored, 1);
        assert_eq!(again.duplicates, 1);
        assert_eq!(again.stored, 0);
        let (listed, other, found, missing) = store
            .read(move |conn| {
                let listed = list_for_event(conn, 1, event)?;
                let other = list_for_event(conn, 2, event)?;
                let found = get(conn, listed[0].id)?;
                Ok((listed, other, found, get(conn, 999)?))
            })
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].filename, "a.txt");
        assert_eq!(listed[0].size, 12);
        assert_eq!(listed[0].received_at_ms, 10);
        assert!(other.is_empty());
        let (attachment, bytes) = found.unwrap();
        assert_eq!(attachment, listed[0]);
        assert_eq!(bytes, b"hello\nworld\n");
        assert!(missing.is_none());
    }

    /// Bytes that do not compress, so each stores at about its size.
    fn noise(seed: u64) -> Vec<u8> {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005) | 1;
        (0..1000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect()
    }

    #[tokio::test]
    async fn the_project_cap_deletes_the_oldest_first() {
        let (store, _dir) = store().await;
        let open = AttachmentLimits::default();
        let files: Vec<NewAttachment> = (0..5)
            .map(|n| prepare(&header(Some(&format!("f{n}"))), &noise(n + 1), &open).unwrap())
            .collect();
        let one = i64::try_from(files[0].body.len()).unwrap();
        let capped = AttachmentLimits {
            max_bytes: 1 << 20,
            max_project_bytes: u64::try_from(3 * one + 20).unwrap(),
        };
        let (names, stored, usage_1, usage_2, evicted) = store
            .write(move |conn| {
                let mut evicted = 0;
                for (n, file) in files.iter().enumerate() {
                    let event = format!("{n:032x}");
                    evicted += record_attachments(
                        conn,
                        1,
                        &event,
                        std::slice::from_ref(file),
                        0,
                        &capped,
                    )?
                    .evicted;
                }
                // Another project's files do not count against this one.
                record_attachments(conn, 2, "e", &files[..1], 0, &capped)?;
                let names: Vec<String> = conn
                    .prepare(
                        "SELECT filename FROM error_attachments WHERE project_id = 1 ORDER BY id",
                    )?
                    .query_map([], |row| row.get(0))?
                    .collect::<Result<_, _>>()?;
                let stored: i64 = conn.query_row(
                    "SELECT SUM(stored_size) FROM error_attachments WHERE project_id = 1",
                    [],
                    |row| row.get(0),
                )?;
                Ok((names, stored, usage(conn, 1)?, usage(conn, 2)?, evicted))
            })
            .await
            .unwrap();
        assert_eq!(names, ["f2", "f3", "f4"]);
        assert_eq!(evicted, 2);
        assert_eq!(usage_1, stored);
        assert!(stored <= 3 * one + 20);
        assert_eq!(usage_2, one);
    }
}
