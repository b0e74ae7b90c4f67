//! Metrics: StatsD aggregation, quantile sketches, and the series they feed.
//!
//! # Layout
//! - [`sketch`]: the mergeable quantile sketch (DDSketch, 1% relative error)
//! - [`aggregate`]: one flush interval of StatsD samples, statsd-style
//! - [`pipeline`]: the writer task that flushes intervals and carbon points

pub mod aggregate;
pub mod pipeline;
pub mod sketch;

use sketch::Sketch;

/// What a timer point stores beside its scaled count: the interval's
/// sketch (count, sum, min, max and quantiles) and the sum of squares for
/// the standard deviation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimerSummary {
    pub sum_of_squares: f64,
    pub sketch: Sketch,
}

impl TimerSummary {
    /// `sum_of_squares` (8 bytes, little endian), then the sketch.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&self.sum_of_squares.to_le_bytes());
        self.sketch.encode(&mut out);
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<TimerSummary> {
        let sum_of_squares = f64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
        let (sketch, _) = Sketch::decode(bytes.get(8..)?)?;
        Some(TimerSummary {
            sum_of_squares,
            sketch,
        })
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
mod tests {
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
}
