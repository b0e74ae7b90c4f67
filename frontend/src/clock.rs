//! Instants as the person reading them expects: in the browser's time
//! zone. The browser's `Date` does the calendar and time-zone work, so no
//! zone database ships in the wasm; that also means these only work in
//! the browser (the logs page keeps its pure UTC side in
//! `pages::logs::time_range`).

use js_sys::Date;
use wasm_bindgen::JsValue;

/// Now, Unix milliseconds.
pub fn now_ms() -> i64 {
    Date::now() as i64
}

/// A valid `Date` for `unix_ms`, or `None` out of `Date`'s range (about
/// ±275,000 years), where its methods would answer NaN.
fn date(unix_ms: i64) -> Option<Date> {
    let date = Date::new(&JsValue::from_f64(unix_ms as f64));
    (!date.get_time().is_nan()).then_some(date)
}

/// `2026-11-22`.
fn day_text(date: &Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date()
    )
}

/// The time of a log line: `14:02:03.123`, with the day in front when
/// lines from several days are on screen.
pub fn line_time(unix_ms: i64, with_day: bool) -> String {
    let Some(date) = date(unix_ms) else {
        return unix_ms.to_string();
    };
    let time = format!(
        "{:02}:{:02}:{:02}.{:03}",
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds(),
        date.get_milliseconds()
    );
    if with_day {
        format!("{} {time}", day_text(&date))
    } else {
        time
    }
}

/// An axis label, as precise as a chart `span_ms` wide needs: seconds for
/// a few minutes, the day for more than a day.
pub fn axis_label(unix_ms: i64, span_ms: i64) -> String {
    let Some(date) = date(unix_ms) else {
        return String::new();
    };
    let minutes = format!("{:02}:{:02}", date.get_hours(), date.get_minutes());
    if span_ms <= 10 * 60_000 {
        format!("{minutes}:{:02}", date.get_seconds())
    } else if span_ms <= 36 * 3_600_000 {
        minutes
    } else {
        format!(
            "{:02}-{:02} {minutes}",
            date.get_month() + 1,
            date.get_date()
        )
    }
}

/// A range in a sentence: `2026-11-22 13:02:00 to 14:02:00`, the second
/// day left out when it is the same.
pub fn range_text(from_ms: i64, until_ms: i64) -> String {
    let (Some(from), Some(until)) = (date(from_ms), date(until_ms)) else {
        return format!("{from_ms} to {until_ms}");
    };
    let clock = |date: &Date| {
        format!(
            "{:02}:{:02}:{:02}",
            date.get_hours(),
            date.get_minutes(),
            date.get_seconds()
        )
    };
    let until_day = if day_text(&from) == day_text(&until) {
        String::new()
    } else {
        format!("{} ", day_text(&until))
    };
    format!(
        "{} {} to {until_day}{}",
        day_text(&from),
        clock(&from),
        clock(&until)
    )
}

/// The browser's zone as an offset from UTC: `UTC`, `UTC+1`, `UTC-5:30`.
pub fn zone_label() -> String {
    // `getTimezoneOffset` is UTC minus local time, in minutes.
    let ahead = -(Date::new_0().get_timezone_offset() as i64);
    if ahead == 0 {
        return "UTC".to_owned();
    }
    let sign = if ahead > 0 { '+' } else { '-' };
    let (hours, minutes) = (ahead.abs() / 60, ahead.abs() % 60);
    if minutes == 0 {
        format!("UTC{sign}{hours}")
    } else {
        format!("UTC{sign}{hours}:{minutes:02}")
    }
}

/// How far the browser's zone is ahead of UTC now, in milliseconds.
pub fn zone_offset_ms() -> i64 {
    // `getTimezoneOffset` is UTC minus local time, in minutes.
    -(Date::new_0().get_timezone_offset() as i64) * 60_000
}

/// Days since the epoch in the browser's zone, to tell whether two
/// instants fall on the same local day.
pub fn local_day(unix_ms: i64) -> i64 {
    let offset_ms = date(unix_ms).map_or(0, |date| date.get_timezone_offset() as i64 * 60_000);
    (unix_ms - offset_ms).div_euclid(86_400_000)
}

/// The value of an `<input type="datetime-local">` for an instant:
/// `2026-11-22T14:02`.
pub fn input_value(unix_ms: i64) -> String {
    let Some(date) = date(unix_ms) else {
        return String::new();
    };
    format!(
        "{}T{:02}:{:02}",
        day_text(&date),
        date.get_hours(),
        date.get_minutes()
    )
}

/// An instant from an `<input type="datetime-local">` value, read in the
/// browser's zone (which is how `Date` reads a date-time without offset).
pub fn parse_input(value: &str) -> Option<i64> {
    if value.trim().is_empty() {
        return None;
    }
    parse(value)
}

/// An instant from any text `Date` reads, such as RFC 3339.
pub fn parse(text: &str) -> Option<i64> {
    let millis = Date::new(&JsValue::from_str(text.trim())).get_time();
    (!millis.is_nan()).then_some(millis as i64)
}
