//! Carbon's pickle protocol, as carbon-relay and other relays forward
//! batches of points:
//!
//! ```text
//! <u32 big-endian length><pickle of [(path, (timestamp, value)), ...]>
//! ```
//! Cutting the stream into messages is [`crate::framing::Mode::LengthPrefixed`];
//! [`parse_message`] reads one message's payload, a pickle of any protocol
//! from 0 to 5, with a restricted unpickler that only builds plain data:
//! anything that would import, call or construct an object is refused (see
//! [`unpickler`]), and every size is bounded by [`Limits`].
//!
//! The batch may be a list or a tuple; each point a 2-item tuple or list
//! `(path, (timestamp, value))`, as Python's tuple unpacking in carbon
//! accepts. Paths are str or bytes (UTF-8), Graphite 1.1 tags included;
//! values int, float, bool or a numeric string; timestamps int, float
//! (floored) or a numeric string. Paths, tags, values and timestamps go
//! through the same checks as the plaintext protocol ([`crate::carbon`]), so
//! a point is accepted or refused for the same reason whichever way it came.
//! One more rule: spaces and tabs in paths are refused, since plaintext
//! could never address such a series.
//!
//! A message that is not a well-formed pickle of a batch is refused whole;
//! otherwise each point is accepted or refused on its own.
//!
//! Spec: <https://graphite.readthedocs.io/en/latest/feeding-carbon.html#the-pickle-protocol>;
//! opcodes: CPython's `Lib/pickletools.py`.

mod unpickler;

use crate::carbon::{self, CarbonLine};
use crate::ParseError;
use unpickler::Value;

/// Bounds on one message. The defaults take what carbon-relay sends (500
/// points per message) with wide margins, and any 1 MiB pickle of plain
/// points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Items in any one list, so points per message.
    pub max_points: usize,
    /// Values on the unpickler's stack plus open marks. Python's pickler
    /// appends in batches of 1000 items.
    pub max_stack: usize,
    /// Memo keys (they index a vector: Python numbers them from 0).
    /// Python memoizes about three objects per point.
    pub max_memo: usize,
    /// Bytes in one string argument (and one protocol 0 text argument).
    pub max_string_len: usize,
    /// Containers within containers; a batch needs 3.
    pub max_nesting: usize,
    /// Total bytes of the accepted points' paths: GET can repeat one long
    /// path many times without the message growing.
    pub max_decoded_bytes: usize,
    /// List items copied because a memoized list was appended to.
    pub max_copied: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_points: 65_536,
            max_stack: 65_536,
            max_memo: 4 * 65_536,
            max_string_len: 64 * 1024,
            max_nesting: 32,
            max_decoded_bytes: 8 * 1024 * 1024,
            max_copied: 4 * 65_536,
        }
    }
}

/// A point of a pickled batch. It owns its text: pickled strings can be
/// escaped, so they are not always a slice of the input.
#[derive(Debug, Clone, PartialEq)]
pub struct PicklePoint {
    /// `path[;tags]` as sent, validated.
    full_path: String,
    /// Where the path ends in `full_path`.
    path_len: usize,
    pub value: f64,
    /// Unix seconds.
    pub timestamp: i64,
}

impl PicklePoint {
    /// The path without its tags.
    pub fn path(&self) -> &str {
        self.line().path
    }

    /// Tags as `(name, value)`, in the order sent.
    pub fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.line().tags()
    }

    /// The point as the plaintext parser would have returned it, so both
    /// protocols share the code that stores points.
    pub fn line(&self) -> CarbonLine<'_> {
        let path = self.full_path.get(..self.path_len).unwrap_or_default();
        let tags = self.full_path.get(self.path_len + 1..).unwrap_or_default();
        CarbonLine {
            path,
            value: self.value,
            timestamp: self.timestamp,
            tags,
        }
    }
}

/// A refused item of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BadPoint {
    pub error: ParseError,
    /// A short Python-like rendering of the item, for logs; empty after the
    /// first few bad points of a message.
    pub sample: String,
}

/// Bad points per message that get a rendered sample.
const SAMPLES_PER_MESSAGE: usize = 8;
/// Longest rendered sample, in bytes (plus an ellipsis).
const SAMPLE_LEN: usize = 160;

/// One message's points, each accepted or refused on its own.
pub type Points = Vec<Result<PicklePoint, BadPoint>>;

/// Parses one message payload (without its length prefix) with the
/// default [`Limits`].
pub fn parse_message(payload: &[u8]) -> Result<Points, ParseError> {
    parse_message_with(payload, &Limits::default())
}

/// Parses one message payload: an error when the pickle itself is refused,
/// else one result per item of the batch, in order.
pub fn parse_message_with(payload: &[u8], limits: &Limits) -> Result<Points, ParseError> {
    let batch = unpickler::unpickle(payload, limits)?;
    let (Value::List(seq) | Value::Tuple(seq)) = &batch else {
        return Err(ParseError::PickleMalformed {
            what: "the pickle is not a list of points",
            offset: 0,
        });
    };
    if seq.items.len() > limits.max_points {
        return Err(ParseError::PickleTooLarge {
            what: "items per list",
            limit: limits.max_points,
        });
    }
    let mut decoded = 0usize;
    let mut points = Vec::with_capacity(seq.items.len());
    let mut samples = 0;
    for item in &seq.items {
        match point(item) {
            Ok(point) => {
                // Counted before the path is copied out of the pickle.
                decoded = decoded.saturating_add(point.full_path.len());
                if decoded > limits.max_decoded_bytes {
                    return Err(ParseError::PickleTooLarge {
                        what: "decoded path bytes",
                        limit: limits.max_decoded_bytes,
                    });
                }
                points.push(Ok(point.into_point()));
            }
            Err(error) => {
                let mut sample = String::new();
                if samples < SAMPLES_PER_MESSAGE {
                    samples += 1;
                    describe(item, &mut sample);
                }
                points.push(Err(BadPoint { error, sample }));
            }
        }
    }
    Ok(points)
}

