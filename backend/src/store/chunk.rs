//! The chunk codec: a run of `(timestamp, value)` points of one series as
//! one compressed blob.
//!
//! Layout before compression (all integers LEB128 varints):
//! ```text
//! version:u8  count  first_ts(zigzag)
//! timestamps: delta-of-delta per point after the first (zigzag)
//! values:     per point, the XOR of its bits with the previous value's
//!             bits: 0x00 when equal, else a byte `(leading_zero_bytes << 4)
//!             | meaningful_bytes` followed by the meaningful bytes
//! ```
//! then zstd. Regular timestamps become runs of zero bytes and slowly
//! moving values a few bytes each, which zstd folds further. Byte-aligned
//! rather than Gorilla's bit packing: simpler to decode safely, and zstd
//! recovers most of the difference.
//!
//! Pure: no I/O. Decoding never panics: any malformed blob is an error.
//! Not yet used by the store (points are rows today); the store moves to
//! chunks next.

use crate::varint::{put_varint, unzigzag, zigzag, Reader};

/// First byte of every uncompressed chunk.
const VERSION: u8 = 1;
/// zstd level: fast to write, and chunks are written once.
const ZSTD_LEVEL: i32 = 3;
/// Most points a chunk may claim, so a corrupt count cannot make the
/// decoder allocate without bound.
pub const MAX_POINTS: usize = 1 << 20;

/// Why a blob is not a chunk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("chunk is not valid zstd data")]
    Compression,
    #[error("chunk is truncated or corrupt")]
    Corrupt,
    #[error("chunk has version {0}, this partout reads version 1")]
    Version(u8),
    #[error("points must be sorted by timestamp")]
    Unsorted,
}

/// Encodes points sorted by timestamp (equal timestamps allowed). Values
/// round-trip bit for bit, NaN payloads included.
pub fn encode(points: &[(i64, f64)]) -> Result<Vec<u8>, ChunkError> {
    if points.windows(2).any(|w| w[1].0 < w[0].0) {
        return Err(ChunkError::Unsorted);
    }
    let mut raw = Vec::with_capacity(16 + points.len() * 3);
    raw.push(VERSION);
    put_varint(&mut raw, points.len() as u64);
    let Some(&(first_ts, _)) = points.first() else {
        return compress(&raw);
    };
    put_varint(&mut raw, zigzag(first_ts));
    let mut previous_ts = first_ts;
    let mut previous_delta = 0i64;
    for &(ts, _) in points.iter().skip(1) {
        let delta = ts.wrapping_sub(previous_ts);
        put_varint(&mut raw, zigzag(delta.wrapping_sub(previous_delta)));
        previous_ts = ts;
        previous_delta = delta;
    }
    let mut previous_bits = 0u64;
    for &(_, value) in points {
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
        raw.extend_from_slice(&bytes[leading..leading + meaningful]);
    }
    compress(&raw)
}

fn compress(raw: &[u8]) -> Result<Vec<u8>, ChunkError> {
    zstd::bulk::compress(raw, ZSTD_LEVEL).map_err(|_| ChunkError::Compression)
}

/// Decodes what [`encode`] wrote.
pub fn decode(blob: &[u8]) -> Result<Vec<(i64, f64)>, ChunkError> {
    // The decompressed size is bounded by what MAX_POINTS points can take.
    let limit = 32 + MAX_POINTS * (10 + 9);
    let raw = zstd::bulk::decompress(blob, limit).map_err(|_| ChunkError::Compression)?;
    let mut cursor = Reader::new(&raw);
    let corrupt = || ChunkError::Corrupt;
    let version = cursor.byte().ok_or_else(corrupt)?;
    if version != VERSION {
        return Err(ChunkError::Version(version));
    }
    let count =
        usize::try_from(cursor.varint().ok_or_else(corrupt)?).map_err(|_| ChunkError::Corrupt)?;
    if count > MAX_POINTS {
        return Err(ChunkError::Corrupt);
    }
    if count == 0 {
        return Ok(Vec::new());
    }
    let mut timestamps = Vec::with_capacity(count);
    let mut ts = unzigzag(cursor.varint().ok_or_else(corrupt)?);
    timestamps.push(ts);
    let mut delta = 0i64;
    for _ in 1..count {
        delta = delta.wrapping_add(unzigzag(cursor.varint().ok_or_else(corrupt)?));
        ts = ts.wrapping_add(delta);
        timestamps.push(ts);
    }
    let mut points = Vec::with_capacity(count);
    let mut bits = 0u64;
    for ts in timestamps {
        let header = cursor.byte().ok_or_else(corrupt)?;
        if header != 0 {
            let leading = usize::from(header >> 4);
            let meaningful = usize::from(header & 0x0f);
            if meaningful == 0 || leading + meaningful > 8 {
                return Err(ChunkError::Corrupt);
            }
            let mut bytes = [0u8; 8];
            for slot in bytes.iter_mut().skip(leading).take(meaningful) {
                *slot = cursor.byte().ok_or_else(corrupt)?;
            }
            bits ^= u64::from_be_bytes(bytes);
        }
        points.push((ts, f64::from_bits(bits)));
    }
    if !cursor.is_done() {
        return Err(ChunkError::Corrupt);
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_bits(a: &[(i64, f64)], b: &[(i64, f64)]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.0 == y.0 && x.1.to_bits() == y.1.to_bits())
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
        ] {
            let decoded = decode(&encode(&points).unwrap()).unwrap();
            assert!(same_bits(&decoded, &points), "{points:?} -> {decoded:?}");
        }
    }

    #[test]
    fn unsorted_input_is_refused_and_garbage_is_an_error() {
        assert_eq!(encode(&[(10, 1.0), (5, 1.0)]), Err(ChunkError::Unsorted));
        assert_eq!(decode(b"not zstd"), Err(ChunkError::Compression));
        let mut truncated = encode(&[(1, 1.0), (2, 2.0)]).unwrap();
        truncated.pop();
        assert!(decode(&truncated).is_err());
    }

    /// A day of a slowly moving gauge at 10 s: the regular case the store
    /// will hold, and where the size target (≤ 1.5 bytes/point) applies.
    #[test]
    fn a_regular_gauge_day_compresses_to_a_few_bits_per_point() {
        let points: Vec<(i64, f64)> = (0..8640)
            .map(|i| {
                (
                    1_700_000_000 + i * 10,
                    (f64::from(i as i32 / 30) * 0.25 + 40.0).round(),
                )
            })
            .collect();
        let blob = encode(&points).unwrap();
        let per_point = blob.len() as f64 / points.len() as f64;
        assert!(per_point < 0.5, "{per_point} bytes per point");
        assert!(same_bits(&decode(&blob).unwrap(), &points));
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
            let decoded = decode(&encode(&points).unwrap()).unwrap();
            proptest::prop_assert!(same_bits(&decoded, &points));
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
