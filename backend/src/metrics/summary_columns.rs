//! A chunk's timer summaries stored part by part: every summary's count in
//! one stream, every sum in the next, every bucket gap in another, and so
//! on, instead of one summary after another.
//!
//! zstd then sees like next to like: gaps beside gaps, small counts beside
//! small counts, decimals of one magnitude together. And the exact floats
//! are written as differences from what the buckets predict (see
//! [`Predictions`]). On the storage benchmark's day (`partout-loadgen
//! storage`) a raw timer chunk went from 39.8 to 32 bytes per interval.
//!
//! Layout: a presence stream (per point, 1 when it has a summary, 0 when
//! its blob is empty), then one stream per [`Part`] in [`Part::ALL`]
//! order; each stream as its length (a varint) and its bytes. Within a
//! stream, values are varints; the floats (sum, min, max, sum of squares)
//! are [`put_float_near`]s of what the buckets predict, bit for bit.
//!
//! Only summaries that [`TimerSummary::encode_exact`] gives back byte for
//! byte are transposed (the encoder checks; [`TimerSummary::encode`]'s
//! output always is), so a chunk's blobs read back exactly as they were
//! written. A reader keeps the streams as they are ([`Transposed`]) and
//! decodes the summaries one by one as it walks them.
//!
//! Pure: no I/O; malformed input is `None` or [`CorruptSummaries`], never
//! a panic.

use super::sketch::{Part, PartSink, PartSource, Sketch};
use super::TimerSummary;
use crate::varint::{put_float_near, put_varint, Reader};

/// The presence stream, then one per part.
const STREAMS: usize = Part::ALL.len() + 1;

/// A part's stream: parts are declared in [`Part::ALL`] order, so the
/// discriminant is the position (a test holds the two together); no
/// search per value on the decode path.
fn stream_of(part: Part) -> usize {
    1 + part as usize
}

struct Streams([Vec<u8>; STREAMS]);

/// Varints go to their streams; floats (the sum, min, max and sum of
/// squares) are left out, to be written near their predictions once the
/// buckets are known (see [`Predictions`]).
impl PartSink for Streams {
    fn varint(&mut self, part: Part, value: u64) {
        put_varint(&mut self.0[stream_of(part)], value);
    }

    fn float(&mut self, _: Part, _: f64) {}
}

struct StreamReaders<'a> {
    streams: [Reader<'a>; STREAMS],
    /// The buckets of the summary being read.
    sums: BucketSums,
}

/// Floats read as a placeholder, set afterwards from their streams once
/// the buckets have been summed for their predictions.
impl PartSource for StreamReaders<'_> {
    fn varint(&mut self, part: Part) -> Option<u64> {
        self.streams[stream_of(part)].varint()
    }

    fn float(&mut self, _: Part) -> Option<f64> {
        Some(0.0)
    }

    fn buckets(&mut self, negative: bool, offset: i32, occupied: &[(usize, u64)]) {
        // Below MAX_BUCKETS past an offset the decoder checked.
        let buckets = occupied
            .iter()
            .map(|&(position, count)| (offset.wrapping_add(position as i32), count));
        self.sums.add_all(negative, buckets);
    }
}

/// What the buckets alone say of a summary's exact floats. Every bucket's
/// values are within 1% of its representative value, so the min and max
/// are within 1% of their buckets', and the sum and sum of squares close
/// to what the representatives add up to: written as differences from
/// these, they take a byte or two each instead of three to six.
///
/// Computed with IEEE multiplication, division and addition only, in a
/// fixed order (no `powi`, `ln` or `exp`, whose last bits may differ
/// between platforms or releases): the reader must come to the same
/// predictions bit for bit, or the values it reads back would be off.
struct Predictions {
    sum: f64,
    min: f64,
    max: f64,
    sum_of_squares: f64,
}

/// `γ^index` by squaring: multiplications only.
fn gamma_power(gamma: f64, index: i32) -> f64 {
    let mut result = 1.0;
    let mut base = gamma;
    let mut exponent = index.unsigned_abs();
    while exponent > 0 {
        if exponent & 1 == 1 {
            result *= base;
        }
        base *= base;
        exponent >>= 1;
    }
    if index < 0 {
        1.0 / result
    } else {
        result
    }
}

/// Bucket indexes whose representative values are kept in a table: more
/// than real values reach (±2,100 covers 10^-9 to 10^18).
const TABLE_REACH: i32 = 2_200;

