//! The query language evaluated over one record in memory, for the live
//! tail: new lines are matched as they are indexed, without a search.
//! It agrees with [`super::translate`] on every construct (a test runs
//! both over the same lines).

use partout_protocols::jsonlog::{self, FieldValue};

use super::translate::{builtin, Builtin};
use crate::logs::lang::{CompareOp, FieldFilter, Query, RangeBound, Value};
use crate::logs::record::LogRecord;
use crate::logs::schema::{level_code, words};

/// Whether `record` matches `query`.
pub fn matches(query: &Query, record: &LogRecord) -> bool {
    match query {
        Query::All => true,
        Query::Term(text) => full_text(record, text, false),
        Query::Prefix(text) => full_text(record, text, true),
        Query::Phrase(text) => contains_run(&words(&record.message), &words(text), false),
        Query::Field { name, filter } => field(record, name, filter),
        Query::And(children) => children.iter().all(|child| matches(child, record)),
        Query::Or(children) => children.iter().any(|child| matches(child, record)),
        Query::Not(child) => !matches(child, record),
    }
}

/// Whether `needle` occurs as consecutive words in `haystack`, the last
/// one as a prefix when `prefix`.
fn contains_run(haystack: &[String], needle: &[String], prefix: bool) -> bool {
    if needle.is_empty() || needle.len() > haystack.len() {
        return false;
    }
    haystack.windows(needle.len()).any(|window| {
        window
            .iter()
            .zip(needle)
            .enumerate()
            .all(|(at, (word, want))| {
                if prefix && at + 1 == needle.len() {
                    word.starts_with(want.as_str())
                } else {
                    word == want
                }
            })
    })
}

fn full_text(record: &LogRecord, text: &str, prefix: bool) -> bool {
    let wanted = words(text);
    if contains_run(&words(&record.message), &wanted, prefix) {
        return true;
    }
    // Field values are indexed without positions: every word must occur.
    let mut value_words = Vec::new();
    for (_, value) in &record.fields {
        if let FieldValue::Text(text) | FieldValue::Json(text) = value {
            value_words.extend(words(text));
        }
    }
    !wanted.is_empty()
        && wanted.iter().enumerate().all(|(at, want)| {
            value_words.iter().any(|word| {
                if prefix && at + 1 == wanted.len() {
                    word.starts_with(want.as_str())
                } else {
                    word == want
                }
            })
        })
}

/// The value of a field as text, as top values show it.
pub fn field_text(record: &LogRecord, name: &str) -> Option<String> {
    match builtin(name) {
        Some(Builtin::Level) => record.level.map(|level| level.as_str().to_owned()),
        Some(Builtin::Service) => record.service.clone(),
        Some(Builtin::Host) => record.host.clone(),
        Some(Builtin::Source) => Some(record.source.as_str().to_owned()),
        Some(Builtin::Message) => Some(record.message.clone()),
        Some(Builtin::Flag) => record.flags.names().first().map(|name| (*name).to_owned()),
        None => structured(record, name).map(|value| match value {
            FieldValue::Null => "null".to_owned(),
            FieldValue::Bool(flag) => flag.to_string(),
            FieldValue::Integer(number) => number.to_string(),
            FieldValue::Unsigned(number) => number.to_string(),
            FieldValue::Float(number) => number.to_string(),
            FieldValue::Text(text) | FieldValue::Json(text) => text.clone(),
        }),
    }
}

fn structured<'a>(record: &'a LogRecord, name: &str) -> Option<&'a FieldValue> {
    record
        .fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

fn field(record: &LogRecord, name: &str, filter: &FieldFilter) -> bool {
    match builtin(name) {
        Some(Builtin::Level) => {
            let Some(code) = record.level.map(level_code) else {
                return false;
            };
            let level_of = |value: &Value| jsonlog::parse_level(value.raw()).map(level_code);
            match filter {
                FieldFilter::Exact(text) => {
                    jsonlog::parse_level(text).map(level_code) == Some(code)
                }
                FieldFilter::Exists => true,
                FieldFilter::Prefix(_) => false,
                FieldFilter::Compare { op, value } => {
                    level_of(value).is_some_and(|bound| compare(*op, code.cmp(&bound)))
                }
                FieldFilter::Range { lower, upper } => in_range(lower, upper, |value| {
                    level_of(value).map(|bound| code.cmp(&bound))
                }),
            }
        }
        Some(Builtin::Message) => {
            let message = words(&record.message);
            match filter {
                FieldFilter::Exact(text) => contains_run(&message, &words(text), false),
                FieldFilter::Prefix(text) => contains_run(&message, &words(text), true),
                FieldFilter::Exists => true,
                _ => false,
            }
        }
        Some(Builtin::Flag) => {
            let names = record.flags.names();
            names.iter().any(|flag| exact_text(flag, filter))
        }
        Some(_) => field_text(record, name).is_some_and(|text| exact_text(&text, filter)),
        None => structured(record, name).is_some_and(|value| structured_matches(value, filter)),
    }
}

