//! A mergeable quantile sketch (DDSketch, Masson, Rim and Lee, VLDB 2019).
//!
//! Every value `x > 0` falls into bucket `ceil(log_γ(x))`, with
//! `γ = (1 + α) / (1 - α)`; a bucket's representative value `2γ^i / (γ + 1)`
//! is within relative error `α` of every value in it. Negative values use a
//! mirrored store, and magnitudes below [`MIN_MAGNITUDE`] count as zero.
//! Merging adds bucket counts, so the quantiles of a merged sketch are the
//! quantiles of all values fed to its parts, within `α`: that is what makes
//! a p99.99 over a day of 10-second intervals right, where averaging the
//! intervals' percentiles is not.
//!
//! We write this ourselves: it sits on the hot path of every timer sample,
//! and its encoding is part of our storage format.

use crate::varint::{put_float, put_float_within, put_varint, unzigzag, zigzag, Reader};

/// Relative accuracy of every quantile: 1%.
pub const RELATIVE_ACCURACY: f64 = 0.01;
/// Magnitudes below this are counted in the zero bucket.
pub const MIN_MAGNITUDE: f64 = 1e-9;
/// How far a stored sum may be from the one added up, relative to it:
/// far below what adding in binary already rounds away (see
/// [`put_float_within`]).
pub const SUM_PRECISION: f64 = 1e-12;
/// Buckets a store may hold before the lowest ones are collapsed; with
/// α = 1% this covers 18 orders of magnitude, so real data never collapses.
const MAX_BUCKETS: usize = 2048;
/// First byte of the encoding: 2 is sparse (what [`Sketch::encode`]
/// writes), 1 the dense form of earlier releases, still read.
const ENCODING_VERSION: u8 = 2;
const DENSE_VERSION: u8 = 1;

/// γ and its logarithm for [`RELATIVE_ACCURACY`].
fn gamma() -> f64 {
    (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
}

/// Bucket counts over a contiguous range of indexes.
#[derive(Debug, Clone, Default, PartialEq)]
struct Store {
    /// Index of `counts[0]`.
    offset: i32,
    counts: Vec<u64>,
}

impl Store {
    fn add(&mut self, index: i32, count: u64) {
        if self.counts.is_empty() {
            self.offset = index;
            self.counts.push(count);
            return;
        }
        if index < self.offset {
            let grow = (self.offset - index) as usize;
            if self.counts.len() + grow > MAX_BUCKETS {
                // Collapse: the lowest buckets absorb what falls below them.
                self.counts[0] += count;
                return;
            }
            let mut counts = vec![0; grow];
            counts.append(&mut self.counts);
            self.counts = counts;
            self.offset = index;
        }
        let position = (index - self.offset) as usize;
        if position >= self.counts.len() {
            if position + 1 > MAX_BUCKETS {
                // Keep the top: drop the lowest buckets into their neighbour.
                let excess = position + 1 - MAX_BUCKETS;
                let collapsed: u64 = self.counts.iter().take(excess + 1).sum();
                self.counts.drain(..excess.min(self.counts.len()));
                if let Some(first) = self.counts.first_mut() {
                    *first = collapsed;
                }
                self.offset += excess as i32;
                return self.add(index, count);
            }
            self.counts.resize(position + 1, 0);
        }
        self.counts[position] += count;
    }

    /// Adds `other`'s counts: [`Store::add`] of each of its buckets, in
    /// one pass when the two ranges together fit in [`MAX_BUCKETS`] (a
    /// render merges a sketch per point into its bucket's: growing the
    /// range bucket by bucket, at the front a copy each time, was a fifth
    /// of what it cost).
    fn merge(&mut self, other: &Store) {
        let Some(other_end) = other.end() else {
            return;
        };
        let Some(end) = self.end() else {
            self.offset = other.offset;
            self.counts.clone_from(&other.counts);
            return;
        };
        let low = self.offset.min(other.offset);
        let high = end.max(other_end);
        let span = usize::try_from(i64::from(high) - i64::from(low)).unwrap_or(usize::MAX);
        if span > MAX_BUCKETS {
            // The collapsing rules of `add` decide what goes where.
            for (i, &count) in other.counts.iter().enumerate() {
                if count > 0 {
                    self.add(other.offset + i as i32, count);
                }
            }
            return;
        }
        let front = (self.offset - low) as usize;
        if front > 0 {
            self.counts.splice(0..0, std::iter::repeat_n(0, front));
        }
        self.counts.resize(span, 0);
        self.offset = low;
        let at = (other.offset - low) as usize;
        for (slot, &count) in self.counts[at..].iter_mut().zip(&other.counts) {
            *slot = slot.saturating_add(count);
        }
    }

    /// One past the highest index held; `None` when empty.
    fn end(&self) -> Option<i32> {
        (!self.counts.is_empty()).then(|| self.offset + self.counts.len() as i32)
    }

    /// Saturating: a corrupt store read from disk must not overflow.
    fn total(&self) -> u64 {
        self.counts
            .iter()
            .fold(0, |total, &c| total.saturating_add(c))
    }

    fn buckets(&self) -> impl DoubleEndedIterator<Item = (i32, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &count)| count > 0)
            .map(|(position, &count)| (self.offset + position as i32, count))
    }
}

