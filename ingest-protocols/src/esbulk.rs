//! The body of Elasticsearch's `_bulk` API, the way Vector, Fluent Bit,
//! Filebeat, Logstash and other Elasticsearch outputs ship logs, into
//! [`BulkItem`]s in request order.
//!
//! ```text
//! {"index":{"_index":"logs-2026.11.22","_id":"7"}}         <- action and metadata
//! {"@timestamp":"2026-11-22T11:18:20Z","message":"GET /"}  <- source: the document
//! {"create":{}}                                            <- no _index: the URL's applies
//! {"message":"sent to /<index>/_bulk"}
//! {"update":{"_id":"7"}}
//! {"doc":{"status":"done"},"doc_as_upsert":true}           <- source: the `doc` object
//! {"delete":{"_id":"8"}}                                   <- no source line
//! ```
//!
//! The body is NDJSON: `\n` ends lines, `\r\n` too, the last may lack it,
//! and blank lines carry nothing and are skipped. Each item is an action
//! line (one object holding one action, whose value is its metadata) and,
//! except for `delete`, the line after it. Only `_index` and `_id` are read
//! from the metadata; the rest (`_type`, `routing`, `pipeline`...) steers
//! Elasticsearch features a log store does not have.
//!
//! Leniency: Elasticsearch refuses the whole request over one malformed
//! action line; here it costs only its own item, which carries the reason
//! so the caller can answer per item. After an action line that names no
//! known action, whether a source line follows cannot be known: the next
//! line is taken as its source (and dropped with it) unless that line
//! reads as an action line itself. Sources are handed on unchecked: the
//! caller gives them to [`crate::jsonlog::parse_line`], which keeps even a
//! line that is not JSON.
//!
//! Spec: <https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-bulk>.

use std::iter::FusedIterator;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::ParseError;

/// What an item asks the store to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BulkAction {
    /// Add the document, replacing one with the same `_id`.
    Index,
    /// Add the document, failing if the `_id` exists; what data streams
    /// (Filebeat, Elastic Agent) and Vector's `mode = "data_stream"` use.
    Create,
    /// Merge a partial document into a stored one.
    Update,
    /// Remove a stored document.
    Delete,
}

impl BulkAction {
    /// The name on the wire, which is also the key of the item in the
    /// response (`{"items":[{"create":{"status":201,...}}]}`).
    pub fn as_str(self) -> &'static str {
        match self {
            BulkAction::Index => "index",
            BulkAction::Create => "create",
            BulkAction::Update => "update",
            BulkAction::Delete => "delete",
        }
    }

    /// Whether a source line follows the action line: every action but
    /// `delete`.
    pub fn has_source(self) -> bool {
        self != BulkAction::Delete
    }

    fn from_name(name: &str) -> Option<BulkAction> {
        match name {
            "index" => Some(BulkAction::Index),
            "create" => Some(BulkAction::Create),
            "update" => Some(BulkAction::Update),
            "delete" => Some(BulkAction::Delete),
            _ => None,
        }
    }
}

/// One item of a bulk request, borrowing its source from the body.
///
/// Invariant: `error` and `source` are never both set. Without an error,
/// `source` is set exactly when [`BulkAction::has_source`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkItem<'a> {
    /// The action, or [`BulkAction::Index`] when the action line named
    /// none this parser knows: the key the response reports the error
    /// under.
    pub action: BulkAction,
    /// `_index` from the metadata; `None` when absent or `null`, and the
    /// index in the URL (`POST /<index>/_bulk`) applies.
    pub index: Option<String>,
    /// `_id` from the metadata (a number is kept as its digits); `None`
    /// when absent or `null` (Logstash sends `"_id":null`), and the caller
    /// makes one up, as Elasticsearch does.
    pub id: Option<String>,
    /// The source line without its line end; for `update`, the `doc`
    /// object inside it, as sent. Never holds a `\n`.
    pub source: Option<&'a [u8]>,
    /// The 1-based line number of the action line, for error messages in
    /// Elasticsearch's style (`malformed action/metadata line [3]`).
    pub line: usize,
    /// Why the item cannot be stored; the other items are unaffected.
    pub error: Option<ParseError>,
}

