//! The chunk codec: a run of points of one series as one compressed blob.
//!
//! A chunk is columnar: one timestamp column, one or more float columns
//! (a raw chunk has the value; a rollup chunk has count, sum, min, max and
//! last) and an optional blob column (a timer's encoded summary per point).
//!
//! Layout before compression (all integers LEB128 varints):
//! ```text
//! version:u8  count  float_columns  blobs:u8 (0 none, 1 one by one,
//!                                             3 timer summaries transposed;
//!                                             2, read only: the same with
//!                                             their floats whole)
//! timestamps: first (zigzag), then delta-of-delta per point (zigzag)
//! per float column: mode:u8, then
//!   mode 0 (xor):     per point, the XOR of its bits with the previous
//!                     value's bits: 0x00 when equal, else a byte
//!                     `(leading_zero_bytes << 4) | meaningful_bytes`
//!                     followed by the meaningful bytes
//!   mode 1 (decimal): exponent:u8, then per point the zigzag delta of
//!                     `value * 10^exponent` from the previous one
//! blobs, one by one: per point, length then bytes
//! blobs, transposed: a timer's [`TimerSummary`] per point, stored part
//!                    by part (see [`summary_columns`])
//! ```
//! then zstd. Most monitoring values are integers or have a few decimals
//! (counts, bytes, percentages with one decimal): the decimal mode turns
//! them into small integer deltas, about a byte a point before zstd, where
//! XOR would need three to six. Values the decimal mode cannot reproduce
//! bit for bit fall back to XOR. Regular timestamps become runs of zero
//! bytes that zstd folds to almost nothing.
//!
//! A chunk read back keeps transposed timer summaries as they are stored
//! ([`Blobs::Summaries`]) and decodes each as a read walks the points.
//!
//! Pure: no I/O. Decoding never panics: any malformed blob is an error,
//! when it is decoded or, for a transposed summary, when the walk reaches
//! it.

use std::borrow::Cow;

use crate::metrics::summary_columns::{self, Floats, Summaries, Transposed};
use crate::metrics::TimerSummary;
use crate::varint::{
    decimal_integer, put_varint, unzigzag, zigzag, Reader, MAX_DECIMAL_EXPONENT, POWERS_OF_TEN,
};

/// First byte of every uncompressed chunk. Version 3 chunks (the previous
/// release) have the same layout, with blobs only ever one by one.
const VERSION: u8 = 4;
/// Chunks of earlier releases: blobs one by one, and their timer summaries
/// in [`TimerSummary::decode_legacy`]'s form, upgraded on reading.
const LEGACY_SUMMARY_VERSION: u8 = 2;

const NO_BLOBS: u8 = 0;
const BLOBS_ONE_BY_ONE: u8 = 1;
/// Transposed with the floats whole: only the first release that
/// transposed wrote these.
const BLOBS_TRANSPOSED_WHOLE: u8 = 2;
const BLOBS_TRANSPOSED: u8 = 3;

/// How [`uncompressed`] writes blobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlobForm {
    /// Only tests write it (as the previous release did); blobs that are
    /// not all summaries are stored one by one whatever the form.
    #[cfg_attr(not(test), allow(dead_code))]
    OneByOne,
    Transposed(Floats),
}
/// zstd level: chunks are written once and read many times; level 9 costs
/// little at these sizes and decodes as fast as level 1.
const ZSTD_LEVEL: i32 = 9;
/// Most points a chunk may claim, so a corrupt count cannot make the
/// decoder allocate without bound.
pub const MAX_POINTS: usize = 1 << 20;
/// Most float columns a chunk may have.
const MAX_COLUMNS: usize = 8;
/// Largest decompressed chunk accepted.
const MAX_RAW_BYTES: usize = 256 << 20;

const MODE_XOR: u8 = 0;
const MODE_DECIMAL: u8 = 1;

/// Why a blob is not a chunk, or points cannot be one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("chunk is not valid zstd data")]
    Compression,
    #[error("chunk is truncated or corrupt")]
    Corrupt,
    #[error(
        "chunk has version {0}, this partout reads versions {LEGACY_SUMMARY_VERSION} to {VERSION}"
    )]
    Version(u8),
    #[error("points must be sorted by timestamp")]
    Unsorted,
    #[error("every column must have one entry per timestamp")]
    Ragged,
    #[error("chunk does not have a rollup's columns")]
    NotRollup,
}

