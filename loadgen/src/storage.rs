//! Bytes on disk per stored point, on realistic data: 10,000 series, a day
//! at 10 s, through partout's own store (in process: the disk format does
//! not depend on the transport, and a day of StatsD timers cannot be sent
//! in real time). Then the read a timer dashboard makes: the day's p99 of
//! 150 timer series, from raw points and from one-minute rollups.
//!
//! The mix, as a service fleet's StatsD and collectd output looks:
//! - 45% counters: per-interval counts, Poisson-like around a per-series
//!   rate from 0.05 to 500 per interval (sparse ones are mostly zero);
//! - 40% gauges: a third integer random walks (queue lengths,
//!   connections), a third percentages and load averages with one or two
//!   decimals, a sixth memory sizes in bytes, a sixth full-precision
//!   ratios (the worst case for compression);
//! - 15% timers: 1 to 60 samples per interval of log-normal latencies in
//!   ms with microsecond precision, each interval stored with its sketch.

use std::sync::Arc;
use std::time::Instant;

use partout::metrics::sketch::{Sketch, RELATIVE_ACCURACY};
use partout::metrics::{SeriesKey, TimerSummary};
use partout::store::metrics::SeriesKind;
use partout::store::Store;
use partout::tsdb::point::RawValue;
use partout::tsdb::schema::{Schemas, DEFAULT_RETENTIONS};
use partout::tsdb::{Row, Tsdb, TsdbConfig};

use crate::rng::Rng;

/// Series in the data set unless `--series` says otherwise.
pub const DEFAULT_SERIES: usize = 10_000;
const STEP: i64 = 10;
const INTERVALS: i64 = 8_640;
/// Spread of the timers' log-normal latencies (of the natural log of a
/// sample in ms).
const TIMER_SIGMA: f64 = 0.6;

enum Shape {
    Counter { rate: f64 },
    IntGauge { level: f64 },
    DecimalGauge { level: f64, decimals: i32 },
    Bytes { level: f64 },
    Ratio { level: f64 },
    Timer { per_interval: f64, median_ms: f64 },
}

struct Generated {
    key: SeriesKey,
    kind: SeriesKind,
    shape: Shape,
    /// A timer's samples of the minute and of the hour so far, merged:
    /// what its rollups' sketches hold ([`SketchFloor`]).
    rollups: [Sketch; 2],
}

fn fleet(rng: &mut Rng, series: usize) -> Vec<Generated> {
    (0..series)
        .map(|i| {
            let host = format!("host{:03}", i % 200);
            let slot = i / 200;
            let roll = i % 20;
            let (name, kind, shape) = match roll {
                0..=8 => (
                    format!("stats.counters.{host}.endpoint{slot}.requests"),
                    SeriesKind::Counter,
                    Shape::Counter {
                        rate: 0.05 * 10f64.powf(rng.unit() * 4.0),
                    },
                ),
                9..=11 => (
                    format!("stats.gauges.{host}.queue{slot}"),
                    SeriesKind::Gauge,
                    Shape::IntGauge {
                        level: (rng.unit() * 200.0).round(),
                    },
                ),
                12..=14 => (
                    format!("stats.gauges.{host}.cpu{slot}"),
                    SeriesKind::Gauge,
                    Shape::DecimalGauge {
                        level: rng.unit() * 100.0,
                        decimals: 1 + (slot % 2) as i32,
                    },
                ),
                15 => (
                    format!("stats.gauges.{host}.memory{slot}"),
                    SeriesKind::Gauge,
                    Shape::Bytes {
                        level: 2e9 + rng.unit() * 6e9,
                    },
                ),
                16 => (
                    format!("stats.gauges.{host}.ratio{slot}"),
                    SeriesKind::Gauge,
                    Shape::Ratio { level: rng.unit() },
                ),
                _ => (
                    format!("stats.timers.{host}.endpoint{slot}.latency"),
                    SeriesKind::Timer,
                    Shape::Timer {
                        per_interval: 1.0 + rng.unit() * 59.0,
                        median_ms: 5.0 + rng.unit() * 200.0,
                    },
                ),
            };
            Generated {
                key: SeriesKey::new(name, []),
                kind,
                shape,
                rollups: Default::default(),
            }
        })
        .collect()
}

/// Intervals in a one-minute and a one-hour rollup.
const ROLLUP_INTERVALS: [i64; 2] = [6, 360];

