//! Issue dictionaries: the first stored event of an issue, kept as the
//! zstd dictionary its later events are compressed against.
//!
//! Events of one issue share most of their bytes: the same exception
//! chain, the same frames with the same source context lines, the same
//! SDK, modules and contexts. Compressed alone, a typical Python event
//! of 30 KB takes 3.7 KB; against an earlier event of its issue it takes
//! under 300 bytes, and zstd finds those long matches at several times
//! its usual speed. Ingestion at thousands of events a second spends
//! much of its time compressing, and the writer writing what comes out.
//!
//! An issue's dictionary is set once, by the first event that offers
//! one (`error_dictionaries`, keyed by the issue), and never changes, so
//! every event compressed against it stays readable for as long as the
//! issue exists, whichever of its events retention deletes.
//!
//! Ingestion looks dictionaries up by project and grouping key, before
//! the writer knows the issue: [`DictionaryCache`] keeps the prepared
//! ones in memory, bounded by their size, and reads a missing one from
//! the store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension};

use super::traces::StackTraces;
use crate::store::{Store, StoreError};

/// zstd level events are compressed at against a dictionary: level 3
/// takes twice as long for the same size once the matches are this long.
pub const LEVEL: i32 = 1;
/// Memory the cache may hold, dictionaries and their prepared tables.
const MAX_CACHED_BYTES: usize = 64 * 1024 * 1024;
/// Largest dictionary decompressed; an event is far smaller, so more
/// means a corrupt row.
const MAX_DICTIONARY_BYTES: usize = 64 * 1024 * 1024;

/// One issue's dictionary, ready to compress against.
pub struct Dictionary {
    /// The issue it belongs to: an event compressed against it may only
    /// be stored under this issue.
    pub issue_id: i64,
    /// The dictionary's content: an event's stored JSON.
    raw: Vec<u8>,
    prepared: zstd::zstd_safe::CDict<'static>,
    /// The digest of the stack traces of the event `raw` holds, when it
    /// has frames: a later event of the issue with the same digest is
    /// stored without them ([`super::traces`]).
    traces_digest: Option<u128>,
}

impl Dictionary {
    /// A dictionary of `raw` (an event's stored JSON) for `issue_id`; none
    /// when zstd cannot prepare it.
    pub fn new(issue_id: i64, raw: Vec<u8>) -> Option<Dictionary> {
        let prepared = zstd::zstd_safe::CDict::try_create(&raw, LEVEL)?;
        let traces_digest = serde_json::from_slice(&raw)
            .ok()
            .and_then(|event| super::traces::digest(&event));
        Some(Dictionary {
            issue_id,
            raw,
            prepared,
            traces_digest,
        })
    }

    /// Whether an event whose traces have `digest` carries exactly this
    /// dictionary's stack traces, and so may be stored without them.
    pub fn has_traces(&self, digest: Option<u128>) -> bool {
        digest.is_some() && digest == self.traces_digest
    }

    /// The dictionary event's stack traces, when it has frames: for the
    /// rare event that shared them but is stored under another issue.
    pub fn traces(&self) -> Option<StackTraces> {
        traces_of_content(&self.raw)
    }

    /// A dictionary of `raw` for `issue_id`, outside the store.
    #[cfg(test)]
    pub fn for_tests(issue_id: i64, raw: Vec<u8>) -> Dictionary {
        Dictionary::new(issue_id, raw).unwrap()
    }

    /// `data` compressed against this dictionary.
    pub fn compress(&self, data: &[u8]) -> std::io::Result<Vec<u8>> {
        crate::zstd_context::compress_with(&self.prepared, data)
    }

    /// What `compress` made, back.
    pub fn decompress(&self, data: &[u8], capacity: usize) -> std::io::Result<Vec<u8>> {
        crate::zstd_context::decompress_with(&self.raw, data, capacity)
    }

    /// Bytes it holds in memory.
    fn footprint(&self) -> usize {
        self.raw.len() + self.prepared.sizeof()
    }
}

impl std::fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dictionary")
            .field("issue_id", &self.issue_id)
            .field("bytes", &self.raw.len())
            .finish_non_exhaustive()
    }
}

