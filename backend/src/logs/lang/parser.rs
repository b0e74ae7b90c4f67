//! The recursive-descent parser behind [`super::parse`]: one method per
//! grammar rule, reading the input in place with a byte cursor.
//!
//! There is no separate tokenizer because what a character means depends
//! on where it is: `[` opens a range right after `field:` and is text
//! anywhere else, a colon splits a top-level word but not a field value.
//!
//! Recursion happens only through `(` and `NOT`/`-`, and both count against
//! [`MAX_DEPTH`] before recursing, so the stack stays bounded.

use super::scan::{self, ends_bound, ends_word, Shape, Word};
use super::{
    CompareOp, FieldFilter, LangError, Query, RangeBound, Value, MAX_CLAUSES, MAX_DEPTH,
    MAX_QUERY_BYTES,
};

pub(super) fn parse(input: &str) -> Result<Query, LangError> {
    if input.len() > MAX_QUERY_BYTES {
        let position = (0..=MAX_QUERY_BYTES)
            .rev()
            .find(|&at| input.is_char_boundary(at))
            .unwrap_or(0);
        return Err(LangError {
            position,
            message: format!("query is longer than {MAX_QUERY_BYTES} bytes"),
        });
    }
    let mut parser = Parser {
        text: input,
        at: 0,
        depth: 0,
        clauses: 0,
    };
    parser.skip_space();
    if parser.peek().is_none() {
        return Ok(Query::All);
    }
    parser.expect_clause("at the start of the query")?;
    let query = parser.or(Scope::Text)?;
    parser.skip_space();
    // `or` stops only at the end of the input or at a ')'.
    if parser.peek().is_some() {
        return Err(parser.error(parser.at, "unexpected ')' with no '(' before it"));
    }
    Ok(query)
}

/// What a leaf means where it is parsed.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// Full-text words, phrases and `field:` filters.
    Text,
    /// Inside `field:( ... )`: every leaf is a value for this field.
    Field(&'a str),
}

