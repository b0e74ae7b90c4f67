//! The canonical text of a [`Query`]: explicit `AND`/`OR`/`NOT`, the fewest
//! parentheses precedence allows, field groups written out per leaf.
//!
//! ```text
//! level:error (timeout OR "reset") -svc:(a b)
//!   -> level:error AND (timeout OR "reset") AND NOT (svc:a AND svc:b)
//! ```
//!
//! Invariant: for every tree [`super::parse`] returns, and every tree after
//! [`Query::normalize`] whose words are non-empty, field names valid and
//! `Or`s non-empty, parsing the text gives the tree back (while it stays
//! within the limits). Words are escaped with backslashes because quoting
//! one would turn it into a phrase; field values are quoted instead, which
//! reads better and means the same.

use std::fmt::{self, Write};

use super::scan::{ends_bound, ends_word};
use super::{CompareOp, FieldFilter, Query, RangeBound, Value};

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Query::All => f.write_str("*"),
            Query::Term(text) => write_word(f, text, Context::Text),
            Query::Prefix(text) => {
                write_word(f, text, Context::Text)?;
                f.write_char('*')
            }
            Query::Phrase(text) => write_quoted(f, text),
            Query::Field { name, filter } => write!(f, "{name}:{filter}"),
            // An empty `And` asks nothing, so it matches everything.
            Query::And(children) if children.is_empty() => f.write_str("*"),
            Query::And(children) => write_joined(f, children, " AND ", |child| {
                matches!(child, Query::And(_) | Query::Or(_))
            }),
            // An empty `Or` matches nothing; there is no literal for that,
            // so this is the closest query (a `Not`, not an `Or`).
            Query::Or(children) if children.is_empty() => f.write_str("NOT *"),
            Query::Or(children) => {
                write_joined(f, children, " OR ", |child| matches!(child, Query::Or(_)))
            }
            Query::Not(child) => {
                f.write_str("NOT ")?;
                write_child(f, child, matches!(**child, Query::And(_) | Query::Or(_)))
            }
        }
    }
}

impl fmt::Display for FieldFilter {
    /// The filter as written after `name:`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldFilter::Exact(text) => write_value(f, text, Context::Value),
            FieldFilter::Prefix(text) => {
                write_word(f, text, Context::Value)?;
                f.write_char('*')
            }
            FieldFilter::Exists => f.write_char('*'),
            FieldFilter::Compare { op, value } => {
                f.write_str(op.symbol())?;
                write_value(f, value.raw(), Context::Operand)
            }
            FieldFilter::Range { lower, upper } => {
                let (open, lower) = match lower {
                    RangeBound::Excluded(value) => ('{', Some(value)),
                    RangeBound::Included(value) => ('[', Some(value)),
                    RangeBound::Unbounded => ('[', None),
                };
                let (close, upper) = match upper {
                    RangeBound::Excluded(value) => ('}', Some(value)),
                    RangeBound::Included(value) => (']', Some(value)),
                    RangeBound::Unbounded => (']', None),
                };
                f.write_char(open)?;
                write_bound(f, lower)?;
                f.write_str(" TO ")?;
                write_bound(f, upper)?;
                f.write_char(close)
            }
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// Where a word or value is printed, which decides what must be escaped.
#[derive(Clone, Copy, PartialEq)]
enum Context {
    /// A top-level word: a colon would make it a field, a leading `-` a
    /// negation, a bare `AND`/`OR`/`NOT` an operator.
    Text,
    /// Right after `name:`: a leading `[`, `{`, `<` or `>` would start a
    /// range or a comparison.
    Value,
    /// Right after a comparison operator: a leading `=` would join it.
    Operand,
    /// Inside a range: `]` and `}` would end it.
    Bound,
}

impl Context {
    fn must_escape(self, c: char, first: bool) -> bool {
        let ends = match self {
            Context::Bound => ends_bound(c),
            _ => ends_word(c),
        };
        ends || matches!(c, '\\' | '*')
            || match self {
                Context::Text => c == ':' || (first && c == '-'),
                Context::Value => first && matches!(c, '[' | '{' | '<' | '>'),
                Context::Operand => first && c == '=',
                Context::Bound => false,
            }
    }
}

fn write_joined(
    f: &mut fmt::Formatter<'_>,
    children: &[Query],
    separator: &str,
    needs_parens: impl Fn(&Query) -> bool,
) -> fmt::Result {
    for (index, child) in children.iter().enumerate() {
        if index > 0 {
            f.write_str(separator)?;
        }
        write_child(f, child, needs_parens(child))?;
    }
    Ok(())
}

fn write_child(f: &mut fmt::Formatter<'_>, child: &Query, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({child})")
    } else {
        write!(f, "{child}")
    }
}

/// A word, backslash-escaped where needed: a word that means itself.
fn write_word(f: &mut fmt::Formatter<'_>, text: &str, context: Context) -> fmt::Result {
    let keyword = context == Context::Text && matches!(text, "AND" | "OR" | "NOT");
    for (index, c) in text.chars().enumerate() {
        if context.must_escape(c, index == 0) || (keyword && index == 0) {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    Ok(())
}

/// A value: bare when it reads as itself, quoted otherwise.
fn write_value(f: &mut fmt::Formatter<'_>, text: &str, context: Context) -> fmt::Result {
    let mut chars = text.chars();
    let plain = chars
        .next()
        .is_some_and(|first| !context.must_escape(first, true))
        && chars.all(|c| !context.must_escape(c, false));
    if plain {
        f.write_str(text)
    } else {
        write_quoted(f, text)
    }
}

fn write_bound(f: &mut fmt::Formatter<'_>, bound: Option<&Value>) -> fmt::Result {
    match bound {
        None => f.write_char('*'),
        Some(value) => write_value(f, value.raw(), Context::Bound),
    }
}

fn write_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}
