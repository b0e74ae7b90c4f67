//! Instants for people: "5 min ago" on screen, the exact local time on
//! hover. `ago` is pure (tested on the host); `exact` asks the browser's
//! `Date` for the time zone, so it only works in the browser.

use js_sys::Date;
use wasm_bindgen::JsValue;

/// Now, Unix milliseconds.
pub fn now_ms() -> i64 {
    Date::now() as i64
}

/// How long before `now_ms` an instant was, in its largest unit:
/// `just now`, `5 min ago`, `3 h ago`, `2 d ago`, `4 mo ago`, `2 y ago`.
/// An instant ahead of `now_ms` (clocks differ) is `just now`.
pub fn ago(now_ms: i64, then_ms: i64) -> String {
    let seconds = now_ms.saturating_sub(then_ms) / 1_000;
    match seconds {
        s if s < 45 => "just now".to_owned(),
        s if s < 3_600 => format!("{} min ago", (s / 60).max(1)),
        s if s < 86_400 => format!("{} h ago", s / 3_600),
        s if s < 30 * 86_400 => format!("{} d ago", s / 86_400),
        s if s < 365 * 86_400 => format!("{} mo ago", s / (30 * 86_400)),
        s => format!("{} y ago", s / (365 * 86_400)),
    }
}

/// `2026-11-22 14:02:03` in the browser's zone, for tooltips and details.
pub fn exact(unix_ms: i64) -> String {
    let date = Date::new(&JsValue::from_f64(unix_ms as f64));
    if date.get_time().is_nan() {
        return unix_ms.to_string();
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    )
}

/// The month and day of an instant in the browser's zone, for chart axes:
/// `11-22`.
pub fn day(unix_ms: i64) -> String {
    let date = Date::new(&JsValue::from_f64(unix_ms as f64));
    if date.get_time().is_nan() {
        return String::new();
    }
    format!("{:02}-{:02}", date.get_month() + 1, date.get_date())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times() {
        let now = 1_800_000_000_000;
        assert_eq!(ago(now, now), "just now");
        assert_eq!(ago(now, now + 5_000), "just now");
        assert_eq!(ago(now, now - 50_000), "1 min ago");
        assert_eq!(ago(now, now - 5 * 60_000), "5 min ago");
        assert_eq!(ago(now, now - 3 * 3_600_000), "3 h ago");
        assert_eq!(ago(now, now - 2 * 86_400_000), "2 d ago");
        assert_eq!(ago(now, now - 95 * 86_400_000), "3 mo ago");
        assert_eq!(ago(now, now - 800 * 86_400_000), "2 y ago");
    }
}
