//! The time range of the logs page: presets, custom ranges, and turning
//! either into the `from`/`until` the API takes. Pure, so it is tested on
//! the host.
//!
//! The range is kept as the API's own texts (`-1h`, `2026-11-22T14:02:00Z`)
//! so the page's URL says exactly what is asked, and a person can edit it
//! by hand. Relative texts are resolved here, against one "now" per
//! search, so the histogram, the list and the facets all count the same
//! lines.

/// A quick choice of range, ending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// What the button says.
    pub label: &'static str,
    /// How the range reads in a sentence.
    pub title: &'static str,
    /// The `from` the URL and the API take.
    pub from: &'static str,
}

/// The presets offered, shortest first.
pub static PRESETS: [Preset; 5] = [
    Preset {
        label: "15m",
        title: "the last 15 minutes",
        from: "-15min",
    },
    Preset {
        label: "1h",
        title: "the last hour",
        from: "-1h",
    },
    Preset {
        label: "6h",
        title: "the last 6 hours",
        from: "-6h",
    },
    Preset {
        label: "24h",
        title: "the last 24 hours",
        from: "-24h",
    },
    Preset {
        label: "7d",
        title: "the last 7 days",
        from: "-7d",
    },
];

/// The range when the URL names none; the server's default too.
pub const DEFAULT_FROM: &str = "-1h";

/// A range as the API's `from` and `until` texts.
///
/// Invariant: `from` is never empty (an absent `from` reads as
/// [`DEFAULT_FROM`]); an empty `until` means now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeRange {
    pub from: String,
    pub until: String,
}

impl Default for TimeRange {
    fn default() -> Self {
        TimeRange {
            from: DEFAULT_FROM.to_owned(),
            until: String::new(),
        }
    }
}

/// `from` and `until` ready for one round of API calls: relative times
/// already turned into instants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRange {
    pub from: String,
    pub until: String,
}

impl TimeRange {
    /// The range of a URL's `from` and `until`, missing or blank ones
    /// taking their defaults.
    pub fn from_params(from: Option<String>, until: Option<String>) -> TimeRange {
        let from = from
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty())
            .unwrap_or_else(|| DEFAULT_FROM.to_owned());
        let until = until.map(|text| text.trim().to_owned()).unwrap_or_default();
        let until = if until == "now" { String::new() } else { until };
        TimeRange { from, until }
    }

    /// The range of a preset.
    pub fn preset(preset: &Preset) -> TimeRange {
        TimeRange {
            from: preset.from.to_owned(),
            until: String::new(),
        }
    }

    /// A fixed range between two instants, Unix milliseconds.
    pub fn between(from_ms: i64, until_ms: i64) -> TimeRange {
        TimeRange {
            from: rfc3339_utc(from_ms),
            until: rfc3339_utc(until_ms),
        }
    }

    /// The preset this range is, if it is one.
    pub fn as_preset(&self) -> Option<&'static Preset> {
        if !self.until.is_empty() {
            return None;
        }
        PRESETS.iter().find(|preset| preset.from == self.from)
    }

    /// The URL's `from` and `until`: empty for the defaults, so the
    /// plainest link is `/ui/logs`.
    pub fn url_params(&self) -> (&str, &str) {
        let from = if self.from == DEFAULT_FROM {
            ""
        } else {
            &self.from
        };
        (from, &self.until)
    }

    /// The texts to send, relative ones resolved against `now_ms`. Text
    /// this page does not understand is sent as is, so the server, which
    /// knows more forms, decides and explains.
    pub fn resolve(&self, now_ms: i64) -> ResolvedRange {
        let resolve = |text: &str| match relative_offset_ms(text) {
            Some(offset) => rfc3339_utc(now_ms.saturating_add(offset)),
            None => text.to_owned(),
        };
        ResolvedRange {
            from: resolve(&self.from),
            // The server's own default end is just after now, so a line
            // stamped this very millisecond is included; the same here.
            until: if self.until.is_empty() {
                rfc3339_utc(now_ms.saturating_add(1))
            } else {
                resolve(&self.until)
            },
        }
    }
}