/// A bucket's representative value `2γ^i / (γ + 1)`, as [`Predictions`]
/// computes it. Looked up: a render decodes thousands of summaries.
fn representative(index: i32) -> f64 {
    representative_in(representatives(), index)
}

/// The table [`representative`] looks up, from index `-TABLE_REACH` on.
fn representatives() -> &'static [f64] {
    static TABLE: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (-TABLE_REACH..=TABLE_REACH)
            .map(compute_representative)
            .collect()
    })
}

fn representative_in(table: &[f64], index: i32) -> f64 {
    index
        .checked_add(TABLE_REACH)
        .and_then(|slot| usize::try_from(slot).ok())
        .and_then(|slot| table.get(slot).copied())
        .unwrap_or_else(|| compute_representative(index))
}

fn compute_representative(index: i32) -> f64 {
    let alpha = super::sketch::RELATIVE_ACCURACY;
    let gamma = (1.0 + alpha) / (1.0 - alpha);
    2.0 * gamma_power(gamma, index) / (gamma + 1.0)
}

impl Predictions {
    /// No prediction: each float written whole, as [`crate::varint::put_float`]
    /// would (the form of the first chunks written transposed).
    const NONE: Predictions = Predictions {
        sum: 0.0,
        min: 0.0,
        max: 0.0,
        sum_of_squares: 0.0,
    };
}

/// A summary's non-empty buckets, summed for its [`Predictions`] as they
/// come: positive ones by index, then negative ones by index. The writer
/// feeds them from the sketch, the reader as it decodes them (walking a
/// decoded sketch's whole range of buckets again, mostly empty, was a
/// sixth of what a render of timers cost); the order, and so every bit of
/// the sums, is the same.
#[derive(Debug, Default)]
struct BucketSums {
    sum: f64,
    sum_of_squares: f64,
    /// The first and last positive bucket index seen.
    positive: Option<(i32, i32)>,
    /// The first and last negative one (by magnitude).
    negative: Option<(i32, i32)>,
}

impl BucketSums {
    /// A sketch's buckets, as the writer sums them.
    fn of(sketch: &Sketch) -> BucketSums {
        let mut sums = BucketSums::default();
        sums.add_all(false, sketch.positive_buckets());
        sums.add_all(true, sketch.negative_buckets());
        sums
    }

    /// Adds a store's non-empty buckets, by index: the sums kept in
    /// registers and the table looked up once, since a render sums a
    /// sketch's buckets for every point it reads.
    fn add_all(&mut self, negative: bool, buckets: impl IntoIterator<Item = (i32, u64)>) {
        let table = representatives();
        // `s - x` is `s + (-x)` in IEEE arithmetic, bit for bit.
        let sign = if negative { -1.0 } else { 1.0 };
        let (mut sum, mut sum_of_squares) = (self.sum, self.sum_of_squares);
        let mut range: Option<(i32, i32)> = None;
        let mut last = 0;
        for (index, count) in buckets {
            let value = representative_in(table, index);
            sum += count as f64 * value * sign;
            sum_of_squares += count as f64 * value * value;
            if range.is_none() {
                range = Some((index, index));
            }
            last = index;
        }
        (self.sum, self.sum_of_squares) = (sum, sum_of_squares);
        let held = if negative {
            &mut self.negative
        } else {
            &mut self.positive
        };
        if let Some((first, _)) = range {
            *held = Some(held.map_or((first, last), |(earlier, _)| (earlier, last)));
        }
    }

    /// The lowest value is in the largest negative bucket, else zero, else
    /// the lowest positive bucket; the highest the other way round.
    fn predictions(&self, zero_count: u64) -> Predictions {
        let min = match (self.negative, self.positive) {
            (Some((_, largest)), _) => -representative(largest),
            _ if zero_count > 0 => 0.0,
            (None, Some((lowest, _))) => representative(lowest),
            (None, None) => 0.0,
        };
        let max = match (self.positive, self.negative) {
            (Some((_, highest)), _) => representative(highest),
            _ if zero_count > 0 => 0.0,
            (None, Some((smallest, _))) => -representative(smallest),
            (None, None) => 0.0,
        };
        Predictions {
            sum: self.sum,
            min,
            max,
            sum_of_squares: self.sum_of_squares,
        }
    }
}

