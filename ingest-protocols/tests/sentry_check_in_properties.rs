//! Property tests of the check-in parser: it never panics and keeps its
//! bounds on any bytes or any JSON, check-ins written as the SDKs write
//! them read back to what was written, and slugs are idempotent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use partout_protocols::sentry::check_in::{
    parse_check_in, slugify, CheckIn, CheckInStatus, IntervalUnit, Schedule, MAX_DURATION_MS,
    MAX_SLUG_CHARS,
};
use proptest::prelude::*;
use serde_json::{json, Value};

/// What every check-in that parsed must satisfy.
fn check_bounds(check_in: &CheckIn) -> Result<(), TestCaseError> {
    let slug = &check_in.monitor_slug;
    prop_assert!(!slug.is_empty() && slug.len() <= MAX_SLUG_CHARS);
    prop_assert!(slug
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'));
    prop_assert!(!slug.starts_with('-') && !slug.ends_with('-'));
    let again = slugify(slug);
    prop_assert_eq!(again.as_deref(), Some(slug.as_str()));
    for id in [&check_in.check_in_id, &check_in.trace_id]
        .into_iter()
        .flatten()
    {
        prop_assert_eq!(id.len(), 32);
        prop_assert!(id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }
    if let Some(ms) = check_in.duration_ms {
        prop_assert!(ms.is_finite() && (0.0..=MAX_DURATION_MS).contains(&ms));
    }
    for text in [&check_in.release, &check_in.environment]
        .into_iter()
        .flatten()
    {
        prop_assert!(!text.is_empty() && text.chars().count() <= 200);
    }
    prop_assert!(!(check_in.monitor_config.is_some() && check_in.config_error.is_some()));
    if let Some(config) = &check_in.monitor_config {
        match &config.schedule {
            Schedule::Crontab(text) => prop_assert!(!text.is_empty() && text.len() <= 400),
            Schedule::Interval { value, .. } => prop_assert!(*value > 0),
        }
    }
    Ok(())
}

/// Any JSON value, a few levels deep, with the field names check-ins use
/// so the fuzzed objects reach the interesting paths.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[ -~]{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("in_progress"),
            Just("ok"),
            Just("error"),
            Just("crontab"),
            Just("interval"),
            Just("hour"),
            Just("0 * * * *"),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        let key = prop_oneof![
            Just("monitor_slug".to_owned()),
            Just("status".to_owned()),
            Just("check_in_id".to_owned()),
            Just("duration".to_owned()),
            Just("monitor_config".to_owned()),
            Just("schedule".to_owned()),
            Just("type".to_owned()),
            Just("value".to_owned()),
            Just("unit".to_owned()),
            Just("contexts".to_owned()),
            Just("trace".to_owned()),
            Just("trace_id".to_owned()),
            "[a-z_]{1,8}",
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(key, inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn status() -> impl Strategy<Value = CheckInStatus> {
    prop_oneof![
        Just(CheckInStatus::InProgress),
        Just(CheckInStatus::Ok),
        Just(CheckInStatus::Error)
    ]
}

fn unit() -> impl Strategy<Value = IntervalUnit> {
    prop_oneof![
        Just(IntervalUnit::Minute),
        Just(IntervalUnit::Hour),
        Just(IntervalUnit::Day),
        Just(IntervalUnit::Week),
        Just(IntervalUnit::Month),
        Just(IntervalUnit::Year),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(check_in) = parse_check_in(&body) {
            check_bounds(&check_in)?;
        }
    }

    #[test]
    fn arbitrary_json_never_panics(value in any_json()) {
        if let Ok(check_in) = parse_check_in(value.to_string().as_bytes()) {
            check_bounds(&check_in)?;
        }
    }

    #[test]
    fn any_name_slugs_to_a_stable_slug(name in "\\PC{0,80}") {
        if let Some(slug) = slugify(&name) {
            prop_assert!(slug.len() <= MAX_SLUG_CHARS);
            prop_assert_eq!(slugify(&slug), Some(slug.clone()));
        }
    }

    #[test]
    fn written_check_ins_read_back(
        slug in "[a-z0-9][a-z0-9_-]{0,40}[a-z0-9]",
        id in proptest::option::of("[0-9a-f]{31}[1-9a-f]"),
        status in status(),
        duration_ms in proptest::option::of(0u32..86_400_000),
        release in proptest::option::of("[a-z0-9@.]{1,20}"),
        interval in proptest::option::of((1u32..1000, unit())),
    ) {
        let mut payload = json!({
            "monitor_slug": slug, "status": status.as_str(),
            "duration": duration_ms.map(|ms| f64::from(ms) / 1000.0),
            "release": release, "environment": "production",
        });
        if let Some(id) = &id {
            payload["check_in_id"] = json!(id);
        }
        if let Some((value, unit)) = interval {
            payload["monitor_config"] =
                json!({"schedule": {"type": "interval", "value": value, "unit": unit.as_str()}});
        }
        let check_in = parse_check_in(payload.to_string().as_bytes()).unwrap();
        check_bounds(&check_in)?;
        prop_assert_eq!(&check_in.monitor_slug, &slug);
        prop_assert_eq!(&check_in.check_in_id, &id);
        prop_assert_eq!(check_in.status, status);
        prop_assert_eq!(&check_in.release, &release);
        match (check_in.duration_ms, duration_ms) {
            (Some(read), Some(written)) => prop_assert!((read - f64::from(written)).abs() < 1e-6),
            (read, written) => prop_assert!(read.is_none() && written.is_none()),
        }
        prop_assert_eq!(
            check_in.monitor_config.map(|config| config.schedule),
            interval.map(|(value, unit)| Schedule::Interval { value, unit })
        );
    }
}
