//! Calendar arithmetic and RFC 3339 timestamps, shared by the syslog and
//! JSON log parsers. Every result is Unix nanoseconds (UTC), the unit log
//! records are stored in; anything outside what an `i64` of nanoseconds
//! holds (years 1677 to 2262) is refused rather than wrapped.
//!
//! Spec: <https://www.rfc-editor.org/rfc/rfc3339#section-5.6>.

pub(crate) const NANOS_PER_SECOND: i64 = 1_000_000_000;
pub(crate) const SECONDS_PER_DAY: i64 = 86_400;

/// A wall-clock reading, not yet checked: [`CivilTime::to_unix_nanos`]
/// refuses impossible dates (February 30th, hour 24).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CivilTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    /// Up to 60: RFC 3339 allows a leap second, which lands on the next
    /// minute's first second, as Unix time has no leap seconds.
    pub second: u32,
    pub nanos: u32,
}

impl CivilTime {
    /// Unix nanoseconds of this reading taken at `offset_seconds` east of
    /// UTC, or `None` for an impossible date or one out of range.
    pub(crate) fn to_unix_nanos(self, offset_seconds: i64) -> Option<i64> {
        let valid = (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
            && self.hour < 24
            && self.minute < 60
            && self.second <= 60
            && i64::from(self.nanos) < NANOS_PER_SECOND;
        if !valid {
            return None;
        }
        let seconds_of_day =
            i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second);
        let seconds = days_from_civil(self.year, self.month, self.day)
            .checked_mul(SECONDS_PER_DAY)?
            .checked_add(seconds_of_day)?
            .checked_sub(offset_seconds)?;
        seconds
            .checked_mul(NANOS_PER_SECOND)?
            .checked_add(i64::from(self.nanos))
    }
}

pub(crate) fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar.
///
/// Counting years from March puts the leap day at the end of the year, so
/// the day of the year follows from the month by one linear formula; 400
/// years ("an era") always hold 146 097 days. `year` is bounded by callers
/// (at most five digits) so nothing here can overflow.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let march_year = if month <= 2 { year - 1 } else { year };
    let era = march_year.div_euclid(400);
    let year_of_era = march_year.rem_euclid(400);
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719 468 days lie between 0000-03-01 and 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

/// The calendar year holding a Unix time in nanoseconds: the inverse of
/// [`days_from_civil`], reduced to what year inference needs.
pub(crate) fn year_of_unix_nanos(unix_nanos: i64) -> i64 {
    let days = unix_nanos
        .div_euclid(NANOS_PER_SECOND)
        .div_euclid(SECONDS_PER_DAY);
    let days_from_year_zero = days + 719_468;
    let era = days_from_year_zero.div_euclid(146_097);
    let day_of_era = days_from_year_zero.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let march_year = era * 400 + year_of_era;
    // Months from March count January and February as the year before's.
    if month_from_march >= 10 {
        march_year + 1
    } else {
        march_year
    }
}

/// Parses an RFC 3339 timestamp (`2026-11-22T11:18:20.984845+00:00`) into
/// Unix nanoseconds, the whole input or nothing.
///
/// Lenient where real loggers differ from the RFC: a lowercase `t`/`z`, a
/// space between date and time (Python's `isoformat(" ")`, loguru), a comma
/// before the fraction, fractions longer than nanoseconds (truncated),
/// offsets as `+0200` or `+02` (zap, ISO 8601), and no offset at all, which
/// is taken as UTC since nothing better is known.
pub(crate) fn parse_rfc3339(text: &[u8]) -> Option<i64> {
    let mut cursor = Cursor { text, pos: 0 };
    let year = cursor.fixed_digits(4)?;
    cursor.literal(b'-')?;
    let month = cursor.fixed_digits(2)?;
    cursor.literal(b'-')?;
    let day = cursor.fixed_digits(2)?;
    match cursor.next()? {
        b'T' | b't' | b' ' => {}
        _ => return None,
    }
    let hour = cursor.fixed_digits(2)?;
    cursor.literal(b':')?;
    let minute = cursor.fixed_digits(2)?;
    cursor.literal(b':')?;
    let second = cursor.fixed_digits(2)?;
    let nanos = match cursor.peek() {
        Some(b'.' | b',') => {
            cursor.pos += 1;
            cursor.fraction_as_nanos()?
        }
        _ => 0,
    };
    let offset_seconds = match cursor.next() {
        None => 0,
        Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let hours = cursor.fixed_digits(2)?;
            if cursor.peek() == Some(b':') {
                cursor.pos += 1;
            }
            let minutes = if cursor.peek().is_some() {
                cursor.fixed_digits(2)?
            } else {
                0
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let magnitude = i64::from(hours * 3600 + minutes * 60);
            if sign == b'-' {
                -magnitude
            } else {
                magnitude
            }
        }
        Some(_) => return None,
    };
    if cursor.peek().is_some() {
        return None;
    }
    let civil = CivilTime {
        year: i64::from(year),
        month,
        day,
        hour,
        minute,
        second,
        nanos,
    };
    civil.to_unix_nanos(offset_seconds)
}

