//! The log search language: what users type in the search box, parsed into
//! a [`Query`] tree that the evaluator turns into an index query. Pure: no
//! index, schema or clock here, so it can be tested (and fuzzed) alone.
//!
//! ```text
//! level:error (timeout OR "connection reset") -service:health http.status:>=500
//!   -> And[ level:error,
//!           Or[ Term "timeout", Phrase "connection reset" ],
//!           Not service:health,
//!           http.status >= 500 ]
//! ```
//!
//! # Grammar
//!
//! ```text
//! query   = ws* [ or ws* ]                   (empty input means All)
//! or      = and ( "OR" and )*
//! and     = unary ( ["AND"] unary )*         (juxtaposition is AND)
//! unary   = "NOT" unary | "-" primary | primary
//! primary = "(" or ")" | phrase | word | field
//! field   = name ":" value                   (no space after the colon)
//! value   = "(" or ")"                       (the field applies to each leaf)
//!         | phrase | "*" | word | word "*"
//!         | (">" | ">=" | "<" | "<=") (phrase | word)
//!         | ("[" | "{") ws* bound ws* "TO" ws* bound ws* ("]" | "}")
//! bound   = "*" | phrase | word
//! name    = (letter | digit | "_" | "." | "-" | "@")+
//! ```
//!
//! - `AND`, `OR`, `NOT` and `TO` are keywords only in uppercase; `and` is a
//!   plain word. Precedence is NOT, then AND (explicit or implicit), then OR.
//! - A word ends at whitespace, `(`, `)` or `"`. Inside a word a backslash
//!   takes the next character literally (`http\://x`, `\-1`, `\AND`), as in
//!   Lucene, so a bare `C:\logs` loses its backslash. In quotes only `\"`
//!   and `\\` are escapes, so `"C:\logs"` means what it says.
//! - `*` is a wildcard only at the end of a word (`time*`); alone it is
//!   [`Query::All`], and `field:*` is [`FieldFilter::Exists`]. A `*` anywhere
//!   else is an error rather than a silent literal; `\*` is a literal star.
//! - In a top-level word the first unescaped `:` after a valid field name
//!   makes it a field filter, so `12:30` is the field `12`; quote it to
//!   search the text. Later colons belong to the value (`time:12:30`).
//! - Inside `field:( ... )` every leaf is a value for that field; `-x`
//!   there is a negation, so write `field:\-1` or `field:"-1"` for a
//!   negative number in a group (outside one, `field:-1` is fine).
//!
//! Terms and values are kept exactly as typed: case folding, tokenizing and
//! deciding what `Exact` means for a text field (a phrase) versus a keyword
//! field (equality) are the evaluator's job, which knows the schema.
//!
//! # Layout
//! - `lang.rs`: the tree, the error, the limits and [`parse`]
//! - `lang/parser.rs`: the recursive-descent parser
//! - `lang/scan.rs`: one word or quoted string at a time, escapes resolved
//! - `lang/display.rs`: the canonical printer, which parses back to the same
//!   tree
//!
//! **Invariant:** [`parse`] never panics; every error's position is a char
//! boundary of the input, at most its length. Hostile input is bounded by
//! [`MAX_QUERY_BYTES`], [`MAX_DEPTH`] and [`MAX_CLAUSES`].

mod display;
mod parser;
mod scan;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

/// Longest query accepted, in bytes. A search box query is a line, not a
/// document; the bound keeps parsing and the evaluator's work small.
pub const MAX_QUERY_BYTES: usize = 4096;

/// Deepest nesting accepted, counting each parenthesis and each `NOT`/`-`,
/// so neither the parser nor anything walking the tree can blow the stack.
pub const MAX_DEPTH: usize = 32;

/// Most leaf clauses (terms, phrases, field filters, `*`) in one query, so
/// a query cannot expand into an expensive index query. The leaves of
/// `field:(a OR b)` count once per value.
pub const MAX_CLAUSES: usize = 256;