/// The decoded content of a chunk.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Columns {
    pub timestamps: Vec<i64>,
    /// Each as long as `timestamps`.
    pub floats: Vec<Vec<f64>>,
    /// None, or one per timestamp.
    pub blobs: Blobs,
}

/// A chunk's blob column.
#[derive(Debug, Clone, PartialEq)]
pub enum Blobs {
    /// A blob per point (empty for a point without one), or none at all.
    Each(Vec<Vec<u8>>),
    /// Every point's timer summary, kept as stored and decoded as a read
    /// walks them: what a chunk read back holds when its blobs were all
    /// summaries.
    Summaries(Transposed),
}

impl Default for Blobs {
    fn default() -> Blobs {
        Blobs::Each(Vec::new())
    }
}

impl Blobs {
    /// Blobs, one per point, or 0 when the chunk has none.
    pub fn len(&self) -> usize {
        match self {
            Blobs::Each(blobs) => blobs.len(),
            Blobs::Summaries(summaries) => summaries.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each point's blob as it was written.
    pub fn each(&self) -> Result<Cow<'_, [Vec<u8>]>, ChunkError> {
        match self {
            Blobs::Each(blobs) => Ok(Cow::Borrowed(blobs)),
            Blobs::Summaries(summaries) => summaries
                .blobs()
                .map(Cow::Owned)
                .map_err(|_| ChunkError::Corrupt),
        }
    }

    /// Each point's timer summary in order, `None` for a point without
    /// one (or whose blob is not a summary, as readers always took it);
    /// nothing at all when the chunk has no blobs.
    pub fn summaries(&self) -> SummaryWalk<'_> {
        match self {
            Blobs::Each(blobs) => SummaryWalk::Each(blobs.iter()),
            Blobs::Summaries(summaries) => SummaryWalk::Transposed(summaries.summaries()),
        }
    }

    /// Bytes held, near enough for a cache's budget.
    pub fn held_bytes(&self) -> usize {
        match self {
            Blobs::Each(blobs) => blobs
                .iter()
                .map(|b| b.len() + std::mem::size_of::<Vec<u8>>())
                .sum(),
            Blobs::Summaries(summaries) => summaries.stored_bytes(),
        }
    }
}

/// The walk of [`Blobs::summaries`].
// It lives on the stack for one walk of one chunk: boxing the larger
// variant would cost an allocation per chunk read for nothing.
#[allow(clippy::large_enum_variant)]
pub enum SummaryWalk<'a> {
    Each(std::slice::Iter<'a, Vec<u8>>),
    Transposed(Summaries<'a>),
}

impl Iterator for SummaryWalk<'_> {
    type Item = Result<Option<TimerSummary>, ChunkError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            SummaryWalk::Each(blobs) => blobs.next().map(|blob| Ok(TimerSummary::decode(blob))),
            SummaryWalk::Transposed(summaries) => summaries
                .next()
                .map(|summary| summary.map_err(|_| ChunkError::Corrupt)),
        }
    }
}

/// Encodes columns whose timestamps are sorted (equal ones allowed).
/// Values round-trip bit for bit, NaN payloads included.
pub fn encode(columns: &Columns) -> Result<Vec<u8>, ChunkError> {
    compress(&uncompressed(
        columns,
        BlobForm::Transposed(Floats::Predicted),
    )?)
}

