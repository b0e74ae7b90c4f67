//! The Sentry envelope: the body SDKs POST to `/api/<project_id>/envelope/`
//! (after any `Content-Encoding` was undone by the caller).
//!
//! ```text
//! {"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","sent_at":"...","sdk":{...}}\n
//! {"type":"event","length":41}\n
//! {"message":"hello","level":"info"}  ...\n      <- exactly 41 bytes
//! {"type":"attachment","length":10,"filename":"a.txt"}\n
//! 0123\n56789\n                                  <- may contain newlines
//! {"type":"session"}\n
//! {"sid":"...","status":"ok"}\n                 <- no length: up to the next \n or EOF
//! ```
//! The first line is the envelope header, a JSON object. Each item is a
//! header line (a JSON object with `type` and an optional `length`) and a
//! payload. With `length`, the payload is exactly that many bytes and is
//! followed by `\n` or the end of the body; without it, the payload runs to
//! the next `\n` or the end. Blank lines where an item header is expected
//! are skipped, so trailing newlines are harmless.
//!
//! Spec: <https://develop.sentry.dev/sdk/data-model/envelopes/>.
//!
//! Leniency follows framing: a bad item header or a wrong `length` leaves
//! no way to find the next item, so it fails the whole envelope, as Sentry
//! does; an item that is merely too large is skipped with its reason and
//! the others are kept. Unknown item types are kept as
//! [`ItemType::Other`], never an error: SDKs add types faster than
//! servers learn them.

use serde_json::{Map, Value};

use crate::sentry::event::{self, Sdk};
use crate::sentry::value::{string, truncate};
use crate::sentry::{timestamp, SentryError};

/// Item headers longer than this are refused: real ones are under 200
/// bytes, and the bound keeps a hostile header from costing a full JSON
/// parse of the body.
const MAX_ITEM_HEADER_BYTES: usize = 16 * 1024;
/// Envelope headers carry the trace context too, so they get more room.
const MAX_ENVELOPE_HEADER_BYTES: usize = 64 * 1024;
/// Longest header string kept (types, file names, content types).
const MAX_HEADER_CHARS: usize = 200;

/// Size bounds for one envelope; the caller picks them from its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeLimits {
    /// The whole decompressed body.
    pub max_envelope_bytes: usize,
    /// One item's payload; larger items are skipped.
    pub max_item_bytes: usize,
    /// Items per envelope, counting skipped ones.
    pub max_items: usize,
}

impl Default for EnvelopeLimits {
    /// Sized for a small appliance: room for an event with a screenshot
    /// attachment, but far below Sentry's own 100 MiB.
    fn default() -> Self {
        EnvelopeLimits {
            max_envelope_bytes: 20 * 1024 * 1024,
            max_item_bytes: 10 * 1024 * 1024,
            max_items: 1000,
        }
    }
}

/// A parsed envelope, borrowing payloads from the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<'a> {
    pub header: EnvelopeHeader,
    /// The items kept, in the order sent.
    pub items: Vec<Item<'a>>,
    /// Items skipped for their size, with the reason, in the order sent.
    pub skipped: Vec<SkippedItem>,
}

impl<'a> Envelope<'a> {
    /// Items of one type, in the order sent.
    pub fn items_of(&self, kind: ItemType) -> impl Iterator<Item = &Item<'a>> + '_ {
        self.items
            .iter()
            .filter(move |item| item.header.kind == kind)
    }
}

/// The envelope's first line. Every field is optional in the protocol.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnvelopeHeader {
    /// The event's id as 32 lowercase hex digits, when the envelope carries
    /// an event; use it when the event payload has none.
    pub event_id: Option<String>,
    /// The DSN, which browser SDKs sending through a tunnel put here; parse
    /// it with [`crate::sentry::auth::parse_dsn`].
    pub dsn: Option<String>,
    /// When the SDK sent the envelope, in Unix microseconds: the caller
    /// compares it with its own clock to correct event timestamps from a
    /// device whose clock is off.
    pub sent_at_micros: Option<i64>,
    pub sdk: Option<Sdk>,
}

