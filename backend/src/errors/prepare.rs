//! One normalized event into what `record` writes: its id, a trusted
//! time, its issue (grouping), the user and tags its issue counts, and the
//! compressed body. Runs before the writer (on the request's worker or a
//! blocking thread) so the writer only writes.
//!
//! Time policy: the SDK's clock may be off. When the envelope's `sent_at`
//! is more than a minute from the time received, the event's time is moved
//! by the same amount (Sentry's clock-drift correction). A time still more
//! than an hour ahead, more than 30 days back, or missing becomes the time
//! received: an issue's first and last seen and its hourly counts must not
//! land in a future or a past nobody looks at.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use partout_protocols::sentry::event::Event;
use partout_protocols::sentry::grouping::{group_event, Grouping};
use sha2::{Digest, Sha256};

use super::dictionaries::Dictionary;
use super::envelope::Parsed;
use super::events::{self, EncodedBody};

/// The dictionary of the issue a grouping key names, when it has one
/// ([`super::dictionaries::DictionaryCache::lookup`]).
pub type DictionaryLookup<'a> = &'a dyn Fn(&str) -> Option<Arc<Dictionary>>;

/// For callers without dictionaries: each event is offered as one.
pub fn no_dictionary(_grouping_key: &str) -> Option<Arc<Dictionary>> {
    None
}

/// Clock differences up to this are left alone, microseconds.
const MAX_UNCORRECTED_DRIFT_MICROS: i64 = 60 * 1_000_000;
/// Event times further ahead than this are replaced, milliseconds.
const MAX_FUTURE_MS: i64 = 3600 * 1000;
/// Event times further back than this are replaced, milliseconds.
const MAX_PAST_MS: i64 = 30 * 86_400 * 1000;
/// Longest tag value derived from contexts, in characters.
const MAX_DERIVED_TAG_CHARS: usize = 200;
/// Tags that come from event fields; a tag the SDK sent with one of these
/// names is left out, so each key counts one thing.
const FIELD_TAGS: &[&str] = &[
    "level",
    "environment",
    "release",
    "server_name",
    "transaction",
    "user",
    "browser",
    "os",
    "runtime",
];

/// One event ready for [`super::record`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// 32 lowercase hex digits.
    pub event_id: String,
    pub grouping: Grouping,
    pub level: &'static str,
    pub platform: String,
    /// After the time policy, Unix ms.
    pub timestamp_ms: i64,
    pub received_at_ms: i64,
    pub release: Option<String>,
    pub environment: Option<String>,
    /// Where it was raised, for notifications
    /// ([`super::notify::message::first_in_app_frame`]).
    pub first_in_app_frame: Option<String>,
    /// Its user and tag values, for its issue's counts.
    pub facets: Facets,
    /// The normalized event, zstd-compressed JSON ([`events::encode`]).
    pub body: EncodedBody,
}

/// Prepares every event of a parsed body received at `received_at_ms`,
/// compressing each against its issue's dictionary when `dictionaries`
/// has one.
pub fn prepare_all(
    parsed: Parsed,
    received_at_ms: i64,
    dictionaries: DictionaryLookup<'_>,
) -> std::io::Result<Vec<NewEvent>> {
    let mut header_id = parsed.header_event_id;
    parsed
        .events
        .into_iter()
        .map(|event| {
            // The header's id names the envelope's event: give it to the
            // first event without one only, or later ones would look like
            // retries of it.
            let fallback_id = if event.event_id.is_none() {
                header_id.take()
            } else {
                None
            };
            prepare_against(
                event,
                received_at_ms,
                parsed.sent_at_micros,
                fallback_id,
                dictionaries,
            )
        })
        .collect()
}

/// Prepares one event, offering it as its issue's dictionary.
pub fn prepare(
    event: Event,
    received_at_ms: i64,
    sent_at_micros: Option<i64>,
    fallback_id: Option<String>,
) -> std::io::Result<NewEvent> {
    prepare_against(
        event,
        received_at_ms,
        sent_at_micros,
        fallback_id,
        &no_dictionary,
    )
}