/// A DDSketch with exact count, sum, min and max alongside.
#[derive(Debug, Clone, PartialEq)]
pub struct Sketch {
    positive: Store,
    negative: Store,
    zero: u64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Default for Sketch {
    fn default() -> Self {
        Sketch {
            positive: Store::default(),
            negative: Store::default(),
            zero: 0,
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

/// The fields of an encoded sketch (and of a timer summary around it), in
/// the order they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Count,
    Zero,
    Sum,
    Min,
    Max,
    /// Per store: how many buckets are not empty.
    Buckets,
    /// Per non-empty store: its first bucket's index (zigzag) and count.
    FirstIndex,
    FirstCount,
    /// Per further bucket: `(gap - 1) << 1 | (count > 1)`.
    Gap,
    /// Per further bucket holding more than one value: its count - 2.
    Extra,
    /// A timer summary's sum of squares, after the sketch.
    SumOfSquares,
}

impl Part {
    /// Every part, in a fixed order (the order of a chunk's streams).
    pub const ALL: [Part; 11] = [
        Part::Count,
        Part::Zero,
        Part::Sum,
        Part::Min,
        Part::Max,
        Part::Buckets,
        Part::FirstIndex,
        Part::FirstCount,
        Part::Gap,
        Part::Extra,
        Part::SumOfSquares,
    ];
}

/// Where an encoding's parts go.
pub trait PartSink {
    fn varint(&mut self, part: Part, value: u64);
    fn float(&mut self, part: Part, value: f64);
}

/// Where an encoding's parts come from; `None` past the end.
pub trait PartSource {
    fn varint(&mut self, part: Part) -> Option<u64>;
    fn float(&mut self, part: Part) -> Option<f64>;

    /// Told of a store's non-empty buckets once they are read, as their
    /// positions past `offset` and counts, in the order of
    /// [`Sketch::positive_buckets`] then [`Sketch::negative_buckets`]: a
    /// reader that needs them all once (see [`super::summary_columns`])
    /// need not walk the whole range of buckets, mostly empty, again.
    fn buckets(&mut self, _negative: bool, _offset: i32, _occupied: &[(usize, u64)]) {}
}

/// One buffer, parts one after another: sums are kept within
/// [`SUM_PRECISION`] of themselves, other floats bit for bit.
impl PartSink for Vec<u8> {
    fn varint(&mut self, _: Part, value: u64) {
        put_varint(self, value);
    }

    fn float(&mut self, part: Part, value: f64) {
        match part {
            Part::Sum | Part::SumOfSquares => put_float_within(self, value, SUM_PRECISION),
            _ => put_float(self, value),
        }
    }
}

/// One buffer, every float bit for bit, sums too: how a summary read back
/// from storage is written again, so that it reads back the same (a sum
/// kept within [`SUM_PRECISION`] of itself once could move again).
pub struct Exact<'a>(pub &'a mut Vec<u8>);

impl PartSink for Exact<'_> {
    fn varint(&mut self, _: Part, value: u64) {
        put_varint(self.0, value);
    }

    fn float(&mut self, _: Part, value: f64) {
        put_float(self.0, value);
    }
}

impl PartSource for Reader<'_> {
    fn varint(&mut self, _: Part) -> Option<u64> {
        Reader::varint(self)
    }

