//! A parsed query ([`lang::Query`]) into a tantivy query over a partition.
//!
//! Field names: `level`, `service`, `host`, `source`, `flag` and `message`
//! (or `msg`) are the record's own; any other name is a structured field
//! (`user`, `http.status`). Bare words and phrases search the message, and
//! bare words also the values of structured fields.
//!
//! Structured text values are indexed whole and lowercased, so
//! `user:Ann` finds `"ann"`; numbers are indexed as numbers, so
//! `http.status:>=500` compares numerically (integers and floats alike).

use std::ops::Bound;

use partout_protocols::jsonlog;
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, InvertedIndexRangeQuery, Occur, PhrasePrefixQuery,
    PhraseQuery, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Type};
use tantivy::Term;

use super::any_path::AnyPathQuery;
use crate::logs::lang::{self, CompareOp, FieldFilter, RangeBound, Value};
use crate::logs::schema::{level_code, words, LogSchema};
use crate::logs::tokenizer::is_id;

type Boxed = Box<dyn Query>;

/// Why a query cannot run (it parsed, but asks for something impossible).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TranslateError(pub String);

/// The record's own fields a query may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    Level,
    Service,
    Host,
    Source,
    Flag,
    Message,
}

pub fn builtin(name: &str) -> Option<Builtin> {
    match name {
        "level" => Some(Builtin::Level),
        "service" => Some(Builtin::Service),
        "host" => Some(Builtin::Host),
        "source" => Some(Builtin::Source),
        "flag" => Some(Builtin::Flag),
        "message" | "msg" => Some(Builtin::Message),
        _ => None,
    }
}

/// The tantivy query of `query`.
pub fn translate(schema: &LogSchema, query: &lang::Query) -> Result<Boxed, TranslateError> {
    Ok(match query {
        lang::Query::All => Box::new(AllQuery),
        lang::Query::Term(word) => full_text(schema, word, false),
        lang::Query::Prefix(prefix) => full_text(schema, prefix, true),
        lang::Query::Phrase(text) => {
            phrase(schema.message, &words(text), false).unwrap_or_else(|| Box::new(EmptyQuery))
        }
        lang::Query::Field { name, filter } => field(schema, name, filter)?,
        lang::Query::And(children) => {
            let mut clauses = Vec::with_capacity(children.len());
            for child in children {
                clauses.push(match child {
                    lang::Query::Not(inner) => (Occur::MustNot, translate(schema, inner)?),
                    other => (Occur::Must, translate(schema, other)?),
                });
            }
            with_positive(clauses)
        }
        lang::Query::Or(children) => {
            let mut clauses = Vec::with_capacity(children.len());
            for child in children {
                clauses.push((Occur::Should, translate(schema, child)?));
            }
            Box::new(BooleanQuery::new(clauses))
        }
        lang::Query::Not(inner) => with_positive(vec![(Occur::MustNot, translate(schema, inner)?)]),
    })
}

/// A boolean query that is only exclusions matches nothing in tantivy:
/// give it "everything" to exclude from.
fn with_positive(mut clauses: Vec<(Occur, Boxed)>) -> Boxed {
    if clauses.iter().all(|(occur, _)| *occur == Occur::MustNot) {
        clauses.push((Occur::Must, Box::new(AllQuery)));
    }
    Box::new(BooleanQuery::new(clauses))
}

fn term(field: Field, text: &str) -> Boxed {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::Basic,
    ))
}

/// Words in order in a positional field; `prefix` makes the last one a
/// prefix. `None` for no words at all.
fn phrase(field: Field, words: &[String], prefix: bool) -> Option<Boxed> {
    let terms: Vec<Term> = words
        .iter()
        .map(|word| Term::from_field_text(field, word))
        .collect();
    match (terms.len(), prefix) {
        (0, _) => None,
        (1, false) => Some(term(field, &words[0])),
        (1, true) => Some(text_prefix(field, &words[0])),
        (_, false) => Some(Box::new(PhraseQuery::new(terms))),
        (_, true) => Some(Box::new(PhrasePrefixQuery::new(terms))),
    }
}

/// Every term of `field` starting with `prefix`.
fn text_prefix(field: Field, prefix: &str) -> Boxed {
    prefix_range(Term::from_field_text(field, prefix))
}

