//! Arbitrary bytes through the Loki push parsers: as a protobuf message,
//! as a snappy body, as JSON, and as label text. Invariants: no panic;
//! accepted streams have labels sorted by name, each name once and
//! non-empty, and non-negative timestamps; snappy is only a wrapper (the
//! bytes compressed parse as the bytes decoded) and the size limit holds
//! to the byte; label text that parses prints back to the same labels.
#![no_main]

use libfuzzer_sys::fuzz_target;
use partout_protocols::loki::{
    decode_push_request, parse_labels, parse_push_json, parse_push_protobuf, LokiStream,
};
use partout_protocols::ParseError;

fuzz_target!(|data: &[u8]| {
    let decoded = decode_push_request(data);
    check(&decoded);
    let compressed = snap::raw::Encoder::new()
        .compress_vec(data)
        .expect("snappy takes inputs up to 4 GiB");
    assert_eq!(parse_push_protobuf(&compressed, data.len()), decoded);
    if let Some(limit) = data.len().checked_sub(1) {
        assert_eq!(
            parse_push_protobuf(&compressed, limit),
            Err(ParseError::DecompressedTooLarge { limit })
        );
    }
    check(&parse_push_protobuf(data, 1 << 16));
    check(&parse_push_json(data));

    if let Ok(labels) = parse_labels(&String::from_utf8_lossy(data)) {
        check_labels(&labels);
        assert_eq!(parse_labels(&print(&labels)), Ok(labels));
    }
});

fn check(parsed: &Result<Vec<LokiStream>, ParseError>) {
    for stream in parsed.iter().flatten() {
        check_labels(&stream.labels);
        for entry in &stream.entries {
            assert!(entry.timestamp_unix_nanos >= 0);
        }
    }
}

fn check_labels(labels: &[(String, String)]) {
    assert!(labels.iter().all(|(name, _)| !name.is_empty()));
    for pair in labels.windows(2) {
        assert!(pair[0].0 < pair[1].0);
    }
}

/// Labels as text, every name and value quoted, escaping only `"` and
/// `\`, so this checks the grammar, not the printer.
fn print(labels: &[(String, String)]) -> String {
    let quote = |text: &str| format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""));
    let pairs: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{}={}", quote(name), quote(value)))
        .collect();
    format!("{{{}}}", pairs.join(","))
}
