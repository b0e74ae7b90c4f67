//! Tests of the pickle protocol: fixtures written by CPython's own pickle
//! module (see `tests/fixtures/pickle/generate.py`), hand-written edge
//! cases, and property tests over a test-side pickle writer.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use proptest::prelude::*;

const T: i64 = 1_700_000_000;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/pickle/",
            $name,
            ".pickle"
        ))
        .as_slice()
    };
}

/// A point as compared in tests: path, tags as sent (`a=b;c=d`), value,
/// timestamp; or the reason it was refused.
type Seen = Result<(String, String, f64, i64), ParseError>;

fn seen(points: &Points) -> Vec<Seen> {
    points
        .iter()
        .map(|point| match point {
            Ok(point) => {
                let tags: Vec<String> = point.tags().map(|(k, v)| format!("{k}={v}")).collect();
                Ok((
                    point.path().to_owned(),
                    tags.join(";"),
                    point.value,
                    point.timestamp,
                ))
            }
            Err(bad) => Err(bad.error.clone()),
        })
        .collect()
}

fn ok(path: &str, tags: &str, value: f64, timestamp: i64) -> Seen {
    Ok((path.to_owned(), tags.to_owned(), value, timestamp))
}

fn parse(payload: &[u8]) -> Vec<Seen> {
    seen(&parse_message(payload).unwrap())
}

/// `BATCH` of generate.py.
fn batch() -> Vec<Seen> {
    vec![
        ok("servers.web1.load", "", 0.42, T),
        ok("servers.web1.load", "", 1.0, T + 10),
        ok("disk.used", "host=web1;mount=/var", 91.5, T),
        // 2^64 + 1, as the nearest float.
        ok("big.counter", "", 2f64.powi(64), T),
        ok("neg.value", "", -5.0, T),
        ok("mid.int", "", 70_000.0, T),
        ok("small.int", "", 300.0, T),
        ok("numeric.string", "", 12.5, T),
        ok("café.temp", "", 21.0, T),
        ok("emoji.😀", "", 1.0, T),
        ok("back\\slash", "", 2.0, T),
        ok("flag.true", "", 1.0, T),
        ok("list.shape", "", 3.0, T),
        Err(ParseError::BadValue),
        Err(ParseError::NonFinite),
        Err(ParseError::BadName),
        Err(ParseError::BadPoint),
        Err(ParseError::BadTimestamp),
        Err(ParseError::BadTag),
        Err(ParseError::BadValue),
        Err(ParseError::BadPoint),
    ]
}

#[test]
fn cpython_batches_of_every_protocol() {
    let fixtures: [(&str, &[u8]); 9] = [
        ("py3 p0", fixture!("py3-batch-p0")),
        ("py3 p1", fixture!("py3-batch-p1")),
        ("py3 p2", fixture!("py3-batch-p2")),
        ("py3 p3", fixture!("py3-batch-p3")),
        ("py3 p4", fixture!("py3-batch-p4")),
        ("py3 p5", fixture!("py3-batch-p5")),
        ("py2 p0", fixture!("py2-batch-p0")),
        ("py2 p1", fixture!("py2-batch-p1")),
        ("py2 p2", fixture!("py2-batch-p2")),
    ];
    for (name, payload) in fixtures {
        assert_eq!(parse(payload), batch(), "{name}");
    }
}

#[test]
fn what_carbon_relay_sends() {
    let expected = vec![
        ok("carbon.agents.relay-a.metricsReceived", "", 12.0, T),
        ok("servers.web1.cpu.user", "", 3.25, T + 10),
        ok("servers.web1.cpu.system", "", 0.5, T + 20),
    ];
    assert_eq!(parse(fixture!("py3-carbon-relay-p2")), expected);
    assert_eq!(parse(fixture!("py2-carbon-relay-p2")), expected);
}

