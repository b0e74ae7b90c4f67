//! Collectors that read fast fields only (no stored lines): counts per
//! time bucket and level, and counts per value of `service`, `host` or
//! `level`.

use std::collections::HashMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::logs::schema::LEVELS;

/// Six levels, then "no level".
pub const LEVEL_SLOTS: usize = 7;
const NO_LEVEL: usize = 6;

/// Counts per bucket of `step_nanos` from `from_nanos` and per level, of
/// the lines whose time is in `keep` (so the query need not carry the
/// time range when it covers whole partitions).
pub struct Histogram {
    pub from_nanos: i64,
    pub step_nanos: i64,
    pub buckets: usize,
    pub keep: std::ops::Range<i64>,
}

pub struct HistogramSegment {
    from_nanos: i64,
    step_nanos: i64,
    keep: std::ops::Range<i64>,
    ts: Option<Column<i64>>,
    level: Option<Column<u64>>,
    counts: Vec<[u64; LEVEL_SLOTS]>,
    /// Reused per block of documents: the columns are read a block at a
    /// time, which decodes their bit-packed values far faster than one
    /// document at a time.
    ts_block: Vec<Option<i64>>,
    level_block: Vec<Option<u64>>,
}

impl HistogramSegment {
    fn count(&mut self, ts: i64, level: Option<u64>) {
        if !self.keep.contains(&ts) {
            return;
        }
        let Ok(bucket) = usize::try_from((ts - self.from_nanos) / self.step_nanos) else {
            return;
        };
        let level = level
            .and_then(|code| usize::try_from(code).ok())
            .filter(|&code| code < NO_LEVEL)
            .unwrap_or(NO_LEVEL);
        if let Some(slot) = self.counts.get_mut(bucket) {
            slot[level] += 1;
        }
    }
}

impl Collector for Histogram {
    type Fruit = Vec<[u64; LEVEL_SLOTS]>;
    type Child = HistogramSegment;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<HistogramSegment> {
        let fast = reader.fast_fields();
        Ok(HistogramSegment {
            from_nanos: self.from_nanos,
            step_nanos: self.step_nanos,
            keep: self.keep.clone(),
            ts: fast.i64("ts").ok(),
            level: fast.u64("level").ok(),
            counts: vec![[0; LEVEL_SLOTS]; self.buckets],
            ts_block: Vec::new(),
            level_block: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        let mut total = vec![[0; LEVEL_SLOTS]; self.buckets];
        for fruit in &fruits {
            add_counts(&mut total, fruit);
        }
        Ok(total)
    }
}

impl SegmentCollector for HistogramSegment {
    type Fruit = Vec<[u64; LEVEL_SLOTS]>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(ts) = self.ts.as_ref().and_then(|column| column.first(doc)) else {
            return;
        };
        let level = self.level.as_ref().and_then(|column| column.first(doc));
        self.count(ts, level);
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        let Some(ts_column) = &self.ts else {
            return;
        };
        // `first_vals` leaves a missing value's slot untouched.
        self.ts_block.clear();
        self.ts_block.resize(docs.len(), None);
        self.level_block.clear();
        self.level_block.resize(docs.len(), None);
        ts_column.first_vals(docs, &mut self.ts_block);
        if let Some(level_column) = &self.level {
            level_column.first_vals(docs, &mut self.level_block);
        }
        for index in 0..docs.len() {
            if let Some(ts) = self.ts_block[index] {
                self.count(ts, self.level_block[index]);
            }
        }
    }

    fn harvest(self) -> Self::Fruit {
        self.counts
    }
}

/// Adds `counts` into `total`, bucket by bucket.
pub fn add_counts(total: &mut [[u64; LEVEL_SLOTS]], counts: &[[u64; LEVEL_SLOTS]]) {
    for (sum, add) in total.iter_mut().zip(counts) {
        for (a, b) in sum.iter_mut().zip(add) {
            *a += b;
        }
    }
}

/// The name of a level slot.
pub fn level_slot_name(slot: usize) -> &'static str {
    LEVELS.get(slot).map_or("none", |level| level.as_str())
}

/// Which fast column [`TopValues`] counts.
#[derive(Debug, Clone, Copy)]
pub enum TopColumn {
    Text(&'static str),
    Level,
}

/// Counts per value of one fast column.
pub struct TopValues {
    pub column: TopColumn,
}

pub enum TopValuesSegment {
    Text {
        column: Option<StrColumn>,
        counts: HashMap<u64, u64>,
    },
    Level {
        column: Option<Column<u64>>,
        counts: [u64; LEVEL_SLOTS],
    },
}

impl Collector for TopValues {
    type Fruit = HashMap<String, u64>;
    type Child = TopValuesSegment;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<TopValuesSegment> {
        let fast = reader.fast_fields();
        Ok(match self.column {
            TopColumn::Text(name) => TopValuesSegment::Text {
                column: fast.str(name)?,
                counts: HashMap::new(),
            },
            TopColumn::Level => TopValuesSegment::Level {
                column: fast.u64("level").ok(),
                counts: [0; LEVEL_SLOTS],
            },
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        let mut total = HashMap::new();
        for fruit in fruits {
            for (value, count) in fruit {
                *total.entry(value).or_insert(0) += count;
            }
        }
        Ok(total)
    }
}

impl SegmentCollector for TopValuesSegment {
    type Fruit = HashMap<String, u64>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        match self {
            TopValuesSegment::Text { column, counts } => {
                if let Some(ord) = column
                    .as_ref()
                    .and_then(|column| column.term_ords(doc).next())
                {
                    *counts.entry(ord).or_insert(0) += 1;
                }
            }
            TopValuesSegment::Level { column, counts } => {
                let slot = column
                    .as_ref()
                    .and_then(|column| column.first(doc))
                    .and_then(|code| usize::try_from(code).ok())
                    .filter(|&code| code < NO_LEVEL)
                    .unwrap_or(NO_LEVEL);
                counts[slot] += 1;
            }
        }
    }

    fn harvest(self) -> Self::Fruit {
        match self {
            TopValuesSegment::Text { column, counts } => {
                let mut named = HashMap::with_capacity(counts.len());
                let Some(column) = column else {
                    return named;
                };
                let mut text = String::new();
                for (ord, count) in counts {
                    text.clear();
                    if column.ord_to_str(ord, &mut text).unwrap_or(false) {
                        named.insert(text.clone(), count);
                    }
                }
                named
            }
            TopValuesSegment::Level { counts, .. } => counts
                .iter()
                .enumerate()
                .filter(|(_, &count)| count > 0)
                .map(|(slot, &count)| (level_slot_name(slot).to_owned(), count))
                .collect(),
        }
    }
}

/// Values by count, most frequent first, ties by value.
pub fn ranked(counts: HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut ranked: Vec<(String, u64)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked
}