/// The chunk before zstd; blobs are transposed when `form` asks for it
/// and they are all timer summaries.
fn uncompressed(columns: &Columns, form: BlobForm) -> Result<Vec<u8>, ChunkError> {
    let count = columns.timestamps.len();
    if columns.timestamps.windows(2).any(|w| w[1] < w[0]) {
        return Err(ChunkError::Unsorted);
    }
    if columns.floats.len() > MAX_COLUMNS
        || columns.floats.iter().any(|c| c.len() != count)
        || !(columns.blobs.is_empty() || columns.blobs.len() == count)
    {
        return Err(ChunkError::Ragged);
    }
    let mut raw = Vec::with_capacity(16 + count * (2 + columns.floats.len() * 3));
    raw.push(VERSION);
    put_varint(&mut raw, count as u64);
    put_varint(&mut raw, columns.floats.len() as u64);
    let blobs_at = raw.len();
    raw.push(NO_BLOBS);
    encode_timestamps(&mut raw, &columns.timestamps);
    for column in &columns.floats {
        match decimal_exponent(column) {
            Some(exponent) => encode_decimal(&mut raw, column, exponent),
            None => encode_xor(&mut raw, column),
        }
    }
    if !columns.blobs.is_empty() {
        let blobs = columns.blobs.each()?;
        let transposed = match form {
            BlobForm::Transposed(floats) => {
                summary_columns::transpose(&blobs, floats, &mut raw).then_some(floats)
            }
            BlobForm::OneByOne => None,
        };
        raw[blobs_at] = if let Some(floats) = transposed {
            match floats {
                Floats::Predicted => BLOBS_TRANSPOSED,
                Floats::Whole => BLOBS_TRANSPOSED_WHOLE,
            }
        } else {
            for blob in blobs.iter() {
                put_varint(&mut raw, blob.len() as u64);
                raw.extend_from_slice(blob);
            }
            BLOBS_ONE_BY_ONE
        };
    }
    Ok(raw)
}

/// Compresses a chunk (a seal compresses one per series and window: see
/// [`crate::zstd_context`]).
fn compress(raw: &[u8]) -> Result<Vec<u8>, ChunkError> {
    crate::zstd_context::compress(ZSTD_LEVEL, raw).map_err(|_| ChunkError::Compression)
}

fn encode_timestamps(raw: &mut Vec<u8>, timestamps: &[i64]) {
    let Some(&first) = timestamps.first() else {
        return;
    };
    put_varint(raw, zigzag(first));
    let mut previous_ts = first;
    let mut previous_delta = 0i64;
    for &ts in timestamps.iter().skip(1) {
        let delta = ts.wrapping_sub(previous_ts);
        put_varint(raw, zigzag(delta.wrapping_sub(previous_delta)));
        previous_ts = ts;
        previous_delta = delta;
    }
}

/// The smallest exponent `e` such that every value is exactly
/// `integer / 10^e` with an integer that f64 holds exactly; `None` when
/// there is none (NaN, infinities, -0.0, long fractions, huge values).
fn decimal_exponent(values: &[f64]) -> Option<u8> {
    let mut exponent = 0u8;
    'values: for &value in values {
        while exponent <= MAX_DECIMAL_EXPONENT {
            if decimal_integer(value, exponent).is_some() {
                continue 'values;
            }
            exponent += 1;
        }
        return None;
    }
    Some(exponent)
}

fn encode_decimal(raw: &mut Vec<u8>, values: &[f64], exponent: u8) {
    raw.push(MODE_DECIMAL);
    raw.push(exponent);
    let mut previous = 0i64;
    for &value in values {
        // decimal_exponent checked every value at this exponent.
        let integer = decimal_integer(value, exponent).unwrap_or(0);
        put_varint(raw, zigzag(integer.wrapping_sub(previous)));
        previous = integer;
    }
}

fn encode_xor(raw: &mut Vec<u8>, values: &[f64]) {
    raw.push(MODE_XOR);
    let mut previous_bits = 0u64;
    for &value in values {
        let bits = value.to_bits();
        let xor = bits ^ previous_bits;
        previous_bits = bits;
        if xor == 0 {
            raw.push(0);
            continue;
        }
        let leading = (xor.leading_zeros() / 8) as usize;
        let trailing = (xor.trailing_zeros() / 8) as usize;
        let meaningful = 8 - leading - trailing;
        raw.push(((leading as u8) << 4) | meaningful as u8);
        let bytes = xor.to_be_bytes();
        raw.extend_from_slice(bytes.get(leading..leading + meaningful).unwrap_or_default());
    }
}

