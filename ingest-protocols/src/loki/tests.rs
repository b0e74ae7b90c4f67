//! Tests of the Loki push parsers over bodies built by a test-side
//! encoder: what Promtail sends, hand-damaged messages, and properties
//! that JSON and protobuf bodies built from the same random streams both
//! parse back to them.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use proptest::prelude::*;

use super::*;
use encode::{bytes_field, push_request, snappy, varint, varint_field};

/// A test-side writer for the push schema, written from the `.proto`
/// alone. Zero values are left out, as proto3 encoders do.
mod encode {
    use super::{LokiEntry, LokiStream};

    pub fn varint(out: &mut Vec<u8>, mut value: u64) {
        while value >= 0x80 {
            out.push(value as u8 | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }

    pub fn key(out: &mut Vec<u8>, field: u64, wire_type: u64) {
        varint(out, field << 3 | wire_type);
    }

    pub fn varint_field(out: &mut Vec<u8>, field: u64, value: u64) {
        key(out, field, 0);
        varint(out, value);
    }

    pub fn bytes_field(out: &mut Vec<u8>, field: u64, payload: &[u8]) {
        key(out, field, 2);
        varint(out, payload.len() as u64);
        out.extend_from_slice(payload);
    }

    /// A label set as Prometheus prints it: `{a="x", b="y"}`, values in
    /// Go's quoting of what needs it, names quoted when they are not
    /// identifiers.
    pub fn label_text(labels: &[(String, String)]) -> String {
        let pairs: Vec<String> = labels
            .iter()
            .map(|(name, value)| {
                let identifier = name.bytes().enumerate().all(|(index, byte)| {
                    byte == b'_'
                        || byte.is_ascii_alphabetic()
                        || (index > 0 && byte.is_ascii_digit())
                });
                let name = if identifier && !name.is_empty() {
                    name.clone()
                } else {
                    quote(name)
                };
                format!("{name}={}", quote(value))
            })
            .collect();
        format!("{{{}}}", pairs.join(", "))
    }

    fn quote(text: &str) -> String {
        let mut quoted = String::from("\"");
        for character in text.chars() {
            match character {
                '"' => quoted.push_str("\\\""),
                '\\' => quoted.push_str("\\\\"),
                '\n' => quoted.push_str("\\n"),
                '\t' => quoted.push_str("\\t"),
                control if control.is_ascii_control() => {
                    quoted.push_str(&format!("\\x{:02x}", control as u32));
                }
                other => quoted.push(other),
            }
        }
        quoted.push('"');
        quoted
    }

    pub fn entry(entry: &LokiEntry) -> Vec<u8> {
        let mut timestamp = Vec::new();
        let seconds = entry.timestamp_unix_nanos / 1_000_000_000;
        let nanos = entry.timestamp_unix_nanos % 1_000_000_000;
        if seconds != 0 {
            varint_field(&mut timestamp, 1, seconds as u64);
        }
        if nanos != 0 {
            varint_field(&mut timestamp, 2, nanos as u64);
        }
        let mut out = Vec::new();
        if !timestamp.is_empty() {
            bytes_field(&mut out, 1, &timestamp);
        }
        if !entry.line.is_empty() {
            bytes_field(&mut out, 2, entry.line.as_bytes());
        }
        for (name, value) in &entry.metadata {
            let mut pair = Vec::new();
            if !name.is_empty() {
                bytes_field(&mut pair, 1, name.as_bytes());
            }
            if !value.is_empty() {
                bytes_field(&mut pair, 2, value.as_bytes());
            }
            bytes_field(&mut out, 3, &pair);
        }
        out
    }

    /// A `StreamAdapter`, with the `hash` senders may set.
    pub fn stream(stream: &LokiStream, hash: u64) -> Vec<u8> {
        let mut out = Vec::new();
        bytes_field(&mut out, 1, label_text(&stream.labels).as_bytes());
        for entry in &stream.entries {
            bytes_field(&mut out, 2, &self::entry(entry));
        }
        if hash != 0 {
            varint_field(&mut out, 3, hash);
        }
        out
    }

    pub fn push_request(streams: &[LokiStream], hash: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for stream in streams {
            bytes_field(&mut out, 1, &self::stream(stream, hash));
        }
        out
    }

    pub fn snappy(message: &[u8]) -> Vec<u8> {
        snap::raw::Encoder::new().compress_vec(message).unwrap()
    }

    /// The JSON body, written by hand so metadata keeps its order and
    /// repeats; timestamps as strings, or as numbers when `numeric`.
    pub fn json_body(streams: &[LokiStream], numeric: bool) -> String {
        let text = |text: &str| serde_json::to_string(text).unwrap();
        let object = |pairs: &[(String, String)]| {
            let members: Vec<String> = pairs
                .iter()
                .map(|(name, value)| format!("{}:{}", text(name), text(value)))
                .collect();
            format!("{{{}}}", members.join(","))
        };
        let streams: Vec<String> = streams
            .iter()
            .map(|stream| {
                let values: Vec<String> = stream
                    .entries
                    .iter()
                    .map(|entry| {
                        let nanos = entry.timestamp_unix_nanos.to_string();
                        let timestamp = if numeric { nanos } else { text(&nanos) };
                        let line = text(&entry.line);
                        if entry.metadata.is_empty() {
                            format!("[{timestamp},{line}]")
                        } else {
                            format!("[{timestamp},{line},{}]", object(&entry.metadata))
                        }
                    })
                    .collect();
                format!(
                    r#"{{"stream":{},"values":[{}]}}"#,
                    object(&stream.labels),
                    values.join(",")
                )
            })
            .collect();
        format!(r#"{{"streams":[{}]}}"#, streams.join(","))
    }
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

fn entry(nanos: i64, line: &str, metadata: &[(&str, &str)]) -> LokiEntry {
    LokiEntry {
        timestamp_unix_nanos: nanos,
        line: line.to_owned(),
        metadata: owned(metadata),
    }
}

fn bad(what: &'static str, offset: usize) -> ParseError {
    ParseError::BadProtobuf { what, offset }
}

/// What a Promtail `static_configs` job tailing two files sends: label
/// text as Prometheus prints it, timestamps from the file's read time.
fn promtail_streams() -> Vec<LokiStream> {
    vec![
        LokiStream {
            labels: owned(&[
                ("filename", "/var/log/nginx/access.log"),
                ("host", "web-1"),
                ("job", "nginx"),
            ]),
            entries: vec![
                entry(
                    1_795_346_300_981_254_123,
                    r#"10.0.0.7 - - [22/Nov/2026:11:18:20 +0000] "GET /cart HTTP/1.1" 200 512 "-" "curl/8.5.0""#,
                    &[],
                ),
                entry(
                    1_795_346_301_000_000_000,
                    r#"10.0.0.9 - - [22/Nov/2026:11:18:21 +0000] "POST /pay HTTP/1.1" 502 0 "-" "Mozilla/5.0""#,
                    &[("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")],
                ),
            ],
        },
        LokiStream {
            labels: owned(&[("filename", "/var/log/app/api.log"), ("job", "api")]),
            entries: vec![entry(
                1_795_346_302_500_000_000,
                "level=error msg=\"db timeout\" took=5.001s",
                &[],
            )],
        },
    ]
}

#[test]
fn promtail_push_request() {
    let message = push_request(&promtail_streams(), 0);
    let body = snappy(&message);
    assert_eq!(
        parse_push_protobuf(&body, message.len()),
        Ok(promtail_streams())
    );
}

#[test]
fn the_size_limit_is_checked_before_decompressing() {
    let message = push_request(&promtail_streams(), 0);
    let body = snappy(&message);
    assert_eq!(
        parse_push_protobuf(&body, message.len() - 1),
        Err(ParseError::DecompressedTooLarge {
            limit: message.len() - 1
        })
    );
    // A header announcing 4 GiB: refused without an allocation.
    let mut huge = Vec::new();
    varint(&mut huge, u64::from(u32::MAX));
    assert_eq!(
        parse_push_protobuf(&huge, 1 << 20),
        Err(ParseError::DecompressedTooLarge { limit: 1 << 20 })
    );
}

#[test]
fn bodies_that_are_not_snappy_blocks() {
    let message = push_request(&promtail_streams(), 0);
    // The framed (streaming) snappy format, which Loki does not take.
    let mut framed = snap::write::FrameEncoder::new(Vec::new());
    std::io::Write::write_all(&mut framed, &message).unwrap();
    let framed = framed.into_inner().unwrap();
    assert_eq!(
        parse_push_protobuf(&framed, 1 << 20),
        Err(ParseError::BadSnappy)
    );
    // Uncompressed protobuf, and a cut block.
    assert_eq!(
        parse_push_protobuf(&message, 1 << 20),
        Err(ParseError::BadSnappy)
    );
    let body = snappy(&message);
    assert_eq!(
        parse_push_protobuf(&body[..body.len() - 3], 1 << 20),
        Err(ParseError::BadSnappy)
    );
    assert_eq!(
        parse_push_protobuf(b"", 1 << 20),
        Err(ParseError::BadSnappy)
    );
    assert_eq!(parse_push_protobuf(&snappy(b""), 0), Ok(Vec::new()));
}

#[test]
fn unknown_fields_of_every_wire_type_are_skipped() {
    let unknown = |out: &mut Vec<u8>| {
        varint_field(out, 9, 300);
        encode::key(out, 10, 1);
        out.extend_from_slice(&[1; 8]);
        bytes_field(out, 11, b"\x08\x01");
        encode::key(out, 12, 5);
        out.extend_from_slice(&[2; 4]);
    };
    let mut pair = Vec::new();
    bytes_field(&mut pair, 1, b"trace_id");
    unknown(&mut pair);
    bytes_field(&mut pair, 2, b"abc");
    let mut timestamp = Vec::new();
    unknown(&mut timestamp);
    varint_field(&mut timestamp, 1, 1_795_346_300);
    varint_field(&mut timestamp, 2, 5);
    let mut entry_message = Vec::new();
    bytes_field(&mut entry_message, 1, &timestamp);
    unknown(&mut entry_message);
    bytes_field(&mut entry_message, 2, b"line");
    bytes_field(&mut entry_message, 3, &pair);
    // `parsed`, filled by Loki's read path.
    bytes_field(&mut entry_message, 4, &pair);
    let mut stream = Vec::new();
    unknown(&mut stream);
    bytes_field(&mut stream, 1, b"{job=\"x\"}");
    bytes_field(&mut stream, 2, &entry_message);
    varint_field(&mut stream, 3, 0xdead_beef);
    let mut message = Vec::new();
    unknown(&mut message);
    bytes_field(&mut message, 1, &stream);
    unknown(&mut message);
    assert_eq!(
        decode_push_request(&message),
        Ok(vec![LokiStream {
            labels: owned(&[("job", "x")]),
            entries: vec![entry(
                1_795_346_300_000_000_005,
                "line",
                &[("trace_id", "abc")]
            )],
        }])
    );
}

#[test]
fn repeated_fields_follow_proto3() {
    // The last labels win; a timestamp sent twice merges field by field.
    let mut first = Vec::new();
    varint_field(&mut first, 1, 7);
    varint_field(&mut first, 2, 9);
    let mut second = Vec::new();
    varint_field(&mut second, 2, 3);
    let mut entry_message = Vec::new();
    bytes_field(&mut entry_message, 1, &first);
    bytes_field(&mut entry_message, 2, b"first");
    bytes_field(&mut entry_message, 1, &second);
    bytes_field(&mut entry_message, 2, b"second");
    let mut stream = Vec::new();
    bytes_field(&mut stream, 1, b"{a=\"1\"}");
    bytes_field(&mut stream, 2, &entry_message);
    bytes_field(&mut stream, 1, b"{b=\"2\"}");
    let mut message = Vec::new();
    bytes_field(&mut message, 1, &stream);
    let streams = decode_push_request(&message).unwrap();
    assert_eq!(streams[0].labels, owned(&[("b", "2")]));
    assert_eq!(streams[0].entries, [entry(7_000_000_003, "second", &[])]);
}

#[test]
fn absent_fields_are_zero_values() {
    let mut stream = Vec::new();
    bytes_field(&mut stream, 2, b"");
    let mut message = Vec::new();
    bytes_field(&mut message, 1, b"");
    bytes_field(&mut message, 1, &stream);
    assert_eq!(
        decode_push_request(&message),
        Ok(vec![
            LokiStream {
                labels: Vec::new(),
                entries: Vec::new()
            },
            LokiStream {
                labels: Vec::new(),
                entries: vec![entry(0, "", &[])]
            },
        ])
    );
    assert_eq!(decode_push_request(b""), Ok(Vec::new()));
}

#[test]
fn invalid_utf8_is_replaced() {
    let mut entry_message = Vec::new();
    bytes_field(&mut entry_message, 2, b"caf\xe9");
    let mut stream = Vec::new();
    bytes_field(&mut stream, 1, b"{a=\"\xff\"}");
    bytes_field(&mut stream, 2, &entry_message);
    let mut message = Vec::new();
    bytes_field(&mut message, 1, &stream);
    let streams = decode_push_request(&message).unwrap();
    assert_eq!(streams[0].labels, owned(&[("a", "\u{fffd}")]));
    assert_eq!(streams[0].entries[0].line, "caf\u{fffd}");
}

#[test]
fn timestamps_out_of_range() {
    let with_timestamp = |seconds: i64, nanos: i64| {
        let mut timestamp = Vec::new();
        varint_field(&mut timestamp, 1, seconds as u64);
        varint_field(&mut timestamp, 2, nanos as u64);
        let mut entry_message = Vec::new();
        bytes_field(&mut entry_message, 1, &timestamp);
        let mut stream = Vec::new();
        bytes_field(&mut stream, 2, &entry_message);
        let mut message = Vec::new();
        bytes_field(&mut message, 1, &stream);
        decode_push_request(&message).map(|streams| streams[0].entries[0].timestamp_unix_nanos)
    };
    assert_eq!(with_timestamp(9_223_372_036, 854_775_807), Ok(i64::MAX));
    for (seconds, nanos) in [
        (-1, 0),
        (0, -1),
        (0, 1_000_000_000),
        (9_223_372_036, 854_775_808),
        (i64::MAX, 0),
    ] {
        assert_eq!(
            with_timestamp(seconds, nanos),
            Err(ParseError::BadTimestamp),
            "{seconds} {nanos}"
        );
    }
}

#[test]
fn malformed_messages() {
    let mut stream = Vec::new();
    bytes_field(&mut stream, 1, b"{a=\"1\"}");
    let cases: [(Vec<u8>, ParseError); 9] = [
        (vec![0x0a], bad("truncated varint", 1)),
        (vec![0x0a, 0x05, 0x0a], bad("length runs past the end", 2)),
        (vec![0x0a, 0xff], bad("truncated varint", 2)),
        (vec![0x08, 0x01], bad("streams is not length-delimited", 1)),
        (vec![0x0b], bad("group or unknown wire type", 0)),
        (vec![0x02, 0x00], bad("field number 0", 0)),
        (vec![0x19, 0, 0, 0], bad("truncated fixed-width field", 1)),
        (
            [0x10].into_iter().chain([0xff; 9]).chain([0x02]).collect(),
            bad("varint overflows 64 bits", 10),
        ),
        (
            // Offsets count from the start of the whole message.
            [0x0a, 0x04, 0x12, 0x02, 0x08, 0x01].to_vec(),
            bad("entry field is not length-delimited", 5),
        ),
    ];
    for (message, error) in cases {
        assert_eq!(
            decode_push_request(&message),
            Err(error),
            "{}",
            message.escape_ascii()
        );
    }
    let mut message = Vec::new();
    bytes_field(&mut message, 1, b"\x0a\x03{a}");
    assert_eq!(
        decode_push_request(&message),
        Err(ParseError::BadLabels {
            what: "expected `=` after a label name"
        })
    );
}

/// Label names: identifiers mostly, some that need quoting.
fn label_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
        1 => "[a-z.é 0-9]{1,6}",
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z \"\\\\\n\t\u{1}é=,{}]{0,10}", any::<String>()]
}

fn streams() -> impl Strategy<Value = Vec<LokiStream>> {
    let entry = (
        0..=i64::MAX,
        text(),
        proptest::collection::vec((text(), text()), 0..3),
    )
        .prop_map(|(timestamp_unix_nanos, line, metadata)| LokiEntry {
            timestamp_unix_nanos,
            line,
            metadata,
        });
    let stream = (
        proptest::collection::btree_map(label_name(), text(), 0..5),
        proptest::collection::vec(entry, 0..4),
    )
        .prop_map(|(labels, entries)| LokiStream {
            labels: labels.into_iter().collect(),
            entries,
        });
    proptest::collection::vec(stream, 0..4)
}

/// What holds for every accepted body.
fn check_invariants(streams: &[LokiStream]) -> Result<(), TestCaseError> {
    for stream in streams {
        prop_assert!(stream.labels.iter().all(|(name, _)| !name.is_empty()));
        for pair in stream.labels.windows(2) {
            prop_assert!(pair[0].0 < pair[1].0, "labels sorted, names distinct");
        }
        for entry in &stream.entries {
            prop_assert!(entry.timestamp_unix_nanos >= 0);
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn json_bodies_round_trip(streams in streams(), numeric in any::<bool>()) {
        let body = encode::json_body(&streams, numeric);
        prop_assert_eq!(parse_push_json(body.as_bytes()), Ok(streams), "{}", body);
    }

    #[test]
    fn protobuf_bodies_round_trip(streams in streams(), hash in any::<u64>()) {
        let message = push_request(&streams, hash);
        prop_assert_eq!(parse_push_protobuf(&snappy(&message), message.len()), Ok(streams));
    }

    #[test]
    fn label_text_round_trips(labels in proptest::collection::btree_map(label_name(), text(), 0..6)) {
        let labels: Vec<(String, String)> = labels.into_iter().collect();
        let text = encode::label_text(&labels);
        prop_assert_eq!(parse_labels(&text), Ok(labels), "{}", text);
    }

    #[test]
    fn the_limit_is_exact(streams in streams(), slack in -2i64..2) {
        let message = push_request(&streams, 0);
        let limit = usize::try_from(message.len() as i64 + slack).unwrap_or(0);
        let parsed = parse_push_protobuf(&snappy(&message), limit);
        if message.len() <= limit {
            prop_assert_eq!(parsed, Ok(streams));
        } else {
            prop_assert_eq!(parsed, Err(ParseError::DecompressedTooLarge { limit }));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let decoded = decode_push_request(&bytes);
        // Snappy is only a wrapper: the same bytes compressed decode alike.
        prop_assert_eq!(&parse_push_protobuf(&snappy(&bytes), bytes.len()), &decoded);
        let accepted = [parse_push_json(&bytes), decoded, parse_push_protobuf(&bytes, 4096)];
        for streams in accepted.into_iter().flatten() {
            check_invariants(&streams)?;
        }
        if let Ok(labels) = parse_labels(&String::from_utf8_lossy(&bytes)) {
            check_invariants(&[LokiStream { labels, entries: Vec::new() }])?;
        }
    }

    /// Valid messages with a few bytes changed or cut reach deep into the
    /// decoder; they never panic either.
    #[test]
    fn damaged_messages_never_panic(
        streams in streams(),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<proptest::sample::Index>(),
    ) {
        let mut message = push_request(&streams, 0);
        prop_assume!(!message.is_empty());
        for (at, byte) in edits {
            let at = at.index(message.len());
            message[at] = byte;
        }
        for part in [&message[..], &message[..cut.index(message.len())]] {
            if let Ok(streams) = decode_push_request(part) {
                check_invariants(&streams)?;
            }
        }
    }

    #[test]
    fn push_shaped_json_never_panics(
        body in "\\{\"streams\": ?\\[(\\{\"stream\":\\{(\"[a-z]{0,3}\":\"[a-z\\\\]{0,3}\",?){0,3}\\},\"values\":\\[(\\[\"?-?[0-9]{0,20}\"?,\"[a-z\\\\]{0,4}\"(,\\{\\})?\\],?){0,3}\\]\\},?){0,3}\\]\\}",
    ) {
        if let Ok(streams) = parse_push_json(body.as_bytes()) {
            check_invariants(&streams)?;
        }
    }
}