/// Reads ASCII text left to right without indexing panics.
pub(crate) struct Cursor<'a> {
    pub text: &'a [u8],
    pub pos: usize,
}

impl Cursor<'_> {
    pub(crate) fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    pub(crate) fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    pub(crate) fn literal(&mut self, expected: u8) -> Option<()> {
        (self.next()? == expected).then_some(())
    }

    /// Exactly `count` ASCII digits (at most 9, so the value fits a `u32`).
    pub(crate) fn fixed_digits(&mut self, count: usize) -> Option<u32> {
        let mut value = 0u32;
        for _ in 0..count.min(9) {
            let byte = self.next()?;
            if !byte.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(byte - b'0');
        }
        Some(value)
    }

    /// One or more digits after a decimal point, as nanoseconds; digits
    /// past the ninth are read and dropped.
    pub(crate) fn fraction_as_nanos(&mut self) -> Option<u32> {
        let start = self.pos;
        let mut nanos = 0u32;
        let mut scale = 100_000_000u32;
        while let Some(byte) = self.peek().filter(u8::is_ascii_digit) {
            nanos += u32::from(byte - b'0') * scale;
            scale /= 10;
            self.pos += 1;
        }
        (self.pos > start).then_some(nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2026, 11, 22), 20_779);
    }

    #[test]
    fn rfc3339_variants() {
        let cases: &[(&str, Option<i64>)] = &[
            (
                "2026-11-22T11:18:20.984845+00:00",
                Some(1_795_346_300_984_845_000),
            ),
            ("2026-11-22T11:18:20Z", Some(1_795_346_300_000_000_000)),
            ("2026-11-22t11:18:20z", Some(1_795_346_300_000_000_000)),
            ("2026-11-22 11:18:20", Some(1_795_346_300_000_000_000)),
            ("2026-11-22T12:18:20+01:00", Some(1_795_346_300_000_000_000)),
            (
                "2026-11-22T12:18:20.5+0100",
                Some(1_795_346_300_500_000_000),
            ),
            ("2026-11-22T10:18:20-01", Some(1_795_346_300_000_000_000)),
            (
                "2026-11-22T11:18:20,123456789123Z",
                Some(1_795_346_300_123_456_789),
            ),
            ("2026-02-29T00:00:00Z", None),
            ("2026-11-22T24:00:00Z", None),
            ("2026-11-22T11:18:20.Z", None),
            ("2026-11-22T11:18:20+25:00", None),
            ("2026-11-22T11:18:20Zjunk", None),
            ("2026-11-22", None),
            ("9999-12-31T23:59:59Z", None),
            ("", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_rfc3339(text.as_bytes()), *expected, "{text}");
        }
    }

    #[test]
    fn leap_second_lands_on_the_next_minute() {
        assert_eq!(
            parse_rfc3339(b"2016-12-31T23:59:60Z"),
            parse_rfc3339(b"2017-01-01T00:00:00Z")
        );
    }

    proptest::proptest! {
        #[test]
        fn year_of_unix_nanos_inverts_days_from_civil(
            year in 1678i64..2261, month in 1u32..=12, day in 1u32..=28, second_of_day in 0i64..SECONDS_PER_DAY,
        ) {
            let nanos = (days_from_civil(year, month, day) * SECONDS_PER_DAY + second_of_day) * NANOS_PER_SECOND;
            proptest::prop_assert_eq!(year_of_unix_nanos(nanos), year);
        }

        #[test]
        fn arbitrary_text_never_panics(text in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            let _ = parse_rfc3339(&text);
        }
    }
}
