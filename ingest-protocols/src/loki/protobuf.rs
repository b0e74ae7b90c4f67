//! The protobuf push body: a snappy block holding a `PushRequest` (schema
//! in [`super`]), decoded by hand: four small messages do not need a code
//! generator, and a hand decoder bounds every length against the input.
//!
//! Proto3 rules apply: a field may be absent (its zero value), appear
//! more than once (the last scalar wins, repeated fields append, a message
//! field merges), and fields this decoder does not know are skipped by
//! their wire type, so newer senders' additions are harmless. Groups, a
//! wire type deprecated before proto3, are refused.

use super::{labels::parse_labels, LokiEntry, LokiStream};
use crate::ParseError;

/// Nanoseconds in a second: the bound of `Timestamp.nanos`.
const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Decompresses a snappy block (what Loki expects with
/// `Content-Type: application/x-protobuf`) of at most `max_decompressed`
/// bytes, then decodes it. The size is read from the block's header and
/// checked before anything is allocated.
pub fn parse_push_protobuf(
    snappy_body: &[u8],
    max_decompressed: usize,
) -> Result<Vec<LokiStream>, ParseError> {
    let length = snap::raw::decompress_len(snappy_body).map_err(|_| ParseError::BadSnappy)?;
    if length > max_decompressed {
        return Err(ParseError::DecompressedTooLarge {
            limit: max_decompressed,
        });
    }
    let message = snap::raw::Decoder::new()
        .decompress_vec(snappy_body)
        .map_err(|_| ParseError::BadSnappy)?;
    decode_push_request(&message)
}

/// Decodes a `PushRequest` that is already decompressed.
pub fn decode_push_request(message: &[u8]) -> Result<Vec<LokiStream>, ParseError> {
    let mut reader = Reader::new(message, 0);
    let mut streams = Vec::new();
    while !reader.at_end() {
        match reader.key()? {
            (1, WireType::Len) => streams.push(stream(reader.message()?)?),
            (1, _) => return Err(reader.error("streams is not length-delimited")),
            (_, wire_type) => reader.skip(wire_type)?,
        }
    }
    Ok(streams)
}

/// `StreamAdapter`. `hash` (3) is the sender's hash of the labels, which
/// Loki recomputes; it is skipped like any unknown field.
fn stream(mut reader: Reader<'_>) -> Result<LokiStream, ParseError> {
    let mut labels = String::new();
    let mut entries = Vec::new();
    while !reader.at_end() {
        match reader.key()? {
            (1, WireType::Len) => labels = reader.text()?,
            (2, WireType::Len) => entries.push(entry(reader.message()?)?),
            (1 | 2, _) => return Err(reader.error("stream field is not length-delimited")),
            (_, wire_type) => reader.skip(wire_type)?,
        }
    }
    // No labels at all is an empty set; anything else must parse.
    let labels = if labels.trim().is_empty() {
        Vec::new()
    } else {
        parse_labels(&labels)?
    };
    Ok(LokiStream { labels, entries })
}

/// `EntryAdapter`. Field 4 (`parsed`, labels Loki adds on the read side)
/// is skipped.
fn entry(mut reader: Reader<'_>) -> Result<LokiEntry, ParseError> {
    let mut seconds = 0i64;
    let mut nanos = 0i64;
    let mut line = String::new();
    let mut metadata = Vec::new();
    while !reader.at_end() {
        match reader.key()? {
            (1, WireType::Len) => timestamp(reader.message()?, &mut seconds, &mut nanos)?,
            (2, WireType::Len) => line = reader.text()?,
            (3, WireType::Len) => metadata.push(label_pair(reader.message()?)?),
            (1..=3, _) => return Err(reader.error("entry field is not length-delimited")),
            (_, wire_type) => reader.skip(wire_type)?,
        }
    }
    let timestamp_unix_nanos = unix_nanos(seconds, nanos).ok_or(ParseError::BadTimestamp)?;
    Ok(LokiEntry {
        timestamp_unix_nanos,
        line,
        metadata,
    })
}

/// `google.protobuf.Timestamp`, merged into what earlier occurrences set.
fn timestamp(mut reader: Reader<'_>, seconds: &mut i64, nanos: &mut i64) -> Result<(), ParseError> {
    while !reader.at_end() {
        // int64 and int32 both travel as two's complement in 64 bits.
        match reader.key()? {
            (1, WireType::Varint) => *seconds = reader.varint()? as i64,
            (2, WireType::Varint) => *nanos = reader.varint()? as i64,
            (1 | 2, _) => return Err(reader.error("timestamp field is not a varint")),
            (_, wire_type) => reader.skip(wire_type)?,
        }
    }
    Ok(())
}

/// Unix nanoseconds, if the time is not before 1970, `nanos` is in range
/// as the Timestamp spec requires, and the sum fits an `i64` (year 2262).
fn unix_nanos(seconds: i64, nanos: i64) -> Option<i64> {
    if seconds < 0 || !(0..NANOS_PER_SECOND).contains(&nanos) {
        return None;
    }
    seconds.checked_mul(NANOS_PER_SECOND)?.checked_add(nanos)
}

/// `LabelPairAdapter`.
fn label_pair(mut reader: Reader<'_>) -> Result<(String, String), ParseError> {
    let mut name = String::new();
    let mut value = String::new();
    while !reader.at_end() {
        match reader.key()? {
            (1, WireType::Len) => name = reader.text()?,
            (2, WireType::Len) => value = reader.text()?,
            (1 | 2, _) => return Err(reader.error("label field is not length-delimited")),
            (_, wire_type) => reader.skip(wire_type)?,
        }
    }
    Ok((name, value))
}

/// The wire types proto3 encoders write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WireType {
    Varint,
    Fixed64,
    /// Length-delimited: strings, bytes, messages, packed repeats.
    Len,
    Fixed32,
}