/// Prepares one event, compressed against its issue's dictionary when
/// `dictionaries` has one.
pub fn prepare_against(
    mut event: Event,
    received_at_ms: i64,
    sent_at_micros: Option<i64>,
    fallback_id: Option<String>,
    dictionaries: DictionaryLookup<'_>,
) -> std::io::Result<NewEvent> {
    let timestamp_ms = trusted_time_ms(event.timestamp_micros, sent_at_micros, received_at_ms);
    event.timestamp_micros = Some(timestamp_ms.saturating_mul(1000));
    let event_id = event
        .event_id
        .clone()
        .or(fallback_id)
        .unwrap_or_else(|| new_event_id(received_at_ms));
    event.event_id = Some(event_id.clone());
    let grouping = group_event(&event);
    let facets = facets(&event);
    let body = events::encode(&mut event, dictionaries(&grouping.key))?;
    let first_in_app_frame = super::notify::message::first_in_app_frame(&event);
    Ok(NewEvent {
        event_id,
        grouping,
        level: event.level.as_str(),
        platform: event.platform,
        timestamp_ms,
        received_at_ms,
        release: event.release,
        environment: event.environment,
        first_in_app_frame,
        facets,
        body,
    })
}

/// The event's time after the time policy (see the module docs), Unix ms.
pub fn trusted_time_ms(
    event_micros: Option<i64>,
    sent_at_micros: Option<i64>,
    received_at_ms: i64,
) -> i64 {
    let Some(micros) = event_micros else {
        return received_at_ms;
    };
    let ms = drift_corrected_ms(micros, sent_at_micros, received_at_ms);
    if ms > received_at_ms.saturating_add(MAX_FUTURE_MS)
        || ms < received_at_ms.saturating_sub(MAX_PAST_MS)
    {
        received_at_ms
    } else {
        ms
    }
}

/// A client's time, Unix microseconds, moved by the client's clock
/// drift when its `sent_at` says the drift is over a minute; Unix ms.
/// Only the drift correction of the time policy: no bounds.
pub fn drift_corrected_ms(micros: i64, sent_at_micros: Option<i64>, received_at_ms: i64) -> i64 {
    let received_micros = received_at_ms.saturating_mul(1000);
    let drift = sent_at_micros.map_or(0, |sent| received_micros.saturating_sub(sent));
    let corrected = if drift.saturating_abs() > MAX_UNCORRECTED_DRIFT_MICROS {
        micros.saturating_add(drift)
    } else {
        micros
    };
    corrected.div_euclid(1000)
}

/// What an event adds to its issue's counts besides its hour: its user
/// and its tag values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facets {
    /// A digest of the user's identity, for distinct counts.
    pub user_digest: Option<i64>,
    /// Field tags first, then the event's own.
    pub tags: Vec<(String, String)>,
}

/// The facets of a normalized event: the same whether the event is being
/// prepared or was read back from the store (see `counts`).
pub fn facets(event: &Event) -> Facets {
    let identity = event.user.as_ref().and_then(|user| user.identity());
    Facets {
        tags: issue_tags(event, identity.as_deref()),
        user_digest: identity.as_deref().map(digest),
    }
}

/// The tags an issue counts for one event.
fn issue_tags(event: &Event, identity: Option<&str>) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = Vec::new();
    let mut field = |key: &str, value: Option<&str>| {
        if let Some(value) = value.filter(|value| !value.is_empty()) {
            tags.push((key.to_owned(), value.to_owned()));
        }
    };
    field("level", Some(event.level.as_str()));
    field("environment", event.environment.as_deref());
    field("release", event.release.as_deref());
    field("server_name", event.server_name.as_deref());
    field("transaction", event.transaction.as_deref());
    field("user", identity);
    for context in ["browser", "os", "runtime"] {
        field(context, context_tag(event, context).as_deref());
    }
    tags.extend(
        event
            .tags
            .iter()
            .filter(|(key, _)| !FIELD_TAGS.contains(&key.as_str()))
            .cloned(),
    );
    tags
}

