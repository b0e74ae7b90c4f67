//! Property tests of the bulk parser: bodies built from random items,
//! with the line ends and blank lines senders vary, parse back to those
//! items; bad items among good ones cost only themselves; and no input
//! panics or yields a source outside its body.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use proptest::prelude::*;
use serde_json::{Map, Value};

use partout_protocols::esbulk::{parse_bulk, BulkAction, BulkItem};
use partout_protocols::ParseError;

const ACTIONS: [BulkAction; 4] = [
    BulkAction::Index,
    BulkAction::Create,
    BulkAction::Update,
    BulkAction::Delete,
];

/// A document. Keys start with `k`, so no document reads as an action
/// line.
fn doc() -> impl Strategy<Value = String> {
    proptest::collection::btree_map("k[a-z]{0,4}", "\\PC{0,12}", 0..5).prop_map(|members| {
        let members: Map<String, Value> = members
            .into_iter()
            .map(|(key, value)| (key, Value::String(value)))
            .collect();
        Value::Object(members).to_string()
    })
}

/// An item as generated: action, `_index`, `_id`, document.
type Item = (BulkAction, Option<String>, Option<String>, String);

fn item() -> impl Strategy<Value = Item> {
    (
        proptest::sample::select(ACTIONS.to_vec()),
        proptest::option::of("[a-z0-9.-]{1,12}"),
        proptest::option::of("[A-Za-z0-9_-]{1,12}"),
        doc(),
    )
}

fn action_line(action: BulkAction, index: &Option<String>, id: &Option<String>) -> String {
    let mut meta = Map::new();
    if let Some(index) = index {
        meta.insert("_index".to_owned(), Value::from(index.as_str()));
    }
    if let Some(id) = id {
        meta.insert("_id".to_owned(), Value::from(id.as_str()));
    }
    let mut line = Map::new();
    line.insert(action.as_str().to_owned(), Value::Object(meta));
    Value::Object(line).to_string()
}

/// Joins lines the way a sender might: `\n` or `\r\n`, blank lines
/// between (`blanks[i]` after line `i`), a final line end or not. Returns
/// the body and each line's 1-based number.
fn join(lines: &[String], crlf: bool, blanks: &[u8], final_newline: bool) -> (String, Vec<usize>) {
    let end = if crlf { "\r\n" } else { "\n" };
    let mut body = String::new();
    let mut numbers = Vec::new();
    let mut number = 0;
    for (index, line) in lines.iter().enumerate() {
        number += 1;
        numbers.push(number);
        body.push_str(line);
        let last = index + 1 == lines.len();
        if !last || final_newline {
            body.push_str(end);
        }
        if !last {
            for _ in 0..blanks.get(index).copied().unwrap_or(0) {
                number += 1;
                body.push_str(if crlf { " \r\n" } else { "\n" });
            }
        }
    }
    (body, numbers)
}

/// Comparable form of an item: action, index, id, source, line, error.
type Seen = (
    BulkAction,
    Option<String>,
    Option<String>,
    Option<String>,
    usize,
    Option<ParseError>,
);

fn seen(item: BulkItem<'_>) -> Seen {
    (
        item.action,
        item.index,
        item.id,
        item.source
            .map(|source| String::from_utf8(source.to_vec()).unwrap()),
        item.line,
        item.error,
    )
}

/// What holds for any body.
fn check_invariants(body: &[u8]) -> Result<(), TestCaseError> {
    let range = body.as_ptr_range();
    let line_count = body.split(|&byte| byte == b'\n').count();
    let mut previous_line = 0;
    for item in parse_bulk(body) {
        prop_assert!(item.line > previous_line && item.line <= line_count);
        previous_line = item.line;
        match (&item.error, item.source) {
            (Some(_), source) => prop_assert!(source.is_none()),
            (None, source) => prop_assert_eq!(source.is_some(), item.action.has_source()),
        }
        if let Some(source) = item.source {
            prop_assert!(
                source.is_empty()
                    || (range.contains(&source.as_ptr()) && source.as_ptr_range().end <= range.end)
            );
            prop_assert!(!source.contains(&b'\n') && !source.ends_with(b"\r"));
        }
        prop_assert!(item.index.as_deref() != Some("") && item.id.as_deref() != Some(""));
    }
    Ok(())
}

