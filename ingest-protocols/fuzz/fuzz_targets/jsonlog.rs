//! Arbitrary lines through the JSON log parser. Invariants: no panic; the
//! parser gives what its general path alone gives (its fast path agrees
//! wherever it answers); a line is refused exactly when it is not a JSON
//! object, and is then kept whole as the message; fields respect the caps,
//! are sorted and distinct, with everything past the caps in one overflow
//! field holding a JSON object.
#![no_main]

use libfuzzer_sys::fuzz_target;
use partout_protocols::jsonlog::{
    parse_line, parse_line_general, FieldValue, JsonLogLimits, OVERFLOW_FIELD,
};

/// Small caps, so inputs the fuzzer finds reach them.
const LIMITS: JsonLogLimits = JsonLogLimits {
    max_fields: 8,
    max_field_name_len: 16,
};

fuzz_target!(|data: &[u8]| {
    let line = parse_line(data, &LIMITS);
    // Debug text, as `==` takes -0.0 for 0.0.
    assert_eq!(
        format!("{line:?}"),
        format!("{:?}", parse_line_general(data, &LIMITS))
    );
    let text = String::from_utf8_lossy(data);
    let trimmed = text
        .trim_start_matches('\u{feff}')
        .trim_matches(|character: char| character.is_whitespace() || character == '\0');
    let is_object = matches!(
        serde_json::from_str::<serde_json::Value>(trimmed),
        Ok(serde_json::Value::Object(_))
    );
    assert_eq!(line.parse_error.is_none(), is_object);
    if line.parse_error.is_some() {
        assert_eq!(line.message.as_deref(), Some(trimmed));
        assert!(line.fields.is_empty() && line.exception.is_none());
    }

    let (overflow, fields): (Vec<_>, Vec<_>) = line
        .fields
        .iter()
        .partition(|(name, _)| name == OVERFLOW_FIELD);
    assert!(fields.len() <= LIMITS.max_fields && overflow.len() <= 1);
    for (name, _) in &fields {
        assert!(!name.is_empty() && name.len() <= LIMITS.max_field_name_len);
    }
    for pair in fields.windows(2) {
        assert!(pair[0].0 < pair[1].0);
    }
    if let Some((_, value)) = overflow.first() {
        let FieldValue::Json(json) = value else {
            panic!("overflow field is not JSON");
        };
        let kept: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
        assert!(kept.as_object().is_some_and(|object| !object.is_empty()));
        assert_eq!(
            line.fields.last().map(|(name, _)| name.as_str()),
            Some(OVERFLOW_FIELD)
        );
    }
});