/// Decompresses a chunk (a render decompresses hundreds: see
/// [`crate::zstd_context`]).
fn decompress(blob: &[u8]) -> Result<Vec<u8>, ChunkError> {
    crate::zstd_context::decompress(blob, MAX_RAW_BYTES).map_err(|_| ChunkError::Compression)
}

/// Decodes what [`encode`] wrote.
pub fn decode(blob: &[u8]) -> Result<Columns, ChunkError> {
    let raw = decompress(blob)?;
    let mut cursor = Reader::new(&raw);
    let corrupt = || ChunkError::Corrupt;
    let version = cursor.byte().ok_or_else(corrupt)?;
    if !(LEGACY_SUMMARY_VERSION..=VERSION).contains(&version) {
        return Err(ChunkError::Version(version));
    }
    let count = small(cursor.varint(), MAX_POINTS)?;
    let float_columns = small(cursor.varint(), MAX_COLUMNS)?;
    let blobs = match cursor.byte() {
        Some(NO_BLOBS) => NO_BLOBS,
        Some(BLOBS_ONE_BY_ONE) => BLOBS_ONE_BY_ONE,
        Some(BLOBS_TRANSPOSED) if version == VERSION => BLOBS_TRANSPOSED,
        Some(BLOBS_TRANSPOSED_WHOLE) if version == VERSION => BLOBS_TRANSPOSED_WHOLE,
        _ => return Err(ChunkError::Corrupt),
    };
    let mut columns = Columns {
        timestamps: decode_timestamps(&mut cursor, count)?,
        floats: Vec::with_capacity(float_columns),
        blobs: Blobs::default(),
    };
    for _ in 0..float_columns {
        let column = match cursor.byte() {
            Some(MODE_XOR) => decode_xor(&mut cursor, count)?,
            Some(MODE_DECIMAL) => decode_decimal(&mut cursor, count)?,
            _ => return Err(ChunkError::Corrupt),
        };
        columns.floats.push(column);
    }
    if blobs == BLOBS_TRANSPOSED || blobs == BLOBS_TRANSPOSED_WHOLE {
        let floats = if blobs == BLOBS_TRANSPOSED {
            Floats::Predicted
        } else {
            Floats::Whole
        };
        columns.blobs =
            Blobs::Summaries(Transposed::parse(cursor.rest(), count, floats).ok_or_else(corrupt)?);
    } else if blobs == BLOBS_ONE_BY_ONE {
        let mut each = Vec::with_capacity(count);
        for _ in 0..count {
            let len = small(cursor.varint(), MAX_RAW_BYTES)?;
            let bytes = cursor.bytes(len).ok_or_else(corrupt)?;
            each.push(if version == LEGACY_SUMMARY_VERSION {
                TimerSummary::upgrade_legacy(bytes)
            } else {
                bytes.to_vec()
            });
        }
        columns.blobs = Blobs::Each(each);
    }
    if !cursor.is_done() {
        return Err(ChunkError::Corrupt);
    }
    Ok(columns)
}

fn small(value: Option<u64>, max: usize) -> Result<usize, ChunkError> {
    value
        .and_then(|v| usize::try_from(v).ok())
        .filter(|&v| v <= max)
        .ok_or(ChunkError::Corrupt)
}

fn decode_timestamps(cursor: &mut Reader<'_>, count: usize) -> Result<Vec<i64>, ChunkError> {
    let mut timestamps = Vec::with_capacity(count);
    if count == 0 {
        return Ok(timestamps);
    }
    let mut ts = unzigzag(cursor.varint().ok_or(ChunkError::Corrupt)?);
    timestamps.push(ts);
    let mut delta = 0i64;
    for _ in 1..count {
        delta = delta.wrapping_add(unzigzag(cursor.varint().ok_or(ChunkError::Corrupt)?));
        ts = ts.wrapping_add(delta);
        timestamps.push(ts);
    }
    Ok(timestamps)
}

