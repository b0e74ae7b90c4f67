//! RFC 3164 timestamps, `Mmm dd hh:mm:ss`, which carry neither year nor
//! zone. The year is inferred from the caller's clock; the zone is taken as
//! UTC, since the sender's is unknown.
//!
//! Accepted beyond the RFC: a single-digit day with one space instead of
//! two (`Nov 2`), any letter case in the month, a fraction of a second
//! (rsyslog's `RSYSLOG_TraditionalFileFormat` does not, but several
//! network devices do), and a year before the time (`Nov 22 2026
//! 11:18:20`, Cisco and some appliances).

use crate::timestamp::{year_of_unix_nanos, CivilTime, Cursor, NANOS_PER_SECOND, SECONDS_PER_DAY};

/// How far ahead of `now` a timestamp may be: senders' clocks drift, and a
/// year later than that is almost surely last year.
const FUTURE_TOLERANCE_NANOS: i64 = SECONDS_PER_DAY * NANOS_PER_SECOND;

/// The timestamp at the start of `text` as Unix nanoseconds, and the bytes
/// after it; it must be followed by a space or the end of the frame.
pub(super) fn parse(text: &[u8], now_unix_nanos: i64) -> Option<(i64, &[u8])> {
    let mut cursor = Cursor { text, pos: 0 };
    let month = month_number(text.get(..3)?)?;
    cursor.pos = 3;
    cursor.literal(b' ')?;
    if cursor.peek() == Some(b' ') {
        cursor.pos += 1;
    }
    let day = one_or_two_digits(&mut cursor)?;
    cursor.literal(b' ')?;
    let year = explicit_year(&mut cursor);
    let hour = cursor.fixed_digits(2)?;
    cursor.literal(b':')?;
    let minute = cursor.fixed_digits(2)?;
    cursor.literal(b':')?;
    let second = cursor.fixed_digits(2)?;
    let nanos = if cursor.peek() == Some(b'.') {
        cursor.pos += 1;
        cursor.fraction_as_nanos()?
    } else {
        0
    };
    if !matches!(cursor.peek(), None | Some(b' ')) {
        return None;
    }
    let reading = |year| CivilTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanos,
    };
    let unix_nanos = match year {
        Some(year) => reading(year).to_unix_nanos(0)?,
        None => closest_past_year(now_unix_nanos, |year| reading(year).to_unix_nanos(0))?,
    };
    Some((unix_nanos, text.get(cursor.pos..)?))
}

/// Of the readings in the years around `now`, the latest that is not
/// more than a day ahead of it: the closest to `now` among plausible
/// ones. Going back up to eight years finds a leap year for February 29.
fn closest_past_year(now_unix_nanos: i64, reading_in: impl Fn(i64) -> Option<i64>) -> Option<i64> {
    let now_year = year_of_unix_nanos(now_unix_nanos);
    let latest_allowed = now_unix_nanos.saturating_add(FUTURE_TOLERANCE_NANOS);
    (now_year - 8..=now_year + 1)
        .rev()
        .filter_map(reading_in)
        .find(|&unix_nanos| unix_nanos <= latest_allowed)
}

fn month_number(name: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let position = MONTHS
        .iter()
        .position(|month| name.eq_ignore_ascii_case(month.as_slice()))?;
    u32::try_from(position + 1).ok()
}

fn one_or_two_digits(cursor: &mut Cursor<'_>) -> Option<u32> {
    let first = cursor.next().filter(u8::is_ascii_digit)?;
    let mut value = u32::from(first - b'0');
    if let Some(second) = cursor.peek().filter(u8::is_ascii_digit) {
        cursor.pos += 1;
        value = value * 10 + u32::from(second - b'0');
    }
    Some(value)
}

/// A four-digit year and its space, consumed only when both are there.
fn explicit_year(cursor: &mut Cursor<'_>) -> Option<i64> {
    let start = cursor.pos;
    let year = cursor.fixed_digits(4);
    if let (Some(year), Some(())) = (year, cursor.literal(b' ')) {
        return Some(i64::from(year));
    }
    cursor.pos = start;
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::parse_rfc3339;

    fn at(rfc3339: &str) -> i64 {
        parse_rfc3339(rfc3339.as_bytes()).unwrap()
    }

    fn parsed(text: &str, now: &str) -> Option<i64> {
        parse(text.as_bytes(), at(now)).map(|(unix_nanos, _)| unix_nanos)
    }

    #[test]
    fn year_comes_from_now() {
        let now = "2026-11-22T11:18:21Z";
        assert_eq!(
            parsed("Nov 22 11:18:20", now),
            Some(at("2026-11-22T11:18:20Z"))
        );
        assert_eq!(
            parsed("Nov  2 01:02:03", now),
            Some(at("2026-11-02T01:02:03Z"))
        );
        assert_eq!(
            parsed("nov 2 01:02:03", now),
            Some(at("2026-11-02T01:02:03Z"))
        );
    }

    #[test]
    fn december_messages_read_in_january_are_last_year() {
        assert_eq!(
            parsed("Dec 31 23:59:59", "2027-01-01T00:00:05Z"),
            Some(at("2026-12-31T23:59:59Z"))
        );
    }

    #[test]
    fn a_clock_slightly_ahead_stays_this_year() {
        // Less than a day ahead of now: this year, not last.
        assert_eq!(
            parsed("Nov 22 20:00:00", "2026-11-22T11:00:00Z"),
            Some(at("2026-11-22T20:00:00Z"))
        );
        // A January timestamp seen on December 31st is from the new year.
        assert_eq!(
            parsed("Jan  1 00:10:00", "2026-12-31T23:59:00Z"),
            Some(at("2027-01-01T00:10:00Z"))
        );
        // More than a day ahead: last year.
        assert_eq!(
            parsed("Nov 24 11:00:00", "2026-11-22T11:00:00Z"),
            Some(at("2025-11-24T11:00:00Z"))
        );
    }

    #[test]
    fn february_29th_goes_back_to_a_leap_year() {
        assert_eq!(
            parsed("Feb 29 12:00:00", "2026-11-22T11:00:00Z"),
            Some(at("2024-02-29T12:00:00Z"))
        );
    }

    #[test]
    fn fraction_and_explicit_year() {
        let now = "2026-11-22T11:18:21Z";
        assert_eq!(
            parsed("Nov 22 11:18:20.250 rest", now),
            Some(at("2026-11-22T11:18:20.25Z"))
        );
        assert_eq!(
            parsed("Mar  1 2019 08:00:00", now),
            Some(at("2019-03-01T08:00:00Z"))
        );
    }

    #[test]
    fn the_rest_starts_at_the_space() {
        let (_, rest) = parse(b"Nov 22 11:18:20 vm tag: x", 0).unwrap();
        assert_eq!(rest, b" vm tag: x");
    }

    #[test]
    fn not_timestamps() {
        for text in [
            "Nov 22 11:18",
            "Nov 22 11:18:20x",
            "Now 22 11:18:20",
            "Nov 31 11:18:20",
            "Nov 22 25:00:00",
            "Nov 222 11:18:20",
            "Nov",
            "",
        ] {
            assert_eq!(parsed(text, "2026-11-22T11:18:21Z"), None, "{text}");
        }
    }
}
