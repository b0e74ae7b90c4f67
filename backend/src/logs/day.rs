//! UTC days, which name the log partitions, and RFC 3339 text for times
//! in results.

pub const NANOS_PER_SECOND: i64 = 1_000_000_000;
pub const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SECOND;

/// Days since 1970-01-01 of a Unix nanosecond time.
pub fn day_of(unix_nanos: i64) -> i64 {
    unix_nanos.div_euclid(NANOS_PER_DAY)
}

/// The (year, month, day) of a day number (Howard Hinnant's
/// `civil_from_days`, proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The day number of a date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-22`: a partition's directory name.
pub fn name(day: i64) -> String {
    let (year, month, day) = civil(day);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The day a partition directory name stands for.
pub fn parse(name: &str) -> Option<i64> {
    let mut parts = name.split('-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || name.len() != 10 || !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    let number = days_from_civil(year, month, day);
    // Refuses 2026-02-31 and friends: the name must be the canonical one.
    (self::name(number) == name).then_some(number)
}

/// `2026-11-22T10:00:00.123456789Z`, trailing zero digits of the fraction
/// dropped (none at all for whole seconds).
pub fn rfc3339(unix_nanos: i64) -> String {
    let day = day_of(unix_nanos);
    let within = unix_nanos - day * NANOS_PER_DAY;
    let seconds = within / NANOS_PER_SECOND;
    let nanos = within % NANOS_PER_SECOND;
    let (hour, minute, second) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let mut out = format!("{}T{hour:02}:{minute:02}:{second:02}", name(day));
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_times_match_the_calendar() {
        assert_eq!(name(0), "1970-01-01");
        assert_eq!(name(day_of(1_795_346_300 * NANOS_PER_SECOND)), "2026-11-22");
        assert_eq!(
            parse("2026-11-22"),
            Some(day_of(1_795_346_300 * NANOS_PER_SECOND))
        );
        assert_eq!(parse("2024-02-29").map(name).as_deref(), Some("2024-02-29"));
        assert_eq!(parse("2023-02-29"), None);
        assert_eq!(parse("journal"), None);
        assert_eq!(
            rfc3339(1_795_346_300 * NANOS_PER_SECOND),
            "2026-11-22T11:18:20Z"
        );
        assert_eq!(
            rfc3339(1_795_346_300_120_000_000),
            "2026-11-22T11:18:20.12Z"
        );
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
    }

    proptest::proptest! {
        #[test]
        fn every_day_round_trips(day in -300_000i64..2_900_000) {
            proptest::prop_assert_eq!(parse(&name(day)), Some(day));
        }
    }
}