    fn float(&mut self, _: Part) -> Option<f64> {
        Reader::float(self)
    }
}

fn index_of(magnitude: f64) -> i32 {
    // ceil(log_γ(x)); magnitudes are ≥ MIN_MAGNITUDE and finite, so the
    // result is within ±2100 and the cast cannot truncate.
    (magnitude.ln() / gamma().ln()).ceil() as i32
}

fn value_of(index: i32) -> f64 {
    let gamma = gamma();
    2.0 * gamma.powi(index) / (gamma + 1.0)
}

impl Sketch {
    pub fn new() -> Sketch {
        Sketch::default()
    }

    /// Adds `value` `count` times. Non-finite values are ignored (the
    /// parsers refuse them before they get here).
    pub fn add(&mut self, value: f64, count: u64) {
        if !value.is_finite() || count == 0 {
            return;
        }
        if value > MIN_MAGNITUDE {
            self.positive.add(index_of(value), count);
        } else if value < -MIN_MAGNITUDE {
            self.negative.add(index_of(-value), count);
        } else {
            self.zero += count;
        }
        self.count += count;
        self.sum += value * count as f64;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Sketch) {
        if other.count == 0 {
            return;
        }
        self.positive.merge(&other.positive);
        self.negative.merge(&other.negative);
        self.zero += other.zero;
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// How many values were counted as zero.
    pub fn zero_count(&self) -> u64 {
        self.zero
    }

    /// The non-empty buckets of positive values, lowest first, as (index,
    /// count): values in bucket `i` are within [`RELATIVE_ACCURACY`] of
    /// `2γ^i / (γ + 1)`.
    pub fn positive_buckets(&self) -> impl DoubleEndedIterator<Item = (i32, u64)> + '_ {
        self.positive.buckets()
    }