/// Every term whose value bytes start with `lower`'s: no UTF-8 text holds
/// the byte 0xFF, so `[prefix, prefix + 0xFF)` is exactly the prefix.
pub(super) fn prefix_range(lower: Term) -> Boxed {
    let mut upper = lower.clone();
    upper.append_bytes(&[0xFF]);
    Box::new(InvertedIndexRangeQuery::new(
        Bound::Included(lower),
        Bound::Excluded(upper),
    ))
}

/// A bare word: in the message, or among the words of field values (which
/// have no positions, so a multi-word value matches when all its words do),
/// or an id whole under any path, where alone ids are indexed.
fn full_text(schema: &LogSchema, text: &str, prefix: bool) -> Boxed {
    let cut = words(text);
    let Some(in_message) = phrase(schema.message, &cut, prefix) else {
        return Box::new(EmptyQuery);
    };
    let in_values: Vec<(Occur, Boxed)> = cut
        .iter()
        .enumerate()
        .map(|(at, word)| {
            let prefix = prefix && at + 1 == cut.len();
            let among_words = if prefix {
                text_prefix(schema.words, word)
            } else {
                term(schema.words, word)
            };
            // Ids are not among the words: look for them whole. A prefix
            // may be the start of an id (ids are ASCII).
            let maybe_id = if prefix { word.is_ascii() } else { is_id(word) };
            if !maybe_id {
                return (Occur::Must, among_words);
            }
            let whole_value: Boxed = Box::new(AnyPathQuery::new(schema.fields, word, prefix));
            let either = BooleanQuery::new(vec![
                (Occur::Should, among_words),
                (Occur::Should, whole_value),
            ]);
            (Occur::Must, Box::new(either) as Boxed)
        })
        .collect();
    Box::new(BooleanQuery::new(vec![
        (Occur::Should, in_message),
        (Occur::Should, Box::new(BooleanQuery::new(in_values))),
    ]))
}

fn field(schema: &LogSchema, name: &str, filter: &FieldFilter) -> Result<Boxed, TranslateError> {
    match builtin(name) {
        Some(Builtin::Level) => level(schema, filter),
        Some(Builtin::Message) => {
            Ok(match filter {
                FieldFilter::Exact(text) => phrase(schema.message, &words(text), false)
                    .unwrap_or_else(|| Box::new(EmptyQuery)),
                FieldFilter::Prefix(text) => phrase(schema.message, &words(text), true)
                    .unwrap_or_else(|| Box::new(EmptyQuery)),
                FieldFilter::Exists => Box::new(AllQuery),
                _ => return Err(TranslateError("the message cannot be compared".into())),
            })
        }
        Some(Builtin::Service) => exact_text(schema.service, name, filter),
        Some(Builtin::Host) => exact_text(schema.host, name, filter),
        Some(Builtin::Source) => exact_text(schema.source, name, filter),
        Some(Builtin::Flag) => exact_text(schema.flag, name, filter),
        None => Ok(structured(schema.fields, name, filter)),
    }
}

/// `service`, `host`, `source`, `flag`: exact, case-sensitive text.
fn exact_text(field: Field, name: &str, filter: &FieldFilter) -> Result<Boxed, TranslateError> {
    Ok(match filter {
        FieldFilter::Exact(value) => term(field, value),
        FieldFilter::Prefix(value) => text_prefix(field, value),
        FieldFilter::Exists => prefix_range(Term::from_field_text(field, "")),
        FieldFilter::Compare { op, value } => {
            let bound = |value: &Value| Term::from_field_text(field, value.raw());
            compare_range(*op, value, bound)
        }
        FieldFilter::Range { lower, upper } => {
            let bound = |value: &Value| Term::from_field_text(field, value.raw());
            Box::new(InvertedIndexRangeQuery::new(
                map_bound(lower, bound),
                map_bound(upper, bound),
            ))
        }
    })
    .map_err(|error: TranslateError| TranslateError(format!("{name}: {}", error.0)))
}

fn map_bound(bound: &RangeBound, term: impl Fn(&Value) -> Term) -> Bound<Term> {
    match bound {
        RangeBound::Unbounded => Bound::Unbounded,
        RangeBound::Included(value) => Bound::Included(term(value)),
        RangeBound::Excluded(value) => Bound::Excluded(term(value)),
    }
}

