//! Arbitrary datagrams through the StatsD parser. Invariants: no panic;
//! every accepted line has a name, as many values as it counts, and only
//! finite numbers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use partout_protocols::statsd::{parse_datagram, sanitize_name, Value};

fuzz_target!(|data: &[u8]| {
    for line in parse_datagram(data).flatten() {
        assert!(!line.name.is_empty());
        assert_eq!(line.values().count(), line.value_count());
        for value in line.values() {
            if let Value::Number(n) | Value::GaugeDelta(n) = value {
                assert!(n.is_finite());
            }
        }
        assert!(line.sample_rate > 0.0 && line.sample_rate <= 1.0);
        let clean = sanitize_name(line.name);
        assert!(clean.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)));
        let _ = line.tags().count();
    }
});
