//! Cron monitor check-ins: the payload of a `check_in` envelope item.
//!
//! ```text
//! {"check_in_id":"d15a218c5517417591258d073ea16f99","monitor_slug":"nightly-backup",
//!  "status":"in_progress","duration":null,"environment":"production","release":"shop@1.4.2",
//!  "monitor_config":{"schedule":{"type":"crontab","value":"0 3 * * *"},
//!                    "checkin_margin":5,"max_runtime":30,"timezone":"Europe/Vienna"},
//!  "timestamp":"2026-11-22T23:29:33.678875Z","contexts":{"trace":{"trace_id":"4fa5..."}}}
//! ```
//! A job reports `in_progress` when it starts and `ok` or `error` with the
//! same `check_in_id` when it ends (with `duration` in seconds); a job
//! may also send only the final check-in.
//!
//! Spec: <https://develop.sentry.dev/sdk/telemetry/check-ins/>.
//!
//! Leniency: the fields that say what happened (`monitor_slug`, `status`)
//! must be there, or the check-in is refused with a reason. Everything
//! else is optional and read tolerantly: an odd `duration` or a bad
//! `check_in_id` reads as absent, and a `monitor_config` that cannot be
//! read is dropped with its reason in [`CheckIn::config_error`] while the
//! check-in itself is kept: a job that ran should be recorded even when
//! its schedule was written wrong.

use serde_json::{Map, Value};

use crate::sentry::event;
use crate::sentry::timestamp;
use crate::sentry::value::{object, string};

/// Longest monitor slug, as Sentry cuts them.
pub const MAX_SLUG_CHARS: usize = 50;
/// Longest release, environment and timezone kept.
const MAX_NAME_CHARS: usize = 200;
/// Longest crontab expression accepted.
const MAX_CRONTAB_CHARS: usize = 100;
/// Durations above this (a year, in ms) read as absent: no job reports
/// one, and the bound keeps stored numbers sane.
pub const MAX_DURATION_MS: f64 = 366.0 * 86_400_000.0;
/// Margins, runtimes and thresholds above this read as absent (minutes or
/// counts; a year of minutes).
const MAX_CONFIG_NUMBER: u64 = 527_040;

/// What a check-in says about a job run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckInStatus {
    /// The job started; an `ok` or `error` with the same id will follow.
    InProgress,
    /// The job finished successfully.
    Ok,
    /// The job failed.
    Error,
}

impl CheckInStatus {
    /// Every status an SDK sends.
    pub const ALL: [CheckInStatus; 3] = [
        CheckInStatus::InProgress,
        CheckInStatus::Ok,
        CheckInStatus::Error,
    ];

    /// The status from its wire name.
    pub fn parse(name: &str) -> Option<CheckInStatus> {
        match name {
            "in_progress" => Some(CheckInStatus::InProgress),
            "ok" => Some(CheckInStatus::Ok),
            "error" => Some(CheckInStatus::Error),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckInStatus::InProgress => "in_progress",
            CheckInStatus::Ok => "ok",
            CheckInStatus::Error => "error",
        }
    }

    /// Whether the run is over (`ok` or `error`).
    pub fn is_final(self) -> bool {
        !matches!(self, CheckInStatus::InProgress)
    }
}

/// The unit of an interval schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntervalUnit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl IntervalUnit {
    /// The unit from its wire name (`minute`, ..., `year`; a plural `s`
    /// is accepted).
    pub fn parse(name: &str) -> Option<IntervalUnit> {
        match name.strip_suffix('s').unwrap_or(name) {
            "minute" => Some(IntervalUnit::Minute),
            "hour" => Some(IntervalUnit::Hour),
            "day" => Some(IntervalUnit::Day),
            "week" => Some(IntervalUnit::Week),
            "month" => Some(IntervalUnit::Month),
            "year" => Some(IntervalUnit::Year),
            _ => None,
        }
    }

    /// The wire name, singular.
    pub fn as_str(self) -> &'static str {
        match self {
            IntervalUnit::Minute => "minute",
            IntervalUnit::Hour => "hour",
            IntervalUnit::Day => "day",
            IntervalUnit::Week => "week",
            IntervalUnit::Month => "month",
            IntervalUnit::Year => "year",
        }
    }
}

