//! UTC civil time and the timestamp formats senders write, without a
//! date library.

use super::generate::NANOS_PER_SEC;

pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A UTC civil time (Howard Hinnant's days-to-civil).
pub struct Civil {
    pub year: i64,
    pub month: usize,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub micros: i64,
}

pub fn civil(nanos: i64) -> Civil {
    let secs = nanos.div_euclid(NANOS_PER_SEC);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month: month as usize,
        day,
        hour: of_day / 3600,
        minute: of_day % 3600 / 60,
        second: of_day % 60,
        micros: nanos.rem_euclid(NANOS_PER_SEC) / 1000,
    }
}

/// RFC 3339 with microseconds, as rsyslog and structlog write it.
pub fn rfc3339(nanos: i64) -> String {
    let c = civil(nanos);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.micros
    )
}

/// The RFC 3164 timestamp: `Nov  2 10:00:00`, no year, no zone.
pub fn bsd_time(nanos: i64) -> String {
    let c = civil(nanos);
    format!(
        "{} {:>2} {:02}:{:02}:{:02}",
        MONTHS[c.month - 1],
        c.day,
        c.hour,
        c.minute,
        c.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339(1_795_346_300 * NANOS_PER_SEC + 120_000),
            "2026-11-22T11:18:20.000120Z"
        );
        assert_eq!(bsd_time(1_772_409_600 * NANOS_PER_SEC), "Mar  2 00:00:00");
    }
}
