//! Property tests of the syslog parser: messages built from random valid
//! fields parse back to those fields, and arbitrary bytes never panic.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::borrow::Cow;

use proptest::prelude::*;

use partout_protocols::syslog::{parse_message, SyslogFormat};

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Civil date of a day count since 1970-01-01. The parser goes the other
/// way (civil to days); this inverse is written independently so the round
/// trip checks both.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

/// RFC 3339 text for a Unix time, written at `offset_minutes` east of UTC
/// with `fraction_digits` digits of the second.
fn rfc3339(unix_nanos: i64, offset_minutes: i64, fraction_digits: u32) -> String {
    let local_seconds = unix_nanos.div_euclid(NANOS_PER_SECOND) + offset_minutes * 60;
    let nanos = unix_nanos.rem_euclid(NANOS_PER_SECOND);
    let (year, month, day) = civil_from_days(local_seconds.div_euclid(86_400));
    let second_of_day = local_seconds.rem_euclid(86_400);
    let mut text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    );
    if fraction_digits > 0 {
        let fraction = format!("{nanos:09}");
        text.push('.');
        text.push_str(&fraction[..fraction_digits as usize]);
    }
    if offset_minutes == 0 {
        text.push('Z');
    } else {
        let sign = if offset_minutes < 0 { '-' } else { '+' };
        let magnitude = offset_minutes.abs();
        text.push_str(&format!(
            "{sign}{:02}:{:02}",
            magnitude / 60,
            magnitude % 60
        ));
    }
    text
}

/// `unix_nanos` as a timestamp with `fraction_digits` keeps it.
fn truncated(unix_nanos: i64, fraction_digits: u32) -> i64 {
    let step = 10i64.pow(9 - fraction_digits);
    unix_nanos - unix_nanos.rem_euclid(step)
}

/// SD-NAME characters: printable ASCII but `"`, `=`, `]` and space.
const SD_NAME: &str = "[!#-<>-\\\\^-~]{1,32}";

fn header_field() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[!-~]{1,24}").prop_map(|field| field.filter(|text| text != "-"))
}

fn param_value() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z\"\\\\\\] é]{0,12}", any::<String>()]
}

type Element = (String, Vec<(String, String)>);

