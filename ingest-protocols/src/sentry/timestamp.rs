//! Sentry timestamps as Unix microseconds.
//!
//! SDKs send either an RFC 3339 string (`2026-11-22T11:47:10.061164Z`, the
//! Python and JS SDKs) or a number of seconds since the epoch with a
//! fraction (older SDKs, and `start_timestamp` in some). Both become `i64`
//! microseconds: integers compare and store exactly, and microseconds are
//! the finest precision any SDK sends.
//!
//! Accepted range: 1970-01-01 up to the end of year 9999. Anything outside
//! it is treated as absent rather than an error, since the timestamp is an
//! optional field; whether a timestamp is too far from "now" needs a clock
//! and is the caller's decision.

use serde_json::Value;

/// 10000-01-01T00:00:00Z, the first second not accepted.
const END_SECONDS: i64 = 253_402_300_800;

/// Longer strings are not timestamps; the bound keeps parsing cheap.
const MAX_TEXT_LEN: usize = 64;

/// A JSON timestamp (string or number) as Unix microseconds, or `None`
/// when it is absent, malformed or out of range.
pub fn from_json(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => from_epoch_seconds(number.as_f64()?),
        Value::String(text) => parse_text(text),
        _ => None,
    }
}

/// An RFC 3339 string, or a decimal number of seconds written as a string
/// (some SDKs stringify the epoch form).
pub fn parse_text(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.len() > MAX_TEXT_LEN {
        return None;
    }
    if text
        .bytes()
        .all(|byte| byte.is_ascii_digit() || byte == b'.')
    {
        return from_epoch_seconds(text.parse().ok()?);
    }
    parse_rfc3339(text)
}

/// Seconds since the epoch, with a fraction, as microseconds.
pub fn from_epoch_seconds(seconds: f64) -> Option<i64> {
    if !seconds.is_finite() || seconds < 0.0 || seconds >= END_SECONDS as f64 {
        return None;
    }
    // In range, so the product fits an i64 with room to spare.
    Some((seconds * 1_000_000.0).round() as i64)
}

/// `YYYY-MM-DD(T|t| )HH:MM:SS[.fraction][Z|±HH:MM|±HHMM|±HH]`. A missing
/// offset means UTC, as Sentry reads it; a leap second `60` counts as `59`.
/// Fraction digits past microseconds are dropped.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let year = digits(bytes, 0, 4)?;
    let month = digits(bytes, 5, 2)?;
    let day = digits(bytes, 8, 2)?;
    let hour = digits(bytes, 11, 2)?;
    let minute = digits(bytes, 14, 2)?;
    let second = digits(bytes, 17, 2)?;
    let separators_ok = bytes.get(4) == Some(&b'-')
        && bytes.get(7) == Some(&b'-')
        && matches!(bytes.get(10), Some(b'T' | b't' | b' '))
        && bytes.get(13) == Some(&b':')
        && bytes.get(16) == Some(&b':');
    if !separators_ok
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = bytes.get(19..)?;
    let mut micros = 0i64;
    if let Some((b'.', fraction)) = rest.split_first() {
        let len = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 {
            return None;
        }
        let (fraction_digits, after) = fraction.split_at(len);
        for position in 0..6 {
            let digit = fraction_digits
                .get(position)
                .map_or(0, |d| i64::from(d - b'0'));
            micros = micros * 10 + digit;
        }
        rest = after;
    }
    let offset_seconds = parse_offset(rest)?;
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second.min(59) - offset_seconds;
    if !(0..END_SECONDS).contains(&seconds) {
        return None;
    }
    Some(seconds * 1_000_000 + micros)
}

/// The UTC offset suffix in seconds east of UTC; empty means UTC.
fn parse_offset(rest: &[u8]) -> Option<i64> {
    let (sign, hhmm) = match rest.split_first() {
        None => return Some(0),
        Some((b'Z' | b'z', tail)) => return tail.is_empty().then_some(0),
        Some((b'+', tail)) => (1, tail),
        Some((b'-', tail)) => (-1, tail),
        Some(_) => return None,
    };
    let hours = digits(hhmm, 0, 2)?;
    let minutes = match hhmm.len() {
        2 => 0,
        4 => digits(hhmm, 2, 2)?,
        5 if hhmm.get(2) == Some(&b':') => digits(hhmm, 3, 2)?,
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3_600 + minutes * 60))
}

