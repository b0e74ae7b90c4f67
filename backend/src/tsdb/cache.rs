//! Decoded chunks kept in memory for reads, bounded in bytes.
//!
//! Dashboards ask for the same ranges over and over (Grafana refreshes
//! every panel every few seconds), and decoding chunks (zstd, then the
//! columns) is most of what a render costs. A read still fetches every
//! chunk's compressed blob from SQLite, and the cache answers only when it
//! holds exactly that blob for that chunk: an entry can never be stale,
//! whatever sealing, late points or retention did to the chunk since, so
//! nothing has to invalidate it. Least recently used entries go first
//! when the budget is exceeded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::codec::{self, ChunkError, Columns};

/// Bytes the read path's cache may hold by default: a day of raw and
/// minute points for a few hundred series.
pub const DEFAULT_BUDGET_BYTES: usize = 64 << 20;

/// Which chunk: series, level and window start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkKey {
    pub series_id: i64,
    pub level: usize,
    pub start: i64,
}

struct Cached {
    /// The compressed chunk these columns were decoded from.
    blob: Box<[u8]>,
    columns: Arc<Columns>,
    bytes: usize,
    /// The cache's clock when last read: least recently used go first.
    used: u64,
}

#[derive(Default)]
struct State {
    entries: HashMap<ChunkKey, Cached>,
    bytes: usize,
    clock: u64,
}

/// Decoded chunks by key, at most `budget` bytes of them.
pub struct ChunkCache {
    budget: usize,
    state: Mutex<State>,
}

impl ChunkCache {
    pub fn new(budget: usize) -> ChunkCache {
        ChunkCache {
            budget,
            state: Mutex::default(),
        }
    }

    /// The columns of `blob`, the chunk at `key`: kept ones when the cache
    /// holds this very blob for the key, otherwise decoded and kept.
    pub fn decode(&self, key: ChunkKey, blob: &[u8]) -> Result<Arc<Columns>, ChunkError> {
        if let Some(columns) = self.lookup(key, blob) {
            return Ok(columns);
        }
        // Decoded outside the lock: other readers go on meanwhile.
        let columns = Arc::new(codec::decode(blob)?);
        self.insert(key, blob, Arc::clone(&columns));
        Ok(columns)
    }

    /// Bytes held (decoded columns and their blobs, roughly).
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent across a panic elsewhere: every
        // change to it is made under the lock without calling out.
        match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn lookup(&self, key: ChunkKey, blob: &[u8]) -> Option<Arc<Columns>> {
        let mut state = self.lock();
        state.clock += 1;
        let clock = state.clock;
        let cached = state.entries.get_mut(&key)?;
        if *cached.blob != *blob {
            return None;
        }
        cached.used = clock;
        Some(Arc::clone(&cached.columns))
    }

    fn insert(&self, key: ChunkKey, blob: &[u8], columns: Arc<Columns>) {
        let bytes = blob.len() + decoded_bytes(&columns);
        if bytes > self.budget {
            return;
        }
        let mut state = self.lock();
        state.clock += 1;
        let cached = Cached {
            blob: blob.into(),
            columns,
            bytes,
            used: state.clock,
        };
        if let Some(replaced) = state.entries.insert(key, cached) {
            state.bytes -= replaced.bytes;
        }
        state.bytes += bytes;
        if state.bytes > self.budget {
            evict(&mut state, self.budget / 4 * 3);
        }
    }
}

/// Drops least recently used entries until at most `target` bytes remain.
/// Evicting down to below the budget, not just under it, makes the sort
/// rare.
fn evict(state: &mut State, target: usize) {
    let mut by_age: Vec<(u64, ChunkKey)> = state
        .entries
        .iter()
        .map(|(key, cached)| (cached.used, *key))
        .collect();
    by_age.sort_unstable_by_key(|(used, _)| *used);
    for (_, key) in by_age {
        if state.bytes <= target {
            break;
        }
        if let Some(evicted) = state.entries.remove(&key) {
            state.bytes -= evicted.bytes;
        }
    }
}

/// What decoded columns occupy, near enough for a budget.
fn decoded_bytes(columns: &Columns) -> usize {
    let vec_overhead = std::mem::size_of::<Vec<u8>>();
    columns.timestamps.len() * 8
        + columns
            .floats
            .iter()
            .map(|c| c.len() * 8 + vec_overhead)
            .sum::<usize>()
        + columns.blobs.held_bytes()
        + std::mem::size_of::<Columns>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::codec::Blobs;

    fn chunk(values: &[f64]) -> (Columns, Vec<u8>) {
        let columns = Columns {
            timestamps: (0..values.len() as i64).map(|i| i * 10).collect(),
            floats: vec![values.to_vec()],
            blobs: Blobs::default(),
        };
        let blob = codec::encode(&columns).unwrap();
        (columns, blob)
    }

    fn key(start: i64) -> ChunkKey {
        ChunkKey {
            series_id: 1,
            level: 0,
            start,
        }
    }

    #[test]
    fn the_same_blob_is_decoded_once() {
        let cache = ChunkCache::new(DEFAULT_BUDGET_BYTES);
        let (columns, blob) = chunk(&[1.0, 2.5, 3.0]);
        let first = cache.decode(key(0), &blob).unwrap();
        assert_eq!(*first, columns);
        let second = cache.decode(key(0), &blob).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert!(cache.bytes() > 0);
    }

    /// A chunk rewritten by a seal has a new blob: the cache must give its
    /// new content, never the old.
    #[test]
    fn a_changed_blob_is_decoded_again() {
        let cache = ChunkCache::new(DEFAULT_BUDGET_BYTES);
        let (_, old) = chunk(&[1.0, 2.0]);
        let (new_columns, new) = chunk(&[1.0, 2.0, 7.0]);
        cache.decode(key(0), &old).unwrap();
        let bytes_with_old = cache.bytes();
        assert_eq!(*cache.decode(key(0), &new).unwrap(), new_columns);
        assert!(cache.bytes() > bytes_with_old, "replaced, not added to");
        // The same blob under another key is another chunk.
        let other = cache.decode(key(3600), &new).unwrap();
        assert_eq!(*other, new_columns);
    }

    #[test]
    fn corrupt_blobs_are_errors_and_not_kept() {
        let cache = ChunkCache::new(DEFAULT_BUDGET_BYTES);
        assert!(cache.decode(key(0), b"not a chunk").is_err());
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn the_budget_evicts_least_recently_used() {
        let (_, blob) = chunk(&[1.0; 100]);
        let one = blob.len() + decoded_bytes(&codec::decode(&blob).unwrap());
        let cache = ChunkCache::new(one * 4);
        let kept = cache.decode(key(0), &blob).unwrap();
        for start in 1..10 {
            cache.decode(key(start), &blob).unwrap();
            // Key 0 is read between inserts: the most recently used stays.
            assert!(Arc::ptr_eq(&kept, &cache.decode(key(0), &blob).unwrap()));
            assert!(cache.bytes() <= one * 4);
        }
        let state = cache.lock();
        assert!(state.entries.len() <= 4);
        assert!(!state.entries.contains_key(&key(1)));
    }

    #[test]
    fn a_chunk_over_the_whole_budget_is_not_kept() {
        let (columns, blob) = chunk(&[1.0; 100]);
        let cache = ChunkCache::new(16);
        assert_eq!(*cache.decode(key(0), &blob).unwrap(), columns);
        assert_eq!(cache.bytes(), 0);
    }
}
