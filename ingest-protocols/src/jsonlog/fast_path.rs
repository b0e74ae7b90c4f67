//! The common JSON log line, read in one pass without building a tree.
//!
//! The general path ([`super::parse_tree`]) builds a `serde_json::Value`
//! (a `BTreeMap` per object), takes the well-known keys out of it, and
//! flattens the rest: on the benchmark's structlog lines that was most of
//! the log writer's time for a JSON line. Here the bytes are read once
//! into leaves, each with its dotted path and value, which are then sorted
//! by path: the same order the general path's map gives.
//!
//! This path gives exactly what the general path gives, or nothing: it
//! returns `None` whenever the line needs anything it does not do, and the
//! general path then decides. That is:
//! - anything that is not valid JSON (a lone surrogate, a control
//!   character in a string, trailing bytes...), and so every error;
//! - a duplicate name, or two leaves with one dotted path (the general
//!   path keeps the copies in the overflow field);
//! - a leaf past a cap, an empty name, a leaf named [`OVERFLOW_FIELD`];
//! - an object at a level or timestamp key (loguru's `{"name": "INFO",
//!   ...}`), which the general path reads whole, and loguru's `{"text",
//!   "record"}` wrapper. An object elsewhere is only leaves: the general
//!   path finds `service.name` in `{"service": {"name": ...}}` as this one
//!   finds the leaf of that path, and removing it and the parents it
//!   empties leaves what removing the leaf leaves;
//! - any key where [`super::exception::detect`] looks for an exception;
//! - nesting deeper than [`MAX_DEPTH`].
//!
//! A property test and the `jsonlog` fuzz target check that both paths
//! agree wherever this one answers.

use std::borrow::Cow;

use serde_json::{Number, Value};

use super::flatten::{number_field, OVERFLOW_FIELD};
use super::{
    level, time, FieldValue, JsonLogLimits, JsonLogLine, Level, LEVEL_KEYS, TIMESTAMP_KEYS,
};

/// Deepest nesting read here, well inside serde_json's limit of 128, so
/// nothing this path accepts is refused there for its depth.
const MAX_DEPTH: usize = 64;

/// Where [`super::exception::detect`] looks, as dotted leaf paths; a path
/// under `exception.` counts too (an object there).
const EXCEPTION_PATHS: &[&str] = &[
    "exception",
    "exc_info",
    "err.stack",
    "error.stack",
    "error.stack_trace",
    "stack",
    "stacktrace",
    "stack_trace",
];

/// The line `text` (already trimmed), if this path can read it.
pub(super) fn parse(text: &str, limits: &JsonLogLimits, invalid_utf8: bool) -> Option<JsonLogLine> {
    let mut scanner = Scanner { text, at: 0 };
    if scanner.peek()? != b'{' {
        return None;
    }
    scanner.at += 1;
    let mut leaves = Vec::with_capacity(16);
    let members = scanner.object_members(None, 1, &mut leaves)?;
    scanner.skip_whitespace();
    if scanner.at != text.len() {
        return None;
    }
    if members.loguru_shape() {
        return None;
    }
    leaves.sort_unstable_by(|left, right| left.path.cmp(&right.path));
    if leaves
        .windows(2)
        .any(|pair| matches!(pair, [left, right] if left.path == right.path))
    {
        return None;
    }

    let mut well_known = WellKnown::among(&leaves);
    let timestamp_unix_nanos = well_known.take(TIMESTAMP, &leaves, |value| match value {
        Scalar::Text(text) => time::from_text(text),
        Scalar::Number(number) => time::from_number(number),
        _ => None,
    });
    let level = well_known.take(LEVEL, &leaves, level_of);
    let message = well_known.take(MESSAGE, &leaves, |value| match value {
        Scalar::Text(text) => Some(text.trim_end_matches(['\n', '\r']).to_owned()),
        _ => None,
    });
    let service = well_known.take(SERVICE, &leaves, non_empty_text);
    let host = well_known.take(HOST, &leaves, non_empty_text);
    // What was taken is not also a field.
    if well_known.taken.iter().any(Option::is_some) {
        let mut index = 0;
        leaves.retain(|_| {
            index += 1;
            !well_known.taken.contains(&Some(index - 1))
        });
    }

    let declined = leaves.len() > limits.max_fields
        || leaves.iter().any(|leaf| {
            let path = leaf.path.as_str();
            path.len() > limits.max_field_name_len
                || path == OVERFLOW_FIELD
                || EXCEPTION_PATHS.contains(&path)
                || path.starts_with("exception.")
        });
    if declined {
        return None;
    }
    let fields = leaves
        .into_iter()
        .map(|leaf| (leaf.path, leaf.value.into_field()))
        .collect();
    Some(JsonLogLine {
        timestamp_unix_nanos,
        level,
        message,
        service,
        host,
        fields,
        exception: None,
        parse_error: None,
        invalid_utf8,
    })
}