#[test]
fn cpython_edge_cases() {
    let mut expected = vec![
        ok("bytes.path", "", 1.0, T),
        ok(&format!("bytes.{}", "y".repeat(300)), "", 2.0, T),
        ok(&format!("long.{}", "x".repeat(300)), "", 3.0, T),
        ok("false.value", "", 0.0, T),
        Err(ParseError::BadPoint),
        Err(ParseError::BadPoint),
        Err(ParseError::NonFinite),
    ];
    for i in 0..100 {
        expected.push(ok(&format!("memo.{i:03}"), "", f64::from(i), T));
    }
    expected.push(ok("memo.099", "", 99.5, T + 1));
    let fixtures: [(&str, &[u8]); 6] = [
        ("py3 p3", fixture!("py3-edge-p3")),
        ("py3 p4", fixture!("py3-edge-p4")),
        ("py3 p5", fixture!("py3-edge-p5")),
        ("py2 p0", fixture!("py2-edge-p0")),
        ("py2 p1", fixture!("py2-edge-p1")),
        ("py2 p2", fixture!("py2-edge-p2")),
    ];
    for (name, payload) in fixtures {
        assert_eq!(parse(payload), expected, "{name}");
    }
}

#[test]
fn a_large_batch_across_append_batches_and_frames() {
    let points = parse(fixture!("py3-large-p4"));
    assert_eq!(points.len(), 2100);
    for (i, point) in (0i32..).zip(&points) {
        let expected = ok(
            &format!("large.series.{i:04}"),
            "",
            f64::from(i) * 0.5,
            T + i64::from(i),
        );
        assert_eq!(point, &expected);
    }
}

#[test]
fn objects_and_calls_are_refused_by_opcode() {
    let cases: [(&[u8], &str); 5] = [
        (fixture!("py3-exploit-p0"), "GLOBAL"),
        (fixture!("py3-exploit-p2"), "GLOBAL"),
        (fixture!("py3-exploit-p4"), "STACK_GLOBAL"),
        (fixture!("py3-decimal-p2"), "GLOBAL"),
        (fixture!("py3-dict-p2"), "EMPTY_DICT"),
    ];
    for (payload, expected) in cases {
        let error = parse_message(payload).unwrap_err();
        assert!(
            matches!(error, ParseError::PickleOpcode { name, .. } if name == expected),
            "{error:?}"
        );
        assert_eq!(error.reason(), "pickle_opcode");
        assert!(error.to_string().contains(expected), "{error}");
    }
    // The offset names the opcode: `c` of `cposix\nsystem`.
    assert_eq!(
        parse_message(fixture!("py3-exploit-p0")).unwrap_err(),
        ParseError::PickleOpcode {
            opcode: b'c',
            name: "GLOBAL",
            offset: 27
        }
    );
}

#[test]
fn bad_points_carry_a_sample() {
    let points = parse_message(fixture!("py3-batch-p2")).unwrap();
    let samples: Vec<&str> = points
        .iter()
        .filter_map(|point| point.as_ref().err())
        .map(|bad| bad.sample.as_str())
        .collect();
    assert_eq!(
        samples,
        [
            "('bad.none', (1700000000, None))",
            "('bad.nan', (1700000000, NaN))",
            "('bad space', (1700000000, 1))",
            "('bad.shape', (1700000000))",
            "('bad.ts', (-1, 1))",
            "('bad.tag;k', (1700000000, 1))",
            "('bad.valuestr', (1700000000, 'abc'))",
            "42",
        ]
    );
}

#[test]
fn every_strict_prefix_is_truncated_and_trailing_bytes_are_ignored() {
    for payload in [
        fixture!("py3-batch-p0"),
        fixture!("py2-batch-p0"),
        fixture!("py3-batch-p2"),
        fixture!("py3-batch-p4"),
    ] {
        for end in 0..payload.len() {
            let error = parse_message(&payload[..end]).unwrap_err();
            assert_eq!(error.reason(), "pickle_truncated", "{end}: {error:?}");
        }
        let mut padded = payload.to_vec();
        padded.extend_from_slice(b"trailing");
        assert_eq!(parse(&padded), batch());
    }
}

// Hand-written pickles for what CPython's pickler never emits for a batch.

#[test]
fn binunicode8_binbytes_and_marked_lists() {
    let mut pickle = vec![0x80, 4, b'(', b'(', 0x8d];
    pickle.extend_from_slice(&3u64.to_le_bytes());
    pickle.extend_from_slice(b"a.b");
    pickle.extend_from_slice(b"(K\x05B\x03\x00\x00\x002.5t"); // (5, b"2.5")
    pickle.extend_from_slice(b"t"); // ("a.b", (5, b"2.5"))
    pickle.extend_from_slice(b"l."); // a list built from a mark
    assert_eq!(parse(&pickle), [ok("a.b", "", 2.5, 5)]);
}

