//! Running queries over the partitions: newest-first pages with a cursor,
//! the histogram, top values and the context of a line.
//!
//! Every function here blocks (index reads): callers run them on
//! `spawn_blocking`. Partitions are UTC days and never overlap, so a page
//! is filled from the newest partition in range backwards and stops as
//! soon as it is full.
//!
//! # Layout
//! - [`translate`]: query language into tantivy queries
//! - [`any_path`]: a word as a whole field value under any path
//! - [`matcher`]: the same language over a record in memory (live tail)
//! - [`collect`]: the histogram and top-values collectors

pub mod any_path;
pub mod collect;
pub mod matcher;
pub mod translate;

use std::cmp::Reverse;
use std::ops::Bound;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, Searcher, SegmentReader, TantivyDocument, Term};

use super::lang;
use super::partition::PartitionReader;
use super::record::{normalize, LogRecord};
use super::{LogError, LogStore};

pub use translate::TranslateError;

/// Where a page ends: the last line's time and sequence number. The next
/// page starts strictly after it in newest-first order, so lines sharing a
/// timestamp are neither repeated nor skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub ts: i64,
    pub seq: u64,
}

impl Cursor {
    pub fn encode(self) -> String {
        format!("{}_{}", self.ts, self.seq)
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        let (ts, seq) = text.split_once('_')?;
        Some(Cursor {
            ts: ts.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

/// A query over a time range, `[from, until)` in Unix nanoseconds.
#[derive(Debug, Clone)]
pub struct Scope {
    pub query: lang::Query,
    pub from_nanos: i64,
    pub until_nanos: i64,
}

/// One matching line.
#[derive(Debug, Clone)]
pub struct Hit {
    pub seq: u64,
    pub record: LogRecord,
}

/// Lines before, the line, lines after: what [`LogStore::context`] finds.
pub type Around = (Vec<Hit>, Hit, Vec<Hit>);

/// Values with their counts, most frequent first; lines counted; whether
/// only a sample of lines was counted.
pub type TopValues = (Vec<(String, u64)>, u64, bool);

/// Sort key of a line: newest first is largest first.
type Key = (i64, u64);

fn search_error(error: impl std::fmt::Display) -> LogError {
    LogError::Search(error.to_string())
}

impl LogStore {
    /// Partitions overlapping `[from, until)`, newest first.
    fn partitions_in(&self, from_nanos: i64, until_nanos: i64) -> Vec<PartitionReader> {
        let map = self.shared.partitions();
        map.values()
            .rev()
            .filter(|partition| {
                let (start, end) = partition.span();
                start < until_nanos && from_nanos < end
            })
            .cloned()
            .collect()
    }

    /// The scope's query alone, without its time range.
    fn unscoped(&self, scope: &Scope) -> Result<Box<dyn Query>, LogError> {
        translate::translate(&self.shared.schema, &scope.query)
            .map_err(|error| LogError::Search(error.0))
    }

    /// The scope's query, time range and extra clauses as one query.
    fn scoped(
        &self,
        scope: &Scope,
        extra: Vec<Box<dyn Query>>,
    ) -> Result<Box<dyn Query>, LogError> {
        let schema = &self.shared.schema;
        let query = self.unscoped(scope)?;
        let ts = |nanos: i64| Term::from_field_i64(schema.ts, nanos);
        let range = RangeQuery::new(
            Bound::Included(ts(scope.from_nanos)),
            Bound::Excluded(ts(scope.until_nanos)),
        );
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Must, query), (Occur::Must, Box::new(range))];
        clauses.extend(extra.into_iter().map(|query| (Occur::Must, query)));
        Ok(Box::new(BooleanQuery::new(clauses)))
    }

    /// Lines before (`older`) or after a position in newest-first order.
    fn past(&self, cursor: Cursor, older: bool) -> Box<dyn Query> {
        let schema = &self.shared.schema;
        let ts = |nanos: i64| Term::from_field_i64(schema.ts, nanos);
        let seq = |value: u64| Term::from_field_u64(schema.seq, value);
        let (other_times, same_time_seqs) = if older {
            (
                RangeQuery::new(Bound::Unbounded, Bound::Excluded(ts(cursor.ts))),
                RangeQuery::new(Bound::Unbounded, Bound::Excluded(seq(cursor.seq))),
            )
        } else {
            (
                RangeQuery::new(Bound::Excluded(ts(cursor.ts)), Bound::Unbounded),
                RangeQuery::new(Bound::Excluded(seq(cursor.seq)), Bound::Unbounded),
            )
        };
        let same_time = BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Included(ts(cursor.ts)),
                    Bound::Included(ts(cursor.ts)),
                )),
            ),
            (Occur::Must, Box::new(same_time_seqs)),
        ]);
        Box::new(BooleanQuery::new(vec![
            (Occur::Should, Box::new(other_times)),
            (Occur::Should, Box::new(same_time)),
        ]))
    }

    /// A page of matching lines, newest first, and the cursor of the next.
    pub fn search(
        &self,
        scope: &Scope,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<Hit>, Option<Cursor>), LogError> {
        let until = match cursor {
            Some(cursor) => scope.until_nanos.min(cursor.ts.saturating_add(1)),
            None => scope.until_nanos,
        };
        let extra = cursor
            .map(|cursor| self.past(cursor, true))
            .into_iter()
            .collect();
        let query = self.scoped(scope, extra)?;
        let partitions = self.partitions_in(scope.from_nanos, until);
        // One more than asked says whether there is a next page.
        let hits = self.top(&partitions, query.as_ref(), limit + 1, true)?;
        let more = hits.len() > limit;
        let hits: Vec<Hit> = hits.into_iter().take(limit).collect();
        let next = if more {
            hits.last().map(|hit| Cursor {
                ts: hit.record.timestamp_nanos,
                seq: hit.seq,
            })
        } else {
            None
        };
        Ok((hits, next))
    }

    /// The first `limit` matches in time order, newest first when
    /// `newest`, walking `partitions` (given in that order).
    fn top(
        &self,
        partitions: &[PartitionReader],
        query: &dyn Query,
        limit: usize,
        newest: bool,
    ) -> Result<Vec<Hit>, LogError> {
        let mut hits = Vec::new();
        for partition in partitions {
            if hits.len() >= limit {
                break;
            }
            let searcher = partition.searcher();
            let wanted = limit - hits.len();
            let found: Vec<(Key, DocAddress)> = if newest {
                searcher
                    .search(query, &TopDocs::with_limit(wanted).order_by(sort_key))
                    .map_err(search_error)?
            } else {
                let oldest_first = |segment: &SegmentReader| {
                    let mut key = sort_key(segment);
                    move |doc| Reverse(key(doc))
                };
                searcher
                    .search(query, &TopDocs::with_limit(wanted).order_by(oldest_first))
                    .map_err(search_error)?
                    .into_iter()
                    .map(|(Reverse(key), address)| (key, address))
                    .collect()
            };
            for ((_, seq), address) in found {
                hits.push(self.load(&searcher, seq, address)?);
            }
        }
        Ok(hits)
    }

    /// Reads a stored line back.
    fn load(&self, searcher: &Searcher, seq: u64, address: DocAddress) -> Result<Hit, LogError> {
        let schema = &self.shared.schema;
        let document: TantivyDocument = searcher.doc(address).map_err(search_error)?;
        let raw = schema
            .stored_raw(&document)
            .ok_or_else(|| LogError::Search("a stored log line does not decode".into()))?;
        Ok(Hit {
            seq,
            record: normalize(&raw, &self.config.normalize),
        })
    }

    /// The line with id `seq`, its partition's searcher and the line.
    fn find(&self, seq: u64) -> Result<Option<Hit>, LogError> {
        // `seq` is a fast column only; a segment whose range of sequence
        // numbers misses `seq` is skipped on its column's bounds.
        let term = Term::from_field_u64(self.shared.schema.seq, seq);
        let query = RangeQuery::new(Bound::Included(term.clone()), Bound::Included(term));
        let partitions: Vec<PartitionReader> =
            self.shared.partitions().values().rev().cloned().collect();
        Ok(self.top(&partitions, &query, 1, true)?.pop())
    }

    /// Up to `before` lines before and `after` lines after line `seq`
    /// from the same service and host, each oldest first.
    pub fn context(
        &self,
        seq: u64,
        before: usize,
        after: usize,
    ) -> Result<Option<Around>, LogError> {
        let Some(line) = self.find(seq)? else {
            return Ok(None);
        };
        let position = Cursor {
            ts: line.record.timestamp_nanos,
            seq,
        };
        let schema = &self.shared.schema;
        let mut same_source: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, value) in [
            (schema.service, &line.record.service),
            (schema.host, &line.record.host),
        ] {
            let clause: Box<dyn Query> = match value {
                Some(value) => Box::new(TermQuery::new(
                    Term::from_field_text(field, value),
                    IndexRecordOption::Basic,
                )),
                None => Box::new(BooleanQuery::new(vec![
                    (Occur::Must, Box::new(tantivy::query::AllQuery)),
                    (
                        Occur::MustNot,
                        translate::translate(
                            schema,
                            &lang::Query::Field {
                                name: if field == schema.service {
                                    "service"
                                } else {
                                    "host"
                                }
                                .to_owned(),
                                filter: lang::FieldFilter::Exists,
                            },
                        )
                        .map_err(|error| LogError::Search(error.0))?,
                    ),
                ])),
            };
            same_source.push((Occur::Must, clause));
        }
        let query_around = |older: bool| -> Box<dyn Query> {
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = same_source
                .iter()
                .map(|(occur, query)| (*occur, query.box_clone()))
                .collect();
            clauses.push((Occur::Must, self.past(position, older)));
            Box::new(BooleanQuery::new(clauses))
        };
        let all: Vec<PartitionReader> = self.shared.partitions().values().cloned().collect();
        let line_day = super::day::day_of(position.ts);
        let newer_first: Vec<PartitionReader> = all
            .iter()
            .rev()
            .filter(|partition| partition.day <= line_day)
            .cloned()
            .collect();
        let older_first: Vec<PartitionReader> = all
            .into_iter()
            .filter(|partition| partition.day >= line_day)
            .collect();
        let mut earlier = self.top(&newer_first, query_around(true).as_ref(), before, true)?;
        earlier.reverse();
        let later = self.top(&older_first, query_around(false).as_ref(), after, false)?;
        Ok(Some((earlier, line, later)))
    }

    /// Matching lines per bucket of `step_nanos`, each split by level code
    /// (index 6: no level). Buckets start on a multiple of the step (as
    /// charts expect) at or before `scope.from_nanos`; the first one counts
    /// only lines from `scope.from_nanos` on. Returns the first bucket's
    /// start and the counts.
    pub fn histogram(
        &self,
        scope: &Scope,
        step_nanos: i64,
    ) -> Result<(i64, Vec<[u64; collect::LEVEL_SLOTS]>), LogError> {
        let step_nanos = step_nanos.max(1);
        let start = scope.from_nanos - scope.from_nanos.rem_euclid(step_nanos);
        let buckets =
            usize::try_from((scope.until_nanos - start + step_nanos - 1) / step_nanos).unwrap_or(0);
        let collector = collect::Histogram {
            from_nanos: start,
            step_nanos,
            buckets,
            keep: scope.from_nanos..scope.until_nanos,
        };
        // The collector keeps only lines inside the scope, so a partition
        // the scope covers whole is read without the time range: the
        // range would only re-read the time column to match everything.
        let ranged = self.scoped(scope, Vec::new())?;
        let unranged = self.unscoped(scope)?;
        let mut total = vec![[0u64; collect::LEVEL_SLOTS]; buckets];
        for partition in self.partitions_in(scope.from_nanos, scope.until_nanos) {
            let (start, end) = partition.span();
            let whole = scope.from_nanos <= start && end <= scope.until_nanos;
            let query = if whole { &unranged } else { &ranged };
            let counts = partition
                .searcher()
                .search(query.as_ref(), &collector)
                .map_err(search_error)?;
            collect::add_counts(&mut total, &counts);
        }
        Ok((start, total))
    }

    /// Counts of each value of `field` among matching lines, most frequent
    /// first, and how many lines were counted. `service`, `host` and
    /// `level` count every matching line; other fields the newest
    /// `sample` lines.
    pub fn top_values(
        &self,
        scope: &Scope,
        field: &str,
        sample: usize,
    ) -> Result<TopValues, LogError> {
        let query = self.scoped(scope, Vec::new())?;
        let partitions = self.partitions_in(scope.from_nanos, scope.until_nanos);
        let column = match translate::builtin(field) {
            Some(translate::Builtin::Service) => Some(collect::TopColumn::Text("service")),
            Some(translate::Builtin::Host) => Some(collect::TopColumn::Text("host")),
            Some(translate::Builtin::Level) => Some(collect::TopColumn::Level),
            _ => None,
        };
        if let Some(column) = column {
            let collector = collect::TopValues { column };
            let mut counts = std::collections::HashMap::new();
            for partition in &partitions {
                let found = partition
                    .searcher()
                    .search(query.as_ref(), &collector)
                    .map_err(search_error)?;
                for (value, count) in found {
                    *counts.entry(value).or_insert(0) += count;
                }
            }
            let counted = counts.values().sum();
            return Ok((collect::ranked(counts), counted, false));
        }
        let hits = self.top(&partitions, query.as_ref(), sample, true)?;
        let counted = hits.len() as u64;
        let mut counts = std::collections::HashMap::new();
        for hit in &hits {
            if let Some(value) = matcher::field_text(&hit.record, field) {
                *counts.entry(value).or_insert(0u64) += 1;
            }
        }
        Ok((collect::ranked(counts), counted, counted as usize >= sample))
    }
}

/// `(ts, seq)` of each document of a segment.
fn sort_key(segment: &SegmentReader) -> impl FnMut(tantivy::DocId) -> Key {
    let fast = segment.fast_fields();
    let ts = fast.i64("ts").ok();
    let seq = fast.u64("seq").ok();
    move |doc| {
        (
            ts.as_ref()
                .and_then(|column| column.first(doc))
                .unwrap_or(i64::MIN),
            seq.as_ref()
                .and_then(|column| column.first(doc))
                .unwrap_or(0),
        )
    }
}
