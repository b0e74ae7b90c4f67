//! Arbitrary bodies through Sentry ingestion: envelope framing, event
//! normalization of every event and transaction item, and grouping; the
//! same bytes as text through the auth and DSN parsers. Invariants: no
//! panic; items respect the limits and lie inside the body; normalized
//! events respect theirs; grouping is deterministic with a 32-hex-digit key
//! and a non-empty, bounded title.
#![no_main]

use libfuzzer_sys::fuzz_target;
use partout_protocols::sentry::auth::{parse_auth_header, parse_auth_query, parse_dsn};
use partout_protocols::sentry::envelope::{parse_envelope, EnvelopeLimits, ItemType};
use partout_protocols::sentry::event::{normalize_event, Event, NormalizeLimits, Stacktrace};
use partout_protocols::sentry::grouping::group_event;
use partout_protocols::sentry::message::mask_variables;

/// Small limits, so the fuzzer reaches them with short inputs.
const ENVELOPE: EnvelopeLimits = EnvelopeLimits {
    max_envelope_bytes: 64 * 1024,
    max_item_bytes: 8 * 1024,
    max_items: 16,
};
const EVENT: NormalizeLimits = NormalizeLimits {
    max_frames: 8,
    max_exceptions: 3,
    max_breadcrumbs: 4,
    max_tags: 4,
    max_context_lines: 2,
    max_text_chars: 64,
    max_name_chars: 16,
    max_fingerprint: 4,
    max_json_depth: 3,
    max_json_entries: 4,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = parse_envelope(data, &ENVELOPE) {
        assert!(envelope.items.len() + envelope.skipped.len() <= ENVELOPE.max_items);
        let body = data.as_ptr_range();
        for item in &envelope.items {
            let payload = item.payload.as_ptr_range();
            assert!(body.start <= payload.start && payload.end <= body.end);
            assert!(item.payload.len() <= ENVELOPE.max_item_bytes);
            if let Some(length) = item.header.length {
                assert_eq!(length, item.payload.len());
            }
            if matches!(item.header.kind, ItemType::Event | ItemType::Transaction) {
                if let Ok(event) = normalize_event(item.payload, &EVENT) {
                    check_event(&event);
                }
            }
        }
    }
    let text = String::from_utf8_lossy(data);
    for auth in [parse_auth_header(&text), parse_auth_query(&text)].into_iter().flatten() {
        assert!((1..=64).contains(&auth.public_key.len()));
        assert!(auth.public_key.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
    if let Ok(dsn) = parse_dsn(&text) {
        assert!(!dsn.host.is_empty() && !dsn.public_key.is_empty());
    }
    assert!(mask_variables(&text).len() <= 5 * text.len());
});

fn check_event(event: &Event) {
    let chars = |text: &Option<String>, max: usize| {
        assert!(text.as_ref().is_none_or(|text| text.chars().count() <= max));
    };
    let check_stack = |stack: &Option<Stacktrace>| {
        if let Some(stack) = stack {
            assert!(!stack.frames.is_empty() && stack.frames.len() <= EVENT.max_frames);
            for frame in stack.frames.iter() {
                chars(&frame.function, EVENT.max_name_chars);
                chars(&frame.context_line, EVENT.max_text_chars);
                assert!(frame.pre_context.len() <= EVENT.max_context_lines);
                assert!(frame.post_context.len() <= EVENT.max_context_lines);
            }
        }
    };
    assert!(event.exceptions.len() <= EVENT.max_exceptions);
    assert!(event.breadcrumbs.len() <= EVENT.max_breadcrumbs);
    assert!(event.tags.len() <= EVENT.max_tags);
    assert!(event.fingerprint.len() <= EVENT.max_fingerprint);
    assert!(event.event_id.as_ref().is_none_or(|id| id.len() == 32));
    chars(&event.release, EVENT.max_name_chars);
    for exception in &event.exceptions {
        chars(&exception.kind, EVENT.max_name_chars);
        chars(&exception.value, EVENT.max_text_chars);
        check_stack(&exception.stacktrace);
    }
    check_stack(&event.stacktrace);
    if event.exceptions.iter().any(|e| e.stacktrace.is_some()) {
        assert!(event.stacktrace.is_none());
    }

    let grouping = group_event(event);
    assert_eq!(grouping, group_event(event));
    assert_eq!(grouping.key.len(), 32);
    assert!(grouping.key.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert!(!grouping.title.is_empty() && grouping.title.chars().count() <= 200);
    assert!(grouping.culprit.is_none_or(|culprit| culprit.chars().count() <= 200));
}
