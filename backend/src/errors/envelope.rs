//! A decompressed request body into normalized events: an envelope (the
//! `envelope` endpoint) or one bare event (the old `store` endpoint).
//!
//! Only `event` items become events. `check_in` and `attachment` items
//! are read by `items` (a check-in that does not parse, or an attachment
//! over the size limit, is skipped and counted). `transaction`,
//! `session`, `sessions` and `client_report` items (and `store` events of
//! type `transaction`) are read by `item_stats`, which counts the ones
//! that do not parse. `log` items become log records for the log store
//! (`sentry_logs`). Every other item type (types this build does not
//! know) is accepted and skipped, by type, so an SDK never
//! sees an error for sending what it always sends. An event item that is
//! not a JSON object fails the request (400), and one over the item size
//! limit too (413): the SDK should hear that its error report was lost.

use partout_protocols::sentry::auth::parse_dsn;
use partout_protocols::sentry::envelope::{parse_envelope, ItemType};
use partout_protocols::sentry::event::{normalize_event, Event};
use partout_protocols::sentry::logs::{parse_log_item, LogItemError, LogLimits, SentryLog};
use partout_protocols::sentry::SentryError;

use super::ErrorsConfig;

/// The events of one body and what came with them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    /// Error and message events, in the order sent.
    pub events: Vec<Event>,
    /// The envelope header's `event_id`: the id of an event that lacks
    /// one, and the id answered.
    pub header_event_id: Option<String>,
    /// The envelope header's `sent_at`, Unix microseconds, to correct the
    /// event times of a client whose clock is off.
    pub sent_at_micros: Option<i64>,
    /// The envelope header's DSN (browser SDKs behind a tunnel put it
    /// there), when it parsed.
    pub dsn: Option<DsnKey>,
    /// Items skipped, by type label (`transaction`, `session`, ...,
    /// `other`), one entry per item.
    pub skipped: Vec<&'static str>,
    /// Cron monitor check-ins (`check_in` items), in the order sent.
    pub check_ins: Vec<partout_protocols::sentry::check_in::CheckIn>,
    /// Attachments within the size limit, compressed, in the order sent.
    pub attachments: Vec<super::attachments::NewAttachment>,
    /// Transactions, sessions and client reports, counted rather than
    /// stored (see `item_stats`).
    pub stats: super::item_stats::ItemStats,
    /// Structured log records (`log` items), in the order sent, for the
    /// log store (`sentry_logs`).
    pub logs: Vec<SentryLog>,
    /// Why log records were not read, one reason label each.
    pub log_errors: Vec<&'static str>,
}

/// The parts of a DSN that authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsnKey {
    pub public_key: String,
    pub project_id: u64,
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The envelope or event could not be read.
    #[error(transparent)]
    Sentry(#[from] SentryError),
    /// An event item over the size limit.
    #[error("event item larger than {limit} bytes")]
    EventTooLarge { limit: usize },
}

impl BodyError {
    /// A label for the reject counter.
    pub fn reason(&self) -> &'static str {
        match self {
            BodyError::Sentry(error) => error.reason(),
            BodyError::EventTooLarge { .. } => "event_too_large",
        }
    }

    /// Whether the body was refused for its size (413) rather than its
    /// content (400).
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            BodyError::EventTooLarge { .. }
                | BodyError::Sentry(
                    SentryError::EnvelopeTooLarge { .. } | SentryError::TooManyItems { .. }
                )
        )
    }
}