/// How a transposed chunk stores the exact floats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Floats {
    /// Each as its difference from what the buckets predict: what is
    /// written.
    Predicted,
    /// Each whole: read, for chunks of the first release that transposed.
    Whole,
}

impl Floats {
    /// What the floats of a summary with these buckets are written near.
    fn predictions(self, sums: &BucketSums, zero_count: u64) -> Predictions {
        match self {
            Floats::Predicted => sums.predictions(zero_count),
            Floats::Whole => Predictions::NONE,
        }
    }
}

/// Appends `blobs` (each empty or an encoded [`TimerSummary`]) transposed
/// to `out`; `false`, with `out` unchanged, when a blob is neither.
pub fn transpose(blobs: &[Vec<u8>], floats: Floats, out: &mut Vec<u8>) -> bool {
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
        let predicted = floats.predictions(
            &BucketSums::of(&summary.sketch),
            summary.sketch.zero_count(),
        );
        let sketch = &summary.sketch;
        put_float_near(
            &mut streams.0[stream_of(Part::Sum)],
            sketch.sum(),
            predicted.sum,
        );
        if let (Some(min), Some(max)) = (sketch.min(), sketch.max()) {
            put_float_near(&mut streams.0[stream_of(Part::Min)], min, predicted.min);
            put_float_near(&mut streams.0[stream_of(Part::Max)], max, predicted.max);
        }
        put_float_near(
            &mut streams.0[stream_of(Part::SumOfSquares)],
            summary.sum_of_squares,
            predicted.sum_of_squares,
        );
    }
    for stream in &streams.0 {
        put_varint(out, stream.len() as u64);
        out.extend_from_slice(stream);
    }
    true
}

/// A chunk's transposed summaries, kept as stored: a read decodes them
/// one by one as it walks the points ([`Transposed::summaries`]). Making
/// a blob of each first, as reads once did, meant predicting, encoding
/// and then parsing every summary a second time: it doubled what a
/// full-resolution render of timers cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Transposed {
    /// Every stream, one after another, without their lengths.
    bytes: Box<[u8]>,
    /// Where each stream ends in `bytes`.
    ends: [usize; STREAMS],
    count: usize,
    floats: Floats,
}

/// Transposed summaries that do not read as [`transpose`] writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("transposed timer summaries are corrupt")]
pub struct CorruptSummaries;

impl Transposed {
    /// Frames what [`transpose`] wrote for `count` points: all of `bytes`,
    /// or `None`. The summaries themselves are checked as they are read.
    pub fn parse(bytes: &[u8], count: usize, floats: Floats) -> Option<Transposed> {
        let mut cursor = Reader::new(bytes);
        let mut joined = Vec::with_capacity(bytes.len());
        let mut ends = [0; STREAMS];
        for end in &mut ends {
            let len = usize::try_from(cursor.varint()?).ok()?;
            joined.extend_from_slice(cursor.bytes(len)?);
            *end = joined.len();
        }
        // A point takes at least a byte of the presence stream: a corrupt
        // count is refused before anything is sized by it.
        // Without points, there is nothing to read the streams' bytes.
        let unread = count == 0 && ends[STREAMS - 1] > 0;
        (cursor.is_done() && count <= ends[0] && !unread).then(|| Transposed {
            bytes: joined.into_boxed_slice(),
            ends,
            count,
            floats,
        })
    }

    /// Points, with a summary or without.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes held.
    pub fn stored_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Each point's summary in order (`None` for a point without one);
    /// an error ends the walk at the first that does not read.
    pub fn summaries(&self) -> Summaries<'_> {
        let mut start = 0;
        let streams = self.ends.map(|end| {
            let stream = self.bytes.get(start..end).unwrap_or_default();
            start = end;
            Reader::new(stream)
        });
        Summaries {
            readers: StreamReaders {
                streams,
                sums: BucketSums::default(),
            },
            floats: self.floats,
            left: self.count,
        }
    }

    /// Each point's blob as it was written (empty for a point without a
    /// summary): [`TimerSummary::encode_exact`] gives back the bytes that
    /// [`transpose`] took.
    pub fn blobs(&self) -> Result<Vec<Vec<u8>>, CorruptSummaries> {
        self.summaries()
            .map(|summary| Ok(summary?.map(|s| s.encode_exact()).unwrap_or_default()))
            .collect()
    }
}

