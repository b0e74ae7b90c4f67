//! Graphite's `from`/`until` forms, in UTC:
//! - relative: `-5min`, `-24h`, `-7d`, `-2w`, `-1mon` (30 days), `-1y`
//!   (365 days), `s`/`sec`/`seconds`, `min`/`minutes`, `h`/`hours`, ...;
//! - `now`, `today`, `yesterday` (midnight), a unix timestamp,
//!   `YYYYMMDD`, `HH:MM_YYYYMMDD`, `MM/DD/YY`, `MM/DD/YYYY`.
//!
//! Spec: <https://graphite.readthedocs.io/en/latest/render_api.html#from-until>.

/// Why a time could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read time {0:?}: use -24h, now, a unix timestamp, YYYYMMDD or HH:MM_YYYYMMDD")]
pub struct BadTime(pub String);

const DAY: i64 = 86_400;

/// Parses `text` relative to `now` (unix seconds).
pub fn parse_time(text: &str, now: i64) -> Result<i64, BadTime> {
    let bad = || BadTime(text.to_owned());
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    match lower.as_str() {
        "now" | "" => return Ok(now),
        "today" => return Ok(now - now.rem_euclid(DAY)),
        "yesterday" => return Ok(now - now.rem_euclid(DAY) - DAY),
        _ => {}
    }
    if let Some(offset) = lower.strip_prefix('-').or_else(|| lower.strip_prefix('+')) {
        let seconds = parse_offset(offset).ok_or_else(bad)?;
        return Ok(if lower.starts_with('-') {
            now - seconds
        } else {
            now + seconds
        });
    }
    if lower.len() != 8 && lower.bytes().all(|b| b.is_ascii_digit()) {
        return lower.parse().map_err(|_| bad());
    }
    if let Some((clock, date)) = lower.split_once('_') {
        let (hours, minutes) = clock.split_once(':').ok_or_else(bad)?;
        let hours: i64 = hours.parse().map_err(|_| bad())?;
        let minutes: i64 = minutes.parse().map_err(|_| bad())?;
        if !(0..24).contains(&hours) || !(0..60).contains(&minutes) {
            return Err(bad());
        }
        return Ok(yyyymmdd(date).ok_or_else(bad)? + hours * 3600 + minutes * 60);
    }
    if lower.len() == 8 && lower.bytes().all(|b| b.is_ascii_digit()) {
        return yyyymmdd(&lower).ok_or_else(bad);
    }
    let parts: Vec<&str> = lower.split('/').collect();
    if let [month, day, year] = parts.as_slice() {
        let year: i64 = year.parse().map_err(|_| bad())?;
        let year = if year < 100 { 2000 + year } else { year };
        return civil(
            year,
            month.parse().map_err(|_| bad())?,
            day.parse().map_err(|_| bad())?,
        )
        .ok_or_else(bad);
    }
    Err(bad())
}

/// `5min` -> 300. Units as Graphite spells them.
pub fn parse_offset(text: &str) -> Option<i64> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let number: i64 = if number.is_empty() {
        1
    } else {
        number.parse().ok()?
    };
    let unit_seconds = match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => DAY,
        "w" | "week" | "weeks" => 7 * DAY,
        "mon" | "month" | "months" => 30 * DAY,
        "y" | "year" | "years" => 365 * DAY,
        _ => return None,
    };
    number.checked_mul(unit_seconds)
}

fn yyyymmdd(text: &str) -> Option<i64> {
    if text.len() != 8 {
        return None;
    }
    let year = text.get(..4)?.parse().ok()?;
    let month = text.get(4..6)?.parse().ok()?;
    let day = text.get(6..)?.parse().ok()?;
    civil(year, month, day)
}

/// Unix seconds at midnight UTC of a proleptic Gregorian date (Howard
/// Hinnant's days-from-civil).
fn civil(year: i64, month: i64, day: i64) -> Option<i64> {
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some((era * 146_097 + day_of_era - 719_468) * DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000; // 2023-11-14 22:13:20 UTC

    #[test]
    fn relative_forms() {
        assert_eq!(parse_time("-24h", NOW), Ok(NOW - DAY));
        assert_eq!(parse_time("-5min", NOW), Ok(NOW - 300));
        assert_eq!(parse_time("-2weeks", NOW), Ok(NOW - 14 * DAY));
        assert_eq!(parse_time("-1mon", NOW), Ok(NOW - 30 * DAY));
        assert_eq!(parse_time("-30s", NOW), Ok(NOW - 30));
        assert_eq!(parse_time("now", NOW), Ok(NOW));
    }

    #[test]
    fn absolute_forms() {
        assert_eq!(parse_time("1699999999", NOW), Ok(1_699_999_999));
        assert_eq!(parse_time("20231114", NOW), Ok(1_699_920_000));
        assert_eq!(parse_time("22:13_20231114", NOW), Ok(1_699_999_980));
        assert_eq!(parse_time("11/14/23", NOW), Ok(1_699_920_000));
        assert_eq!(parse_time("today", NOW), Ok(1_699_920_000));
        assert_eq!(parse_time("yesterday", NOW), Ok(1_699_920_000 - DAY));
        assert_eq!(parse_time("19700101", NOW), Ok(0));
        assert_eq!(parse_time("20000301", NOW), Ok(951_868_800));
    }

    #[test]
    fn nonsense_is_refused() {
        for text in [
            "-5parsecs",
            "tomorrow-ish",
            "25:00_20231114",
            "20231340",
            "1/2",
        ] {
            assert!(parse_time(text, NOW).is_err(), "{text}");
        }
    }
}