impl PartialEq for Dictionary {
    fn eq(&self, other: &Self) -> bool {
        self.issue_id == other.issue_id && self.raw == other.raw
    }
}

struct Cached {
    dictionary: Arc<Dictionary>,
    /// The cache's clock when it was last used, for eviction.
    used: AtomicU64,
}

#[derive(Default)]
struct Entries {
    /// By project, then grouping key: a lookup borrows the key.
    by_project: HashMap<i64, HashMap<String, Cached>>,
    held: usize,
    bytes: usize,
}

/// Prepared dictionaries by project and grouping key.
#[derive(Default)]
pub struct DictionaryCache {
    entries: Mutex<Entries>,
    clock: AtomicU64,
}

impl DictionaryCache {
    /// The dictionary of the issue `grouping_key` names in `project_id`,
    /// from memory or else from the store; `None` when the issue is new or
    /// has none yet, and the event is to offer one. Blocking: reads the
    /// store on a miss.
    pub fn lookup(
        &self,
        store: &Store,
        project_id: i64,
        grouping_key: &str,
    ) -> Result<Option<Arc<Dictionary>>, StoreError> {
        let now = self.clock.fetch_add(1, Ordering::Relaxed);
        if let Some(found) = self.cached(project_id, grouping_key, now) {
            return Ok(Some(found));
        }
        let key = grouping_key.to_owned();
        let Some((issue_id, raw)) = store.read_blocking(|conn| load(conn, project_id, &key))?
        else {
            return Ok(None);
        };
        let Some(dictionary) = Dictionary::new(issue_id, raw) else {
            return Ok(None);
        };
        let dictionary = Arc::new(dictionary);
        self.insert(project_id, key, Arc::clone(&dictionary), now);
        Ok(Some(dictionary))
    }

    fn cached(&self, project_id: i64, grouping_key: &str, now: u64) -> Option<Arc<Dictionary>> {
        let entries = self.entries.lock().ok()?;
        let cached = entries.by_project.get(&project_id)?.get(grouping_key)?;
        cached.used.store(now, Ordering::Relaxed);
        Some(Arc::clone(&cached.dictionary))
    }

    fn insert(&self, project_id: i64, key: String, dictionary: Arc<Dictionary>, now: u64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let size = dictionary.footprint();
        if entries.bytes + size > MAX_CACHED_BYTES {
            evict_least_used(&mut entries, size);
        }
        let cached = Cached {
            dictionary,
            used: AtomicU64::new(now),
        };
        let replaced = entries
            .by_project
            .entry(project_id)
            .or_default()
            .insert(key, cached);
        match replaced {
            Some(old) => entries.bytes -= old.dictionary.footprint(),
            None => entries.held += 1,
        }
        entries.bytes += size;
    }

    /// Dictionaries held, and the bytes they take.
    pub fn usage(&self) -> (usize, usize) {
        self.entries
            .lock()
            .map_or((0, 0), |entries| (entries.held, entries.bytes))
    }
}

/// Drops the least recently used half of the entries, or more until
/// `room` fits: one sort per many insertions, not one per insertion.
fn evict_least_used(entries: &mut Entries, room: usize) {
    let mut by_use: Vec<(u64, i64, String)> = entries
        .by_project
        .iter()
        .flat_map(|(project, keys)| {
            keys.iter()
                .map(|(key, cached)| (cached.used.load(Ordering::Relaxed), *project, key.clone()))
        })
        .collect();
    by_use.sort_unstable_by_key(|(used, _, _)| *used);
    let half = by_use.len() / 2;
    for (dropped, (_, project, key)) in by_use.into_iter().enumerate() {
        if dropped >= half && entries.bytes + room <= MAX_CACHED_BYTES {
            break;
        }
        let Some(keys) = entries.by_project.get_mut(&project) else {
            continue;
        };
        if let Some(old) = keys.remove(&key) {
            entries.bytes -= old.dictionary.footprint();
            entries.held -= 1;
        }
        if keys.is_empty() {
            entries.by_project.remove(&project);
        }
    }
}

/// The stack traces of the event a dictionary's content holds, when it
/// has frames; `None` for content that is not an event's JSON.
pub fn traces_of_content(raw: &[u8]) -> Option<StackTraces> {
    let mut event: partout_protocols::sentry::event::Event = serde_json::from_slice(raw).ok()?;
    super::traces::digest(&event)?;
    Some(StackTraces::take(&mut event))
}