/// Reads an envelope body.
pub fn parse_envelope_body(body: &[u8], config: &ErrorsConfig) -> Result<Parsed, BodyError> {
    let envelope = parse_envelope(body, &config.envelope)?;
    let mut parsed = Parsed {
        header_event_id: envelope.header.event_id.clone(),
        sent_at_micros: envelope.header.sent_at_micros,
        dsn: envelope
            .header
            .dsn
            .as_deref()
            .and_then(|dsn| parse_dsn(dsn).ok())
            .map(|dsn| DsnKey {
                public_key: dsn.public_key,
                project_id: dsn.project_id,
            }),
        ..Parsed::default()
    };
    for skipped in &envelope.skipped {
        if skipped.kind == ItemType::Event {
            return Err(BodyError::EventTooLarge {
                limit: config.envelope.max_item_bytes,
            });
        }
        parsed.skipped.push(skipped.kind.label());
    }
    for item in &envelope.items {
        if super::items::read_item(&mut parsed, item, config) {
            continue;
        }
        if parsed.stats.take(item) {
            continue;
        }
        if item.header.kind == ItemType::Log {
            let batch = parse_log_item(item.payload, &LogLimits::default());
            parsed.logs.extend(batch.logs);
            parsed
                .log_errors
                .extend(batch.errors.iter().map(LogItemError::reason));
            continue;
        }
        if item.header.kind != ItemType::Event {
            parsed.skipped.push(item.header.kind.label());
            continue;
        }
        push_event(
            &mut parsed,
            normalize_event(item.payload, &config.normalize)?,
            item.payload,
        );
    }
    Ok(parsed)
}

/// Reads an old `store` body: one event as JSON.
pub fn parse_store_body(body: &[u8], config: &ErrorsConfig) -> Result<Parsed, BodyError> {
    if body.len() > config.envelope.max_item_bytes {
        return Err(BodyError::EventTooLarge {
            limit: config.envelope.max_item_bytes,
        });
    }
    let mut parsed = Parsed::default();
    push_event(&mut parsed, normalize_event(body, &config.normalize)?, body);
    Ok(parsed)
}

