//! StatsD aggregation over one flush interval, as statsd does it, plus a
//! quantile sketch per timer so percentiles stay right across intervals.
//!
//! Pure: no I/O, no clock. The listener calls [`Aggregator::add_line`] per
//! parsed line; the flusher calls [`Aggregator::take_interval`] every flush
//! interval and gets everything accumulated since the last call.
//!
//! Keys: within an interval, samples are grouped by kind, name and the raw
//! tag text, which is cheap to look up without allocating (clients send
//! their tags in a fixed order). Tags are put in canonical order once per
//! key at flush, where two spellings of the same tag set merge.

use std::collections::{HashMap, HashSet};

use partout_protocols::statsd::{sanitize_name, Kind, StatsdLine, Value};

use super::sketch::Sketch;
use super::SeriesKey;

/// Distinct members kept per set per interval.
pub const MAX_SET_MEMBERS: usize = 100_000;

/// Limits that keep one interval's memory bounded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Distinct keys (kind + name + tags) per interval.
    pub max_keys: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_keys: 200_000 }
    }
}

/// Why a parsed line was not aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The interval already holds `max_keys` distinct keys.
    TooManyKeys,
}

impl Refused {
    pub fn reason(self) -> &'static str {
        match self {
            Refused::TooManyKeys => "interval_key_limit",
        }
    }
}

/// A timer's (or histogram's, or distribution's) interval.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimerInterval {
    /// Samples divided by their sample rate: the estimated true count.
    pub scaled_count: f64,
    /// Every sample once (not scaled), with exact count, sum, min, max;
    /// percentiles come from it, within its 1% relative error.
    pub sketch: Sketch,
    /// Sum of squares of the samples, for the standard deviation.
    pub sum_of_squares: f64,
}

/// Everything one interval produced, keyed by canonical series.
#[derive(Debug, Default, PartialEq)]
pub struct Interval {
    /// Counter totals, scaled by sample rate.
    pub counters: Vec<(SeriesKey, f64)>,
    pub timers: Vec<(SeriesKey, TimerInterval)>,
    /// Gauges that were set during the interval, with their current value.
    /// Gauges keep their value across intervals, as in statsd.
    pub gauges: Vec<(SeriesKey, f64)>,
    /// Unique members seen per set.
    pub sets: Vec<(SeriesKey, u64)>,
    /// Keys dropped because their name is empty once made Graphite-safe.
    pub refused_names: u64,
}

/// Accumulates one interval of StatsD samples.
#[derive(Debug, Default)]
pub struct Aggregator {
    limits: Limits,
    counters: HashMap<String, f64>,
    timers: HashMap<String, TimerInterval>,
    sets: HashMap<String, HashSet<String>>,
    /// Gauge values survive intervals; `true` when set in this interval.
    gauges: HashMap<String, (f64, bool)>,
    /// Scratch space for building lookup keys without allocating.
    key: String,
}

impl Aggregator {
    pub fn new(limits: Limits) -> Aggregator {
        Aggregator {
            limits,
            ..Aggregator::default()
        }
    }

    fn keys_in_interval(&self) -> usize {
        self.counters.len() + self.timers.len() + self.sets.len() + self.gauges.len()
    }

