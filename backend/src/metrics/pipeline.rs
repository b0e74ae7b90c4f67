//! The metrics writer: every flush interval it takes the StatsD interval
//! from the aggregator, turns it into points, and writes them with the
//! carbon points received since, in one transaction.
//!
//! Timestamps: an interval `[t, t + step)` is stored at `t`, aligned to the
//! raw resolution (`step` = the flush interval), as Graphite does. Carbon
//! points are aligned the same way; a later point in the same slot replaces
//! the earlier one (Graphite's last-write-wins).
//!
//! Durability: points are committed every flush interval (carbon also every
//! second), so a crash loses at most one interval; a graceful shutdown
//! flushes the partial interval. A partial interval written at shutdown and
//! completed after a restart merges (counters add, sketches merge) instead
//! of overwriting.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::aggregate::{Aggregator, Interval};
use super::{SeriesKey, TimerSummary};
use crate::store::metrics::{ensure_series, NewPoint, Series, SeriesKind};
use crate::store::{Store, StoreError};
use crate::telemetry::{RejectLabels, Telemetry};

/// Carbon batches waiting for the writer before senders must wait.
pub const CARBON_QUEUE_BATCHES: usize = 1024;
/// Carbon points are committed at least this often.
const CARBON_COMMIT_EVERY: Duration = Duration::from_secs(1);
/// Carbon points buffered before a commit is forced.
const CARBON_MAX_BUFFERED: usize = 200_000;

/// One carbon point as received.
#[derive(Debug, Clone, PartialEq)]
pub struct CarbonPoint {
    pub key: SeriesKey,
    /// Unix seconds as sent.
    pub ts: i64,
    pub value: f64,
}

/// How the metrics writer behaves.
#[derive(Debug, Clone, Copy)]
pub struct PipelineConfig {
    /// Flush interval and raw resolution, in whole seconds.
    pub step_secs: i64,
    /// Series the catalog may hold; new ones past it are refused.
    pub max_series: u64,
}

/// A row ready to be written.
struct Row {
    key: SeriesKey,
    kind: SeriesKind,
    ts: i64,
    value: f64,
    timer: Option<TimerSummary>,
}

/// Catalog entries already resolved, shared with the writer thread.
type SeriesCache = Arc<Mutex<HashMap<SeriesKey, Series>>>;

/// Runs until `stop` is cancelled, then writes everything still held:
/// cancel `stop` only after the listeners have stopped feeding it.
pub async fn run(
    store: Store,
    telemetry: Arc<Telemetry>,
    config: PipelineConfig,
    aggregator: Arc<Mutex<Aggregator>>,
    mut carbon: mpsc::Receiver<Vec<CarbonPoint>>,
    stop: CancellationToken,
) {
    let step = config.step_secs.max(1);
    let cache: SeriesCache = Arc::default();
    let mut carbon_buffer: Vec<CarbonPoint> = Vec::new();
    let mut commit_carbon = tokio::time::interval(CARBON_COMMIT_EVERY);
    commit_carbon.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let now = unix_now();
        let next_boundary = (now / step + 1) * step;
        let wait =
            Duration::from_millis(u64::try_from(next_boundary * 1000 - unix_now_ms()).unwrap_or(0));
        tokio::select! {
            _ = stop.cancelled() => break,
            () = tokio::time::sleep(wait) => {
                let interval_start = next_boundary - step;
                flush_statsd(&store, &telemetry, &cache, &aggregator, interval_start, config).await;
                flush_carbon(&store, &telemetry, &cache, &mut carbon_buffer, config).await;
            }
            batch = carbon.recv() => {
                if let Some(batch) = batch {
                    carbon_buffer.extend(batch);
                    if carbon_buffer.len() >= CARBON_MAX_BUFFERED {
                        flush_carbon(&store, &telemetry, &cache, &mut carbon_buffer, config).await;
                    }
                }
            }
            _ = commit_carbon.tick() => {
                flush_carbon(&store, &telemetry, &cache, &mut carbon_buffer, config).await;
            }
        }
    }
    // Final flush: whatever the listeners handed over before they stopped.
    carbon.close();
    while let Some(batch) = carbon.recv().await {
        carbon_buffer.extend(batch);
    }
    flush_carbon(&store, &telemetry, &cache, &mut carbon_buffer, config).await;
    let interval_start = unix_now() / step * step;
    flush_statsd(
        &store,
        &telemetry,
        &cache,
        &aggregator,
        interval_start,
        config,
    )
    .await;
}

fn unix_now_ms() -> i64 {
    crate::store::unix_ms_now()
}

fn unix_now() -> i64 {
    unix_now_ms() / 1000
}

async fn flush_statsd(
    store: &Store,
    telemetry: &Telemetry,
    cache: &SeriesCache,
    aggregator: &Mutex<Aggregator>,
    ts: i64,
    config: PipelineConfig,
) {
    let interval = match aggregator.lock() {
        Ok(mut aggregator) => aggregator.take_interval(),
        Err(_) => {
            tracing::error!("the statsd aggregator is poisoned; this interval is lost");
            return;
        }
    };
    count_refused(telemetry, "statsd", "bad_name", interval.refused_names);
    let rows = interval_rows(interval, ts);
    write(store, telemetry, cache, rows, config, "statsd").await;
}