/// Reads a bulk body lazily, so a caller can stop at its own item limit.
/// Items come in request order, as the response must list them.
pub fn parse_bulk(body: &[u8]) -> BulkItems<'_> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    BulkItems {
        lines: Lines {
            rest: body,
            number: 0,
        },
    }
}

/// The items of one bulk body; see [`parse_bulk`].
#[derive(Debug, Clone)]
pub struct BulkItems<'a> {
    lines: Lines<'a>,
}

impl<'a> Iterator for BulkItems<'a> {
    type Item = BulkItem<'a>;

    fn next(&mut self) -> Option<BulkItem<'a>> {
        let (line, text) = self.lines.next_non_blank()?;
        let (action, meta) = match read_action(text) {
            ActionLine::Known { action, meta } => (action, meta),
            ActionLine::Unreadable(error) => {
                self.skip_orphan_source();
                return Some(BulkItem {
                    action: BulkAction::Index,
                    index: None,
                    id: None,
                    source: None,
                    line,
                    error: Some(error),
                });
            }
        };
        let (index, id, mut error) = match meta {
            Ok(meta) => (meta.index, meta.id, None),
            Err(error) => (None, None, Some(error)),
        };
        let mut source = None;
        if action.has_source() {
            // Taken even after bad metadata: the line belongs to this item,
            // and reading it as an action would misalign the rest.
            match self.lines.next_non_blank() {
                None => error = error.or(Some(ParseError::MissingBulkSource)),
                Some(_) if error.is_some() => {}
                Some((_, text)) if action == BulkAction::Update => match update_doc(text) {
                    Ok(doc) => source = Some(doc),
                    Err(update_error) => error = Some(update_error),
                },
                Some((_, text)) => source = Some(text),
            }
        }
        Some(BulkItem {
            action,
            index,
            id,
            source,
            line,
            error,
        })
    }
}

impl FusedIterator for BulkItems<'_> {}

impl BulkItems<'_> {
    /// After an action line naming no known action, drops the next line
    /// unless it reads as an action line: then it starts the next item.
    fn skip_orphan_source(&mut self) {
        let mut ahead = self.lines;
        if let Some((_, next)) = ahead.next_non_blank() {
            if matches!(read_action(next), ActionLine::Unreadable(_)) {
                self.lines = ahead;
            }
        }
    }
}

/// The body's lines, numbered from 1.
#[derive(Debug, Clone, Copy)]
struct Lines<'a> {
    rest: &'a [u8],
    /// How many lines were taken so far.
    number: usize,
}