/// One leaf: a value that is not a non-empty object, under its dotted
/// path.
struct Leaf<'a> {
    path: String,
    value: Scalar<'a>,
}

enum Scalar<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Text(Cow<'a, str>),
    /// An array or an empty object, as compact JSON text.
    Json(String),
}

impl Scalar<'_> {
    /// As [`super::flatten`] converts a `Value`.
    fn into_field(self) -> FieldValue {
        match self {
            Scalar::Null => FieldValue::Null,
            Scalar::Bool(flag) => FieldValue::Bool(flag),
            Scalar::Number(number) => number_field(&number),
            Scalar::Text(text) => FieldValue::Text(text.into_owned()),
            Scalar::Json(json) => FieldValue::Json(json),
        }
    }
}

fn level_of(value: &Scalar<'_>) -> Option<Level> {
    match value {
        Scalar::Text(text) => level::from_text(text),
        Scalar::Number(number) => level::from_number(number.as_u64()?),
        _ => None,
    }
}

fn non_empty_text(value: &Scalar<'_>) -> Option<String> {
    match value {
        Scalar::Text(text) if !text.trim().is_empty() => Some(text.clone().into_owned()),
        _ => None,
    }
}

const TIMESTAMP: usize = 0;
const LEVEL: usize = 1;
const MESSAGE: usize = 2;
const SERVICE: usize = 3;
const HOST: usize = 4;

/// Which list of well-known keys `path` is in, and its rank there (the
/// lists in `super`, `TIMESTAMP_KEYS`...). Only top-level members can be
/// one: an object under a well-known name declines the line.
fn well_known_key(path: &str) -> Option<(usize, usize)> {
    let found = match path {
        "timestamp" => (TIMESTAMP, 0),
        "@timestamp" => (TIMESTAMP, 1),
        "time" => (TIMESTAMP, 2),
        "ts" => (TIMESTAMP, 3),
        "date" => (TIMESTAMP, 4),
        "level" => (LEVEL, 0),
        "severity" => (LEVEL, 1),
        "levelname" => (LEVEL, 2),
        "log.level" => (LEVEL, 3),
        "message" => (MESSAGE, 0),
        "msg" => (MESSAGE, 1),
        "event" => (MESSAGE, 2),
        "log" => (MESSAGE, 3),
        "service" => (SERVICE, 0),
        "service.name" => (SERVICE, 1),
        "app" => (SERVICE, 2),
        "appname" => (SERVICE, 3),
        "logger" => (SERVICE, 4),
        "logger_name" => (SERVICE, 5),
        "host" => (HOST, 0),
        "hostname" => (HOST, 1),
        "host.name" => (HOST, 2),
        "host.hostname" => (HOST, 3),
        _ => return None,
    };
    Some(found)
}

/// The leaves at each well-known key, and those taken.
#[derive(Default)]
struct WellKnown {
    candidates: [[Option<usize>; 6]; 5],
    taken: [Option<usize>; 5],
}