/// A cursor over one message.
struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
    /// Where `bytes` starts in the whole decompressed message, so errors
    /// in nested messages give an offset a person can find.
    base: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], base: usize) -> Reader<'a> {
        Reader {
            bytes,
            position: 0,
            base,
        }
    }

    fn at_end(&self) -> bool {
        self.position >= self.bytes.len()
    }

    fn error(&self, what: &'static str) -> ParseError {
        ParseError::BadProtobuf {
            what,
            offset: self.base.saturating_add(self.position),
        }
    }

    /// A base-128 varint of at most ten bytes, the tenth holding bit 63.
    fn varint(&mut self) -> Result<u64, ParseError> {
        let mut value = 0u64;
        for index in 0..10 {
            let Some(&byte) = self.bytes.get(self.position) else {
                return Err(self.error("truncated varint"));
            };
            if index == 9 && byte > 1 {
                return Err(self.error("varint overflows 64 bits"));
            }
            self.position += 1;
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.error("varint overflows 64 bits"))
    }

    /// A field key: its number and wire type.
    fn key(&mut self) -> Result<(u64, WireType), ParseError> {
        let start = self.position;
        let key = self.varint()?;
        let wire_type = match key & 7 {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            5 => WireType::Fixed32,
            _ => {
                self.position = start;
                return Err(self.error("group or unknown wire type"));
            }
        };
        let field = key >> 3;
        if field == 0 {
            self.position = start;
            return Err(self.error("field number 0"));
        }
        Ok((field, wire_type))
    }

    /// The payload of a length-delimited field, and where it starts.
    fn payload(&mut self) -> Result<(&'a [u8], usize), ParseError> {
        let length = self.varint()?;
        let start = self.position;
        let payload = usize::try_from(length)
            .ok()
            .and_then(|length| start.checked_add(length))
            .and_then(|end| self.bytes.get(start..end))
            .ok_or_else(|| self.error("length runs past the end"))?;
        self.position = start + payload.len();
        Ok((payload, self.base.saturating_add(start)))
    }

    fn message(&mut self) -> Result<Reader<'a>, ParseError> {
        let (payload, base) = self.payload()?;
        Ok(Reader::new(payload, base))
    }

    /// A string field; invalid UTF-8 is replaced, not refused.
    fn text(&mut self) -> Result<String, ParseError> {
        let (payload, _) = self.payload()?;
        Ok(String::from_utf8_lossy(payload).into_owned())
    }

    fn skip(&mut self, wire_type: WireType) -> Result<(), ParseError> {
        let width = match wire_type {
            WireType::Varint => return self.varint().map(drop),
            WireType::Len => return self.payload().map(drop),
            WireType::Fixed64 => 8,
            WireType::Fixed32 => 4,
        };
        if self.bytes.len().saturating_sub(self.position) < width {
            return Err(self.error("truncated fixed-width field"));
        }
        self.position += width;
        Ok(())
    }
}