impl<'a> Lines<'a> {
    /// The next line holding more than whitespace, with its number, without
    /// its `\n` or `\r\n`.
    fn next_non_blank(&mut self) -> Option<(usize, &'a [u8])> {
        while !self.rest.is_empty() {
            let (line, rest) = match self.rest.iter().position(|&byte| byte == b'\n') {
                Some(end) => (
                    self.rest.get(..end).unwrap_or_default(),
                    self.rest.get(end + 1..).unwrap_or_default(),
                ),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            self.number += 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !line.iter().all(u8::is_ascii_whitespace) {
                return Some((self.number, line));
            }
        }
        None
    }
}

/// What an action line says.
enum ActionLine {
    /// One of the four actions, with its metadata or why that is unusable.
    Known {
        action: BulkAction,
        meta: Result<Meta, ParseError>,
    },
    /// Not an action line at all, or one naming an unknown action.
    Unreadable(ParseError),
}

struct Meta {
    index: Option<String>,
    id: Option<String>,
}

fn read_action(line: &[u8]) -> ActionLine {
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(line) else {
        return ActionLine::Unreadable(ParseError::BadBulkAction);
    };
    let mut members = object.into_iter();
    let (Some((name, meta)), None) = (members.next(), members.next()) else {
        return ActionLine::Unreadable(ParseError::BadBulkAction);
    };
    match BulkAction::from_name(&name) {
        Some(action) => ActionLine::Known {
            action,
            meta: read_meta(meta),
        },
        None => ActionLine::Unreadable(ParseError::UnknownBulkAction),
    }
}

fn read_meta(meta: Value) -> Result<Meta, ParseError> {
    let Value::Object(mut meta) = meta else {
        return Err(ParseError::BadBulkAction);
    };
    let index = match meta.remove("_index") {
        None | Some(Value::Null) => None,
        Some(Value::String(index)) if !index.is_empty() => Some(index),
        Some(_) => return Err(ParseError::BadBulkAction),
    };
    let id = match meta.remove("_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if !id.is_empty() => Some(id),
        // Some clients send numeric ids; Elasticsearch takes their text.
        Some(Value::Number(id)) if !id.is_f64() => Some(id.to_string()),
        Some(_) => return Err(ParseError::BadBulkAction),
    };
    Ok(Meta { index, id })
}

/// The line after an `update` action. Other members (`doc_as_upsert`,
/// `detect_noop`) only matter to a store that updates in place.
#[derive(Deserialize)]
struct UpdateLine<'a> {
    #[serde(borrow, default)]
    doc: Option<&'a RawValue>,
}

