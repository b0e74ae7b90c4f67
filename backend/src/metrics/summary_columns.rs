//! A chunk's timer summaries stored part by part: every summary's count in
//! one stream, every sum in the next, every bucket gap in another, and so
//! on, instead of one summary after another.
//!
//! zstd then sees like next to like: gaps beside gaps, small counts beside
//! small counts, decimals of one magnitude together. On the storage
//! benchmark's day (`partout-loadgen storage`) a raw timer chunk went from
//! 39.8 to 37.3 bytes per interval, a 1-minute rollup from 75.5 to 71.8.
//!
//! Layout: a presence stream (per point, 1 when it has a summary, 0 when
//! its blob is empty), then one stream per [`Part`] in [`Part::ALL`]
//! order; each stream as its length (a varint) and its bytes. Within a
//! stream, values are varints and floats [`put_float`]s, bit for bit.
//!
//! Only summaries that [`TimerSummary::encode_exact`] gives back byte for
//! byte are transposed (the encoder checks; [`TimerSummary::encode`]'s
//! output always is), so a chunk's blobs read back exactly as they were
//! written. Pure: no I/O; malformed input is `None`,
//! never a panic.

use super::sketch::{Part, PartSink, PartSource};
use super::TimerSummary;
use crate::varint::{put_float, put_varint, Reader};

/// The presence stream, then one per part.
const STREAMS: usize = Part::ALL.len() + 1;

fn stream_of(part: Part) -> usize {
    1 + Part::ALL.iter().position(|&p| p == part).unwrap_or(0)
}

struct Streams([Vec<u8>; STREAMS]);

impl PartSink for Streams {
    fn varint(&mut self, part: Part, value: u64) {
        put_varint(&mut self.0[stream_of(part)], value);
    }

    fn float(&mut self, part: Part, value: f64) {
        put_float(&mut self.0[stream_of(part)], value);
    }
}

struct StreamReaders<'a>([Reader<'a>; STREAMS]);

impl PartSource for StreamReaders<'_> {
    fn varint(&mut self, part: Part) -> Option<u64> {
        self.0[stream_of(part)].varint()
    }

    fn float(&mut self, part: Part) -> Option<f64> {
        self.0[stream_of(part)].float()
    }
}

/// Appends `blobs` (each empty or an encoded [`TimerSummary`]) transposed
/// to `out`; `false`, with `out` unchanged, when a blob is neither.
pub fn transpose(blobs: &[Vec<u8>], out: &mut Vec<u8>) -> bool {
    let mut streams = Streams(Default::default());
    for blob in blobs {
        if blob.is_empty() {
            put_varint(&mut streams.0[0], 0);
            continue;
        }
        let Some(summary) = TimerSummary::decode(blob) else {
            return false;
        };
        if summary.encode_exact() != *blob {
            return false;
        }
        put_varint(&mut streams.0[0], 1);
        summary.write_parts(&mut streams);
    }
    for stream in &streams.0 {
        put_varint(out, stream.len() as u64);
        out.extend_from_slice(stream);
    }
    true
}

/// Reads what [`transpose`] wrote for `count` points: all of `bytes`, or
/// `None`.
pub fn untranspose(bytes: &[u8], count: usize) -> Option<Vec<Vec<u8>>> {
    let mut cursor = Reader::new(bytes);
    let mut slices: [&[u8]; STREAMS] = [&[]; STREAMS];
    for slice in &mut slices {
        let len = usize::try_from(cursor.varint()?).ok()?;
        *slice = cursor.bytes(len)?;
    }
    if !cursor.is_done() {
        return None;
    }
    // A point takes at least a byte of the presence stream: a corrupt
    // count cannot make this allocate more than the bytes justify.
    let mut blobs = Vec::with_capacity(count.min(slices[0].len()));
    let mut readers = StreamReaders(slices.map(Reader::new));
    for _ in 0..count {
        match readers.0[0].varint()? {
            0 => blobs.push(Vec::new()),
            1 => blobs.push(TimerSummary::read_parts(&mut readers)?.encode_exact()),
            _ => return None,
        }
    }
    readers.0.iter().all(Reader::is_done).then_some(blobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(samples: &[f64]) -> Vec<u8> {
        let mut summary = TimerSummary::default();
        for &ms in samples {
            summary.sketch.add(ms, 1);
            summary.sum_of_squares += ms * ms;
        }
        summary.encode()
    }

    #[test]
    fn summaries_and_empty_blobs_read_back_byte_for_byte() {
        let blobs = vec![
            summary(&[12.345, 12.5, 80.001, 0.0, -3.25]),
            Vec::new(),
            summary(&[]),
            summary(&[1e-12, 5e9, 7.0, 7.0, 7.0]),
            summary(&[0.1 + 0.2, 1.0 / 3.0]),
        ];
        let mut out = vec![0xAA];
        assert!(transpose(&blobs, &mut out));
        assert_eq!(out[0], 0xAA, "appends");
        assert_eq!(untranspose(&out[1..], blobs.len()), Some(blobs.clone()));
        // A count that does not match, a cut or an extra byte: refused.
        assert_eq!(untranspose(&out[1..], blobs.len() - 1), None);
        assert_eq!(untranspose(&out[1..], blobs.len() + 1), None);
        assert_eq!(untranspose(&out[1..out.len() - 1], blobs.len()), None);
        let mut longer = out[1..].to_vec();
        longer.push(0);
        assert_eq!(untranspose(&longer, blobs.len()), None);
    }

    #[test]
    fn a_blob_that_is_not_a_summary_is_not_transposed() {
        let mut out = vec![7];
        let good = summary(&[1.0, 2.0]);
        // Not a summary at all, and a summary with a trailing byte.
        let mut trailing = good.clone();
        trailing.push(0);
        for odd in [vec![1, 2, 3], trailing] {
            assert!(!transpose(&[good.clone(), odd], &mut out));
            assert_eq!(out, [7], "out is left as it was");
        }
    }

    proptest::proptest! {
        #[test]
        fn random_summaries_round_trip(
            intervals in proptest::collection::vec(
                proptest::collection::vec(-1e6f64..1e6, 0..40), 0..30)
        ) {
            let blobs: Vec<Vec<u8>> = intervals
                .iter()
                .map(|samples| if samples.len() == 1 { Vec::new() } else { summary(samples) })
                .collect();
            let mut out = Vec::new();
            proptest::prop_assert!(transpose(&blobs, &mut out));
            proptest::prop_assert_eq!(untranspose(&out, blobs.len()), Some(blobs));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200), count in 0usize..50) {
            let _ = untranspose(&bytes, count);
        }
    }
}