/// A validated point still borrowing from the unpickled value.
struct Borrowed<'v> {
    full_path: &'v str,
    path_len: usize,
    value: f64,
    timestamp: i64,
}

impl Borrowed<'_> {
    fn into_point(self) -> PicklePoint {
        PicklePoint {
            full_path: self.full_path.to_owned(),
            path_len: self.path_len,
            value: self.value,
            timestamp: self.timestamp,
        }
    }
}

/// Checks one item in the plaintext parser's order: path, tags, value,
/// timestamp.
fn point(item: &Value) -> Result<Borrowed<'_>, ParseError> {
    let (path, datapoint) = pair(item).ok_or(ParseError::BadPoint)?;
    let (timestamp, value) = pair(datapoint).ok_or(ParseError::BadPoint)?;
    let full_path = match path {
        Value::Text(text) => text,
        Value::Bytes(bytes) => std::str::from_utf8(bytes).map_err(|_| ParseError::NotUtf8)?,
        Value::BadText => return Err(ParseError::NotUtf8),
        _ => return Err(ParseError::BadName),
    };
    // Plaintext splits fields on these, so it could never send them.
    if full_path.contains([' ', '\t']) {
        return Err(ParseError::BadName);
    }
    let (path, _tags) = carbon::split_path(full_path)?;
    let value = match value {
        Value::Int(int) => carbon::finite_value(*int as f64)?,
        Value::BigInt(float) | Value::Float(float) => carbon::finite_value(*float)?,
        Value::Bool(flag) => f64::from(u8::from(*flag)),
        Value::Text(text) => carbon::parse_value(text)?,
        Value::Bytes(bytes) => std::str::from_utf8(bytes)
            .map_err(|_| ParseError::BadValue)
            .and_then(carbon::parse_value)?,
        _ => return Err(ParseError::BadValue),
    };
    let timestamp = match timestamp {
        Value::Int(int) => carbon::whole_seconds(*int)?,
        Value::BigInt(float) | Value::Float(float) => carbon::float_seconds(*float)?,
        // Carbon reads timestamps with float(), which takes booleans.
        Value::Bool(flag) => i64::from(*flag),
        Value::Text(text) => carbon::parse_timestamp(text)?,
        Value::Bytes(bytes) => std::str::from_utf8(bytes)
            .map_err(|_| ParseError::BadTimestamp)
            .and_then(carbon::parse_timestamp)?,
        _ => return Err(ParseError::BadTimestamp),
    };
    Ok(Borrowed {
        full_path,
        path_len: path.len(),
        value,
        timestamp,
    })
}

/// The two items of a 2-tuple or 2-item list.
fn pair(value: &Value) -> Option<(&Value, &Value)> {
    match value {
        Value::List(seq) | Value::Tuple(seq) => match seq.items.as_slice() {
            [first, second] => Some((first, second)),
            _ => None,
        },
        _ => None,
    }
}

/// Renders `value` roughly as Python's `repr`, stopping near
/// [`SAMPLE_LEN`]. Every visit writes at least one byte before going
/// deeper, so shared (memoized) values cannot make this walk long.
fn describe(value: &Value, out: &mut String) {
    use std::fmt::Write as _;
    if out.len() >= SAMPLE_LEN {
        if !out.ends_with('…') {
            out.push('…');
        }
        return;
    }
    // Writing to a String cannot fail.
    let _ = match value {
        Value::None => write!(out, "None"),
        Value::Bool(true) => write!(out, "True"),
        Value::Bool(false) => write!(out, "False"),
        Value::Int(int) => write!(out, "{int}"),
        Value::BigInt(float) | Value::Float(float) => write!(out, "{float:?}"),
        Value::Text(text) => {
            let shown: String = text.chars().take(SAMPLE_LEN).collect();
            write!(out, "'{}'", shown.escape_debug())
        }
        Value::BadText => write!(out, "<text that is not UTF-8>"),
        Value::Bytes(bytes) => {
            let shown = bytes.get(..SAMPLE_LEN).unwrap_or(bytes);
            write!(out, "b'{}'", shown.escape_ascii())
        }
        Value::List(seq) => describe_items(&seq.items, ('[', ']'), out),
        Value::Tuple(seq) => describe_items(&seq.items, ('(', ')'), out),
    };
}

fn describe_items(
    items: &[Value],
    (open, close): (char, char),
    out: &mut String,
) -> std::fmt::Result {
    out.push(open);
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        describe(item, out);
        if out.len() >= SAMPLE_LEN {
            break;
        }
    }
    out.push(close);
    Ok(())
}

#[cfg(test)]
mod tests;
