//! Release health: `session` items (one session's update) and `sessions`
//! items (counts an SDK aggregated itself, for request-mode sessions).
//!
//! ```text
//! {"type":"session"}
//! {"sid":"58c4053d-1f31-4d3f-bee9-54d0c31bec3a","init":true,
//!  "started":"2026-11-22T23:29:07.436016Z","timestamp":"2026-11-22T23:29:07.438839Z",
//!  "status":"exited","errors":1,"did":"1234",
//!  "attrs":{"release":"shop@1.4.2","environment":"prod"}}
//! {"type":"sessions"}
//! {"attrs":{"environment":"prod","release":"shop@1.4.2"},
//!  "aggregates":[{"started":"2026-11-22T23:29:00.000000Z","exited":4,"errored":1}]}
//! ```
//!
//! A session is sent several times as it goes: SDKs send an update when
//! it starts (`init: true`), when an error happens in it, and when it ends
//! (`exited`, `crashed`, `abnormal`); `seq` orders the updates. Deciding
//! what an update counts is the caller's job, since it needs what was
//! seen of the session before; this module only reads. Note the Python
//! SDK sends `init: true` on every update, so `init` alone cannot tell a
//! first update from a repeated one.
//!
//! Required, as Sentry requires them: a UUID `sid` and `started` for an
//! update, and `attrs.release` for both kinds. An unknown `status` reads
//! as [`SessionStatus::Ok`], an update that ends nothing.
//!
//! Spec: <https://develop.sentry.dev/sdk/telemetry/sessions/>.

use serde_json::{Map, Value};

use crate::sentry::event::event_id;
use crate::sentry::value::{object, string};
use crate::sentry::{timestamp, SentryError};

/// Longest release, environment or distinct id kept, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Buckets kept of one `sessions` item; SDKs flush every minute, so real
/// items hold a handful.
pub const MAX_BUCKETS: usize = 1000;
/// Largest count of one bucket: beyond it the bucket is not believed.
pub const MAX_BUCKET_COUNT: u64 = 1_000_000_000;
/// Largest `errors` kept: only zero or not matters.
const MAX_ERRORS: u64 = u32::MAX as u64;

/// Where a session stands, as the SDK reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionStatus {
    /// Running (also any status this build does not know).
    Ok,
    /// Ended normally.
    Exited,
    /// Ended by a crash (an unhandled error).
    Crashed,
    /// Ended without the SDK learning how (the app was killed, hung).
    Abnormal,
    /// Running, with an error (also `unhandled`: an unhandled error the
    /// app survived).
    Errored,
}

impl SessionStatus {
    /// A status as SDKs write it.
    pub fn from_name(name: &str) -> SessionStatus {
        match name {
            "exited" => SessionStatus::Exited,
            "crashed" => SessionStatus::Crashed,
            "abnormal" => SessionStatus::Abnormal,
            "errored" | "unhandled" => SessionStatus::Errored,
            _ => SessionStatus::Ok,
        }
    }

    /// Whether the session is over.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SessionStatus::Exited | SessionStatus::Crashed | SessionStatus::Abnormal
        )
    }
}

/// One `session` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUpdate {
    /// The session's id as 32 lowercase hex digits.
    pub sid: String,
    /// The distinct id (user id, device id...), when sent.
    pub did: Option<String>,
    /// Orders the updates of one session, when sent.
    pub seq: Option<u64>,
    /// The SDK says this is the session's first update.
    pub init: bool,
    /// When the session started, Unix microseconds (client clock).
    pub started_micros: i64,
    /// When this update was made, Unix microseconds (client clock).
    pub timestamp_micros: Option<i64>,
    pub status: SessionStatus,
    /// Errors seen in the session so far.
    pub errors: u64,
    pub release: String,
    pub environment: Option<String>,
}

impl SessionUpdate {
    /// Whether this update says the session had an error.
    pub fn has_errors(&self) -> bool {
        self.errors > 0
            || matches!(
                self.status,
                SessionStatus::Errored | SessionStatus::Crashed | SessionStatus::Abnormal
            )
    }
}