struct Parser<'a> {
    text: &'a str,
    /// Byte offset of the next unread character; always a char boundary.
    at: usize,
    /// Open parentheses and negations around the cursor.
    depth: usize,
    /// Leaves built so far.
    clauses: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, position: usize, message: impl Into<String>) -> LangError {
        LangError {
            position,
            message: message.into(),
        }
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.at..).unwrap_or_default()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_space(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start().len();
    }

    /// Whether an uppercase keyword stands here as a whole word (`ANDROID`
    /// and `OR:x` are not keywords).
    fn at_keyword(&self, keyword: &str) -> bool {
        self.rest()
            .strip_prefix(keyword)
            .is_some_and(|after| after.chars().next().is_none_or(ends_word))
    }

    /// Whether a clause (not an operator, `)` or the end) starts here.
    fn starts_clause(&self) -> bool {
        match self.peek() {
            None | Some(')') => false,
            Some(_) => !self.at_keyword("AND") && !self.at_keyword("OR"),
        }
    }

    /// Errors unless a clause starts here; `context` says what came before.
    fn expect_clause(&self, context: &str) -> Result<(), LangError> {
        if self.starts_clause() {
            return Ok(());
        }
        let message = match self.peek() {
            None => format!("expected a clause {context}"),
            Some(')') => format!("expected a clause {context}, found ')'"),
            Some(_) if self.at_keyword("AND") => {
                format!("expected a clause {context}, found 'AND'")
            }
            Some(_) => format!("expected a clause {context}, found 'OR'"),
        };
        Err(self.error(self.at, message))
    }

    /// Enters one level of nesting, at `start` for the error.
    fn enter(&mut self, start: usize) -> Result<(), LangError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(start, format!("query nests deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Counts one leaf clause starting at `start`.
    fn leaf(&mut self, start: usize, query: Query) -> Result<Query, LangError> {
        self.clauses += 1;
        if self.clauses > MAX_CLAUSES {
            return Err(self.error(start, format!("query has more than {MAX_CLAUSES} clauses")));
        }
        Ok(query)
    }

    /// `or = and ("OR" and)*`. Precondition: a clause starts here.
    fn or(&mut self, scope: Scope<'a>) -> Result<Query, LangError> {
        let mut children = vec![self.and(scope)?];
        loop {
            self.skip_space();
            if !self.at_keyword("OR") {
                break;
            }
            self.at += "OR".len();
            self.skip_space();
            self.expect_clause("after 'OR'")?;
            children.push(self.and(scope)?);
        }
        Ok(join(children, false))
    }

    /// `and = unary (["AND"] unary)*`. Precondition: a clause starts here.
    fn and(&mut self, scope: Scope<'a>) -> Result<Query, LangError> {
        let mut children = vec![self.unary(scope)?];
        loop {
            self.skip_space();
            if self.at_keyword("AND") {
                self.at += "AND".len();
                self.skip_space();
                self.expect_clause("after 'AND'")?;
            } else if !self.starts_clause() {
                break;
            }
            children.push(self.unary(scope)?);
        }
        Ok(join(children, true))
    }

    /// `unary = "NOT" unary | "-" primary | primary`. The dash takes a
    /// primary only, so `-AND` negates the word "AND" (what someone typing
    /// it means) and `--a` the word "-a". Precondition: a clause starts
    /// here.
    fn unary(&mut self, scope: Scope<'a>) -> Result<Query, LangError> {
        let start = self.at;
        if self.at_keyword("NOT") {
            self.at += "NOT".len();
            self.enter(start)?;
            self.skip_space();
            self.expect_clause("after 'NOT'")?;
            let child = self.unary(scope)?;
            self.leave();
            return Ok(Query::Not(Box::new(child)));
        }
        if let Some(after) = self.rest().strip_prefix('-') {
            if after
                .chars()
                .next()
                .is_none_or(|c| c.is_whitespace() || c == ')')
            {
                return Err(self.error(start + 1, "expected a clause right after '-'"));
            }
            self.at += 1;
            self.enter(start)?;
            let child = self.primary(scope)?;
            self.leave();
            return Ok(Query::Not(Box::new(child)));
        }
        self.primary(scope)
    }

    /// A group, a quoted string, or a word (which may be `field:value`).
    /// Precondition: the next character is not whitespace, `)` or the end.
    fn primary(&mut self, scope: Scope<'a>) -> Result<Query, LangError> {
        let start = self.at;
        match (self.peek(), scope) {
            (Some('('), _) => self.group(scope),
            (Some('"'), Scope::Text) => {
                let text = self.quoted()?;
                self.leaf(start, Query::Phrase(text))
            }
            (Some('"'), Scope::Field(name)) => {
                let text = self.quoted()?;
                self.leaf(start, field(name, FieldFilter::Exact(text)))
            }
            (_, Scope::Text) => self.text_word(),
            (_, Scope::Field(name)) => self.value(name),
        }
    }

    fn group(&mut self, scope: Scope<'a>) -> Result<Query, LangError> {
        let open = self.at;
        self.at += 1;
        self.enter(open)?;
        self.skip_space();
        self.expect_clause("after '('")?;
        let inner = self.or(scope)?;
        self.skip_space();
        if self.peek() != Some(')') {
            return Err(self.error(self.at, format!("expected ')' to close the '(' at {open}")));
        }
        self.at += 1;
        self.leave();
        Ok(inner)
    }

    /// A top-level word: `*`, `term`, `prefix*` or `name:value`.
    fn text_word(&mut self) -> Result<Query, LangError> {
        let start = self.at;
        let word = self.word(ends_word, true);
        if let Some(name) = word.field {
            return self.field_value(name);
        }
        let query = match word.shape()? {
            Shape::Star => Query::All,
            Shape::Prefix(text) => Query::Prefix(text),
            Shape::Plain(text) => Query::Term(text),
        };
        self.leaf(start, query)
    }

    /// What follows `name:`; the value must start right after the colon, so
    /// `error: timeout` is an error rather than a silent field filter.
    fn field_value(&mut self, name: &'a str) -> Result<Query, LangError> {
        match self.peek() {
            Some(c) if !c.is_whitespace() && c != ')' => self.primary(Scope::Field(name)),
            _ => Err(self.error(
                self.at,
                format!(
                    "expected a value right after '{name}:' (quote the text to search for a colon)"
                ),
            )),
        }
    }

    /// A field value that is not a group or a quoted string.
    fn value(&mut self, name: &'a str) -> Result<Query, LangError> {
        let start = self.at;
        let filter = match self.peek() {
            Some('[' | '{') => self.range()?,
            Some('>' | '<') => self.compare()?,
            _ => {
                let word = self.word(ends_word, false);
                match word.shape()? {
                    Shape::Star => FieldFilter::Exists,
                    Shape::Prefix(text) => FieldFilter::Prefix(text),
                    Shape::Plain(text) => FieldFilter::Exact(text),
                }
            }
        };
        self.leaf(start, field(name, filter))
    }

    fn compare(&mut self) -> Result<FieldFilter, LangError> {
        let rest = self.rest();
        let op = if rest.starts_with(">=") {
            CompareOp::Ge
        } else if rest.starts_with('>') {
            CompareOp::Gt
        } else if rest.starts_with("<=") {
            CompareOp::Le
        } else {
            CompareOp::Lt
        };
        self.at += op.symbol().len();
        let start = self.at;
        let value = match self.peek() {
            Some('"') => Value::new(self.quoted()?),
            Some(c) if !ends_word(c) => {
                let word = self.word(ends_word, false);
                if let Some(&star) = word.stars.first() {
                    return Err(self.error(
                        star,
                        "'*' is not a wildcard in a comparison (write '\\*' for a literal star)",
                    ));
                }
                Value::new(word.text)
            }
            _ => {
                return Err(self.error(
                    start,
                    format!("expected a value right after '{}'", op.symbol()),
                ))
            }
        };
        Ok(FieldFilter::Compare { op, value })
    }

    /// `("[" | "{") bound "TO" bound ("]" | "}")`.
    fn range(&mut self) -> Result<FieldFilter, LangError> {
        let open = self.at;
        let lower_included = self.rest().starts_with('[');
        self.at += 1;
        self.skip_space();
        let lower = self.bound("after the range's opening bracket")?;
        self.skip_space();
        let to_here = self
            .rest()
            .strip_prefix("TO")
            .is_some_and(|after| after.chars().next().is_none_or(ends_bound));
        if !to_here {
            return Err(self.error(
                self.at,
                format!("expected 'TO' in the range opened at {open}"),
            ));
        }
        self.at += "TO".len();
        self.skip_space();
        let upper = self.bound("after 'TO'")?;
        self.skip_space();
        let upper_included = match self.peek() {
            Some(']') => true,
            Some('}') => false,
            Some(_) => {
                return Err(self.error(
                    self.at,
                    format!("expected ']' or '}}' to close the range opened at {open}"),
                ))
            }
            None => {
                return Err(self.error(
                    self.at,
                    format!("the range opened at {open} is not closed: expected ']' or '}}'"),
                ))
            }
        };
        self.at += 1;
        Ok(FieldFilter::Range {
            lower: make_bound(lower, lower_included),
            upper: make_bound(upper, upper_included),
        })
    }

    /// A range bound; `None` for `*`.
    fn bound(&mut self, context: &str) -> Result<Option<Value>, LangError> {
        let start = self.at;
        match self.peek() {
            Some('"') => Ok(Some(Value::new(self.quoted()?))),
            Some(c) if !ends_bound(c) => {
                let word = self.word(ends_bound, false);
                match word.shape()? {
                    Shape::Star => Ok(None),
                    Shape::Plain(text) => Ok(Some(Value::new(text))),
                    Shape::Prefix(_) => Err(self.error(
                        self.at.saturating_sub(1),
                        "'*' in a range bound must stand alone (write '\\*' for a literal star)",
                    )),
                }
            }
            _ => Err(self.error(start, format!("expected a range bound {context}"))),
        }
    }

    /// A quoted string, leaving the cursor after it.
    fn quoted(&mut self) -> Result<String, LangError> {
        let (text, end) = scan::quoted(self.text, self.at)?;
        self.at = end;
        Ok(text)
    }

    /// A word (see [`scan::word`]), leaving the cursor after it.
    fn word(&mut self, stop: fn(char) -> bool, field_names: bool) -> Word<'a> {
        let word = scan::word(self.text, self.at, stop, field_names);
        self.at = word.end;
        word
    }
}

fn make_bound(value: Option<Value>, included: bool) -> RangeBound {
    match value {
        None => RangeBound::Unbounded,
        Some(value) if included => RangeBound::Included(value),
        Some(value) => RangeBound::Excluded(value),
    }
}

fn field(name: &str, filter: FieldFilter) -> Query {
    Query::Field {
        name: name.to_owned(),
        filter,
    }
}

/// Builds an `And` (or an `Or`) of already-normalized children, splicing in
/// children of the same kind so `a AND (b AND c)` is one `And`.
fn join(children: Vec<Query>, and: bool) -> Query {
    let mut flat = Vec::with_capacity(children.len());
    for child in children {
        match child {
            Query::And(inner) if and => flat.extend(inner),
            Query::Or(inner) if !and => flat.extend(inner),
            other => flat.push(other),
        }
    }
    match flat.len() {
        1 => flat.pop().unwrap_or(Query::All),
        _ if and => Query::And(flat),
        _ => Query::Or(flat),
    }
}
