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
        }
    }
}