/// Keeps an error or message event; a transaction sent as an event
/// (`payload`) is counted like a transaction item.
fn push_event(parsed: &mut Parsed, event: Event, payload: &[u8]) {
    if event.event_type.as_deref() == Some("transaction") {
        parsed.stats.take_transaction(payload);
    } else {
        parsed.events.push(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use partout_protocols::sentry::envelope::EnvelopeLimits;

    fn fixture(name: &str) -> Vec<u8> {
        crate::errors::prepare::tests::fixture(name)
    }

    #[test]
    fn the_python_sdk_exception_envelope_has_one_event() {
        let parsed = parse_envelope_body(
            &fixture("sentry-envelope-exception.wire.gz"),
            &ErrorsConfig::default(),
        )
        .unwrap();
        assert_eq!(parsed.events.len(), 1);
        assert!(parsed.skipped.is_empty());
        assert_eq!(
            parsed.header_event_id.as_deref(),
            Some("81ff5a4fefb44611815cfe1e0a0a0800")
        );
        assert_eq!(parsed.sent_at_micros, Some(1_795_348_030_071_104));
        assert_eq!(parsed.dsn, None);
        let exception = &parsed.events[0].exceptions[0];
        assert_eq!(exception.kind.as_deref(), Some("PaymentDeclined"));
    }

    #[test]
    fn transactions_are_counted_not_refused() {
        let parsed = parse_envelope_body(
            &fixture("sentry-envelope-transaction.bin"),
            &ErrorsConfig::default(),
        )
        .unwrap();
        assert!(parsed.events.is_empty());
        assert!(parsed.skipped.is_empty());
        assert_eq!(parsed.stats.transactions.len(), 1);
        assert_eq!(parsed.stats.transactions[0].name, "POST /checkout");
        let store = parse_store_body(
            b"{\"type\":\"transaction\",\"transaction\":\"t\",\"start_timestamp\":1,\"timestamp\":2}",
            &ErrorsConfig::default(),
        )
        .unwrap();
        assert!(store.events.is_empty());
        assert_eq!(store.stats.transactions.len(), 1);
    }

    #[test]
    fn sessions_and_client_reports_are_counted_and_bad_ones_skipped() {
        let mut body = Vec::new();
        for name in [
            "sentry-envelope-session.bin",
            "sentry-envelope-sessions.bin",
            "sentry-envelope-client-report.bin",
        ] {
            body.extend_from_slice(&fixture(name));
        }
        // The items of the three envelopes (each header is `{}`) in one.
        let items: Vec<&[u8]> = body
            .split(|&byte| byte == b'\n')
            .filter(|line| !line.is_empty() && *line != b"{}")
            .collect();
        let mut envelope = b"{}\n".to_vec();
        for line in items {
            envelope.extend_from_slice(line);
            envelope.push(b'\n');
        }
        envelope.extend_from_slice(b"{\"type\":\"session\"}\n{\"sid\":\"nope\"}\n");
        envelope.extend_from_slice(b"{\"type\":\"transaction\"}\n{}\n");
        let parsed = parse_envelope_body(&envelope, &ErrorsConfig::default()).unwrap();
        assert!(parsed.skipped.is_empty());
        assert_eq!(parsed.stats.sessions.len(), 1);
        assert_eq!(parsed.stats.aggregates.len(), 1);
        assert_eq!(parsed.stats.client_reports.len(), 1);
        assert_eq!(
            parsed.stats.invalid.iter().collect::<Vec<_>>(),
            [(&"bad_session", &1), (&"bad_transaction", &1)]
        );
    }

    #[test]
    fn every_other_item_type_is_skipped_by_label() {
        let mut body = b"{\"dsn\":\"http://0123456789abcdef0123456789abcdef@h:9/42\"}\n".to_vec();
        for kind in [
            "session",
            "sessions",
            "attachment",
            "check_in",
            "client_report",
            "log",
            "replay_video",
        ] {
            body.extend_from_slice(format!("{{\"type\":\"{kind}\"}}\n{{}}\n").as_bytes());
        }
        body.extend_from_slice(b"{\"type\":\"event\"}\n{\"message\":\"hi\"}\n");
        let parsed = parse_envelope_body(&body, &ErrorsConfig::default()).unwrap();
        assert_eq!(parsed.events.len(), 1);
        assert_eq!(parsed.skipped, ["check_in", "other"]);
        assert_eq!(parsed.log_errors, ["bad_log_payload"]);
        assert_eq!(parsed.stats.sessions.len(), 0);
        assert_eq!(parsed.stats.invalid.get("bad_session"), Some(&2));
        assert_eq!(
            parsed.dsn,
            Some(DsnKey {
                public_key: "0123456789abcdef0123456789abcdef".to_owned(),
                project_id: 42
            })
        );
    }

    #[test]
    fn bad_and_oversized_events_fail_the_request() {
        let config = ErrorsConfig::default();
        let error = parse_envelope_body(b"{}\n{\"type\":\"event\"}\n[1]\n", &config).unwrap_err();
        assert_eq!(error.reason(), "bad_event");
        assert!(!error.is_too_large());
        let small = ErrorsConfig {
            envelope: EnvelopeLimits {
                max_item_bytes: 4,
                ..EnvelopeLimits::default()
            },
            ..config
        };
        let body = b"{}\n{\"type\":\"attachment\"}\n123456\n{\"type\":\"event\"}\n{}\n";
        let parsed = parse_envelope_body(body, &small).unwrap();
        assert_eq!(parsed.skipped, ["attachment"]);
        let body = b"{}\n{\"type\":\"event\"}\n{\"message\":\"long\"}\n";
        let error = parse_envelope_body(body, &small).unwrap_err();
        assert_eq!(error, BodyError::EventTooLarge { limit: 4 });
        assert!(error.is_too_large());
        assert!(parse_store_body(b"{\"message\":\"long\"}", &small)
            .unwrap_err()
            .is_too_large());
        assert_eq!(
            parse_envelope_body(b"", &config).unwrap_err().reason(),
            "empty_envelope"
        );
    }

    #[test]
    fn store_bodies_are_one_event() {
        let parsed = parse_store_body(
            b"{\"message\":\"disk full\",\"level\":\"warning\"}",
            &ErrorsConfig::default(),
        )
        .unwrap();
        assert_eq!(parsed.events.len(), 1);
        assert_eq!(
            parse_store_body(b"nope", &ErrorsConfig::default())
                .unwrap_err()
                .reason(),
            "bad_event"
        );
    }
}
