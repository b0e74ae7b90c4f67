//! Arbitrary bytes through the carbon pickle parser, as one message
//! payload. Invariants: no panic, no unbounded work or memory (the
//! unpickler's limits are kept small so the fuzzer reaches them); an
//! accepted message has no more points than the limit, and every accepted
//! point has a path, a finite value, a non-negative timestamp, and tags with
//! names and values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use partout_protocols::pickle::{parse_message_with, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_points: 64,
        max_stack: 128,
        max_memo: 64,
        max_string_len: 256,
        max_nesting: 8,
        max_decoded_bytes: 4096,
        max_copied: 256,
    };
    let Ok(points) = parse_message_with(data, &limits) else {
        return;
    };
    assert!(points.len() <= limits.max_points);
    let mut decoded = 0;
    for point in points.iter().flatten() {
        assert!(!point.path().is_empty());
        assert!(point.value.is_finite());
        assert!(point.timestamp >= 0);
        for (name, value) in point.tags() {
            assert!(!name.is_empty() && !value.is_empty());
        }
        decoded += point.line().path.len();
    }
    assert!(decoded <= limits.max_decoded_bytes);
});