fn interval_rows(interval: Interval, ts: i64) -> Vec<Row> {
    let mut rows = Vec::with_capacity(
        interval.counters.len()
            + interval.timers.len()
            + interval.gauges.len()
            + interval.sets.len(),
    );
    for (key, total) in interval.counters {
        rows.push(Row {
            key,
            kind: SeriesKind::Counter,
            ts,
            value: total,
            timer: None,
        });
    }
    for (key, value) in interval.gauges {
        rows.push(Row {
            key,
            kind: SeriesKind::Gauge,
            ts,
            value,
            timer: None,
        });
    }
    for (key, count) in interval.sets {
        rows.push(Row {
            key,
            kind: SeriesKind::Set,
            ts,
            value: count as f64,
            timer: None,
        });
    }
    for (key, timer) in interval.timers {
        rows.push(Row {
            key,
            kind: SeriesKind::Timer,
            ts,
            value: timer.scaled_count,
            timer: Some(TimerSummary {
                sum_of_squares: timer.sum_of_squares,
                sketch: timer.sketch,
            }),
        });
    }
    rows
}

async fn flush_carbon(
    store: &Store,
    telemetry: &Telemetry,
    cache: &SeriesCache,
    buffer: &mut Vec<CarbonPoint>,
    config: PipelineConfig,
) {
    if buffer.is_empty() {
        return;
    }
    let step = config.step_secs.max(1);
    let rows = buffer
        .drain(..)
        .map(|point| Row {
            key: point.key,
            kind: SeriesKind::Gauge,
            ts: point.ts - point.ts.rem_euclid(step),
            value: point.value,
            timer: None,
        })
        .collect();
    write(store, telemetry, cache, rows, config, "carbon").await;
}

fn count_refused(telemetry: &Telemetry, protocol: &str, reason: &str, count: u64) {
    if count > 0 {
        telemetry
            .rejected_items
            .get_or_create(&RejectLabels {
                protocol: protocol.to_owned(),
                reason: reason.to_owned(),
            })
            .inc_by(count);
    }
}

async fn write(
    store: &Store,
    telemetry: &Telemetry,
    cache: &SeriesCache,
    rows: Vec<Row>,
    config: PipelineConfig,
    protocol: &'static str,
) {
    if rows.is_empty() {
        return;
    }
    let cache = Arc::clone(cache);
    let offered = rows.len() as u64;
    let result = store
        .write(move |conn| write_rows(conn, &cache, rows, config.max_series))
        .await;
    match result {
        Ok(over_limit) => {
            count_refused(telemetry, protocol, "series_limit", over_limit);
            telemetry
                .metric_points_written
                .get_or_create(&crate::telemetry::ProtocolLabels {
                    protocol: protocol.to_owned(),
                })
                .inc_by(offered - over_limit);
        }
        Err(err) => tracing::error!(protocol, error = %err, "cannot store metric points"),
    }
}

/// Resolves series and writes the rows; returns how many were refused
/// because the series catalog is full.
fn write_rows(
    conn: &Connection,
    cache: &SeriesCache,
    rows: Vec<Row>,
    max_series: u64,
) -> Result<u64, StoreError> {
    let mut cache = cache
        .lock()
        .map_err(|_| StoreError::Task("series cache poisoned".into()))?;
    let mut over_limit = 0;
    let mut points = Vec::with_capacity(rows.len());
    for row in rows {
        let series = match cache.get(&row.key) {
            Some(series) => series.clone(),
            None => match ensure_series(conn, &row.key, row.kind, max_series)? {
                Some(series) => {
                    cache.insert(row.key.clone(), series.clone());
                    series
                }
                None => {
                    over_limit += 1;
                    continue;
                }
            },
        };
        points.push(merge_with_stored(conn, &series, row)?);
    }
    crate::store::metrics::insert_points(conn, &points)?;
    Ok(over_limit)
}

/// For counters, sets and timers, a point already stored in the same slot
/// (a partial interval written at shutdown) is merged, not replaced.
fn merge_with_stored(conn: &Connection, series: &Series, row: Row) -> Result<NewPoint, StoreError> {
    let mut value = row.value;
    let mut timer = row.timer;
    if series.kind != SeriesKind::Gauge {
        let stored: Option<(f64, Option<Vec<u8>>)> = conn
            .prepare_cached(
                "SELECT value, sketch FROM metric_points WHERE series_id = ?1 AND ts = ?2",
            )?
            .query_row(rusqlite::params![series.id, row.ts], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        if let Some((stored_value, stored_blob)) = stored {
            value += stored_value;
            if let (Some(timer), Some(blob)) = (timer.as_mut(), stored_blob) {
                if let Some(stored_timer) = TimerSummary::decode(&blob) {
                    timer.merge(&stored_timer);
                }
            }
        }
    }
    Ok(NewPoint {
        series_id: series.id,
        ts: row.ts,
        value,
        sketch: timer.map(|timer| timer.encode()),
    })
}
