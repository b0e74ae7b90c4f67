//! A log line as a sender gave it, before any interpretation: what the
//! journal writes, what the index's document store keeps, and what a
//! search result is rebuilt from.
//!
//! Keeping the sender's bytes (not a parsed form) means Partout never drops
//! the raw line, replaying the journal re-runs the same pure parsers, and
//! the stored form compresses as well as the text itself.
//!
//! Encoding (all integers LEB128 varints, see [`crate::varint`]):
//! ```text
//! header byte: source (low 4 bits) | 0x10 truncated | 0x20 has sent time
//! zigzag(received_nanos) [zigzag(sent_nanos)]
//! context count, then per pair: len name, len value
//! len bytes
//! ```
//!
//! The text form ([`RawLog::encode_text`]) is the same layout with ASCII
//! varints, so a line whose bytes are UTF-8 encodes to a `str`. The index
//! stores that form: tantivy writes a stored text with one copy, but a
//! stored byte string one byte at a time (storing a line took 6.6% of the
//! indexing thread's time as bytes, 3.5% as text, in the logs benchmark).

use crate::varint::{put_ascii_varint, put_varint, unzigzag, zigzag, Reader};

/// Which protocol a line came in by, so it is read back with the same
/// parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// One syslog message (RFC 5424 or 3164), over UDP or TCP.
    Syslog = 1,
    /// One JSON object a line (TCP, `POST /api/v1/logs`, Elasticsearch bulk).
    JsonLine = 2,
    /// A Loki push entry: the line, with its stream labels in the context.
    Loki = 3,
}

impl Source {
    fn from_code(code: u8) -> Option<Source> {
        match code {
            1 => Some(Source::Syslog),
            2 => Some(Source::JsonLine),
            3 => Some(Source::Loki),
            _ => None,
        }
    }

    /// The name shown in results and used as the `/metrics` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Syslog => "syslog",
            Source::JsonLine => "json",
            Source::Loki => "loki",
        }
    }
}

const SOURCE_MASK: u8 = 0x0f;
const TRUNCATED: u8 = 0x10;
const HAS_SENT_TIME: u8 = 0x20;

/// One line as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLog {
    pub source: Source,
    /// Arrival time, Unix nanoseconds: the line's time when it has none,
    /// and the "now" its parser is run with, so a re-parse is identical.
    pub received_nanos: i64,
    /// A time the protocol gives outside the bytes (a Loki entry's).
    pub sent_nanos: Option<i64>,
    /// The line was cut at the configured size limit.
    pub truncated: bool,
    /// What the protocol says beside the bytes, as name/value pairs: Loki
    /// labels, the Elasticsearch index, the syslog sender's address.
    pub context: Vec<(String, String)>,
    pub bytes: Vec<u8>,
}

impl RawLog {
    /// A line with nothing but its bytes, cut to `max_len` bytes.
    pub fn new(source: Source, received_nanos: i64, bytes: &[u8], max_len: usize) -> RawLog {
        let truncated = bytes.len() > max_len;
        RawLog {
            source,
            received_nanos,
            sent_nanos: None,
            truncated,
            context: Vec::new(),
            bytes: bytes[..bytes.len().min(max_len)].to_vec(),
        }
    }