/// What an item holds, from its header's `type`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ItemType {
    /// An error or message event (JSON).
    Event,
    /// A performance transaction (JSON, event-shaped).
    Transaction,
    /// One release-health session update (JSON).
    Session,
    /// Pre-aggregated session counts (JSON).
    Sessions,
    /// A file attached to the event in the same envelope (any bytes).
    Attachment,
    /// A cron monitor check-in (JSON).
    CheckIn,
    /// The SDK's count of events it dropped, and why (JSON).
    ClientReport,
    /// Structured log records (JSON, `{"items": [...]}`).
    Log,
    /// Any other type, with its name (cut to 200 characters): profiles,
    /// replays, spans, feedback and whatever SDKs add next.
    Other(String),
}

impl ItemType {
    /// The type from an item header's `type` value.
    pub fn from_name(name: &str) -> ItemType {
        match name {
            "event" => ItemType::Event,
            "transaction" => ItemType::Transaction,
            "session" => ItemType::Session,
            "sessions" => ItemType::Sessions,
            "attachment" => ItemType::Attachment,
            "check_in" => ItemType::CheckIn,
            "client_report" => ItemType::ClientReport,
            "log" => ItemType::Log,
            other => ItemType::Other(truncate(other, MAX_HEADER_CHARS)),
        }
    }

    /// The type's name as SDKs write it (an [`ItemType::Other`] keeps its
    /// own).
    pub fn name(&self) -> &str {
        match self {
            ItemType::Other(name) => name,
            known => known.label(),
        }
    }

    /// A bounded label for partout's own counters: the known names, and
    /// `other` for every other type, whatever the client sent.
    pub fn label(&self) -> &'static str {
        match self {
            ItemType::Event => "event",
            ItemType::Transaction => "transaction",
            ItemType::Session => "session",
            ItemType::Sessions => "sessions",
            ItemType::Attachment => "attachment",
            ItemType::CheckIn => "check_in",
            ItemType::ClientReport => "client_report",
            ItemType::Log => "log",
            ItemType::Other(_) => "other",
        }
    }
}

/// An item's header line, the fields partout uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemHeader {
    pub kind: ItemType,
    /// The explicit payload length, when the header had one.
    pub length: Option<usize>,
    pub content_type: Option<String>,
    /// Attachments: the file name.
    pub filename: Option<String>,
    /// Attachments: `event.attachment` (default), `event.minidump`, ...
    pub attachment_type: Option<String>,
    /// Logs: how many records the payload holds.
    pub item_count: Option<u64>,
}

/// One item, its payload borrowed from the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item<'a> {
    pub header: ItemHeader,
    pub payload: &'a [u8],
}

/// An item that was not kept, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedItem {
    pub kind: ItemType,
    pub error: SentryError,
}

/// Splits a decompressed envelope body into its header and items.
pub fn parse_envelope<'a>(
    body: &'a [u8],
    limits: &EnvelopeLimits,
) -> Result<Envelope<'a>, SentryError> {
    if body.len() > limits.max_envelope_bytes {
        return Err(SentryError::EnvelopeTooLarge {
            limit: limits.max_envelope_bytes,
        });
    }
    let (header_line, mut rest) = split_line(body);
    if header_line.iter().all(u8::is_ascii_whitespace) {
        return Err(SentryError::EmptyEnvelope);
    }
    let header = parse_envelope_header(header_line)?;
    let mut envelope = Envelope {
        header,
        items: Vec::new(),
        skipped: Vec::new(),
    };
    loop {
        let (line, after_line) = split_line(rest);
        if line.iter().all(u8::is_ascii_whitespace) {
            if after_line.is_empty() {
                return Ok(envelope);
            }
            rest = after_line;
            continue;
        }
        if envelope.items.len() + envelope.skipped.len() >= limits.max_items {
            return Err(SentryError::TooManyItems {
                limit: limits.max_items,
            });
        }
        let item_header = parse_item_header(line)?;
        let (payload, after_payload) = match item_header.length {
            Some(length) => split_exact(after_line, length)?,
            None => split_line(after_line),
        };
        rest = after_payload;
        if payload.len() > limits.max_item_bytes {
            envelope.skipped.push(SkippedItem {
                kind: item_header.kind,
                error: SentryError::ItemTooLarge {
                    limit: limits.max_item_bytes,
                },
            });
        } else {
            envelope.items.push(Item {
                header: item_header,
                payload,
            });
        }
    }
}