fn next_value(
    series: &mut Generated,
    interval: i64,
    rng: &mut Rng,
    floor: &mut SketchFloor,
) -> RawValue {
    match &mut series.shape {
        Shape::Counter { rate } => {
            let sample = (*rate + rate.sqrt() * rng.normal()).round().max(0.0);
            RawValue::Plain(sample)
        }
        Shape::IntGauge { level } => {
            *level = (*level + (rng.normal() * 3.0).round()).max(0.0);
            RawValue::Plain(*level)
        }
        Shape::DecimalGauge { level, decimals } => {
            *level = (*level + rng.normal() * 2.0).clamp(0.0, 100.0);
            let scale = 10f64.powi(*decimals);
            RawValue::Plain((*level * scale).round() / scale)
        }
        Shape::Bytes { level } => {
            *level = (*level + (rng.normal() * 1e6).round() * 4096.0).max(0.0);
            RawValue::Plain((*level / 4096.0).round() * 4096.0)
        }
        Shape::Ratio { level } => {
            *level = (*level + rng.normal() * 0.01).clamp(0.0, 1.0);
            RawValue::Plain(*level)
        }
        Shape::Timer {
            per_interval,
            median_ms,
        } => {
            let count = (*per_interval + per_interval.sqrt() * rng.normal())
                .round()
                .max(1.0) as u32;
            let mut summary = TimerSummary::default();
            for _ in 0..count {
                let ms =
                    (*median_ms * (TIMER_SIGMA * rng.normal()).exp() * 1000.0).round() / 1000.0;
                summary.sketch.add(ms, 1);
                summary.sum_of_squares += ms * ms;
            }
            floor.add(0, &summary.sketch, *median_ms);
            for (level, (pending, every)) in
                series.rollups.iter_mut().zip(ROLLUP_INTERVALS).enumerate()
            {
                pending.merge(&summary.sketch);
                if (interval + 1) % every == 0 {
                    floor.add(level + 1, pending, *median_ms);
                    *pending = Sketch::new();
                }
            }
            RawValue::Timer {
                count: f64::from(count),
                summary: summary.encode().into_boxed_slice(),
            }
        }
    }
}

pub fn run(series: usize, keep: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(measure(series, keep))
}