    /// The same for negative values, by magnitude: bucket `i` holds values
    /// near `-2γ^i / (γ + 1)`.
    pub fn negative_buckets(&self) -> impl DoubleEndedIterator<Item = (i32, u64)> + '_ {
        self.negative.buckets()
    }

    /// Sets the exact sum, and the exact min and max when the sketch holds
    /// values: for readers that store those apart from the buckets.
    pub fn set_exact(&mut self, sum: f64, range: Option<(f64, f64)>) {
        self.sum = sum;
        if let (Some((min, max)), true) = (range, self.count > 0) {
            self.min = min;
            self.max = max;
        }
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// The smallest value added, exactly; `None` when empty.
    pub fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min)
    }

    /// The largest value added, exactly; `None` when empty.
    pub fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }

    /// The `q`-quantile (`0 ≤ q ≤ 1`) within relative error
    /// [`RELATIVE_ACCURACY`], clamped to the exact min and max; `None` when
    /// empty or `q` is out of range.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        // Nearest rank, as statsd and Graphite define percentiles: the
        // smallest value with at least q of all values at or below it.
        let rank = ((q * self.count as f64).ceil() as u64).saturating_sub(1);
        let negatives = self.negative.total();
        let estimate = if rank < negatives {
            // Negative store: walk from the most negative (highest index).
            let mut seen = 0;
            let mut found = 0.0;
            for (i, &c) in self.negative.counts.iter().enumerate().rev() {
                seen += c;
                if seen > rank {
                    found = -value_of(self.negative.offset + i as i32);
                    break;
                }
            }
            found
        } else if rank < negatives + self.zero {
            0.0
        } else {
            let mut seen = negatives + self.zero;
            let mut found = self.max;
            for (i, &c) in self.positive.counts.iter().enumerate() {
                seen += c;
                if seen > rank {
                    found = value_of(self.positive.offset + i as i32);
                    break;
                }
            }
            found
        };
        Some(estimate.clamp(self.min, self.max))
    }

    /// A compact binary form, all integers varints:
    /// ```text
    /// version:u8  count  zero_count  sum  [min  max when count > 0]
    /// per store (positive, then negative):
    ///   buckets (how many are not empty), then when > 0:
    ///   first index (zigzag)  first count
    ///   per further bucket: (gap - 1) << 1 | (count > 1), [count - 2]
    /// ```
    /// Floats are [`put_float`]s: a latency of 12.345 ms takes 3 bytes;
    /// the sum is kept within [`SUM_PRECISION`] of itself, so a sum of
    /// decimals is a short decimal too.
    /// Only non-empty buckets are written and a bucket holding one value
    /// costs one byte when it is within 64 buckets of the previous one:
    /// an interval's few dozen samples spread over a couple of hundred
    /// buckets, so a dense run of counts would be mostly zeros.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(ENCODING_VERSION);
        self.write_parts(out);
    }

    /// Like [`Sketch::encode`], with every float bit for bit (see
    /// [`Exact`]).
    pub fn encode_exact(&self, out: &mut Vec<u8>) {
        out.push(ENCODING_VERSION);
        self.write_parts(&mut Exact(out));
    }

    /// The encoding's parts, in order, without the version byte: into one
    /// buffer for [`Sketch::encode`], or a stream per part for a chunk of
    /// many sketches (see [`super::summary_columns`]).
    pub fn write_parts(&self, sink: &mut impl PartSink) {
        sink.varint(Part::Count, self.count);
        sink.varint(Part::Zero, self.zero);
        sink.float(Part::Sum, self.sum);
        if self.count > 0 {
            sink.float(Part::Min, self.min);
            sink.float(Part::Max, self.max);
        }
        for store in [&self.positive, &self.negative] {
            encode_sparse(sink, store);
        }
    }

    /// Reads what [`Sketch::write_parts`] wrote; `None` for anything
    /// malformed or inconsistent (bucket counts that do not add up).
    pub fn read_parts(source: &mut impl PartSource) -> Option<Sketch> {
        decode_sparse_sketch(source)
    }

    fn is_consistent(&self) -> bool {
        let total = self
            .positive
            .total()
            .checked_add(self.negative.total())
            .and_then(|t| t.checked_add(self.zero));
        total == Some(self.count)
    }

    /// Reads what [`Sketch::encode`] (or an earlier release's dense form)
    /// wrote; returns the sketch and the bytes it used, or `None` for
    /// anything malformed.
    pub fn decode(bytes: &[u8]) -> Option<(Sketch, usize)> {
        let mut cursor = Reader::new(bytes);
        let sketch = match cursor.byte()? {
            // Checked as it is read.
            ENCODING_VERSION => decode_sparse_sketch(&mut cursor)?,
            DENSE_VERSION => decode_dense_sketch(&mut cursor).filter(Sketch::is_consistent)?,
            _ => return None,
        };
        Some((sketch, cursor.position()))
    }
}

#[cfg(test)]
impl Sketch {
    /// The dense form of earlier releases, which [`Sketch::decode`] still
    /// reads: for tests of that reading.
    pub(crate) fn encode_dense(&self, out: &mut Vec<u8>) {
        out.push(DENSE_VERSION);
        put_varint(out, self.count);
        out.extend_from_slice(&self.sum.to_le_bytes());
        out.extend_from_slice(&self.min.to_le_bytes());
        out.extend_from_slice(&self.max.to_le_bytes());
        put_varint(out, self.zero);
        for store in [&self.positive, &self.negative] {
            put_varint(out, zigzag(i64::from(store.offset)));
            put_varint(out, store.counts.len() as u64);
            for &count in &store.counts {
                put_varint(out, count);
            }
        }
    }
}

fn encode_sparse(sink: &mut impl PartSink, store: &Store) {
    let buckets = store.counts.iter().filter(|&&count| count > 0).count();
    sink.varint(Part::Buckets, buckets as u64);
    let mut previous: Option<i64> = None;
    for (position, &count) in store.counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let index = i64::from(store.offset) + position as i64;
        match previous {
            None => {
                sink.varint(Part::FirstIndex, zigzag(index));
                sink.varint(Part::FirstCount, count);
            }
            Some(before) => {
                let gap = (index - before - 1) as u64;
                sink.varint(Part::Gap, (gap << 1) | u64::from(count > 1));
                if count > 1 {
                    sink.varint(Part::Extra, count - 2);
                }
            }
        }
        previous = Some(index);
    }
}

