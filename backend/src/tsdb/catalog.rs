//! The series catalog, cached in memory: lookups on the ingest path and
//! the sorted list every query walks never touch SQLite. SQLite
//! (`metric_series`) stays the source of truth; this is loaded from it at
//! start and updated after each committed insert.

use std::sync::Arc;

use foldhash::HashMap;

use super::schema::Schemas;
use crate::metrics::SeriesKey;
use crate::store::metrics::{Series, SeriesKind};

/// Both maps hash with foldhash: every ingested point looks its series up
/// here, and SipHash was most of that cost. Its seed is random per process,
/// so senders, who choose the names, cannot aim for collisions.
pub struct Catalog {
    by_key: HashMap<SeriesKey, Entry>,
    by_id: HashMap<i64, Entry>,
    /// Sorted by name then tags; shared with queries without copying.
    sorted: Arc<Vec<Series>>,
}

/// What the write path needs of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub kind: SeriesKind,
    /// Index into [`Schemas::list`].
    pub schema: usize,
}

impl Catalog {
    pub fn new(series: Vec<Series>, schemas: &Schemas) -> Catalog {
        let mut catalog = Catalog {
            by_key: HashMap::with_capacity_and_hasher(series.len(), Default::default()),
            by_id: HashMap::with_capacity_and_hasher(series.len(), Default::default()),
            sorted: Arc::new(Vec::new()),
        };
        catalog.insert(series, schemas);
        catalog
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn get(&self, key: &SeriesKey) -> Option<Entry> {
        self.by_key.get(key).copied()
    }

    pub fn by_id(&self, id: i64) -> Option<Entry> {
        self.by_id.get(&id).copied()
    }

    pub fn sorted(&self) -> Arc<Vec<Series>> {
        Arc::clone(&self.sorted)
    }

    /// Adds committed series (the sorted list is rebuilt once per call).
    pub fn insert(&mut self, series: Vec<Series>, schemas: &Schemas) {
        if series.is_empty() {
            return;
        }
        let mut sorted = Vec::with_capacity(self.sorted.len() + series.len());
        sorted.extend(self.sorted.iter().cloned());
        for s in series {
            if self.by_id.contains_key(&s.id) {
                continue;
            }
            let entry = Entry {
                id: s.id,
                kind: s.kind,
                schema: schemas.index_for(&s.key.name),
            };
            self.by_key.insert(s.key.clone(), entry);
            self.by_id.insert(s.id, entry);
            sorted.push(s);
        }
        sorted.sort_by(|a, b| (&a.key.name, &a.key.tags).cmp(&(&b.key.name, &b.key.tags)));
        self.sorted = Arc::new(sorted);
    }
}