proptest! {
    #[test]
    fn generated_bodies_round_trip(
        items in proptest::collection::vec(item(), 0..12),
        crlf in any::<bool>(),
        blanks in proptest::collection::vec(0u8..3, 24),
        final_newline in any::<bool>(),
    ) {
        let mut lines = Vec::new();
        let mut action_line_indexes = Vec::new();
        for (action, index, id, doc) in &items {
            action_line_indexes.push(lines.len());
            lines.push(action_line(*action, index, id));
            match action {
                BulkAction::Update => lines.push(format!(r#"{{"doc":{doc},"doc_as_upsert":true}}"#)),
                BulkAction::Delete => {}
                _ => lines.push(doc.clone()),
            }
        }
        let (body, numbers) = join(&lines, crlf, &blanks, final_newline);
        let expected: Vec<Seen> = items
            .iter()
            .zip(action_line_indexes)
            .map(|((action, index, id, doc), at)| {
                let source = action.has_source().then(|| doc.clone());
                (*action, index.clone(), id.clone(), source, numbers[at], None)
            })
            .collect();
        let got: Vec<Seen> = parse_bulk(body.as_bytes()).map(seen).collect();
        prop_assert_eq!(got, expected, "{}", body);
        check_invariants(body.as_bytes())?;
    }

    /// Malformed items between good ones each yield one item with their
    /// reason; the good ones parse as if alone.
    #[test]
    fn bad_items_cost_only_themselves(
        items in proptest::collection::vec((0u8..6, item()), 0..12),
        garbage in "[a-z :,\\[\\]]{1,20}",
    ) {
        let mut lines = Vec::new();
        let mut expected = Vec::new();
        for (kind, (action, index, id, doc)) in items {
            let number = lines.len() + 1;
            let bad = |error| (BulkAction::Index, None, None, None, number, Some(error));
            match kind {
                // Not JSON, followed by what may have been its source.
                0 => {
                    lines.push(format!("#{garbage}"));
                    lines.push(doc);
                    expected.push(bad(ParseError::BadBulkAction));
                }
                // An action Elasticsearch does not have, with a source.
                1 => {
                    lines.push(r#"{"upsert":{"_id":"1"}}"#.to_owned());
                    lines.push(doc);
                    expected.push(bad(ParseError::UnknownBulkAction));
                }
                // A known action whose metadata is wrong: its source goes
                // with it.
                2 => {
                    lines.push(format!(r#"{{"{}":{{"_id":[]}}}}"#, action.as_str()));
                    if action.has_source() {
                        lines.push(doc);
                    }
                    expected.push((action, None, None, None, number, Some(ParseError::BadBulkAction)));
                }
                // A scripted update.
                3 => {
                    lines.push(action_line(BulkAction::Update, &index, &id));
                    lines.push(r#"{"script":{"source":"ctx._source.n += 1"}}"#.to_owned());
                    expected.push((BulkAction::Update, index, id, None, number, Some(ParseError::BadBulkUpdate)));
                }
                _ => {
                    lines.push(action_line(action, &index, &id));
                    let source = match action {
                        BulkAction::Update => {
                            lines.push(format!(r#"{{"doc":{doc}}}"#));
                            Some(doc)
                        }
                        BulkAction::Delete => None,
                        _ => {
                            lines.push(doc.clone());
                            Some(doc)
                        }
                    };
                    expected.push((action, index, id, source, number, None));
                }
            }
        }
        let body = lines.join("\n");
        let got: Vec<Seen> = parse_bulk(body.as_bytes()).map(seen).collect();
        prop_assert_eq!(got, expected, "{}", body);
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        check_invariants(&body)?;
    }

    /// Lines drawn from action-like fragments reach every branch.
    #[test]
    fn bulk_shaped_noise_never_panics(
        lines in proptest::collection::vec(
            "\\{(\"(index|create|update|delete|doc|upsert|[a-z]{0,3})\": ?(\\{(\"_(index|id|type)\": ?(\"[a-z]{0,3}\"|null|[0-9.]{1,3}|\\[\\]),?){0,3}\\}|\"x\"|null|1))?\\}?|\r?|[ a-z{}\"]{0,6}",
            0..12,
        ),
        crlf in any::<bool>(),
    ) {
        let body = lines.join(if crlf { "\r\n" } else { "\n" });
        check_invariants(body.as_bytes())?;
    }
}