#[test]
fn text_without_a_utf8_form_costs_only_its_point() {
    // A lone surrogate escape, and BINUNICODE bytes that are not UTF-8.
    let pickle =
        b"(l(V\\ud800x\n(I1\nI2\ntta(X\x02\x00\x00\x00\xff\xfe(I1\nI2\ntta(V\\u0061\n(I1\nI2\ntta.";
    assert_eq!(
        parse(pickle),
        [
            Err(ParseError::NotUtf8),
            Err(ParseError::NotUtf8),
            ok("a", "", 2.0, 1)
        ]
    );
}

#[test]
fn protocol_0_strings_are_python_literals() {
    let pickle = b"(l(S'a\\x2eb\\\\c'\n(I1\nS\"3\"\ntta.";
    assert_eq!(parse(pickle), [ok("a.b\\c", "", 3.0, 1)]);
    let unquoted = b"(l(S'abc\n(I1\nI2\ntta.";
    assert_eq!(
        parse_message(unquoted).unwrap_err().reason(),
        "pickle_malformed"
    );
}

#[test]
fn malformed_pickles_are_refused_whole() {
    let cases: [(&[u8], &str); 12] = [
        (b".", "stack underflow"),
        (b"N.", "the pickle is not a list of points"),
        (b"NNa.", "APPEND to something that is not a list"),
        (b"]Ne.", "no MARK to pop to"),
        (b"]h\x07.", "GET of a memo key never PUT"),
        (b"\x80\x06].", "unsupported protocol version"),
        (b"Fx\n.", "FLOAT argument is not a number"),
        (b"I12a\n.", "INT or LONG argument is not a decimal integer"),
        (b"L\n.", "INT or LONG argument is not a decimal integer"),
        (b"T\xff\xff\xff\xff.", "negative length"),
        (b"](q\x00.", "nothing to memoize"),
        (b"]\x85(\x86.", "stack underflow"),
    ];
    for (payload, what) in cases {
        let error = parse_message(payload).unwrap_err();
        assert!(
            matches!(&error, ParseError::PickleMalformed { what: got, .. } if got == &what),
            "{}: {error:?}",
            payload.escape_ascii()
        );
        assert_eq!(error.reason(), "pickle_malformed");
    }
}