impl WellKnown {
    fn among(leaves: &[Leaf<'_>]) -> WellKnown {
        let mut well_known = WellKnown::default();
        for (index, leaf) in leaves.iter().enumerate() {
            let Some((kind, rank)) = well_known_key(&leaf.path) else {
                continue;
            };
            if let Some(slot) = well_known
                .candidates
                .get_mut(kind)
                .and_then(|ranks| ranks.get_mut(rank))
            {
                *slot = Some(index);
            }
        }
        well_known
    }

    /// The first key of list `kind`, in rank order, whose value `convert`
    /// accepts: marked taken, so it is not also a field.
    fn take<T>(
        &mut self,
        kind: usize,
        leaves: &[Leaf<'_>],
        convert: impl Fn(&Scalar<'_>) -> Option<T>,
    ) -> Option<T> {
        let candidates = self.candidates.get(kind)?;
        let (index, converted) = candidates
            .iter()
            .flatten()
            .find_map(|&index| Some((index, convert(&leaves.get(index)?.value)?)))?;
        if let Some(taken) = self.taken.get_mut(kind) {
            *taken = Some(index);
        }
        Some(converted)
    }
}

/// What the top-level object's members tell about the line's shape.
#[derive(Default)]
struct Members {
    count: usize,
    text: bool,
    record: bool,
}

impl Members {
    fn loguru_shape(&self) -> bool {
        self.count == 2 && self.text && self.record
    }
}

/// Whether a member holding an object shares its name with another
/// member of the object under `parent`, whose leaves are `leaves`.
fn repeats_a_nested_name(
    nested: &[Cow<'_, str>],
    parent: Option<&str>,
    leaves: &[Leaf<'_>],
) -> bool {
    let leaf_named = |name: &str| {
        leaves.iter().any(|leaf| match parent {
            None => leaf.path == name,
            Some(parent) => {
                leaf.path.len() == parent.len() + 1 + name.len()
                    && leaf.path.starts_with(parent)
                    && leaf.path.ends_with(name)
                    && leaf.path.as_bytes().get(parent.len()) == Some(&b'.')
            }
        })
    };
    nested.iter().enumerate().any(|(index, name)| {
        nested.iter().skip(index + 1).any(|other| other == name) || leaf_named(name)
    })
}

/// Whether an object at `path` is one the general path converts whole:
/// one at a level or timestamp key (loguru's level and time objects).
/// No well-known key lies under these, so such an object's leaves would
/// stay fields here while the general path takes it: declined.
fn is_read_whole(path: &str) -> bool {
    LEVEL_KEYS.contains(&path) || TIMESTAMP_KEYS.contains(&path)
}

struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// The members of an object whose `{` was just read, as leaves under
    /// `parent`.
    fn object_members(
        &mut self,
        parent: Option<&str>,
        depth: usize,
        leaves: &mut Vec<Leaf<'a>>,
    ) -> Option<Members> {
        let mut members = Members::default();
        // A repeated name is a repeated leaf path, which `parse` declines,
        // unless an object holds one of them (`{"a":[1],"a":{"b":2}}`,
        // where serde_json keeps only the last): those names are checked
        // here. Rare, so the list does not allocate otherwise.
        let first_leaf = leaves.len();
        let mut nested: Vec<Cow<'a, str>> = Vec::new();
        self.skip_whitespace();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(members);
        }
        loop {
            self.skip_whitespace();
            if self.peek()? != b'"' {
                return None;
            }
            self.at += 1;
            let name = self.string()?;
            if name.is_empty() {
                return None;
            }
            self.skip_whitespace();
            if self.peek()? != b':' {
                return None;
            }
            self.at += 1;
            self.skip_whitespace();
            let path = match parent {
                None => name.as_ref().to_owned(),
                Some(parent) => format!("{parent}.{name}"),
            };
            if parent.is_none() {
                members.count += 1;
                members.text |= name == "text";
                members.record |= name == "record";
            }
            let value = match self.peek()? {
                b'{' => {
                    self.at += 1;
                    self.skip_whitespace();
                    if self.peek()? == b'}' {
                        self.at += 1;
                        Some(Scalar::Json("{}".to_owned()))
                    } else if depth >= MAX_DEPTH || is_read_whole(&path) {
                        return None;
                    } else {
                        // Its leaves go under its path; it is none itself.
                        self.object_members(Some(&path), depth + 1, leaves)?;
                        nested.push(name.clone());
                        None
                    }
                }
                b'[' => Some(Scalar::Json(self.array(depth)?)),
                b'"' => {
                    self.at += 1;
                    Some(Scalar::Text(self.string()?))
                }
                b't' => Some(self.literal("true", Scalar::Bool(true))?),
                b'f' => Some(self.literal("false", Scalar::Bool(false))?),
                b'n' => Some(self.literal("null", Scalar::Null)?),
                b'-' | b'0'..=b'9' => Some(Scalar::Number(self.number()?)),
                _ => return None,
            };
            if let Some(value) = value {
                leaves.push(Leaf { path, value });
            }
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    let repeated = !nested.is_empty()
                        && repeats_a_nested_name(
                            &nested,
                            parent,
                            leaves.get(first_leaf..).unwrap_or_default(),
                        );
                    return (!repeated).then_some(members);
                }
                _ => return None,
            }
        }
    }

    fn literal(&mut self, word: &str, value: Scalar<'a>) -> Option<Scalar<'a>> {
        let end = self.at + word.len();
        if self.text.as_bytes().get(self.at..end)? != word.as_bytes() {
            return None;
        }
        self.at = end;
        Some(value)
    }

    /// A string whose opening quote was just read; borrowed unless it has
    /// escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        loop {
            match *bytes.get(self.at)? {
                b'"' => {
                    let text = self.text.get(start..self.at)?;
                    self.at += 1;
                    return Some(Cow::Borrowed(text));
                }
                b'\\' => break,
                0..=0x1f => return None,
                _ => self.at += 1,
            }
        }
        let mut owned = self.text.get(start..self.at)?.to_owned();
        loop {
            match *bytes.get(self.at)? {
                b'"' => {
                    self.at += 1;
                    return Some(Cow::Owned(owned));
                }
                b'\\' => {
                    self.at += 1;
                    let escaped = *bytes.get(self.at)?;
                    self.at += 1;
                    owned.push(match escaped {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    });
                }
                0..=0x1f => return None,
                _ => {
                    let run = self.at;
                    while !matches!(bytes.get(self.at), None | Some(b'"' | b'\\' | 0..=0x1f)) {
                        self.at += 1;
                    }
                    owned.push_str(self.text.get(run..self.at)?);
                }
            }
        }
    }

