//! Arbitrary bytes as a `check_in` item payload. Invariants: no panic; a
//! check-in that parses has a valid, stable slug (1 to 50 characters of
//! `[a-z0-9_-]`, its own slug), 32-hex-digit ids, a finite in-range
//! duration, and either a monitor config or the reason it was dropped,
//! never both.
#![no_main]

use libfuzzer_sys::fuzz_target;
use partout_protocols::sentry::check_in::{
    parse_check_in, slugify, Schedule, MAX_DURATION_MS, MAX_SLUG_CHARS,
};

fuzz_target!(|data: &[u8]| {
    if let Some(slug) = slugify(&String::from_utf8_lossy(data)) {
        assert_eq!(slugify(&slug).as_deref(), Some(slug.as_str()));
    }
    let Ok(check_in) = parse_check_in(data) else {
        return;
    };
    let slug = &check_in.monitor_slug;
    assert!(!slug.is_empty() && slug.len() <= MAX_SLUG_CHARS);
    assert!(slug
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'));
    assert_eq!(slugify(slug).as_deref(), Some(slug.as_str()));
    for id in [&check_in.check_in_id, &check_in.trace_id]
        .into_iter()
        .flatten()
    {
        assert_eq!(id.len(), 32);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }
    if let Some(ms) = check_in.duration_ms {
        assert!(ms.is_finite() && (0.0..=MAX_DURATION_MS).contains(&ms));
    }
    assert!(!(check_in.monitor_config.is_some() && check_in.config_error.is_some()));
    if let Some(config) = &check_in.monitor_config {
        match &config.schedule {
            Schedule::Crontab(text) => assert!(!text.is_empty() && text.len() <= 400),
            Schedule::Interval { value, .. } => assert!(*value > 0),
        }
    }
});