/// The walk of [`Transposed::summaries`].
pub struct Summaries<'a> {
    readers: StreamReaders<'a>,
    floats: Floats,
    left: usize,
}

impl Summaries<'_> {
    fn read(&mut self) -> Option<Option<TimerSummary>> {
        let summary = match self.readers.streams[0].varint()? {
            0 => None,
            1 => {
                let readers = &mut self.readers;
                readers.sums = BucketSums::default();
                let mut summary = TimerSummary::read_parts(readers)?;
                let predicted = self
                    .floats
                    .predictions(&readers.sums, summary.sketch.zero_count());
                let streams = &mut readers.streams;
                let sum = streams[stream_of(Part::Sum)].float_near(predicted.sum)?;
                let range = if summary.sketch.count() > 0 {
                    let min = streams[stream_of(Part::Min)].float_near(predicted.min)?;
                    let max = streams[stream_of(Part::Max)].float_near(predicted.max)?;
                    Some((min, max))
                } else {
                    None
                };
                summary.sketch.set_exact(sum, range);
                summary.sum_of_squares =
                    streams[stream_of(Part::SumOfSquares)].float_near(predicted.sum_of_squares)?;
                Some(summary)
            }
            _ => return None,
        };
        // The last point must use up every stream: bytes left over mean
        // the streams were not what the count says.
        if self.left == 0 && !self.readers.streams.iter().all(Reader::is_done) {
            return None;
        }
        Some(summary)
    }
}

