//! Property tests of Sentry ingestion: the envelope parser never panics and
//! stays within its limits on any bytes, envelopes written by a small test
//! writer parse back to what was written, and grouping ignores line
//! numbers whatever the stack.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use partout_protocols::sentry::envelope::{parse_envelope, EnvelopeLimits, ItemType};
use partout_protocols::sentry::event::{normalize_event, NormalizeLimits};
use partout_protocols::sentry::grouping::group_event;
use proptest::prelude::*;
use serde_json::json;

const SMALL: EnvelopeLimits = EnvelopeLimits {
    max_envelope_bytes: 4096,
    max_item_bytes: 64,
    max_items: 8,
};

/// Checks what any successful parse must satisfy, and runs the rest of
/// the pipeline over its event items.
fn check_envelope(body: &[u8], limits: &EnvelopeLimits) -> Result<(), TestCaseError> {
    let Ok(envelope) = parse_envelope(body, limits) else {
        return Ok(());
    };
    prop_assert!(envelope.items.len() + envelope.skipped.len() <= limits.max_items);
    let body_range = body.as_ptr_range();
    for item in &envelope.items {
        prop_assert!(item.payload.len() <= limits.max_item_bytes);
        let payload_range = item.payload.as_ptr_range();
        prop_assert!(
            body_range.start <= payload_range.start && payload_range.end <= body_range.end
        );
        if let Some(length) = item.header.length {
            prop_assert_eq!(length, item.payload.len());
        }
        if matches!(item.header.kind, ItemType::Event | ItemType::Transaction) {
            if let Ok(event) = normalize_event(item.payload, &NormalizeLimits::default()) {
                let grouping = group_event(&event);
                prop_assert_eq!(grouping.key.len(), 32);
                prop_assert!(!grouping.title.is_empty());
            }
        }
    }
    Ok(())
}

/// One item as the test writer emits it.
#[derive(Debug, Clone)]
struct WrittenItem {
    type_name: String,
    payload: Vec<u8>,
    explicit_length: bool,
}

fn written_item() -> impl Strategy<Value = WrittenItem> {
    let type_name = prop_oneof![
        Just("event".to_owned()),
        Just("transaction".to_owned()),
        Just("attachment".to_owned()),
        Just("session".to_owned()),
        Just("client_report".to_owned()),
        Just("log".to_owned()),
        "[a-z_]{1,12}",
    ];
    (
        type_name,
        proptest::collection::vec(any::<u8>(), 0..80),
        any::<bool>(),
    )
        .prop_map(|(type_name, mut payload, explicit_length)| {
            if !explicit_length {
                // Without a length a payload ends at its first newline.
                payload.retain(|&byte| byte != b'\n');
            }
            WrittenItem {
                type_name,
                payload,
                explicit_length,
            }
        })
}

fn write_envelope(event_id: Option<&str>, items: &[WrittenItem], final_newline: bool) -> Vec<u8> {
    let header = match event_id {
        Some(id) => json!({"event_id": id, "sdk": {"name": "test.writer", "version": "1"}}),
        None => json!({}),
    };
    let mut body = header.to_string().into_bytes();
    body.push(b'\n');
    for (index, item) in items.iter().enumerate() {
        let mut item_header = json!({"type": item.type_name});
        if item.explicit_length {
            item_header["length"] = json!(item.payload.len());
        }
        body.extend_from_slice(item_header.to_string().as_bytes());
        body.push(b'\n');
        body.extend_from_slice(&item.payload);
        if index + 1 < items.len() || final_newline {
            body.push(b'\n');
        }
    }
    body
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        check_envelope(&body, &SMALL)?;
        check_envelope(&body, &EnvelopeLimits::default())?;
    }

    #[test]
    fn damaged_real_envelopes_never_panic(
        cut in 0usize..1500,
        flips in proptest::collection::vec((0usize..1500, any::<u8>()), 0..6),
    ) {
        let mut body = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/sentry/sentry-envelope-message.bin"
        ))
        .unwrap();
        for (at, byte) in flips {
            if let Some(slot) = body.get_mut(at) {
                *slot = byte;
            }
        }
        body.truncate(cut.max(1));
        check_envelope(&body, &EnvelopeLimits::default())?;
    }

    #[test]
    fn written_envelopes_round_trip(
        event_id in proptest::option::of("[0-9a-f]{32}"),
        items in proptest::collection::vec(written_item(), 0..8),
        final_newline in any::<bool>(),
    ) {
        let body = write_envelope(event_id.as_deref(), &items, final_newline);
        let envelope = parse_envelope(&body, &EnvelopeLimits::default()).unwrap();
        prop_assert_eq!(envelope.header.event_id, event_id);
        prop_assert!(envelope.skipped.is_empty());
        prop_assert_eq!(envelope.items.len(), items.len());
        for (parsed, written) in envelope.items.iter().zip(&items) {
            prop_assert_eq!(parsed.header.kind.name(), written.type_name.as_str());
            prop_assert_eq!(parsed.payload, written.payload.as_slice());
            prop_assert_eq!(parsed.header.length.is_some(), written.explicit_length);
        }
    }

    #[test]
    fn line_numbers_never_change_the_group(
        frames in proptest::collection::vec(
            ("[a-z.]{0,8}", "[a-z_]{0,8}", proptest::option::of(any::<bool>()), 0u32..5000, 0u32..5000),
            1..12,
        ),
        kind in "[A-Za-z]{1,12}",
    ) {
        let event_with = |pick_line: &dyn Fn(u32, u32) -> u32| {
            let frames: Vec<_> = frames
                .iter()
                .map(|(module, function, in_app, a, b)| json!({
                    "module": module, "function": function, "in_app": in_app,
                    "lineno": pick_line(*a, *b), "colno": pick_line(*b, *a),
                }))
                .collect();
            let payload = json!({"exception": {"values": [{"type": kind, "stacktrace": {"frames": frames}}]}});
            normalize_event(payload.to_string().as_bytes(), &NormalizeLimits::default()).unwrap()
        };
        let first = group_event(&event_with(&|a, _| a));
        let second = group_event(&event_with(&|_, b| b));
        prop_assert_eq!(&first.key, &second.key);
        prop_assert_eq!(first.title, second.title);
        prop_assert_eq!(first.culprit, second.culprit);
        prop_assert!(first.key.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }
}