/// `name version` of a context (`CPython 3.11.2`, `Chrome 120.0`).
fn context_tag(event: &Event, context: &str) -> Option<String> {
    let context = event.contexts.get(context)?.as_object()?;
    let name = context.get("name")?.as_str()?;
    let text = match context.get("version").and_then(|version| version.as_str()) {
        Some(version) => format!("{name} {version}"),
        None => name.to_owned(),
    };
    Some(text.chars().take(MAX_DERIVED_TAG_CHARS).collect())
}

/// The first 8 bytes of the SHA-256 of a user's identity: distinct users
/// are counted without keeping who they are.
pub(crate) fn digest(identity: &str) -> i64 {
    let hash = Sha256::digest(identity.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(hash.get(..8).unwrap_or(&[0u8; 8]));
    i64::from_le_bytes(first)
}

/// A fresh event id for an event that came without one: random, or,
/// should the system have no randomness, unique within this process.
fn new_event_id(received_at_ms: i64) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let hash = Sha256::new()
            .chain_update(received_at_ms.to_le_bytes())
            .chain_update(count.to_le_bytes())
            .chain_update(std::process::id().to_le_bytes())
            .finalize();
        bytes.copy_from_slice(hash.get(..16).unwrap_or(&[0u8; 16]));
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Read;

    use super::*;
    use crate::errors::envelope::parse_envelope_body;
    use crate::errors::ErrorsConfig;
    use partout_protocols::sentry::event::{normalize_event, NormalizeLimits};
    use serde_json::json;

    /// A Sentry fixture from `ingest-protocols/tests/fixtures/sentry`
    /// (real SDK payloads), decompressed when stored gzipped.
    pub(crate) fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../ingest-protocols/tests/fixtures/sentry/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = std::fs::read(&path).unwrap();
        if !name.ends_with(".gz") {
            return bytes;
        }
        let mut body = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut body)
            .unwrap();
        body
    }

    /// The raw gzipped fixture, as the SDK sent it.
    pub(crate) fn fixture_raw(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../ingest-protocols/tests/fixtures/sentry/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn prepared(name: &str, received_at_ms: i64) -> NewEvent {
        let parsed = parse_envelope_body(&fixture(name), &ErrorsConfig::default()).unwrap();
        let mut events = prepare_all(parsed, received_at_ms, &no_dictionary).unwrap();
        assert_eq!(events.len(), 1);
        events.remove(0)
    }

    /// 2026-11-22T09:47:10Z, a little after the fixtures were captured.
    const RECEIVED_MS: i64 = 1_795_348_030_100;

    #[test]
    fn python_exception_fixture() {
        let event = prepared("sentry-envelope-exception.wire.gz", RECEIVED_MS);
        assert_eq!(event.event_id, "81ff5a4fefb44611815cfe1e0a0a0800");
        assert_eq!(event.timestamp_ms, 1_795_348_030_061);
        assert_eq!(event.level, "error");
        assert_eq!(event.platform, "python");
        assert_eq!(event.release.as_deref(), Some("shop@1.4.2"));
        assert_eq!(
            event.grouping.title,
            "PaymentDeclined: card declined for order A-1001"
        );
        assert_eq!(
            event.grouping.culprit.as_deref(),
            Some("__main__ in charge_card")
        );
        assert!(event.facets.user_digest.is_some());
        let keys: Vec<&str> = event.facets.tags.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "level",
                "environment",
                "release",
                "server_name",
                "user",
                "runtime",
                "region"
            ]
        );
        assert!(event
            .facets
            .tags
            .contains(&("user".to_owned(), "id:1234".to_owned())));
        assert!(event
            .facets
            .tags
            .contains(&("region".to_owned(), "eu-west".to_owned())));
        // The body is compressed well below the 3460 bytes the SDK sent.
        assert!(
            event.body.compressed_len() < 1800,
            "{} bytes",
            event.body.compressed_len()
        );
        let stored: Event = serde_json::from_slice(&event.body.json().unwrap()).unwrap();
        assert_eq!(stored.event_id.as_deref(), Some(event.event_id.as_str()));
        assert_eq!(stored.exceptions.len(), 1);
    }

    #[test]
    fn python_message_fixture_groups_by_its_masked_text() {
        let event = prepared("sentry-envelope-message.bin", RECEIVED_MS);
        assert_eq!(event.level, "warning");
        assert_eq!(event.grouping.title, "inventory low for sku LAMP-7");
        assert_eq!(
            event.grouping.components,
            ["message:inventory low for sku LAMP-<int>"]
        );
    }

    #[test]
    fn same_code_same_issue_other_code_other_issue() {
        let payload: serde_json::Value = {
            let body = fixture("sentry-envelope-exception.wire.gz");
            let last = body.split(|&b| b == b'\n').nth(2).unwrap().to_vec();
            serde_json::from_slice(&last).unwrap()
        };
        let key = |payload: &serde_json::Value| {
            let event =
                normalize_event(payload.to_string().as_bytes(), &NormalizeLimits::default())
                    .unwrap();
            prepare(event, RECEIVED_MS, None, None)
                .unwrap()
                .grouping
                .key
        };
        let mut again = payload.clone();
        again["exception"]["values"][0]["value"] = json!("card declined for order B-7");
        again["event_id"] = json!("00000000000000000000000000000002");
        assert_eq!(key(&payload), key(&again));
        let mut elsewhere = payload.clone();
        elsewhere["exception"]["values"][0]["stacktrace"]["frames"][1]["function"] =
            json!("refund");
        assert_ne!(key(&payload), key(&elsewhere));
        let mut fingerprinted = payload.clone();
        fingerprinted["fingerprint"] = json!(["{{ default }}", "eu"]);
        assert_ne!(key(&payload), key(&fingerprinted));
        fingerprinted["fingerprint"] = json!(["{{ default }}"]);
        assert_eq!(key(&payload), key(&fingerprinted));
    }

    #[test]
    fn times_are_corrected_for_drift_and_kept_in_range() {
        let now = 1_000_000_000_000;
        let micros = |ms: i64| Some(ms * 1000);
        assert_eq!(trusted_time_ms(None, None, now), now);
        assert_eq!(trusted_time_ms(micros(now - 5000), None, now), now - 5000);
        // A clock 10 minutes slow: the event moves by as much.
        let slow = 600_000;
        assert_eq!(
            trusted_time_ms(micros(now - slow - 5000), micros(now - slow), now),
            now - 5000
        );
        // Small differences are network time, not drift.
        assert_eq!(
            trusted_time_ms(micros(now - 2000), micros(now - 1000), now),
            now - 2000
        );
        assert_eq!(trusted_time_ms(micros(now + 2 * 3_600_000), None, now), now);
        assert_eq!(
            trusted_time_ms(micros(now - 31 * 86_400_000), None, now),
            now
        );
    }

    proptest::proptest! {
        #[test]
        fn trusted_times_stay_near_the_time_received(
            event in proptest::option::of(proptest::prelude::any::<i64>()),
            sent_at in proptest::option::of(proptest::prelude::any::<i64>()),
            received in 0i64..4_000_000_000_000,
        ) {
            let time = trusted_time_ms(event, sent_at, received);
            proptest::prop_assert!(time <= received + MAX_FUTURE_MS);
            proptest::prop_assert!(time >= received - MAX_PAST_MS);
        }
    }

    #[test]
    fn ids_come_from_the_event_then_the_header_then_are_made() {
        let limits = NormalizeLimits::default();
        let with_id = normalize_event(
            b"{\"event_id\":\"0123456789abcdef0123456789abcdef\"}",
            &limits,
        )
        .unwrap();
        let without = normalize_event(b"{\"message\":\"x\"}", &limits).unwrap();
        let parsed = Parsed {
            events: vec![with_id, without.clone(), without],
            header_event_id: Some("ffffffffffffffffffffffffffffffff".to_owned()),
            ..Parsed::default()
        };
        let ids: Vec<String> = prepare_all(parsed, 1, &no_dictionary)
            .unwrap()
            .into_iter()
            .map(|event| event.event_id)
            .collect();
        assert_eq!(ids[0], "0123456789abcdef0123456789abcdef");
        assert_eq!(ids[1], "ffffffffffffffffffffffffffffffff");
        assert_eq!(ids[2].len(), 32);
        assert_ne!(ids[2], ids[1]);
    }
}