/// The offset from now of a relative time, in milliseconds: `-1h`,
/// `now-15min`, `+5min`, `now`. `None` for anything else. Units are
/// Graphite's, as the server reads them (`min` is minutes, `mon` months).
pub fn relative_offset_ms(text: &str) -> Option<i64> {
    let text = text.trim().to_ascii_lowercase();
    let rest = text.strip_prefix("now").unwrap_or(&text);
    if rest.is_empty() {
        return Some(0);
    }
    let (sign, offset) = if let Some(offset) = rest.strip_prefix('-') {
        (-1, offset)
    } else if let Some(offset) = rest.strip_prefix('+') {
        (1, offset)
    } else {
        return None;
    };
    let digits = offset.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = offset.split_at(digits);
    let count: i64 = if number.is_empty() {
        1
    } else {
        number.parse().ok()?
    };
    const DAY: i64 = 86_400;
    let unit_seconds = match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => DAY,
        "w" | "week" | "weeks" => 7 * DAY,
        "mon" | "month" | "months" => 30 * DAY,
        "y" | "year" | "years" => 365 * DAY,
        _ => return None,
    };
    count
        .checked_mul(unit_seconds)?
        .checked_mul(1_000)?
        .checked_mul(sign)
}

/// Unix milliseconds as RFC 3339 in UTC, with milliseconds only when
/// there are some: `2026-11-22T14:02:00Z`, `2026-11-22T14:02:00.250Z`.
pub fn rfc3339_utc(unix_ms: i64) -> String {
    let days = unix_ms.div_euclid(86_400_000);
    let ms_of_day = unix_ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let seconds = ms_of_day / 1_000;
    let (hour, minute, second) = (seconds / 3_600, seconds / 60 % 60, seconds % 60);
    let millis = ms_of_day % 1_000;
    let fraction = if millis == 0 {
        String::new()
    } else {
        format!(".{millis:03}")
    };
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}Z")
}

/// The proleptic Gregorian date of a day counted from 1970-01-01, by
/// shifting to years that start on March 1st (so the leap day is last)
/// and counting 400-year eras of 146,097 days.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_795_356_120_250), "2026-11-22T14:02:00.250Z");
        assert_eq!(rfc3339_utc(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_utc(4_107_542_399_000), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative_offset_ms("-1h"), Some(-3_600_000));
        assert_eq!(relative_offset_ms("-15min"), Some(-900_000));
        assert_eq!(relative_offset_ms("now-7d"), Some(-604_800_000));
        assert_eq!(relative_offset_ms("+30s"), Some(30_000));
        assert_eq!(relative_offset_ms("-h"), Some(-3_600_000));
        assert_eq!(relative_offset_ms("now"), Some(0));
        // `m` is not minutes for the server either.
        assert_eq!(relative_offset_ms("-15m"), None);
        assert_eq!(relative_offset_ms("2026-11-22T14:02:00Z"), None);
        assert_eq!(relative_offset_ms("1795356120"), None);
        assert_eq!(relative_offset_ms("-99999999999999999y"), None);
    }

    #[test]
    fn url_params_default_to_nothing() {
        let range = TimeRange::from_params(None, Some("now".into()));
        assert_eq!(range, TimeRange::default());
        assert_eq!(range.url_params(), ("", ""));
        assert_eq!(range.as_preset().map(|p| p.label), Some("1h"));
        let week = TimeRange::preset(&PRESETS[4]);
        assert_eq!(week.url_params(), ("-7d", ""));
    }

    #[test]
    fn resolve_uses_one_now() {
        let now = 1_795_356_120_000;
        let resolved = TimeRange::default().resolve(now);
        assert_eq!(resolved.from, "2026-11-22T13:02:00Z");
        assert_eq!(resolved.until, "2026-11-22T14:02:00.001Z");

        let fixed = TimeRange::between(now - 60_000, now);
        assert_eq!(fixed.as_preset(), None);
        assert_eq!(
            fixed.resolve(0),
            ResolvedRange {
                from: "2026-11-22T14:01:00Z".into(),
                until: "2026-11-22T14:02:00Z".into(),
            }
        );

        let odd = TimeRange::from_params(Some("yesterday".into()), None);
        assert_eq!(odd.resolve(now).from, "yesterday");
    }
}