fn escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for character in value.chars() {
        if matches!(character, '"' | '\\' | ']') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

fn nil_or(field: &Option<String>) -> &str {
    field.as_deref().unwrap_or("-")
}

proptest! {
    #[test]
    fn rfc5424_fields_round_trip(
        pri in 0u8..=191,
        timestamp in proptest::option::of((0i64..4_102_444_800 * NANOS_PER_SECOND, -1439i64..=1439, 0u32..=9)),
        hostname in header_field(),
        app_name in header_field(),
        proc_id in header_field(),
        msg_id in header_field(),
        elements in proptest::collection::vec(
            (SD_NAME, proptest::collection::vec((SD_NAME, param_value()), 0..4)), 0..4),
        message in any::<String>(),
    ) {
        let mut frame = format!(
            "<{pri}>1 {} {} {} {} {} ",
            timestamp.map_or("-".to_owned(), |(nanos, offset, digits)| rfc3339(nanos, offset, digits)),
            nil_or(&hostname), nil_or(&app_name), nil_or(&proc_id), nil_or(&msg_id),
        );
        if elements.is_empty() {
            frame.push('-');
        }
        for (id, params) in &elements {
            frame.push('[');
            frame.push_str(id);
            for (name, value) in params {
                frame.push_str(&format!(" {name}=\"{}\"", escape(value)));
            }
            frame.push(']');
        }
        if !message.is_empty() {
            frame.push(' ');
            frame.push_str(&message);
        }

        let parsed = parse_message(frame.as_bytes(), 0);
        prop_assert_eq!(parsed.format, SyslogFormat::Rfc5424);
        prop_assert_eq!(parsed.facility.code(), pri / 8);
        prop_assert_eq!(parsed.severity.code(), pri % 8);
        prop_assert_eq!(parsed.version, Some(1));
        prop_assert_eq!(parsed.timestamp_unix_nanos, timestamp.map(|(nanos, _, digits)| truncated(nanos, digits)));
        prop_assert_eq!(parsed.hostname, hostname.as_deref());
        prop_assert_eq!(parsed.app_name, app_name.as_deref());
        prop_assert_eq!(parsed.proc_id, proc_id.as_deref());
        prop_assert_eq!(parsed.msg_id, msg_id.as_deref());
        let parsed_elements: Vec<Element> = parsed.structured_data.iter().map(|element| (
            element.id.to_owned(),
            element.params.iter().map(|param| (param.name.to_owned(), param.value.clone().into_owned())).collect(),
        )).collect();
        prop_assert_eq!(parsed_elements, elements);
        let trimmed = message.trim_end_matches(['\0', '\r', '\n']);
        let expected_message = trimmed.strip_prefix('\u{feff}').unwrap_or(trimmed);
        prop_assert_eq!(parsed.message.as_ref(), expected_message);
        prop_assert!(!parsed.flags.invalid_utf8 && !parsed.flags.malformed_structured_data && !parsed.flags.missing_pri);
    }

    #[test]
    fn rfc3164_fields_round_trip(
        pri in 0u8..=191,
        seconds_ago in 0i64..364 * 86_400,
        hostname in proptest::option::of("[a-z][a-z0-9.-]{0,20}"),
        tag in proptest::option::of(("[a-zA-Z][a-zA-Z0-9_/.-]{0,20}", proptest::option::of("[0-9]{1,7}"))),
        message in "[a-zA-Z0-9 .,;=%/-]{0,60}",
    ) {
        let now = 1_795_346_300 * NANOS_PER_SECOND;
        let sent_at = now - seconds_ago * NANOS_PER_SECOND;
        // "Mmm dd hh:mm:ss" in UTC, the day padded with a space.
        let text = rfc3339(sent_at, 0, 0);
        let month_names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        let month = month_names[text[5..7].parse::<usize>().unwrap() - 1];
        let day: u32 = text[8..10].parse().unwrap();
        let mut frame = format!("<{pri}>{month} {day:>2} {} ", &text[11..19]);
        if let Some(hostname) = &hostname {
            frame.push_str(hostname);
            frame.push(' ');
        }
        if let Some((name, pid)) = &tag {
            frame.push_str(name);
            if let Some(pid) = pid {
                frame.push_str(&format!("[{pid}]"));
            }
            frame.push_str(": ");
        }
        // Without a tag, a message's first word would read as the hostname.
        let message = if hostname.is_none() && tag.is_none() { String::new() } else { message };
        frame.push_str(&message);

        let parsed = parse_message(frame.as_bytes(), now);
        prop_assert_eq!(parsed.format, SyslogFormat::Rfc3164);
        prop_assert_eq!(parsed.facility.code(), pri / 8);
        prop_assert_eq!(parsed.timestamp_unix_nanos, Some(sent_at - sent_at % NANOS_PER_SECOND));
        prop_assert_eq!(parsed.hostname, hostname.as_deref());
        prop_assert_eq!(parsed.app_name, tag.as_ref().map(|(name, _)| name.as_str()));
        prop_assert_eq!(parsed.proc_id, tag.as_ref().and_then(|(_, pid)| pid.as_deref()));
        prop_assert_eq!(parsed.message.as_ref(), message.as_str());
    }

    /// Arbitrary bytes never panic, and what comes out is consistent.
    #[test]
    fn arbitrary_bytes_never_panic(
        frame in proptest::collection::vec(any::<u8>(), 0..300),
        now in any::<i64>(),
    ) {
        let parsed = parse_message(&frame, now);
        prop_assert!(parsed.facility.code() <= 23);
        prop_assert_eq!(parsed.version.is_some(), parsed.format == SyslogFormat::Rfc5424);
        prop_assert!(matches!(parsed.message, Cow::Borrowed(_)) || parsed.flags.invalid_utf8);
        prop_assert!(!parsed.message.ends_with(['\0', '\n', '\r']));
        for field in [parsed.hostname, parsed.app_name, parsed.proc_id, parsed.msg_id].into_iter().flatten() {
            prop_assert!(!field.is_empty() && field.bytes().all(|byte| byte.is_ascii_graphic()));
        }
    }

    /// Syslog-shaped noise: more likely to reach deep into both grammars.
    #[test]
    fn syslog_shaped_noise_never_panics(
        frame in "(<[0-9]{1,3}>)?(1 )?([A-Z][a-z]{2}  ?[0-9]{1,2} [0-9:.]{8,12} |[0-9T:.+Z-]{10,30} |- )?[a-z\\[\\]:0-9 =\"\\\\-]{0,60}",
    ) {
        let parsed = parse_message(frame.as_bytes(), 1_795_346_300 * NANOS_PER_SECOND);
        prop_assert!(!parsed.flags.invalid_utf8);
        prop_assert!(matches!(parsed.message, Cow::Borrowed(_)));
    }
}