/// One `sessions` item: counts of sessions per start minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionAggregates {
    pub release: String,
    pub environment: Option<String>,
    /// At most [`MAX_BUCKETS`], in the order sent.
    pub buckets: Vec<SessionBucket>,
    /// Buckets left out: malformed, or past [`MAX_BUCKETS`].
    pub dropped_buckets: usize,
}

/// The sessions that started in one interval, by how they ended. The
/// counts are exclusive: a session is in exactly one of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionBucket {
    /// Unix microseconds (client clock).
    pub started_micros: i64,
    /// Set when the SDK aggregates per user.
    pub did: Option<String>,
    /// Ended normally, without errors.
    pub exited: u64,
    /// Had errors, but neither crashed nor ended abnormally.
    pub errored: u64,
    pub abnormal: u64,
    pub crashed: u64,
}

impl SessionBucket {
    /// Every session of the bucket (each count is at most
    /// [`MAX_BUCKET_COUNT`], so the sum cannot overflow).
    pub fn total(&self) -> u64 {
        self.exited + self.errored + self.abnormal + self.crashed
    }
}

/// Reads a `session` item.
pub fn parse_session(payload: &[u8]) -> Result<SessionUpdate, SentryError> {
    session_from_map(&json_object(payload)?)
}

/// Reads a `session` payload already parsed as a JSON object.
pub fn session_from_map(map: &Map<String, Value>) -> Result<SessionUpdate, SentryError> {
    let sid = map
        .get("sid")
        .and_then(event_id)
        .ok_or_else(|| bad("missing or invalid sid (a UUID)"))?;
    let started_micros = map
        .get("started")
        .and_then(timestamp::from_json)
        .ok_or_else(|| bad("missing or invalid started"))?;
    let (release, environment) = attrs(map)?;
    Ok(SessionUpdate {
        sid,
        did: distinct_id(map.get("did")),
        seq: map.get("seq").and_then(Value::as_u64),
        init: map.get("init").and_then(Value::as_bool).unwrap_or(false),
        started_micros,
        timestamp_micros: map.get("timestamp").and_then(timestamp::from_json),
        status: map
            .get("status")
            .and_then(Value::as_str)
            .map_or(SessionStatus::Ok, SessionStatus::from_name),
        errors: map
            .get("errors")
            .and_then(Value::as_u64)
            .map_or(0, |errors| errors.min(MAX_ERRORS)),
        release,
        environment,
    })
}

/// Reads a `sessions` item. Buckets that are not objects with a valid
/// `started` and counts are left out and counted, not an error.
pub fn parse_sessions(payload: &[u8]) -> Result<SessionAggregates, SentryError> {
    sessions_from_map(&json_object(payload)?)
}

/// Reads a `sessions` payload already parsed as a JSON object.
pub fn sessions_from_map(map: &Map<String, Value>) -> Result<SessionAggregates, SentryError> {
    let (release, environment) = attrs(map)?;
    let sent: &[Value] = match map.get("aggregates") {
        Some(Value::Array(buckets)) => buckets,
        _ => return Err(bad("missing aggregates")),
    };
    let mut buckets = Vec::new();
    let mut dropped_buckets = sent.len().saturating_sub(MAX_BUCKETS);
    for value in sent.iter().take(MAX_BUCKETS) {
        match bucket(value) {
            Some(bucket) => buckets.push(bucket),
            None => dropped_buckets += 1,
        }
    }
    Ok(SessionAggregates {
        release,
        environment,
        buckets,
        dropped_buckets,
    })
}

fn bucket(value: &Value) -> Option<SessionBucket> {
    let map = value.as_object()?;
    let count = |key: &str| -> Option<u64> {
        match map.get(key) {
            None | Some(Value::Null) => Some(0),
            Some(value) => value.as_u64().filter(|&count| count <= MAX_BUCKET_COUNT),
        }
    };
    Some(SessionBucket {
        started_micros: map.get("started").and_then(timestamp::from_json)?,
        did: distinct_id(map.get("did")),
        exited: count("exited")?,
        errored: count("errored")?,
        abnormal: count("abnormal")?,
        crashed: count("crashed")?,
    })
}