/// A store's buckets and their total.
fn decode_sparse(source: &mut impl PartSource, negative: bool) -> Option<(Store, u64)> {
    let buckets = usize::try_from(source.varint(Part::Buckets)?).ok()?;
    if buckets == 0 {
        return Some((Store::default(), 0));
    }
    if buckets > MAX_BUCKETS {
        return None;
    }
    let offset = i32::try_from(unzigzag(source.varint(Part::FirstIndex)?)).ok()?;
    let first = source.varint(Part::FirstCount)?;
    let mut total = first;
    // The non-empty buckets first, by position: the dense range is then
    // allocated once at its size, where growing it bucket by bucket
    // reallocated and copied it over and over (a render decodes a sketch
    // per point).
    let mut occupied = Vec::with_capacity(buckets);
    occupied.push((0usize, first));
    let mut position = 0usize;
    for _ in 1..buckets {
        let word = source.varint(Part::Gap)?;
        let gap = usize::try_from(word >> 1).ok()?;
        let count = if word & 1 == 1 {
            source.varint(Part::Extra)?.checked_add(2)?
        } else {
            1
        };
        position = position.checked_add(gap)?.checked_add(1)?;
        if position >= MAX_BUCKETS {
            return None;
        }
        occupied.push((position, count));
        total = total.checked_add(count)?;
    }
    // The last index must fit where `index_of` can put one.
    i32::try_from(i64::from(offset) + position as i64 + 1).ok()?;
    source.buckets(negative, offset, &occupied);
    let mut counts = vec![0; position + 1];
    for (at, count) in occupied {
        if let Some(slot) = counts.get_mut(at) {
            *slot = count;
        }
    }
    Some((Store { offset, counts }, total))
}

/// A sketch's parts; `None` for anything malformed or inconsistent (bucket
/// counts that do not add up).
fn decode_sparse_sketch(source: &mut impl PartSource) -> Option<Sketch> {
    let count = source.varint(Part::Count)?;
    let zero = source.varint(Part::Zero)?;
    let sum = source.float(Part::Sum)?;
    let (min, max) = if count > 0 {
        (source.float(Part::Min)?, source.float(Part::Max)?)
    } else {
        (f64::INFINITY, f64::NEG_INFINITY)
    };
    let (positive, positive_total) = decode_sparse(source, false)?;
    let (negative, negative_total) = decode_sparse(source, true)?;
    let total = positive_total
        .checked_add(negative_total)?
        .checked_add(zero)?;
    (total == count).then_some(Sketch {
        positive,
        negative,
        zero,
        count,
        sum,
        min,
        max,
    })
}