fn too_large(payload: &[u8], limits: &Limits) -> &'static str {
    match parse_message_with(payload, limits) {
        Err(ParseError::PickleTooLarge { what, .. }) => what,
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_bound_holds() {
    let small = Limits {
        max_points: 10,
        max_stack: 20,
        max_memo: 5,
        max_string_len: 8,
        max_nesting: 4,
        max_decoded_bytes: 30,
        max_copied: 25,
    };
    // Nesting past the limit, however it is built.
    assert_eq!(too_large(b")\x85\x85\x85\x85.", &small), "nesting depth");
    assert_eq!(too_large(b"]]]]]aaaa.", &small), "nesting depth");
    assert_eq!(too_large(&[b'N'; 21], &small), "stack depth");
    assert_eq!(too_large(&[b'('; 21], &small), "stack depth");
    assert_eq!(too_large(b"N\x94\x94\x94\x94\x94\x94", &small), "memo keys");
    // Keys index a vector: a sparse key is refused, not allocated for.
    assert_eq!(too_large(b"Nr\x05\x00\x00\x00", &small), "memo keys");
    assert_eq!(too_large(b"Np99\n", &small), "memo keys");
    // Length fields are refused before anything is read.
    assert_eq!(too_large(b"X\xff\xff\xff\xff", &small), "string length");
    assert_eq!(
        too_large(b"\x8d\xff\xff\xff\xff\xff\xff\xff\xff", &small),
        "string length"
    );
    assert_eq!(too_large(b"\x8b\x00\x00\x00\x7f", &small), "string length");
    assert_eq!(too_large(b"V123456789", &small), "string length");
    assert_eq!(too_large(b"](NNNNNNNNNNNe.", &small), "items per list");
    // GET-then-APPEND of a memoized list copies it every time.
    let mut copies = b"](NNNNNNNNNeq\x00".to_vec();
    copies.extend_from_slice(b"h\x00Na".repeat(3).as_slice());
    assert_eq!(too_large(&copies, &small), "copied items");
    // One path repeated by GET costs its bytes every time.
    let repeated = b"](X\x08\x00\x00\x00abcdefghq\x00K\x01K\x02\x86\x86h\x00K\x01K\x02\x86\x86h\x00K\x01K\x02\x86\x86h\x00K\x01K\x02\x86\x86e.";
    assert_eq!(too_large(repeated, &small), "decoded path bytes");
    assert_eq!(
        parse_message_with(repeated, &Limits::default())
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn a_million_nested_tuples_cost_an_error_not_the_stack() {
    let mut bomb = vec![b')'];
    bomb.extend(std::iter::repeat_n(0x85, 1_000_000));
    bomb.push(b'.');
    assert_eq!(
        parse_message(&bomb).unwrap_err(),
        ParseError::PickleTooLarge {
            what: "nesting depth",
            limit: 32
        }
    );
}

/// A test-side pickle writer: the opcode forms Python's picklers emit for
/// each protocol, picked at random from `seed` so properties cover them.
mod writer {
    use std::collections::HashMap;

    /// The Python values a batch is made of.
    #[derive(Debug, Clone)]
    pub enum Py {
        None,
        Bool(bool),
        Int(i128),
        Float(f64),
        Str(String),
        Bytes(Vec<u8>),
        Tuple(Vec<Py>),
        List(Vec<Py>),
    }

    pub struct Writer {
        out: Vec<u8>,
        protocol: u8,
        rng: u64,
        next_memo: u32,
        /// Memo keys of strings already written, so repeats use GET.
        strings: HashMap<String, u32>,
    }

    /// Pickles `value` with `protocol` (0 to 5), opcode forms chosen by
    /// `seed`.
    pub fn dumps(value: &Py, protocol: u8, seed: u64) -> Vec<u8> {
        let mut writer = Writer {
            out: Vec::new(),
            protocol,
            rng: seed | 1,
            next_memo: 0,
            strings: HashMap::new(),
        };
        writer.save(value);
        writer.out.push(b'.');
        let body = std::mem::take(&mut writer.out);
        let mut out = Vec::new();
        if protocol >= 2 {
            out.extend_from_slice(&[0x80, protocol]);
        }
        if protocol >= 4 {
            out.push(0x95);
            out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        }
        out.extend_from_slice(&body);
        out
    }

    impl Writer {
        fn coin(&mut self, sides: u64) -> u64 {
            // xorshift64: deterministic per seed, which proptest shrinks.
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            self.rng % sides
        }

        fn text_arg(&mut self, opcode: u8, text: &str) {
            self.out.push(opcode);
            self.out.extend_from_slice(text.as_bytes());
            self.out.push(b'\n');
        }

        fn save(&mut self, value: &Py) {
            match value {
                Py::None => self.out.push(b'N'),
                Py::Bool(flag) if self.protocol >= 2 => {
                    self.out.push(if *flag { 0x88 } else { 0x89 })
                }
                Py::Bool(flag) => self.text_arg(b'I', if *flag { "01" } else { "00" }),
                Py::Int(int) => self.save_int(*int),
                Py::Float(float) if self.protocol == 0 || self.coin(4) == 0 => {
                    self.text_arg(b'F', &format!("{float:?}"))
                }
                Py::Float(float) => {
                    self.out.push(b'G');
                    self.out.extend_from_slice(&float.to_be_bytes());
                }
                Py::Str(text) => self.save_str(text),
                Py::Bytes(bytes) => self.save_bytes(bytes),
                Py::Tuple(items) => self.save_tuple(items),
                Py::List(items) => self.save_list(items),
            }
        }

        fn save_int(&mut self, int: i128) {
            let binary = self.protocol >= 1 && self.coin(5) != 0;
            if binary && (0..=0xff).contains(&int) {
                self.out.extend_from_slice(&[b'K', int as u8]);
            } else if binary && (0..=0xffff).contains(&int) {
                self.out.push(b'M');
                self.out.extend_from_slice(&(int as u16).to_le_bytes());
            } else if binary && i32::try_from(int).is_ok() {
                self.out.push(b'J');
                self.out.extend_from_slice(&(int as i32).to_le_bytes());
            } else if self.protocol >= 2 && self.coin(4) != 0 {
                let mut bytes = int.to_le_bytes().to_vec();
                // Minimal two's complement, as Python's encode_long.
                while let [.., second, last] = bytes[..] {
                    let redundant =
                        (last == 0 && second & 0x80 == 0) || (last == 0xff && second & 0x80 != 0);
                    if !redundant {
                        break;
                    }
                    bytes.pop();
                }
                if int == 0 {
                    bytes.clear();
                }
                if self.coin(2) == 0 {
                    self.out.extend_from_slice(&[0x8a, bytes.len() as u8]);
                } else {
                    self.out.push(0x8b);
                    self.out
                        .extend_from_slice(&(bytes.len() as i32).to_le_bytes());
                }
                self.out.extend_from_slice(&bytes);
            } else if i32::try_from(int).is_ok() && self.coin(2) == 0 {
                self.text_arg(b'I', &int.to_string());
            } else {
                self.text_arg(b'L', &format!("{int}L"));
            }
        }

        fn save_str(&mut self, text: &str) {
            if let Some(&key) = self.strings.get(text) {
                if self.coin(2) == 0 {
                    return self.get(key);
                }
            }
            match (self.protocol, self.coin(3)) {
                // Python 2's str: bytes in a quoted literal, or BINSTRING.
                (_, 0) => self.save_binstring(text.as_bytes()),
                (0, _) => {
                    self.out.push(b'V');
                    self.out.extend_from_slice(&raw_unicode_escape(text));
                    self.out.push(b'\n');
                }
                (4.., 1) if text.len() < 256 => {
                    self.out.extend_from_slice(&[0x8c, text.len() as u8]);
                    self.out.extend_from_slice(text.as_bytes());
                }
                (4.., 1) => {
                    self.out.push(0x8d);
                    self.out
                        .extend_from_slice(&(text.len() as u64).to_le_bytes());
                    self.out.extend_from_slice(text.as_bytes());
                }
                _ => {
                    self.out.push(b'X');
                    self.out
                        .extend_from_slice(&(text.len() as u32).to_le_bytes());
                    self.out.extend_from_slice(text.as_bytes());
                }
            }
            let key = self.memoize();
            self.strings.insert(text.to_owned(), key);
        }

        fn save_binstring(&mut self, bytes: &[u8]) {
            if self.protocol == 0 {
                let quote = if self.coin(2) == 0 { "'" } else { "\"" };
                let escaped: String = bytes.iter().map(|&b| format!("\\x{b:02x}")).collect();
                self.text_arg(b'S', &format!("{quote}{escaped}{quote}"));
            } else if bytes.len() < 256 {
                self.out.extend_from_slice(&[b'U', bytes.len() as u8]);
                self.out.extend_from_slice(bytes);
            } else {
                self.out.push(b'T');
                self.out
                    .extend_from_slice(&(bytes.len() as i32).to_le_bytes());
                self.out.extend_from_slice(bytes);
            }
        }

        fn save_bytes(&mut self, bytes: &[u8]) {
            if self.protocol < 3 {
                return self.save_binstring(bytes);
            }
            if bytes.len() < 256 && self.coin(2) == 0 {
                self.out.extend_from_slice(&[b'C', bytes.len() as u8]);
            } else {
                self.out.push(b'B');
                self.out
                    .extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            }
            self.out.extend_from_slice(bytes);
        }

        fn save_tuple(&mut self, items: &[Py]) {
            let short = self.protocol >= 2 && items.len() <= 3 && self.coin(4) != 0;
            if items.is_empty() && self.protocol >= 1 {
                self.out.push(b')');
            } else if short {
                for item in items {
                    self.save(item);
                }
                self.out.push(0x84 + items.len() as u8);
            } else {
                self.out.push(b'(');
                for item in items {
                    self.save(item);
                }
                self.out.push(b't');
            }
            if self.coin(2) == 0 {
                self.memoize();
            }
        }

        fn save_list(&mut self, items: &[Py]) {
            if self.coin(4) == 0 {
                // MARK, items, LIST: valid in every protocol.
                self.out.push(b'(');
                for item in items {
                    self.save(item);
                }
                self.out.push(b'l');
                return;
            }
            if self.protocol == 0 {
                self.out.extend_from_slice(b"(l");
            } else {
                self.out.push(b']');
            }
            self.memoize();
            let mut rest = items;
            while !rest.is_empty() {
                let take = (self.coin(5) as usize + 1).min(rest.len());
                let (batch, tail) = rest.split_at(take);
                rest = tail;
                if self.protocol == 0 || (take == 1 && self.coin(2) == 0) {
                    for item in batch {
                        self.save(item);
                        self.out.push(b'a');
                    }
                } else {
                    self.out.push(b'(');
                    for item in batch {
                        self.save(item);
                    }
                    self.out.push(b'e');
                }
            }
        }

        fn memoize(&mut self) -> u32 {
            let key = self.next_memo;
            self.next_memo += 1;
            let memoize_opcode = self.protocol >= 4 && self.coin(2) == 0;
            match self.protocol {
                0 => self.text_arg(b'p', &key.to_string()),
                _ if memoize_opcode => self.out.push(0x94),
                _ if key < 256 => self.out.extend_from_slice(&[b'q', key as u8]),
                _ => {
                    self.out.push(b'r');
                    self.out.extend_from_slice(&key.to_le_bytes());
                }
            }
            key
        }

        fn get(&mut self, key: u32) {
            match self.protocol {
                0 => self.text_arg(b'g', &key.to_string()),
                _ if key < 256 => self.out.extend_from_slice(&[b'h', key as u8]),
                _ => {
                    self.out.push(b'j');
                    self.out.extend_from_slice(&key.to_le_bytes());
                }
            }
        }
    }

    /// What Python's protocol 0 writes for str (`raw-unicode-escape`):
    /// one Latin-1 byte per char below 0x100, `\u`/`\U` escapes above,
    /// and escapes for the bytes that would end or break the line.
    fn raw_unicode_escape(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for c in text.chars() {
            match u32::from(c) {
                code @ (0x5c | 0x00 | 0x0a | 0x0d | 0x1a) => {
                    out.extend_from_slice(format!("\\u{code:04x}").as_bytes())
                }
                code @ 0x100..=0xffff => out.extend_from_slice(format!("\\u{code:04x}").as_bytes()),
                code @ 0x10000.. => out.extend_from_slice(format!("\\U{code:08x}").as_bytes()),
                code => out.push(code as u8),
            }
        }
        out
    }
}

use writer::{dumps, Py};

fn point(path: &str, timestamp: Py, value: Py) -> Py {
    Py::Tuple(vec![
        Py::Str(path.to_owned()),
        Py::Tuple(vec![timestamp, value]),
    ])
}

/// Checks what every accepted point must satisfy, whatever the input.
fn check_invariants(points: &Points, limits: &Limits) -> Result<(), TestCaseError> {
    prop_assert!(points.len() <= limits.max_points);
    for point in points.iter().flatten() {
        prop_assert!(!point.path().is_empty());
        prop_assert!(point.value.is_finite());
        prop_assert!(point.timestamp >= 0);
        for (name, value) in point.tags() {
            prop_assert!(!name.is_empty() && !value.is_empty());
        }
    }
    Ok(())
}

/// A timestamp as sent (int or float) and as stored (floored seconds).
fn timestamp() -> impl Strategy<Value = (Py, i64)> {
    prop_oneof![
        (0i64..4_000_000_000).prop_map(|t| (Py::Int(i128::from(t)), t)),
        (0u32..4_000_000, 0u32..1000).prop_map(|(t, ms)| {
            let seconds = f64::from(t) * 1000.0 + f64::from(ms) / 1000.0;
            (Py::Float(seconds), seconds.floor() as i64)
        }),
    ]
}

/// A value as sent and as stored.
fn value() -> impl Strategy<Value = (Py, f64)> {
    prop_oneof![
        any::<i64>().prop_map(|v| (Py::Int(i128::from(v)), v as f64)),
        any::<i128>().prop_map(|v| (Py::Int(v), v as f64)),
        (-1.0e15f64..1.0e15).prop_map(|v| (Py::Float(v), v)),
        proptest::num::f64::NORMAL.prop_map(|v| (Py::Float(v), v)),
        (-1000i32..1000, 0u8..100).prop_map(|(whole, hundredths)| {
            let text = format!("{whole}.{hundredths:02}");
            let value = text.parse::<f64>().unwrap();
            (Py::Str(text), value)
        }),
        any::<bool>().prop_map(|v| (Py::Bool(v), f64::from(u8::from(v)))),
    ]
}

/// A path with optional tags, with the characters protocol 0 must escape.
fn full_path() -> impl Strategy<Value = (String, String, String)> {
    (
        "[a-z][a-z0-9_.\\\\é😀ĳ-]{0,24}",
        proptest::collection::vec(("[a-z]{1,6}", "[a-z0-9/é]{1,6}"), 0..3),
    )
        .prop_map(|(path, tags)| {
            let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let tags = tags.join(";");
            let full = if tags.is_empty() {
                path.clone()
            } else {
                format!("{path};{tags}")
            };
            (full, path, tags)
        })
}

proptest! {
    /// Random batches, written with random opcode forms of a random
    /// protocol, read back exactly.
    #[test]
    fn batches_round_trip(
        points in proptest::collection::vec((full_path(), timestamp(), value()), 0..40),
        protocol in 0u8..=5,
        seed in any::<u64>(),
    ) {
        let batch = Py::List(points.iter().map(|((full, _, _), (t, _), (v, _))| point(full, t.clone(), v.clone())).collect());
        let pickle = dumps(&batch, protocol, seed);
        let expected: Vec<Seen> = points.iter().map(|((_, path, tags), (_, t), (_, v))| ok(path, tags, *v, *t)).collect();
        let got = parse(&pickle);
        prop_assert_eq!(got, expected, "{}", pickle.escape_ascii());
    }

    /// A point sent by pickle and the same text sent as a plaintext line
    /// are accepted or refused alike.
    #[test]
    fn pickle_and_plaintext_agree(
        path in "[a-z.;=~!^\\x01é]{1,12}",
        value in "-?[0-9]{1,3}(\\.[0-9]{1,2})?|nan|inf|x1|1e400|-0",
        ts in "-?[0-9]{1,10}(\\.[0-9]{1,2})?|abc|1e3",
        protocol in 0u8..=5,
        seed in any::<u64>(),
    ) {
        let line = format!("{path} {value} {ts}");
        let plain: Seen = crate::carbon::parse_line(line.as_bytes()).map(|point| {
            let tags: Vec<String> = point.tags().map(|(k, v)| format!("{k}={v}")).collect();
            (point.path.to_owned(), tags.join(";"), point.value, point.timestamp)
        });
        for (t, v) in [
            (Py::Str(ts.clone()), Py::Str(value.clone())),
            (Py::Bytes(ts.clone().into_bytes()), Py::Bytes(value.clone().into_bytes())),
        ] {
            let batch = Py::List(vec![point(&path, t, v)]);
            let got = parse(&dumps(&batch, protocol, seed));
            prop_assert_eq!(&got[0], &plain, "{}", line);
        }
    }

    /// Bad items among good ones cost only themselves, each with its
    /// reason.
    #[test]
    fn bad_items_cost_only_themselves(
        items in proptest::collection::vec((0u8..5, full_path(), timestamp(), value()), 0..30),
        protocol in 0u8..=5,
        seed in any::<u64>(),
    ) {
        let mut batch = Vec::new();
        let mut expected = Vec::new();
        for (kind, (full, path, tags), (t, stored_t), (v, stored_v)) in items {
            let (item, outcome) = match kind {
                0 => (point(&full, t, Py::None), Err(ParseError::BadValue)),
                1 => (Py::Tuple(vec![Py::Str(full), t, v]), Err(ParseError::BadPoint)),
                2 => (Py::Int(7), Err(ParseError::BadPoint)),
                3 => (point(&full, Py::None, v), Err(ParseError::BadTimestamp)),
                _ => (point(&full, t, v), ok(&path, &tags, stored_v, stored_t)),
            };
            batch.push(item);
            expected.push(outcome);
        }
        let got = parse(&dumps(&Py::List(batch), protocol, seed));
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..600)) {
        let limits = Limits::default();
        if let Ok(points) = parse_message_with(&input, &limits) {
            check_invariants(&points, &limits)?;
        }
    }

    /// Valid pickles with a few bytes changed or cut reach deep into the
    /// machine; they never panic either.
    #[test]
    fn damaged_pickles_never_panic(
        points in proptest::collection::vec((full_path(), timestamp(), value()), 1..8),
        protocol in 0u8..=5,
        seed in any::<u64>(),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<proptest::sample::Index>(),
    ) {
        let batch = Py::List(points.iter().map(|((full, _, _), (t, _), (v, _))| point(full, t.clone(), v.clone())).collect());
        let mut pickle = dumps(&batch, protocol, seed);
        for (at, byte) in edits {
            let at = at.index(pickle.len());
            pickle[at] = byte;
        }
        let limits = Limits { max_nesting: 4, max_stack: 64, max_memo: 16, ..Limits::default() };
        for payload in [&pickle[..], &pickle[..cut.index(pickle.len())]] {
            if let Ok(points) = parse_message_with(payload, &limits) {
                check_invariants(&points, &limits)?;
            }
        }
    }
}