async fn measure(series: usize, keep: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let temporary = tempfile::tempdir()?;
    let dir = match &keep {
        Some(path) => {
            std::fs::create_dir_all(path)?;
            path.clone()
        }
        None => temporary.path().to_path_buf(),
    };
    let store = Store::open(&dir)?;
    let config = TsdbConfig {
        schemas: Schemas::new(&[], DEFAULT_RETENTIONS, STEP)?,
        max_series: 1_000_000,
        max_head_points: 8_000_000,
        seal_grace_secs: 60,
    };
    let tsdb = Tsdb::open(store.clone(), config, Arc::default()).await?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut fleet = fleet(&mut rng, series);
    let mut floor = SketchFloor::default();
    // Midnight, a week ago: the whole day is inside every retention.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let start = now - now % 86_400 - 7 * 86_400;
    let started = Instant::now();
    let mut per_kind: std::collections::BTreeMap<&'static str, u64> = Default::default();
    for interval in 0..INTERVALS {
        let ts = start + interval * STEP;
        let rows: Vec<Row> = fleet
            .iter_mut()
            .map(|series| Row {
                key: series.key.clone(),
                kind: series.kind,
                ts,
                value: next_value(series, interval, &mut rng, &mut floor),
            })
            .collect();
        for row in &rows {
            *per_kind.entry(row.kind.as_str()).or_default() += 1;
        }
        tsdb.ingest(rows).await?;
        if (interval + 1) % 360 == 0 {
            tsdb.seal(ts + STEP + 60).await?;
        }
    }
    tsdb.seal(start + 86_400 + 3_600).await?;
    let ingest_secs = started.elapsed().as_secs_f64();
    let sizes = store
        .read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT level, sum(length(blob)), count(*) FROM metric_chunks GROUP BY level ORDER BY level",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    // Pages SQLite holds free for later writes: counted in the file, not
    // in any blob (rollup chunks are rewritten as their window fills).
    let free_bytes: i64 = store
        .read(|conn| {
            let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
            let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            Ok(free * page)
        })
        .await?;
    // Blob sizes per level and kind.
    let by_level_kind = store
        .read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT c.level, s.kind, sum(length(c.blob)) FROM metric_chunks c JOIN metric_series s ON s.id = c.series_id
                 GROUP BY c.level, s.kind ORDER BY c.level, s.kind",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    let by_kind: Vec<(String, i64)> = by_level_kind
        .iter()
        .filter(|(level, _, _)| *level == 0)
        .map(|(_, kind, bytes)| (kind.clone(), *bytes))
        .collect();
    let timer_reads = read_timers(&tsdb, &store, start).await?;
    drop(tsdb);
    // The writer's last act: the WAL's pages into the main file, so the
    // file's size is the database's.
    store.close().await?;
    drop(store);
    let file_bytes: u64 = ["partout.sqlite", "partout.sqlite-wal"]
        .iter()
        .map(|f| std::fs::metadata(dir.join(f)).map_or(0, |m| m.len()))
        .sum();
    let timer_points = per_kind.get("timer").copied().unwrap_or(0);
    let points: u64 = per_kind.values().sum();
    let plain_points = points - timer_points;
    println!(
        "storage, realistic day ({series} series x 8,640 points at 10 s, {plain_points} plain + {timer_points} timer points, ingested and sealed in process in {ingest_secs:.1} s)"
    );
    for (level, bytes, chunks) in &sizes {
        println!("  level {level}: {chunks} chunks, {bytes} bytes of blobs");
    }
    for (level, kind, bytes) in by_level_kind.iter().filter(|(level, _, _)| *level > 0) {
        let count = per_kind.get(kind.as_str()).copied().unwrap_or(1).max(1);
        println!(
            "  level {level} {kind}: {:.2} bytes per raw point of the kind",
            *bytes as f64 / count as f64
        );
    }
    for (kind, bytes) in &by_kind {
        let count = per_kind.get(kind.as_str()).copied().unwrap_or(1).max(1);
        println!(
            "  raw {kind}: {:.2} bytes per point (blobs only)",
            *bytes as f64 / count as f64
        );
    }
    let plain_bytes: i64 = by_kind
        .iter()
        .filter(|(k, _)| k != "timer")
        .map(|(_, b)| b)
        .sum();
    println!(
        "disk per stored point, realistic:   {:>8.2} bytes (database file {file_bytes} bytes / {points} points, all levels, timers' sketches included)",
        file_bytes as f64 / points as f64
    );
    println!(
        "  of the file: {:.2} bytes per point in blobs, {:.2} in free pages, the rest in rows, indexes and page slack",
        sizes.iter().map(|(_, bytes, _)| *bytes).sum::<i64>() as f64 / points as f64,
        free_bytes as f64 / points as f64
    );
    // A timer interval is 12 values to a Graphite user (count, count_ps,
    // sum, mean, lower, upper, median, std and four upper_N), each of which
    // whisper stores as a point of its own.
    let graphite_points = plain_points + 12 * timer_points;
    println!(
        "  per Graphite point:               {:>8.2} bytes (a timer interval counted as the 12 values statsd names for it: {graphite_points} points)",
        file_bytes as f64 / graphite_points as f64
    );
    println!(
        "  counters and gauges alone:        {:>8.2} bytes per point (raw chunk blobs)",
        plain_bytes as f64 / plain_points as f64
    );
    println!("{}", floor.report(points));
    for line in timer_reads {
        println!("{line}");
    }
    Ok(())
}

/// The fewest bytes any lossless encoding can spend, on average, on the
/// bucket counts of the timers' 1% sketches, at raw resolution and in the
/// one-minute and one-hour rollups, which the issue asks to keep a sketch
/// each.
///
/// Each sketch is charged the ideal code length of its multiset of buckets
/// under the very distribution the generator draws from: `-log2` of the
/// multinomial probability, `sum(c_i * -log2 p_i) - log2(n! / prod(c_i!))`
/// (a multiset's order carries no information). The expected value of that
/// length is the multiset's entropy, which no code beats (Shannon); a real
/// encoder does not know each series' median, and must also store the
/// count, sum, sum of squares, min and max, so it spends more. A bucket's
/// probability is the log-normal's density at its middle times its width:
/// buckets are 0.033σ wide, so the midpoint rule is off by far less than
/// the figures' last digit.
#[derive(Default)]
struct SketchFloor {
    /// Bits, and sketches, per level: raw, one minute, one hour.
    bits: [f64; 3],
    sketches: [u64; 3],
    /// `log2(k!)` for k up to the largest count seen.
    log2_factorials: Vec<f64>,
}

