//! Timestamps as loggers write them: RFC 3339 text, or a number since the
//! Unix epoch in seconds (zap, structlog without a format, Fluent Bit),
//! milliseconds (pino, bunyan), microseconds or nanoseconds.

use serde_json::{Number, Value};

use crate::timestamp::{parse_rfc3339, NANOS_PER_SECOND};

/// Unix nanoseconds of a timestamp value; `None` when it is none.
pub(super) fn from_json(value: &Value) -> Option<i64> {
    match value {
        Value::String(text) => from_text(text),
        Value::Number(number) => from_number(number),
        // loguru: {"repr": "2026-11-22 12:18:20.123456+01:00", "timestamp": 1795346300.123456}
        Value::Object(object) => object
            .get("timestamp")
            .and_then(from_json)
            .or_else(|| object.get("repr").and_then(from_json)),
        _ => None,
    }
}

/// Unix nanoseconds of RFC 3339 text or an epoch number in s, ms, us or
/// ns (told apart by magnitude).
pub fn from_text(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(unix_nanos) = parse_rfc3339(text.as_bytes()) {
        return Some(unix_nanos);
    }
    let number: Number = text.parse().ok()?;
    from_number(&number)
}

pub(super) fn from_number(number: &Number) -> Option<i64> {
    if let Some(integer) = number.as_u64() {
        let nanos_per_unit = nanos_per_unit(integer as f64);
        return i64::try_from(integer).ok()?.checked_mul(nanos_per_unit);
    }
    let value = number.as_f64()?;
    // Also refuses negative times: no log line predates 1970.
    if !(0.0..9.0e18).contains(&value) {
        return None;
    }
    let nanos_per_unit = nanos_per_unit(value);
    // Whole units and the fraction apart: at 1.8e9 seconds an f64 holds
    // about 0.2 microseconds, which scaling first would spoil further.
    let whole_units = value.trunc();
    let fraction_nanos = ((value - whole_units) * nanos_per_unit as f64).round();
    #[allow(clippy::cast_possible_truncation)]
    let (whole_units, fraction_nanos) = (whole_units as i64, fraction_nanos as i64);
    whole_units
        .checked_mul(nanos_per_unit)?
        .checked_add(fraction_nanos)
}

/// The unit of an epoch number, from its magnitude: 1e11 seconds is the
/// year 5138, while 1e11 milliseconds is 1973, so each unit owns three
/// decades of magnitude for any date from 1973 to 5138.
fn nanos_per_unit(magnitude: f64) -> i64 {
    if magnitude < 1e11 {
        NANOS_PER_SECOND
    } else if magnitude < 1e14 {
        1_000_000
    } else if magnitude < 1e17 {
        1_000
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const AT: i64 = 1_795_346_300_123_456_789;

    #[test]
    fn epoch_units_from_magnitude() {
        assert_eq!(
            from_json(&json!(1_795_346_300u64)),
            Some(1_795_346_300_000_000_000)
        );
        assert_eq!(
            from_json(&json!(1_795_346_300_123u64)),
            Some(1_795_346_300_123_000_000)
        );
        assert_eq!(
            from_json(&json!(1_795_346_300_123_456u64)),
            Some(1_795_346_300_123_456_000)
        );
        assert_eq!(from_json(&json!(AT)), Some(AT));
        assert_eq!(
            from_json(&json!("1795346300123")),
            Some(1_795_346_300_123_000_000)
        );
    }

    #[test]
    fn fractional_seconds_keep_microseconds() {
        let unix_nanos = from_json(&json!(1_795_346_300.123_456_7)).unwrap();
        assert!(
            (unix_nanos - 1_795_346_300_123_456_700).abs() < 1_000,
            "{unix_nanos}"
        );
        let unix_nanos = from_json(&json!(1_795_346_300_123.456)).unwrap();
        assert!(
            (unix_nanos - 1_795_346_300_123_456_000).abs() < 1_000,
            "{unix_nanos}"
        );
    }

    #[test]
    fn text_and_loguru() {
        assert_eq!(
            from_json(&json!("2026-11-22T11:18:20.123456789Z")),
            Some(AT)
        );
        assert_eq!(
            from_json(&json!({"repr": "2026-11-22 12:18:20.123456789+01:00", "timestamp": null})),
            Some(AT)
        );
    }

    #[test]
    fn not_timestamps() {
        for value in [
            json!(-5),
            json!(1e300),
            json!(u64::MAX),
            json!("yesterday"),
            json!(true),
            json!(null),
            json!([1]),
        ] {
            assert_eq!(from_json(&value), None, "{value}");
        }
    }
}
