//! Arbitrary bytes as the payload of a Sentry `log` envelope item.
//! Invariants: no panic; records and attributes stay within the limits;
//! texts are cut to their caps; doubles are finite; a payload that is
//! not a JSON object gives no record and exactly one error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use partout_protocols::sentry::logs::{parse_log_item, AttributeValue, LogItemError, LogLimits};

/// Small caps, so inputs the fuzzer finds reach them.
const LIMITS: LogLimits = LogLimits {
    max_records: 4,
    max_attributes: 3,
    max_body_chars: 16,
    max_name_chars: 8,
    max_value_chars: 12,
};

fuzz_target!(|data: &[u8]| {
    let batch = parse_log_item(data, &LIMITS);
    let is_object = matches!(
        serde_json::from_slice::<serde_json::Value>(data),
        Ok(serde_json::Value::Object(_))
    );
    if !is_object {
        assert!(batch.logs.is_empty());
        assert_eq!(batch.errors, [LogItemError::BadPayload]);
    }
    assert!(batch.logs.len() <= LIMITS.max_records);
    for log in &batch.logs {
        assert!(log.body.chars().count() <= LIMITS.max_body_chars);
        assert!(log.attributes.len() <= LIMITS.max_attributes);
        for (name, value) in &log.attributes {
            assert!(!name.is_empty() && name.chars().count() <= LIMITS.max_name_chars);
            match value {
                AttributeValue::Text(text) | AttributeValue::Json(text) => {
                    assert!(text.chars().count() <= LIMITS.max_value_chars)
                }
                AttributeValue::Double(number) => assert!(number.is_finite()),
                AttributeValue::Integer(_) | AttributeValue::Bool(_) => {}
            }
        }
    }
});