fn decode_decimal(cursor: &mut Reader<'_>, count: usize) -> Result<Vec<f64>, ChunkError> {
    let exponent = cursor.byte().ok_or(ChunkError::Corrupt)?;
    let scale = *POWERS_OF_TEN
        .get(usize::from(exponent))
        .ok_or(ChunkError::Corrupt)?;
    let mut values = Vec::with_capacity(count);
    let mut integer = 0i64;
    for _ in 0..count {
        integer = integer.wrapping_add(unzigzag(cursor.varint().ok_or(ChunkError::Corrupt)?));
        values.push(integer as f64 / scale);
    }
    Ok(values)
}

fn decode_xor(cursor: &mut Reader<'_>, count: usize) -> Result<Vec<f64>, ChunkError> {
    let mut values = Vec::with_capacity(count);
    let mut bits = 0u64;
    for _ in 0..count {
        let header = cursor.byte().ok_or(ChunkError::Corrupt)?;
        if header != 0 {
            let leading = usize::from(header >> 4);
            let meaningful = usize::from(header & 0x0f);
            if meaningful == 0 || leading + meaningful > 8 {
                return Err(ChunkError::Corrupt);
            }
            let mut bytes = [0u8; 8];
            for slot in bytes.iter_mut().skip(leading).take(meaningful) {
                *slot = cursor.byte().ok_or(ChunkError::Corrupt)?;
            }
            bits ^= u64::from_be_bytes(bytes);
        }
        values.push(f64::from_bits(bits));
    }
    Ok(values)
}

