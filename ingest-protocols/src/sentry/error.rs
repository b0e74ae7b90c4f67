//! Why Sentry input was refused.
//!
//! A type apart from [`crate::ParseError`]: that one describes one bad line
//! of a line protocol, while these describe a whole HTTP request (envelope
//! framing, limits, authentication) and carry details, such as the JSON
//! parser's position, that make a rejected SDK request debuggable.

/// Why an envelope, an event or an auth value was refused. `PartialEq` so
/// tests can compare, `Clone` so callers can keep samples for rate-limited
/// logging. Details never echo client data back, only positions and limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SentryError {
    /// The body is larger than the configured envelope limit.
    #[error("envelope larger than {limit} bytes")]
    EnvelopeTooLarge { limit: usize },
    /// An empty body, or one without an envelope header line.
    #[error("envelope is empty")]
    EmptyEnvelope,
    /// The first line is not a JSON object.
    #[error("invalid envelope header: {detail}")]
    BadEnvelopeHeader { detail: String },
    /// An item header that is not a JSON object with a string `type` and,
    /// when present, a non-negative integer `length`. Fatal for the rest of
    /// the envelope: without a header, where the payload ends is unknown.
    #[error("invalid item header: {detail}")]
    BadItemHeader { detail: String },
    /// An item `length` that runs past the end of the body.
    #[error("item declares {length} bytes but only {available} remain")]
    TruncatedItem { length: usize, available: usize },
    /// Bytes other than `\n` right after a payload of explicit `length`:
    /// the declared length is wrong, so the rest cannot be framed.
    #[error("missing newline after item payload")]
    MissingNewline,
    /// More items than the configured limit.
    #[error("more than {limit} items")]
    TooManyItems { limit: usize },
    /// One item's payload is larger than the configured limit; the item is
    /// skipped, the others are kept.
    #[error("item larger than {limit} bytes")]
    ItemTooLarge { limit: usize },
    /// An event payload that is not a JSON object.
    #[error("invalid event: {detail}")]
    BadEvent { detail: String },
    /// A `transaction` payload without a JSON object, a start or an end.
    #[error("invalid transaction: {detail}")]
    BadTransaction { detail: String },
    /// A `session` or `sessions` payload without its required fields
    /// (a UUID `sid`, `started` and `attrs.release`).
    #[error("invalid session: {detail}")]
    BadSession { detail: String },
    /// A `client_report` payload that is not a JSON object.
    #[error("invalid client report: {detail}")]
    BadClientReport { detail: String },
    /// An `X-Sentry-Auth` header or auth query string without a usable key.
    #[error("invalid sentry auth: {detail}")]
    BadAuth { detail: &'static str },
    /// A DSN that is not `http(s)://<public_key>@<host>[:port]/<project_id>`.
    #[error("invalid DSN: {detail}")]
    BadDsn { detail: &'static str },
}

impl SentryError {
    /// A short, stable, lowercase label for counters (`reason="..."`).
    pub fn reason(&self) -> &'static str {
        match self {
            SentryError::EnvelopeTooLarge { .. } => "envelope_too_large",
            SentryError::EmptyEnvelope => "empty_envelope",
            SentryError::BadEnvelopeHeader { .. } => "bad_envelope_header",
            SentryError::BadItemHeader { .. } => "bad_item_header",
            SentryError::TruncatedItem { .. } => "truncated_item",
            SentryError::MissingNewline => "missing_newline",
            SentryError::TooManyItems { .. } => "too_many_items",
            SentryError::ItemTooLarge { .. } => "item_too_large",
            SentryError::BadEvent { .. } => "bad_event",
            SentryError::BadTransaction { .. } => "bad_transaction",
            SentryError::BadSession { .. } => "bad_session",
            SentryError::BadClientReport { .. } => "bad_client_report",
            SentryError::BadAuth { .. } => "bad_auth",
            SentryError::BadDsn { .. } => "bad_dsn",
        }
    }
}
