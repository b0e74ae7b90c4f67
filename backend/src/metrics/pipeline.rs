//! The metrics writer: every flush interval it takes the StatsD interval
//! from the aggregator, turns it into rows, and hands them with the carbon
//! points received since to the time-series store; it also runs the
//! store's seals and retention.
//!
//! Timestamps: an interval `[t, t + step)` is stored at `t`, aligned to the
//! series' raw resolution, as Graphite does. Carbon points are aligned the
//! same way; a later point in the same slot replaces the earlier one
//! (Graphite's last-write-wins). A partial interval written at shutdown
//! and completed after a restart merges (counters add, sketches merge).
//!
//! Durability: rows are committed to the store's log every flush interval
//! (carbon also every second), so a crash loses at most one interval; a
//! graceful shutdown flushes the partial interval.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::aggregate::{Aggregator, Interval};
use super::{SeriesKey, TimerSummary};
use crate::store::metrics::SeriesKind;
use crate::telemetry::{RejectLabels, Telemetry};
use crate::tsdb::point::RawValue;
use crate::tsdb::{Row, Tsdb};

/// Carbon batches waiting for the writer before senders must wait.
pub const CARBON_QUEUE_BATCHES: usize = 1024;
/// Carbon points are committed at least this often.
const CARBON_COMMIT_EVERY: Duration = Duration::from_secs(1);
/// Carbon points buffered before a commit is forced.
const CARBON_MAX_BUFFERED: usize = 200_000;
/// How often expired chunks are deleted.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// One carbon point as received. The key is shared with the other points
/// of its series a session has seen (see `ingest::carbon`).
#[derive(Debug, Clone, PartialEq)]
pub struct CarbonPoint {
    pub key: Arc<SeriesKey>,
    /// Unix seconds as sent.
    pub ts: i64,
    pub value: f64,
}

/// How the metrics writer behaves.
#[derive(Debug, Clone, Copy)]
pub struct PipelineConfig {
    /// Flush interval, in whole seconds.
    pub step_secs: i64,
}

/// Runs until `stop` is cancelled, then writes everything still held:
/// cancel `stop` only after the listeners have stopped feeding it.
pub async fn run(
    tsdb: Tsdb,
    telemetry: Arc<Telemetry>,
    config: PipelineConfig,
    aggregator: Arc<Mutex<Aggregator>>,
    mut carbon: mpsc::Receiver<Vec<CarbonPoint>>,
    stop: CancellationToken,
) {
    let step = config.step_secs.max(1);
    // Rows waiting for the next carbon commit. Ingesting empties it and
    // leaves its capacity, so the buffer grows once, not on every commit.
    let mut carbon_buffer: Vec<CarbonRow> = Vec::new();
    let mut commit_carbon = tokio::time::interval(CARBON_COMMIT_EVERY);
    commit_carbon.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut retention = tokio::time::interval(RETENTION_EVERY);
    retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let now = unix_now();
        let next_boundary = (now / step + 1) * step;
        let wait =
            Duration::from_millis(u64::try_from(next_boundary * 1000 - unix_now_ms()).unwrap_or(0));
        tokio::select! {
            _ = stop.cancelled() => break,
            () = tokio::time::sleep(wait) => {
                let interval_start = next_boundary - step;
                flush_statsd(&tsdb, &telemetry, &aggregator, interval_start).await;
                flush_carbon(&tsdb, &telemetry, &mut carbon_buffer).await;
                if let Err(err) = tsdb.seal(unix_now()).await {
                    tracing::error!(error = %err, "cannot seal metric chunks");
                }
            }
            batch = carbon.recv() => {
                if let Some(batch) = batch {
                    carbon_buffer.extend(batch.into_iter().map(carbon_row));
                    if carbon_buffer.len() >= CARBON_MAX_BUFFERED {
                        flush_carbon(&tsdb, &telemetry, &mut carbon_buffer).await;
                    }
                }
            }
            _ = commit_carbon.tick() => {
                flush_carbon(&tsdb, &telemetry, &mut carbon_buffer).await;
            }
            _ = retention.tick() => {
                match tsdb.enforce_retention(unix_now()).await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(chunks = deleted, "expired metric chunks deleted"),
                    Err(err) => tracing::error!(error = %err, "cannot delete expired metric chunks"),
                }
            }
        }
    }
    // Final flush: whatever the listeners handed over before they stopped.
    carbon.close();
    while let Some(batch) = carbon.recv().await {
        carbon_buffer.extend(batch.into_iter().map(carbon_row));
    }
    flush_carbon(&tsdb, &telemetry, &mut carbon_buffer).await;
    let interval_start = unix_now() / step * step;
    flush_statsd(&tsdb, &telemetry, &aggregator, interval_start).await;
}