    pub fn with_context(mut self, name: &str, value: &str) -> RawLog {
        self.context.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Bytes held, roughly: what a queue of these costs in memory.
    pub fn weight(&self) -> usize {
        64 + self.bytes.len()
            + self
                .context
                .iter()
                .map(|(name, value)| name.len() + value.len() + 48)
                .sum::<usize>()
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_with(out, put_varint);
    }

    /// The line in the text form; `None` when its bytes are not UTF-8
    /// (those are stored in the binary form).
    pub fn encode_text(&self) -> Option<String> {
        let mut out = Vec::with_capacity(self.bytes.len() + 32);
        self.encode_with(&mut out, put_ascii_varint);
        // Everything but the line is ASCII or a `String` already.
        String::from_utf8(out).ok()
    }

    fn encode_with(&self, out: &mut Vec<u8>, put_varint: fn(&mut Vec<u8>, u64)) {
        let mut header = self.source as u8;
        if self.truncated {
            header |= TRUNCATED;
        }
        if self.sent_nanos.is_some() {
            header |= HAS_SENT_TIME;
        }
        out.push(header);
        put_varint(out, zigzag(self.received_nanos));
        if let Some(sent) = self.sent_nanos {
            put_varint(out, zigzag(sent));
        }
        put_varint(out, self.context.len() as u64);
        for (name, value) in &self.context {
            put_bytes(out, put_varint, name.as_bytes());
            put_bytes(out, put_varint, value.as_bytes());
        }
        put_bytes(out, put_varint, &self.bytes);
    }

    /// Reads one line written by [`RawLog::encode`] off `reader`; `None`
    /// on anything malformed (a torn journal tail, a foreign document).
    pub fn decode(reader: &mut Reader<'_>) -> Option<RawLog> {
        RawLog::decode_with(reader, Reader::varint)
    }

    /// Reads one line written by [`RawLog::encode_text`], which is all of
    /// `text`; `None` on anything malformed.
    pub fn decode_text(text: &str) -> Option<RawLog> {
        let mut reader = Reader::new(text.as_bytes());
        let line = RawLog::decode_with(&mut reader, Reader::ascii_varint)?;
        reader.is_done().then_some(line)
    }

    fn decode_with<'a>(
        reader: &mut Reader<'a>,
        varint: fn(&mut Reader<'a>) -> Option<u64>,
    ) -> Option<RawLog> {
        let header = reader.byte()?;
        let source = Source::from_code(header & SOURCE_MASK)?;
        let received_nanos = unzigzag(varint(reader)?);
        let sent_nanos = if header & HAS_SENT_TIME != 0 {
            Some(unzigzag(varint(reader)?))
        } else {
            None
        };
        let pairs = usize::try_from(varint(reader)?).ok()?;
        let mut context = Vec::with_capacity(pairs.min(64));
        for _ in 0..pairs {
            let name = text(reader, varint)?;
            let value = text(reader, varint)?;
            context.push((name, value));
        }
        let len = usize::try_from(varint(reader)?).ok()?;
        let bytes = reader.bytes(len)?.to_vec();
        Some(RawLog {
            source,
            received_nanos,
            sent_nanos,
            truncated: header & TRUNCATED != 0,
            context,
            bytes,
        })
    }

    /// The value of a context pair.
    pub fn context_value(&self, name: &str) -> Option<&str> {
        self.context
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

fn put_bytes(out: &mut Vec<u8>, put_varint: fn(&mut Vec<u8>, u64), bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn text<'a>(reader: &mut Reader<'a>, varint: fn(&mut Reader<'a>) -> Option<u64>) -> Option<String> {
    let len = usize::try_from(varint(reader)?).ok()?;
    String::from_utf8(reader.bytes(len)?.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_raw() -> impl Strategy<Value = RawLog> {
        (
            prop_oneof![
                Just(Source::Syslog),
                Just(Source::JsonLine),
                Just(Source::Loki)
            ],
            any::<i64>(),
            proptest::option::of(any::<i64>()),
            any::<bool>(),
            proptest::collection::vec((".{0,8}", ".{0,16}"), 0..4),
            proptest::collection::vec(any::<u8>(), 0..200),
        )
            .prop_map(
                |(source, received_nanos, sent_nanos, truncated, context, bytes)| RawLog {
                    source,
                    received_nanos,
                    sent_nanos,
                    truncated,
                    context,
                    bytes,
                },
            )
    }

    proptest! {
        #[test]
        fn encoding_round_trips(lines in proptest::collection::vec(arb_raw(), 0..5)) {
            let mut out = Vec::new();
            for line in &lines {
                line.encode(&mut out);
            }
            let mut reader = Reader::new(&out);
            for line in &lines {
                let decoded = RawLog::decode(&mut reader);
                prop_assert_eq!(decoded.as_ref(), Some(line));
            }
            prop_assert!(reader.is_done());
        }

        #[test]
        fn the_text_form_round_trips_when_the_line_is_utf8(line in arb_raw()) {
            match (line.encode_text(), std::str::from_utf8(&line.bytes)) {
                (Some(text), Ok(_)) => {
                    prop_assert_eq!(RawLog::decode_text(&text), Some(line));
                }
                (None, Err(_)) => {}
                (text, bytes) => prop_assert!(false, "text form {:?} for bytes {:?}", text, bytes),
            }
        }

        #[test]
        fn garbage_text_never_panics(text in ".{0,300}") {
            let _ = RawLog::decode_text(&text);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut reader = Reader::new(&bytes);
            while RawLog::decode(&mut reader).is_some() {}
        }
    }

    #[test]
    fn the_text_form_reads_as_the_line_and_is_never_read_as_binary() {
        let line = RawLog::new(Source::Syslog, 1_732_000_000_123_456_789, b"<13>hello", 100)
            .with_context("peer", "127.0.0.1");
        let text = line.encode_text().unwrap();
        assert!(text.ends_with("<13>hello"), "{text:?}");
        assert_eq!(RawLog::decode_text(&text), Some(line.clone()));
        // A trailing byte is not part of it.
        assert_eq!(RawLog::decode_text(&format!("{text}x")), None);
        // The binary form's varints are not ASCII ones.
        let mut binary = Vec::new();
        line.encode(&mut binary);
        assert_eq!(
            String::from_utf8(binary)
                .ok()
                .and_then(|b| RawLog::decode_text(&b)),
            None
        );
        let invalid = RawLog::new(Source::Syslog, 1, b"caf\xe9", 100);
        assert_eq!(invalid.encode_text(), None);
    }

    #[test]
    fn new_cuts_at_the_limit_and_says_so() {
        let line = RawLog::new(Source::JsonLine, 5, b"abcdef", 4);
        assert_eq!(line.bytes, b"abcd");
        assert!(line.truncated);
        assert!(!RawLog::new(Source::JsonLine, 5, b"abcd", 4).truncated);
    }
}