/// The issue id and dictionary content of an issue, by grouping key.
fn load(
    conn: &Connection,
    project_id: i64,
    grouping_key: &str,
) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
    let found: Option<(i64, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT i.id, d.body FROM error_issues i JOIN error_dictionaries d ON d.issue_id = i.id
             WHERE i.project_id = ?1 AND i.grouping_key = ?2",
        )?
        .query_row(rusqlite::params![project_id, grouping_key], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    found
        .map(|(issue_id, body)| Ok((issue_id, decompress_content(&body)?)))
        .transpose()
}

/// The dictionary content of an issue, for reading its events back.
pub fn content(conn: &Connection, issue_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
    let body: Option<Vec<u8>> = conn
        .prepare_cached("SELECT body FROM error_dictionaries WHERE issue_id = ?1")?
        .query_row([issue_id], |row| row.get(0))
        .optional()?;
    body.map(|body| decompress_content(&body)).transpose()
}

/// Makes `body` (an event compressed alone) the issue's dictionary unless
/// it has one; whether it did. Inside the writer's transaction.
pub fn offer(conn: &Connection, issue_id: i64, body: &[u8]) -> Result<bool, StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO error_dictionaries (issue_id, body) VALUES (?1, ?2)
             ON CONFLICT (issue_id) DO NOTHING",
        )?
        .execute(rusqlite::params![issue_id, body])?;
    Ok(inserted == 1)
}

fn decompress_content(body: &[u8]) -> Result<Vec<u8>, StoreError> {
    crate::zstd_context::decompress(body, MAX_DICTIONARY_BYTES)
        .map_err(|error| StoreError::Task(format!("corrupt issue dictionary: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2,000 lines of hex noise that differ between seeds in every 50th.
    fn text(seed: u64) -> Vec<u8> {
        (0..2000u64)
            .flat_map(|i| {
                let salt = if i % 50 == 0 { seed } else { 0 };
                let noise = (i ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                format!("{noise:016x} {}\n", noise.rotate_left(17)).into_bytes()
            })
            .collect()
    }

    #[test]
    fn events_compressed_against_a_dictionary_come_back_and_are_smaller() {
        let dictionary = Dictionary::new(7, text(1)).unwrap();
        let event = text(2);
        let against = dictionary.compress(&event).unwrap();
        let alone = crate::zstd_context::compress(3, &event).unwrap();
        assert!(
            against.len() < alone.len(),
            "{} >= {}",
            against.len(),
            alone.len()
        );
        assert_eq!(dictionary.decompress(&against, event.len()).unwrap(), event);
        assert!(dictionary.decompress(&against, event.len() - 1).is_err());
        let other = Dictionary::new(8, b"something else entirely".to_vec()).unwrap();
        assert_ne!(other.decompress(&against, 1 << 20).ok(), Some(event));
    }

    #[test]
    fn the_cache_stays_within_its_bytes_and_keeps_what_is_used() {
        let cache = DictionaryCache::default();
        let one = Arc::new(Dictionary::new(1, vec![b'a'; 4 * 1024 * 1024]).unwrap());
        let size = one.footprint();
        let fit = MAX_CACHED_BYTES / size;
        for n in 0..fit {
            let dictionary =
                Arc::new(Dictionary::new(n as i64, vec![b'a'; 4 * 1024 * 1024]).unwrap());
            cache.insert(1, format!("k{n}"), dictionary, n as u64);
        }
        assert_eq!(cache.usage().0, fit);
        // The first is used again: it survives the eviction the next
        // insertion causes, and the untouched oldest go.
        assert!(cache.cached(1, "k0", 1000).is_some());
        cache.insert(1, "new".to_owned(), one, 1001);
        let (held, bytes) = cache.usage();
        assert!(bytes <= MAX_CACHED_BYTES);
        assert!(held < fit);
        assert!(cache.cached(1, "k0", 1002).is_some());
        assert!(cache.cached(1, "new", 1003).is_some());
        assert!(cache.cached(1, "k1", 1004).is_none());
    }
}