fn unix_now_ms() -> i64 {
    crate::store::unix_ms_now()
}

fn unix_now() -> i64 {
    unix_now_ms() / 1000
}

async fn flush_statsd(tsdb: &Tsdb, telemetry: &Telemetry, aggregator: &Mutex<Aggregator>, ts: i64) {
    let interval = match aggregator.lock() {
        Ok(mut aggregator) => aggregator.take_interval(),
        Err(_) => {
            tracing::error!("the statsd aggregator is poisoned; this interval is lost");
            return;
        }
    };
    count_refused(telemetry, "statsd", "bad_name", interval.refused_names);
    let mut rows = interval_rows(interval, ts);
    write(tsdb, telemetry, &mut rows, "statsd").await;
}

fn interval_rows(interval: Interval, ts: i64) -> Vec<Row> {
    let mut rows = Vec::with_capacity(
        interval.counters.len()
            + interval.timers.len()
            + interval.gauges.len()
            + interval.sets.len(),
    );
    let plain = |key: SeriesKey, kind: SeriesKind, value: f64| Row {
        key,
        kind,
        ts,
        value: RawValue::Plain(value),
    };
    for (key, total) in interval.counters {
        rows.push(plain(key, SeriesKind::Counter, total));
    }
    for (key, value) in interval.gauges {
        rows.push(plain(key, SeriesKind::Gauge, value));
    }
    for (key, count) in interval.sets {
        rows.push(plain(key, SeriesKind::Set, count as f64));
    }
    for (key, timer) in interval.timers {
        let summary = TimerSummary {
            sum_of_squares: timer.sum_of_squares,
            sketch: timer.sketch,
        };
        rows.push(Row {
            key,
            kind: SeriesKind::Timer,
            ts,
            value: RawValue::Timer {
                count: timer.scaled_count,
                summary: summary.encode().into_boxed_slice(),
            },
        });
    }
    rows
}

/// A carbon point as the store takes it; the key stays shared.
type CarbonRow = Row<Arc<SeriesKey>>;

fn carbon_row(point: CarbonPoint) -> CarbonRow {
    Row {
        key: point.key,
        kind: SeriesKind::Gauge,
        ts: point.ts,
        value: RawValue::Plain(point.value),
    }
}

async fn flush_carbon(tsdb: &Tsdb, telemetry: &Telemetry, buffer: &mut Vec<CarbonRow>) {
    if buffer.is_empty() {
        return;
    }
    write(tsdb, telemetry, buffer, "carbon").await;
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

/// Stores `rows`, leaving it empty (its capacity kept for the next batch).
async fn write<K: std::borrow::Borrow<SeriesKey>>(
    tsdb: &Tsdb,
    telemetry: &Telemetry,
    rows: &mut Vec<Row<K>>,
    protocol: &'static str,
) {
    let points = rows.len() as u64;
    match tsdb.ingest_from(rows).await {
        Ok(report) => {
            count_refused(telemetry, protocol, "series_limit", report.over_limit);
            telemetry
                .metric_points_written
                .get_or_create(&crate::telemetry::ProtocolLabels {
                    protocol: protocol.to_owned(),
                })
                .inc_by(report.written);
        }
        Err(err) => {
            // StatsD and carbon senders cannot be told: the points are
            // lost, and counted so the loss shows in /metrics.
            let disk_full = err.is_disk_full();
            let reason = if disk_full {
                "disk_full"
            } else {
                "store_error"
            };
            count_refused(telemetry, protocol, reason, points);
            if disk_full {
                telemetry
                    .storage_write_failures
                    .get_or_create(&crate::telemetry::StoreLabels {
                        store: "database".to_owned(),
                    })
                    .inc();
            }
            tracing::error!(protocol, points, error = %err, "cannot store metric points; they are lost");
        }
    }
}