/// Case-sensitive comparison of the record's own text fields.
fn exact_text(text: &str, filter: &FieldFilter) -> bool {
    match filter {
        FieldFilter::Exact(want) => text == want,
        FieldFilter::Prefix(want) => text.starts_with(want.as_str()),
        FieldFilter::Exists => true,
        FieldFilter::Compare { op, value } => compare(*op, text.cmp(value.raw())),
        FieldFilter::Range { lower, upper } => {
            in_range(lower, upper, |value| Some(text.cmp(value.raw())))
        }
    }
}

fn structured_matches(value: &FieldValue, filter: &FieldFilter) -> bool {
    let number = match value {
        FieldValue::Integer(number) => Some(*number as f64),
        FieldValue::Unsigned(number) => Some(*number as f64),
        FieldValue::Float(number) => Some(*number),
        _ => None,
    };
    let text = match value {
        FieldValue::Text(text) | FieldValue::Json(text) => Some(text.to_lowercase()),
        _ => None,
    };
    let numeric_cmp =
        |bound: &Value| -> Option<std::cmp::Ordering> { number?.partial_cmp(&bound.number()?) };
    let text_cmp = |bound: &Value| -> Option<std::cmp::Ordering> {
        Some(text.as_deref()?.cmp(bound.raw().to_lowercase().as_str()))
    };
    let numeric_bounds = |lower: &RangeBound, upper: &RangeBound| {
        [lower, upper].iter().all(|bound| match bound {
            RangeBound::Unbounded => true,
            RangeBound::Included(value) | RangeBound::Excluded(value) => value.number().is_some(),
        })
    };
    match filter {
        FieldFilter::Exact(want) => {
            let typed = Value::new(want.clone());
            text.as_deref() == Some(want.to_lowercase().as_str())
                || (number.is_some() && typed.number() == number)
                || matches!((value, want.parse::<bool>()), (FieldValue::Bool(a), Ok(b)) if *a == b)
        }
        FieldFilter::Prefix(want) => text
            .as_deref()
            .is_some_and(|text| text.starts_with(want.to_lowercase().as_str())),
        FieldFilter::Exists => true,
        FieldFilter::Compare { op, value: bound } => {
            if bound.number().is_some() {
                numeric_cmp(bound).is_some_and(|ordering| compare(*op, ordering))
            } else {
                text_cmp(bound).is_some_and(|ordering| compare(*op, ordering))
            }
        }
        FieldFilter::Range { lower, upper } => {
            if numeric_bounds(lower, upper) {
                in_range(lower, upper, numeric_cmp)
            } else {
                in_range(lower, upper, text_cmp)
            }
        }
    }
}

fn compare(op: CompareOp, ordering: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::{Greater, Less};
    match op {
        CompareOp::Lt => ordering == Less,
        CompareOp::Le => ordering != Greater,
        CompareOp::Gt => ordering == Greater,
        CompareOp::Ge => ordering != Less,
    }
}

/// Whether a value lies within bounds; `cmp` orders the value against a
/// bound (`None`: not comparable, so no match).
fn in_range(
    lower: &RangeBound,
    upper: &RangeBound,
    cmp: impl Fn(&Value) -> Option<std::cmp::Ordering>,
) -> bool {
    use std::cmp::Ordering::{Greater, Less};
    let above = match lower {
        RangeBound::Unbounded => true,
        RangeBound::Included(bound) => cmp(bound).is_some_and(|o| o != Less),
        RangeBound::Excluded(bound) => cmp(bound) == Some(Greater),
    };
    let below = match upper {
        RangeBound::Unbounded => true,
        RangeBound::Included(bound) => cmp(bound).is_some_and(|o| o != Greater),
        RangeBound::Excluded(bound) => cmp(bound) == Some(Less),
    };
    above && below
}