    /// The character of a `\u` escape whose `u` was just read: a pair of
    /// escapes for a character past the BMP. A lone surrogate declines.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.text.as_bytes().get(self.at..self.at + 2)? != b"\\u" {
                    return None;
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return None;
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return None,
            _ => first,
        };
        char::from_u32(code)
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.as_bytes().get(self.at..self.at + 4)?;
        let mut code = 0u32;
        for &digit in digits {
            code = code * 16 + char::from(digit).to_digit(16)?;
        }
        self.at += 4;
        Some(code)
    }

    /// A number: plain integers of up to 18 digits here, anything else
    /// (fractions, exponents, longer integers, `-0`) by serde_json, so
    /// every number reads exactly as the general path reads it.
    fn number(&mut self) -> Option<Number> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let digits = self.at;
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.skip_digits(),
            _ => return None,
        }
        let integer_digits = self.at - digits;
        let mut plain = true;
        if self.peek() == Some(b'.') {
            self.at += 1;
            plain = false;
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.skip_digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            plain = false;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.skip_digits();
        }
        let token = self.text.get(start..self.at)?;
        let negative_zero = token.starts_with("-0") && integer_digits == 1;
        if plain && integer_digits <= 18 && !negative_zero {
            return token.parse::<i64>().ok().map(Number::from);
        }
        serde_json::from_str(token).ok()
    }

    fn skip_digits(&mut self) {
        while self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
            self.at += 1;
        }
    }

    /// An array whose `[` is next, as the compact JSON text the general
    /// path keeps: serde_json reads it, so that text is its own.
    fn array(&mut self, depth: usize) -> Option<String> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let mut nesting = 0usize;
        loop {
            match *bytes.get(self.at)? {
                b'"' => {
                    self.at += 1;
                    loop {
                        match *bytes.get(self.at)? {
                            b'"' => break,
                            b'\\' => self.at += 2,
                            _ => self.at += 1,
                        }
                    }
                }
                b'[' | b'{' => {
                    nesting += 1;
                    if depth + nesting > MAX_DEPTH {
                        return None;
                    }
                }
                b']' | b'}' => {
                    nesting = nesting.checked_sub(1)?;
                    if nesting == 0 {
                        self.at += 1;
                        break;
                    }
                }
                _ => {}
            }
            self.at += 1;
        }
        let value: Value = serde_json::from_str(self.text.get(start..self.at)?).ok()?;
        Some(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::super::{HOST_KEYS, MESSAGE_KEYS, SERVICE_KEYS};
    use super::*;

    const LIMITS: JsonLogLimits = JsonLogLimits {
        max_fields: 100,
        max_field_name_len: 128,
    };

    fn both(text: &str, limits: &JsonLogLimits) -> (Option<JsonLogLine>, JsonLogLine) {
        let text = super::super::trim(text);
        (
            parse(text, limits, false),
            super::super::parse_tree(text, limits, false),
        )
    }

    /// Debug text tells `-0.0` from `0.0`, which `==` does not.
    fn same(fast: &JsonLogLine, general: &JsonLogLine) -> bool {
        format!("{fast:?}") == format!("{general:?}")
    }

    #[test]
    fn common_lines_take_the_fast_path_and_read_as_the_general_path_reads_them() {
        let lines = [
            r#"{"event":"request finished","level":"info","service":"api","timestamp":"2026-11-23T06:22:05.858277Z","host":"api-7d9f8b6c4-608e2","request_id":"3eea755f-957c-498c-afce-8c120fe395ba","status":200,"duration_ms":470.033,"http.user_agent":"curl/8.5.0"}"#,
            r#"{"level":30,"time":1795346300123,"pid":7,"hostname":"web-1","req":{"method":"GET","url":"/a?b=1","headers":{"x-id":"7"}},"msg":"request completed","tags":["a",1,{"z":1,"y":[]}],"empty":{}}"#,
            r#" { "msg" : "caf\u00e9 \ud83d\ude00 \"quoted\"\n\/" , "n" : -12 , "big" : 18446744073709551615 , "f" : 1e3 , "nz" : -0 , "ok" : true , "none" : null } "#,
            r#"{"ts":1795346300.12,"severity":"WARNING","app":"  ","logger":"billing","error":"ReadTimeout"}"#,
            r#"{"@timestamp":"2026-11-23T06:22:05Z","log.level":"warn","message":"m","service":{"name":"shop","version":"1.4"},"host":{"name":"web-1"},"ecs":{"version":"8.11"}}"#,
            r#"{"log":{"level":"error","origin":{"file":"a.py"}},"msg":["a"],"service":{"name":"  "}}"#,
            r#"{}"#,
        ];
        for line in lines {
            let (fast, general) = both(line, &LIMITS);
            let fast = fast.unwrap_or_else(|| panic!("declined: {line}"));
            assert!(same(&fast, &general), "{line}\n{fast:?}\n{general:?}");
        }
        let (fast, _) = both(lines[1], &LIMITS);
        let names: Vec<_> = fast.map_or_else(Vec::new, |line| {
            line.fields.into_iter().map(|(name, _)| name).collect()
        });
        assert_eq!(
            names,
            [
                "empty",
                "pid",
                "req.headers.x-id",
                "req.method",
                "req.url",
                "tags"
            ]
        );
    }

    #[test]
    fn what_only_the_general_path_does_is_declined() {
        let small = JsonLogLimits {
            max_fields: 2,
            max_field_name_len: 8,
        };
        let declined = [
            (r#"{"a":1,"a":2}"#, LIMITS),
            (r#"{"a.b":1,"a":{"b":2}}"#, LIMITS),
            (r#"{"a":1,"b":2,"c":3}"#, small),
            (r#"{"a_long_name":1}"#, small),
            (r#"{"_overflow":1}"#, LIMITS),
            (r#"{"":1}"#, LIMITS),
            (r#"{"a":{"":1}}"#, LIMITS),
            (r#"{"msg":"x","exception":"Traceback..."}"#, LIMITS),
            (
                r#"{"err":{"stack":"Error: x\n    at f (a.js:1:1)"}}"#,
                LIMITS,
            ),
            (r#"{"exception":{"type":"E"}}"#, LIMITS),
            (r#"{"text":"x","record":{"message":"y"}}"#, LIMITS),
            (r#"{"level":{"name":"INFO","no":20}}"#, LIMITS),
            (
                r#"{"time":{"repr":"2026-11-22 12:18:20","timestamp":1795346300.1}}"#,
                LIMITS,
            ),
            (r#"{"log":{"level":{"name":"WARN"}}}"#, LIMITS),
            (r#"{"msg":"\ud800"}"#, LIMITS),
            ("{\"msg\":\"tab\there\"}", LIMITS),
            (r#"{"a":1} x"#, LIMITS),
            (r#"{"a":01}"#, LIMITS),
            (r#"{"a":1e400}"#, LIMITS),
            (r#"[1]"#, LIMITS),
            (r#"{"a":1"#, LIMITS),
        ];
        for (line, limits) in declined {
            assert!(parse(line, &limits, false).is_none(), "{line}");
        }
    }

    #[test]
    fn the_well_known_table_is_the_lists_in_their_order() {
        let lists = [
            (TIMESTAMP, TIMESTAMP_KEYS),
            (LEVEL, LEVEL_KEYS),
            (MESSAGE, MESSAGE_KEYS),
            (SERVICE, SERVICE_KEYS),
            (HOST, HOST_KEYS),
        ];
        let mut listed = 0;
        for (kind, keys) in lists {
            for (rank, key) in keys.iter().enumerate() {
                assert_eq!(well_known_key(key), Some((kind, rank)), "{key}");
                listed += 1;
            }
        }
        assert_eq!(listed, 23);
        for other in ["Level", "levels", "service.", "host.name.x", "", "stack"] {
            assert_eq!(well_known_key(other), None, "{other}");
        }
    }

    /// A JSON value as the property tests write it.
    #[derive(Debug, Clone)]
    enum Json {
        /// Written as is: numbers, literals, odd or broken tokens.
        Raw(String),
        Text(String),
        Array(Vec<Json>),
        Object(Vec<(String, Json)>),
    }

    fn key() -> impl Strategy<Value = String> {
        let known = prop::sample::select(vec![
            "level",
            "msg",
            "message",
            "event",
            "log",
            "ts",
            "time",
            "timestamp",
            "@timestamp",
            "service",
            "service.name",
            "host",
            "host.name",
            "log.level",
            "logger",
            "exception",
            "exc_info",
            "stack",
            "err",
            "error",
            "error.stack",
            "text",
            "record",
            "extra",
            "_overflow",
            "",
            "a",
            "b",
            "a.b",
            "b.c",
            "status",
            "http.status",
            "name",
            "hostname",
            "repr",
            "no",
        ]);
        prop_oneof![
            3 => known.prop_map(str::to_owned),
            1 => "[abé\"\\\\.\u{1F600}]{1,4}",
        ]
    }

    fn leaf() -> impl Strategy<Value = Json> {
        let tokens = prop::sample::select(vec![
            "null",
            "true",
            "false",
            "0",
            "-0",
            "12",
            "-7",
            "1.5",
            "1e3",
            "1E+2",
            "-0.0",
            "2.5e-3",
            "123456789012345678",
            "1234567890123456789",
            "99999999999999999999",
            "-9223372036854775808",
            "9223372036854775808",
            "18446744073709551616",
            "1e400",
            "1795346300.123456",
            "1795346300123",
            "30",
            "0.1",
            "00",
            "1.",
            "-",
            "tru",
            "\"\\ud800\"",
            "\"\\udc00x\"",
            "\"\\ud83d\\ude00\"",
            "\"a\\u00E9\"",
            "\"\\q\"",
        ]);
        let texts = prop::sample::select(vec![
            "info",
            "WARNING",
            "error",
            "30",
            "2026-11-23T06:22:05.858277Z",
            "  ",
            "",
            "line\n",
            "Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: bad",
        ]);
        prop_oneof![
            2 => tokens.prop_map(|token| Json::Raw(token.to_owned())),
            1 => any::<i64>().prop_map(|number| Json::Raw(number.to_string())),
            1 => any::<f64>().prop_filter("finite", |number| number.is_finite())
                .prop_map(|number| Json::Raw(format!("{number:e}"))),
            2 => texts.prop_map(|text| Json::Text(text.to_owned())),
            2 => "[ -~é\u{1F600}\n\t\u{0}\u{1f}\u{7f}]{0,8}".prop_map(Json::Text),
        ]
    }

    fn value() -> impl Strategy<Value = Json> {
        leaf().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
                prop::collection::vec((key(), inner), 0..4).prop_map(Json::Object),
            ]
        })
    }

    /// How a sender writes its text: escaped as serde_json does, or with
    /// every non-ASCII character as `\u` escapes (Python's default), and
    /// with or without spaces.
    #[derive(Debug, Clone, Copy)]
    struct Style {
        ascii: bool,
        spaced: bool,
    }

    fn render(json: &Json, style: Style, out: &mut String) {
        let space = if style.spaced { " " } else { "" };
        match json {
            Json::Raw(token) => out.push_str(token),
            Json::Text(text) if style.ascii => {
                out.push('"');
                for character in text.chars() {
                    match character {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '/' => out.push_str("\\/"),
                        ' '..='~' => out.push(character),
                        _ => {
                            let mut units = [0u16; 2];
                            for unit in character.encode_utf16(&mut units) {
                                let _ = write!(out, "\\u{unit:04x}");
                            }
                        }
                    }
                }
                out.push('"');
            }
            Json::Text(text) => {
                out.push_str(&serde_json::to_string(text).unwrap_or_default());
            }
            Json::Array(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                        out.push_str(space);
                    }
                    render(item, style, out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                out.push_str(space);
                for (index, (name, member)) in members.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                        out.push_str(space);
                    }
                    render(&Json::Text(name.clone()), style, out);
                    out.push(':');
                    out.push_str(space);
                    render(member, style, out);
                }
                out.push_str(space);
                out.push('}');
            }
        }
    }

    fn line() -> impl Strategy<Value = (String, JsonLogLimits)> {
        (
            prop::collection::vec((key(), value()), 0..8),
            any::<bool>(),
            any::<bool>(),
            prop_oneof![
                Just(LIMITS),
                (1usize..6, 1usize..12).prop_map(|(fields, name)| {
                    JsonLogLimits {
                        max_fields: fields,
                        max_field_name_len: name,
                    }
                })
            ],
        )
            .prop_map(|(members, ascii, spaced, limits)| {
                let mut text = String::new();
                render(&Json::Object(members), Style { ascii, spaced }, &mut text);
                (text, limits)
            })
    }

    /// Runs `cases` lines through both paths; returns how many the fast
    /// path answered.
    fn differential(cases: u32, strategy: impl Strategy<Value = (String, JsonLogLimits)>) -> usize {
        let answered = std::cell::Cell::new(0usize);
        let mut runner = TestRunner::new(Config {
            cases,
            ..Config::default()
        });
        let result = runner.run(&strategy, |(text, limits)| {
            let (fast, general) = both(&text, &limits);
            if let Some(fast) = fast {
                answered.set(answered.get() + 1);
                prop_assert!(same(&fast, &general), "{}\n{:?}\n{:?}", text, fast, general);
            }
            Ok(())
        });
        if let Err(failure) = result {
            panic!("{failure}");
        }
        answered.get()
    }

    #[test]
    fn wherever_the_fast_path_answers_it_agrees_with_the_general_path() {
        let answered = differential(3000, line());
        // The test means little if the fast path declines nearly all.
        assert!(
            answered > 300,
            "the fast path answered only {answered} of 3000"
        );
    }

    /// Objects at and under the well-known keys, densely: ECS's
    /// `service.name`, loguru's level and time objects, `log.level`.
    #[test]
    fn nested_well_known_keys_agree() {
        fn key() -> impl Strategy<Value = String> {
            prop::sample::select(vec![
                "service",
                "host",
                "log",
                "level",
                "time",
                "timestamp",
                "name",
                "hostname",
                "repr",
                "msg",
                "service.name",
                "log.level",
                "origin",
            ])
            .prop_map(str::to_owned)
        }
        let value = leaf().prop_recursive(3, 16, 3, |inner| {
            prop::collection::vec((key(), inner), 0..3).prop_map(Json::Object)
        });
        let strategy = (prop::collection::vec((key(), value), 0..5), any::<bool>()).prop_map(
            |(members, spaced)| {
                let mut text = String::new();
                let style = Style {
                    ascii: false,
                    spaced,
                };
                render(&Json::Object(members), style, &mut text);
                (text, LIMITS)
            },
        );
        let answered = differential(3000, strategy);
        assert!(
            answered > 300,
            "the fast path answered only {answered} of 3000"
        );
    }

    #[test]
    fn damaged_lines_agree_too() {
        let damaged = (line(), any::<prop::sample::Index>(), any::<u8>(), 0u8..3).prop_map(
            |((text, limits), at, byte, how)| {
                let mut bytes = text.into_bytes();
                let at = at.index(bytes.len() + 1);
                match how {
                    0 => bytes.truncate(at),
                    1 => bytes.insert(at, byte),
                    _ => {
                        if at < bytes.len() {
                            bytes.remove(at);
                        }
                    }
                }
                (String::from_utf8_lossy(&bytes).into_owned(), limits)
            },
        );
        differential(3000, damaged);
    }
}
