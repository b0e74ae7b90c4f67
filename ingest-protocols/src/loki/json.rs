//! The JSON push body:
//!
//! ```text
//! {"streams":[{"stream":{"job":"fluent-bit"},
//!              "values":[["1795346300981000000","line"],
//!                        ["1795346301000000000","line",{"trace_id":"4bf9"}]]}]}
//! ```
//!
//! Timestamps are strings of Unix nanoseconds; a JSON integer is taken
//! too. A missing `streams`, `stream` or `values` is empty, and members
//! the push API does not define are ignored, as Loki's decoder does.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::error::Category;

use super::{normalize_labels, LokiEntry, LokiStream};
use crate::ParseError;

/// Parses a JSON push body, after any `Content-Encoding` was undone.
pub fn parse_push_json(body: &[u8]) -> Result<Vec<LokiStream>, ParseError> {
    // Replacing invalid UTF-8 first keeps such lines instead of refusing
    // the body, which is what serde_json would do.
    let text = String::from_utf8_lossy(body);
    let push: PushBody = serde_json::from_str(&text).map_err(|error| ParseError::BadPushJson {
        what: match error.classify() {
            Category::Syntax => "syntax error",
            Category::Data => "not the push shape",
            Category::Eof => "body ends early",
            Category::Io => "read error",
        },
        line: error.line(),
        column: error.column(),
    })?;
    push.streams
        .into_iter()
        .map(|stream| {
            let entries = stream
                .values
                .into_iter()
                .map(|entry| {
                    Ok(LokiEntry {
                        timestamp_unix_nanos: entry.timestamp.0.ok_or(ParseError::BadTimestamp)?,
                        line: entry.line,
                        metadata: entry.metadata.0,
                    })
                })
                .collect::<Result<_, ParseError>>()?;
            Ok(LokiStream {
                labels: normalize_labels(stream.stream.0)?,
                entries,
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct PushBody {
    #[serde(default)]
    streams: Vec<StreamBody>,
}

#[derive(Deserialize)]
struct StreamBody {
    #[serde(default)]
    stream: Pairs,
    #[serde(default)]
    values: Vec<EntryBody>,
}

/// `["<ns>", "<line>"]` or `["<ns>", "<line>", {metadata}]`.
struct EntryBody {
    timestamp: Timestamp,
    line: String,
    metadata: Pairs,
}

impl<'de> Deserialize<'de> for EntryBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<EntryBody, D::Error> {
        deserializer.deserialize_seq(EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = EntryBody;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("[timestamp, line] or [timestamp, line, metadata]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EntryBody, A::Error> {
        let timestamp = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let line = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        let metadata = seq.next_element()?.unwrap_or_default();
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(4, &self));
        }
        Ok(EntryBody {
            timestamp,
            line,
            metadata,
        })
    }
}

/// Unix nanoseconds, or `None` for a string or number that is not a
/// non-negative integer: refused after parsing, as
/// [`ParseError::BadTimestamp`] rather than a position in the JSON.
struct Timestamp(Option<i64>);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        deserializer.deserialize_any(TimestampVisitor)
    }
}

struct TimestampVisitor;

impl Visitor<'_> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Unix nanoseconds as a string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
        Ok(Timestamp(
            text.parse::<i64>().ok().filter(|nanos| *nanos >= 0),
        ))
    }

    fn visit_i64<E: de::Error>(self, nanos: i64) -> Result<Timestamp, E> {
        Ok(Timestamp(Some(nanos).filter(|nanos| *nanos >= 0)))
    }

    fn visit_u64<E: de::Error>(self, nanos: u64) -> Result<Timestamp, E> {
        Ok(Timestamp(i64::try_from(nanos).ok()))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Timestamp, E> {
        Ok(Timestamp(None))
    }
}

/// A JSON object of strings, as pairs in the order sent, so a name given
/// twice is seen (a map would keep one silently). `null` is empty.
#[derive(Default)]
struct Pairs(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Pairs, D::Error> {
        deserializer.deserialize_any(PairsVisitor)
    }
}

struct PairsVisitor;

impl<'de> Visitor<'de> for PairsVisitor {
    type Value = Pairs;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object of strings")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Pairs, E> {
        Ok(Pairs::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
        let mut pairs = Vec::new();
        while let Some(pair) = map.next_entry()? {
            pairs.push(pair);
        }
        Ok(Pairs(pairs))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn entry(nanos: i64, line: &str, metadata: &[(&str, &str)]) -> LokiEntry {
        LokiEntry {
            timestamp_unix_nanos: nanos,
            line: line.to_owned(),
            metadata: owned(metadata),
        }
    }

    #[test]
    fn fluent_bit_body() {
        // Fluent Bit's `loki` output, `line_format json`, labels from
        // `labels job=fluent-bit` and `auto_kubernetes_labels`.
        let body = br#"{"streams":[{"stream":{"job":"fluent-bit","namespace":"shop","container":"api"},"values":[["1795346300981000000","{\"log\":\"GET /cart 200\\n\",\"stream\":\"stdout\"}"],["1795346301002000000","{\"log\":\"GET /pay 500\\n\",\"stream\":\"stderr\"}"]]}]}"#;
        let streams = parse_push_json(body).unwrap();
        assert_eq!(
            streams,
            [LokiStream {
                labels: owned(&[
                    ("container", "api"),
                    ("job", "fluent-bit"),
                    ("namespace", "shop")
                ]),
                entries: vec![
                    entry(
                        1_795_346_300_981_000_000,
                        r#"{"log":"GET /cart 200\n","stream":"stdout"}"#,
                        &[]
                    ),
                    entry(
                        1_795_346_301_002_000_000,
                        r#"{"log":"GET /pay 500\n","stream":"stderr"}"#,
                        &[]
                    ),
                ],
            }]
        );
    }

    #[test]
    fn vector_body_with_structured_metadata() {
        // Vector's `loki` sink with `encoding.codec = "text"`,
        // `compression = "none"` and `structured_metadata` set.
        let body = br#"{"streams":[{"stream":{"source":"vector","host":"web-1"},"values":[["1795346300981000000","payment failed",{"trace_id":"4bf92f3577b34da6","user":"42"}]]},{"stream":{"source":"vector","host":"web-2"},"values":[]}]}"#;
        let streams = parse_push_json(body).unwrap();
        assert_eq!(streams.len(), 2);
        assert_eq!(
            streams[0].entries,
            [entry(
                1_795_346_300_981_000_000,
                "payment failed",
                &[("trace_id", "4bf92f3577b34da6"), ("user", "42")]
            )]
        );
        assert_eq!(
            streams[1].labels,
            owned(&[("host", "web-2"), ("source", "vector")])
        );
        assert!(streams[1].entries.is_empty());
    }

    #[test]
    fn lenient_shapes() {
        for body in ["{}", r#"{"streams":[]}"#, r#"{"streams":[],"extra":1}"#] {
            assert_eq!(parse_push_json(body.as_bytes()).unwrap(), []);
        }
        let streams =
            parse_push_json(br#"{"streams":[{"stream":null,"values":[[17,"a",null]]},{}]}"#)
                .unwrap();
        assert_eq!(streams[0].labels, []);
        assert_eq!(streams[0].entries, [entry(17, "a", &[])]);
        assert_eq!(streams[1].entries, []);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let streams = parse_push_json(
            b"{\"streams\":[{\"stream\":{\"a\":\"\xff\"},\"values\":[[\"1\",\"caf\xe9\"]]}]}",
        )
        .unwrap();
        assert_eq!(streams[0].labels, owned(&[("a", "\u{fffd}")]));
        assert_eq!(streams[0].entries[0].line, "caf\u{fffd}");
    }

    #[test]
    fn bad_timestamps_refuse_the_body() {
        for timestamp in [
            r#""-1""#,
            r#""1.5""#,
            r#""""#,
            "1.5",
            "-1",
            r#""99999999999999999999""#,
        ] {
            let body = format!(r#"{{"streams":[{{"stream":{{}},"values":[[{timestamp},"a"]]}}]}}"#);
            assert_eq!(
                parse_push_json(body.as_bytes()),
                Err(ParseError::BadTimestamp),
                "{timestamp}"
            );
        }
    }

    #[test]
    fn repeated_label_names_refuse_the_body() {
        assert_eq!(
            parse_push_json(br#"{"streams":[{"stream":{"a":"1","a":"2"},"values":[]}]}"#),
            Err(ParseError::BadLabels {
                what: "label name given twice"
            })
        );
    }

    #[test]
    fn shape_errors_give_a_position() {
        let cases: [(&[u8], &str, usize, usize); 5] = [
            (b"", "body ends early", 1, 0),
            (
                b"{\"streams\":[{\"values\":[[\"1\"]]}]}",
                "not the push shape",
                1,
                28,
            ),
            (
                b"{\"streams\":[{\"values\":[[\"1\",\"a\",{},1]]}]}",
                "not the push shape",
                1,
                37,
            ),
            (
                b"{\"streams\":[{\"stream\":{\"a\":1}}]}",
                "not the push shape",
                1,
                28,
            ),
            (b"{\"streams\":x}", "syntax error", 1, 12),
        ];
        for (body, what, line, column) in cases {
            assert_eq!(
                parse_push_json(body),
                Err(ParseError::BadPushJson { what, line, column }),
                "{}",
                body.escape_ascii()
            );
        }
    }
}