/// When a monitored job is expected to run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Schedule {
    /// A crontab expression (`0 3 * * *`, `@daily`), whitespace collapsed.
    Crontab(String),
    /// Every `value` `unit`s, counted from the last check-in.
    Interval { value: u32, unit: IntervalUnit },
}

/// A monitor's configuration, as the SDK sends it with a check-in
/// (`@monitor(monitor_config=...)`): what later outage detection needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MonitorConfig {
    pub schedule: Schedule,
    /// Minutes a check-in may be late before it counts as missed.
    pub checkin_margin_minutes: Option<u32>,
    /// Minutes a run may stay in progress before it counts as timed out.
    pub max_runtime_minutes: Option<u32>,
    /// The IANA time zone the crontab is read in (default UTC).
    pub timezone: Option<String>,
    /// Failed check-ins in a row before an outage is opened.
    pub failure_issue_threshold: Option<u32>,
    /// Successful check-ins in a row before an outage is closed.
    pub recovery_threshold: Option<u32>,
}

/// One normalized check-in.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckIn {
    /// 32 lowercase hex digits; `None` when absent, malformed or the nil
    /// UUID: such a check-in stands alone and is never updated.
    pub check_in_id: Option<String>,
    /// Sentry's slug form of the name: lowercase letters, digits, `-` and
    /// `_`, 1 to [`MAX_SLUG_CHARS`] characters.
    pub monitor_slug: String,
    pub status: CheckInStatus,
    /// How long the run took, ms: finite, 0 to [`MAX_DURATION_MS`].
    pub duration_ms: Option<f64>,
    pub release: Option<String>,
    pub environment: Option<String>,
    /// When the SDK sent it (newer SDKs), Unix microseconds.
    pub timestamp_micros: Option<i64>,
    /// `contexts.trace.trace_id`, 32 lowercase hex digits: links the run
    /// to the errors and transactions it produced.
    pub trace_id: Option<String>,
    pub monitor_config: Option<MonitorConfig>,
    /// Why a `monitor_config` that was sent was not kept.
    pub config_error: Option<CheckInError>,
}

/// Why a check-in, or its monitor config, was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckInError {
    /// The payload is not a JSON object.
    #[error("invalid check-in: {detail}")]
    NotAnObject { detail: String },
    /// No `monitor_slug`, or one with no letter or digit.
    #[error("check-in without a usable monitor_slug")]
    MissingSlug,
    /// A `status` other than `in_progress`, `ok` or `error`.
    #[error("check-in status is not in_progress, ok or error")]
    BadStatus,
    /// A `monitor_config` without a readable `schedule`.
    #[error("monitor_config has no valid schedule: {detail}")]
    BadSchedule { detail: &'static str },
}

impl CheckInError {
    /// A short, stable label for counters.
    pub fn reason(&self) -> &'static str {
        match self {
            CheckInError::NotAnObject { .. } => "bad_check_in",
            CheckInError::MissingSlug => "missing_monitor_slug",
            CheckInError::BadStatus => "bad_check_in_status",
            CheckInError::BadSchedule { .. } => "bad_monitor_schedule",
        }
    }
}

/// Reads one `check_in` item payload.
pub fn parse_check_in(payload: &[u8]) -> Result<CheckIn, CheckInError> {
    let map = match serde_json::from_slice(payload) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return Err(CheckInError::NotAnObject {
                detail: String::from("not a JSON object"),
            })
        }
        Err(error) => {
            return Err(CheckInError::NotAnObject {
                detail: error.to_string(),
            })
        }
    };
    let monitor_slug = match map.get("monitor_slug") {
        Some(Value::String(name)) => slugify(name).ok_or(CheckInError::MissingSlug)?,
        _ => return Err(CheckInError::MissingSlug),
    };
    let status = map
        .get("status")
        .and_then(Value::as_str)
        .and_then(CheckInStatus::parse)
        .ok_or(CheckInError::BadStatus)?;
    let (monitor_config, config_error) = match map.get("monitor_config") {
        None | Some(Value::Null) => (None, None),
        Some(value) => match monitor_config(value) {
            Ok(config) => (Some(config), None),
            Err(error) => (None, Some(error)),
        },
    };
    Ok(CheckIn {
        check_in_id: map
            .get("check_in_id")
            .and_then(event::event_id)
            .filter(|id| id.bytes().any(|b| b != b'0')),
        monitor_slug,
        status,
        duration_ms: map.get("duration").and_then(duration_ms),
        release: string(map.get("release"), MAX_NAME_CHARS),
        environment: string(map.get("environment"), MAX_NAME_CHARS),
        timestamp_micros: map.get("timestamp").and_then(timestamp::from_json),
        trace_id: trace_id(&map),
        monitor_config,
        config_error,
    })
}

