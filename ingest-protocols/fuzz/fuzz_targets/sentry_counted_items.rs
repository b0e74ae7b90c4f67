//! Arbitrary bytes as the payload of each item type partout counts
//! rather than stores: `transaction`, `session`, `sessions` and
//! `client_report`. Invariants: no panic; reading is deterministic; what
//! parses respects its bounds (a transaction never ends before it starts
//! and has a bounded, non-empty name; a session has a 32-hex-digit sid
//! and a release; aggregates and reports hold at most their maximum of
//! buckets and entries, each count within its limit).
#![no_main]

use libfuzzer_sys::fuzz_target;
use partout_protocols::sentry::client_report::{
    parse_client_report, MAX_ENTRIES, MAX_LABEL_CHARS, MAX_QUANTITY,
};
use partout_protocols::sentry::session::{
    parse_session, parse_sessions, MAX_BUCKETS, MAX_BUCKET_COUNT, MAX_NAME_CHARS,
};
use partout_protocols::sentry::transaction::{self, parse_transaction};

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = parse_transaction(data) {
        assert!(parsed.start_micros <= parsed.end_micros);
        assert!(parsed.duration_micros() >= 0);
        assert!(!parsed.name.is_empty());
        assert!(parsed.name.chars().count() <= transaction::MAX_NAME_CHARS);
        assert!(parsed
            .http_status
            .is_none_or(|code| (100..=599).contains(&code)));
        assert_eq!(parse_transaction(data).ok(), Some(parsed));
    }
    if let Ok(update) = parse_session(data) {
        assert_eq!(update.sid.len(), 32);
        assert!(update
            .sid
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert!(!update.release.is_empty());
        assert!(update.release.chars().count() <= MAX_NAME_CHARS);
        assert_eq!(parse_session(data).ok(), Some(update));
    }
    if let Ok(aggregates) = parse_sessions(data) {
        assert!(aggregates.buckets.len() <= MAX_BUCKETS);
        for bucket in &aggregates.buckets {
            for count in [bucket.exited, bucket.errored, bucket.abnormal, bucket.crashed] {
                assert!(count <= MAX_BUCKET_COUNT);
            }
        }
    }
    if let Ok(report) = parse_client_report(data) {
        assert!(report.discarded.len() <= MAX_ENTRIES);
        for entry in &report.discarded {
            assert!((1..=MAX_QUANTITY).contains(&entry.quantity));
            assert!(!entry.reason.is_empty() && entry.reason.chars().count() <= MAX_LABEL_CHARS);
            assert!(!entry.category.is_empty() && entry.category.chars().count() <= MAX_LABEL_CHARS);
        }
    }
});
