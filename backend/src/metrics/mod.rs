//! Metrics: StatsD aggregation, quantile sketches, and the series they feed.
//!
//! # Layout
//! - [`sketch`]: the mergeable quantile sketch (DDSketch, 1% relative error)
//! - [`summary_columns`]: a chunk's timer summaries stored part by part
//! - [`aggregate`]: one flush interval of StatsD samples, statsd-style
//! - [`pipeline`]: the writer task that flushes intervals and carbon points

pub mod aggregate;
pub mod pipeline;
pub mod sketch;
pub mod summary_columns;

use sketch::{Part, PartSink, PartSource, Sketch};

/// What a timer point stores beside its scaled count: the interval's
/// sketch (count, sum, min, max and quantiles) and the sum of squares for
/// the standard deviation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimerSummary {
    pub sum_of_squares: f64,
    pub sketch: Sketch,
}

impl TimerSummary {
    /// The sketch ([`Sketch::encode`]), then `sum_of_squares` as a
    /// [`crate::varint::put_float_within`] of [`sketch::SUM_PRECISION`].
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.sketch.encode(&mut out);
        out.float(Part::SumOfSquares, self.sum_of_squares);
        out
    }

    /// Like [`TimerSummary::encode`], with every float bit for bit: the
    /// encoding of a summary that was read back from storage.
    pub fn encode_exact(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.sketch.encode_exact(&mut out);
        sketch::Exact(&mut out).float(Part::SumOfSquares, self.sum_of_squares);
        out
    }

    /// The sketch's parts, then the sum of squares (see
    /// [`Sketch::write_parts`]).
    pub fn write_parts(&self, sink: &mut impl PartSink) {
        self.sketch.write_parts(sink);
        sink.float(Part::SumOfSquares, self.sum_of_squares);
    }

    /// Reads what [`TimerSummary::write_parts`] wrote.
    pub fn read_parts(source: &mut impl PartSource) -> Option<TimerSummary> {
        let sketch = Sketch::read_parts(source)?;
        let sum_of_squares = source.float(Part::SumOfSquares)?;
        Some(TimerSummary {
            sum_of_squares,
            sketch,
        })
    }

    /// Reads what [`TimerSummary::encode`] wrote, all of it; `None` for
    /// anything else.
    pub fn decode(bytes: &[u8]) -> Option<TimerSummary> {
        let (sketch, used) = Sketch::decode(bytes)?;
        let mut rest = crate::varint::Reader::new(bytes.get(used..)?);
        let sum_of_squares = rest.float()?;
        rest.is_done().then_some(TimerSummary {
            sum_of_squares,
            sketch,
        })
    }

    /// Reads the form of earlier releases, which metric chunks of version
    /// 2 and metric log records of version 1 hold: `sum_of_squares` as 8
    /// bytes little endian, then the sketch.
    pub fn decode_legacy(bytes: &[u8]) -> Option<TimerSummary> {
        let sum_of_squares = f64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
        let (sketch, _) = Sketch::decode(bytes.get(8..)?)?;
        Some(TimerSummary {
            sum_of_squares,
            sketch,
        })
    }

    /// A summary of an earlier release's form in today's form. Empty when
    /// it is empty (a rollup point without one) or not a summary: readers
    /// treat both as "no summary", as they did before.
    pub fn upgrade_legacy(bytes: &[u8]) -> Vec<u8> {
        Self::decode_legacy(bytes).map_or_else(Vec::new, |summary| summary.encode())
    }

    pub fn merge(&mut self, other: &TimerSummary) {
        self.sum_of_squares += other.sum_of_squares;
        self.sketch.merge(&other.sketch);
    }

    /// Population standard deviation of the samples.
    pub fn std_dev(&self) -> Option<f64> {
        let count = self.sketch.count();
        if count == 0 {
            return None;
        }
        let n = count as f64;
        let mean = self.sketch.sum() / n;
        Some((self.sum_of_squares / n - mean * mean).max(0.0).sqrt())
    }
}

/// A series' identity: its Graphite name and its tags in canonical order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    pub name: String,
    /// Sorted by tag name; one value per name (the last one given wins).
    pub tags: Vec<(String, String)>,
}

impl SeriesKey {
    pub fn new(name: String, tags: impl IntoIterator<Item = (String, String)>) -> SeriesKey {
        let mut tags: Vec<(String, String)> = tags.into_iter().collect();
        // Stable sort, then keep the last value of each name.
        tags.sort_by(|a, b| a.0.cmp(&b.0));
        let mut canonical: Vec<(String, String)> = Vec::with_capacity(tags.len());
        for (name, value) in tags {
            match canonical.last_mut() {
                Some(last) if last.0 == name => last.1 = value,
                _ => canonical.push((name, value)),
            }
        }
        SeriesKey {
            name,
            tags: canonical,
        }
    }

    /// Tags as Graphite writes them after the name: `k=v;k2=v2` (empty when
    /// untagged).
    pub fn tags_text(&self) -> String {
        let pairs: Vec<String> = self.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pairs.join(";")
    }

    /// Parses [`SeriesKey::tags_text`] back.
    pub fn parse_tags_text(text: &str) -> Vec<(String, String)> {
        text.split(';')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn tags_are_sorted_and_last_value_wins() {
        let key = SeriesKey::new(
            "a".into(),
            [("z", "1"), ("b", "2"), ("z", "3")].map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        assert_eq!(key.tags_text(), "b=2;z=3");
        assert_eq!(SeriesKey::parse_tags_text(&key.tags_text()), key.tags);
    }

    /// A timer interval's summary as this release writes it, and in the
    /// form of earlier releases.
    pub(crate) fn summary_and_legacy_bytes() -> (TimerSummary, Vec<u8>) {
        let mut summary = TimerSummary::default();
        // Sums of these are exact in binary: the forms compare equal.
        for ms in [12.5, 8.25, 250.5, 12.5, 0.0, 40.25] {
            summary.sketch.add(ms, 1);
            summary.sum_of_squares += ms * ms;
        }
        let mut legacy = summary.sum_of_squares.to_le_bytes().to_vec();
        summary.sketch.encode_dense(&mut legacy);
        (summary, legacy)
    }

    #[test]
    fn summaries_round_trip_and_earlier_ones_upgrade() {
        let (summary, legacy) = summary_and_legacy_bytes();
        let bytes = summary.encode();
        assert!(bytes.len() < legacy.len());
        assert_eq!(TimerSummary::decode(&bytes), Some(summary.clone()));
        assert_eq!(TimerSummary::decode(&bytes[..bytes.len() - 1]), None);
        assert_eq!(
            TimerSummary::decode(&[bytes.as_slice(), &[0]].concat()),
            None
        );
        assert_eq!(TimerSummary::decode_legacy(&legacy), Some(summary.clone()));
        assert_eq!(TimerSummary::upgrade_legacy(&legacy), bytes);
        assert!(TimerSummary::upgrade_legacy(&[]).is_empty());
        assert!(TimerSummary::upgrade_legacy(&[1, 2, 3]).is_empty());
    }
}