/// The bytes up to the first `\n` (not included) and the bytes after it;
/// the whole input and nothing when there is no `\n`.
fn split_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&byte| byte == b'\n') {
        Some(end) => (
            bytes.get(..end).unwrap_or_default(),
            bytes.get(end + 1..).unwrap_or_default(),
        ),
        None => (bytes, &[]),
    }
}

/// A payload of explicit length and the bytes after its closing `\n`.
fn split_exact(bytes: &[u8], length: usize) -> Result<(&[u8], &[u8]), SentryError> {
    let truncated = SentryError::TruncatedItem {
        length,
        available: bytes.len(),
    };
    let payload = bytes.get(..length).ok_or(truncated)?;
    let after = bytes.get(length..).unwrap_or_default();
    match after.split_first() {
        None => Ok((payload, after)),
        Some((b'\n', rest)) => Ok((payload, rest)),
        // A `\r\n` line end, from an SDK or proxy that rewrote newlines.
        Some((b'\r', rest)) if rest.first() == Some(&b'\n') => {
            Ok((payload, rest.get(1..).unwrap_or_default()))
        }
        Some(_) => Err(SentryError::MissingNewline),
    }
}

fn json_object(line: &[u8], max_bytes: usize) -> Result<Map<String, Value>, String> {
    if line.len() > max_bytes {
        return Err(format!("longer than {max_bytes} bytes"));
    }
    match serde_json::from_slice(line) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(String::from("not a JSON object")),
        Err(error) => Err(error.to_string()),
    }
}

fn parse_envelope_header(line: &[u8]) -> Result<EnvelopeHeader, SentryError> {
    let map = json_object(line, MAX_ENVELOPE_HEADER_BYTES)
        .map_err(|detail| SentryError::BadEnvelopeHeader { detail })?;
    Ok(EnvelopeHeader {
        event_id: map.get("event_id").and_then(event::event_id),
        dsn: string(map.get("dsn"), MAX_HEADER_CHARS),
        sent_at_micros: map.get("sent_at").and_then(timestamp::from_json),
        sdk: event::sdk(map.get("sdk")),
    })
}

