//! A word as a whole structured value under any path: what lets a bare
//! id find `"request_id":"86c2…"` although ids are indexed only under
//! their path ([`crate::logs::schema`]).
//!
//! Which paths exist is a property of a segment's term dictionary, so the
//! query is specialized per segment: the paths are listed by skipping
//! through the dictionary one path at a time (a seek each, not a scan of
//! the path's values), then the word is looked up under each of them.
//! Segments never change, so a segment's list is kept for the next query.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tantivy::index::SegmentId;
use tantivy::query::{
    BooleanQuery, EmptyScorer, EnableScoring, Explanation, Occur, Query, Scorer, TermQuery, Weight,
};
use tantivy::schema::{Field, IndexRecordOption, Type};
use tantivy::termdict::TermDictionary;
use tantivy::{DocId, Score, SegmentReader, Term};

use super::translate::prefix_range;

/// Ends a path in a JSON term, before the value's type byte.
const END_OF_PATH: u8 = 0;
/// Paths kept in the cache over all segments (merged-away segments stay
/// until it is full); past it the cache starts over, which is cheap: it
/// refills at one seek per path.
const CACHED_PATHS: usize = 200_000;
/// Paths listed per segment at most: a field name per unique id (a sender
/// logging `{"<uuid>": …}`) would otherwise make every bare term look
/// under millions of paths. Values under paths past the cap are still
/// found by `path:value`.
const MAX_PATHS: usize = 10_000;

/// `word` (lowercased, as indexed) whole under any path of the JSON
/// `field`, or as a prefix of the value when `prefix`.
#[derive(Debug, Clone)]
pub struct AnyPathQuery {
    field: Field,
    word: String,
    prefix: bool,
}

impl AnyPathQuery {
    pub fn new(field: Field, word: &str, prefix: bool) -> AnyPathQuery {
        AnyPathQuery {
            field,
            word: word.to_owned(),
            prefix,
        }
    }
}

impl Query for AnyPathQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(AnyPathWeight(self.clone())))
    }
}

struct AnyPathWeight(AnyPathQuery);

impl AnyPathWeight {
    /// The query as it stands in one segment: the word under each path.
    fn in_segment(&self, reader: &SegmentReader) -> tantivy::Result<Option<Box<dyn Weight>>> {
        let AnyPathQuery {
            field,
            word,
            prefix,
        } = &self.0;
        let paths = segment_paths(reader, *field)?;
        if paths.is_empty() {
            return Ok(None);
        }
        let clauses: Vec<(Occur, Box<dyn Query>)> = paths
            .iter()
            .map(|path| {
                // A JSON term of this field whose path bytes are replaced
                // by the listed ones (already in the index's encoding).
                let mut term = Term::from_field_json_path(*field, "p", true);
                term.truncate_value_bytes(0);
                term.append_bytes(path);
                term.append_type_and_str(word);
                let query: Box<dyn Query> = if *prefix {
                    prefix_range(term)
                } else {
                    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
                };
                (Occur::Should, query)
            })
            .collect();
        BooleanQuery::new(clauses)
            .weight(EnableScoring::disabled_from_schema(reader.schema()))
            .map(Some)
    }
}

impl Weight for AnyPathWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        match self.in_segment(reader)? {
            Some(weight) => weight.scorer(reader, boost),
            None => Ok(Box::new(EmptyScorer)),
        }
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        match self.in_segment(reader)? {
            Some(weight) => weight.explain(reader, doc),
            None => Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            ))),
        }
    }
}

/// A segment's paths, each with its end byte.
type Paths = Arc<Vec<Vec<u8>>>;

#[derive(Default)]
struct PathMap {
    by_segment: HashMap<(SegmentId, Field), Paths>,
    /// Paths over all entries, against [`CACHED_PATHS`].
    paths: usize,
}

impl PathMap {
    fn remember(&mut self, key: (SegmentId, Field), paths: Paths) {
        // Counted as at least one so that empty lists are bounded too.
        let cost = paths.len().max(1);
        if self.paths + cost > CACHED_PATHS {
            *self = PathMap::default();
        }
        if self.by_segment.insert(key, paths).is_none() {
            self.paths += cost;
        }
    }
}

type PathCache = Mutex<PathMap>;

/// The paths of `field` in a segment, each with its end byte.
fn segment_paths(reader: &SegmentReader, field: Field) -> tantivy::Result<Paths> {
    static CACHE: OnceLock<PathCache> = OnceLock::new();
    let cache = CACHE.get_or_init(PathCache::default);
    let key = (reader.segment_id(), field);
    if let Some(paths) = lock(cache).by_segment.get(&key) {
        return Ok(Arc::clone(paths));
    }
    let paths = Arc::new(list_paths(reader, field)?);
    lock(cache).remember(key, Arc::clone(&paths));
    Ok(paths)
}

/// A poisoned cache only means a panic elsewhere mid-insert of a
/// complete entry: its contents are still right.
fn lock(cache: &PathCache) -> std::sync::MutexGuard<'_, PathMap> {
    cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether some term starts with `prefix`.
fn holds_prefix(terms: &TermDictionary, prefix: &[u8]) -> std::io::Result<bool> {
    let mut stream = terms.range().ge(prefix).limit(1).into_stream()?;
    Ok(stream.advance() && stream.key().starts_with(prefix))
}

/// Every distinct path with text values in the term dictionary, in order: read the first
/// term at or after `from`, keep its path, then jump past every term of
/// that path (`path \0 <type> value` < `path \0 0xFF`).
fn list_paths(reader: &SegmentReader, field: Field) -> tantivy::Result<Vec<Vec<u8>>> {
    let inverted = reader.inverted_index(field)?;
    let terms = inverted.terms();
    let mut paths = Vec::new();
    let mut from: Vec<u8> = Vec::new();
    while paths.len() < MAX_PATHS {
        let mut stream = terms.range().ge(&from).limit(1).into_stream()?;
        if !stream.advance() {
            break;
        }
        let key = stream.key();
        match key.iter().position(|&byte| byte == END_OF_PATH) {
            Some(end) => {
                let mut path = key[..=end].to_vec();
                from.clear();
                from.extend_from_slice(&path);
                from.push(0xFF);
                // A path whose values are all numbers or booleans cannot
                // hold the word: leaving it out saves a lookup per query.
                path.push(Type::Str.to_code());
                if holds_prefix(terms, &path)? {
                    path.pop();
                    paths.push(path);
                }
            }
            // Not a JSON term: step just past it.
            None => {
                from.clear();
                from.extend_from_slice(key);
                from.push(0);
            }
        }
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tantivy::index::SegmentId;
    use tantivy::schema::Field;

    use super::{PathMap, CACHED_PATHS};

    #[test]
    fn the_cache_holds_at_most_its_count_of_paths() {
        let mut cache = PathMap::default();
        let list = Arc::new(vec![b"user\0".to_vec(); 1000]);
        for _ in 0..(CACHED_PATHS / 1000) * 3 {
            cache.remember(
                (SegmentId::generate_random(), Field::from_field_id(0)),
                Arc::clone(&list),
            );
            let held: usize = cache.by_segment.values().map(|paths| paths.len()).sum();
            assert_eq!(held, cache.paths);
            assert!(held <= CACHED_PATHS);
        }
        assert!(!cache.by_segment.is_empty());
        // Empty lists count as one: a flood of them is bounded as well.
        for _ in 0..CACHED_PATHS + 1 {
            cache.remember(
                (SegmentId::generate_random(), Field::from_field_id(0)),
                Arc::new(Vec::new()),
            );
        }
        assert!(cache.by_segment.len() <= CACHED_PATHS);
    }
}