/// `attrs.release` (required) and `attrs.environment`.
fn attrs(map: &Map<String, Value>) -> Result<(String, Option<String>), SentryError> {
    let attrs = object(map.get("attrs"));
    let release = attrs
        .and_then(|attrs| string(attrs.get("release"), MAX_NAME_CHARS))
        .ok_or_else(|| bad("missing attrs.release"))?;
    let environment = attrs.and_then(|attrs| string(attrs.get("environment"), MAX_NAME_CHARS));
    Ok((release, environment))
}

/// A distinct id: a string, or a number some SDKs send for user ids.
fn distinct_id(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Number(number) => Some(number.to_string()),
        other => string(Some(other), MAX_NAME_CHARS),
    }
}

fn json_object(payload: &[u8]) -> Result<Map<String, Value>, SentryError> {
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad("not a JSON object")),
        Err(error) => Err(SentryError::BadSession {
            detail: error.to_string(),
        }),
    }
}

fn bad(detail: &str) -> SentryError {
    SentryError::BadSession {
        detail: detail.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::sentry::envelope::{parse_envelope, EnvelopeLimits, ItemType};
    use serde_json::json;

    fn fixture_payload(name: &str, kind: ItemType) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/sentry/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let body = std::fs::read(path).unwrap();
        let envelope = parse_envelope(&body, &EnvelopeLimits::default()).unwrap();
        let payload = envelope.items_of(kind).next().unwrap().payload.to_vec();
        payload
    }

    #[test]
    fn the_python_sdk_session_that_exited_with_an_error() {
        let payload = fixture_payload("sentry-envelope-session.bin", ItemType::Session);
        let update = parse_session(&payload).unwrap();
        assert_eq!(update.sid, "a1353d654ee14d6180b0665733df639a");
        assert!(update.init);
        assert_eq!(update.status, SessionStatus::Exited);
        assert_eq!(update.errors, 1);
        assert!(update.has_errors());
        assert_eq!(update.did.as_deref(), Some("1234"));
        assert_eq!(update.release, "shop@1.4.2");
        assert_eq!(update.environment.as_deref(), Some("prod"));
        assert_eq!(update.seq, None);
        assert!(update.timestamp_micros.unwrap() >= update.started_micros);
    }

    #[test]
    fn the_python_sdk_crashed_session() {
        let payload = fixture_payload("sentry-envelope-session-crashed.bin", ItemType::Session);
        let update = parse_session(&payload).unwrap();
        assert_eq!(update.status, SessionStatus::Crashed);
        assert!(update.status.is_terminal());
        assert_eq!(update.did, None);
        assert_eq!(update.release, "shop@1.4.3");
    }

    #[test]
    fn the_python_sdk_request_mode_aggregates() {
        let payload = fixture_payload("sentry-envelope-sessions.bin", ItemType::Sessions);
        let aggregates = parse_sessions(&payload).unwrap();
        assert_eq!(aggregates.release, "shop@1.4.2");
        assert_eq!(aggregates.environment.as_deref(), Some("prod"));
        assert_eq!(aggregates.dropped_buckets, 0);
        assert_eq!(aggregates.buckets.len(), 1);
        let bucket = &aggregates.buckets[0];
        assert_eq!((bucket.exited, bucket.errored, bucket.crashed), (4, 1, 0));
        assert_eq!(bucket.total(), 5);
        assert_eq!(bucket.started_micros % 60_000_000, 0);
    }

    #[test]
    fn statuses_and_defaults() {
        let update = |status: Value| {
            parse_session(
                json!({"sid": "58c4053d1f314d3fbee954d0c31bec3a", "started": 1.5,
                       "status": status, "seq": 3, "did": 42,
                       "attrs": {"release": "r"}})
                .to_string()
                .as_bytes(),
            )
            .unwrap()
        };
        assert_eq!(update(json!("ok")).status, SessionStatus::Ok);
        assert_eq!(update(json!("unhandled")).status, SessionStatus::Errored);
        assert_eq!(update(json!("later")).status, SessionStatus::Ok);
        assert_eq!(update(json!(5)).status, SessionStatus::Ok);
        assert!(update(json!("abnormal")).has_errors());
        let ok = update(json!("ok"));
        assert!(!ok.has_errors() && !ok.init);
        assert_eq!(ok.seq, Some(3));
        assert_eq!(ok.did.as_deref(), Some("42"));
        assert_eq!(ok.environment, None);
    }

    #[test]
    fn required_fields() {
        let reason = |value: Value| {
            parse_session(value.to_string().as_bytes())
                .unwrap_err()
                .reason()
        };
        let attrs = json!({"release": "r"});
        assert_eq!(
            reason(json!({"sid": "not-a-uuid", "started": 1, "attrs": attrs})),
            "bad_session"
        );
        assert_eq!(
            reason(json!({"sid": "58c4053d1f314d3fbee954d0c31bec3a", "attrs": attrs})),
            "bad_session"
        );
        assert_eq!(
            reason(json!({"sid": "58c4053d1f314d3fbee954d0c31bec3a", "started": 1})),
            "bad_session"
        );
        assert_eq!(reason(json!("x")), "bad_session");
        assert!(parse_sessions(br#"{"attrs":{"release":"r"}}"#).is_err());
        assert!(parse_sessions(b"\xff").is_err());
    }

    #[test]
    fn bad_buckets_are_dropped_and_counted() {
        let aggregates = parse_sessions(
            json!({"attrs": {"release": "r"}, "aggregates": [
                {"started": "2026-11-22T23:29:00Z", "exited": 2, "crashed": null},
                {"exited": 1},
                {"started": 60, "errored": -1},
                {"started": 60, "crashed": MAX_BUCKET_COUNT + 1},
                "nope",
            ]})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(aggregates.buckets.len(), 1);
        assert_eq!(aggregates.buckets[0].exited, 2);
        assert_eq!(aggregates.dropped_buckets, 4);
        let many: Vec<Value> = (0..MAX_BUCKETS + 5)
            .map(|_| json!({"started": 60, "exited": 1}))
            .collect();
        let aggregates = parse_sessions(
            json!({"attrs": {"release": "r"}, "aggregates": many})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(aggregates.buckets.len(), MAX_BUCKETS);
        assert_eq!(aggregates.dropped_buckets, 5);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = parse_session(&bytes);
            let _ = parse_sessions(&bytes);
        }

        #[test]
        fn arbitrary_json_reads_within_bounds(value in crate::sentry::testing::json_with_keys(KEYS)) {
            if let Value::Object(map) = &value {
                if let Ok(update) = session_from_map(map) {
                    proptest::prop_assert_eq!(update.sid.len(), 32);
                    proptest::prop_assert!(update.sid.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
                    proptest::prop_assert!(!update.release.is_empty());
                    proptest::prop_assert!(update.release.chars().count() <= MAX_NAME_CHARS);
                    proptest::prop_assert!(update.did.as_ref().is_none_or(|did| did.chars().count() <= MAX_NAME_CHARS));
                    proptest::prop_assert!(update.errors <= MAX_ERRORS);
                }
                if let Ok(aggregates) = sessions_from_map(map) {
                    proptest::prop_assert!(aggregates.buckets.len() <= MAX_BUCKETS);
                    for bucket in &aggregates.buckets {
                        proptest::prop_assert!(bucket.total() <= 4 * MAX_BUCKET_COUNT);
                    }
                }
            }
        }
    }

    const KEYS: &[&str] = &[
        "sid",
        "did",
        "seq",
        "init",
        "started",
        "timestamp",
        "status",
        "errors",
        "attrs",
        "release",
        "environment",
        "aggregates",
        "exited",
        "errored",
        "abnormal",
        "crashed",
    ];
}
