//! Numbers into short text for people. Pure, so it is tested on the host.

/// A duration as its two largest units: `45s`, `12m 5s`, `3h 20m`, `2d 4h`.
pub fn duration(total_seconds: u64) -> String {
    let days = total_seconds / 86_400;
    let hours = total_seconds % 86_400 / 3_600;
    let minutes = total_seconds % 3_600 / 60;
    let seconds = total_seconds % 60;
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else if minutes > 0 {
        format!("{minutes}m {seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// A size in binary units with one decimal: `512 B`, `1.5 KiB`, `3.0 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    // Precision loss above 2^53 bytes does not matter for one decimal.
    let mut value = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

/// A count with thousands separators: `7`, `12,345`.
/// How long ago, from an age in milliseconds: "just now", "5 min ago",
/// "3 h ago", "2 d ago".
pub fn ago(age_ms: i64) -> String {
    let seconds = age_ms.max(0) / 1000;
    match seconds {
        0..=59 => "just now".to_owned(),
        60..=3599 => format!("{} min ago", seconds / 60),
        3600..=86_399 => format!("{} h ago", seconds / 3600),
        _ => format!("{} d ago", seconds / 86_400),
    }
}

pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `1 line`, `12,345 lines`.
pub fn lines(n: u64) -> String {
    counted(n, "line", "lines")
}

/// `n` of a thing, the noun agreeing: `1 error`, `2,000 errors`.
pub fn counted(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {many}", count(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(ago(-5), "just now");
        assert_eq!(ago(59_999), "just now");
        assert_eq!(ago(60_000), "1 min ago");
        assert_eq!(ago(3 * 3_600_000 + 5), "3 h ago");
        assert_eq!(ago(2 * 86_400_000), "2 d ago");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(60), "1m 0s");
        assert_eq!(duration(3_599), "59m 59s");
        assert_eq!(duration(3_600 + 20 * 60 + 5), "1h 20m");
        assert_eq!(duration(2 * 86_400 + 4 * 3_600 + 59), "2d 4h");
    }

    #[test]
    fn counts() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(12_345_678), "12,345,678");
        assert_eq!(lines(1), "1 line");
        assert_eq!(lines(1_500), "1,500 lines");
        assert_eq!(lines(0), "0 lines");
        assert_eq!(counted(1, "error", "errors"), "1 error");
        assert_eq!(counted(1_200, "warning", "warnings"), "1,200 warnings");
    }

    #[test]
    fn sizes() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1.0 KiB");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024), "5.0 MiB");
        // The largest unit absorbs everything above it.
        assert_eq!(bytes(u64::MAX), "16384.0 PiB");
    }
}
