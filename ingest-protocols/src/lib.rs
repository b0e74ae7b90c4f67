//! Pure parsers for the wire protocols partout ingests: bytes in, protocol
//! values out.
//!
//! # Layout
//! - [`framing`]: splitting TCP byte streams into frames: newline-delimited,
//!   RFC 6587 octet counting as syslog senders use it, and 4-byte length
//!   prefixes as carbon's pickle protocol uses them.
//! - [`carbon`]: carbon plaintext points, with Graphite 1.1 tags.
//! - [`pickle`]: carbon's pickle protocol (batches from carbon-relay), read
//!   by a restricted unpickler that only builds plain data.
//! - [`statsd`]: StatsD and DogStatsD lines.
//! - [`syslog`]: one syslog message, RFC 5424 or RFC 3164 with the
//!   variants real senders emit; anything else is kept as a message.
//! - [`jsonlog`]: one JSON log line (structlog, loguru, pino, zap, Vector,
//!   Fluent Bit...) into timestamp, level, message, service, host,
//!   flattened fields and detected exception data.
//! - [`esbulk`]: Elasticsearch `_bulk` bodies (Vector, Fluent Bit,
//!   Filebeat, Logstash) into items in request order, each with its
//!   source document or the reason it was refused.
//! - [`loki`]: Loki push bodies (Promtail, Alloy, Vector, Fluent Bit),
//!   JSON or snappy-compressed protobuf, into labelled streams of lines.
//! - [`stacktrace`]: Python tracebacks and V8 stacks as loggers print
//!   them, read back into exceptions and frames.
//! - `timestamp`: calendar arithmetic and RFC 3339, shared by the log
//!   parsers; time is always Unix nanoseconds.
//! - [`gzip`]: gzip request bodies (RFC 1952), every member, inflated in
//!   one pass with the decoded size capped.
//! - [`text`]: a sender's bytes as text, invalid UTF-8 replaced, with a
//!   fast path for the valid text nearly every line is.
//! - [`sentry`]: Sentry envelopes, events, auth and DSNs, and issue
//!   grouping; it has its own error type for whole-request failures.
//! - [`error`]: the one error type; each variant has a stable `reason()`
//!   used as the label of partout's reject counters.
//!
//! Invariant: nothing here does I/O, reads a clock, or panics on any input.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod carbon;
pub mod error;
pub mod esbulk;
pub mod framing;
pub mod gzip;
pub mod jsonlog;
pub mod loki;
pub mod pickle;
pub mod sentry;
pub mod stacktrace;
pub mod statsd;
pub mod syslog;
pub mod text;
mod timestamp;

pub use error::ParseError;