fn compare_range(op: CompareOp, value: &Value, term: impl Fn(&Value) -> Term) -> Boxed {
    let (lower, upper) = compare_bounds(op, value);
    Box::new(InvertedIndexRangeQuery::new(
        map_bound(&lower, &term),
        map_bound(&upper, &term),
    ))
}

/// A comparison as a range.
fn compare_bounds(op: CompareOp, value: &Value) -> (RangeBound, RangeBound) {
    let value = value.clone();
    match op {
        CompareOp::Lt => (RangeBound::Unbounded, RangeBound::Excluded(value)),
        CompareOp::Le => (RangeBound::Unbounded, RangeBound::Included(value)),
        CompareOp::Gt => (RangeBound::Excluded(value), RangeBound::Unbounded),
        CompareOp::Ge => (RangeBound::Included(value), RangeBound::Unbounded),
    }
}

/// `level:error`, `level:>=warn`, `level:[debug TO info]`.
fn level(schema: &LogSchema, filter: &FieldFilter) -> Result<Boxed, TranslateError> {
    let code = |value: &Value| -> Result<u64, TranslateError> {
        jsonlog::parse_level(value.raw())
            .map(level_code)
            .ok_or_else(|| {
                TranslateError(format!(
                    "level: {:?} is not a level (trace, debug, info, warn, error, fatal)",
                    value.raw()
                ))
            })
    };
    let term = |code: u64| Term::from_field_u64(schema.level, code);
    let range = |lower: Bound<u64>, upper: Bound<u64>| -> Boxed {
        Box::new(RangeQuery::new(lower.map(term), upper.map(term)))
    };
    let bound = |bound: &RangeBound| -> Result<Bound<u64>, TranslateError> {
        Ok(match bound {
            RangeBound::Unbounded => Bound::Unbounded,
            RangeBound::Included(value) => Bound::Included(code(value)?),
            RangeBound::Excluded(value) => Bound::Excluded(code(value)?),
        })
    };
    Ok(match filter {
        FieldFilter::Exact(text) => {
            let value = Value::new(text.clone());
            Box::new(TermQuery::new(
                term(code(&value)?),
                IndexRecordOption::Basic,
            ))
        }
        FieldFilter::Exists => range(Bound::Unbounded, Bound::Unbounded),
        FieldFilter::Prefix(_) => {
            return Err(TranslateError(
                "level: use a level name or a comparison (level:>=warn)".into(),
            ))
        }
        FieldFilter::Compare { op, value } => {
            let (lower, upper) = compare_bounds(*op, value);
            range(bound(&lower)?, bound(&upper)?)
        }
        FieldFilter::Range { lower, upper } => range(bound(lower)?, bound(upper)?),
    })
}

/// A structured field: a path in the `fields` JSON.
fn structured(fields: Field, path: &str, filter: &FieldFilter) -> Boxed {
    let path_term = || Term::from_field_json_path(fields, path, true);
    let text = |value: &str| {
        let mut term = path_term();
        term.append_type_and_str(&value.to_lowercase());
        term
    };
    match filter {
        FieldFilter::Exact(value) => {
            let mut alternatives: Vec<(Occur, Boxed)> = vec![(
                Occur::Should,
                Box::new(TermQuery::new(text(value), IndexRecordOption::Basic)),
            )];
            for term in numeric_terms(&path_term, value) {
                alternatives.push((
                    Occur::Should,
                    Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
                ));
            }
            Box::new(BooleanQuery::new(alternatives))
        }
        FieldFilter::Prefix(value) => prefix_range(text(value)),
        // Every value under the path, whatever its type.
        FieldFilter::Exists => prefix_range(path_term()),
        FieldFilter::Compare { op, value } => {
            let (lower, upper) = compare_bounds(*op, value);
            structured_range(&path_term, &lower, &upper)
        }
        FieldFilter::Range { lower, upper } => structured_range(&path_term, lower, upper),
    }
}

