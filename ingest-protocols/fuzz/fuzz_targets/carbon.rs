//! Arbitrary chunks through the carbon plaintext parser. Invariants: no
//! panic; accepted points have a path, a finite value and a non-negative
//! timestamp, and every tag has a name and a value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use partout_protocols::carbon::parse_lines;

fuzz_target!(|data: &[u8]| {
    for point in parse_lines(data).flatten() {
        assert!(!point.path.is_empty());
        assert!(point.value.is_finite());
        assert!(point.timestamp >= 0);
        for (name, value) in point.tags() {
            assert!(!name.is_empty() && !value.is_empty());
        }
    }
});
