//! The one error type of this crate.

/// Why some input was refused. `PartialEq` so tests can compare, `Clone` so
/// callers can keep samples for rate-limited logging.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// A frame grew past the configured limit before its delimiter arrived;
    /// it was skipped up to the next delimiter.
    #[error("frame longer than {limit} bytes")]
    FrameTooLong { limit: usize },
    /// An RFC 6587 octet count that is not a number in range.
    #[error("invalid octet count")]
    BadOctetCount,
    /// A line without the separator between name and value (`:` in StatsD,
    /// a space in carbon).
    #[error("missing value")]
    MissingValue,
    /// A StatsD line without `|type`.
    #[error("missing metric type")]
    MissingType,
    /// A StatsD type other than c, g, ms, h, d, s.
    #[error("unknown metric type")]
    BadType,
    /// A value that is not a number.
    #[error("value is not a number")]
    BadValue,
    /// NaN or an infinity: never stored, they would poison a series.
    #[error("value is NaN or infinite")]
    NonFinite,
    /// A sample rate outside (0, 1].
    #[error("sample rate must be a number in (0, 1]")]
    BadSampleRate,
    /// An empty name, or one with control characters or invalid UTF-8.
    #[error("invalid metric name")]
    BadName,
    /// A tag that is empty or not UTF-8.
    #[error("invalid tag")]
    BadTag,
    /// A timestamp that is not a non-negative integer.
    #[error("invalid timestamp")]
    BadTimestamp,
    /// Bytes that are not UTF-8 where the protocol needs text.
    #[error("not valid UTF-8")]
    NotUtf8,
    /// A line with more fields than the protocol has.
    #[error("unexpected extra field")]
    ExtraField,
    /// The stream ended inside a length-prefixed frame.
    #[error("stream ended inside a frame")]
    TruncatedFrame,
    /// A pickle opcode outside the plain-data subset: anything that would
    /// look up, call or build an object (GLOBAL, REDUCE, BUILD, ...), and
    /// containers carbon never sends (dicts, sets).
    #[error("pickle opcode {name} (0x{opcode:02x}) at byte {offset} is refused: only lists, tuples, strings and numbers are accepted")]
    PickleOpcode {
        opcode: u8,
        name: &'static str,
        offset: usize,
    },
    /// The pickle ended before its STOP opcode or inside an argument.
    #[error("pickle ends early (at byte {offset})")]
    PickleTruncated { offset: usize },
    /// A pickle that is not well formed: an argument that does not parse,
    /// an opcode without the stack it needs, an unknown memo key.
    #[error("malformed pickle at byte {offset}: {what}")]
    PickleMalformed { what: &'static str, offset: usize },
    /// A pickle past one of the unpickler's bounds (stack, memo, nesting,
    /// string length, points per message, decoded size).
    #[error("pickle exceeds the {what} limit of {limit}")]
    PickleTooLarge { what: &'static str, limit: usize },
    /// An item of a pickled batch that is not `(path, (timestamp, value))`.
    #[error("not a (path, (timestamp, value)) pair")]
    BadPoint,
    /// A JSON log line that is not valid JSON (it is kept as the message).
    #[error("not valid JSON")]
    BadJson,
    /// A JSON log line that is valid JSON but not an object.
    #[error("JSON value is not an object")]
    NotJsonObject,
    /// An Elasticsearch bulk action line that is not JSON, or not one
    /// object holding one action and its metadata object, or whose
    /// `_index` or `_id` has the wrong type or is empty.
    #[error("malformed bulk action line")]
    BadBulkAction,
    /// A bulk action line naming an action other than `index`, `create`,
    /// `update` and `delete`.
    #[error("unknown bulk action")]
    UnknownBulkAction,
    /// A bulk `index`, `create` or `update` with no source line before the
    /// end of the body.
    #[error("bulk action without its source line")]
    MissingBulkSource,
    /// A bulk `update` whose line has no `doc` object: scripted updates and
    /// bare upserts change stored documents, which a log store never does.
    #[error("bulk update without a partial doc")]
    BadBulkUpdate,
    /// A body whose snappy header announces more bytes than the caller
    /// allows; nothing was decompressed.
    #[error("decompressed body larger than {limit} bytes")]
    DecompressedTooLarge { limit: usize },
    /// A body that is not a valid snappy block.
    #[error("invalid snappy block")]
    BadSnappy,
    /// A protobuf message that does not decode: a truncated or overlong
    /// varint, a length past the end, a field of the wrong wire type.
    /// `offset` counts bytes of the decompressed message.
    #[error("malformed protobuf at byte {offset}: {what}")]
    BadProtobuf { what: &'static str, offset: usize },
    /// A Loki push body that is not JSON of the push shape. Only the
    /// position is kept: serde's messages quote client data.
    #[error("invalid push JSON at line {line}, column {column}: {what}")]
    BadPushJson {
        what: &'static str,
        line: usize,
        column: usize,
    },
    /// Stream labels that do not parse (`{name="value", ...}`), or that
    /// name a label twice or with an empty name.
    #[error("invalid stream labels: {what}")]
    BadLabels { what: &'static str },
}

impl ParseError {
    /// A short, stable, lowercase label for counters (`reason="..."`).
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::FrameTooLong { .. } => "frame_too_long",
            ParseError::BadOctetCount => "bad_octet_count",
            ParseError::MissingValue => "missing_value",
            ParseError::MissingType => "missing_type",
            ParseError::BadType => "bad_type",
            ParseError::BadValue => "bad_value",
            ParseError::NonFinite => "non_finite",
            ParseError::BadSampleRate => "bad_sample_rate",
            ParseError::BadName => "bad_name",
            ParseError::BadTag => "bad_tag",
            ParseError::BadTimestamp => "bad_timestamp",
            ParseError::NotUtf8 => "not_utf8",
            ParseError::ExtraField => "extra_field",
            ParseError::TruncatedFrame => "truncated_frame",
            ParseError::PickleOpcode { .. } => "pickle_opcode",
            ParseError::PickleTruncated { .. } => "pickle_truncated",
            ParseError::PickleMalformed { .. } => "pickle_malformed",
            ParseError::PickleTooLarge { .. } => "pickle_too_large",
            ParseError::BadPoint => "bad_point",
            ParseError::BadJson => "bad_json",
            ParseError::NotJsonObject => "not_json_object",
            ParseError::BadBulkAction => "bad_bulk_action",
            ParseError::UnknownBulkAction => "unknown_bulk_action",
            ParseError::MissingBulkSource => "missing_bulk_source",
            ParseError::BadBulkUpdate => "bad_bulk_update",
            ParseError::DecompressedTooLarge { .. } => "decompressed_too_large",
            ParseError::BadSnappy => "bad_snappy",
            ParseError::BadProtobuf { .. } => "bad_protobuf",
            ParseError::BadPushJson { .. } => "bad_push_json",
            ParseError::BadLabels { .. } => "bad_labels",
        }
    }
}
