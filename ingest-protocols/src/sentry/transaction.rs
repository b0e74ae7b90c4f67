//! A `transaction` item (or an event of type `transaction` sent to the old
//! `store` endpoint) read for what partout keeps of performance data: the
//! transaction's name, operation, release and environment, when it started
//! and ended, and whether it failed. Spans, measurements and the rest of
//! the payload are not read.
//!
//! ```text
//! {"type":"transaction","transaction":"GET /cart",
//!  "contexts":{"trace":{"op":"http.server","status":"unavailable",...},
//!              "response":{"status_code":503}},
//!  "start_timestamp":"2026-11-22T23:29:44.263728Z",
//!  "timestamp":"2026-11-22T23:29:44.265223Z",
//!  "release":"shop@1.4.2","environment":"prod", "spans":[...], ...}
//! ```
//!
//! Failure follows Sentry's failure rate: a trace status other than `ok`,
//! `cancelled` and `unknown` is a failure, and so is an HTTP status of 500
//! or more (from `contexts.response.status_code`, the trace's
//! `http.response.status_code` data, or the `http.status_code` tag), for
//! SDKs that set the status code but no trace status.
//!
//! Spec: <https://develop.sentry.dev/sdk/data-model/event-payloads/transaction/>.

use serde_json::{Map, Value};

use crate::sentry::event::event_id;
use crate::sentry::value::{object, string};
use crate::sentry::{timestamp, SentryError};

/// Longest name, operation, release or environment kept, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The name of a transaction sent without one (Sentry's too).
pub const UNLABELED: &str = "<unlabeled transaction>";
/// Longest status kept, in characters; real ones are under 20.
const MAX_STATUS_CHARS: usize = 32;

/// What partout keeps of one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// 32 lowercase hex digits, when the payload had a valid one.
    pub event_id: Option<String>,
    /// The route or task (`GET /cart`), or [`UNLABELED`].
    pub name: String,
    /// The root span's operation (`http.server`, `task`...).
    pub op: Option<String>,
    /// The root span's status (`ok`, `internal_error`...).
    pub status: Option<String>,
    /// The HTTP response status, for web transactions.
    pub http_status: Option<u16>,
    pub release: Option<String>,
    pub environment: Option<String>,
    /// Unix microseconds, as the client's clock said.
    pub start_micros: i64,
    /// Unix microseconds, never before `start_micros`.
    pub end_micros: i64,
}

impl Transaction {
    /// How long it took, microseconds (never negative).
    pub fn duration_micros(&self) -> i64 {
        self.end_micros.saturating_sub(self.start_micros).max(0)
    }

    /// Whether it counts as failed (see the module docs).
    pub fn failed(&self) -> bool {
        let bad_status = self
            .status
            .as_deref()
            .is_some_and(|status| !matches!(status, "ok" | "cancelled" | "unknown"));
        bad_status || self.http_status.is_some_and(|code| code >= 500)
    }
}

/// Reads a transaction payload. Fails when it is not a JSON object or
/// lacks a valid start or end, or ends before it starts.
pub fn parse_transaction(payload: &[u8]) -> Result<Transaction, SentryError> {
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(map)) => transaction_from_map(&map),
        Ok(_) => Err(bad("not a JSON object")),
        Err(error) => Err(SentryError::BadTransaction {
            detail: error.to_string(),
        }),
    }
}

/// Reads a transaction already parsed as a JSON object.
pub fn transaction_from_map(map: &Map<String, Value>) -> Result<Transaction, SentryError> {
    let start_micros = map
        .get("start_timestamp")
        .and_then(timestamp::from_json)
        .ok_or_else(|| bad("missing or invalid start_timestamp"))?;
    let end_micros = map
        .get("timestamp")
        .and_then(timestamp::from_json)
        .ok_or_else(|| bad("missing or invalid timestamp"))?;
    if end_micros < start_micros {
        return Err(bad("timestamp is before start_timestamp"));
    }
    let contexts = object(map.get("contexts"));
    let trace = contexts.and_then(|contexts| object(contexts.get("trace")));
    let http_status = contexts
        .and_then(|contexts| object(contexts.get("response")))
        .and_then(|response| status_code(response.get("status_code")))
        .or_else(|| {
            trace
                .and_then(|trace| object(trace.get("data")))
                .and_then(|data| status_code(data.get("http.response.status_code")))
        })
        .or_else(|| {
            object(map.get("tags")).and_then(|tags| status_code(tags.get("http.status_code")))
        });
    Ok(Transaction {
        event_id: map.get("event_id").and_then(event_id),
        name: string(map.get("transaction"), MAX_NAME_CHARS)
            .unwrap_or_else(|| UNLABELED.to_owned()),
        op: trace.and_then(|trace| string(trace.get("op"), MAX_NAME_CHARS)),
        status: trace.and_then(|trace| string(trace.get("status"), MAX_STATUS_CHARS)),
        http_status,
        release: string(map.get("release"), MAX_NAME_CHARS),
        environment: string(map.get("environment"), MAX_NAME_CHARS),
        start_micros,
        end_micros,
    })
}

fn bad(detail: &str) -> SentryError {
    SentryError::BadTransaction {
        detail: detail.to_owned(),
    }
}