impl SketchFloor {
    fn add(&mut self, level: usize, sketch: &Sketch, median_ms: f64) {
        let ln_gamma = ((1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)).ln();
        let mu = median_ms.ln();
        let density = ln_gamma / (TIMER_SIGMA * std::f64::consts::TAU.sqrt());
        let mut bits = -self.log2_factorial(sketch.count());
        for (index, count) in sketch.positive_buckets() {
            // Bucket i holds ln x in ((i - 1) ln γ, i ln γ].
            let z = ((f64::from(index) - 0.5) * ln_gamma - mu) / TIMER_SIGMA;
            let p = density * (-0.5 * z * z).exp();
            bits += count as f64 * -p.log2() + self.log2_factorial(count);
        }
        self.bits[level] += bits;
        self.sketches[level] += 1;
    }

    fn log2_factorial(&mut self, k: u64) -> f64 {
        let k = usize::try_from(k).unwrap_or(usize::MAX);
        if self.log2_factorials.is_empty() {
            self.log2_factorials.push(0.0);
        }
        while self.log2_factorials.len() <= k {
            let next = self.log2_factorials.len();
            let previous = self.log2_factorials[next - 1];
            self.log2_factorials.push(previous + (next as f64).log2());
        }
        self.log2_factorials[k]
    }

    fn report(&self, points: u64) -> String {
        let per_sketch = |level: usize| self.bits[level] / 8.0 / self.sketches[level].max(1) as f64;
        let total_bytes: f64 = self.bits.iter().sum::<f64>() / 8.0;
        let raw_bytes = self.bits[0] / 8.0;
        format!(
            "  floor of the timers' 1% sketches, their bucket counts alone, ideally coded (see SketchFloor): {:.2} bytes per raw interval, {:.2} per one-minute and {:.2} per one-hour rollup; over all {points} points: {:.2} bytes per stored point, {:.2} from raw intervals alone [target 1.5 bytes per point: {}]",
            per_sketch(0),
            per_sketch(1),
            per_sketch(2),
            total_bytes / points.max(1) as f64,
            raw_bytes / points.max(1) as f64,
            if raw_bytes / points.max(1) as f64 > 1.5 {
                "out of reach of any encoding of these sketches"
            } else {
                "not excluded by the sketches"
            }
        )
    }
}

/// Timer series a read measures, at most: a dashboard's worth.
const TIMERS_READ: usize = 150;

/// Reads the day's p99 of up to [`TIMERS_READ`] timer series as a render
/// does (chunks decoded through the read cache and folded into a grid,
/// then a quantile per bucket), from raw points and from the one-minute
/// rollups, twice each: the first read decodes every chunk, the second
/// finds them in the cache. Returns the lines to print.
async fn read_timers(tsdb: &Tsdb, store: &Store, start: i64) -> anyhow::Result<Vec<String>> {
    let timers: Vec<_> = tsdb
        .catalog()
        .iter()
        .filter(|series| series.kind == SeriesKind::Timer)
        .take(TIMERS_READ)
        .cloned()
        .collect();
    let mut lines = Vec::new();
    for (label, level, step) in [
        ("raw, every point", 0usize, STEP),
        ("one-minute rollups in 1,000 buckets", 1, 90),
    ] {
        let mut timings = Vec::new();
        let mut quantiles = 0usize;
        for _ in 0..2 {
            let reader = tsdb.clone();
            let series = timers.clone();
            let started = Instant::now();
            quantiles = store
                .read(move |conn| {
                    let mut quantiles = 0usize;
                    for series in &series {
                        let buckets = usize::try_from(86_400 / step).unwrap_or(0);
                        let mut grid = partout::tsdb::grid::Grid::new(start, step, buckets);
                        reader
                            .begin_read(conn, series, level, start, start + 86_400)?
                            .finish_onto(&mut grid)?;
                        quantiles += grid
                            .into_buckets()
                            .iter()
                            .flatten()
                            .filter_map(|agg| agg.summary.as_ref()?.sketch.quantile(0.99))
                            .count();
                    }
                    Ok(quantiles)
                })
                .await?;
            timings.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        lines.push(format!(
            "timer p99 read, {} series x 24 h, {label}: first {:.0} ms, again {:.0} ms ({quantiles} quantiles, one core)",
            timers.len(),
            timings[0],
            timings[1]
        ));
    }
    Ok(lines)
}
