//! `client_report` items: what an SDK dropped before sending, and why.
//!
//! ```text
//! {"type":"client_report"}
//! {"timestamp":1795390156.4361653,
//!  "discarded_events":[{"reason":"before_send","category":"error","quantity":3},
//!                      {"reason":"sample_rate","category":"transaction","quantity":1}]}
//! ```
//!
//! Besides `discarded_events`, older SDKs and Relay itself use
//! `rate_limited_events`, `filtered_events` and
//! `filtered_sampling_events`, entries of the same shape; all four are
//! read into one list. Entries without a reason, a category or a positive
//! quantity are left out and counted.
//!
//! Spec: <https://develop.sentry.dev/sdk/telemetry/client-reports/>.

use serde_json::{Map, Value};

use crate::sentry::value::string;
use crate::sentry::{timestamp, SentryError};

/// Entries kept of one report, over all its lists.
pub const MAX_ENTRIES: usize = 200;
/// Longest reason or category kept, in characters; real ones are short
/// identifiers (`queue_overflow`, `ratelimit_backoff`, `transaction`).
pub const MAX_LABEL_CHARS: usize = 64;
/// Largest quantity believed for one entry.
pub const MAX_QUANTITY: u64 = 1_000_000_000;
/// The lists an entry may come in.
const LISTS: [&str; 4] = [
    "discarded_events",
    "rate_limited_events",
    "filtered_events",
    "filtered_sampling_events",
];

/// One report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientReport {
    /// When the SDK wrote it, Unix microseconds (client clock).
    pub timestamp_micros: Option<i64>,
    /// At most [`MAX_ENTRIES`], in the order sent.
    pub discarded: Vec<Discarded>,
    /// Entries left out: malformed, or past [`MAX_ENTRIES`].
    pub dropped_entries: usize,
}

/// Items of one category an SDK dropped for one reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discarded {
    /// `sample_rate`, `before_send`, `queue_overflow`, `ratelimit_backoff`...
    pub reason: String,
    /// `error`, `transaction`, `span`, `session`, `attachment`...
    pub category: String,
    /// 1 to [`MAX_QUANTITY`].
    pub quantity: u64,
}

/// Reads a `client_report` item. Fails only when it is not a JSON object.
pub fn parse_client_report(payload: &[u8]) -> Result<ClientReport, SentryError> {
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(map)) => Ok(client_report_from_map(&map)),
        Ok(_) => Err(SentryError::BadClientReport {
            detail: String::from("not a JSON object"),
        }),
        Err(error) => Err(SentryError::BadClientReport {
            detail: error.to_string(),
        }),
    }
}

/// Reads a report already parsed as a JSON object.
pub fn client_report_from_map(map: &Map<String, Value>) -> ClientReport {
    let mut report = ClientReport {
        timestamp_micros: map.get("timestamp").and_then(timestamp::from_json),
        ..ClientReport::default()
    };
    for list in LISTS {
        let Some(entries) = map.get(list) else {
            continue;
        };
        let Value::Array(entries) = entries else {
            report.dropped_entries += 1;
            continue;
        };
        for entry in entries {
            if report.discarded.len() >= MAX_ENTRIES {
                report.dropped_entries += 1;
                continue;
            }
            match discarded(entry) {
                Some(entry) => report.discarded.push(entry),
                None => report.dropped_entries += 1,
            }
        }
    }
    report
}

fn discarded(value: &Value) -> Option<Discarded> {
    let map = value.as_object()?;
    Some(Discarded {
        reason: string(map.get("reason"), MAX_LABEL_CHARS)?,
        category: string(map.get("category"), MAX_LABEL_CHARS)?,
        quantity: map
            .get("quantity")
            .and_then(Value::as_u64)
            .filter(|quantity| (1..=MAX_QUANTITY).contains(quantity))?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::sentry::envelope::{parse_envelope, EnvelopeLimits, ItemType};
    use serde_json::json;

    fn entry(reason: &str, category: &str, quantity: u64) -> Discarded {
        Discarded {
            reason: reason.to_owned(),
            category: category.to_owned(),
            quantity,
        }
    }

    #[test]
    fn the_python_sdk_report() {
        let path = format!(
            "{}/tests/fixtures/sentry/sentry-envelope-client-report.bin",
            env!("CARGO_MANIFEST_DIR")
        );
        let body = std::fs::read(path).unwrap();
        let envelope = parse_envelope(&body, &EnvelopeLimits::default()).unwrap();
        let item = envelope.items_of(ItemType::ClientReport).next().unwrap();
        let report = parse_client_report(item.payload).unwrap();
        assert_eq!(report.timestamp_micros, Some(1_795_390_156_436_165));
        assert_eq!(
            report.discarded,
            [
                entry("before_send", "error", 3),
                entry("sample_rate", "transaction", 1),
                entry("sample_rate", "span", 1)
            ]
        );
        assert_eq!(report.dropped_entries, 0);
    }

    #[test]
    fn every_list_is_read_and_bad_entries_counted() {
        let report = client_report_from_map(
            json!({
                "timestamp": "2026-11-22T23:29:00Z",
                "discarded_events": [
                    {"reason": "queue_overflow", "category": "error", "quantity": 2},
                    {"reason": "queue_overflow", "category": "error", "quantity": 0},
                    {"reason": "queue_overflow", "quantity": 1},
                    {"reason": "x", "category": "error", "quantity": -1},
                    7
                ],
                "rate_limited_events": [{"reason": "ratelimit_backoff", "category": "session", "quantity": 1}],
                "filtered_events": "nope",
            })
            .as_object()
            .unwrap(),
        );
        assert_eq!(
            report.discarded,
            [
                entry("queue_overflow", "error", 2),
                entry("ratelimit_backoff", "session", 1)
            ]
        );
        assert_eq!(report.dropped_entries, 5);
        assert!(report.timestamp_micros.is_some());
        assert!(parse_client_report(b"[]").is_err());
        assert_eq!(parse_client_report(b"{}").unwrap(), ClientReport::default());
    }

    #[test]
    fn entries_are_bounded() {
        let many: Vec<Value> = (0..MAX_ENTRIES + 3)
            .map(|_| json!({"reason": "r".repeat(100), "category": "error", "quantity": 1}))
            .collect();
        let report = client_report_from_map(json!({"discarded_events": many}).as_object().unwrap());
        assert_eq!(report.discarded.len(), MAX_ENTRIES);
        assert_eq!(report.dropped_entries, 3);
        assert_eq!(report.discarded[0].reason.chars().count(), MAX_LABEL_CHARS);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = parse_client_report(&bytes);
        }

        #[test]
        fn arbitrary_json_reads_within_bounds(value in crate::sentry::testing::json_with_keys(KEYS)) {
            if let Value::Object(map) = &value {
                let report = client_report_from_map(map);
                proptest::prop_assert!(report.discarded.len() <= MAX_ENTRIES);
                for entry in &report.discarded {
                    proptest::prop_assert!((1..=MAX_QUANTITY).contains(&entry.quantity));
                    proptest::prop_assert!(!entry.reason.is_empty() && entry.reason.chars().count() <= MAX_LABEL_CHARS);
                    proptest::prop_assert!(!entry.category.is_empty() && entry.category.chars().count() <= MAX_LABEL_CHARS);
                }
            }
        }
    }

    const KEYS: &[&str] = &[
        "timestamp",
        "discarded_events",
        "rate_limited_events",
        "filtered_events",
        "filtered_sampling_events",
        "reason",
        "category",
        "quantity",
    ];
}