/// The typed terms an exact value also matches: `status:500` finds the
/// number 500 (indexed as i64, or f64 when fractional), `ok:true` a bool.
fn numeric_terms(path_term: &dyn Fn() -> Term, value: &str) -> Vec<Term> {
    let mut terms = Vec::new();
    let value = Value::new(value.to_owned());
    if let Some(number) = value.number() {
        let mut term = path_term();
        if number.fract() == 0.0 && number.abs() < 9.0e15 {
            term.append_type_and_fast_value(number as i64);
        } else {
            term.append_type_and_fast_value(number);
        }
        terms.push(term);
    }
    if let Ok(flag) = value.raw().parse::<bool>() {
        let mut term = path_term();
        term.append_type_and_fast_value(flag);
        terms.push(term);
    }
    terms
}

/// A range over a structured field: numeric when the bounds are numbers
/// (integer and float values alike), else over the lowercased text.
fn structured_range(path_term: &dyn Fn() -> Term, lower: &RangeBound, upper: &RangeBound) -> Boxed {
    let numbers = [lower, upper].iter().all(|bound| match bound {
        RangeBound::Unbounded => true,
        RangeBound::Included(value) | RangeBound::Excluded(value) => value.number().is_some(),
    });
    if !numbers {
        let text_term = |value: &Value| {
            let mut term = path_term();
            term.append_type_and_str(&value.raw().to_lowercase());
            term
        };
        return Box::new(InvertedIndexRangeQuery::new(
            typed_bound(lower, &text_term, || typed_end(path_term, Type::Str, false)),
            typed_bound(upper, &text_term, || typed_end(path_term, Type::Str, true)),
        ));
    }
    let float_term = |value: &Value| {
        let mut term = path_term();
        term.append_type_and_fast_value(value.number().unwrap_or(0.0));
        term
    };
    let float = InvertedIndexRangeQuery::new(
        typed_bound(lower, &float_term, || {
            typed_end(path_term, Type::F64, false)
        }),
        typed_bound(upper, &float_term, || typed_end(path_term, Type::F64, true)),
    );
    let integer = InvertedIndexRangeQuery::new(
        integer_bound(lower, path_term, false),
        integer_bound(upper, path_term, true),
    );
    Box::new(BooleanQuery::new(vec![
        (Occur::Should, Box::new(float)),
        (Occur::Should, Box::new(integer)),
    ]))
}

/// An unbounded side of a typed range must still stay within the path and
/// type: the first (or past the last) term of that type under the path.
fn typed_end(path_term: &dyn Fn() -> Term, typ: Type, upper: bool) -> Bound<Term> {
    let mut term = path_term();
    term.append_bytes(&[typ.to_code()]);
    if upper {
        term.append_bytes(&[0xFF; 9]);
        Bound::Excluded(term)
    } else {
        Bound::Included(term)
    }
}

fn typed_bound(
    bound: &RangeBound,
    term: &dyn Fn(&Value) -> Term,
    unbounded: impl FnOnce() -> Bound<Term>,
) -> Bound<Term> {
    match bound {
        RangeBound::Unbounded => unbounded(),
        RangeBound::Included(value) => Bound::Included(term(value)),
        RangeBound::Excluded(value) => Bound::Excluded(term(value)),
    }
}

/// A float bound as a bound on i64 terms: `> 2.5` is `>= 3`, `<= 2.5` is
/// `<= 2`.
fn integer_bound(bound: &RangeBound, path_term: &dyn Fn() -> Term, upper: bool) -> Bound<Term> {
    let term = |integer: i64| {
        let mut term = path_term();
        term.append_type_and_fast_value(integer);
        term
    };
    let clamp = |number: f64| number.clamp(i64::MIN as f64, i64::MAX as f64) as i64;
    match bound {
        RangeBound::Unbounded => typed_end(path_term, Type::I64, upper),
        RangeBound::Included(value) | RangeBound::Excluded(value) => {
            let number = value.number().unwrap_or(0.0);
            let inclusive = matches!(bound, RangeBound::Included(_));
            if number.fract() == 0.0 {
                let integer = clamp(number);
                if inclusive {
                    Bound::Included(term(integer))
                } else {
                    Bound::Excluded(term(integer))
                }
            } else if upper {
                Bound::Included(term(clamp(number.floor())))
            } else {
                Bound::Included(term(clamp(number.ceil())))
            }
        }
    }
}