impl Iterator for Summaries<'_> {
    type Item = Result<Option<TimerSummary>, CorruptSummaries>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let read = self.read();
        if read.is_none() {
            // Nothing after a corrupt point can be trusted.
            self.left = 0;
        }
        Some(read.ok_or(CorruptSummaries))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads what [`transpose`] wrote for `count` points back into blobs:
    /// all of `bytes`, or `None`.
    fn untranspose(bytes: &[u8], count: usize, floats: Floats) -> Option<Vec<Vec<u8>>> {
        Transposed::parse(bytes, count, floats)?.blobs().ok()
    }

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
        for floats in [Floats::Predicted, Floats::Whole] {
            let mut out = vec![0xAA];
            assert!(transpose(&blobs, floats, &mut out));
            assert_eq!(out[0], 0xAA, "appends");
            let out = &out[1..];
            assert_eq!(untranspose(out, blobs.len(), floats), Some(blobs.clone()));
            // A count that does not match, a cut or an extra byte: refused.
            assert_eq!(untranspose(out, blobs.len() - 1, floats), None);
            assert_eq!(untranspose(out, blobs.len() + 1, floats), None);
            assert_eq!(
                untranspose(&out[..out.len() - 1], blobs.len(), floats),
                None
            );
            let mut longer = out.to_vec();
            longer.push(0);
            assert_eq!(untranspose(&longer, blobs.len(), floats), None);
        }
    }

    #[test]
    fn representatives_match_the_sketch_and_the_table_matches_the_computation() {
        let mut sketch = super::super::sketch::Sketch::new();
        for value in [1e-9, 0.001, 1.0, 12.345, 8e5, 1e18] {
            sketch.add(value, 1);
        }
        // The sketch's formula, with the platform's powi.
        let gamma: f64 = 1.01 / 0.99;
        for (index, _) in sketch.positive_buckets() {
            let ours = representative(index);
            let theirs = 2.0 * gamma.powi(index) / (gamma + 1.0);
            assert!(
                (ours - theirs).abs() <= theirs * 1e-12,
                "{index}: {ours} vs {theirs}"
            );
        }
        for index in [
            -TABLE_REACH - 5,
            -TABLE_REACH,
            -1,
            0,
            1,
            345,
            TABLE_REACH,
            TABLE_REACH + 3,
        ] {
            assert_eq!(
                representative(index).to_bits(),
                compute_representative(index).to_bits()
            );
        }
        // Far outside any real index: no panic, and no table slot.
        let _ = representative(i32::MAX);
        let _ = representative(i32::MIN);
    }

    #[test]
    fn the_walk_gives_the_summaries_and_stops_at_the_first_bad_one() {
        let samples: [&[f64]; 3] = [&[3.5, 120.0], &[], &[0.25]];
        let blobs: Vec<Vec<u8>> = samples
            .iter()
            .map(|s| if s.is_empty() { Vec::new() } else { summary(s) })
            .collect();
        let mut out = Vec::new();
        assert!(transpose(&blobs, Floats::Predicted, &mut out));
        let transposed = Transposed::parse(&out, blobs.len(), Floats::Predicted).unwrap();
        assert_eq!(transposed.len(), 3);
        let walked: Vec<Option<TimerSummary>> =
            transposed.summaries().map(Result::unwrap).collect();
        for (summary, blob) in walked.iter().zip(&blobs) {
            match summary {
                Some(summary) => assert_eq!(summary.encode_exact(), *blob),
                None => assert!(blob.is_empty()),
            }
        }
        assert_eq!(walked[0].as_ref().unwrap().sketch.max(), Some(120.0));
        // The presence stream's second entry (after its one-byte length
        // and the first entry) says neither "with" nor "without".
        assert_eq!(out[..3], [3, 1, 0]);
        out[2] = 2;
        let bad = Transposed::parse(&out, blobs.len(), Floats::Predicted).unwrap();
        let mut walk = bad.summaries();
        assert!(matches!(walk.next(), Some(Ok(Some(_)))));
        assert_eq!(walk.next(), Some(Err(CorruptSummaries)));
        assert_eq!(walk.next(), None, "nothing after a corrupt point");
        // Fewer points than the streams hold: the last one read says so.
        let short = Transposed::parse(&out, 1, Floats::Predicted).unwrap();
        assert_eq!(short.summaries().last(), Some(Err(CorruptSummaries)));
        // More points than the presence stream has bytes: refused at once.
        assert_eq!(Transposed::parse(&out, 4, Floats::Predicted), None);
    }

    /// Bytes the first release with predicted floats (00eb067) wrote for
    /// these summaries: the predictions must come out the same bit for bit
    /// in every later release, or stored values would read back wrong.
    const RELEASED: &str = "060101010101010605000502040606010001000000159b5600e0c5c94c07444444444444e43fcb3ff4fe49162a0711ea2d819997713d07343333333333d33fba052b13eb50e0c5c94c07555555555555d53f0394c3630c03010000020002000003060009fc0176c40177a7046b060101030101011300b801f40f0af1059402f6018e01b0015a9c01010023fea2d99a060007408cb5781daff5430714cf8a4602bec93f96c398a90696fff394910b";

    #[test]
    fn summaries_written_by_the_first_release_with_predictions_read_and_write_the_same() {
        let sets: [&[f64]; 6] = [
            &[12.345, 12.5, 80.001, 0.0, -3.25],
            &[],
            &[1e-12, 5e9, 7.0, 7.0, 7.0],
            &[0.1 + 0.2, 1.0 / 3.0],
            &[-0.004, -120.75, -7.5, -7.5],
            &[3.999, 250.123, 17.0, 0.333, 99.9, 1234.5678],
        ];
        let blobs: Vec<Vec<u8>> = sets.iter().map(|samples| summary(samples)).collect();
        let released: Vec<u8> = (0..RELEASED.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&RELEASED[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(
            untranspose(&released, blobs.len(), Floats::Predicted),
            Some(blobs.clone())
        );
        let mut written = Vec::new();
        assert!(transpose(&blobs, Floats::Predicted, &mut written));
        assert_eq!(written, released);
    }

    #[test]
    fn every_part_has_its_own_stream_in_declared_order() {
        for (position, &part) in Part::ALL.iter().enumerate() {
            assert_eq!(stream_of(part), position + 1, "{part:?}");
        }
    }

    #[test]
    fn a_blob_that_is_not_a_summary_is_not_transposed() {
        let mut out = vec![7];
        let good = summary(&[1.0, 2.0]);
        // Not a summary at all, and a summary with a trailing byte.
        let mut trailing = good.clone();
        trailing.push(0);
        for odd in [vec![1, 2, 3], trailing] {
            assert!(!transpose(
                &[good.clone(), odd],
                Floats::Predicted,
                &mut out
            ));
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
            for floats in [Floats::Predicted, Floats::Whole] {
                let mut out = Vec::new();
                proptest::prop_assert!(transpose(&blobs, floats, &mut out));
                proptest::prop_assert_eq!(untranspose(&out, blobs.len(), floats), Some(blobs.clone()));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200), count in 0usize..50) {
            let _ = untranspose(&bytes, count, Floats::Predicted);
            let _ = untranspose(&bytes, count, Floats::Whole);
        }
    }
}