fn parse_item_header(line: &[u8]) -> Result<ItemHeader, SentryError> {
    let bad = |detail: &str| SentryError::BadItemHeader {
        detail: detail.to_owned(),
    };
    let map = json_object(line, MAX_ITEM_HEADER_BYTES)
        .map_err(|detail| SentryError::BadItemHeader { detail })?;
    let kind = match map.get("type") {
        Some(Value::String(name)) if !name.is_empty() => ItemType::from_name(name),
        _ => return Err(bad("missing type")),
    };
    let length = match map.get("length") {
        None | Some(Value::Null) => None,
        Some(value) => {
            let length = value
                .as_u64()
                .ok_or_else(|| bad("length is not a non-negative integer"))?;
            // Beyond usize it cannot fit the body anyway; report it as
            // truncated through the same path as any other overlong length.
            Some(usize::try_from(length).unwrap_or(usize::MAX))
        }
    };
    Ok(ItemHeader {
        kind,
        length,
        content_type: string(map.get("content_type"), MAX_HEADER_CHARS),
        filename: string(map.get("filename"), MAX_HEADER_CHARS),
        attachment_type: string(map.get("attachment_type"), MAX_HEADER_CHARS),
        item_count: map.get("item_count").and_then(Value::as_u64),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn parse(body: &[u8]) -> Result<Envelope<'_>, SentryError> {
        parse_envelope(body, &EnvelopeLimits::default())
    }

    #[test]
    fn header_only() {
        let envelope = parse(b"{\"event_id\":\"9ec79c33-ec99-42ab-8353-589fcb2e04dc\",\"dsn\":\"http://k@h/1\",\"sent_at\":\"2023-11-14T22:13:20Z\",\"sdk\":{\"name\":\"sentry.rust\",\"version\":\"0.34.0\"}}").unwrap();
        assert_eq!(
            envelope.header,
            EnvelopeHeader {
                event_id: Some("9ec79c33ec9942ab8353589fcb2e04dc".to_owned()),
                dsn: Some("http://k@h/1".to_owned()),
                sent_at_micros: Some(1_700_000_000_000_000),
                sdk: Some(Sdk {
                    name: Some("sentry.rust".to_owned()),
                    version: Some("0.34.0".to_owned()),
                }),
            }
        );
        assert!(envelope.items.is_empty());
        assert_eq!(parse(b"{}\n").unwrap().header, EnvelopeHeader::default());
    }

    #[test]
    fn explicit_length_payloads_may_hold_newlines() {
        let body = b"{}\n{\"type\":\"attachment\",\"length\":7,\"filename\":\"a.txt\"}\nab\n\ncd\n\n{\"type\":\"event\",\"length\":2}\n{}";
        let envelope = parse(body).unwrap();
        assert_eq!(envelope.items.len(), 2);
        assert_eq!(envelope.items[0].payload, b"ab\n\ncd\n");
        assert_eq!(envelope.items[0].header.filename.as_deref(), Some("a.txt"));
        assert_eq!(envelope.items[1].header.kind, ItemType::Event);
        assert_eq!(envelope.items[1].payload, b"{}");
    }

    #[test]
    fn implicit_length_runs_to_newline_or_end() {
        let body = b"{}\n{\"type\":\"session\"}\n{\"sid\":1}\n{\"type\":\"event\"}\n{\"x\":2}";
        let envelope = parse(body).unwrap();
        let payloads: Vec<_> = envelope.items.iter().map(|item| item.payload).collect();
        assert_eq!(payloads, [&b"{\"sid\":1}"[..], b"{\"x\":2}"]);
        let empty = parse(b"{}\n{\"type\":\"event\"}\n").unwrap();
        assert_eq!(empty.items[0].payload, b"");
    }

    #[test]
    fn blank_lines_and_crlf_are_tolerated() {
        let body = b"{}\r\n\r\n{\"type\":\"event\",\"length\":2}\r\n{}\r\n\n\n";
        let envelope = parse(body).unwrap();
        assert_eq!(envelope.items.len(), 1);
        assert_eq!(envelope.items[0].payload, b"{}");
    }

    #[test]
    fn every_item_type() {
        let mut body = b"{}\n".to_vec();
        for name in [
            "event",
            "transaction",
            "session",
            "sessions",
            "attachment",
            "check_in",
            "client_report",
            "log",
            "replay_video",
        ] {
            body.extend_from_slice(format!("{{\"type\":\"{name}\"}}\n{{}}\n").as_bytes());
        }
        let envelope = parse(&body).unwrap();
        let names: Vec<_> = envelope
            .items
            .iter()
            .map(|item| item.header.kind.name())
            .collect();
        assert_eq!(
            names,
            [
                "event",
                "transaction",
                "session",
                "sessions",
                "attachment",
                "check_in",
                "client_report",
                "log",
                "replay_video"
            ]
        );
        assert_eq!(envelope.items[8].header.kind.label(), "other");
        assert_eq!(envelope.items_of(ItemType::Log).count(), 1);
    }

    #[test]
    fn oversized_items_are_skipped_and_the_rest_kept() {
        let limits = EnvelopeLimits {
            max_item_bytes: 4,
            ..EnvelopeLimits::default()
        };
        let body = b"{}\n{\"type\":\"attachment\",\"length\":6}\n123456\n{\"type\":\"event\"}\n{\"a\":1}\n{\"type\":\"event\"}\n{}\n";
        let envelope = parse_envelope(body, &limits).unwrap();
        assert_eq!(envelope.items.len(), 1);
        assert_eq!(envelope.items[0].payload, b"{}");
        assert_eq!(
            envelope.skipped,
            [
                SkippedItem {
                    kind: ItemType::Attachment,
                    error: SentryError::ItemTooLarge { limit: 4 },
                },
                SkippedItem {
                    kind: ItemType::Event,
                    error: SentryError::ItemTooLarge { limit: 4 },
                },
            ]
        );
    }

    #[test]
    fn envelope_limits() {
        let limits = EnvelopeLimits {
            max_envelope_bytes: 10,
            ..EnvelopeLimits::default()
        };
        assert_eq!(
            parse_envelope(&[b' '; 11], &limits).unwrap_err(),
            SentryError::EnvelopeTooLarge { limit: 10 }
        );
        let limits = EnvelopeLimits {
            max_items: 1,
            ..EnvelopeLimits::default()
        };
        let body = b"{}\n{\"type\":\"a\"}\n\n{\"type\":\"b\"}\n\n";
        assert_eq!(
            parse_envelope(body, &limits).unwrap_err(),
            SentryError::TooManyItems { limit: 1 }
        );
    }

    #[test]
    fn framing_errors_say_why() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty_envelope"),
            (b"\n{\"type\":\"event\"}\n{}", "empty_envelope"),
            (b"[1]\n", "bad_envelope_header"),
            (b"{\"event_id\":\n", "bad_envelope_header"),
            (b"{}\nnot json\n", "bad_item_header"),
            (b"{}\n{\"length\":2}\n{}", "bad_item_header"),
            (b"{}\n{\"type\":7}\n{}", "bad_item_header"),
            (
                b"{}\n{\"type\":\"event\",\"length\":-1}\n",
                "bad_item_header",
            ),
            (
                b"{}\n{\"type\":\"event\",\"length\":\"2\"}\n{}",
                "bad_item_header",
            ),
            (
                b"{}\n{\"type\":\"event\",\"length\":5}\n{}",
                "truncated_item",
            ),
            (
                b"{}\n{\"type\":\"event\",\"length\":99999999999999999999}\n{}",
                "bad_item_header",
            ),
            (
                b"{}\n{\"type\":\"event\",\"length\":18446744073709551615}\n{}",
                "truncated_item",
            ),
            (
                b"{}\n{\"type\":\"event\",\"length\":1}\n{}\n",
                "missing_newline",
            ),
        ];
        for (body, reason) in cases {
            let error = parse(body).unwrap_err();
            assert_eq!(error.reason(), *reason, "{}", String::from_utf8_lossy(body));
            assert!(!error.to_string().is_empty());
        }
        assert_eq!(
            parse(b"{}\n{\"type\":\"event\",\"length\":5}\n{}").unwrap_err(),
            SentryError::TruncatedItem {
                length: 5,
                available: 2
            }
        );
    }

    #[test]
    fn hostile_item_headers_are_bounded() {
        let mut body = b"{}\n{\"type\":\"event\",\"pad\":\"".to_vec();
        body.extend(std::iter::repeat_n(b'x', MAX_ITEM_HEADER_BYTES));
        body.extend_from_slice(b"\"}\n{}");
        assert_eq!(parse(&body).unwrap_err().reason(), "bad_item_header");
    }
}