/// A parsed query.
///
/// Invariant (for trees from [`parse`], and after [`Query::normalize`]):
/// `And` and `Or` have at least two children and none of the same kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Matches every record: empty input or a lone `*`.
    All,
    /// A full-text word, as typed (`timeout`).
    Term(String),
    /// A full-text word prefix, without the star (`time*` is `"time"`).
    Prefix(String),
    /// Full-text words in this order (`"disk full"`), escapes resolved.
    Phrase(String),
    /// A condition on one field (`http.status:>=500`).
    Field {
        /// As typed: letters, digits, `_ . - @`, never starting with `-`.
        name: String,
        filter: FieldFilter,
    },
    /// Every child matches.
    And(Vec<Query>),
    /// At least one child matches.
    Or(Vec<Query>),
    /// The child does not match. `NOT x` alone is kept as `Not(x)`; the
    /// evaluator reads it as "everything except x".
    Not(Box<Query>),
}

/// What a [`Query::Field`] asks of its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldFilter {
    /// `field:value` or `field:"value"`.
    Exact(String),
    /// `field:val*`, without the star.
    Prefix(String),
    /// `field:*`: the field is present.
    Exists,
    /// `field:>n`, `field:>=n`, `field:<n`, `field:<=n`.
    Compare {
        op: CompareOp,
        /// The operand after the operator.
        value: Value,
    },
    /// `field:[a TO b]` (inclusive), `field:{a TO b}` (exclusive), or mixed.
    Range {
        /// Next to the opening bracket.
        lower: RangeBound,
        /// Next to the closing bracket.
        upper: RangeBound,
    },
}

/// The operator of a [`FieldFilter::Compare`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CompareOp {
    /// The operator as typed.
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

/// One end of a [`FieldFilter::Range`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeBound {
    /// `*`: no limit on this side.
    Unbounded,
    /// Written next to `[` or `]`.
    Included(Value),
    /// Written next to `{` or `}`.
    Excluded(Value),
}

/// A comparison or range operand: the text as typed, and its number when it
/// is one. Both are kept because only the evaluator knows whether the field
/// holds numbers, timestamps or text.
///
/// Invariant: `number` is always the finite `f64` that `raw` spells, or
/// `None`; the fields are private so the two cannot disagree.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    raw: String,
    number: Option<f64>,
}

// `number` is never NaN (only finite numbers are kept), so equality is
// reflexive and `Eq` is sound.
impl Eq for Value {}

impl Value {
    /// The operand `raw`, read as a number if it spells a finite one.
    pub fn new(raw: impl Into<String>) -> Value {
        let raw = raw.into();
        // Rust also reads "inf", "NaN" and "1e999" (infinity) as floats;
        // none of them is a useful bound, so they stay text.
        let number = raw.trim().parse::<f64>().ok().filter(|n| n.is_finite());
        Value { raw, number }
    }

    /// The operand as typed (escapes and quotes resolved).
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The operand as a number, if it is a finite one.
    pub fn number(&self) -> Option<f64> {
        self.number
    }
}

/// Why a query could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at {position}: {message}")]
pub struct LangError {
    /// Byte offset into the input, on a char boundary; equal to the input
    /// length when the query ended too early.
    pub position: usize,
    /// Lowercase, no trailing period; shown to the user as is.
    pub message: String,
}

/// Parses a search box query. Whitespace-only input is [`Query::All`].
///
/// # Errors
///
/// A [`LangError`] pointing at the first thing that does not fit the
/// grammar, or at the clause that went over one of the limits.
pub fn parse(input: &str) -> Result<Query, LangError> {
    parser::parse(input)
}

impl Query {
    /// Flattens nested `And`/`Or` of the same kind, replaces an `And` or
    /// `Or` of one child by the child, and an empty `And` by `All`. Trees
    /// from [`parse`] are already normalized; this is for trees built in
    /// code (an empty `Or`, which matches nothing, is left as it is).
    pub fn normalize(self) -> Query {
        match self {
            Query::And(children) => match flatten(children, true) {
                mut children if children.len() <= 1 => children.pop().unwrap_or(Query::All),
                children => Query::And(children),
            },
            Query::Or(children) => match flatten(children, false) {
                mut children if children.len() == 1 => children.pop().unwrap_or(Query::All),
                children => Query::Or(children),
            },
            Query::Not(child) => Query::Not(Box::new(child.normalize())),
            leaf => leaf,
        }
    }
}

/// Normalizes each child and splices the children of same-kind children
/// into the list.
fn flatten(children: Vec<Query>, and: bool) -> Vec<Query> {
    let mut flat = Vec::with_capacity(children.len());
    for child in children {
        match (child.normalize(), and) {
            (Query::And(inner), true) | (Query::Or(inner), false) => flat.extend(inner),
            (other, _) => flat.push(other),
        }
    }
    flat
}