fn decode_dense_sketch(cursor: &mut Reader<'_>) -> Option<Sketch> {
    let count = cursor.varint()?;
    let sum = cursor.f64()?;
    let min = cursor.f64()?;
    let max = cursor.f64()?;
    let zero = cursor.varint()?;
    let mut stores = [Store::default(), Store::default()];
    for store in &mut stores {
        let offset = i32::try_from(unzigzag(cursor.varint()?)).ok()?;
        let len = usize::try_from(cursor.varint()?).ok()?;
        if len > MAX_BUCKETS {
            return None;
        }
        store.offset = offset;
        store.counts = (0..len).map(|_| cursor.varint()).collect::<Option<_>>()?;
    }
    let [positive, negative] = stores;
    Some(Sketch {
        positive,
        negative,
        zero,
        count,
        sum,
        min,
        max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact nearest-rank quantile the sketch promises to approximate.
    fn exact(sorted: &[f64], q: f64) -> f64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).saturating_sub(1);
        sorted[rank]
    }

    fn assert_close(estimate: f64, truth: f64) {
        let tolerance = RELATIVE_ACCURACY * truth.abs() + 1e-12;
        assert!(
            (estimate - truth).abs() <= tolerance,
            "estimate {estimate} vs exact {truth}"
        );
    }

    #[test]
    fn quantiles_of_a_long_tail_are_within_one_percent() {
        // A latency-like distribution: mostly fast, a long slow tail.
        let mut values: Vec<f64> = (0..100_000u32)
            .map(|i| {
                let u = (f64::from(i) + 0.5) / 100_000.0;
                5.0 * (-(1.0 - u).ln()).powf(1.5) + 0.1
            })
            .collect();
        let mut sketch = Sketch::new();
        for &v in &values {
            sketch.add(v, 1);
        }
        values.sort_by(f64::total_cmp);
        for q in [0.0, 0.01, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0] {
            assert_close(sketch.quantile(q).unwrap(), exact(&values, q));
        }
        assert_eq!(sketch.min(), Some(values[0]));
        assert_eq!(sketch.max(), Some(values[values.len() - 1]));
    }

    #[test]
    fn merged_sketches_answer_for_all_their_values() {
        // Two very different intervals: averaging their p99s would be wrong.
        let mut quiet = Sketch::new();
        let mut busy = Sketch::new();
        let mut all = Vec::new();
        for i in 0..1000 {
            let v = 10.0 + f64::from(i % 10);
            quiet.add(v, 1);
            all.push(v);
        }
        for i in 0..9000 {
            let v = 200.0 + f64::from(i % 300);
            busy.add(v, 1);
            all.push(v);
        }
        let mut merged = quiet.clone();
        merged.merge(&busy);
        all.sort_by(f64::total_cmp);
        assert_eq!(merged.count(), 10_000);
        for q in [0.05, 0.5, 0.99] {
            assert_close(merged.quantile(q).unwrap(), exact(&all, q));
        }
    }

    #[test]
    fn negatives_zeros_and_weights() {
        let mut sketch = Sketch::new();
        sketch.add(-100.0, 2);
        sketch.add(0.0, 1);
        sketch.add(50.0, 1);
        assert_eq!(sketch.count(), 4);
        assert_eq!(sketch.sum(), -150.0);
        assert_close(sketch.quantile(0.0).unwrap(), -100.0);
        assert_eq!(sketch.quantile(0.6).unwrap(), 0.0);
        assert_close(sketch.quantile(1.0).unwrap(), 50.0);
        assert_eq!(Sketch::new().quantile(0.5), None);
    }

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        let mut sketch = Sketch::new();
        for i in 1..500 {
            sketch.add(f64::from(i) * 1.7, 1);
            sketch.add(-f64::from(i), 1);
        }
        let mut bytes = Vec::new();
        sketch.encode(&mut bytes);
        let (decoded, used) = Sketch::decode(&bytes).unwrap();
        assert_same(&decoded, &sketch);
        assert_eq!(used, bytes.len());
        assert!(Sketch::decode(&bytes[..bytes.len() - 1]).is_none());
        assert!(Sketch::decode(&[9, 1, 2]).is_none());
        let mut empty = Vec::new();
        Sketch::new().encode(&mut empty);
        assert_eq!(empty.len(), 6);
        assert_eq!(Sketch::decode(&empty), Some((Sketch::new(), empty.len())));
    }

    /// An interval of a service's timer: a few dozen log-normal latencies
    /// in ms with microsecond precision.
    fn latency_interval(samples: u32, seed: u32) -> Sketch {
        let mut sketch = Sketch::new();
        for i in 0..samples {
            let u = (f64::from((i * 7919 + seed * 104_729) % 1000) + 0.5) / 1000.0;
            let spread = (u / (1.0 - u)).ln() * 0.4;
            sketch.add((40.0 * spread.exp() * 1000.0).round() / 1000.0, 1);
        }
        sketch
    }

    #[test]
    fn the_sparse_form_of_a_latency_interval_is_a_third_of_the_dense_one() {
        let sketch = latency_interval(30, 1);
        let (mut sparse, mut dense) = (Vec::new(), Vec::new());
        sketch.encode(&mut sparse);
        sketch.encode_dense(&mut dense);
        assert!(
            sparse.len() * 3 <= dense.len(),
            "sparse {} bytes, dense {} bytes",
            sparse.len(),
            dense.len()
        );
        let (decoded, used) = Sketch::decode(&sparse).unwrap();
        assert_same(&decoded, &sketch);
        assert_eq!(used, sparse.len());
    }

    /// Equal but for the sum, which may differ by its rounding noise.
    fn assert_same(decoded: &Sketch, original: &Sketch) {
        assert!((decoded.sum - original.sum).abs() <= original.sum.abs() * SUM_PRECISION);
        let with_sum = Sketch {
            sum: original.sum,
            ..decoded.clone()
        };
        assert_eq!(&with_sum, original);
    }

    #[test]
    fn the_dense_form_of_earlier_releases_is_still_read() {
        for sketch in [latency_interval(500, 2), Sketch::new(), {
            let mut mixed = Sketch::new();
            mixed.add(-3.5, 2);
            mixed.add(0.0, 1);
            mixed.add(1e6, 3);
            mixed
        }] {
            let mut dense = Vec::new();
            sketch.encode_dense(&mut dense);
            assert_eq!(Sketch::decode(&dense), Some((sketch, dense.len())));
        }
    }

    proptest::proptest! {
        #[test]
        fn any_values_quantiles_stay_within_accuracy(values in proptest::collection::vec(-1e6f64..1e6, 1..300), q in 0.0f64..=1.0) {
            let mut sketch = Sketch::new();
            for &v in &values {
                sketch.add(v, 1);
            }
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let truth = exact(&sorted, q);
            let estimate = sketch.quantile(q).unwrap();
            let tolerance = RELATIVE_ACCURACY * truth.abs() + 2.0 * MIN_MAGNITUDE;
            proptest::prop_assert!((estimate - truth).abs() <= tolerance, "q {} estimate {} exact {}", q, estimate, truth);
        }

        #[test]
        fn merging_in_one_pass_is_adding_bucket_by_bucket(
            a in proptest::collection::vec((-3000i32..3000, 1u64..5), 0..40),
            b in proptest::collection::vec((-3000i32..3000, 1u64..5), 0..40),
            near in proptest::bool::ANY,
        ) {
            // Near: ranges that fit together, merged in one pass; else
            // often too wide, where `add` collapses.
            let spread = |index: i32| if near { index / 8 } else { index };
            let mut store = Store::default();
            for &(index, count) in &a {
                store.add(spread(index), count);
            }
            let mut other = Store::default();
            for &(index, count) in &b {
                other.add(spread(index), count);
            }
            let mut expected = store.clone();
            for (index, count) in other.buckets() {
                expected.add(index, count);
            }
            store.merge(&other);
            proptest::prop_assert_eq!(store.buckets().collect::<Vec<_>>(), expected.buckets().collect::<Vec<_>>());
            proptest::prop_assert_eq!(store.total(), expected.total());
        }

        #[test]
        fn any_sketch_round_trips(values in proptest::collection::vec((-1e9f64..1e9, 1u64..5), 0..200), merged in 0usize..3) {
            let mut sketch = Sketch::new();
            for &(v, count) in &values {
                sketch.add(v, count);
            }
            for _ in 0..merged {
                let copy = sketch.clone();
                sketch.merge(&copy);
            }
            let mut bytes = Vec::new();
            sketch.encode(&mut bytes);
            let (decoded, used) = Sketch::decode(&bytes).unwrap();
            proptest::prop_assert_eq!(used, bytes.len());
            proptest::prop_assert_eq!(decoded.count(), sketch.count());
            proptest::prop_assert!((decoded.sum() - sketch.sum()).abs() <= sketch.sum().abs() * SUM_PRECISION);
            proptest::prop_assert_eq!((decoded.min(), decoded.max()), (sketch.min(), sketch.max()));
            for q in [0.0, 0.25, 0.5, 0.99, 1.0] {
                proptest::prop_assert_eq!(decoded.quantile(q), sketch.quantile(q));
            }
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..100)) {
            let _ = Sketch::decode(&bytes);
        }
    }
}