/// The `doc` object of an update line, borrowed as sent.
fn update_doc(line: &[u8]) -> Result<&[u8], ParseError> {
    let update: UpdateLine<'_> =
        serde_json::from_slice(line).map_err(|_| ParseError::BadBulkUpdate)?;
    let doc = update.doc.ok_or(ParseError::BadBulkUpdate)?.get();
    if !doc.starts_with('{') {
        return Err(ParseError::BadBulkUpdate);
    }
    Ok(doc.as_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// Each item as `action index id source line error`, for compact
    /// comparisons.
    fn check(body: &[u8], expected: &[&str]) {
        let seen: Vec<String> = parse_bulk(body)
            .map(|item| {
                format!(
                    "{} {} {} {} {} {}",
                    item.action.as_str(),
                    item.index.as_deref().unwrap_or("-"),
                    item.id.as_deref().unwrap_or("-"),
                    item.source
                        .map_or("-".to_owned(), |source| String::from_utf8_lossy(source)
                            .into_owned()),
                    item.line,
                    item.error.map_or("ok", |error| error.reason()),
                )
            })
            .collect();
        assert_eq!(seen, expected, "{}", body.escape_ascii());
    }

    #[test]
    fn one_item_per_action() {
        check(
            b"{\"index\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"m\":1}\n\
             {\"create\":{}}\n{\"m\":2}\n\
             {\"update\":{\"_id\":\"1\"}}\n{\"doc\":{\"m\":3},\"doc_as_upsert\":true}\n\
             {\"delete\":{\"_id\":\"2\"}}\n",
            &[
                r#"index a 1 {"m":1} 1 ok"#,
                r#"create - - {"m":2} 3 ok"#,
                r#"update - 1 {"m":3} 5 ok"#,
                "delete - 2 - 7 ok",
            ],
        );
    }

    #[test]
    fn blank_lines_crlf_and_no_final_newline() {
        check(
            b"\r\n{\"index\":{}}\r\n\r\n  \n{\"m\":1}\r\n\n{\"create\":{}}\n{\"m\":2}",
            &[r#"index - - {"m":1} 2 ok"#, r#"create - - {"m":2} 7 ok"#],
        );
        check(b"", &[]);
        check(b"\n\r\n \n", &[]);
    }

    #[test]
    fn metadata_beyond_index_and_id_is_ignored() {
        check(
            b"{\"index\":{\"_index\":\"logs\",\"_type\":\"_doc\",\"routing\":null,\"pipeline\":\"p\"}}\n{}\n\
             {\"index\":{\"_id\":null,\"_index\":null}}\n{}\n\
             {\"index\":{\"_id\":42}}\n{}\n",
            &["index logs - {} 1 ok", "index - - {} 3 ok", "index - 42 {} 5 ok"],
        );
    }

    #[test]
    fn bad_metadata_costs_its_item_and_its_source_line() {
        check(
            b"{\"index\":{\"_id\":[1]}}\n{\"index\":{}}\n{\"create\":\"x\"}\n{}\n\
             {\"index\":{\"_index\":\"\"}}\n{}\n{\"delete\":{\"_id\":1.5}}\n{\"create\":{}}\n{}\n",
            &[
                "index - - - 1 bad_bulk_action",
                "create - - - 3 bad_bulk_action",
                "index - - - 5 bad_bulk_action",
                "delete - - - 7 bad_bulk_action",
                "create - - {} 8 ok",
            ],
        );
    }

    #[test]
    fn unknown_actions_take_their_source_unless_it_is_an_action() {
        check(
            b"{\"upsert\":{}}\n{\"m\":1}\n{\"index\":{}}\n{\"m\":2}\n\
             {\"upsert\":{}}\n{\"create\":{}}\n{\"m\":3}\n",
            &[
                "index - - - 1 unknown_bulk_action",
                r#"index - - {"m":2} 3 ok"#,
                "index - - - 5 unknown_bulk_action",
                r#"create - - {"m":3} 6 ok"#,
            ],
        );
    }

    #[test]
    fn lines_that_are_not_action_objects() {
        check(
            b"not json\n{\"m\":1}\n[1]\n{}\n{\"index\":{},\"create\":{}}\n{\"index\":{}}\n{\"m\":2}\n\xff",
            &[
                "index - - - 1 bad_bulk_action",
                "index - - - 3 bad_bulk_action",
                "index - - - 5 bad_bulk_action",
                r#"index - - {"m":2} 6 ok"#,
                "index - - - 8 bad_bulk_action",
            ],
        );
    }

    #[test]
    fn a_source_missing_at_the_end() {
        check(
            b"{\"create\":{\"_index\":\"a\"}}\n{}\n{\"index\":{\"_index\":\"b\"}}\n\n",
            &["create a - {} 1 ok", "index b - - 3 missing_bulk_source"],
        );
        check(
            b"{\"update\":{\"_id\":[]}}",
            &["update - - - 1 bad_bulk_action"],
        );
    }

    #[test]
    fn updates_need_a_doc_object() {
        check(
            b"{\"update\":{\"_id\":\"1\"}}\n{\"script\":{\"source\":\"ctx._source.n++\"}}\n\
             {\"update\":{\"_id\":\"1\"}}\n{\"doc\":[1]}\n\
             {\"update\":{\"_id\":\"1\"}}\nnot json\n\
             {\"update\":{\"_id\":\"1\"}}\n{\"doc\" : { \"a\" : 1 } , \"upsert\":{}}\n",
            &[
                "update - 1 - 1 bad_bulk_update",
                "update - 1 - 3 bad_bulk_update",
                "update - 1 - 5 bad_bulk_update",
                r#"update - 1 { "a" : 1 } 7 ok"#,
            ],
        );
    }

    #[test]
    fn sources_borrow_from_the_body() {
        let body =
            b"\xEF\xBB\xBF{\"index\":{}}\n{\"m\":1}\r\n{\"update\":{}}\n{\"doc\":{\"m\":2}}\n";
        let range = body.as_ptr_range();
        let items: Vec<_> = parse_bulk(body).collect();
        assert_eq!(items.len(), 2);
        for item in &items {
            let source = item.source.unwrap_or_default();
            assert!(range.contains(&source.as_ptr()), "{item:?}");
        }
        assert_eq!(items[1].source, Some(&b"{\"m\":2}"[..]));
    }
}