/// Sentry's slug of a monitor name: lowercase ASCII letters and digits,
/// `-` and `_` kept; every other run of characters one `-`; no `-` at
/// either end; cut to [`MAX_SLUG_CHARS`]. `None` when nothing is left.
pub fn slugify(name: &str) -> Option<String> {
    let mut slug = String::new();
    let mut pending_dash = false;
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            if pending_dash && !slug.is_empty() {
                slug.push('-');
            }
            pending_dash = false;
            slug.push(c);
        } else {
            pending_dash = true;
        }
        if slug.len() >= MAX_SLUG_CHARS {
            break;
        }
    }
    slug.truncate(MAX_SLUG_CHARS);
    let slug = slug.trim_matches('-');
    slug.bytes()
        .any(|b| b.is_ascii_alphanumeric())
        .then(|| slug.to_owned())
}

/// Seconds (an SDK float) as ms, when finite and in range.
fn duration_ms(value: &Value) -> Option<f64> {
    let ms = value.as_f64()? * 1000.0;
    (ms.is_finite() && (0.0..=MAX_DURATION_MS).contains(&ms)).then_some(ms)
}

fn trace_id(map: &Map<String, Value>) -> Option<String> {
    let trace = object(object(map.get("contexts"))?.get("trace"))?;
    let id = trace.get("trace_id")?.as_str()?;
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_ascii_lowercase())
}

/// A small non-negative count: an integer, or a float with no fraction
/// (some SDKs send `5.0`).
fn config_number(value: Option<&Value>) -> Option<u32> {
    let value = value?;
    let number = value.as_u64().or_else(|| {
        let float = value.as_f64()?;
        (float.is_finite() && float >= 0.0 && float.fract() == 0.0 && float <= u32::MAX as f64)
            .then_some(float as u64)
    })?;
    if number > MAX_CONFIG_NUMBER {
        return None;
    }
    u32::try_from(number).ok()
}

fn monitor_config(value: &Value) -> Result<MonitorConfig, CheckInError> {
    let bad = |detail| CheckInError::BadSchedule { detail };
    let map = value
        .as_object()
        .ok_or(bad("monitor_config is not an object"))?;
    let schedule = map
        .get("schedule")
        .and_then(Value::as_object)
        .ok_or(bad("no schedule object"))?;
    let kind = schedule.get("type").and_then(Value::as_str);
    let schedule = match kind {
        Some("crontab") => {
            let text = schedule
                .get("value")
                .and_then(Value::as_str)
                .ok_or(bad("crontab value is not a string"))?;
            Schedule::Crontab(crontab(text).ok_or(bad("not a crontab expression"))?)
        }
        Some("interval") => {
            let value = config_number(schedule.get("value"))
                .filter(|&value| value > 0)
                .ok_or(bad("interval value is not a positive integer"))?;
            let unit = schedule
                .get("unit")
                .and_then(Value::as_str)
                .and_then(IntervalUnit::parse)
                .ok_or(bad(
                    "interval unit is not minute, hour, day, week, month or year",
                ))?;
            Schedule::Interval { value, unit }
        }
        _ => return Err(bad("schedule type is not crontab or interval")),
    };
    Ok(MonitorConfig {
        schedule,
        checkin_margin_minutes: config_number(map.get("checkin_margin")),
        max_runtime_minutes: config_number(map.get("max_runtime")),
        timezone: string(map.get("timezone"), MAX_NAME_CHARS),
        failure_issue_threshold: config_number(map.get("failure_issue_threshold")),
        recovery_threshold: config_number(map.get("recovery_threshold")),
    })
}

