//! Arbitrary bytes as a gzip body. Invariants: no panic, and what decodes
//! stays within the limit however large the trailer says it is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use partout_protocols::gzip::gunzip;

const LIMIT: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    if let Ok(decoded) = gunzip(data, LIMIT) {
        assert!(decoded.len() <= LIMIT);
    }
});