    /// Adds one parsed line.
    pub fn add_line(&mut self, line: &StatsdLine<'_>) -> Result<(), Refused> {
        self.key.clear();
        self.key.push_str(line.name);
        self.key.push('\u{0}');
        self.key.push_str(line.raw_tags());
        let full = self.keys_in_interval() >= self.limits.max_keys;
        let weight = 1.0 / line.sample_rate;
        match line.kind {
            // A meter's marks are a count over the interval; its rate per
            // second is the counter's.
            Kind::Counter | Kind::Meter => {
                let slot = entry(&mut self.counters, &self.key, full)?;
                for value in line.values() {
                    if let Value::Number(n) = value {
                        *slot += n * weight;
                    }
                }
            }
            Kind::Timer | Kind::Histogram | Kind::Distribution => {
                let slot = entry(&mut self.timers, &self.key, full)?;
                for value in line.values() {
                    if let Value::Number(n) = value {
                        slot.scaled_count += weight;
                        slot.sketch.add(n, 1);
                        slot.sum_of_squares += n * n;
                    }
                }
            }
            Kind::Gauge => {
                let slot = entry(&mut self.gauges, &self.key, full)?;
                for value in line.values() {
                    match value {
                        Value::Number(n) => slot.0 = n,
                        Value::GaugeDelta(d) => slot.0 += d,
                        Value::SetMember(_) => {}
                    }
                    slot.1 = true;
                }
            }
            Kind::Set => {
                let slot = entry(&mut self.sets, &self.key, full)?;
                for value in line.values() {
                    if let Value::SetMember(member) = value {
                        if slot.len() < MAX_SET_MEMBERS && !slot.contains(member) {
                            slot.insert(member.to_owned());
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Takes what the interval accumulated and starts the next one. Gauges
    /// keep their values (only those set since the last call are returned).
    pub fn take_interval(&mut self) -> Interval {
        let mut refused = 0;
        let mut interval = Interval {
            counters: merged(
                std::mem::take(&mut self.counters),
                "stats.counters.",
                &mut refused,
                |a, b| *a += b,
            ),
            timers: merged(
                std::mem::take(&mut self.timers),
                "stats.timers.",
                &mut refused,
                merge_timers,
            ),
            sets: merged(
                std::mem::take(&mut self.sets)
                    .into_iter()
                    .map(|(k, members)| (k, members.len() as u64)),
                "stats.sets.",
                &mut refused,
                |a, b| *a += b,
            ),
            gauges: Vec::new(),
            refused_names: 0,
        };
        let touched = self
            .gauges
            .iter_mut()
            .filter_map(|(key, (value, touched))| {
                std::mem::take(touched).then(|| (key.clone(), *value))
            });
        interval.gauges = merged(touched, "stats.gauges.", &mut refused, |a, b| *a = b);
        interval.refused_names = refused;
        interval
    }
}

/// Canonicalizes keys under `prefix`, merging those that turn out equal
/// (the same tags in another order); counts names that sanitize to nothing.
fn merged<V>(
    entries: impl IntoIterator<Item = (String, V)>,
    prefix: &str,
    refused: &mut u64,
    merge: impl Fn(&mut V, V),
) -> Vec<(SeriesKey, V)> {
    let mut out: HashMap<SeriesKey, V> = HashMap::new();
    for (key, value) in entries {
        let Some(series) = series_key(prefix, &key) else {
            *refused += 1;
            continue;
        };
        match out.entry(series) {
            std::collections::hash_map::Entry::Occupied(mut slot) => merge(slot.get_mut(), value),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(value);
            }
        }
    }
    out.into_iter().collect()
}

/// The slot for `key`, created if there is room.
fn entry<'m, V: Default>(
    map: &'m mut HashMap<String, V>,
    key: &str,
    full: bool,
) -> Result<&'m mut V, Refused> {
    // Look up by &str first so the common case allocates nothing.
    if map.contains_key(key) {
        return map.get_mut(key).ok_or(Refused::TooManyKeys);
    }
    if full {
        return Err(Refused::TooManyKeys);
    }
    Ok(map.entry(key.to_owned()).or_default())
}

/// `name\0raw_tags` into the canonical series key under `prefix`; `None`
/// when the name is empty once made Graphite-safe.
fn series_key(prefix: &str, key: &str) -> Option<SeriesKey> {
    let (name, raw_tags) = key.split_once('\u{0}').unwrap_or((key, ""));
    let name = sanitize_name(name);
    if name.trim_matches('.').is_empty() {
        return None;
    }
    let tags = raw_tags
        .split(',')
        .filter(|tag| !tag.is_empty())
        .map(|tag| tag.split_once(':').unwrap_or((tag, "")))
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
    Some(SeriesKey::new(format!("{prefix}{name}"), tags))
}

fn merge_timers(into: &mut TimerInterval, other: TimerInterval) {
    into.scaled_count += other.scaled_count;
    into.sketch.merge(&other.sketch);
    into.sum_of_squares += other.sum_of_squares;
}

#[cfg(test)]
mod tests {
    use partout_protocols::statsd::parse_datagram;

    use super::*;

    fn feed(aggregator: &mut Aggregator, datagram: &str) {
        for line in parse_datagram(datagram.as_bytes()) {
            aggregator.add_line(&line.unwrap()).unwrap();
        }
    }

    fn find<'a, V>(entries: &'a [(SeriesKey, V)], name: &str) -> &'a V {
        &entries.iter().find(|(key, _)| key.name == name).unwrap().1
    }

    #[test]
    fn counters_sum_with_sample_rates_and_reset_each_interval() {
        let mut aggregator = Aggregator::default();
        feed(&mut aggregator, "hits:1|c\nhits:2|c|@0.5\nhits:1:1|c");
        let interval = aggregator.take_interval();
        assert_eq!(
            *find(&interval.counters, "stats.counters.hits"),
            1.0 + 4.0 + 2.0
        );
        assert!(aggregator.take_interval().counters.is_empty());
    }

    #[test]
    fn meters_are_counted_with_counters() {
        let mut aggregator = Aggregator::default();
        feed(&mut aggregator, "logins:2|m\nlogins:1|c\nlogins:3|m|@0.5");
        let interval = aggregator.take_interval();
        assert_eq!(
            *find(&interval.counters, "stats.counters.logins"),
            2.0 + 1.0 + 6.0
        );
    }

    #[test]
    fn gauges_apply_deltas_and_keep_their_value() {
        let mut aggregator = Aggregator::default();
        feed(&mut aggregator, "queue:10|g\nqueue:+5|g\nqueue:-2|g");
        assert_eq!(
            *find(&aggregator.take_interval().gauges, "stats.gauges.queue"),
            13.0
        );
        // Not sent in this interval: not reported, but remembered.
        assert!(aggregator.take_interval().gauges.is_empty());
        feed(&mut aggregator, "queue:+1|g");
        assert_eq!(
            *find(&aggregator.take_interval().gauges, "stats.gauges.queue"),
            14.0
        );
    }

    #[test]
    fn timers_keep_samples_sketch_and_scaled_count() {
        let mut aggregator = Aggregator::default();
        feed(&mut aggregator, "req:100|ms\nreq:200:300|ms|@0.1\nsize:5|h");
        let interval = aggregator.take_interval();
        let req = find(&interval.timers, "stats.timers.req");
        assert_eq!(req.sketch.min(), Some(100.0));
        assert_eq!(req.scaled_count, 21.0);
        assert_eq!(req.sketch.count(), 3);
        assert_eq!(req.sketch.max(), Some(300.0));
        assert_eq!(
            req.sum_of_squares,
            100.0 * 100.0 + 200.0 * 200.0 + 300.0 * 300.0
        );
        assert_eq!(
            find(&interval.timers, "stats.timers.size").sketch.count(),
            1
        );
    }

    #[test]
    fn sets_count_unique_members() {
        let mut aggregator = Aggregator::default();
        feed(&mut aggregator, "users:alice|s\nusers:bob|s\nusers:alice|s");
        assert_eq!(
            *find(&aggregator.take_interval().sets, "stats.sets.users"),
            2
        );
    }

    #[test]
    fn tag_order_does_not_split_a_series() {
        let mut aggregator = Aggregator::default();
        feed(
            &mut aggregator,
            "api:1|c|#env:prod,az:b\napi:2|c|#az:b,env:prod\napi:4|c",
        );
        let interval = aggregator.take_interval();
        assert_eq!(interval.counters.len(), 2);
        let tagged = interval
            .counters
            .iter()
            .find(|(k, _)| !k.tags.is_empty())
            .unwrap();
        assert_eq!(
            (tagged.0.tags_text().as_str(), tagged.1),
            ("az=b;env=prod", 3.0)
        );
    }

    #[test]
    fn the_key_limit_refuses_new_keys_but_keeps_known_ones() {
        let mut aggregator = Aggregator::new(Limits { max_keys: 2 });
        feed(&mut aggregator, "a:1|c\nb:1|c");
        let line = parse_datagram(b"c:1|c").next().unwrap().unwrap();
        assert_eq!(aggregator.add_line(&line), Err(Refused::TooManyKeys));
        feed(&mut aggregator, "a:1|c");
        let interval = aggregator.take_interval();
        assert_eq!(*find(&interval.counters, "stats.counters.a"), 2.0);
    }

    #[test]
    fn names_that_sanitize_to_nothing_are_counted_not_stored() {
        let mut aggregator = Aggregator::default();
        feed(&mut aggregator, "***:1|c\nok:1|c");
        let interval = aggregator.take_interval();
        assert_eq!(interval.counters.len(), 1);
        assert_eq!(interval.refused_names, 1);
    }
}