/// `columns` (timer summaries, at least one) encoded with the first
/// point's entry in the summaries' presence stream neither "with" nor
/// "without": a chunk that decodes, and whose walk fails at once.
#[cfg(test)]
pub fn with_corrupt_summaries(columns: &Columns) -> Vec<u8> {
    let mut raw = uncompressed(columns, BlobForm::Transposed(Floats::Predicted)).unwrap();
    // The chunk without blobs is the same up to where the blobs begin.
    let prefix = uncompressed(
        &Columns {
            blobs: Blobs::default(),
            ..columns.clone()
        },
        BlobForm::Transposed(Floats::Predicted),
    )
    .unwrap()
    .len();
    // The presence stream's length (one byte below 128 points), then the
    // first point's entry.
    assert!(columns.timestamps.len() < 128);
    raw[prefix + 1] = 2;
    compress(&raw).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_bits(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    fn plain(points: &[(i64, f64)]) -> Columns {
        Columns {
            timestamps: points.iter().map(|p| p.0).collect(),
            floats: vec![points.iter().map(|p| p.1).collect()],
            blobs: Blobs::default(),
        }
    }

    fn round_trip(columns: &Columns) -> Columns {
        decode(&encode(columns).unwrap()).unwrap()
    }

    fn assert_round_trips(columns: &Columns) {
        assert_same(&round_trip(columns), columns);
    }

    /// The same points, floats bit for bit and blobs byte for byte, in
    /// whichever form the blobs are held.
    fn assert_same(decoded: &Columns, columns: &Columns) {
        assert_eq!(decoded.timestamps, columns.timestamps);
        assert_eq!(decoded.blobs.each().unwrap(), columns.blobs.each().unwrap());
        assert_eq!(decoded.floats.len(), columns.floats.len());
        for (a, b) in decoded.floats.iter().zip(&columns.floats) {
            assert!(same_bits(a, b), "{a:?} != {b:?}");
        }
    }

    #[test]
    fn empty_single_and_special_values() {
        for points in [
            vec![],
            vec![(1_700_000_000, 1.5)],
            vec![
                (0, f64::NAN),
                (0, -0.0),
                (10, f64::INFINITY),
                (10, f64::MIN_POSITIVE),
                (i64::MAX, f64::NEG_INFINITY),
            ],
            vec![(1, 0.1), (2, 0.2), (3, 0.30000000000000004)],
            vec![(1, 9.007_199_254_740_993e15), (2, 1e300), (3, -1e-300)],
        ] {
            assert_round_trips(&plain(&points));
        }
    }

    #[test]
    fn decimal_mode_is_chosen_only_when_exact() {
        assert_eq!(decimal_exponent(&[1.0, 20.0, -3.0]), Some(0));
        assert_eq!(decimal_exponent(&[43.27, 0.5]), Some(2));
        assert_eq!(decimal_exponent(&[0.1 + 0.2]), None);
        assert_eq!(decimal_exponent(&[-0.0]), None);
        assert_eq!(decimal_exponent(&[f64::NAN]), None);
        assert_eq!(decimal_exponent(&[1e17]), None);
    }

    #[test]
    fn several_columns_and_blobs_round_trip() {
        let columns = Columns {
            timestamps: vec![60, 120, 180],
            floats: vec![vec![6.0, 6.0, 5.0], vec![1.5, f64::NAN, 2.25]],
            blobs: Blobs::Each(vec![vec![], vec![1, 2, 3], vec![0; 300]]),
        };
        assert_round_trips(&columns);
    }

    #[test]
    fn bad_input_is_refused_and_garbage_is_an_error() {
        assert_eq!(
            encode(&plain(&[(10, 1.0), (5, 1.0)])),
            Err(ChunkError::Unsorted)
        );
        let ragged = Columns {
            timestamps: vec![1, 2],
            floats: vec![vec![1.0]],
            blobs: Blobs::default(),
        };
        assert_eq!(encode(&ragged), Err(ChunkError::Ragged));
        assert_eq!(decode(b"not zstd"), Err(ChunkError::Compression));
        let mut truncated = encode(&plain(&[(1, 1.0), (2, 2.5)])).unwrap();
        truncated.pop();
        assert!(decode(&truncated).is_err());
        let old_version = zstd::bulk::compress(&[1, 0], 1).unwrap();
        assert_eq!(decode(&old_version), Err(ChunkError::Version(1)));
    }

    #[test]
    fn chunks_of_earlier_releases_read_with_their_summaries_upgraded() {
        let (summary, legacy) = crate::metrics::tests::summary_and_legacy_bytes();
        let columns = Columns {
            timestamps: vec![10, 20],
            floats: vec![vec![6.0, 0.0]],
            blobs: Blobs::Each(vec![legacy, Vec::new()]),
        };
        // The layout did not change, only the summaries' form: an earlier
        // release's chunk is this one with the version byte it wrote.
        let mut raw = decompress(&encode(&columns).unwrap()).unwrap();
        raw[0] = LEGACY_SUMMARY_VERSION;
        let decoded = decode(&zstd::bulk::compress(&raw, 1).unwrap()).unwrap();
        assert_eq!(
            decoded.blobs.each().unwrap(),
            [summary.encode(), Vec::new()].as_slice()
        );
        assert_eq!(decoded.floats, columns.floats);
    }

    /// An hour of a timer's intervals, as the StatsD aggregation makes them.
    fn timer_hour() -> Columns {
        let mut state = 99u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut columns = Columns::default();
        columns.floats.push(Vec::new());
        let mut blobs = Vec::new();
        for i in 0..360 {
            let mut summary = TimerSummary::default();
            let samples = 1 + (next() * 40.0) as u32;
            for _ in 0..samples {
                let ms = (20.0 * (2.0 * next() - 1.0).exp() * 1000.0).round() / 1000.0;
                summary.sketch.add(ms, 1);
                summary.sum_of_squares += ms * ms;
            }
            columns.timestamps.push(1_700_000_000 + i * 10);
            columns.floats[0].push(f64::from(samples));
            blobs.push(summary.encode());
        }
        columns.blobs = Blobs::Each(blobs);
        columns
    }

    #[test]
    fn timer_summaries_are_stored_transposed_and_smaller() {
        let columns = timer_hour();
        let transposed = uncompressed(&columns, BlobForm::Transposed(Floats::Predicted)).unwrap();
        let one_by_one = uncompressed(&columns, BlobForm::OneByOne).unwrap();
        // Version, 360 as a varint (2 bytes), one float column: byte 4.
        assert_eq!(transposed.get(4), Some(&BLOBS_TRANSPOSED));
        assert_eq!(one_by_one.get(4), Some(&BLOBS_ONE_BY_ONE));
        let (transposed, one_by_one) = (
            compress(&transposed).unwrap(),
            compress(&one_by_one).unwrap(),
        );
        assert!(
            transposed.len() * 100 < one_by_one.len() * 85,
            "transposed {} bytes, one by one {}",
            transposed.len(),
            one_by_one.len()
        );
        assert_round_trips(&columns);
        assert_same(&decode(&one_by_one).unwrap(), &columns);
    }

    #[test]
    fn chunks_of_the_previous_release_read_as_they_were() {
        let columns = timer_hour();
        // Version 3 is version 4 without transposed blobs.
        let mut raw = uncompressed(&columns, BlobForm::OneByOne).unwrap();
        raw[0] = 3;
        assert_same(&decode(&compress(&raw).unwrap()).unwrap(), &columns);
        // But a version 3 chunk cannot claim transposed blobs.
        for floats in [Floats::Predicted, Floats::Whole] {
            let mut raw = uncompressed(&columns, BlobForm::Transposed(floats)).unwrap();
            raw[0] = 3;
            assert_eq!(decode(&compress(&raw).unwrap()), Err(ChunkError::Corrupt));
        }
        // Transposed with whole floats, as the first release that
        // transposed wrote them: read as they were.
        let whole = uncompressed(&columns, BlobForm::Transposed(Floats::Whole)).unwrap();
        assert_eq!(whole.get(4), Some(&BLOBS_TRANSPOSED_WHOLE));
        assert_same(&decode(&compress(&whole).unwrap()).unwrap(), &columns);
    }

    /// An hour of a 10 s counter with Poisson-like noise: the decimal mode
    /// must keep it near a byte a point, timestamps included.
    #[test]
    fn a_noisy_integer_counter_stays_near_a_byte_per_point() {
        let mut state = 12345u64;
        let points: Vec<(i64, f64)> = (0..360)
            .map(|i| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                (1_700_000_000 + i * 10, 100.0 + (state >> 60) as f64)
            })
            .collect();
        let blob = encode(&plain(&points)).unwrap();
        let per_point = blob.len() as f64 / points.len() as f64;
        assert!(per_point < 1.0, "{per_point} bytes per point");
        assert_round_trips(&plain(&points));
    }

    /// The thread's reused zstd context decodes good chunks after bad
    /// ones.
    #[test]
    fn a_failed_decode_does_not_spoil_the_next() {
        let columns = plain(&[(10, 1.5), (20, 2.5)]);
        let blob = encode(&columns).unwrap();
        assert_eq!(decode(b"garbage"), Err(ChunkError::Compression));
        let mut truncated = blob.clone();
        truncated.truncate(blob.len() / 2);
        assert!(decode(&truncated).is_err());
        assert_same(&decode(&blob).unwrap(), &columns);
    }

    proptest::proptest! {
        /// Any sorted timestamps (equal ones included) and any bit patterns
        /// (NaNs included) round-trip exactly.
        #[test]
        fn round_trips_any_points(
            mut timestamps in proptest::collection::vec(proptest::num::i64::ANY, 0..300),
            bits in proptest::collection::vec(proptest::num::u64::ANY, 300),
            repeat_every in 1usize..5,
        ) {
            timestamps.sort_unstable();
            // Equal timestamps happen: duplicate some.
            for i in (repeat_every..timestamps.len()).step_by(repeat_every + 3) {
                timestamps[i] = timestamps[i - 1];
            }
            let points: Vec<(i64, f64)> = timestamps.iter().zip(&bits).map(|(&t, &b)| (t, f64::from_bits(b))).collect();
            assert_round_trips(&plain(&points));
        }

        /// Decimal-looking values (where the decimal mode applies) too.
        #[test]
        fn round_trips_decimal_values(
            integers in proptest::collection::vec(-1_000_000_000i64..1_000_000_000, 1..300),
            exponent in 0u8..=6,
        ) {
            let scale = POWERS_OF_TEN[usize::from(exponent)];
            let points: Vec<(i64, f64)> = integers.iter().enumerate().map(|(i, &n)| (i as i64 * 10, n as f64 / scale)).collect();
            assert_round_trips(&plain(&points));
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = decode(&bytes);
            if let Ok(compressed) = zstd::bulk::compress(&bytes, 1) {
                let _ = decode(&compressed);
            }
        }
    }
}
