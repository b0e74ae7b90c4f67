//! Loki's push API, `POST /loki/api/v1/push`, into [`LokiStream`]s: what
//! Promtail, Grafana Alloy, Vector, Fluent Bit and Docker's Loki driver
//! send, in either of its two encodings.
//!
//! ```text
//! Content-Type: application/json (Fluent Bit; Vector without compression)
//!   {"streams":[{"stream":{"app":"api","env":"prod"},
//!                "values":[["1795346300981000000","GET / 200"],
//!                          ["1795346301000000000","slow query",{"trace_id":"4bf9"}]]}]}
//!
//! Content-Type: application/x-protobuf (Promtail, Alloy; Vector by default):
//! one snappy block (not the framed format) holding
//!   PushRequest      { repeated StreamAdapter streams = 1; }
//!   StreamAdapter    { string labels = 1;              // {app="api", env="prod"}
//!                      repeated EntryAdapter entries = 2;
//!                      uint64 hash = 3; }                // ignored
//!   EntryAdapter     { Timestamp timestamp = 1; string line = 2;
//!                      repeated LabelPairAdapter structuredMetadata = 3; }
//!   LabelPairAdapter { string name = 1; string value = 2; }
//!   Timestamp        { int64 seconds = 1; int32 nanos = 2; }
//! ```
//!
//! A body is accepted or refused whole, as Loki does (it answers 400 for
//! the request): one stream's labels or one entry's timestamp that do not
//! parse refuse it all. What is kept:
//! - stream labels, sorted by name, as Loki keys streams by the sorted set;
//!   a name given twice, or an empty one, refuses the body;
//! - entries and their structured metadata in the order sent;
//! - timestamps as non-negative Unix nanoseconds, unchecked otherwise:
//!   which window to trust is the caller's policy, as for syslog;
//! - text with invalid UTF-8 replaced by U+FFFD, never refused: a log
//!   line is worth keeping even when its encoding is off.
//!
//! Memory is bounded by the input: the JSON body, whose size the caller
//! limits, and for protobuf the caller's `max_decompressed`. An entry
//! costs about 56 bytes plus its text and can be sent in as few as two
//! bytes of protobuf, so the caller sizes that limit with this factor in
//! mind.
//!
//! Specs: <https://grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs>,
//! `pkg/push/push.proto` in the Loki repository.

mod json;
mod labels;
mod protobuf;
#[cfg(test)]
mod tests;

pub use json::parse_push_json;
pub use labels::parse_labels;
pub use protobuf::{decode_push_request, parse_push_protobuf};

use crate::ParseError;

/// One stream: a label set and its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LokiStream {
    /// Sorted by name, each name once and non-empty; values as sent, empty
    /// ones included.
    pub labels: Vec<(String, String)>,
    /// In the order sent; Loki itself no longer requires them sorted.
    pub entries: Vec<LokiEntry>,
}

/// One log line of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LokiEntry {
    /// Unix nanoseconds, never negative.
    pub timestamp_unix_nanos: i64,
    /// The line as sent, trailing newline included if there was one.
    pub line: String,
    /// Structured metadata (Loki 3): per-line pairs kept apart from the
    /// stream labels so high-cardinality values such as trace ids do not
    /// make new streams. In the order sent; names may repeat.
    pub metadata: Vec<(String, String)>,
}

/// Sorts stream labels by name and refuses an empty name or one given
/// twice, as Loki's own validation does.
fn normalize_labels(
    mut labels: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, ParseError> {
    if labels.iter().any(|(name, _)| name.is_empty()) {
        return Err(ParseError::BadLabels {
            what: "empty label name",
        });
    }
    labels.sort_by(|left, right| left.0.cmp(&right.0));
    let repeated = labels
        .windows(2)
        .any(|pair| matches!(pair, [left, right] if left.0 == right.0));
    if repeated {
        return Err(ParseError::BadLabels {
            what: "label name given twice",
        });
    }
    Ok(labels)
}