/// A crontab expression with its whitespace collapsed: five fields of
/// the characters cron syntax uses (numbers, names, `* , - / ? L W #`),
/// or one of the `@` shorthands. Not a full cron parser: it keeps what
/// cannot be a schedule out, and leaves the rest to outage detection.
fn crontab(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_CRONTAB_CHARS {
        return None;
    }
    if let Some(alias) = text.strip_prefix('@') {
        let known = [
            "yearly", "annually", "monthly", "weekly", "daily", "midnight", "hourly",
        ];
        let alias = alias.to_ascii_lowercase();
        return known.contains(&alias.as_str()).then(|| format!("@{alias}"));
    }
    let fields: Vec<&str> = text.split_whitespace().collect();
    let valid = fields.len() == 5
        && fields.iter().all(|field| {
            field.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '*' | ',' | '-' | '/' | '?' | '#')
            })
        });
    valid.then(|| fields.join(" "))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<CheckIn, CheckInError> {
        parse_check_in(value.to_string().as_bytes())
    }

    #[test]
    fn the_python_sdk_start_and_finish() {
        let started = parse(json!({
            "type": "check_in", "monitor_slug": "nightly-backup",
            "check_in_id": "d15a218c5517417591258d073ea16f99", "status": "in_progress",
            "duration": null, "environment": "production", "release": "shop@1.4.2",
            "monitor_config": {"schedule": {"type": "crontab", "value": "0 3 * * *"},
                "checkin_margin": 5, "max_runtime": 30, "timezone": "Europe/Vienna"},
            "timestamp": "2023-11-14T22:13:20Z",
            "contexts": {"trace": {"trace_id": "4FA5088F8C6E49C6B510ADBD61F9C1B9"}},
        }))
        .unwrap();
        assert_eq!(
            started,
            CheckIn {
                check_in_id: Some("d15a218c5517417591258d073ea16f99".to_owned()),
                monitor_slug: "nightly-backup".to_owned(),
                status: CheckInStatus::InProgress,
                duration_ms: None,
                release: Some("shop@1.4.2".to_owned()),
                environment: Some("production".to_owned()),
                timestamp_micros: Some(1_700_000_000_000_000),
                trace_id: Some("4fa5088f8c6e49c6b510adbd61f9c1b9".to_owned()),
                monitor_config: Some(MonitorConfig {
                    schedule: Schedule::Crontab("0 3 * * *".to_owned()),
                    checkin_margin_minutes: Some(5),
                    max_runtime_minutes: Some(30),
                    timezone: Some("Europe/Vienna".to_owned()),
                    failure_issue_threshold: None,
                    recovery_threshold: None,
                }),
                config_error: None,
            }
        );
        let finished = parse(json!({
            "monitor_slug": "nightly-backup", "check_in_id": "d15a218c-5517-4175-9125-8d073ea16f99",
            "status": "ok", "duration": 0.0524,
        }))
        .unwrap();
        assert_eq!(finished.check_in_id, started.check_in_id);
        assert_eq!(finished.status, CheckInStatus::Ok);
        assert!((finished.duration_ms.unwrap() - 52.4).abs() < 1e-9);
        assert!(finished.status.is_final() && !started.status.is_final());
    }

    #[test]
    fn interval_schedules() {
        let config = |schedule: Value| {
            parse(json!({"monitor_slug": "m", "status": "ok", "monitor_config": {"schedule": schedule}}))
                .unwrap()
        };
        assert_eq!(
            config(json!({"type": "interval", "value": 2, "unit": "hours"}))
                .monitor_config
                .unwrap()
                .schedule,
            Schedule::Interval {
                value: 2,
                unit: IntervalUnit::Hour
            }
        );
        assert_eq!(
            config(json!({"type": "interval", "value": 3.0, "unit": "day"}))
                .monitor_config
                .unwrap()
                .schedule,
            Schedule::Interval {
                value: 3,
                unit: IntervalUnit::Day
            }
        );
        for bad in [
            json!({"type": "interval", "value": 0, "unit": "day"}),
            json!({"type": "interval", "value": 1.5, "unit": "day"}),
            json!({"type": "interval", "value": 1, "unit": "fortnight"}),
            json!({"type": "crontab", "value": "every day"}),
            json!({"type": "crontab", "value": 5}),
            json!({"type": "solar"}),
            json!("0 * * * *"),
        ] {
            let check_in = config(bad.clone());
            assert_eq!(check_in.monitor_config, None, "{bad}");
            assert_eq!(
                check_in.config_error.unwrap().reason(),
                "bad_monitor_schedule"
            );
        }
    }

    #[test]
    fn crontabs_are_checked_and_collapsed() {
        assert_eq!(crontab(" 0  3 * * 1-5 ").as_deref(), Some("0 3 * * 1-5"));
        assert_eq!(
            crontab("*/15 * * JAN MON#2").as_deref(),
            Some("*/15 * * JAN MON#2")
        );
        assert_eq!(crontab("@Daily").as_deref(), Some("@daily"));
        assert_eq!(crontab("@sometimes"), None);
        assert_eq!(crontab("* * * *"), None);
        assert_eq!(crontab("* * * * * *"), None);
        assert_eq!(crontab("rm -rf / ; * *"), None);
    }

    #[test]
    fn slugs_are_sentry_slugs() {
        assert_eq!(
            slugify("Nightly Backup!").as_deref(),
            Some("nightly-backup")
        );
        assert_eq!(slugify("  --a__b--  ").as_deref(), Some("a__b"));
        assert_eq!(slugify("ünïcode job").as_deref(), Some("n-code-job"));
        assert_eq!(slugify("!!!"), None);
        assert_eq!(slugify("--"), None);
        assert_eq!(slugify(&"x".repeat(80)).unwrap().len(), MAX_SLUG_CHARS);
    }

    #[test]
    fn required_fields_say_why() {
        let cases = [
            (json!([1]), "bad_check_in"),
            (json!({"status": "ok"}), "missing_monitor_slug"),
            (
                json!({"monitor_slug": "???", "status": "ok"}),
                "missing_monitor_slug",
            ),
            (
                json!({"monitor_slug": 7, "status": "ok"}),
                "missing_monitor_slug",
            ),
            (json!({"monitor_slug": "m"}), "bad_check_in_status"),
            (
                json!({"monitor_slug": "m", "status": "missed"}),
                "bad_check_in_status",
            ),
        ];
        for (payload, reason) in cases {
            assert_eq!(
                parse(payload.clone()).unwrap_err().reason(),
                reason,
                "{payload}"
            );
        }
        assert_eq!(
            parse_check_in(b"{\"monitor_slug\":").unwrap_err().reason(),
            "bad_check_in"
        );
    }

    #[test]
    fn odd_optional_fields_read_as_absent() {
        let check_in = parse(json!({
            "monitor_slug": "m", "status": "error", "check_in_id": "00000000-0000-0000-0000-000000000000",
            "duration": -1, "release": 5, "environment": "", "timestamp": "yesterday",
            "contexts": {"trace": {"trace_id": "short"}},
            "monitor_config": {"schedule": {"type": "interval", "value": 1, "unit": "minute"},
                "checkin_margin": -5, "max_runtime": 1e12, "timezone": 3},
        }))
        .unwrap();
        assert_eq!(check_in.check_in_id, None);
        assert_eq!(check_in.duration_ms, None);
        assert_eq!(check_in.release, None);
        assert_eq!(check_in.environment, None);
        assert_eq!(check_in.timestamp_micros, None);
        assert_eq!(check_in.trace_id, None);
        let config = check_in.monitor_config.unwrap();
        assert_eq!(config.checkin_margin_minutes, None);
        assert_eq!(config.max_runtime_minutes, None);
        assert_eq!(config.timezone, None);
        assert_eq!(duration_ms(&json!(1e300)), None);
        assert_eq!(duration_ms(&json!("1.5")), None);
    }
}