/// An HTTP status code, as a number or a string of digits; `None`
/// outside 100 to 599.
fn status_code(value: Option<&Value>) -> Option<u16> {
    let code = match value? {
        Value::Number(number) => number.as_u64()?,
        Value::String(text) => text.trim().parse().ok()?,
        _ => return None,
    };
    u16::try_from(code)
        .ok()
        .filter(|code| (100..=599).contains(code))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::sentry::envelope::{parse_envelope, EnvelopeLimits, ItemType};
    use serde_json::json;

    fn fixture_item(name: &str) -> Transaction {
        let path = format!(
            "{}/tests/fixtures/sentry/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let body = std::fs::read(path).unwrap();
        let envelope = parse_envelope(&body, &EnvelopeLimits::default()).unwrap();
        let item = envelope.items_of(ItemType::Transaction).next().unwrap();
        parse_transaction(item.payload).unwrap()
    }

    fn read(value: Value) -> Result<Transaction, SentryError> {
        parse_transaction(value.to_string().as_bytes())
    }

    #[test]
    fn the_python_sdk_transaction() {
        let transaction = fixture_item("sentry-envelope-transaction.bin");
        assert_eq!(transaction.name, "POST /checkout");
        assert_eq!(transaction.op.as_deref(), Some("http.server"));
        assert_eq!(transaction.release.as_deref(), Some("shop@1.4.2"));
        assert_eq!(transaction.environment.as_deref(), Some("prod"));
        assert_eq!(
            transaction.event_id.as_deref(),
            Some("b26c15257b15450684ac6848bce53913")
        );
        assert_eq!(transaction.duration_micros(), 11_347);
        assert_eq!(transaction.status, None);
        assert!(!transaction.failed());
    }

    #[test]
    fn the_python_sdk_transaction_that_answered_503_failed() {
        let transaction = fixture_item("sentry-envelope-transaction-503.bin");
        assert_eq!(transaction.name, "GET /cart");
        assert_eq!(transaction.status.as_deref(), Some("unavailable"));
        assert_eq!(transaction.http_status, Some(503));
        assert_eq!(transaction.duration_micros(), 1_495);
        assert!(transaction.failed());
    }

    #[test]
    fn failure_is_a_bad_status_or_a_server_error() {
        let base = json!({"start_timestamp": 1.0, "timestamp": 2.5});
        let with = |patch: Value| {
            let mut value = base.clone();
            for (key, field) in patch.as_object().unwrap() {
                value[key] = field.clone();
            }
            read(value).unwrap()
        };
        assert!(!with(json!({})).failed());
        for status in ["ok", "cancelled", "unknown"] {
            assert!(!with(json!({"contexts": {"trace": {"status": status}}})).failed());
        }
        for status in ["internal_error", "not_found", "unknown_error"] {
            assert!(with(json!({"contexts": {"trace": {"status": status}}})).failed());
        }
        let by_tag = with(json!({"tags": {"http.status_code": "502"}}));
        assert_eq!(by_tag.http_status, Some(502));
        assert!(by_tag.failed());
        let by_data =
            with(json!({"contexts": {"trace": {"data": {"http.response.status_code": 404}}}}));
        assert_eq!(by_data.http_status, Some(404));
        assert!(!by_data.failed());
        assert_eq!(
            with(json!({"contexts": {"response": {"status_code": 99999}}})).http_status,
            None
        );
        assert_eq!(with(json!({})).duration_micros(), 1_500_000);
    }

    #[test]
    fn names_default_and_are_cut() {
        let unnamed = read(json!({"start_timestamp": 1, "timestamp": 1})).unwrap();
        assert_eq!(unnamed.name, UNLABELED);
        assert_eq!(unnamed.duration_micros(), 0);
        let long =
            read(json!({"start_timestamp": 1, "timestamp": 1, "transaction": "x".repeat(500)}))
                .unwrap();
        assert_eq!(long.name.chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn times_are_required_and_ordered() {
        let reason = |value: Value| read(value).unwrap_err().reason();
        assert_eq!(reason(json!({"timestamp": 2})), "bad_transaction");
        assert_eq!(reason(json!({"start_timestamp": 2})), "bad_transaction");
        assert_eq!(
            reason(json!({"start_timestamp": 3, "timestamp": 2})),
            "bad_transaction"
        );
        assert_eq!(reason(json!([1])), "bad_transaction");
        assert!(parse_transaction(b"{").is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = parse_transaction(&bytes);
        }

        #[test]
        fn arbitrary_json_reads_within_bounds(value in crate::sentry::testing::json_with_keys(KEYS)) {
            if let Value::Object(map) = &value {
                if let Ok(transaction) = transaction_from_map(map) {
                    proptest::prop_assert!(transaction.start_micros <= transaction.end_micros);
                    proptest::prop_assert!(transaction.duration_micros() >= 0);
                    proptest::prop_assert!(transaction.name.chars().count() <= MAX_NAME_CHARS);
                    proptest::prop_assert!(!transaction.name.is_empty());
                    proptest::prop_assert!(transaction.http_status.is_none_or(|code| (100..=599).contains(&code)));
                    proptest::prop_assert_eq!(transaction_from_map(map).ok(), Some(transaction));
                }
            }
        }
    }

    const KEYS: &[&str] = &[
        "transaction",
        "start_timestamp",
        "timestamp",
        "contexts",
        "trace",
        "op",
        "status",
        "response",
        "status_code",
        "data",
        "http.response.status_code",
        "tags",
        "http.status_code",
        "release",
        "environment",
        "event_id",
    ];
}