/// `len` ASCII digits at `start` as a number.
fn digits(bytes: &[u8], start: usize, len: usize) -> Option<i64> {
    let field = bytes.get(start..start.checked_add(len)?)?;
    field.iter().try_fold(0i64, |acc, byte| {
        byte.is_ascii_digit()
            .then(|| acc * 10 + i64::from(byte - b'0'))
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date, by counting whole
/// 400-year eras (146097 days each) from a year that starts in March, so
/// the leap day falls at the end of the counted year.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn python_sdk_timestamps() {
        assert_eq!(
            parse_text("2026-11-22T11:47:10.061164Z"),
            Some(1_795_348_030_061_164)
        );
    }

    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2000-03-01T00:00:00Z"),
            Some(951_868_800_000_000)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T12:00:00Z"),
            Some(1_709_208_000_000_000)
        );
    }

    #[test]
    fn offsets_fractions_and_no_zone() {
        let utc = parse_rfc3339("2023-11-14T22:13:20Z").unwrap();
        assert_eq!(utc, 1_700_000_000_000_000);
        assert_eq!(parse_rfc3339("2023-11-15T00:13:20+02:00"), Some(utc));
        assert_eq!(parse_rfc3339("2023-11-14T17:13:20-0500"), Some(utc));
        assert_eq!(parse_rfc3339("2023-11-14T23:13:20+01"), Some(utc));
        assert_eq!(parse_rfc3339("2023-11-14 22:13:20"), Some(utc));
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20.5Z"), Some(utc + 500_000));
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20.123456789Z"),
            Some(utc + 123_456)
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:60Z"),
            Some(utc + 39_000_000)
        );
    }

    #[test]
    fn epoch_numbers_and_numeric_strings() {
        assert_eq!(
            from_json(&serde_json::json!(1_700_000_000.25)),
            Some(1_700_000_000_250_000)
        );
        assert_eq!(
            from_json(&serde_json::json!(1_700_000_000)),
            Some(1_700_000_000_000_000)
        );
        assert_eq!(
            from_json(&serde_json::json!("1700000000.5")),
            Some(1_700_000_000_500_000)
        );
    }

    #[test]
    fn malformed_or_out_of_range_is_none() {
        for text in [
            "",
            "yesterday",
            "2023-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2023-01-01T24:00:00Z",
            "2023-01-01T00:00:00.Z",
            "2023-01-01T00:00:00+2",
            "2023-01-01T00:00:00Zjunk",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:30:00+01:00",
            "2023/01/01T00:00:00Z",
            "١٢٣٤-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_text(text), None, "{text}");
        }
        assert_eq!(from_json(&serde_json::json!(-1.0)), None);
        assert_eq!(from_json(&serde_json::json!(1e300)), None);
        assert_eq!(from_json(&serde_json::json!(true)), None);
    }

    proptest::proptest! {
        #[test]
        fn formatted_dates_round_trip(seconds in 0i64..END_SECONDS, micros in 0i64..1_000_000) {
            let days = seconds.div_euclid(86_400);
            let (year, month, day) = civil_from_days(days);
            let second_of_day = seconds.rem_euclid(86_400);
            let text = format!(
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
                second_of_day / 3600,
                second_of_day / 60 % 60,
                second_of_day % 60
            );
            proptest::prop_assert_eq!(parse_rfc3339(&text), Some(seconds * 1_000_000 + micros));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
            if let Some(micros) = parse_text(&text) {
                proptest::prop_assert!((0..END_SECONDS * 1_000_000).contains(&micros));
            }
        }
    }

    /// The inverse of `days_from_civil`, by brute force over years: slow
    /// but obviously right, which is what a test oracle needs.
    fn civil_from_days(mut days: i64) -> (i64, i64, i64) {
        let mut year = 1970;
        loop {
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
            let len = if leap { 366 } else { 365 };
            if days < len {
                break;
            }
            days -= len;
            year += 1;
        }
        let mut month = 1;
        while days >= days_in_month(year, month) {
            days -= days_in_month(year, month);
            month += 1;
        }
        (year, month, days + 1)
    }
}
